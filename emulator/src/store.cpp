#include "store.h"

#include <stdexcept>

#include "util.h"

namespace dpsemu {

namespace {

// Finalizes a prepared statement on every path out of a function.
class Statement {
 public:
  Statement(sqlite3 *db, const char *sql) {
    if (sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) != SQLITE_OK) {
      throw std::runtime_error(std::string("sqlite prepare failed: ") + sqlite3_errmsg(db));
    }
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement &) = delete;
  Statement &operator=(const Statement &) = delete;
  sqlite3_stmt *get() const { return stmt_; }
  void bind(int index, const std::string &text) {
    sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  }
  void bind(int index, int64_t value) { sqlite3_bind_int64(stmt_, index, value); }

 private:
  sqlite3_stmt *stmt_ = nullptr;
};

std::string column_text(sqlite3_stmt *stmt, int column) {
  const unsigned char *text = sqlite3_column_text(stmt, column);
  return text ? reinterpret_cast<const char *>(text) : "";
}

}  // namespace

nlohmann::json RegistrationRecord::to_json() const {
  nlohmann::json j = {{"registrationId", registration_id},
                      {"attestation", attestation},
                      {"deviceId", device_id},
                      {"assignedHub", assigned_hub},
                      {"status", status},
                      {"substatus", substatus},
                      {"createdDateTimeUtc", created_utc},
                      {"lastUpdatedDateTimeUtc", last_updated_utc},
                      {"etag", etag},
                      {"registrationCount", registration_count}};
  if (!enrollment_group_id.empty()) j["enrollmentGroupId"] = enrollment_group_id;
  if (payload) j["payload"] = *payload;
  if (status == "failed") {
    j["errorCode"] = error_code;
    j["errorMessage"] = error_message;
  }
  return j;
}

Store::Store(const std::string &path, bool read_only) : path_(path) {
  int flags = read_only ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  if (sqlite3_open_v2(path.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
    std::string message = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    throw std::runtime_error("cannot open registration store '" + path + "': " + message);
  }
  sqlite3_busy_timeout(db_, 5000);
  if (!read_only) {
    exec("PRAGMA journal_mode=WAL");
    exec("PRAGMA synchronous=FULL");
    exec(
        "CREATE TABLE IF NOT EXISTS registrations ("
        " id_key TEXT PRIMARY KEY,"
        " registration_id TEXT NOT NULL,"
        " enrollment_group_id TEXT NOT NULL,"
        " attestation TEXT NOT NULL,"
        " device_id TEXT NOT NULL,"
        " assigned_hub TEXT NOT NULL,"
        " status TEXT NOT NULL,"
        " substatus TEXT NOT NULL,"
        " created_utc TEXT NOT NULL,"
        " last_updated_utc TEXT NOT NULL,"
        " etag TEXT NOT NULL,"
        " payload TEXT,"
        " registration_count INTEGER NOT NULL)");
  }
  // Stores made before failed registrations were kept lack the error columns.
  if (!has_column("error_code")) {
    if (read_only) {
      throw std::runtime_error("registration store '" + path +
                               "' is from an older dps-emulator; open it once for writing "
                               "(serve or list) to upgrade it");
    }
    exec("ALTER TABLE registrations ADD COLUMN error_code INTEGER NOT NULL DEFAULT 0");
    exec("ALTER TABLE registrations ADD COLUMN error_message TEXT NOT NULL DEFAULT ''");
  }
}

bool Store::has_column(const char *name) {
  Statement stmt(db_, "SELECT name FROM pragma_table_info('registrations')");
  while (sqlite3_step(stmt.get()) == SQLITE_ROW) {
    if (column_text(stmt.get(), 0) == name) return true;
  }
  return false;
}

Store::~Store() {
  sqlite3_close(db_);
}

void Store::exec(const char *sql) {
  char *error = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &error) != SQLITE_OK) {
    std::string message = error ? error : "unknown error";
    sqlite3_free(error);
    throw std::runtime_error("registration store '" + path_ + "': " + message);
  }
}

RegistrationRecord Store::read_row(sqlite3_stmt *stmt) {
  RegistrationRecord r;
  r.registration_id = column_text(stmt, 0);
  r.enrollment_group_id = column_text(stmt, 1);
  r.attestation = column_text(stmt, 2);
  r.device_id = column_text(stmt, 3);
  r.assigned_hub = column_text(stmt, 4);
  r.status = column_text(stmt, 5);
  r.substatus = column_text(stmt, 6);
  r.created_utc = column_text(stmt, 7);
  r.last_updated_utc = column_text(stmt, 8);
  r.etag = column_text(stmt, 9);
  if (sqlite3_column_type(stmt, 10) != SQLITE_NULL) {
    r.payload = nlohmann::json::parse(column_text(stmt, 10), nullptr, false);
    if (r.payload->is_discarded()) r.payload.reset();
  }
  r.registration_count = sqlite3_column_int64(stmt, 11);
  r.error_code = sqlite3_column_int64(stmt, 12);
  r.error_message = column_text(stmt, 13);
  return r;
}

namespace {
constexpr const char *kColumns =
    "registration_id, enrollment_group_id, attestation, device_id, assigned_hub, status, "
    "substatus, created_utc, last_updated_utc, etag, payload, registration_count, error_code, "
    "error_message";
}  // namespace

std::optional<RegistrationRecord> Store::find(const std::string &registration_id) {
  std::string sql = std::string("SELECT ") + kColumns + " FROM registrations WHERE id_key = ?";
  Statement stmt(db_, sql.c_str());
  stmt.bind(1, to_lower(registration_id));
  int rc = sqlite3_step(stmt.get());
  if (rc == SQLITE_ROW) return read_row(stmt.get());
  if (rc != SQLITE_DONE) {
    throw std::runtime_error(std::string("registration store read failed: ") + sqlite3_errmsg(db_));
  }
  return std::nullopt;
}

void Store::put(const RegistrationRecord &r) {
  std::string sql = std::string("INSERT OR REPLACE INTO registrations (id_key, ") + kColumns +
                    ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
  Statement stmt(db_, sql.c_str());
  stmt.bind(1, to_lower(r.registration_id));
  stmt.bind(2, r.registration_id);
  stmt.bind(3, r.enrollment_group_id);
  stmt.bind(4, r.attestation);
  stmt.bind(5, r.device_id);
  stmt.bind(6, r.assigned_hub);
  stmt.bind(7, r.status);
  stmt.bind(8, r.substatus);
  stmt.bind(9, r.created_utc);
  stmt.bind(10, r.last_updated_utc);
  stmt.bind(11, r.etag);
  if (r.payload) {
    stmt.bind(12, r.payload->dump());
  } else {
    sqlite3_bind_null(stmt.get(), 12);
  }
  stmt.bind(13, r.registration_count);
  stmt.bind(14, r.error_code);
  stmt.bind(15, r.error_message);
  if (sqlite3_step(stmt.get()) != SQLITE_DONE) {
    throw std::runtime_error(std::string("registration store write failed: ") +
                             sqlite3_errmsg(db_));
  }
}

std::vector<RegistrationRecord> Store::list() {
  std::string sql =
      std::string("SELECT ") + kColumns + " FROM registrations ORDER BY registration_id";
  Statement stmt(db_, sql.c_str());
  std::vector<RegistrationRecord> out;
  int rc;
  while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) out.push_back(read_row(stmt.get()));
  if (rc != SQLITE_DONE) {
    throw std::runtime_error(std::string("registration store read failed: ") + sqlite3_errmsg(db_));
  }
  return out;
}

}  // namespace dpsemu
