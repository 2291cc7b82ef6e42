#include "core/client.h"

#include <chrono>

#include "auth/csr.h"
#include "auth/sas.h"
#include "core/error.h"
#include "core/event_loop.h"
#include "core/fiber.h"
#include "core/issuance.h"
#include "core/registration_flow.h"
#include "core/wait.h"
#include "json/json.h"
#include "transport/connection.h"
#include "transport/transport_factory.h"

namespace prov::core {

namespace {

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}
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

std::unique_ptr<Client> Client::create_symkey_group(const char *provisioning_host,
                                                    const char *registration_id,
                                                    const char *id_scope, const char *group_key) {
  // Group keys are as long as any DPS key (16..64 bytes decoded).
  validate_symmetric_key(group_key, "group_key", 16, 64);
  std::string id = validate_registration_id(registration_id, "registration_id");
  auth::SecretString device_key = auth::derive_device_key(auth::SecretString(group_key), id);
  return create_symkey(provisioning_host, registration_id, id_scope, device_key.str().c_str());
}

std::unique_ptr<Client> Client::create_x509(const char *provisioning_host,
                                            const char *registration_id, const char *id_scope,
                                            const char *cert, const char *key,
                                            const char *pass_phrase, bool from_files) {
  SymmetricKeyIdentity identity;
  identity.provisioning_host = parse_host_port(provisioning_host, "provisioning_host");
  identity.registration_id = validate_registration_id(registration_id, "registration_id");
  identity.id_scope = validate_id_scope(id_scope, "id_scope");
  const char *cert_name = from_files ? "cert_file" : "cert_pem";
  const char *key_name = from_files ? "key_file" : "key_pem";
  std::string cert_text = require_text(cert, cert_name);
  if (key == nullptr || *key == '\0')
    throw_invalid_arg(std::string(key_name) + " is NULL or empty");
  std::optional<auth::SecretString> pass;
  if (pass_phrase != nullptr) pass = auth::SecretString(pass_phrase);
  auth::X509Identity loaded =
      from_files ? auth::X509Identity::from_files(cert_text, key, pass)
                 : auth::X509Identity::from_pem(cert_text, auth::SecretString(key), pass);
  loaded.check_for(identity.registration_id, unix_now());
  identity.x509 = std::make_shared<const auth::X509Identity>(std::move(loaded));
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
  update_options([&](Options &o) {
    o.keep_alive_s = static_cast<uint16_t>(seconds);
    o.keep_alive_set = true;
  });
}

void Client::set_sastoken_ttl(int32_t seconds) {
  if (identity_.x509) {
    // As the Python SDK, which refuses sastoken_ttl for X.509 clients.
    throw_invalid_arg("sastoken_ttl does not apply to an X.509 client (it sends no SAS token)");
  }
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

void Client::set_csr_auto(int key_type) {
  if (key_type != PROV_KEY_NONE && key_type != PROV_KEY_EC_P256 && key_type != PROV_KEY_RSA_2048) {
    throw_invalid_arg("key_type " + std::to_string(key_type) +
                      " is not PROV_KEY_NONE (0), PROV_KEY_EC_P256 (1) or PROV_KEY_RSA_2048 (2)");
  }
  update_options([&](Options &o) {
    o.csr_source =
        key_type == PROV_KEY_NONE ? Options::CsrSource::None : Options::CsrSource::Generate;
    o.csr_key_type = key_type;
    o.csr_der.clear();
    o.csr_common_name.clear();
  });
}

void Client::set_csr_pem(const char *csr_pem) {
  std::optional<auth::CheckedCsr> checked;
  if (csr_pem != nullptr)
    checked = auth::check_csr_pem(require_text(csr_pem, "csr_pem"), "csr_pem");
  update_options([&](Options &o) {
    o.csr_source = checked ? Options::CsrSource::Provided : Options::CsrSource::None;
    o.csr_der = checked ? std::move(checked->der) : std::vector<uint8_t>();
    o.csr_common_name = checked ? std::move(checked->common_name) : std::string();
  });
}

void Client::set_csr_der(const uint8_t *der, size_t der_len) {
  std::optional<auth::CheckedCsr> checked;
  if (der != nullptr && der_len > 0) {
    checked = auth::check_csr_der(std::vector<uint8_t>(der, der + der_len), "csr der");
  } else if (der == nullptr && der_len > 0) {
    throw_invalid_arg("der is NULL but der_len is " + std::to_string(der_len));
  }
  update_options([&](Options &o) {
    o.csr_source = checked ? Options::CsrSource::Provided : Options::CsrSource::None;
    o.csr_der = checked ? std::move(checked->der) : std::vector<uint8_t>();
    o.csr_common_name = checked ? std::move(checked->common_name) : std::string();
  });
}

void Client::set_csr_api(int csr_api) {
  if (csr_api != PROV_CSR_API_2025_07_01_PREVIEW && csr_api != PROV_CSR_API_2021_11_01_PREVIEW) {
    throw_invalid_arg("csr_api " + std::to_string(csr_api) +
                      " is not PROV_CSR_API_2025_07_01_PREVIEW (1) or "
                      "PROV_CSR_API_2021_11_01_PREVIEW (2)");
  }
  update_options([&](Options &o) { o.csr_api = csr_api; });
}

void Client::set_transport(int transport) {
  if (transport < static_cast<int>(transport::TransportKind::Mqtt) ||
      transport > static_cast<int>(transport::TransportKind::Https)) {
    throw_invalid_arg("transport " + std::to_string(transport) +
                      " is not a prov_transport (PROV_TRANSPORT_MQTT, PROV_TRANSPORT_MQTT_WS or "
                      "PROV_TRANSPORT_HTTPS)");
  }
  update_options(
      [&](Options &o) { o.transport = static_cast<transport::TransportKind>(transport); });
}

void Client::set_proxy(int proxy_type, const char *address, int32_t port, const char *username,
                       const char *password) {
  transport::ProxySettings proxy =
      transport::make_proxy_settings(proxy_type, address, port, username, password);
  update_options([&](Options &o) { o.proxy = std::move(proxy); });
}

void Client::set_proxy_url(const char *url) {
  transport::ProxySettings proxy;
  if (url != nullptr && *url != '\0') proxy = transport::parse_proxy_url(url);
  update_options([&](Options &o) { o.proxy = std::move(proxy); });
}

void Client::set_proxy_ca_cert(const char *pem) {
  std::optional<std::string> value;
  if (pem != nullptr) {
    std::string text = require_text(pem, "pem");
    if (text.find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
      throw_invalid_arg(
          "pem holds no \"-----BEGIN CERTIFICATE-----\" block; pass the PEM text of the root "
          "certificate(s) the HTTPS proxy's certificate chains to, not a file path");
    }
    value = std::move(text);
  }
  update_options([&](Options &o) { o.proxy_ca_pem = std::move(value); });
}

namespace {
// Options that cannot apply to the chosen transport or proxy are refused
// here rather than ignored: they may be set in any order, so only now is the
// combination final.
void check_option_combination(const Options &options) {
  if (options.transport == transport::TransportKind::Https && options.keep_alive_set) {
    throw_invalid_arg("keep_alive (set to " + std::to_string(options.keep_alive_s) +
                      " s) does not apply to the HTTPS transport, which has no keep-alive "
                      "pings; do not set it, or choose PROV_TRANSPORT_MQTT or "
                      "PROV_TRANSPORT_MQTT_WS");
  }
  if (options.proxy_ca_pem && options.proxy.type != transport::ProxyType::Https) {
    throw_invalid_arg("a proxy CA certificate is set but the proxy is " +
                      (options.proxy.enabled() ? options.proxy.describe() : std::string("none")) +
                      ", not an HTTPS proxy; it would never be used");
  }
}
}  // namespace

void Client::set_retry_policy(uint32_t max_retries, uint32_t initial_backoff_ms,
                              uint32_t max_backoff_ms) {
  RetryPolicy::Settings settings =
      RetryPolicy::validated(max_retries, initial_backoff_ms, max_backoff_ms);
  update_options([&](Options &o) { o.retry = settings; });
}

void Client::set_progress_callback(prov_progress_callback callback, void *user_data) {
  update_options([&](Options &o) { o.observer.set_progress(callback, user_data); });
}

void Client::set_log_callback(int min_level, prov_log_callback callback, void *user_data) {
  if (min_level < PROV_LOG_DEBUG || min_level > PROV_LOG_ERROR) {
    throw_invalid_arg("min_level " + std::to_string(min_level) +
                      " is not a prov_log_level (PROV_LOG_DEBUG 0 .. PROV_LOG_ERROR 3)");
  }
  update_options([&](Options &o) { o.observer.set_log(callback, min_level, user_data); });
}

Client::~Client() {
  std::unique_lock<std::mutex> lock(run_mutex_);
  std::shared_ptr<AsyncState> state = async_state_;
  if (state && state->in_completion.load(std::memory_order_acquire) &&
      state->runner.load(std::memory_order_acquire) == Fiber::context_identity()) {
    // Freed from its own completion callback: the fiber must not touch the
    // client once the callback returns.
    state->freed_in_completion.store(true, std::memory_order_release);
    return;
  }
  if (cancel_) cancel_->cancel();
  lock.unlock();
  // On another event-loop fiber this yields, so the registration (maybe on
  // the same loop) can end meanwhile.
  if (state) state->finished.wait_until(Deadline(Clock::time_point::max()));
  // A blocking registration on another thread (freeing under it is a
  // caller bug, but waiting is cheap): it ends within moments of the cancel.
  while (busy_.load(std::memory_order_acquire)) {
    wait_for_signal(Deadline::after(Millis(1)), nullptr);
  }
}

std::shared_ptr<CancelSignal> Client::begin_registration() {
  bool expected = false;
  if (!busy_.compare_exchange_strong(expected, true, std::memory_order_acq_rel)) {
    throw Error(PROV_E_BUSY, "another registration on this client is in flight");
  }
  try {
    auto cancel = std::make_shared<CancelSignal>();
    std::lock_guard<std::mutex> lock(run_mutex_);
    cancel_ = cancel;
    return cancel;
  } catch (...) {
    busy_.store(false, std::memory_order_release);
    throw;
  }
}

void Client::end_registration() noexcept {
  {
    std::lock_guard<std::mutex> lock(run_mutex_);
    cancel_.reset();
  }
  running_context_.store(nullptr, std::memory_order_release);
  busy_.store(false, std::memory_order_release);
}

void Client::cancel() noexcept {
  std::lock_guard<std::mutex> lock(run_mutex_);
  if (cancel_) cancel_->cancel();
}

bool Client::in_progress_or_log_callback() const {
  const void *caller = Fiber::context_identity();
  if (running_context_.load(std::memory_order_acquire) != caller) return false;
  std::lock_guard<std::mutex> lock(run_mutex_);
  return !(async_state_ && async_state_->in_completion.load(std::memory_order_acquire) &&
           async_state_->runner.load(std::memory_order_acquire) == caller);
}

std::shared_ptr<Result> Client::register_device() {
  std::shared_ptr<CancelSignal> cancel = begin_registration();
  struct EndRegistration {
    Client *client;
    ~EndRegistration() { client->end_registration(); }
  } end{this};
  running_context_.store(Fiber::context_identity(), std::memory_order_release);
  return run_registration(*cancel);
}

void Client::register_async(Completion completion) {
  std::shared_ptr<CancelSignal> cancel = begin_registration();
  std::shared_ptr<AsyncState> state;
  try {
    state = std::make_shared<AsyncState>();
    {
      std::lock_guard<std::mutex> lock(run_mutex_);
      async_state_ = state;
    }
    // The registration's cancel signal also stops it if the library's
    // loops shut down (process exit, dlclose) while it runs.
    EventLoop::spawn(
        [this, cancel, state, done = std::move(completion)] {
          const void *self = Fiber::context_identity();
          state->runner.store(self, std::memory_order_release);
          running_context_.store(self, std::memory_order_release);
          int status = PROV_OK;
          std::shared_ptr<Result> result;
          std::string message;
          try {
            result = run_registration(*cancel);
          } catch (const Error &error) {
            status = error.status();
            result = error.result();
            message = error.what();
          } catch (const std::bad_alloc &) {
            status = PROV_E_NOMEM;
            message = "out of memory";
          } catch (const std::exception &error) {
            status = PROV_E_INTERNAL;
            message = std::string("internal error in the registration: ") + error.what();
          }
          state->in_completion.store(true, std::memory_order_release);
          try {
            done(status, std::move(result), message);
          } catch (...) {
            // The C API's completion does not throw; nothing may leave the fiber.
          }
          if (!state->freed_in_completion.load(std::memory_order_acquire)) {
            state->in_completion.store(false, std::memory_order_release);
            end_registration();  // the client may be freed from here on
          }
          state->finished.raise();
        },
        cancel);
  } catch (...) {
    // Never started: nobody is to wait for it.
    if (state) state->finished.raise();
    end_registration();
    throw;
  }
}

std::shared_ptr<Result> Client::run_registration(const CancelSignal &cancel) {
  Options options;
  {
    std::lock_guard<std::mutex> lock(options_mutex_);
    options = options_;
  }
  Observer &observer = options.observer;
  try {
    std::shared_ptr<Result> result = attempt_registration(options, cancel);
    observer.progress(PROV_PROGRESS_ASSIGNED, result->answer().assigned_hub.value_or(""));
    observer.log(PROV_LOG_INFO, "assigned to " + result->answer().assigned_hub.value_or("?") +
                                    " as device " + result->answer().device_id.value_or("?"));
    return result;
  } catch (const Error &error) {
    const std::string detail = std::string(prov_status_str(error.status())) + ": " + error.what();
    observer.progress(PROV_PROGRESS_FAILED, detail);
    observer.log(PROV_LOG_ERROR, "registration failed: " + detail);
    throw;
  }
}

std::shared_ptr<Result> Client::attempt_registration(Options &options, const CancelSignal &cancel) {
  Observer &observer = options.observer;
  observer.add_secret(identity_.symmetric_key);
  if (options.proxy.password) observer.add_secret(*options.proxy.password);
  if (identity_.x509) {
    observer.add_secret(identity_.x509->key_pem());
    if (identity_.x509->pass_phrase()) observer.add_secret(*identity_.x509->pass_phrase());
  }
  // The deadline covers the whole call, from here.
  check_option_combination(options);
  const WaitBudget budget(options.register_timeout_ms, options.response_timeout_ms, &cancel);

  const HostPort &target = options.gateway ? *options.gateway : identity_.provisioning_host;
  transport::ConnectionSettings connection;
  connection.host = target.host;
  connection.port = target.port;  // 0: the transport's default port
  connection.is_ipv6_literal = target.is_ipv6_literal;
  connection.ca_pem = options.server_ca_pem;
  connection.cipher_list = options.cipher_list;
  connection.proxy = options.proxy;
  connection.proxy.ca_pem = options.proxy_ca_pem;

  const int64_t now_s = unix_now();
  if (identity_.x509) {
    // Validity again: time has passed since the client was created.
    identity_.x509->check_for(identity_.registration_id, now_s);
    connection.client_cert_chain_pem = identity_.x509->chain_pem();
    connection.client_key_pem = identity_.x509->key_pem();
    connection.client_key_pass_phrase = identity_.x509->pass_phrase();
  }
  const PreparedCsr csr = prepare_csr(options, identity_.registration_id);
  transport::TransportChoice choice;
  choice.kind = options.transport;
  choice.registration_id = identity_.registration_id;
  choice.id_scope = identity_.id_scope;
  if (!identity_.x509) {
    choice.sas_token =
        auth::make_sas_token(identity_.id_scope, identity_.registration_id, identity_.symmetric_key,
                             now_s + options.sastoken_ttl_s);
    observer.add_secret(*choice.sas_token);
  }
  if (csr.active) choice.api_version = csr.api_version;
  choice.keep_alive_s = options.keep_alive_s;

  const std::string endpoint =
      (target.is_ipv6_literal ? "[" + target.host + "]" : target.host) + ":" +
      std::to_string(target.port != 0 ? target.port : transport::default_port(choice.kind)) +
      " over " + transport::transport_name(choice.kind) +
      (options.proxy.enabled() ? " through proxy " + options.proxy.describe() : "");
  observer.log(PROV_LOG_INFO, "registering \"" + identity_.registration_id + "\" at " + endpoint);
  std::unique_ptr<RegistrationTransport> transport =
      transport::make_registration_transport(std::move(choice), std::move(connection));

  FlowRequest request;
  request.register_body =
      json::build_register_body(identity_.registration_id, options.payload_json, csr.fields);
  request.endpoint = endpoint;

  RegistrationFlow flow(*transport, RetryPolicy(options.retry), observer);
  std::shared_ptr<Result> result;
  try {
    result = flow.run(request, budget);
  } catch (const Error &error) {
    if (identity_.x509 && error.status() == PROV_E_CREDENTIAL) {
      // Point at the chain: a missing intermediate is the usual cause.
      throw Error(error.status(),
                  std::string(error.what()) + "; " + identity_.x509->describe_chain(),
                  error.result());
    }
    throw;
  }
  transport->close();
  attach_issued(result, csr);
  return result;
}

}  // namespace prov::core
