// The extern "C" boundary: handle <-> object, argument checks for NULL
// handles/outputs, and the exception firewall. No logic lives here.
#include <cstdlib>
#include <cstring>
#include <memory>

#include "api/firewall.h"
#include "auth/sas.h"
#include "core/client.h"
#include "core/error.h"
#include "core/result.h"
#include "core/validate.h"
#include "prov/prov.h"

struct prov_client {
  std::unique_ptr<prov::core::Client> impl;
};

struct prov_result {
  prov::core::Result impl;
};

namespace {

using prov::api::guarded;
using prov::core::throw_invalid_arg;

template <typename T>
void require_out(T **out, const char *name) {
  if (out == nullptr) throw_invalid_arg(std::string(name) + " is NULL");
}

prov::core::Client &require_client(prov_client *client) {
  if (client == nullptr || !client->impl) throw_invalid_arg("client is NULL");
  return *client->impl;
}

// A malloc'ed copy the caller frees with prov_string_free.
char *copy_out(const std::string &text) {
  char *copy = static_cast<char *>(std::malloc(text.size() + 1));
  if (copy == nullptr) throw std::bad_alloc();
  std::memcpy(copy, text.c_str(), text.size() + 1);
  return copy;
}

const char *field(const prov_result *result,
                  const std::optional<std::string> prov::json::ServiceAnswer::*member) {
  if (result == nullptr) return nullptr;
  const std::optional<std::string> &value = result->impl.answer().*member;
  return value ? value->c_str() : nullptr;
}

// A constructor behind the firewall: *out is NULL on failure and the new
// handle on success.
template <typename Make>
int create(const char *function, prov_client **out, Make &&make) noexcept {
  if (out != nullptr) *out = nullptr;
  return guarded(function, [&] {
    require_out(out, "out");
    auto client = std::make_unique<prov_client>();
    client->impl = make();
    *out = client.release();
    return PROV_OK;
  });
}

// A setter behind the firewall: NULL client checked, exceptions mapped.
template <typename Setter>
int configure(const char *function, prov_client *client, Setter &&setter) noexcept {
  return guarded(function, [&] {
    setter(require_client(client));
    return PROV_OK;
  });
}

}  // namespace

extern "C" {

PROV_API const char *prov_status_str(int status) noexcept {
  switch (status) {
    case PROV_OK:
      return "PROV_OK";
    case PROV_E_INVALID_ARG:
      return "PROV_E_INVALID_ARG";
    case PROV_E_NOMEM:
      return "PROV_E_NOMEM";
    case PROV_E_CREDENTIAL:
      return "PROV_E_CREDENTIAL";
    case PROV_E_CONNECTION_FAILED:
      return "PROV_E_CONNECTION_FAILED";
    case PROV_E_CONNECTION_DROPPED:
      return "PROV_E_CONNECTION_DROPPED";
    case PROV_E_TIMEOUT:
      return "PROV_E_TIMEOUT";
    case PROV_E_CANCELLED:
      return "PROV_E_CANCELLED";
    case PROV_E_SERVICE:
      return "PROV_E_SERVICE";
    case PROV_E_PROTOCOL:
      return "PROV_E_PROTOCOL";
    case PROV_E_BUSY:
      return "PROV_E_BUSY";
    case PROV_E_INTERNAL:
      return "PROV_E_INTERNAL";
    case PROV_E_CERTIFICATE:
      return "PROV_E_CERTIFICATE";
    default:
      return "PROV_E_UNKNOWN";
  }
}

PROV_API const char *prov_last_error_message(void) noexcept {
  return prov::api::last_error();
}

PROV_API void prov_last_error_clear(void) noexcept {
  prov::api::clear_last_error();
}

PROV_API uint32_t prov_version_number(void) noexcept {
  return PROV_VERSION_NUMBER;
}

PROV_API const char *prov_version_string(void) noexcept {
  return PROV_VERSION_STRING;
}

PROV_API void prov_string_free(char *s) noexcept {
  if (s == nullptr) return;
  prov::auth::secure_wipe(s, std::strlen(s));
  std::free(s);
}

PROV_API int prov_derive_device_key(const char *group_key, const char *registration_id,
                                    char **out_device_key) noexcept {
  if (out_device_key != nullptr) *out_device_key = nullptr;
  return guarded(__func__, [&] {
    require_out(out_device_key, "out_device_key");
    // Group keys are as long as any DPS key (16..64 bytes decoded).
    prov::core::validate_symmetric_key(group_key, "group_key", 16, 64);
    std::string id = prov::core::validate_registration_id(registration_id, "registration_id");
    prov::auth::SecretString key =
        prov::auth::derive_device_key(prov::auth::SecretString(group_key), id);
    *out_device_key = copy_out(key.str());
    return PROV_OK;
  });
}

PROV_API int prov_generate_sas_token(const char *id_scope, const char *registration_id,
                                     const char *symmetric_key, int64_t expiry,
                                     char **out_token) noexcept {
  if (out_token != nullptr) *out_token = nullptr;
  return guarded(__func__, [&] {
    require_out(out_token, "out_token");
    std::string scope = prov::core::validate_id_scope(id_scope, "id_scope");
    std::string id = prov::core::validate_registration_id(registration_id, "registration_id");
    prov::core::validate_symmetric_key(symmetric_key, "symmetric_key", 16, 64);
    if (expiry <= 0) {
      throw_invalid_arg("expiry " + std::to_string(expiry) +
                        " must be a positive Unix time in seconds");
    }
    prov::auth::SecretString token =
        prov::auth::make_sas_token(scope, id, prov::auth::SecretString(symmetric_key), expiry);
    *out_token = copy_out(token.str());
    return PROV_OK;
  });
}

PROV_API int prov_client_create_symkey(prov_client **out, const char *provisioning_host,
                                       const char *registration_id, const char *id_scope,
                                       const char *symmetric_key) noexcept {
  return create(__func__, out, [&] {
    return prov::core::Client::create_symkey(provisioning_host, registration_id, id_scope,
                                             symmetric_key);
  });
}

PROV_API int prov_client_create_symkey_group(prov_client **out, const char *provisioning_host,
                                             const char *registration_id, const char *id_scope,
                                             const char *group_key) noexcept {
  return create(__func__, out, [&] {
    return prov::core::Client::create_symkey_group(provisioning_host, registration_id, id_scope,
                                                   group_key);
  });
}

PROV_API int prov_client_create_x509(prov_client **out, const char *provisioning_host,
                                     const char *registration_id, const char *id_scope,
                                     const char *cert_file, const char *key_file,
                                     const char *pass_phrase) noexcept {
  return create(__func__, out, [&] {
    return prov::core::Client::create_x509(provisioning_host, registration_id, id_scope, cert_file,
                                           key_file, pass_phrase, true);
  });
}

PROV_API int prov_client_create_x509_pem(prov_client **out, const char *provisioning_host,
                                         const char *registration_id, const char *id_scope,
                                         const char *cert_pem, const char *key_pem,
                                         const char *pass_phrase) noexcept {
  return create(__func__, out, [&] {
    return prov::core::Client::create_x509(provisioning_host, registration_id, id_scope, cert_pem,
                                           key_pem, pass_phrase, false);
  });
}

PROV_API void prov_client_free(prov_client *client) noexcept {
  if (client == nullptr) return;
  if (client->impl && client->impl->in_progress_or_log_callback()) {
    // The registration running on this very thread still uses the client.
    prov::api::set_last_error(
        "prov_client_free refused: called from a progress or log callback of a registration "
        "still running on this client; free it after prov_client_register returns or from the "
        "completion callback");
    return;
  }
  delete client;
}

PROV_API int prov_client_set_server_verification_cert(prov_client *client,
                                                      const char *pem) noexcept {
  return configure(__func__, client,
                   [&](prov::core::Client &c) { c.set_server_verification_cert(pem); });
}

PROV_API int prov_client_set_gateway_hostname(prov_client *client, const char *hostname) noexcept {
  return configure(__func__, client,
                   [&](prov::core::Client &c) { c.set_gateway_hostname(hostname); });
}

PROV_API int prov_client_set_cipher(prov_client *client, const char *cipher_list) noexcept {
  return configure(__func__, client, [&](prov::core::Client &c) { c.set_cipher(cipher_list); });
}

PROV_API int prov_client_set_keep_alive(prov_client *client, int32_t seconds) noexcept {
  return configure(__func__, client, [&](prov::core::Client &c) { c.set_keep_alive(seconds); });
}

PROV_API int prov_client_set_sastoken_ttl(prov_client *client, int32_t seconds) noexcept {
  return configure(__func__, client, [&](prov::core::Client &c) { c.set_sastoken_ttl(seconds); });
}

PROV_API int prov_client_set_provisioning_payload(prov_client *client, const char *json) noexcept {
  return configure(__func__, client,
                   [&](prov::core::Client &c) { c.set_provisioning_payload(json); });
}

PROV_API int prov_client_set_register_timeout(prov_client *client, uint32_t milliseconds) noexcept {
  return configure(__func__, client,
                   [&](prov::core::Client &c) { c.set_register_timeout(milliseconds); });
}

PROV_API int prov_client_set_response_timeout(prov_client *client, uint32_t milliseconds) noexcept {
  return configure(__func__, client,
                   [&](prov::core::Client &c) { c.set_response_timeout(milliseconds); });
}

PROV_API int prov_client_set_transport(prov_client *client, int transport) noexcept {
  return configure(__func__, client, [&](prov::core::Client &c) { c.set_transport(transport); });
}

PROV_API int prov_client_set_proxy(prov_client *client, int proxy_type, const char *address,
                                   int32_t port, const char *username,
                                   const char *password) noexcept {
  return configure(__func__, client, [&](prov::core::Client &c) {
    c.set_proxy(proxy_type, address, port, username, password);
  });
}

PROV_API int prov_client_set_proxy_url(prov_client *client, const char *url) noexcept {
  return configure(__func__, client, [&](prov::core::Client &c) { c.set_proxy_url(url); });
}

PROV_API int prov_client_set_proxy_ca_cert(prov_client *client, const char *pem) noexcept {
  return configure(__func__, client, [&](prov::core::Client &c) { c.set_proxy_ca_cert(pem); });
}

PROV_API int prov_client_set_csr_auto(prov_client *client, int key_type) noexcept {
  return configure(__func__, client, [&](prov::core::Client &c) { c.set_csr_auto(key_type); });
}

PROV_API int prov_client_set_csr_pem(prov_client *client, const char *csr_pem) noexcept {
  return configure(__func__, client, [&](prov::core::Client &c) { c.set_csr_pem(csr_pem); });
}

PROV_API int prov_client_set_csr_der(prov_client *client, const uint8_t *der,
                                     size_t der_len) noexcept {
  return configure(__func__, client, [&](prov::core::Client &c) { c.set_csr_der(der, der_len); });
}

PROV_API int prov_client_set_csr_api(prov_client *client, int csr_api) noexcept {
  return configure(__func__, client, [&](prov::core::Client &c) { c.set_csr_api(csr_api); });
}

PROV_API int prov_client_register(prov_client *client, prov_result **out) noexcept {
  if (out != nullptr) *out = nullptr;
  return guarded(__func__, [&] {
    require_out(out, "out");
    prov::core::Client &impl = require_client(client);
    try {
      std::shared_ptr<prov::core::Result> result = impl.register_device();
      *out = new prov_result{*result};
      return PROV_OK;
    } catch (const prov::core::Error &error) {
      // The service answered: hand its details to the caller with the status.
      if (error.result()) *out = new prov_result{*error.result()};
      throw;
    }
  });
}

PROV_API int prov_client_set_retry_policy(prov_client *client, uint32_t max_retries,
                                          uint32_t initial_backoff_ms,
                                          uint32_t max_backoff_ms) noexcept {
  return configure(__func__, client, [&](prov::core::Client &c) {
    c.set_retry_policy(max_retries, initial_backoff_ms, max_backoff_ms);
  });
}

PROV_API int prov_client_cancel(prov_client *client) noexcept {
  return configure(__func__, client, [&](prov::core::Client &c) { c.cancel(); });
}

PROV_API int prov_client_register_async(prov_client *client, prov_register_callback cb,
                                        void *user_data) noexcept {
  return guarded(__func__, [&] {
    prov::core::Client &impl = require_client(client);
    if (cb == nullptr) throw_invalid_arg("cb is NULL");
    impl.register_async([cb, user_data](int status, std::shared_ptr<prov::core::Result> result,
                                        const std::string &message) {
      prov_result *out = nullptr;
      if (result) {
        try {
          out = new prov_result{*result};
        } catch (...) {
          // Out of memory copying the details: the status still reaches the callee.
        }
      }
      // The callback reads the failure with prov_last_error_message() on its thread.
      if (status == PROV_OK) {
        prov::api::clear_last_error();
      } else {
        prov::api::set_last_error(message);
      }
      cb(status, out, user_data);
    });
    return PROV_OK;
  });
}

PROV_API int prov_client_set_progress_callback(prov_client *client, prov_progress_callback cb,
                                               void *user_data) noexcept {
  return configure(__func__, client,
                   [&](prov::core::Client &c) { c.set_progress_callback(cb, user_data); });
}

PROV_API int prov_client_set_log_callback(prov_client *client, int min_level, prov_log_callback cb,
                                          void *user_data) noexcept {
  return configure(__func__, client,
                   [&](prov::core::Client &c) { c.set_log_callback(min_level, cb, user_data); });
}

PROV_API void prov_result_free(prov_result *result) noexcept {
  delete result;
}

using Answer = prov::json::ServiceAnswer;

PROV_API const char *prov_result_operation_id(const prov_result *r) noexcept {
  return field(r, &Answer::operation_id);
}
PROV_API const char *prov_result_status(const prov_result *r) noexcept {
  return field(r, &Answer::status);
}
PROV_API const char *prov_result_registration_id(const prov_result *r) noexcept {
  return field(r, &Answer::registration_id);
}
PROV_API const char *prov_result_device_id(const prov_result *r) noexcept {
  return field(r, &Answer::device_id);
}
PROV_API const char *prov_result_assigned_hub(const prov_result *r) noexcept {
  return field(r, &Answer::assigned_hub);
}
PROV_API const char *prov_result_substatus(const prov_result *r) noexcept {
  return field(r, &Answer::substatus);
}
PROV_API const char *prov_result_created_date_time(const prov_result *r) noexcept {
  return field(r, &Answer::created_date_time);
}
PROV_API const char *prov_result_last_update_date_time(const prov_result *r) noexcept {
  return field(r, &Answer::last_update_date_time);
}
PROV_API const char *prov_result_etag(const prov_result *r) noexcept {
  return field(r, &Answer::etag);
}
PROV_API const char *prov_result_payload(const prov_result *r) noexcept {
  return field(r, &Answer::payload_json);
}
PROV_API const char *prov_result_registration_state_json(const prov_result *r) noexcept {
  return field(r, &Answer::registration_state_json);
}
PROV_API int32_t prov_result_error_code(const prov_result *r) noexcept {
  return r ? r->impl.answer().error_code : 0;
}
PROV_API int32_t prov_result_http_status(const prov_result *r) noexcept {
  return r ? r->impl.http_status() : 0;
}
PROV_API const char *prov_result_tracking_id(const prov_result *r) noexcept {
  return field(r, &Answer::tracking_id);
}
PROV_API const char *prov_result_error_message(const prov_result *r) noexcept {
  return field(r, &Answer::error_message);
}
PROV_API const char *prov_result_enrollment_group_id(const prov_result *r) noexcept {
  return field(r, &Answer::enrollment_group_id);
}
PROV_API const char *prov_result_x509_json(const prov_result *r) noexcept {
  return field(r, &Answer::x509_json);
}
PROV_API const char *prov_result_x509_certificate_info_json(const prov_result *r) noexcept {
  return field(r, &Answer::x509_certificate_info_json);
}
PROV_API const char *prov_result_issued_certificate_chain_pem(const prov_result *r) noexcept {
  if (r == nullptr || !r->impl.issued().chain_pem) return nullptr;
  return r->impl.issued().chain_pem->c_str();
}
PROV_API size_t prov_result_issued_certificate_count(const prov_result *r) noexcept {
  return r ? r->impl.issued().chain_der.size() : 0;
}
PROV_API const uint8_t *prov_result_issued_certificate_der(const prov_result *r, size_t index,
                                                           size_t *out_len) noexcept {
  if (out_len != nullptr) *out_len = 0;
  if (r == nullptr || out_len == nullptr || index >= r->impl.issued().chain_der.size()) {
    return nullptr;
  }
  const std::vector<uint8_t> &der = r->impl.issued().chain_der[index];
  *out_len = der.size();
  return der.data();
}
PROV_API const char *prov_result_generated_private_key_pem(const prov_result *r) noexcept {
  if (r == nullptr || !r->impl.issued().generated_key_pem) return nullptr;
  return r->impl.issued().generated_key_pem->str().c_str();
}
PROV_API const char *prov_result_trust_bundle_pem(const prov_result *r) noexcept {
  return field(r, &Answer::trust_bundle_pem);
}

}  // extern "C"
