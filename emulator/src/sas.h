// SAS token verification for symmetric-key attestation, done the way the real service evidently
// does it: HMAC-SHA256 over the literal `sr` text as received (the official SDKs encode `sr` in
// four different ways and each signs what it sends). Independent of the library in src/.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dpsemu::sas {

struct SasToken {
  std::string sr;   // as received (still percent-encoded, if the client encoded it)
  std::string sig;  // percent-decoded base64 signature
  std::string se;   // expiry, decimal epoch seconds, as received
  std::string skn;  // optional key name
};

// Parses "SharedAccessSignature sr=..&sig=..&se=..[&skn=..]" (fields in any order). On failure
// returns nullopt and sets `error` (never containing the signature).
std::optional<SasToken> parse_token(std::string_view token, std::string &error);

// base64(HMAC-SHA256(key = raw key bytes, message)).
std::string hmac_sha256_base64(const std::string &key_bytes, std::string_view message);

// Group-enrollment device key: base64(HMAC-SHA256(base64decode(group key), registration id)).
// nullopt when the group key is not valid base64.
std::optional<std::string> derive_device_key(const std::string &group_key_base64,
                                             std::string_view registration_id);

struct Verdict {
  bool ok = false;
  std::string reason;  // why it failed; safe to log (no key, no signature)
};

// Checks a token for "{id_scope}/registrations/{registration_id}" against any of the base64
// device keys (primary, secondary). `now_epoch` is the current time in Unix seconds.
Verdict verify_token(std::string_view token, std::string_view id_scope,
                     std::string_view registration_id, const std::vector<std::string> &keys_base64,
                     int64_t now_epoch);

}  // namespace dpsemu::sas
