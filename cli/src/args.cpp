#include "args.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "errors.h"

namespace prov_cli {

std::optional<std::string> ParsedArgs::value(const std::string &name) const {
  auto found = values_.find(name);
  if (found == values_.end()) return std::nullopt;
  return found->second;
}

namespace {

const OptionSpec *find_spec(const std::vector<OptionSpec> &specs, const std::string &name) {
  for (const OptionSpec &spec : specs) {
    if (name == spec.name) return &spec;
  }
  return nullptr;
}

}  // namespace

ParsedArgs parse_args(const std::vector<std::string> &args, const std::vector<OptionSpec> &specs,
                      const std::string &command) {
  ParsedArgs parsed;
  for (size_t index = 0; index < args.size(); ++index) {
    std::string arg = args[index];
    if (arg == "-h") arg = "--help";
    if (arg.size() < 3 || arg.compare(0, 2, "--") != 0) {
      // The argument itself is not echoed: a misplaced value may be a key.
      throw UsageError("unexpected argument #" + std::to_string(index + 1) + " for 'prov " +
                       command + "' (options start with --, and each value follows its option)");
    }
    std::string name = arg.substr(2);
    std::optional<std::string> inline_value;
    size_t equals = name.find('=');
    if (equals != std::string::npos) {
      inline_value = name.substr(equals + 1);
      name.resize(equals);
    }
    const OptionSpec *spec = find_spec(specs, name);
    if (spec == nullptr) {
      throw UsageError("unknown option '--" + name + "' for 'prov " + command + "'");
    }
    if (parsed.has(name)) {
      throw UsageError("option '--" + name + "' given more than once");
    }
    if (!spec->takes_value) {
      if (inline_value) throw UsageError("option '--" + name + "' takes no value");
      parsed.set(name, "");
      continue;
    }
    if (inline_value) {
      parsed.set(name, *inline_value);
    } else {
      if (index + 1 >= args.size()) {
        throw UsageError("option '--" + name + "' needs a value");
      }
      parsed.set(name, args[++index]);
    }
  }
  return parsed;
}

int64_t parse_integer_option(const std::string &option, const std::string &text, int64_t min,
                             int64_t max) {
  errno = 0;
  char *end = nullptr;
  long long number = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || end == nullptr || *end != '\0' || errno == ERANGE) {
    throw UsageError("--" + option + ": '" + text + "' is not a whole number");
  }
  if (number < min || number > max) {
    throw UsageError("--" + option + ": " + text + " is out of range (" + std::to_string(min) +
                     ".." + std::to_string(max) + ")");
  }
  return number;
}

uint32_t parse_seconds_option_ms(const std::string &option, const std::string &text,
                                 uint32_t max_ms) {
  errno = 0;
  char *end = nullptr;
  double seconds = std::strtod(text.c_str(), &end);
  if (text.empty() || end == nullptr || *end != '\0' || errno == ERANGE ||
      !std::isfinite(seconds)) {
    throw UsageError("--" + option + ": '" + text + "' is not a number of seconds");
  }
  double milliseconds = std::round(seconds * 1000.0);
  if (milliseconds < 1.0 || milliseconds > static_cast<double>(max_ms)) {
    throw UsageError("--" + option + ": " + text + " s is out of range (0.001.." +
                     std::to_string(max_ms / 1000) + " s)");
  }
  return static_cast<uint32_t>(milliseconds);
}

}  // namespace prov_cli
