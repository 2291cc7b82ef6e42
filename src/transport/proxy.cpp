#include "transport/proxy.h"

#include <curl/curl.h>

#include <cctype>
#include <cstdint>

#include "auth/crypto.h"
#include "core/error.h"

namespace prov::transport {

using core::throw_invalid_arg;

namespace {

bool is_http_type(ProxyType type) {
  return type == ProxyType::Http || type == ProxyType::Https;
}

std::optional<ProxyType> type_from_scheme(std::string scheme) {
  for (char &c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (ProxyType t : {ProxyType::Http, ProxyType::Https, ProxyType::Socks4, ProxyType::Socks4a,
                      ProxyType::Socks5, ProxyType::Socks5h}) {
    if (scheme == proxy_scheme(t)) return t;
  }
  return std::nullopt;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decodes a URL user-info part; `what` names it in the error (the
// value itself is never quoted).
std::string percent_decode(const std::string &text, const char *what,
                           const std::string &shown_url) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    if (i + 2 >= text.size() + 0 || hex_value(text[i + 1]) < 0 || hex_value(text[i + 2]) < 0) {
      throw_invalid_arg(
          std::string("url: the proxy ") + what +
          " has an invalid percent-encoding (expected %XX with two hex digits) in \"" + shown_url +
          "\"");
    }
    out += static_cast<char>(hex_value(text[i + 1]) * 16 + hex_value(text[i + 2]));
    i += 2;
  }
  return out;
}

// Host names and IP literals: printable ASCII without URL delimiters.
void check_host(const std::string &host, const char *arg_name, const std::string &shown) {
  if (host.empty()) throw_invalid_arg(std::string(arg_name) + ": the proxy host is empty" + shown);
  if (host.size() > 253) {
    throw_invalid_arg(std::string(arg_name) + ": the proxy host is longer than 253 characters" +
                      shown);
  }
  for (char c : host) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || c == '/' || c == '@' || c == '?' || c == '#' || c == '[' ||
        c == ']') {
      throw_invalid_arg(std::string(arg_name) +
                        ": the proxy host contains a character that is not allowed in a host "
                        "name (space, control character or one of / @ ? # [ ])" +
                        shown);
    }
  }
}

void check_credential(const std::string &value, const char *arg_name) {
  for (char c : value) {
    if (c == '\0' || c == '\r' || c == '\n') {
      throw_invalid_arg(std::string(arg_name) + " contains a NUL, CR or LF character");
    }
  }
  if (value.size() > 255) {
    // SOCKS5 (RFC 1929) carries at most 255 bytes; HTTP has no useful larger need.
    throw_invalid_arg(std::string(arg_name) + " is longer than 255 bytes");
  }
}

}  // namespace

const char *proxy_scheme(ProxyType type) {
  switch (type) {
    case ProxyType::Http:
      return "http";
    case ProxyType::Https:
      return "https";
    case ProxyType::Socks4:
      return "socks4";
    case ProxyType::Socks4a:
      return "socks4a";
    case ProxyType::Socks5:
      return "socks5";
    case ProxyType::Socks5h:
      return "socks5h";
    case ProxyType::None:
      break;
  }
  return "none";
}

int default_proxy_port(ProxyType type) {
  switch (type) {
    case ProxyType::Http:
      return 80;
    case ProxyType::Https:
      return 443;
    default:
      return 1080;
  }
}

std::string ProxySettings::describe() const {
  if (!enabled()) return "no proxy";
  const std::string shown_host = is_ipv6_literal ? "[" + host + "]" : host;
  return std::string(proxy_scheme(type)) + "://" + shown_host + ":" + std::to_string(port);
}

ProxySettings make_proxy_settings(int type, const char *address, int32_t port, const char *username,
                                  const char *password) {
  ProxySettings settings;
  if (type < static_cast<int>(ProxyType::None) || type > static_cast<int>(ProxyType::Socks5h)) {
    throw_invalid_arg("proxy_type " + std::to_string(type) +
                      " is not a prov_proxy_type (PROV_PROXY_NONE..PROV_PROXY_SOCKS5H)");
  }
  settings.type = static_cast<ProxyType>(type);
  if (!settings.enabled()) {
    if (address != nullptr || username != nullptr || password != nullptr) {
      throw_invalid_arg(
          "proxy_type PROV_PROXY_NONE takes no address, username or password (pass NULL)");
    }
    return settings;
  }
  if (address == nullptr) throw_invalid_arg("address is NULL (the proxy host name or IP address)");
  std::string host = address;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
    settings.is_ipv6_literal = true;
  } else if (host.find(':') != std::string::npos) {
    settings.is_ipv6_literal = true;  // a bare IPv6 literal
  }
  if (settings.is_ipv6_literal) {
    for (char c : host) {
      if (!(std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.')) {
        throw_invalid_arg("address \"" + host +
                          "\" is neither a host name nor an IPv6 literal (a port goes in the "
                          "port argument, not in address)");
      }
    }
    if (host.empty()) throw_invalid_arg("address: the proxy host is empty");
  } else {
    check_host(host, "address", "");
  }
  settings.host = host;
  if (port < 1 || port > 65535) {
    throw_invalid_arg("port " + std::to_string(port) + " is out of range 1..65535");
  }
  settings.port = port;
  if (password != nullptr && username == nullptr) {
    throw_invalid_arg("password is set but username is NULL (a proxy password needs a username)");
  }
  if (username != nullptr) {
    if (*username == '\0') throw_invalid_arg("username is empty (pass NULL for no credentials)");
    check_credential(username, "username");
    settings.username = auth::SecretString(username);
    if (password != nullptr) {
      check_credential(password, "password");
      settings.password = auth::SecretString(password);
    }
  }
  return settings;
}

std::string redact_proxy_url(const std::string &url) {
  // Everything up to the last '@' may be credentials (a password may hold
  // '/', '?' or '#' that its writer forgot to encode): hide all of it.
  const size_t at = url.rfind('@');
  if (at == std::string::npos) return url;
  const size_t scheme_end = url.find("://");
  const size_t authority_start =
      scheme_end != std::string::npos && scheme_end < at ? scheme_end + 3 : 0;
  return url.substr(0, authority_start) + "***" + url.substr(at);
}

ProxySettings parse_proxy_url(const std::string &url) {
  const std::string shown = " in \"" + redact_proxy_url(url) + "\"";
  for (size_t i = 0; i < url.size(); ++i) {
    const unsigned char u = static_cast<unsigned char>(url[i]);
    if (u <= 0x20 || u == 0x7f) {
      // Not quoted: the URL may hold credentials and the character would garble the message.
      throw_invalid_arg("url contains a space or control character at offset " + std::to_string(i) +
                        " (percent-encode it in a user name or password)");
    }
  }
  ProxySettings settings;
  size_t pos = 0;
  const size_t scheme_end = url.find("://");
  if (scheme_end == std::string::npos) {
    settings.type = ProxyType::Http;  // "host:port", as curl and the http_proxy convention
  } else {
    const std::string scheme = url.substr(0, scheme_end);
    auto type = type_from_scheme(scheme);
    if (!type) {
      // Quote the scheme only when it looks like one (it might be a mistyped credential).
      bool plain = !scheme.empty() && scheme.size() <= 16;
      for (char c : scheme) plain = plain && std::isalnum(static_cast<unsigned char>(c));
      throw_invalid_arg("url has " +
                        (plain ? "the unknown proxy scheme \"" + scheme + "\""
                               : std::string("no known proxy scheme")) +
                        " (use http, https, socks4, socks4a, socks5 or socks5h)" + shown);
    }
    settings.type = *type;
    pos = scheme_end + 3;
  }
  // The user info ends at the last '@', so an unencoded '/', '?' or '#' in a
  // password is still taken as part of it.
  const size_t at = url.rfind('@');
  const bool has_userinfo = at != std::string::npos && at >= pos;
  if (has_userinfo) {
    const std::string userinfo = url.substr(pos, at - pos);
    const size_t colon = userinfo.find(':');
    const std::string user =
        percent_decode(userinfo.substr(0, colon), "user name", redact_proxy_url(url));
    if (user.empty()) throw_invalid_arg("url has credentials with an empty user name" + shown);
    check_credential(user, "url: the proxy user name");
    settings.username = auth::SecretString(user);
    if (colon != std::string::npos) {
      std::string password =
          percent_decode(userinfo.substr(colon + 1), "password", redact_proxy_url(url));
      check_credential(password, "url: the proxy password");
      settings.password = auth::SecretString(std::move(password));
    }
    pos = at + 1;
  }
  size_t authority_end = url.find_first_of("/?#", pos);
  if (authority_end != std::string::npos) {
    if (url.substr(authority_end) != "/") {
      throw_invalid_arg(
          "url has a path, query or fragment; a proxy URL is "
          "scheme://[user[:password]@]host[:port]" +
          shown);
    }
  } else {
    authority_end = url.size();
  }
  const std::string authority = url.substr(pos, authority_end - pos);
  std::string host;
  std::string port_text;
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string::npos)
      throw_invalid_arg("url has an unclosed '[' in the host" + shown);
    host = authority.substr(1, close - 1);
    settings.is_ipv6_literal = true;
    const std::string after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') throw_invalid_arg("url has text after the ']' of the host" + shown);
      port_text = after.substr(1);
      if (port_text.empty()) throw_invalid_arg("url has an empty port after ':'" + shown);
    }
    if (host.empty()) throw_invalid_arg("url: the proxy host is empty" + shown);
    for (char c : host) {
      if (!(std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.')) {
        throw_invalid_arg("url: the bracketed proxy host is not an IPv6 literal" + shown);
      }
    }
  } else {
    const size_t colon = authority.rfind(':');
    host = authority.substr(0, colon);
    if (colon != std::string::npos) {
      port_text = authority.substr(colon + 1);
      if (port_text.empty()) throw_invalid_arg("url has an empty port after ':'" + shown);
    }
    check_host(host, "url", shown);
  }
  settings.host = host;
  settings.port = default_proxy_port(settings.type);
  if (!port_text.empty()) {
    int64_t port = 0;
    for (char c : port_text) {
      if (!std::isdigit(static_cast<unsigned char>(c)) || port > 65535) {
        throw_invalid_arg("url has an invalid port \"" + port_text + "\" (expected 1..65535)" +
                          shown);
      }
      port = port * 10 + (c - '0');
    }
    if (port < 1 || port > 65535) {
      throw_invalid_arg("url has an invalid port \"" + port_text + "\" (expected 1..65535)" +
                        shown);
    }
    settings.port = static_cast<int>(port);
  }
  return settings;
}

void apply_proxy(void *curl_easy, const ProxySettings &proxy, bool tunnel) {
  CURL *easy = static_cast<CURL *>(curl_easy);
  if (!proxy.enabled()) {
    curl_easy_setopt(easy, CURLOPT_PROXY, "");  // ignore http_proxy & co. from the environment
    return;
  }
  // The host goes in without credentials; those go through their own options
  // so no URL containing them is ever built (and none can reach a message).
  const std::string proxy_host = std::string(proxy_scheme(proxy.type)) + "://" +
                                 (proxy.is_ipv6_literal ? "[" + proxy.host + "]" : proxy.host);
  curl_easy_setopt(easy, CURLOPT_PROXY, proxy_host.c_str());
  curl_easy_setopt(easy, CURLOPT_PROXYPORT, static_cast<long>(proxy.port));
  long curl_type = CURLPROXY_HTTP;
  switch (proxy.type) {
    case ProxyType::Http:
      curl_type = CURLPROXY_HTTP;
      break;
    case ProxyType::Https:
      curl_type = CURLPROXY_HTTPS;
      break;
    case ProxyType::Socks4:
      curl_type = CURLPROXY_SOCKS4;
      break;
    case ProxyType::Socks4a:
      curl_type = CURLPROXY_SOCKS4A;
      break;
    case ProxyType::Socks5:
      curl_type = CURLPROXY_SOCKS5;
      break;
    case ProxyType::Socks5h:
      curl_type = CURLPROXY_SOCKS5_HOSTNAME;
      break;
    case ProxyType::None:
      break;
  }
  curl_easy_setopt(easy, CURLOPT_PROXYTYPE, curl_type);
  if (is_http_type(proxy.type)) {
    curl_easy_setopt(easy, CURLOPT_HTTPPROXYTUNNEL, tunnel ? 1L : 0L);
    // Basic, sent with the CONNECT at once (the only scheme tinyproxy, squid
    // and most corporate proxies accept without a round trip).
    curl_easy_setopt(easy, CURLOPT_PROXYAUTH, static_cast<long>(CURLAUTH_BASIC));
  }
  if (proxy.username) {
    curl_easy_setopt(easy, CURLOPT_PROXYUSERNAME, proxy.username->str().c_str());
    curl_easy_setopt(easy, CURLOPT_PROXYPASSWORD,
                     proxy.password ? proxy.password->str().c_str() : "");
  }
  if (proxy.type == ProxyType::Https) {
    curl_easy_setopt(easy, CURLOPT_PROXY_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(easy, CURLOPT_PROXY_SSL_VERIFYHOST, 2L);
    if (proxy.ca_pem) {
      curl_blob blob{};
      blob.data = const_cast<char *>(proxy.ca_pem->data());
      blob.len = proxy.ca_pem->size();
      blob.flags = CURL_BLOB_COPY;
      curl_easy_setopt(easy, CURLOPT_PROXY_CAINFO_BLOB, &blob);
      curl_easy_setopt(easy, CURLOPT_PROXY_CAINFO, nullptr);
      curl_easy_setopt(easy, CURLOPT_PROXY_CAPATH, nullptr);
    }
  }
}

std::string scrub_proxy_credentials(std::string text, const ProxySettings &proxy) {
  auto scrub = [&text](const std::string &secret) {
    // Very short values would blank out ordinary words; libcurl never echoes
    // credentials anyway, this is a second line of defence.
    if (secret.size() < 3) return;
    for (const std::string &form : {secret, auth::url_encode(secret)}) {
      for (size_t at = text.find(form); at != std::string::npos; at = text.find(form, at + 3)) {
        text.replace(at, form.size(), "***");
      }
    }
  };
  if (proxy.password) scrub(proxy.password->str());
  if (proxy.username) scrub(proxy.username->str());
  return text;
}

std::optional<ProxyFailure> describe_proxy_failure(void *curl_easy, const ProxySettings &proxy,
                                                   int curl_code, const std::string &curl_detail) {
  auto permanent = [](std::string message) { return ProxyFailure{std::move(message), false}; };
  auto transient = [](std::string message) { return ProxyFailure{std::move(message), true}; };
  if (!proxy.enabled()) return std::nullopt;
  CURL *easy = static_cast<CURL *>(curl_easy);
  const std::string name = "proxy " + proxy.describe();
  const std::string detail = scrub_proxy_credentials(curl_detail, proxy);

  long connect_code = 0;
  if (is_http_type(proxy.type) &&
      curl_easy_getinfo(easy, CURLINFO_HTTP_CONNECTCODE, &connect_code) == CURLE_OK &&
      connect_code != 0 && (connect_code < 200 || connect_code > 299)) {
    // 407 is the proxy's answer per RFC 9110; some proxies (tinyproxy) answer 401.
    if (connect_code == 407 || connect_code == 401) {
      const std::string code =
          connect_code == 407 ? "HTTP 407 Proxy Authentication Required" : "HTTP 401 Unauthorized";
      return permanent(
          proxy.username
              ? name + " rejected the proxy credentials (proxy authentication failed: " + code + ")"
              : name + " requires authentication (" + code +
                    ") but no proxy username/password is set");
    }
    const std::string refused =
        name + " refused the CONNECT tunnel (HTTP " + std::to_string(connect_code);
    // 5xx: the proxy could not reach the destination (may pass); 4xx: its rules.
    if (connect_code >= 500) {
      return transient(refused + "; the proxy could not reach the destination)");
    }
    return permanent(refused + "; the proxy does not allow this destination or port)");
  }
  if (proxy.type == ProxyType::Https) {
    // The TLS session with the proxy itself comes first; its verification
    // result tells a proxy certificate problem from the destination's.
    long proxy_verify = 0;
    if (curl_easy_getinfo(easy, CURLINFO_PROXY_SSL_VERIFYRESULT, &proxy_verify) == CURLE_OK &&
        proxy_verify != 0) {
      return permanent("TLS: the certificate of " + name + " failed verification (X.509 error " +
                       std::to_string(proxy_verify) +
                       "; set the proxy's root with prov_client_set_proxy_ca_cert): " + detail);
    }
  }
  switch (static_cast<CURLcode>(curl_code)) {
    case CURLE_COULDNT_RESOLVE_PROXY:
      return transient("DNS: could not resolve the host of " + name + ": " + detail);
    case CURLE_COULDNT_CONNECT:
      // With a proxy libcurl only ever connects to the proxy itself.
      return transient("TCP connect to " + name + " failed (is the proxy running?): " + detail);
    case CURLE_PROXY: {
      long px = CURLPX_OK;
      curl_easy_getinfo(easy, CURLINFO_PROXY_ERROR, &px);
      switch (static_cast<CURLproxycode>(px)) {
        case CURLPX_USER_REJECTED:
        case CURLPX_SEND_AUTH:
        case CURLPX_RECV_AUTH:
          return permanent(proxy.username
                               ? name +
                                     " rejected the proxy credentials (proxy authentication "
                                     "failed): " +
                                     detail
                               : name +
                                     " requires authentication but no proxy "
                                     "username/password is set: " +
                                     detail);
        case CURLPX_NO_AUTH:
          return permanent(
              name + " offers no authentication method libprov can use (" +
              (proxy.username ? "username/password was offered" : "no credentials are set") +
              "): " + detail);
        case CURLPX_REPLY_NOT_ALLOWED:
        case CURLPX_REQUEST_FAILED:
        case CURLPX_IDENTD:
        case CURLPX_IDENTD_DIFFER:
          return permanent(name +
                           " refused the connection request (not allowed by its rules): " + detail);
        case CURLPX_REPLY_CONNECTION_REFUSED:
        case CURLPX_REPLY_HOST_UNREACHABLE:
        case CURLPX_REPLY_NETWORK_UNREACHABLE:
        case CURLPX_REPLY_GENERAL_SERVER_FAILURE:
        case CURLPX_REPLY_TTL_EXPIRED:
          return transient(name + " could not reach the destination: " + detail);
        default:
          return transient(name + " failed: " + detail);
      }
    }
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_WEIRD_SERVER_REPLY:
      // Before the tunnel stands the only peer is the proxy.
      if (connect_code == 0 && is_http_type(proxy.type)) {
        return transient(
            name +
            " closed or broke the connection before the CONNECT tunnel was set up: " + detail);
      }
      return std::nullopt;
    default:
      return std::nullopt;
  }
}

}  // namespace prov::transport
