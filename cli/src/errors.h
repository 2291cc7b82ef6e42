// Exceptions used inside the CLI. Each carries the exit code it ends in;
// main() turns them into a message on stderr and that exit code.
#ifndef PROV_CLI_ERRORS_H
#define PROV_CLI_ERRORS_H

#include <stdexcept>
#include <string>

#include "exit_codes.h"

namespace prov_cli {

// Bad command line or input file: exit code 2, and a hint to run --help.
class UsageError : public std::runtime_error {
 public:
  explicit UsageError(const std::string &message) : std::runtime_error(message) {}
};

}  // namespace prov_cli

#endif
