// The subcommands of `prov`. Each takes the arguments after its name and
// returns the process exit code; usage problems are thrown as UsageError.
#ifndef PROV_CLI_COMMANDS_H
#define PROV_CLI_COMMANDS_H

#include <string>
#include <vector>

namespace prov_cli {

int command_register(const std::vector<std::string> &args);
int command_derive_key(const std::vector<std::string> &args);
int command_version(const std::vector<std::string> &args);

}  // namespace prov_cli

#endif
