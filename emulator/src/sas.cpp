#include "sas.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <charconv>

#include "util.h"

namespace dpsemu::sas {

namespace {

std::string percent_encode(std::string_view text, bool upper_hex) {
  const char *digits = upper_hex ? "0123456789ABCDEF" : "0123456789abcdef";
  std::string out;
  for (unsigned char c : text) {
    bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '_' || c == '.' || c == '~';
    if (unreserved) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += digits[c >> 4];
      out += digits[c & 15];
    }
  }
  return out;
}

bool constant_time_equal(const std::string &a, const std::string &b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

std::optional<SasToken> parse_token(std::string_view token, std::string &error) {
  constexpr std::string_view kPrefix = "SharedAccessSignature ";
  if (token.size() < kPrefix.size() || !iequals(token.substr(0, kPrefix.size()), kPrefix)) {
    error = "SAS token does not start with 'SharedAccessSignature '";
    return std::nullopt;
  }
  std::string_view rest = token.substr(kPrefix.size());
  SasToken out;
  bool have_sr = false, have_sig = false, have_se = false;
  while (!rest.empty()) {
    size_t amp = rest.find('&');
    std::string_view field = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
    size_t eq = field.find('=');
    if (eq == std::string_view::npos) {
      error = "SAS token field without '=': '" + std::string(field.substr(0, 16)) + "'";
      return std::nullopt;
    }
    std::string_view name = field.substr(0, eq);
    std::string_view value = field.substr(eq + 1);
    if (name == "sr") {
      out.sr = std::string(value);
      have_sr = true;
    } else if (name == "sig") {
      auto decoded = percent_decode(value);
      if (!decoded) {
        error = "SAS token sig has a malformed percent escape";
        return std::nullopt;
      }
      out.sig = *decoded;
      have_sig = true;
    } else if (name == "se") {
      out.se = std::string(value);
      have_se = true;
    } else if (name == "skn") {
      out.skn = std::string(value);
    } else {
      // Unknown fields are ignored, as a lenient service would.
    }
  }
  if (!have_sr || out.sr.empty()) {
    error = "SAS token has no sr";
    return std::nullopt;
  }
  if (!have_sig || out.sig.empty()) {
    error = "SAS token has no sig";
    return std::nullopt;
  }
  if (!have_se || out.se.empty()) {
    error = "SAS token has no se";
    return std::nullopt;
  }
  return out;
}

std::string hmac_sha256_base64(const std::string &key_bytes, std::string_view message) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  HMAC(EVP_sha256(), key_bytes.data(), static_cast<int>(key_bytes.size()),
       reinterpret_cast<const unsigned char *>(message.data()), message.size(), mac, &mac_len);
  return base64_encode(mac, mac_len);
}

std::optional<std::string> derive_device_key(const std::string &group_key_base64,
                                             std::string_view registration_id) {
  auto key = base64_decode(group_key_base64);
  if (!key) return std::nullopt;
  return hmac_sha256_base64(*key, registration_id);
}

Verdict verify_token(std::string_view token, std::string_view id_scope,
                     std::string_view registration_id, const std::vector<std::string> &keys_base64,
                     int64_t now_epoch) {
  std::string error;
  auto parsed = parse_token(token, error);
  if (!parsed) return {false, error};

  int64_t expiry = 0;
  const char *se_end = parsed->se.data() + parsed->se.size();
  auto [ptr, ec] = std::from_chars(parsed->se.data(), se_end, expiry);
  if (ec != std::errc() || ptr != se_end) return {false, "SAS token se is not an integer"};
  if (expiry <= now_epoch) return {false, "SAS token expired"};

  auto decoded_sr = percent_decode(parsed->sr);
  if (!decoded_sr) return {false, "SAS token sr has a malformed percent escape"};
  std::string expected_resource =
      std::string(id_scope) + "/registrations/" + std::string(registration_id);
  if (!iequals(*decoded_sr, expected_resource)) {
    return {false, "SAS token sr does not name " + expected_resource};
  }

  // The literal sr first (what every SDK signs), then the other common spellings of the same
  // resource, in case a client signed one spelling and sent another.
  std::vector<std::string> candidates = {parsed->sr, *decoded_sr, percent_encode(*decoded_sr, true),
                                         percent_encode(*decoded_sr, false)};
  for (const auto &key_b64 : keys_base64) {
    auto key = base64_decode(key_b64);
    if (!key) continue;
    for (const auto &sr : candidates) {
      if (constant_time_equal(hmac_sha256_base64(*key, sr + "\n" + parsed->se), parsed->sig)) {
        return {true, {}};
      }
    }
  }
  return {false, "SAS signature does not match the enrollment key"};
}

}  // namespace dpsemu::sas
