#include "config.h"

#include <set>

#include "util.h"

namespace dpsemu {

using nlohmann::json;

namespace {

[[noreturn]] void fail(const std::string &where, const std::string &what) {
  throw ConfigError(where + ": " + what);
}

void check_known_keys(const json &object, const std::string &where,
                      const std::set<std::string> &known) {
  for (auto it = object.begin(); it != object.end(); ++it) {
    const std::string &key = it.key();
    if (known.count(key) == 0 && key.rfind("_", 0) != 0 && key != "description" &&
        key != "comment") {
      fail(where, "unknown key '" + key + "'");
    }
  }
}

const json &require_object(const json &value, const std::string &where) {
  if (!value.is_object()) fail(where, "must be a JSON object");
  return value;
}

std::string get_string(const json &object, const char *key, const std::string &where, bool required,
                       const std::string &fallback = {}) {
  auto it = object.find(key);
  if (it == object.end()) {
    if (required) fail(where, std::string("missing required key '") + key + "'");
    return fallback;
  }
  if (!it->is_string()) fail(where + "." + key, "must be a string");
  return it->get<std::string>();
}

bool get_bool(const json &object, const char *key, const std::string &where, bool fallback) {
  auto it = object.find(key);
  if (it == object.end()) return fallback;
  if (!it->is_boolean()) fail(where + "." + key, "must be true or false");
  return it->get<bool>();
}

std::optional<int> get_int(const json &object, const char *key, const std::string &where,
                           int min_value, int max_value) {
  auto it = object.find(key);
  if (it == object.end()) return std::nullopt;
  if (!it->is_number_integer()) fail(where + "." + key, "must be an integer");
  auto v = it->get<int64_t>();
  if (v < min_value || v > max_value) {
    fail(where + "." + key,
         "must be between " + std::to_string(min_value) + " and " + std::to_string(max_value));
  }
  return static_cast<int>(v);
}

std::vector<std::string> get_hubs(const json &object, const std::string &where, bool required) {
  auto it = object.find("iotHubs");
  if (it == object.end()) {
    if (required) fail(where, "missing required key 'iotHubs'");
    return {};
  }
  if (!it->is_array() || it->empty()) fail(where + ".iotHubs", "must be a non-empty array");
  std::vector<std::string> hubs;
  for (size_t i = 0; i < it->size(); ++i) {
    const json &hub = (*it)[i];
    if (!hub.is_string() || hub.get<std::string>().empty()) {
      fail(where + ".iotHubs[" + std::to_string(i) + "]", "must be a non-empty host name");
    }
    hubs.push_back(hub.get<std::string>());
  }
  return hubs;
}

std::string load_ca(const std::string &entry, const std::string &base_dir,
                    const std::string &where) {
  if (entry.find("-----BEGIN") != std::string::npos) return entry;
  std::string path = entry;
  if (!path.empty() && path[0] != '/' && !base_dir.empty()) path = base_dir + "/" + path;
  try {
    std::string pem = read_file(path);
    if (pem.find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
      fail(where, "file '" + path + "' holds no PEM certificate");
    }
    return pem;
  } catch (const ConfigError &) {
    throw;
  } catch (const std::exception &) {
    fail(where, "cannot read CA certificate file '" + path + "'");
  }
}

bool is_hex(const std::string &s) {
  for (char c : s) {
    if (!std::isxdigit(static_cast<unsigned char>(c)) && c != ':' && c != ' ') return false;
  }
  return !s.empty();
}

Attestation parse_attestation(const json &object, const std::string &where, bool is_group,
                              const std::string &base_dir) {
  require_object(object, where);
  std::string type = get_string(object, "type", where, true);
  Attestation a;
  if (type == "symmetricKey") {
    check_known_keys(object, where, {"type", "primaryKey", "secondaryKey"});
    a.kind = Attestation::Kind::kSymmetricKey;
    a.primary_key = get_string(object, "primaryKey", where, true);
    a.secondary_key = get_string(object, "secondaryKey", where, false);
    auto decoded = base64_decode(a.primary_key);
    if (!decoded || decoded->empty()) fail(where + ".primaryKey", "is not valid base64");
    if (!a.secondary_key.empty() && !base64_decode(a.secondary_key)) {
      fail(where + ".secondaryKey", "is not valid base64");
    }
  } else if (type == "x509") {
    check_known_keys(object, where, {"type", "thumbprint", "caCertificates"});
    bool has_thumbprint = object.contains("thumbprint");
    bool has_cas = object.contains("caCertificates");
    if (has_thumbprint == has_cas) {
      fail(where, "x509 attestation needs exactly one of 'thumbprint' or 'caCertificates'");
    }
    if (has_thumbprint) {
      if (is_group) fail(where, "a group enrollment's x509 attestation needs 'caCertificates'");
      a.kind = Attestation::Kind::kX509Thumbprint;
      a.thumbprint = get_string(object, "thumbprint", where, true);
      if (!is_hex(a.thumbprint)) fail(where + ".thumbprint", "must be hex (SHA-256 of the DER)");
    } else {
      a.kind = Attestation::Kind::kX509Ca;
      const json &cas = object["caCertificates"];
      if (!cas.is_array() || cas.empty()) {
        fail(where + ".caCertificates", "must be a non-empty array of paths or PEM");
      }
      for (size_t i = 0; i < cas.size(); ++i) {
        std::string at = where + ".caCertificates[" + std::to_string(i) + "]";
        if (!cas[i].is_string()) fail(at, "must be a string (path or PEM)");
        a.ca_pems.push_back(load_ca(cas[i].get<std::string>(), base_dir, at));
      }
    }
  } else {
    fail(where + ".type", "must be 'symmetricKey' or 'x509' (got '" + type + "')");
  }
  return a;
}

Enrollment parse_enrollment(const json &object, const std::string &where, bool is_group,
                            const std::string &base_dir) {
  require_object(object, where);
  std::set<std::string> known = {"attestation",       "enabled",           "iotHubs",
                                 "initialPayload",    "echoPayload",       "reprovisionPolicy",
                                 "assignmentDelayMs", "retryAfterSeconds", "faults"};
  known.insert(is_group ? "enrollmentGroupId" : "registrationId");
  if (!is_group) known.insert("deviceId");
  check_known_keys(object, where, known);

  Enrollment e;
  e.is_group = is_group;
  e.id = get_string(object, is_group ? "enrollmentGroupId" : "registrationId", where, true);
  if (is_group) {
    if (e.id.empty()) fail(where + ".enrollmentGroupId", "must not be empty");
  } else {
    std::string problem = registration_id_problem(e.id);
    if (!problem.empty()) fail(where + ".registrationId", problem);
    e.device_id = get_string(object, "deviceId", where, false);
  }
  if (!object.contains("attestation")) fail(where, "missing required key 'attestation'");
  e.attestation =
      parse_attestation(object["attestation"], where + ".attestation", is_group, base_dir);
  e.enabled = get_bool(object, "enabled", where, true);
  e.iot_hubs = get_hubs(object, where, false);
  if (object.contains("initialPayload")) e.initial_payload = object["initialPayload"];
  e.echo_payload = get_bool(object, "echoPayload", where, false);
  if (object.contains("reprovisionPolicy")) {
    std::string at = where + ".reprovisionPolicy";
    const json &policy = require_object(object["reprovisionPolicy"], at);
    check_known_keys(policy, at, {"updateHubAssignment", "migrateDeviceData"});
    e.reprovision.update_hub_assignment = get_bool(policy, "updateHubAssignment", at, true);
    e.reprovision.migrate_device_data = get_bool(policy, "migrateDeviceData", at, true);
  }
  e.assignment_delay_ms = get_int(object, "assignmentDelayMs", where, 0, 3600 * 1000);
  e.retry_after_seconds = get_int(object, "retryAfterSeconds", where, 1, 300);
  if (object.contains("faults")) e.faults = parse_faults(object["faults"], where + ".faults");
  return e;
}

}  // namespace

std::string FaultSpec::type_name() const {
  switch (type) {
    case Type::kThrottle:
      return "throttle";
    case Type::kError:
      return "error";
    case Type::kDrop:
      return "drop";
    case Type::kSilent:
      return "silent";
    case Type::kNoPuback:
      return "noPuback";
    case Type::kMalformed:
      return "malformed";
    case Type::kWrongRid:
      return "wrongRid";
    case Type::kAllocationFailed:
      return "allocationFailed";
  }
  return "?";
}

json FaultSpec::to_json() const {
  json j = {{"type", type_name()}};
  if (every) j["every"] = every;
  if (per_minute) j["perMinute"] = per_minute;
  if (type == Type::kThrottle || (type == Type::kError && retry_after_seconds > 0)) {
    j["retryAfterSeconds"] = retry_after_seconds;
  }
  if (type == Type::kError) j["status"] = status;
  if (type == Type::kDrop) j["after"] = drop_after;
  if (type == Type::kAllocationFailed) {
    j["errorCode"] = error_code;
    j["errorMessage"] = error_message;
  }
  if (count) j["count"] = *count;
  if (!registration_id.empty()) j["registrationId"] = registration_id;
  return j;
}

std::vector<FaultSpec> parse_faults(const json &array, const std::string &where) {
  if (!array.is_array()) fail(where, "must be an array of fault objects");
  std::vector<FaultSpec> faults;
  for (size_t i = 0; i < array.size(); ++i) {
    std::string at = where + "[" + std::to_string(i) + "]";
    const json &object = require_object(array[i], at);
    FaultSpec f;
    std::string type = get_string(object, "type", at, true);
    std::set<std::string> known = {"type", "count", "registrationId"};
    if (type == "throttle") {
      f.type = FaultSpec::Type::kThrottle;
      known.insert({"every", "perMinute", "retryAfterSeconds"});
      f.every = get_int(object, "every", at, 1, 1000000000).value_or(0);
      f.per_minute = get_int(object, "perMinute", at, 1, 1000000000).value_or(0);
      if ((f.every > 0) == (f.per_minute > 0)) {
        fail(at, "a throttle fault needs exactly one of 'every' or 'perMinute'");
      }
      f.retry_after_seconds = get_int(object, "retryAfterSeconds", at, 1, 300).value_or(1);
    } else if (type == "error") {
      f.type = FaultSpec::Type::kError;
      known.insert({"status", "every", "retryAfterSeconds"});
      f.status = get_int(object, "status", at, 100, 599).value_or(500);
      if (f.status != 500 && f.status != 503) fail(at + ".status", "must be 500 or 503");
      f.every = get_int(object, "every", at, 1, 1000000000).value_or(1);
      // Real 5xx answers often carry no retry-after; the client's own backoff applies then.
      f.retry_after_seconds = get_int(object, "retryAfterSeconds", at, 1, 300).value_or(0);
    } else if (type == "drop") {
      f.type = FaultSpec::Type::kDrop;
      known.insert("after");
      f.drop_after = get_string(object, "after", at, true);
      if (f.drop_after != "connect" && f.drop_after != "register") {
        fail(at + ".after", "must be 'connect' or 'register'");
      }
    } else if (type == "silent") {
      f.type = FaultSpec::Type::kSilent;
    } else if (type == "noPuback") {
      f.type = FaultSpec::Type::kNoPuback;
    } else if (type == "malformed") {
      f.type = FaultSpec::Type::kMalformed;
      known.insert("every");
      f.every = get_int(object, "every", at, 1, 1000000000).value_or(1);
    } else if (type == "wrongRid") {
      f.type = FaultSpec::Type::kWrongRid;
    } else if (type == "allocationFailed") {
      // The registration authenticates, then ends in the terminal status "failed" (200).
      f.type = FaultSpec::Type::kAllocationFailed;
      known.insert({"every", "errorCode", "errorMessage"});
      f.every = get_int(object, "every", at, 1, 1000000000).value_or(0);
      f.error_code = get_int(object, "errorCode", at, 100000, 999999).value_or(400207);
      if (object.contains("errorMessage")) {
        f.error_message = get_string(object, "errorMessage", at, true);
      }
    } else {
      fail(
          at + ".type",
          "unknown fault type '" + type +
              "' (throttle, error, drop, silent, noPuback, malformed, wrongRid, allocationFailed)");
    }
    check_known_keys(object, at, known);
    f.count = get_int(object, "count", at, 0, 1000000000);
    f.registration_id = get_string(object, "registrationId", at, false);
    faults.push_back(std::move(f));
  }
  return faults;
}

std::string registration_id_problem(const std::string &id) {
  if (id.empty()) return "registration id must not be empty";
  if (id.size() > 128) return "registration id is longer than 128 characters";
  for (char c : id) {
    bool ok =
        std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_' || c == ':';
    if (!ok) return "registration id contains an invalid character (allowed: A-Z a-z 0-9 - . _ :)";
  }
  auto edge_ok = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-'; };
  if (!std::isalnum(static_cast<unsigned char>(id.front()))) {
    return "registration id must start with a letter or digit";
  }
  if (!edge_ok(id.back())) return "registration id must end with a letter, digit or '-'";
  return {};
}

Config parse_config(const std::string &text, const std::string &base_dir) {
  json root;
  try {
    root = json::parse(text, nullptr, true, /*ignore_comments=*/true);
  } catch (const json::exception &e) {
    // parse_error for bad syntax, out_of_range for a number too large for a
    // double (e.g. 1e400): both are input the config does not accept.
    throw ConfigError(std::string("config is not valid JSON: ") + e.what());
  }
  const std::string where = "config";
  require_object(root, where);
  check_known_keys(root, where,
                   {"idScope", "iotHubs", "assignmentDelayMs", "retryAfterSeconds", "enrollments",
                    "enrollmentGroups", "faults"});
  Config c;
  c.id_scope = get_string(root, "idScope", where, true);
  if (c.id_scope.empty() || c.id_scope.find('/') != std::string::npos) {
    fail(where + ".idScope", "must be a non-empty id scope without '/'");
  }
  auto hubs = get_hubs(root, where, false);
  if (!hubs.empty()) c.iot_hubs = hubs;
  c.assignment_delay_ms = get_int(root, "assignmentDelayMs", where, 0, 3600 * 1000).value_or(0);
  c.retry_after_seconds = get_int(root, "retryAfterSeconds", where, 1, 300).value_or(1);

  std::set<std::string> seen_ids;
  if (root.contains("enrollments")) {
    const json &list = root["enrollments"];
    if (!list.is_array()) fail(where + ".enrollments", "must be an array");
    for (size_t i = 0; i < list.size(); ++i) {
      std::string at = "enrollments[" + std::to_string(i) + "]";
      Enrollment e = parse_enrollment(list[i], at, false, base_dir);
      if (!seen_ids.insert(to_lower(e.id)).second) {
        fail(at + ".registrationId", "duplicate registration id '" + e.id + "'");
      }
      c.enrollments.push_back(std::move(e));
    }
  }
  std::set<std::string> seen_groups;
  if (root.contains("enrollmentGroups")) {
    const json &list = root["enrollmentGroups"];
    if (!list.is_array()) fail(where + ".enrollmentGroups", "must be an array");
    for (size_t i = 0; i < list.size(); ++i) {
      std::string at = "enrollmentGroups[" + std::to_string(i) + "]";
      Enrollment e = parse_enrollment(list[i], at, true, base_dir);
      if (!seen_groups.insert(e.id).second) {
        fail(at + ".enrollmentGroupId", "duplicate enrollment group id '" + e.id + "'");
      }
      c.enrollment_groups.push_back(std::move(e));
    }
  }
  if (root.contains("faults")) c.faults = parse_faults(root["faults"], where + ".faults");
  return c;
}

Config load_config_file(const std::string &path) {
  std::string text;
  try {
    text = read_file(path);
  } catch (const std::exception &e) {
    throw ConfigError(e.what());
  }
  std::string base_dir = ".";
  auto slash = path.rfind('/');
  if (slash != std::string::npos) base_dir = path.substr(0, slash == 0 ? 1 : slash);
  try {
    return parse_config(text, base_dir);
  } catch (const ConfigError &e) {
    throw ConfigError(path + ": " + e.what());
  }
}

}  // namespace dpsemu
