#include "core/client.h"

#include <chrono>

#include "auth/sas.h"
#include "core/error.h"
#include "core/registration_flow.h"
#include "json/json.h"
#include "transport/connection.h"
#include "transport/mqtt_transport.h"

namespace prov::core {

namespace {
constexpr int kDefaultMqttPort = 8883;

// Releases the busy flag however the registration ends.
class BusyGuard {
 public:
  explicit BusyGuard(std::atomic<bool> &flag) : flag_(flag) {}
  ~BusyGuard() { flag_.store(false, std::memory_order_release); }
  BusyGuard(const BusyGuard &) = delete;
  BusyGuard &operator=(const BusyGuard &) = delete;

 private:
  std::atomic<bool> &flag_;
};
}  // namespace

std::unique_ptr<Client> Client::create_symkey(const char *provisioning_host,
                                              const char *registration_id, const char *id_scope,
                                              const char *symmetric_key) {
  SymmetricKeyIdentity identity;
  identity.provisioning_host = parse_host_port(provisioning_host, "provisioning_host");
  identity.registration_id = validate_registration_id(registration_id, "registration_id");
  identity.id_scope = validate_id_scope(id_scope, "id_scope");
  validate_symmetric_key(symmetric_key, "symmetric_key", 16, 64);
  identity.symmetric_key = auth::SecretString(symmetric_key);
  return std::unique_ptr<Client>(new Client(std::move(identity)));
}

template <typename Change>
void Client::update_options(Change change) {
  std::lock_guard<std::mutex> lock(options_mutex_);
  if (busy_.load(std::memory_order_acquire)) {
    throw Error(PROV_E_BUSY,
                "cannot change options while a registration on this client is in flight");
  }
  change(options_);
}

void Client::set_server_verification_cert(const char *pem) {
  std::optional<std::string> value;
  if (pem != nullptr) {
    std::string text = require_text(pem, "pem");
    if (text.find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
      throw_invalid_arg(
          "pem holds no \"-----BEGIN CERTIFICATE-----\" block; pass the PEM text of the trusted "
          "root certificate(s), not a file path");
    }
    value = std::move(text);
  }
  update_options([&](Options &o) { o.server_ca_pem = std::move(value); });
}

void Client::set_gateway_hostname(const char *hostname) {
  std::optional<HostPort> value;
  if (hostname != nullptr) value = parse_host_port(hostname, "hostname");
  update_options([&](Options &o) { o.gateway = std::move(value); });
}

void Client::set_cipher(const char *cipher_list) {
  std::string value = cipher_list ? cipher_list : "";
  if (!value.empty()) {
    if (auto problem = transport::cipher_list_problem(value)) {
      throw_invalid_arg("cipher_list \"" + value +
                        "\" is not a usable OpenSSL cipher list: " + *problem);
    }
  }
  update_options([&](Options &o) { o.cipher_list = std::move(value); });
}

void Client::set_keep_alive(int32_t seconds) {
  require_range(seconds, 1, 1740, "keep_alive", "seconds");
  update_options([&](Options &o) { o.keep_alive_s = static_cast<uint16_t>(seconds); });
}

void Client::set_sastoken_ttl(int32_t seconds) {
  require_range(seconds, 60, 31536000, "sastoken_ttl", "seconds");
  update_options([&](Options &o) { o.sastoken_ttl_s = static_cast<uint32_t>(seconds); });
}

void Client::set_provisioning_payload(const char *json) {
  std::optional<std::string> value;
  if (json != nullptr) {
    validate_json(json, "json");
    value = std::string(json);
  }
  update_options([&](Options &o) { o.payload_json = std::move(value); });
}

void Client::set_register_timeout(uint32_t milliseconds) {
  require_range(milliseconds, 1, 86400000, "register_timeout", "ms");
  update_options([&](Options &o) { o.register_timeout_ms = milliseconds; });
}

void Client::set_response_timeout(uint32_t milliseconds) {
  require_range(milliseconds, 1, 3600000, "response_timeout", "ms");
  update_options([&](Options &o) { o.response_timeout_ms = milliseconds; });
}

std::shared_ptr<Result> Client::register_device() {
  bool expected = false;
  if (!busy_.compare_exchange_strong(expected, true, std::memory_order_acq_rel)) {
    throw Error(PROV_E_BUSY, "another registration on this client is in flight");
  }
  BusyGuard release(busy_);
  Options options;
  {
    std::lock_guard<std::mutex> lock(options_mutex_);
    options = options_;
  }
  // The deadline covers the whole call, from here.
  const WaitBudget budget(options.register_timeout_ms, options.response_timeout_ms);

  const HostPort &target = options.gateway ? *options.gateway : identity_.provisioning_host;
  transport::ConnectionSettings connection;
  connection.host = target.host;
  connection.port = target.port != 0 ? target.port : kDefaultMqttPort;
  connection.is_ipv6_literal = target.is_ipv6_literal;
  connection.ca_pem = options.server_ca_pem;
  connection.cipher_list = options.cipher_list;

  const int64_t now_s = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
  transport::MqttSettings mqtt;
  mqtt.registration_id = identity_.registration_id;
  mqtt.id_scope = identity_.id_scope;
  mqtt.password = auth::make_sas_token(identity_.id_scope, identity_.registration_id,
                                       identity_.symmetric_key, now_s + options.sastoken_ttl_s);
  mqtt.keep_alive_s = options.keep_alive_s;

  transport::MqttTransport transport(
      std::move(mqtt), std::make_unique<transport::CurlConnection>(std::move(connection)));

  FlowRequest request;
  request.register_body =
      json::build_register_body(identity_.registration_id, options.payload_json);

  RegistrationFlow flow(transport, RetryPolicy());
  std::shared_ptr<Result> result = flow.run(request, budget);
  transport.close();
  return result;
}

}  // namespace prov::core
