// The device list of `prov register --batch FILE`: CSV with a header
// (registration_id plus key and/or group_key) or JSON lines
// ({"registrationId":..,"key":..} or {"registrationId":..,"groupKey":..}).
// The format is recognised by the first non-blank character ('{' = JSON lines).
#ifndef PROV_CLI_BATCH_INPUT_H
#define PROV_CLI_BATCH_INPUT_H

#include <optional>
#include <string>
#include <vector>

#include "registration.h"

namespace prov_cli {

struct BatchEntry {
  long line_number = 0;         // 1-based line in the input file
  std::string registration_id;  // may be empty when the line is unusable
  std::optional<Credential> credential;
  std::string input_error;  // non-empty: the line is unusable; this says why
};

// Reads and checks every line. A bad line becomes an entry with
// input_error set (it is reported as a JSON error line, not fatal).
// Throws UsageError when the file cannot be read, is empty or its CSV header
// is unusable. Blank lines and lines starting with '#' are skipped.
std::vector<BatchEntry> read_batch_file(const std::string &path);

// Parses batch input text (exposed for the same checks on any text).
std::vector<BatchEntry> parse_batch_text(const std::string &text, const std::string &source_name);

}  // namespace prov_cli

#endif
