#include "output.h"

#include <cjson/cJSON.h>
#include <prov/prov.h>

#include <memory>

namespace prov_cli {
namespace {

struct JsonDeleter {
  void operator()(cJSON *item) const { cJSON_Delete(item); }
};
using JsonPtr = std::unique_ptr<cJSON, JsonDeleter>;

std::string print_compact(const cJSON *object) {
  char *text = cJSON_PrintUnformatted(object);
  if (text == nullptr) throw std::bad_alloc();
  std::string printed(text);
  cJSON_free(text);
  return printed;
}

void add_string_or_null(cJSON *object, const char *name, const std::optional<std::string> &value) {
  if (value) {
    cJSON_AddStringToObject(object, name, value->c_str());
  } else {
    cJSON_AddNullToObject(object, name);
  }
}

// JSON text from the service is embedded as JSON; if it somehow does not
// parse, it is kept as a string rather than producing an invalid line.
void add_json_or_null(cJSON *object, const char *name, const std::optional<std::string> &json) {
  if (!json) {
    cJSON_AddNullToObject(object, name);
    return;
  }
  cJSON *parsed = cJSON_Parse(json->c_str());
  if (parsed != nullptr) {
    cJSON_AddItemToObject(object, name, parsed);
  } else {
    cJSON_AddStringToObject(object, name, json->c_str());
  }
}

void add_int_or_null(cJSON *object, const char *name, int32_t value) {
  if (value != 0) {
    cJSON_AddNumberToObject(object, name, value);
  } else {
    cJSON_AddNullToObject(object, name);
  }
}

// Registration ids are ASCII by definition, but the one echoed back comes
// from user input; anything outside printable ASCII is shown as '?' so that
// every output line stays valid UTF-8 JSON.
std::string printable_id(const std::string &id) {
  std::string shown = id;
  for (char &character : shown) {
    unsigned char code = static_cast<unsigned char>(character);
    if (code < 0x20 || code >= 0x7f) character = '?';
  }
  return shown;
}

}  // namespace

std::string outcome_to_json(const Outcome &outcome,
                            const std::optional<BatchLineInfo> &batch_info) {
  JsonPtr object(cJSON_CreateObject());
  if (!object) throw std::bad_alloc();
  cJSON *root = object.get();
  if (batch_info)
    cJSON_AddNumberToObject(root, "line", static_cast<double>(batch_info->line_number));
  cJSON_AddStringToObject(root, "registrationId", printable_id(outcome.registration_id).c_str());

  const ResultFields empty_fields;
  const ResultFields &fields = outcome.result ? *outcome.result : empty_fields;
  std::string status =
      fields.status ? *fields.status : (outcome.status == PROV_OK ? "assigned" : "error");
  cJSON_AddStringToObject(root, "status", status.c_str());
  add_string_or_null(root, "deviceId", fields.device_id);
  add_string_or_null(root, "assignedHub", fields.assigned_hub);
  add_string_or_null(root, "substatus", fields.substatus);
  add_string_or_null(root, "operationId", fields.operation_id);
  add_string_or_null(root, "createdDateTimeUtc", fields.created_date_time);
  add_string_or_null(root, "lastUpdatedDateTimeUtc", fields.last_update_date_time);
  add_string_or_null(root, "etag", fields.etag);
  add_json_or_null(root, "payload", fields.payload);
  add_string_or_null(root, "enrollmentGroupId", fields.enrollment_group_id);
  add_json_or_null(root, "x509CertificateInfo", fields.x509_certificate_info);
  add_string_or_null(root, "issuedCertificateChain", fields.issued_certificate_chain);
  add_string_or_null(root, "trustBundle", fields.trust_bundle);
  add_json_or_null(root, "registrationState", fields.registration_state);
  if (batch_info && batch_info->with_latency) {
    // Whole milliseconds with three decimals are plenty for a latency.
    cJSON_AddNumberToObject(
        root, "latencyMs",
        static_cast<double>(static_cast<long long>(outcome.latency_ms * 1000.0)) / 1000.0);
  }

  if (outcome.issued_files) {
    cJSON *files = cJSON_AddObjectToObject(root, "issuedFiles");
    add_string_or_null(files, "certificate", outcome.issued_files->certificate);
    add_string_or_null(files, "privateKey", outcome.issued_files->private_key);
    if (!outcome.issued_files->error.empty()) {
      cJSON_AddStringToObject(files, "error", outcome.issued_files->error.c_str());
    }
  }

  if (outcome.status != PROV_OK) {
    cJSON *error = cJSON_AddObjectToObject(root, "error");
    cJSON_AddStringToObject(error, "status", prov_status_str(outcome.status));
    cJSON_AddStringToObject(error, "message", outcome.message.c_str());
    cJSON_AddStringToObject(error, "step", outcome.step.c_str());
    add_int_or_null(error, "errorCode", fields.error_code);
    add_int_or_null(error, "httpStatus", fields.http_status);
    add_string_or_null(error, "trackingId", fields.tracking_id);
    add_string_or_null(error, "serviceMessage", fields.error_message);
  }
  return print_compact(root);
}

std::string input_error_to_json(long line_number, const std::string &registration_id,
                                const std::string &message) {
  JsonPtr object(cJSON_CreateObject());
  if (!object) throw std::bad_alloc();
  cJSON *root = object.get();
  cJSON_AddNumberToObject(root, "line", static_cast<double>(line_number));
  if (registration_id.empty()) {
    cJSON_AddNullToObject(root, "registrationId");
  } else {
    cJSON_AddStringToObject(root, "registrationId", printable_id(registration_id).c_str());
  }
  cJSON_AddStringToObject(root, "status", "error");
  cJSON *error = cJSON_AddObjectToObject(root, "error");
  cJSON_AddStringToObject(error, "status", prov_status_str(PROV_E_INVALID_ARG));
  cJSON_AddStringToObject(error, "message", message.c_str());
  cJSON_AddStringToObject(error, "step", "input");
  return print_compact(root);
}

std::string outcome_to_human(const Outcome &outcome) {
  const ResultFields empty_fields;
  const ResultFields &fields = outcome.result ? *outcome.result : empty_fields;
  auto or_unknown = [](const std::optional<std::string> &value) {
    return value ? *value : std::string("(none)");
  };
  std::string text = (fields.status ? *fields.status : std::string("assigned")) + ": device " +
                     or_unknown(fields.device_id) + " on hub " + or_unknown(fields.assigned_hub) +
                     " (substatus " + or_unknown(fields.substatus) + ", operation " +
                     or_unknown(fields.operation_id) + ")\n";
  if (fields.payload) text += "payload: " + *fields.payload + "\n";
  if (outcome.issued_files) {
    const IssuedFiles &files = *outcome.issued_files;
    if (files.certificate)
      text += "issued certificate chain written to " + *files.certificate + "\n";
    if (files.private_key) text += "its private key written to " + *files.private_key + "\n";
  }
  return text;
}

std::string outcome_error_to_human(const Outcome &outcome) {
  std::string text = "prov: registration of '" + printable_id(outcome.registration_id) + "' failed";
  if (!outcome.step.empty()) text += " at " + outcome.step;
  text += ": " + std::string(prov_status_str(outcome.status)) + ": " + outcome.message + "\n";
  if (outcome.result) {
    const ResultFields &fields = *outcome.result;
    std::string details;
    auto append = [&details](const std::string &part) {
      details += details.empty() ? part : ", " + part;
    };
    if (fields.status) append("status " + *fields.status);
    if (fields.error_code != 0) append("errorCode " + std::to_string(fields.error_code));
    if (fields.http_status != 0) append("httpStatus " + std::to_string(fields.http_status));
    if (fields.tracking_id) append("trackingId " + *fields.tracking_id);
    if (fields.error_message) append("message \"" + *fields.error_message + "\"");
    if (!details.empty()) text += "  service: " + details + "\n";
  }
  return text;
}

}  // namespace prov_cli
