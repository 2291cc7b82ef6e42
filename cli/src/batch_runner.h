// `prov register --batch`: registers many devices with
// prov_client_register_async (fibers on libprov's event-loop threads, no
// thread per registration), driven by one coordinating thread, one JSON line
// per device as each finishes.
#ifndef PROV_CLI_BATCH_RUNNER_H
#define PROV_CLI_BATCH_RUNNER_H

#include <optional>
#include <string>

#include "batch_stats.h"
#include "registration.h"

namespace prov_cli {

struct BatchOptions {
  std::string input_path;
  int concurrency = 8;
  std::optional<std::string> output_path;  // stdout when absent
  ProgressMode progress = ProgressMode::kAuto;
  // For X.509 lines without their own pass phrase (--pass-phrase-file).
  SecretString default_pass_phrase;
  // Where issued certificates (ID.pem) and generated keys (ID.key) go.
  std::optional<std::string> issued_dir;
};

// Runs the batch and returns the exit code: 0 when every device was
// assigned, 1 when some were not, 130 when interrupted by SIGINT/SIGTERM.
// Throws UsageError when the input or output file cannot be used.
int run_batch(const RegistrationSettings &settings, const BatchOptions &options);

}  // namespace prov_cli

#endif
