// Structured logging to stderr: one line per event, "ts=... level=... event=... key=value ...".
// Values are quoted when they contain spaces or quotes. Never pass secrets here.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace dpsemu::log {

enum class Level { kInfo, kDebug };
void set_level(Level level);
bool debug_enabled();

using Fields = std::vector<std::pair<std::string, std::string>>;
void info(const std::string &event, const Fields &fields = {});
void debug(const std::string &event, const Fields &fields = {});
void warn(const std::string &event, const Fields &fields = {});
void error(const std::string &event, const Fields &fields = {});

// The per-request line: transport, registration id, operation, result, status, duration.
void request(const std::string &transport, const std::string &registration_id,
             const std::string &operation, int status, const std::string &result,
             double duration_ms, const Fields &extra = {});

}  // namespace dpsemu::log
