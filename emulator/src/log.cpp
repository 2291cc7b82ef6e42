#include "log.h"

#include <cstdio>
#include <string>

#include "util.h"

namespace dpsemu::log {

namespace {
Level g_level = Level::kInfo;

std::string quote_if_needed(const std::string &value) {
  bool needs_quotes = value.empty() || value.find_first_of(" \"=\t\n\\") != std::string::npos;
  if (!needs_quotes) return value;
  std::string out = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += '?';
    } else {
      out += c;
    }
  }
  return out + "\"";
}

void emit(const char *level, const std::string &event, const Fields &fields) {
  std::string line = "ts=" + utc_timestamp_now() + " level=" + level + " event=" + event;
  for (const auto &[key, value] : fields) line += " " + key + "=" + quote_if_needed(value);
  line += "\n";
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}
}  // namespace

void set_level(Level level) {
  g_level = level;
}
bool debug_enabled() {
  return g_level == Level::kDebug;
}

void info(const std::string &event, const Fields &fields) {
  emit("info", event, fields);
}
void debug(const std::string &event, const Fields &fields) {
  if (debug_enabled()) emit("debug", event, fields);
}
void warn(const std::string &event, const Fields &fields) {
  emit("warn", event, fields);
}
void error(const std::string &event, const Fields &fields) {
  emit("error", event, fields);
}

void request(const std::string &transport, const std::string &registration_id,
             const std::string &operation, int status, const std::string &result,
             double duration_ms, const Fields &extra) {
  char duration[32];
  std::snprintf(duration, sizeof duration, "%.2f", duration_ms);
  Fields fields = {{"transport", transport}, {"registrationId", registration_id},
                   {"op", operation},        {"status", std::to_string(status)},
                   {"result", result},       {"durationMs", duration}};
  fields.insert(fields.end(), extra.begin(), extra.end());
  emit("info", "request", fields);
}

}  // namespace dpsemu::log
