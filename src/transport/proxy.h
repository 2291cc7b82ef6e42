// Proxy settings for every connection libprov opens, and their translation
// into libcurl options. One representation serves all three transports: the
// MQTT and WebSocket byte streams (CONNECT_ONLY, tunnelled through HTTP
// proxies) and the HTTPS REST transfers.
//
// Credentials are kept as secrets: they reach libcurl through
// CURLOPT_PROXYUSERNAME/PROXYPASSWORD only, and every text meant for a
// message (describe(), failure descriptions) leaves them out.
#ifndef PROV_TRANSPORT_PROXY_H
#define PROV_TRANSPORT_PROXY_H

#include <optional>
#include <string>

#include "auth/secret.h"

namespace prov::transport {

// Values match prov_proxy_type in prov.h.
enum class ProxyType { None = 0, Http, Https, Socks4, Socks4a, Socks5, Socks5h };

struct ProxySettings {
  ProxyType type = ProxyType::None;
  std::string host;  // name or IP literal (no brackets)
  bool is_ipv6_literal = false;
  int port = 0;                                // 1..65535
  std::optional<auth::SecretString> username;  // none = no proxy authentication
  std::optional<auth::SecretString> password;
  std::optional<std::string> ca_pem;  // roots trusted for an HTTPS proxy; nullopt = system store

  bool enabled() const { return type != ProxyType::None; }
  // "socks5h://proxy.example:1080" (never the credentials), for messages.
  std::string describe() const;
};

// The URL scheme of a proxy type: "http", "https", "socks4", "socks4a", "socks5", "socks5h".
const char *proxy_scheme(ProxyType type);
// The port a proxy URL without one uses: 80 (http), 443 (https), 1080 (socks).
int default_proxy_port(ProxyType type);

// Builds settings from fields (as the Python SDK's ProxyOptions). Throws
// core::Error(PROV_E_INVALID_ARG) naming the argument; never quotes the
// username or password back.
ProxySettings make_proxy_settings(int type, const char *address, int32_t port, const char *username,
                                  const char *password);

// Parses "scheme://[user[:password]@]host[:port][/]". user and password are
// percent-decoded. Throws core::Error(PROV_E_INVALID_ARG); the message shows
// the URL with its credentials replaced by "***".
ProxySettings parse_proxy_url(const std::string &url);

// `url` with any "user:password@" replaced by "***@", for messages.
std::string redact_proxy_url(const std::string &url);

// Sets CURLOPT_PROXY* on a CURL easy handle (passed as void* so this header
// stays free of curl.h). Without a proxy it sets CURLOPT_PROXY "" so that
// environment variables (http_proxy, ...) never apply: proxies are explicit.
// `tunnel` asks an HTTP(S) proxy for a CONNECT tunnel (needed for raw byte
// streams; libcurl tunnels https:// URLs by itself).
void apply_proxy(void *curl_easy, const ProxySettings &proxy, bool tunnel);

// A failure at the proxy: the explanation naming the proxy (e.g. "proxy
// http://127.0.0.1:3128 rejected the proxy credentials (...)"), and whether
// trying again later may succeed (the proxy or the destination unreachable)
// or not (credentials rejected, tunnel refused by the proxy's rules).
struct ProxyFailure {
  std::string message;
  bool transient = false;
};

// After a failed libcurl connect: the ProxyFailure when the failure was the
// proxy's, else nullopt. `curl_code` is the CURLcode, `curl_detail`
// libcurl's error text; the message never contains the proxy credentials.
std::optional<ProxyFailure> describe_proxy_failure(void *curl_easy, const ProxySettings &proxy,
                                                   int curl_code, const std::string &curl_detail);

// Removes the proxy username and password (also percent-encoded) from a text.
std::string scrub_proxy_credentials(std::string text, const ProxySettings &proxy);

}  // namespace prov::transport

#endif  // PROV_TRANSPORT_PROXY_H
