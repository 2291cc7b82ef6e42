// Connection: a TLS byte stream from libcurl (CURLOPT_CONNECT_ONLY) — DNS,
// TCP, TLS handshake, server certificate and host-name verification — then
// curl_easy_send/recv, waiting for the socket with core::wait_for_fd (which
// yields to the event loop on an asynchronous registration's fiber),
// bounded by deadlines.
#ifndef PROV_TRANSPORT_CONNECTION_H
#define PROV_TRANSPORT_CONNECTION_H

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "auth/secret.h"
#include "core/deadline.h"
#include "transport/proxy.h"
#include "transport/trust_anchors.h"

namespace prov::core {
class CancelSignal;
}

namespace prov::transport {

struct ConnectionSettings {
  std::string host;  // host name or IP literal (no brackets)
  int port = 8883;
  bool is_ipv6_literal = false;
  std::optional<std::string> ca_pem;  // trusted roots; nullopt = system store
  std::string cipher_list;            // TLS 1.2 cipher list; "" = defaults
  // X.509 client credential (TLS client authentication): the certificate
  // chain as PEM text, leaf first (all of it is sent in the handshake), and
  // the PEM private key with its pass phrase when encrypted.
  std::optional<std::string> client_cert_chain_pem;
  std::optional<auth::SecretString> client_key_pem;
  std::optional<auth::SecretString> client_key_pass_phrase;
  ProxySettings proxy;  // every connection goes through it when set
};

// The TLS and proxy options every libprov connection shares (the
// CONNECT_ONLY byte streams and the HTTPS transport's transfers): TLS 1.2+,
// peer and host-name verification, trusted roots, cipher list, client
// credential, proxy. `curl_easy` is a CURL*; `tunnel` as in apply_proxy.
// `hook` (owned by the caller, alive as long as the handle) receives the
// handle's TLS-context callback: it installs the parsed trusted roots.
void configure_tls_and_proxy(void *curl_easy, const ConnectionSettings &settings, bool tunnel,
                             TlsContextHook &hook);

// Throws the core::Error for a failed libcurl connect or transfer to `peer`
// (CURLcode `curl_code`, libcurl's error text `detail`): names the step
// (DNS, TCP, proxy, TLS, certificate verification) and never a credential.
// `step_name` is what was being waited for, for timeouts.
[[noreturn]] void throw_connect_failure(void *curl_easy, const ConnectionSettings &settings,
                                        const std::string &destination, int curl_code,
                                        const std::string &detail, const core::WaitBudget &budget,
                                        const std::string &step_name);

class CurlDriver;

// Runs one transfer of `curl_easy` (a CURL*) with `driver` (which keeps
// connections cached between transfers), like curl_easy_perform but
// waking at once when the budget's cancel signal fires: then the handle is
// removed and Error(PROV_E_CANCELLED) naming `during` is thrown. Returns
// the transfer's CURLcode (its own CURLOPT_TIMEOUT_MS bounds it).
int perform_cancellable(CurlDriver &driver, void *curl_easy, const core::WaitBudget &budget,
                        const std::string &during);

// A bidirectional byte stream; MQTT runs over it (directly or, later,
// inside WebSocket frames).
class ByteStream {
 public:
  virtual ~ByteStream() = default;

  enum class ReceiveStatus { Data, Timeout, Closed };
  struct Received {
    ReceiveStatus status;
    size_t size;
  };

  // Opens the stream; throws core::Error (CONNECTION_FAILED or TIMEOUT).
  virtual void open(const core::WaitBudget &budget) = 0;
  // Sends every byte before `until`; throws core::Error on failure/timeout.
  virtual void send_all(const uint8_t *data, size_t len, const core::Deadline &until,
                        const core::WaitBudget &budget) = 0;
  // Receives what is available, waiting at most until `until`.
  // Throws core::Error(CONNECTION_DROPPED) on a connection error.
  virtual Received receive(uint8_t *buffer, size_t capacity, const core::Deadline &until) = 0;
  virtual void close() noexcept = 0;
  // "host:port" for messages.
  virtual const std::string &peer() const = 0;
};

class CurlConnection final : public ByteStream {
 public:
  explicit CurlConnection(ConnectionSettings settings);
  ~CurlConnection() override;
  CurlConnection(const CurlConnection &) = delete;
  CurlConnection &operator=(const CurlConnection &) = delete;

  void open(const core::WaitBudget &budget) override;
  void send_all(const uint8_t *data, size_t len, const core::Deadline &until,
                const core::WaitBudget &budget) override;
  Received receive(uint8_t *buffer, size_t capacity, const core::Deadline &until) override;
  void close() noexcept override;
  const std::string &peer() const override { return peer_; }

 private:
  void wait_socket(short events, const core::Deadline &until);
  int socket_fd() const;
  // "the TLS connection to host:port[ through proxy scheme://proxy:port]".
  std::string connect_step_name() const;
  // The phase of open() still pending, for a timeout: "the DNS resolution
  // of ...", "the TCP connection to ...", "the TLS handshake with ...".
  std::string pending_connect_phase() const;

  ConnectionSettings settings_;
  std::string peer_;
  // Drives the connect; the handle stays added to it until close().
  std::unique_ptr<CurlDriver> driver_;
  void *easy_ = nullptr;  // CURL*
  char error_buffer_[256 + 1] = {};
  // Of the registration that opened the connection (set by open()); its
  // descriptor is polled next to the socket so a cancel wakes every wait.
  const core::CancelSignal *cancel_ = nullptr;
  TlsContextHook tls_hook_;  // its tls_started names the pending phase of open()
};

// Checks an OpenSSL cipher list; returns why it is unusable, or nullopt.
std::optional<std::string> cipher_list_problem(const std::string &cipher_list);

// Initialises libcurl's global state once per process (thread-safe).
void ensure_curl_initialized();

}  // namespace prov::transport

#endif  // PROV_TRANSPORT_CONNECTION_H
