// HttpsTransport: the DPS device REST API over HTTPS, with ordinary libcurl
// easy transfers (one handle per registration, so the TLS connection is
// reused between the register request and the polls):
//   PUT {scope}/registrations/{id}/register?api-version=2019-03-31
//   GET {scope}/registrations/{id}/operations/{operationId}?api-version=...
// Symmetric-key devices send "Authorization: SharedAccessSignature ...";
// X.509 devices authenticate with their TLS client certificate. The status,
// the retry-after header and the JSON body become a ServiceResponse, so the
// RegistrationFlow treats every transport alike.
#ifndef PROV_TRANSPORT_HTTPS_TRANSPORT_H
#define PROV_TRANSPORT_HTTPS_TRANSPORT_H

#include <memory>
#include <optional>
#include <string>

#include "auth/secret.h"
#include "core/transport.h"
#include "transport/connection.h"
#include "transport/curl_driver.h"

namespace prov::transport {

inline constexpr int kDefaultHttpsPort = 443;

struct HttpsSettings {
  std::string registration_id;
  std::string id_scope;
  std::optional<auth::SecretString> sas_token;  // none for X.509
  std::string api_version = "2019-03-31";
  ConnectionSettings connection;  // endpoint, TLS, proxy
};

// "/{scope}/registrations/{id}/register?api-version=2019-03-31" (segments percent-encoded).
std::string https_register_path(const std::string &id_scope, const std::string &registration_id,
                                const std::string &api_version);
std::string https_operation_path(const std::string &id_scope, const std::string &registration_id,
                                 const std::string &operation_id, const std::string &api_version);

class HttpsTransport final : public core::RegistrationTransport {
 public:
  explicit HttpsTransport(HttpsSettings settings);
  ~HttpsTransport() override;
  HttpsTransport(const HttpsTransport &) = delete;
  HttpsTransport &operator=(const HttpsTransport &) = delete;

  // Prepares the transfer handle; the TLS connection opens with the first request.
  void connect(const core::WaitBudget &budget) override;
  core::ServiceResponse request_register(const std::string &body,
                                         const core::WaitBudget &budget) override;
  core::ServiceResponse request_operation_status(const std::string &operation_id,
                                                 const core::WaitBudget &budget) override;
  // Nothing to keep alive between HTTP requests: waits.
  void idle(core::Millis duration, const core::WaitBudget &budget) override;
  void close() noexcept override;

 private:
  core::ServiceResponse perform(const char *method, const std::string &path,
                                const std::string *body, const std::string &step_name,
                                const core::WaitBudget &budget);

  HttpsSettings settings_;
  std::string origin_;    // "https://host:port"
  std::string peer_;      // "host:port"
  void *easy_ = nullptr;  // CURL*
  // Runs the transfers so a cancel wakes them (on an event loop, through
  // multi handles shared with other registrations).
  std::unique_ptr<CurlDriver> driver_;
  // On an event loop: this transport's own connection cache and TLS
  // sessions (a CURLSH*), so its kept-alive connection is never lent to
  // another registration's transfers (libcurl cannot see the roots each
  // connection was verified against).
  void *share_ = nullptr;
  char error_buffer_[256 + 1] = {};
  TlsContextHook tls_hook_;       // trusted roots for each TLS context of easy_
  bool answered_before_ = false;  // a request on this handle got a response
};

}  // namespace prov::transport

#endif  // PROV_TRANSPORT_HTTPS_TRANSPORT_H
