#include "json/json.h"

#include <cjson/cJSON.h>

#include <cmath>
#include <cstdlib>
#include <memory>

#include "core/error.h"

namespace prov::json {

namespace {

struct CJsonDeleter {
  void operator()(cJSON *item) const { cJSON_Delete(item); }
};
using JsonPtr = std::unique_ptr<cJSON, CJsonDeleter>;

struct CStringDeleter {
  void operator()(char *text) const { cJSON_free(text); }
};
using JsonText = std::unique_ptr<char, CStringDeleter>;

// Parses the whole text; sets *stop to where cJSON stopped on failure.
// The length passed to cJSON includes the terminating NUL, which it
// requires to be inside the buffer when asked to reject trailing text.
JsonPtr parse(const std::string &text, size_t *stop) {
  const char *end = nullptr;
  JsonPtr root(cJSON_ParseWithLengthOpts(text.c_str(), text.size() + 1, &end, 1));
  if (!root && stop != nullptr) *stop = end ? static_cast<size_t>(end - text.c_str()) : 0;
  return root;
}

std::string print(const cJSON *item) {
  JsonText text(cJSON_PrintUnformatted(item));
  if (!text) throw std::bad_alloc();
  return std::string(text.get());
}

std::optional<std::string> string_field(const cJSON *object, const char *name) {
  const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, name);
  if (cJSON_IsString(item) && item->valuestring != nullptr) return std::string(item->valuestring);
  return std::nullopt;
}

// Error codes are 6-digit integers; accept a number or a numeric string.
int32_t error_code_field(const cJSON *object, const char *name) {
  const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, name);
  if (cJSON_IsNumber(item)) {
    double value = item->valuedouble;
    if (std::isfinite(value) && value >= 0 && value <= 2147483647.0) {
      return static_cast<int32_t>(value);
    }
  } else if (cJSON_IsString(item) && item->valuestring != nullptr) {
    char *end = nullptr;
    long value = std::strtol(item->valuestring, &end, 10);
    if (end != item->valuestring && *end == '\0' && value >= 0 && value <= 2147483647L) {
      return static_cast<int32_t>(value);
    }
  }
  return 0;
}

// The X.509/symmetric-key details and any certificates the service issued.
// Entries of the wrong JSON type are skipped: the caller sees them missing.
void parse_attestation_and_issuance(const cJSON *state, ServiceAnswer &answer) {
  const cJSON *x509 = cJSON_GetObjectItemCaseSensitive(state, "x509");
  if (cJSON_IsObject(x509)) {
    answer.x509_json = print(x509);
    answer.enrollment_group_id = string_field(x509, "enrollmentGroupId");
    const cJSON *info = cJSON_GetObjectItemCaseSensitive(x509, "certificateInfo");
    if (cJSON_IsObject(info)) answer.x509_certificate_info_json = print(info);
  }
  const cJSON *symmetric_key = cJSON_GetObjectItemCaseSensitive(state, "symmetricKey");
  if (cJSON_IsObject(symmetric_key) && !answer.enrollment_group_id) {
    answer.enrollment_group_id = string_field(symmetric_key, "enrollmentGroupId");
  }
  const cJSON *chain = cJSON_GetObjectItemCaseSensitive(state, "issuedCertificateChain");
  if (cJSON_IsArray(chain)) {
    const cJSON *entry = nullptr;
    cJSON_ArrayForEach(entry, chain) {
      if (cJSON_IsString(entry) && entry->valuestring != nullptr) {
        answer.issued_certificate_chain_base64.emplace_back(entry->valuestring);
      }
    }
  }
  answer.issued_client_certificate_pem = string_field(state, "issuedClientCertificate");
  const cJSON *bundle = cJSON_GetObjectItemCaseSensitive(state, "trustBundle");
  const cJSON *certificates =
      cJSON_IsObject(bundle) ? cJSON_GetObjectItemCaseSensitive(bundle, "certificates") : nullptr;
  if (cJSON_IsArray(certificates)) {
    std::string pem;
    const cJSON *entry = nullptr;
    cJSON_ArrayForEach(entry, certificates) {
      if (auto text = cJSON_IsObject(entry) ? string_field(entry, "certificate") : std::nullopt) {
        pem += *text;
        if (!pem.empty() && pem.back() != '\n') pem += '\n';
      }
    }
    if (!pem.empty()) answer.trust_bundle_pem = std::move(pem);
  }
}

}  // namespace

std::optional<std::string> parse_problem(const std::string &text) {
  size_t stop = 0;
  JsonPtr root = parse(text, &stop);
  if (root) return std::nullopt;
  if (stop >= text.size()) {
    return "unexpected end of text (" + std::to_string(text.size()) + " characters)";
  }
  return "parse error at character " + std::to_string(stop + 1) + " of " +
         std::to_string(text.size());
}

std::string build_register_body(const std::string &registration_id,
                                const std::optional<std::string> &payload_json,
                                const CsrFields &csr) {
  JsonPtr body(cJSON_CreateObject());
  if (!body || !cJSON_AddStringToObject(body.get(), "registrationId", registration_id.c_str())) {
    throw std::bad_alloc();
  }
  if (payload_json) {
    JsonPtr payload = parse(*payload_json, nullptr);
    if (!payload) {
      throw core::Error(PROV_E_INVALID_ARG, "the provisioning payload is not valid JSON");
    }
    cJSON_AddItemToObject(body.get(), "payload", payload.release());
  }
  if (csr.csr_base64_der &&
      !cJSON_AddStringToObject(body.get(), "csr", csr.csr_base64_der->c_str())) {
    throw std::bad_alloc();
  }
  if (csr.client_certificate_csr_pem &&
      !cJSON_AddStringToObject(body.get(), "clientCertificateCsr",
                               csr.client_certificate_csr_pem->c_str())) {
    throw std::bad_alloc();
  }
  return print(body.get());
}

ServiceAnswer parse_service_answer(const std::string &body) {
  size_t stop = 0;
  JsonPtr root = parse(body, &stop);
  if (!root) {
    if (body.empty()) throw core::Error(PROV_E_PROTOCOL, "the response body is empty");
    throw core::Error(PROV_E_PROTOCOL, "the response body is not valid JSON (" +
                                           parse_problem(body).value_or("parse error") + ")");
  }
  if (!cJSON_IsObject(root.get())) {
    throw core::Error(PROV_E_PROTOCOL, "the response body is JSON but not an object");
  }
  ServiceAnswer answer;
  const cJSON *top = root.get();
  answer.operation_id = string_field(top, "operationId");
  answer.status = string_field(top, "status");
  answer.error_code = error_code_field(top, "errorCode");
  answer.tracking_id = string_field(top, "trackingId");
  answer.error_message = string_field(top, "message");
  if (!answer.error_message) answer.error_message = string_field(top, "errorMessage");

  const cJSON *state = cJSON_GetObjectItemCaseSensitive(top, "registrationState");
  if (cJSON_IsObject(state)) {
    answer.registration_state_json = print(state);
    answer.registration_id = string_field(state, "registrationId");
    answer.device_id = string_field(state, "deviceId");
    answer.assigned_hub = string_field(state, "assignedHub");
    answer.substatus = string_field(state, "substatus");
    answer.created_date_time = string_field(state, "createdDateTimeUtc");
    answer.last_update_date_time = string_field(state, "lastUpdatedDateTimeUtc");
    answer.etag = string_field(state, "etag");
    const cJSON *payload = cJSON_GetObjectItemCaseSensitive(state, "payload");
    if (payload != nullptr && !cJSON_IsNull(payload)) answer.payload_json = print(payload);
    parse_attestation_and_issuance(state, answer);
    if (!answer.status) answer.status = string_field(state, "status");
    if (answer.error_code == 0) answer.error_code = error_code_field(state, "errorCode");
    if (!answer.error_message) answer.error_message = string_field(state, "errorMessage");
  }
  return answer;
}

}  // namespace prov::json
