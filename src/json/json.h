// DPS message codecs on cJSON: the register request body, and the parsing of
// response bodies (RegistrationOperationStatus and error details) into plain
// data. Every body from the network is treated as untrusted.
#ifndef PROV_JSON_JSON_H
#define PROV_JSON_JSON_H

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace prov::json {

// nullopt when text is one valid JSON value (and nothing after it), else
// where and why parsing stopped.
std::optional<std::string> parse_problem(const std::string &text);

// Certificate issuance fields of the register body (at most one is set):
// "csr" (Base64 DER, 2025-07-01-preview) or "clientCertificateCsr" (PEM,
// 2021-11-01-preview).
struct CsrFields {
  std::optional<std::string> csr_base64_der;
  std::optional<std::string> client_certificate_csr_pem;
};

// {"registrationId":"<id>"[,"payload":<payload_json>][,csr fields]};
// payload_json was validated when it was set.
std::string build_register_body(const std::string &registration_id,
                                const std::optional<std::string> &payload_json,
                                const CsrFields &csr = {});

// What the service said in one response body. Fields the service did not
// send stay empty.
struct ServiceAnswer {
  std::optional<std::string> operation_id;
  std::optional<std::string> status;  // top-level "status" of the operation
  std::optional<std::string> registration_id;
  std::optional<std::string> device_id;
  std::optional<std::string> assigned_hub;
  std::optional<std::string> substatus;
  std::optional<std::string> created_date_time;
  std::optional<std::string> last_update_date_time;
  std::optional<std::string> etag;
  std::optional<std::string> payload_json;             // registrationState.payload
  std::optional<std::string> registration_state_json;  // registrationState
  // Attestation details (registrationState.x509 / .symmetricKey).
  std::optional<std::string> enrollment_group_id;
  std::optional<std::string> x509_json;                   // registrationState.x509
  std::optional<std::string> x509_certificate_info_json;  // x509.certificateInfo
  // Certificate issuance: "issuedCertificateChain" (Base64 DER, leaf first),
  // or the 2021 preview's "issuedClientCertificate" (PEM) and "trustBundle".
  std::vector<std::string> issued_certificate_chain_base64;
  std::optional<std::string> issued_client_certificate_pem;
  std::optional<std::string> trust_bundle_pem;  // trustBundle.certificates[].certificate joined
  int32_t error_code = 0;
  std::optional<std::string> tracking_id;
  std::optional<std::string> error_message;
};

// Parses a RegistrationOperationStatus or an error body (either shape, as
// the service sends error details in both). Throws prov::core::Error
// (PROV_E_PROTOCOL) when the body is not a JSON object.
ServiceAnswer parse_service_answer(const std::string &body);

}  // namespace prov::json

#endif  // PROV_JSON_JSON_H
