#include "transport/connection.h"

#include <curl/curl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <chrono>

#include <cerrno>
#include <cstring>
#include <mutex>

#include "core/cancel.h"
#include "core/error.h"
#include "core/wait.h"
#include "transport/curl_driver.h"
#include "transport/tls_sessions.h"

namespace prov::transport {

using core::Error;

namespace {
CURL *as_easy(void *p) {
  return static_cast<CURL *>(p);
}

std::string url_host(const ConnectionSettings &s) {
  return s.is_ipv6_literal ? "[" + s.host + "]" : s.host;
}
}  // namespace

void ensure_curl_initialized() {
  static std::once_flag once;
  std::call_once(once, [] {
    CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (rc != CURLE_OK) {
      throw Error(PROV_E_INTERNAL,
                  std::string("libcurl initialisation failed: ") + curl_easy_strerror(rc));
    }
  });
}

void configure_tls_and_proxy(void *curl_easy, const ConnectionSettings &settings, bool tunnel,
                             TlsContextHook &hook) {
  CURL *easy = as_easy(curl_easy);
  curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L);
  // TLS 1.2 at least (DPS requires it). A cipher list only governs TLS 1.2,
  // so when one is given stay on 1.2 to honour it.
  long tls_version = CURL_SSLVERSION_TLSv1_2;
  if (!settings.cipher_list.empty()) {
    tls_version |= CURL_SSLVERSION_MAX_TLSv1_2;
    curl_easy_setopt(easy, CURLOPT_SSL_CIPHER_LIST, settings.cipher_list.c_str());
  }
  curl_easy_setopt(easy, CURLOPT_SSLVERSION, tls_version);
  // The installed roots replace curl's CA file (no CAINFO/CAPATH below).
  // An HTTPS proxy keeps the blob: curl runs the same TLS-context callback
  // for the proxy's handshake, which must not trust the service's roots.
  hook.anchors = nullptr;
  if (settings.ca_pem && settings.proxy.type != ProxyType::Https) {
    hook.anchors = trust_anchors_for(*settings.ca_pem);
  }
  curl_easy_setopt(easy, CURLOPT_SSL_CTX_FUNCTION, &on_tls_context);
  curl_easy_setopt(easy, CURLOPT_SSL_CTX_DATA, &hook);
  if (settings.ca_pem) {
    // No CA-store cache for a client's own roots: libcurl (7.87+) keeps the
    // X509_STORE of a multi handle's first connection and installs it in every
    // later one whose CA file and path match (both unset here), so on an event
    // loop one client's roots would be trusted by every other client (and the
    // others' own roots ignored). The parsed roots are cached by trust_anchors.
    curl_easy_setopt(easy, CURLOPT_CA_CACHE_TIMEOUT, 0L);
  }
  if (hook.anchors != nullptr) {
    curl_easy_setopt(easy, CURLOPT_CAINFO, nullptr);
    curl_easy_setopt(easy, CURLOPT_CAPATH, nullptr);
  } else if (settings.ca_pem) {
    // Unparsable (or behind an HTTPS proxy): curl loads it and reports why not.
    curl_blob blob{};
    blob.data = const_cast<char *>(settings.ca_pem->data());
    blob.len = settings.ca_pem->size();
    blob.flags = CURL_BLOB_COPY;
    curl_easy_setopt(easy, CURLOPT_CAINFO_BLOB, &blob);
    // Trust only the given roots, as the Python SDK does with cadata.
    curl_easy_setopt(easy, CURLOPT_CAINFO, nullptr);
    curl_easy_setopt(easy, CURLOPT_CAPATH, nullptr);
  }

  if (settings.client_cert_chain_pem && settings.client_key_pem) {
    // A PEM blob holding leaf + intermediates: curl's OpenSSL backend loads the
    // first block as the certificate and the rest as its chain, so the whole
    // chain goes out in the handshake (DPS group enrollments need it).
    curl_blob cert{};
    cert.data = const_cast<char *>(settings.client_cert_chain_pem->data());
    cert.len = settings.client_cert_chain_pem->size();
    cert.flags = CURL_BLOB_COPY;
    curl_easy_setopt(easy, CURLOPT_SSLCERT_BLOB, &cert);
    curl_easy_setopt(easy, CURLOPT_SSLCERTTYPE, "PEM");
    // NOCOPY: the key stays in our wiped SecretString, not in a curl copy.
    curl_blob key{};
    key.data = const_cast<char *>(settings.client_key_pem->str().data());
    key.len = settings.client_key_pem->str().size();
    key.flags = CURL_BLOB_NOCOPY;
    curl_easy_setopt(easy, CURLOPT_SSLKEY_BLOB, &key);
    curl_easy_setopt(easy, CURLOPT_SSLKEYTYPE, "PEM");
    if (settings.client_key_pass_phrase) {
      curl_easy_setopt(easy, CURLOPT_KEYPASSWD, settings.client_key_pass_phrase->str().c_str());
    }
  }
  // Connections without a client certificate resume each other's TLS sessions
  // (issue 9; tls_sessions.h: who may share, and why X.509 identities never do).
  if (!settings.client_cert_chain_pem && !settings.client_key_pem) {
    share_tls_sessions(easy, settings.ca_pem);
  }
  apply_proxy(easy, settings.proxy, tunnel);
}

void throw_connect_failure(void *curl_easy, const ConnectionSettings &settings,
                           const std::string &destination, int curl_code,
                           const std::string &curl_detail, const core::WaitBudget &budget,
                           const std::string &step_name) {
  const std::string detail = scrub_proxy_credentials(curl_detail, settings.proxy);
  // A failure at the proxy is named as the proxy's, not the destination's.
  // Like a direct connection, an unreachable proxy may come back (retried
  // within the deadline); rejected credentials or a refused tunnel will not.
  if (auto proxy_problem = describe_proxy_failure(curl_easy, settings.proxy, curl_code, detail)) {
    Error failure(PROV_E_CONNECTION_FAILED,
                  "connecting to " + destination + ": " + proxy_problem->message);
    if (proxy_problem->transient) throw std::move(failure).as_transient();
    throw failure;
  }
  const std::string peer =
      destination +
      (settings.proxy.enabled() ? " (through proxy " + settings.proxy.describe() + ")" : "");
  switch (static_cast<CURLcode>(curl_code)) {
    case CURLE_COULDNT_RESOLVE_HOST:
      throw Error(PROV_E_CONNECTION_FAILED,
                  "DNS: could not resolve host \"" + settings.host + "\": " + detail)
          .as_transient();
    case CURLE_COULDNT_CONNECT:
      throw Error(PROV_E_CONNECTION_FAILED, "TCP connect to " + peer + " failed: " + detail)
          .as_transient();
    case CURLE_PEER_FAILED_VERIFICATION:
      throw Error(PROV_E_CONNECTION_FAILED,
                  "TLS: server certificate verification failed for " + peer + ": " + detail);
    case CURLE_SSL_CERTPROBLEM:
      throw Error(PROV_E_CERTIFICATE,
                  "TLS: the client certificate or key could not be used (connecting to " + peer +
                      "): " + detail);
    case CURLE_SSL_CACERT_BADFILE:
      throw Error(PROV_E_CONNECTION_FAILED,
                  "TLS: the trusted root certificates could not be loaded (connecting to " + peer +
                      "): " + detail);
    case CURLE_SSL_CIPHER:
      throw Error(PROV_E_CONNECTION_FAILED,
                  "TLS: the cipher list could not be used with " + peer + ": " + detail);
    case CURLE_OPERATION_TIMEDOUT:
      throw Error(PROV_E_TIMEOUT, budget.timeout_message(step_name) + " (" + detail + ")");
    case CURLE_SSL_CONNECT_ERROR:
      throw Error(PROV_E_CONNECTION_FAILED, "TLS handshake with " + peer + " failed: " + detail)
          .as_transient();
    default:
      throw Error(PROV_E_CONNECTION_FAILED, "connecting to " + peer + " failed: " + detail)
          .as_transient();
  }
}

int perform_cancellable(CurlDriver &driver, void *curl_easy, const core::WaitBudget &budget,
                        const std::string &during) {
  const core::CancelSignal *cancel = budget.cancel();
  driver.add(curl_easy);
  // Detached however the wait ends, so the handle can be reused or freed.
  struct Detach {
    CurlDriver &driver;
    void *easy;
    ~Detach() { driver.remove(easy); }
  } detach{driver, curl_easy};
  // The transfer's CURLOPT_TIMEOUT_MS (at most the step) ends it first;
  // this deadline is only a backstop.
  const core::Deadline backstop(budget.overall().at() + std::chrono::seconds(5));
  int result = CURLE_OK;
  switch (driver.wait_done(curl_easy, backstop, cancel, &result)) {
    case CurlDriver::Outcome::Done:
      return result;
    case CurlDriver::Outcome::Signalled:
      if (cancel != nullptr) cancel->throw_if_cancelled(during);
      return CURLE_ABORTED_BY_CALLBACK;
    case CurlDriver::Outcome::Timeout:
      break;
  }
  return CURLE_OPERATION_TIMEDOUT;
}

CurlConnection::CurlConnection(ConnectionSettings settings)
    : settings_(std::move(settings)),
      peer_(url_host(settings_) + ":" + std::to_string(settings_.port)) {}

CurlConnection::~CurlConnection() {
  close();
}

void CurlConnection::close() noexcept {
  if (driver_ != nullptr && easy_ != nullptr) driver_->remove(easy_);
  if (easy_ != nullptr) curl_easy_cleanup(as_easy(easy_));
  easy_ = nullptr;
  driver_.reset();
}

std::string CurlConnection::connect_step_name() const {
  return "the TLS connection to " + peer_ +
         (settings_.proxy.enabled() ? " through proxy " + settings_.proxy.describe() : "");
}

std::string CurlConnection::pending_connect_phase() const {
  // Through a proxy the phases interleave (proxy TCP, proxy TLS, CONNECT,
  // then the tunnel's TLS): name the whole connection.
  if (settings_.proxy.enabled() || easy_ == nullptr) return connect_step_name();
  curl_off_t resolved_us = 0;
  curl_easy_getinfo(as_easy(easy_), CURLINFO_NAMELOOKUP_TIME_T, &resolved_us);
  if (resolved_us == 0) return "the DNS resolution of \"" + settings_.host + "\"";
  // libcurl records its connect time only once TLS is up too; the TLS
  // context callback marks the moment the TCP connection stood.
  if (!tls_hook_.tls_started) return "the TCP connection to " + peer_;
  return "the TLS handshake with " + peer_;
}

int CurlConnection::socket_fd() const {
  curl_socket_t fd = CURL_SOCKET_BAD;
  if (easy_ == nullptr ||
      curl_easy_getinfo(as_easy(easy_), CURLINFO_ACTIVESOCKET, &fd) != CURLE_OK) {
    return -1;
  }
  return fd == CURL_SOCKET_BAD ? -1 : static_cast<int>(fd);
}

void CurlConnection::open(const core::WaitBudget &budget) {
  ensure_curl_initialized();
  close();
  driver_ = std::make_unique<CurlDriver>();
  easy_ = curl_easy_init();
  if (easy_ == nullptr) throw std::bad_alloc();
  CURL *easy = as_easy(easy_);
  const core::Deadline step = budget.step();
  const std::string url = "https://" + peer_ + "/";
  cancel_ = budget.cancel();
  tls_hook_.tls_started = false;

  curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
  curl_easy_setopt(easy, CURLOPT_CONNECT_ONLY, 1L);
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, error_buffer_);
  curl_easy_setopt(easy, CURLOPT_TCP_NODELAY, 1L);
  // curl_easy_recv reads into the caller's buffer, so libcurl's own download
  // buffer (16 KB by default, per handle) only serves the proxy handshakes:
  // the minimum is enough (a SOCKS5 request or login is at most ~520 bytes).
  curl_easy_setopt(easy, CURLOPT_BUFFERSIZE, 1024L);
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(std::max<int64_t>(1, step.remaining().count())));
  configure_tls_and_proxy(easy, settings_, /*tunnel=*/true, tls_hook_);

  driver_->add(easy);
  int code = CURLE_OK;
  switch (driver_->wait_done(easy, step, cancel_, &code)) {
    case CurlDriver::Outcome::Done:
      break;
    case CurlDriver::Outcome::Signalled:
      throw Error(PROV_E_CANCELLED, "registration cancelled while opening " + connect_step_name());
    case CurlDriver::Outcome::Timeout:
      throw Error(PROV_E_TIMEOUT, budget.timeout_message(pending_connect_phase()));
  }
  const CURLcode outcome = static_cast<CURLcode>(code);

  if (outcome == CURLE_OK) return;
  const std::string detail = std::string(curl_easy_strerror(outcome)) +
                             (error_buffer_[0] ? std::string(": ") + error_buffer_ : std::string());
  throw_connect_failure(easy, settings_, peer_, outcome, detail, budget, pending_connect_phase());
}

void CurlConnection::wait_socket(short events, const core::Deadline &until) {
  int fd = socket_fd();
  if (fd < 0) throw Error(PROV_E_CONNECTION_DROPPED, "the connection to " + peer_ + " is closed");
  // Also wakes at once when the registration is cancelled.
  if (cancel_ != nullptr) cancel_->throw_if_cancelled("while talking to " + peer_);
  if (core::wait_for_fd(fd, events, until, cancel_) == core::Wake::Signalled) {
    cancel_->throw_if_cancelled("while talking to " + peer_);
  }
}

void CurlConnection::send_all(const uint8_t *data, size_t len, const core::Deadline &until,
                              const core::WaitBudget &budget) {
  if (easy_ == nullptr)
    throw Error(PROV_E_CONNECTION_DROPPED, "the connection to " + peer_ + " is closed");
  size_t sent_total = 0;
  while (sent_total < len) {
    size_t sent = 0;
    CURLcode rc = curl_easy_send(as_easy(easy_), data + sent_total, len - sent_total, &sent);
    if (rc == CURLE_OK) {
      sent_total += sent;
      continue;
    }
    if (rc != CURLE_AGAIN) {
      throw Error(PROV_E_CONNECTION_DROPPED,
                  "sending to " + peer_ + " failed: " + curl_easy_strerror(rc));
    }
    if (until.expired()) {
      throw Error(PROV_E_TIMEOUT,
                  budget.timeout_message("the connection to " + peer_ + " to accept data"));
    }
    wait_socket(POLLOUT, until);
  }
}

ByteStream::Received CurlConnection::receive(uint8_t *buffer, size_t capacity,
                                             const core::Deadline &until) {
  if (easy_ == nullptr)
    throw Error(PROV_E_CONNECTION_DROPPED, "the connection to " + peer_ + " is closed");
  for (;;) {
    size_t got = 0;
    // Always try to read first: TLS may hold decrypted bytes the socket no
    // longer signals.
    CURLcode rc = curl_easy_recv(as_easy(easy_), buffer, capacity, &got);
    if (rc == CURLE_OK) {
      if (got == 0) return {ReceiveStatus::Closed, 0};
      return {ReceiveStatus::Data, got};
    }
    if (rc != CURLE_AGAIN) {
      throw Error(PROV_E_CONNECTION_DROPPED,
                  "receiving from " + peer_ + " failed: " + curl_easy_strerror(rc));
    }
    if (until.expired()) return {ReceiveStatus::Timeout, 0};
    wait_socket(POLLIN, until);
  }
}

}  // namespace prov::transport
