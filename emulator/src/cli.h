// Command-line front end: subcommand dispatch and option parsing for dps-emulator.
#pragma once

namespace dpsemu {

int cli_main(int argc, char **argv);

}  // namespace dpsemu
