// How an Outcome is shown: one JSON object (for --json and batch lines) or
// human-readable lines.
#ifndef PROV_CLI_OUTPUT_H
#define PROV_CLI_OUTPUT_H

#include <optional>
#include <string>

#include "registration.h"

namespace prov_cli {

// Extra fields of a batch line.
struct BatchLineInfo {
  long line_number = 0;
  bool with_latency = false;
};

// One compact JSON object (no trailing newline) with every result field
// (null when absent) and, on failure, an "error" object:
//   {"status":"PROV_E_...","message","step","errorCode","httpStatus","trackingId","serviceMessage"}.
// Not thread-safe (cJSON keeps a global parse-error pointer): callers
// serialise calls.
std::string outcome_to_json(const Outcome &outcome,
                            const std::optional<BatchLineInfo> &batch_info = std::nullopt);

// A JSON error line for a batch input line that could not be used.
std::string input_error_to_json(long line_number, const std::string &registration_id,
                                const std::string &message);

// "assigned: device D on hub H (substatus S, operation O)" plus the payload
// when the service returned one. Newline-terminated.
std::string outcome_to_human(const Outcome &outcome);

// The failure, for stderr: "prov: registration of 'ID' failed at STEP:
// PROV_E_X: message" plus a line of service details when there are any.
std::string outcome_error_to_human(const Outcome &outcome);

}  // namespace prov_cli

#endif
