// Small helpers shared by the emulator's modules: base64, percent-decoding, time stamps, ids.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dpsemu {

std::string base64_encode(const unsigned char *data, size_t len);
inline std::string base64_encode(const std::string &bytes) {
  return base64_encode(reinterpret_cast<const unsigned char *>(bytes.data()), bytes.size());
}
// Strict standard-alphabet base64 (padding required); nullopt on any invalid character.
std::optional<std::string> base64_decode(std::string_view text);

// Percent-decoding ("%2F" and "%2f" alike). With plus_is_space, '+' decodes to ' ' (query strings).
// nullopt on a malformed escape.
std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space = false);

std::string to_lower(std::string_view text);
bool iequals(std::string_view a, std::string_view b);

// "2026-11-26T06:45:08.1234567Z" (UTC, 7 fractional digits like the real service).
std::string utc_timestamp_now();
// Milliseconds since an arbitrary monotonic epoch.
int64_t monotonic_ms();
// Random lower-case UUID v4.
std::string random_uuid();
// An operation id in the shape of the real service's ("4.<16 hex>.<uuid>"): [A-Za-z0-9.-] only.
std::string new_operation_id();

// Reads a whole file; throws std::runtime_error naming the path on failure.
std::string read_file(const std::string &path);
// Writes via a temporary file and rename(2), so readers never see a partial file.
void write_file_atomically(const std::string &path, const std::string &content);

}  // namespace dpsemu
