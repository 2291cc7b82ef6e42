// Command-line option parsing: long options only ("--name value" or
// "--name=value"), each declared by the command that accepts it. Anything
// else is a usage error that names the offending argument.
#ifndef PROV_CLI_ARGS_H
#define PROV_CLI_ARGS_H

#include <stdint.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace prov_cli {

struct OptionSpec {
  const char *name;  // without the leading "--"
  bool takes_value;
};

class ParsedArgs {
 public:
  bool has(const std::string &name) const { return values_.count(name) != 0; }
  std::optional<std::string> value(const std::string &name) const;
  void set(const std::string &name, std::string value) { values_[name] = std::move(value); }

 private:
  std::map<std::string, std::string> values_;
};

// Parses `args` (the arguments after the command name) against `specs`.
// "-h" is accepted as "--help" when "help" is in specs. Throws UsageError
// for unknown options, missing values, repeated options and positional
// arguments. Option values are never echoed in errors (they may be keys).
ParsedArgs parse_args(const std::vector<std::string> &args, const std::vector<OptionSpec> &specs,
                      const std::string &command);

// Number parsing for option values; throw UsageError naming `option`.
int64_t parse_integer_option(const std::string &option, const std::string &text, int64_t min,
                             int64_t max);
// Seconds, possibly fractional ("2", "0.5"), converted to milliseconds.
uint32_t parse_seconds_option_ms(const std::string &option, const std::string &text,
                                 uint32_t max_ms);

}  // namespace prov_cli

#endif
