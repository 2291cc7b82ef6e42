// DPS message codecs on cJSON: the register request body, and the parsing of
// response bodies (RegistrationOperationStatus and error details) into plain
// data. Every body from the network is treated as untrusted.
#ifndef PROV_JSON_JSON_H
#define PROV_JSON_JSON_H

#include <cstdint>
#include <optional>
#include <string>

namespace prov::json {

// nullopt when text is one valid JSON value (and nothing after it), else
// where and why parsing stopped.
std::optional<std::string> parse_problem(const std::string &text);

// {"registrationId":"<id>"[,"payload":<payload_json>]}; payload_json was
// validated when it was set.
std::string build_register_body(const std::string &registration_id,
                                const std::optional<std::string> &payload_json);

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
