// Registration records in SQLite (DATA_DIR/registrations.sqlite3). WAL with synchronous=FULL: a
// record is on disk before the device is told "assigned", so even kill -9 loses no completed
// registration.
#pragma once

#include <sqlite3.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace dpsemu {

struct RegistrationRecord {
  std::string registration_id;      // as the device first sent it
  std::string enrollment_group_id;  // empty for an individual enrollment
  std::string attestation;          // "symmetricKey" or "x509"
  std::string device_id, assigned_hub, status, substatus;
  // status "failed": what the allocation answered (errorCode 0 otherwise).
  int64_t error_code = 0;
  std::string error_message;
  std::string created_utc, last_updated_utc, etag;
  std::optional<nlohmann::json> payload;  // what was returned in registrationState.payload
  int64_t registration_count = 0;

  nlohmann::json to_json() const;
};

class Store {
 public:
  // Opens (creating if needed) the database. Throws std::runtime_error naming the path.
  explicit Store(const std::string &path, bool read_only = false);
  ~Store();
  Store(const Store &) = delete;
  Store &operator=(const Store &) = delete;

  // Lookup by registration id, case-insensitively.
  std::optional<RegistrationRecord> find(const std::string &registration_id);
  // Inserts or replaces; returns only once the row is durable. Throws std::runtime_error.
  void put(const RegistrationRecord &record);
  std::vector<RegistrationRecord> list();

 private:
  RegistrationRecord read_row(sqlite3_stmt *stmt);
  void exec(const char *sql);
  bool has_column(const char *name);
  sqlite3 *db_ = nullptr;
  std::string path_;
};

}  // namespace dpsemu
