// Exit codes of `prov`, one per class of failure (documented in --help and
// cli/README.md). They are part of the tool's interface: never renumber.
#ifndef PROV_CLI_EXIT_CODES_H
#define PROV_CLI_EXIT_CODES_H

namespace prov_cli {

enum ExitCode {
  kExitAssigned = 0,
  kExitOther = 1,       // out of memory, busy, internal error; batch: some devices not assigned
  kExitUsage = 2,       // bad command line, unreadable file, argument rejected
  kExitCredential = 3,  // rejected by the service, or a local certificate/key unusable
  kExitConnection = 4,  // connection failed or dropped
  kExitTimeout = 5,
  kExitService = 6,  // service error, status failed/disabled
  kExitProtocol = 7,
  kExitCancelled = 8,
  kExitInterrupted = 130,  // batch stopped by SIGINT/SIGTERM (128 + SIGINT)
};

// The exit code for a prov_status returned by libprov.
int exit_code_for_status(int prov_status);

}  // namespace prov_cli

#endif
