// Parsing of the DPS MQTT strings: the CONNECT username and the request topics. Pure functions.
#pragma once

#include <optional>
#include <string>

namespace dpsemu {

// What the MQTT username "{idScope}/registrations/{registrationId}/api-version=...[&...]" holds.
struct MqttUsername {
  std::string id_scope, registration_id, api_version;
};
// nullopt when the username does not have that shape.
std::optional<MqttUsername> parse_mqtt_username(const std::string &username);

// A DPS request topic split into its parts.
struct DpsTopic {
  enum class Kind { kRegister, kOperationStatus };
  Kind kind = Kind::kRegister;
  std::string rid;           // verbatim, as the client wrote it
  std::string operation_id;  // percent-decoded
};
// nullopt for any topic DPS does not serve (or a request topic without $rid).
std::optional<DpsTopic> parse_dps_topic(const std::string &topic);

}  // namespace dpsemu
