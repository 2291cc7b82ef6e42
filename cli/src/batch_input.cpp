#include "batch_input.h"

#include <cjson/cJSON.h>

#include <cctype>
#include <memory>

#include "credentials.h"
#include "errors.h"

namespace prov_cli {
namespace {

std::string trim(const std::string &text) {
  size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return "";
  size_t last = text.find_last_not_of(" \t\r\n");
  return text.substr(first, last - first + 1);
}

std::vector<std::string> split_lines(const std::string &text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(std::move(line));
    start = end + 1;
  }
  return lines;
}

bool is_skipped(const std::string &line) {
  std::string content = trim(line);
  return content.empty() || content[0] == '#';
}

// Splits one CSV record. Fields may be double-quoted ("" is a quote inside
// quotes). Returns false for an unterminated quote.
bool split_csv(const std::string &line, std::vector<std::string> &fields) {
  fields.clear();
  std::string field;
  bool quoted = false;
  bool was_quoted = false;
  for (size_t index = 0; index < line.size(); ++index) {
    char character = line[index];
    if (quoted) {
      if (character == '"') {
        if (index + 1 < line.size() && line[index + 1] == '"') {
          field += '"';
          ++index;
        } else {
          quoted = false;
        }
      } else {
        field += character;
      }
    } else if (character == '"' && trim(field).empty()) {
      quoted = true;
      was_quoted = true;
      field.clear();
    } else if (character == ',') {
      fields.push_back(was_quoted ? field : trim(field));
      field.clear();
      was_quoted = false;
    } else {
      field += character;
    }
  }
  if (quoted) return false;
  fields.push_back(was_quoted ? field : trim(field));
  return true;
}

// The credential fields of one input line (empty = absent), with the names
// they have in this input format (for messages).
struct RawCredential {
  std::string device_key, group_key, cert_file, cert_key_file, pass_phrase;
  ~RawCredential() {
    wipe_string(device_key);
    wipe_string(group_key);
    wipe_string(pass_phrase);
  }
};

struct FieldNames {
  const char *device_key, *group_key, *cert_file, *cert_key_file, *pass_phrase;
};

const FieldNames kCsvNames{"key", "group_key", "cert_file", "cert_key_file", "pass_phrase"};
const FieldNames kJsonNames{"\"key\"", "\"groupKey\"", "\"certFile\"", "\"certKeyFile\"",
                            "\"passPhrase\""};

// Fills entry.credential from exactly one of: a device key, a group key, or
// a certificate file plus its key file; otherwise sets entry.input_error.
void set_credential(BatchEntry &entry, const RawCredential &raw, const FieldNames &names) {
  bool has_x509 = !raw.cert_file.empty() || !raw.cert_key_file.empty();
  int kinds =
      (raw.device_key.empty() ? 0 : 1) + (raw.group_key.empty() ? 0 : 1) + (has_x509 ? 1 : 0);
  if (kinds > 1) {
    entry.input_error = std::string("more than one credential: give one of ") + names.device_key +
                        ", " + names.group_key + " or " + names.cert_file + " with " +
                        names.cert_key_file;
    return;
  }
  if (kinds == 0) {
    entry.input_error = std::string("no key: set ") + names.device_key + ", " + names.group_key +
                        " or " + names.cert_file + " with " + names.cert_key_file;
    return;
  }
  if (!raw.pass_phrase.empty() && !has_x509) {
    entry.input_error = std::string(names.pass_phrase) + " is only for " + names.cert_key_file;
    return;
  }
  Credential credential;
  if (has_x509) {
    if (raw.cert_file.empty() || raw.cert_key_file.empty()) {
      entry.input_error =
          std::string("X.509 needs both ") + names.cert_file + " and " + names.cert_key_file;
      return;
    }
    credential.kind = KeyKind::kX509;
    credential.cert_file = raw.cert_file;
    credential.cert_key_file = raw.cert_key_file;
    credential.pass_phrase = SecretString(raw.pass_phrase);
  } else if (!raw.device_key.empty()) {
    credential.kind = KeyKind::kDevice;
    credential.key = SecretString(raw.device_key);
  } else {
    credential.kind = KeyKind::kGroup;
    credential.key = SecretString(raw.group_key);
  }
  entry.credential = std::move(credential);
}

struct CsvColumns {
  int registration_id = -1;
  int key = -1;
  int group_key = -1;
  int cert_file = -1;
  int cert_key_file = -1;
  int pass_phrase = -1;
  size_t count = 0;
};

CsvColumns parse_csv_header(const std::string &line, long line_number,
                            const std::string &source_name) {
  std::vector<std::string> names;
  if (!split_csv(line, names)) {
    throw UsageError(source_name + " line " + std::to_string(line_number) +
                     ": CSV header has an unterminated quote");
  }
  CsvColumns columns;
  columns.count = names.size();
  const std::pair<const char *, int *> known_columns[] = {
      {"registration_id", &columns.registration_id},
      {"key", &columns.key},
      {"group_key", &columns.group_key},
      {"cert_file", &columns.cert_file},
      {"cert_key_file", &columns.cert_key_file},
      {"pass_phrase", &columns.pass_phrase}};
  for (size_t index = 0; index < names.size(); ++index) {
    const std::string &name = names[index];
    int *column = nullptr;
    for (const auto &[known_name, known_column] : known_columns) {
      if (name == known_name) column = known_column;
    }
    if (column == nullptr) {
      // The column's text is not echoed: without a header line, the first
      // device's key would be read as a column name.
      throw UsageError(source_name + " line " + std::to_string(line_number) + ": CSV column " +
                       std::to_string(index + 1) +
                       " of the header is not registration_id, key, group_key, cert_file, "
                       "cert_key_file or pass_phrase (the first line must be a header such as "
                       "'registration_id,key')");
    }
    if (*column >= 0) {
      throw UsageError(source_name + " line " + std::to_string(line_number) + ": CSV column '" +
                       name + "' appears twice");
    }
    *column = static_cast<int>(index);
  }
  bool has_credential_column = columns.key >= 0 || columns.group_key >= 0 ||
                               (columns.cert_file >= 0 && columns.cert_key_file >= 0);
  if (columns.registration_id < 0 || !has_credential_column) {
    throw UsageError(source_name + " line " + std::to_string(line_number) +
                     ": CSV header must name registration_id and key, group_key or "
                     "cert_file and cert_key_file (e.g. 'registration_id,key')");
  }
  return columns;
}

BatchEntry parse_csv_record(const std::string &line, long line_number, const CsvColumns &columns) {
  BatchEntry entry;
  entry.line_number = line_number;
  std::vector<std::string> fields;
  if (!split_csv(line, fields)) {
    entry.input_error = "unterminated quote";
    return entry;
  }
  if (fields.size() != columns.count) {
    entry.input_error = "expected " + std::to_string(columns.count) + " fields, found " +
                        std::to_string(fields.size());
    // A registration id is still useful for the report when it is there.
    if (static_cast<size_t>(columns.registration_id) < fields.size()) {
      entry.registration_id = fields[static_cast<size_t>(columns.registration_id)];
    }
    for (std::string &field : fields) wipe_string(field);
    return entry;
  }
  entry.registration_id = fields[static_cast<size_t>(columns.registration_id)];
  if (entry.registration_id.empty()) {
    entry.input_error = "registration_id is empty";
    for (std::string &field : fields) wipe_string(field);
    return entry;
  }
  auto column_text = [&fields](int column) {
    return column >= 0 ? fields[static_cast<size_t>(column)] : std::string();
  };
  RawCredential raw;
  raw.device_key = column_text(columns.key);
  raw.group_key = column_text(columns.group_key);
  raw.cert_file = column_text(columns.cert_file);
  raw.cert_key_file = column_text(columns.cert_key_file);
  raw.pass_phrase = column_text(columns.pass_phrase);
  set_credential(entry, raw, kCsvNames);
  for (std::string &field : fields) wipe_string(field);
  return entry;
}

struct JsonDeleter {
  void operator()(cJSON *item) const { cJSON_Delete(item); }
};

// Reads an optional string member; sets `error` when it has another type.
std::string string_member(const cJSON *object, const char *name, std::string &error) {
  const cJSON *member = cJSON_GetObjectItemCaseSensitive(object, name);
  if (member == nullptr || cJSON_IsNull(member)) return "";
  if (!cJSON_IsString(member) || member->valuestring == nullptr) {
    if (error.empty()) error = std::string("\"") + name + "\" must be a string";
    return "";
  }
  return member->valuestring;
}

// Field names are echoed only when they are a near miss of a known name; any
// other text might be a key pasted in the wrong place.
std::string unknown_field_error(const std::string &name) {
  std::string folded;
  for (char character : name) {
    if (character != '_' && character != '-') {
      folded += static_cast<char>(std::tolower(static_cast<unsigned char>(character)));
    }
  }
  for (const char *known :
       {"registrationId", "key", "groupKey", "certFile", "certKeyFile", "passPhrase"}) {
    std::string known_folded;
    for (const char *cursor = known; *cursor != '\0'; ++cursor) {
      known_folded += static_cast<char>(std::tolower(static_cast<unsigned char>(*cursor)));
    }
    if (folded == known_folded) {
      return "unknown field \"" + name + "\"; did you mean \"" + known + "\"?";
    }
  }
  return "unknown field (allowed: registrationId, key, groupKey, certFile, certKeyFile, "
         "passPhrase)";
}

BatchEntry parse_json_record(const std::string &line, long line_number) {
  BatchEntry entry;
  entry.line_number = line_number;
  std::unique_ptr<cJSON, JsonDeleter> object(cJSON_ParseWithLength(line.data(), line.size()));
  if (!object) {
    entry.input_error = "not valid JSON";
    return entry;
  }
  if (!cJSON_IsObject(object.get())) {
    entry.input_error = "expected a JSON object";
    return entry;
  }
  for (const cJSON *member = object->child; member != nullptr; member = member->next) {
    std::string name = member->string != nullptr ? member->string : "";
    if (name != "registrationId" && name != "key" && name != "groupKey" && name != "certFile" &&
        name != "certKeyFile" && name != "passPhrase") {
      entry.input_error = unknown_field_error(name);
      return entry;
    }
  }
  std::string error;
  entry.registration_id = string_member(object.get(), "registrationId", error);
  RawCredential raw;
  raw.device_key = string_member(object.get(), "key", error);
  raw.group_key = string_member(object.get(), "groupKey", error);
  raw.cert_file = string_member(object.get(), "certFile", error);
  raw.cert_key_file = string_member(object.get(), "certKeyFile", error);
  raw.pass_phrase = string_member(object.get(), "passPhrase", error);
  if (!error.empty()) {
    entry.input_error = error;
  } else if (entry.registration_id.empty()) {
    entry.input_error = "\"registrationId\" is missing or empty";
  } else {
    set_credential(entry, raw, kJsonNames);
  }
  return entry;
}

}  // namespace

std::vector<BatchEntry> parse_batch_text(const std::string &text, const std::string &source_name) {
  std::vector<std::string> lines = split_lines(text);
  size_t first_content = 0;
  while (first_content < lines.size() && is_skipped(lines[first_content])) ++first_content;
  if (first_content == lines.size()) {
    throw UsageError(source_name + " has no devices");
  }
  bool json_lines = trim(lines[first_content])[0] == '{';

  std::vector<BatchEntry> entries;
  CsvColumns columns;
  for (size_t index = first_content; index < lines.size(); ++index) {
    long line_number = static_cast<long>(index) + 1;
    if (is_skipped(lines[index])) continue;
    if (lines[index].find('\0') != std::string::npos) {
      // A NUL would silently cut the id or key short in the C API.
      BatchEntry entry;
      entry.line_number = line_number;
      entry.input_error = "line contains a NUL byte";
      if (index == first_content && !json_lines) {
        throw UsageError(source_name + " line " + std::to_string(line_number) +
                         ": CSV header contains a NUL byte");
      }
      entries.push_back(std::move(entry));
      wipe_string(lines[index]);
      continue;
    }
    if (json_lines) {
      entries.push_back(parse_json_record(lines[index], line_number));
    } else if (index == first_content) {
      columns = parse_csv_header(lines[index], line_number, source_name);
    } else {
      entries.push_back(parse_csv_record(lines[index], line_number, columns));
    }
    wipe_string(lines[index]);
  }
  if (entries.empty()) throw UsageError(source_name + " has a header but no devices");
  return entries;
}

std::vector<BatchEntry> read_batch_file(const std::string &path) {
  std::string text = read_text_file(path, "--batch");
  std::vector<BatchEntry> entries;
  try {
    entries = parse_batch_text(text, "batch file '" + path + "'");
  } catch (...) {
    wipe_string(text);
    throw;
  }
  wipe_string(text);
  return entries;
}

}  // namespace prov_cli
