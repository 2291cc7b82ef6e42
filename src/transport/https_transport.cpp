#include "transport/https_transport.h"

#include <curl/curl.h>

#include <cctype>
#include <cstring>

#include "auth/crypto.h"
#include "core/cancel.h"
#include "core/error.h"
#include "core/wait.h"

namespace prov::transport {

using core::Error;

namespace {
// DPS caps messages at 96 KB; allow headroom, refuse anything larger.
constexpr size_t kMaxBodySize = 128 * 1024;

CURL *as_easy(void *p) {
  return static_cast<CURL *>(p);
}

struct Exchange {
  std::string body;
  bool body_too_large = false;
  std::optional<int64_t> retry_after_s;
};

size_t on_body(char *data, size_t size, size_t count, void *user) {
  auto *exchange = static_cast<Exchange *>(user);
  const size_t len = size * count;
  if (exchange->body.size() + len > kMaxBodySize) {
    exchange->body_too_large = true;
    return 0;  // aborts the transfer (CURLE_WRITE_ERROR)
  }
  exchange->body.append(data, len);
  return len;
}

// Picks "retry-after: <integer seconds>" out of the response headers.
size_t on_header(char *data, size_t size, size_t count, void *user) {
  auto *exchange = static_cast<Exchange *>(user);
  const size_t len = size * count;
  std::string line(data, len);
  const size_t colon = line.find(':');
  if (colon == std::string::npos) return len;
  std::string name = line.substr(0, colon);
  for (char &c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (name == "retry-after") {
    std::string value = line.substr(colon + 1);
    size_t begin = value.find_first_not_of(" \t");
    size_t end = value.find_last_not_of(" \t\r\n");
    if (begin != std::string::npos && end != std::string::npos && end >= begin) {
      value = value.substr(begin, end - begin + 1);
      bool digits = !value.empty() && value.size() <= 9;
      for (char c : value) digits = digits && std::isdigit(static_cast<unsigned char>(c));
      // An HTTP-date or garbage is ignored: the flow then uses its own delay.
      if (digits) exchange->retry_after_s = std::stoll(value);
    }
  }
  return len;
}

long timeout_ms(const core::Deadline &until) {
  return static_cast<long>(std::max<int64_t>(1, until.remaining().count()));
}
}  // namespace

std::string https_register_path(const std::string &id_scope, const std::string &registration_id,
                                const std::string &api_version) {
  return "/" + auth::url_encode(id_scope) + "/registrations/" + auth::url_encode(registration_id) +
         "/register?api-version=" + auth::url_encode(api_version);
}

std::string https_operation_path(const std::string &id_scope, const std::string &registration_id,
                                 const std::string &operation_id, const std::string &api_version) {
  return "/" + auth::url_encode(id_scope) + "/registrations/" + auth::url_encode(registration_id) +
         "/operations/" + auth::url_encode(operation_id) +
         "?api-version=" + auth::url_encode(api_version);
}

HttpsTransport::HttpsTransport(HttpsSettings settings) : settings_(std::move(settings)) {
  const ConnectionSettings &c = settings_.connection;
  peer_ = (c.is_ipv6_literal ? "[" + c.host + "]" : c.host) + ":" + std::to_string(c.port);
  origin_ = "https://" + peer_;
}

HttpsTransport::~HttpsTransport() {
  close();
}

void HttpsTransport::connect(const core::WaitBudget &) {
  ensure_curl_initialized();
  close();
  answered_before_ = false;
  easy_ = curl_easy_init();
  if (easy_ == nullptr) throw std::bad_alloc();
  driver_ = std::make_unique<CurlDriver>();
  CURL *easy = as_easy(easy_);
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, error_buffer_);
  curl_easy_setopt(easy, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);  // DPS never redirects a device
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "https");
  curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, on_header);
  // Only the service's headers count (a proxy's CONNECT answer is not its).
  curl_easy_setopt(easy, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
  configure_tls_and_proxy(easy, settings_.connection, /*tunnel=*/true, tls_hook_);
  if (driver_->on_event_loop()) {
    // On a loop the transfers share multi handles with other registrations,
    // and libcurl would lend this idle kept-alive connection to any of them
    // with an equal TLS configuration as it sees it — blind to the roots
    // installed by the TLS-context hook. A share of its own keeps the
    // connection (and its TLS sessions) to this transport; it replaces the
    // process-wide session cache set above.
    share_ = curl_share_init();
    if (share_ == nullptr) throw std::bad_alloc();
    curl_share_setopt(static_cast<CURLSH *>(share_), CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
    curl_share_setopt(static_cast<CURLSH *>(share_), CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    curl_easy_setopt(easy, CURLOPT_SHARE, static_cast<CURLSH *>(share_));
  }
}

core::ServiceResponse HttpsTransport::perform(const char *method, const std::string &path,
                                              const std::string *body, const std::string &step_name,
                                              const core::WaitBudget &budget) {
  if (easy_ == nullptr) connect(budget);
  CURL *easy = as_easy(easy_);
  const core::Deadline step = budget.step();
  const std::string url = origin_ + path;
  Exchange exchange;
  error_buffer_[0] = '\0';

  curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &exchange);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, &exchange);
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, timeout_ms(step));
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms(step));
  if (body != nullptr) {
    curl_easy_setopt(easy, CURLOPT_HTTPGET, 0L);
    curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body->c_str());
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE, static_cast<long>(body->size()));
  } else {
    curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, nullptr);
    curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
  }

  curl_slist *headers = nullptr;
  auto add_header = [&headers](const std::string &line) {
    curl_slist *grown = curl_slist_append(headers, line.c_str());
    if (grown == nullptr) throw std::bad_alloc();
    headers = grown;
  };
  // The header list holds a copy of the SAS token: wipe it whatever happens.
  struct HeaderListGuard {
    curl_slist *&list;
    ~HeaderListGuard() {
      for (curl_slist *item = list; item != nullptr; item = item->next) {
        auth::secure_wipe(item->data, std::strlen(item->data));
      }
      curl_slist_free_all(list);
    }
  } guard{headers};
  add_header("Accept: application/json");
  add_header("Content-Type: application/json; charset=utf-8");
  add_header(std::string("User-Agent: libprov/") + PROV_VERSION_STRING);
  add_header("Expect:");  // no 100-continue round trip
  if (settings_.sas_token) {
    std::string line = "Authorization: " + settings_.sas_token->str();
    add_header(line);
    auth::secure_wipe(line.data(), line.size());
  }
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);

  // Never leave the handle pointing at the header list or body, even when cancelled.
  struct ForgetRequest {
    CURL *easy;
    ~ForgetRequest() {
      curl_easy_setopt(easy, CURLOPT_HTTPHEADER, nullptr);
      curl_easy_setopt(easy, CURLOPT_POSTFIELDS, nullptr);
    }
  };
  CURLcode rc = CURLE_OK;
  {
    ForgetRequest forget{easy};
    rc = static_cast<CURLcode>(perform_cancellable(
        *driver_, easy, budget, "while waiting for the " + step_name + " response"));
  }

  const std::string waiting_for = "the " + step_name + " response";
  if (rc != CURLE_OK) {
    if (exchange.body_too_large) {
      throw Error(PROV_E_PROTOCOL, "HTTPS: the " + step_name + " response from " + peer_ +
                                       " is larger than " + std::to_string(kMaxBodySize) +
                                       " bytes");
    }
    const std::string detail =
        std::string(curl_easy_strerror(rc)) +
        (error_buffer_[0] ? std::string(": ") + error_buffer_ : std::string());
    // Once TLS stood, a failure is a lost connection, not a failed connect.
    // A poll on a kept-alive connection made no TLS handshake of its own.
    curl_off_t app_connect_us = 0;
    curl_easy_getinfo(easy, CURLINFO_APPCONNECT_TIME_T, &app_connect_us);
    long new_connections = 0;
    curl_easy_getinfo(easy, CURLINFO_NUM_CONNECTS, &new_connections);
    if (answered_before_ && new_connections == 0) app_connect_us = 1;
    const ProxySettings &proxy = settings_.connection.proxy;
    if (rc == CURLE_OPERATION_TIMEDOUT) {
      // Name what was pending: the connection (via the proxy) or the answer.
      const std::string pending =
          app_connect_us > 0 ? waiting_for
                             : "the HTTPS connection to " + peer_ +
                                   (proxy.enabled() ? " through proxy " + proxy.describe() : "");
      throw Error(PROV_E_TIMEOUT, budget.timeout_message(pending) + " (" +
                                      scrub_proxy_credentials(detail, proxy) + ")");
    }
    if (app_connect_us > 0 && (rc == CURLE_RECV_ERROR || rc == CURLE_SEND_ERROR ||
                               rc == CURLE_GOT_NOTHING || rc == CURLE_PARTIAL_FILE)) {
      throw Error(PROV_E_CONNECTION_DROPPED, "HTTPS: the connection to " + peer_ +
                                                 " was lost while waiting for " + waiting_for +
                                                 ": " + scrub_proxy_credentials(detail, proxy));
    }
    throw_connect_failure(easy, settings_.connection, peer_, rc, detail, budget,
                          "the HTTPS connection to " + peer_);
  }
  answered_before_ = true;
  long status = 0;
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
  core::ServiceResponse response;
  response.status = static_cast<int>(status);
  response.retry_after_s = exchange.retry_after_s;
  response.body = std::move(exchange.body);
  return response;
}

core::ServiceResponse HttpsTransport::request_register(const std::string &body,
                                                       const core::WaitBudget &budget) {
  return perform(
      "PUT",
      https_register_path(settings_.id_scope, settings_.registration_id, settings_.api_version),
      &body, "register", budget);
}

core::ServiceResponse HttpsTransport::request_operation_status(const std::string &operation_id,
                                                               const core::WaitBudget &budget) {
  return perform("GET",
                 https_operation_path(settings_.id_scope, settings_.registration_id, operation_id,
                                      settings_.api_version),
                 nullptr, "operation status", budget);
}

void HttpsTransport::idle(core::Millis duration, const core::WaitBudget &budget) {
  const core::Deadline until = core::Deadline::after(duration).earliest(budget.overall());
  if (core::wait_for_signal(until, budget.cancel()) == core::Wake::Signalled) {
    budget.cancel()->throw_if_cancelled("while waiting to poll again");
  }
  if (budget.overall().expired()) {
    throw Error(PROV_E_TIMEOUT, budget.timeout_message("the next poll"));
  }
}

void HttpsTransport::close() noexcept {
  if (driver_ != nullptr && easy_ != nullptr) driver_->remove(easy_);
  if (easy_ != nullptr) curl_easy_cleanup(as_easy(easy_));
  easy_ = nullptr;
  driver_.reset();
  // After the handle: libcurl refuses to free a share still in use.
  if (share_ != nullptr) curl_share_cleanup(static_cast<CURLSH *>(share_));
  share_ = nullptr;
}

}  // namespace prov::transport
