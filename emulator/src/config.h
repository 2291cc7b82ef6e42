// The emulator's configuration: id scope, IoT hubs, enrollments and faults, read from a JSON file
// (with // comments). Every problem is reported as ConfigError naming the offending field.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace dpsemu {

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct FaultSpec {
  enum class Type {
    kThrottle,
    kError,
    kDrop,
    kSilent,
    kNoPuback,
    kMalformed,
    kWrongRid,
    kAllocationFailed
  };
  Type type = Type::kThrottle;
  int every = 0;                // throttle/error/malformed: every Nth matching request (0 = unset)
  int per_minute = 0;           // throttle: quota per sliding minute (0 = unset)
  int retry_after_seconds = 1;  // throttle (default 1); error: 0 = no retry-after (the default)
  int status = 500;             // error: 500 or 503
  std::string drop_after;       // drop: "connect" or "register"
  int error_code = 400207;      // allocationFailed: registrationState.errorCode
  std::string error_message = "Custom allocation failed with status code: 400";  // allocationFailed
  std::optional<int> count;     // apply only the first K times
  std::string registration_id;  // apply only to this registration id (empty = all)

  std::string type_name() const;
  nlohmann::json to_json() const;
};

struct Attestation {
  enum class Kind { kSymmetricKey, kX509Thumbprint, kX509Ca };
  Kind kind = Kind::kSymmetricKey;
  std::string primary_key, secondary_key;  // base64 (symmetric key)
  std::string thumbprint;                  // hex (x509 individual)
  std::vector<std::string> ca_pems;        // PEM text (x509 CA), paths already loaded
};

struct ReprovisionPolicy {
  bool update_hub_assignment = true;
  bool migrate_device_data = true;
};

struct Enrollment {
  bool is_group = false;
  std::string id;  // registrationId (individual) or enrollmentGroupId (group)
  Attestation attestation;
  std::string device_id;  // individual only; empty = registration id
  bool enabled = true;
  std::vector<std::string> iot_hubs;  // empty = the global list
  std::optional<nlohmann::json> initial_payload;
  bool echo_payload = false;
  ReprovisionPolicy reprovision;
  std::optional<int> assignment_delay_ms;
  std::optional<int> retry_after_seconds;
  std::vector<FaultSpec> faults;
};

struct Config {
  std::string id_scope = "0ne00000A0A";
  std::vector<std::string> iot_hubs = {"emulated-hub.azure-devices.net"};
  int assignment_delay_ms = 0;
  int retry_after_seconds = 1;
  std::vector<Enrollment> enrollments;
  std::vector<Enrollment> enrollment_groups;
  std::vector<FaultSpec> faults;
};

// Parses config text; `base_dir` resolves relative certificate paths. Throws ConfigError.
Config parse_config(const std::string &text, const std::string &base_dir);
// Reads and parses a config file. Throws ConfigError.
Config load_config_file(const std::string &path);
// Parses a JSON array of fault objects; `where` prefixes error messages. Throws ConfigError.
std::vector<FaultSpec> parse_faults(const nlohmann::json &array, const std::string &where);

// Registration ids: alphanumerics and - . _ :, up to 128 characters, no special character first
// or last. Returns an empty string when valid, else the reason.
std::string registration_id_problem(const std::string &registration_id);

}  // namespace dpsemu
