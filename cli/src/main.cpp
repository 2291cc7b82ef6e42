// prov: the command-line client of libprov. Dispatches to the subcommands
// and turns errors into messages and exit codes (see usage.cpp).
#include <cstdio>
#include <exception>
#include <new>
#include <string>
#include <vector>

#include "commands.h"
#include "errors.h"
#include "exit_codes.h"
#include "usage.h"

namespace {

int dispatch(const std::string &command, const std::vector<std::string> &args) {
  using namespace prov_cli;
  if (command == "register") return command_register(args);
  if (command == "derive-key") return command_derive_key(args);
  if (command == "version" || command == "--version") return command_version(args);
  if (command == "help" || command == "--help" || command == "-h") {
    std::fputs(kMainUsage, stdout);
    return kExitAssigned;
  }
  throw UsageError("unknown command '" + command + "' (commands: register, derive-key, version)");
}

}  // namespace

int main(int argc, char **argv) {
  using namespace prov_cli;
  if (argc < 2) {
    std::fputs(kMainUsage, stderr);
    return kExitUsage;
  }
  std::string command = argv[1];
  std::vector<std::string> args(argv + 2, argv + argc);
  bool known_command = command == "register" || command == "derive-key" || command == "version";
  std::string help_command = known_command ? " " + command : "";
  try {
    return dispatch(command, args);
  } catch (const UsageError &error) {
    std::string message = "prov" + help_command + ": error: " + error.what() + "\nRun 'prov" +
                          help_command + " --help' for usage.\n";
    std::fputs(message.c_str(), stderr);
    return kExitUsage;
  } catch (const std::bad_alloc &) {
    std::fputs("prov: error: out of memory\n", stderr);
    return kExitOther;
  } catch (const std::exception &error) {
    std::string message = std::string("prov: internal error: ") + error.what() + "\n";
    std::fputs(message.c_str(), stderr);
    return kExitOther;
  }
}
