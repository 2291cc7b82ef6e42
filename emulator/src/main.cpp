// dps-emulator: a local Azure IoT Hub Device Provisioning Service. See emulator/README.md.
#include <signal.h>

#include "cli.h"

int main(int argc, char **argv) {
  // A client vanishing mid-write must surface as a write error, not kill the process.
  signal(SIGPIPE, SIG_IGN);
  return dpsemu::cli_main(argc, argv);
}
