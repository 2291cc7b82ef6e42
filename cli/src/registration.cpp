#include "registration.h"

#include <prov/prov.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <mutex>
#include <vector>

#include "interrupts.h"

namespace prov_cli {
namespace {

struct ClientDeleter {
  void operator()(prov_client *client) const { prov_client_free(client); }
};
struct ResultDeleter {
  void operator()(prov_result *result) const { prov_result_free(result); }
};
struct LibraryStringDeleter {
  void operator()(char *text) const { prov_string_free(text); }
};
using ClientPtr = std::unique_ptr<prov_client, ClientDeleter>;
using ResultPtr = std::unique_ptr<prov_result, ResultDeleter>;
using LibraryString = std::unique_ptr<char, LibraryStringDeleter>;

std::optional<std::string> copy_field(const char *value) {
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

ResultFields copy_result(const prov_result *result) {
  ResultFields fields;
  fields.operation_id = copy_field(prov_result_operation_id(result));
  fields.status = copy_field(prov_result_status(result));
  fields.registration_id = copy_field(prov_result_registration_id(result));
  fields.device_id = copy_field(prov_result_device_id(result));
  fields.assigned_hub = copy_field(prov_result_assigned_hub(result));
  fields.substatus = copy_field(prov_result_substatus(result));
  fields.created_date_time = copy_field(prov_result_created_date_time(result));
  fields.last_update_date_time = copy_field(prov_result_last_update_date_time(result));
  fields.etag = copy_field(prov_result_etag(result));
  fields.payload = copy_field(prov_result_payload(result));
  fields.registration_state = copy_field(prov_result_registration_state_json(result));
  fields.tracking_id = copy_field(prov_result_tracking_id(result));
  fields.error_message = copy_field(prov_result_error_message(result));
  fields.enrollment_group_id = copy_field(prov_result_enrollment_group_id(result));
  fields.x509_certificate_info = copy_field(prov_result_x509_certificate_info_json(result));
  fields.issued_certificate_chain = copy_field(prov_result_issued_certificate_chain_pem(result));
  fields.trust_bundle = copy_field(prov_result_trust_bundle_pem(result));
  if (const char *key = prov_result_generated_private_key_pem(result)) {
    fields.generated_private_key = SecretString(key);
  }
  fields.error_code = prov_result_error_code(result);
  fields.http_status = prov_result_http_status(result);
  return fields;
}

// libprov promises that keys never appear in its messages; the CLI checks
// anyway, because a leaked key in a CI log cannot be taken back.
// Secrets shorter than this are not searched for: a short pass phrase such
// as "wrong" would otherwise garble ordinary words in messages.
constexpr size_t kMinRedactedLength = 8;

void redact(std::string &text, const std::vector<const std::string *> &secrets) {
  for (const std::string *secret : secrets) {
    if (secret->size() < kMinRedactedLength) continue;
    size_t position = 0;
    while ((position = text.find(*secret, position)) != std::string::npos) {
      text.replace(position, secret->size(), "<redacted>");
      position += 10;
    }
  }
}

void redact(std::optional<std::string> &text, const std::vector<const std::string *> &secrets) {
  if (text) redact(*text, secrets);
}

void redact_outcome(Outcome &outcome, const std::vector<const std::string *> &secrets) {
  redact(outcome.message, secrets);
  if (!outcome.result) return;
  ResultFields &fields = *outcome.result;
  for (std::optional<std::string> *field :
       {&fields.operation_id, &fields.status, &fields.registration_id, &fields.device_id,
        &fields.assigned_hub, &fields.substatus, &fields.created_date_time,
        &fields.last_update_date_time, &fields.etag, &fields.payload, &fields.registration_state,
        &fields.tracking_id, &fields.error_message, &fields.enrollment_group_id,
        &fields.x509_certificate_info}) {
    redact(*field, secrets);
  }
}

// The password in a proxy URL ("scheme://user:password@host"), so that it
// can be scrubbed like a key; "" when there is none.
std::string proxy_url_password(const std::optional<std::string> &url) {
  if (!url) return "";
  size_t scheme_end = url->find("://");
  size_t start = scheme_end == std::string::npos ? 0 : scheme_end + 3;
  size_t at = url->rfind('@');
  if (at == std::string::npos || at < start) return "";
  size_t colon = url->find(':', start);
  if (colon == std::string::npos || colon > at) return "";
  return url->substr(colon + 1, at - colon - 1);
}

// Records a failed libprov call in `outcome`.
void fail(Outcome &outcome, int status, const std::string &step) {
  outcome.status = status;
  outcome.step = step;
  outcome.message = prov_last_error_message();
  if (outcome.message.empty()) outcome.message = prov_status_str(status);
}

// --verbose: libprov's log lines on stderr, one per line even when a batch
// runs many registrations at once. libprov redacts keys, tokens and proxy
// passwords from them itself; the CLI scrubs them again, as everything else
// it prints.
void log_to_stderr(int level, const char *message, void *user_data) {
  static std::mutex stderr_lock;
  static const char *const kLevels[] = {"debug", "info", "warning", "error"};
  const char *name = level >= PROV_LOG_DEBUG && level <= PROV_LOG_ERROR ? kLevels[level] : "?";
  const auto *context = static_cast<const RegistrationLogContext *>(user_data);
  std::string line = std::string("prov: ") + name + ": " + *context->registration_id + ": " +
                     (message != nullptr ? message : "") + "\n";
  redact(line, *context->secrets);
  std::lock_guard<std::mutex> lock(stderr_lock);
  std::fputs(line.c_str(), stderr);
}

// Applies one option when it was given: false (with the outcome filled in,
// naming the command-line option) when libprov rejects it.
template <typename Value, typename Setter>
bool apply_option(const std::optional<Value> &value, const char *option, Outcome &outcome,
                  Setter setter) {
  if (!value) return true;
  int status = setter(*value);
  if (status == PROV_OK) return true;
  fail(outcome, status, option);
  return false;
}

// A CSR from --csr-file: PEM text or DER bytes.
int set_csr(prov_client *client, const std::string &csr) {
  if (csr.find("-----BEGIN") != std::string::npos)
    return prov_client_set_csr_pem(client, csr.c_str());
  return prov_client_set_csr_der(client, reinterpret_cast<const uint8_t *>(csr.data()), csr.size());
}

// Applies the options; returns false (with the outcome filled in) when the
// library rejects one, naming the command-line option it came from.
bool apply_settings(prov_client *client, const RegistrationSettings &settings, Outcome &outcome,
                    RegistrationLogContext &log_context) {
  const std::optional<bool> verbose = settings.verbose ? std::optional<bool>(true) : std::nullopt;
  // Adapters from a libprov setter to "apply this value".
  auto text = [client](int (*setter)(prov_client *, const char *)) {
    return [client, setter](const std::string &value) { return setter(client, value.c_str()); };
  };
  auto number = [client](auto setter) {
    return [client, setter](auto value) { return setter(client, value); };
  };
  return apply_option(verbose, "--verbose", outcome,
                      [&](bool) {
                        return prov_client_set_log_callback(client, PROV_LOG_DEBUG, log_to_stderr,
                                                            &log_context);
                      }) &&
         apply_option(settings.max_retries, "--retries", outcome,
                      [client](uint32_t retries) {
                        return prov_client_set_retry_policy(client, retries, 1000, 30000);
                      }) &&
         apply_option(settings.ca_pem, "--ca-file", outcome,
                      text(prov_client_set_server_verification_cert)) &&
         apply_option(settings.gateway_host, "--gateway-host", outcome,
                      text(prov_client_set_gateway_hostname)) &&
         apply_option(settings.cipher, "--cipher", outcome, text(prov_client_set_cipher)) &&
         apply_option(settings.transport, "--transport", outcome,
                      number(prov_client_set_transport)) &&
         apply_option(settings.proxy_url, "--proxy", outcome, text(prov_client_set_proxy_url)) &&
         apply_option(settings.proxy_ca_pem, "--proxy-ca-file", outcome,
                      text(prov_client_set_proxy_ca_cert)) &&
         apply_option(settings.keep_alive_seconds, "--keep-alive", outcome,
                      number(prov_client_set_keep_alive)) &&
         apply_option(settings.sas_ttl_seconds, "--sas-ttl", outcome,
                      number(prov_client_set_sastoken_ttl)) &&
         apply_option(settings.payload_json, "--payload", outcome,
                      text(prov_client_set_provisioning_payload)) &&
         apply_option(settings.csr_key_type, "--csr-key-type", outcome,
                      number(prov_client_set_csr_auto)) &&
         apply_option(settings.csr, "--csr-file", outcome,
                      [client](const std::string &csr) { return set_csr(client, csr); }) &&
         apply_option(settings.csr_api, "--csr-api", outcome, number(prov_client_set_csr_api)) &&
         apply_option(settings.register_timeout_ms, "--timeout", outcome,
                      number(prov_client_set_register_timeout)) &&
         apply_option(settings.response_timeout_ms, "--response-timeout", outcome,
                      number(prov_client_set_response_timeout));
}

// Keeps a client in an InFlightClients list for the guard's lifetime.
class InFlightEntry {
 public:
  InFlightEntry(InFlightClients *list, prov_client *client) : list_(list), client_(client) {
    if (list_ != nullptr && !list_->add(client_)) {
      refused_ = true;
      list_ = nullptr;
    }
  }
  ~InFlightEntry() {
    if (list_ != nullptr) list_->remove(client_);
  }
  InFlightEntry(const InFlightEntry &) = delete;
  InFlightEntry &operator=(const InFlightEntry &) = delete;
  bool refused() const { return refused_; }

 private:
  InFlightClients *list_;
  prov_client *client_;
  bool refused_ = false;
};

}  // namespace

PendingRegistration::PendingRegistration(const RegistrationSettings &settings,
                                         std::string registration_id, const Credential &credential)
    : started_(std::chrono::steady_clock::now()) {
  outcome_.registration_id = std::move(registration_id);
  proxy_password_ = proxy_url_password(settings.proxy_url);
  secrets_ = {&credential.key.str(), &credential.pass_phrase.str(), &proxy_password_};
  log_context_.registration_id = &outcome_.registration_id;
  log_context_.secrets = &secrets_;
  prov_last_error_clear();
  prepare(settings, credential);
}

PendingRegistration::~PendingRegistration() {
  prov_client_free(client_);
}

void PendingRegistration::prepare(const RegistrationSettings &settings,
                                  const Credential &credential) {
  const char *device_key = credential.key.c_str();
  if (credential.kind == KeyKind::kGroup) {
    char *derived = nullptr;
    int status =
        prov_derive_device_key(credential.key.c_str(), outcome_.registration_id.c_str(), &derived);
    LibraryString derived_owner(derived);  // wiped by prov_string_free
    if (status != PROV_OK) {
      fail(outcome_, status, "derive device key");
      return;
    }
    derived_key_ = SecretString(derived);
    secrets_.push_back(&derived_key_.str());
    device_key = derived_key_.c_str();
  }

  prov_client *raw_client = nullptr;
  int status = PROV_OK;
  if (credential.kind == KeyKind::kX509) {
    const char *pass_phrase =
        credential.pass_phrase.empty() ? nullptr : credential.pass_phrase.c_str();
    status = prov_client_create_x509(&raw_client, settings.host.c_str(),
                                     outcome_.registration_id.c_str(), settings.id_scope.c_str(),
                                     credential.cert_file.c_str(), credential.cert_key_file.c_str(),
                                     pass_phrase);
  } else {
    status = prov_client_create_symkey(&raw_client, settings.host.c_str(),
                                       outcome_.registration_id.c_str(), settings.id_scope.c_str(),
                                       device_key);
  }
  ClientPtr client(raw_client);
  if (status != PROV_OK) {
    fail(outcome_, status, "create client");
    return;
  }
  if (!apply_settings(client.get(), settings, outcome_, log_context_)) return;
  client_ = client.release();
}

Outcome PendingRegistration::finish(int status, prov_result *result, const std::string &message) {
  ResultPtr result_owner(result);
  // Freed first: the client may log (through log_context_) until then.
  prov_client_free(client_);
  client_ = nullptr;
  if (status != PROV_OK) {
    outcome_.status = status;
    outcome_.step = "register";
    outcome_.message = message.empty() ? prov_status_str(status) : message;
  }
  if (result_owner) outcome_.result = copy_result(result_owner.get());
  return complete();
}

Outcome PendingRegistration::finish_cancelled_before_start() {
  prov_client_free(client_);
  client_ = nullptr;
  outcome_.status = PROV_E_CANCELLED;
  outcome_.step = "register";
  outcome_.message = "interrupted before the registration started";
  return complete();
}

Outcome PendingRegistration::complete() {
  redact_outcome(outcome_, secrets_);
  outcome_.latency_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started_)
          .count();
  return std::move(outcome_);
}

Outcome register_device(const RegistrationSettings &settings, const std::string &registration_id,
                        const Credential &credential, InFlightClients *in_flight) {
  PendingRegistration pending(settings, registration_id, credential);
  if (pending.failed()) return pending.finish(PROV_OK, nullptr, "");
  prov_result *result = nullptr;
  int status = PROV_OK;
  std::string message;
  {
    // Left before finish() frees the client, so no cancel can reach it then.
    InFlightEntry in_flight_entry(in_flight, pending.client());
    if (in_flight_entry.refused()) return pending.finish_cancelled_before_start();
    status = prov_client_register(pending.client(), &result);
    if (status != PROV_OK) message = prov_last_error_message();
  }
  return pending.finish(status, result, message);
}

}  // namespace prov_cli
