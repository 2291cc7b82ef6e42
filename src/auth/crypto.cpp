#include "auth/crypto.h"

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/coding.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/hmac.h>
#include <wolfssl/wolfcrypt/memory.h>
#include <wolfssl/wolfcrypt/random.h>

#include "auth/secret.h"
#include "core/error.h"

namespace prov::auth {

void secure_wipe(void *data, size_t len) noexcept {
  if (data == nullptr || len == 0) return;
  // volatile stores are not elided by the optimiser (wc_ForceZero does the same).
  volatile uint8_t *bytes = static_cast<volatile uint8_t *>(data);
  for (size_t i = 0; i < len; ++i) bytes[i] = 0;
}

namespace {
bool is_base64_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}
}  // namespace

std::optional<std::string> base64_problem(std::string_view text) {
  if (text.empty()) return std::string("it is empty");
  if (text.size() % 4 != 0) {
    return "its length (" + std::to_string(text.size()) + ") is not a multiple of 4";
  }
  size_t padding = 0;
  if (text.back() == '=') padding = (text[text.size() - 2] == '=') ? 2 : 1;
  for (size_t i = 0; i < text.size() - padding; ++i) {
    if (!is_base64_char(text[i])) {
      return "character " + std::to_string(i + 1) + " is not in the Base64 alphabet";
    }
  }
  return std::nullopt;
}

std::vector<uint8_t> base64_decode(std::string_view text) {
  if (auto problem = base64_problem(text)) {
    throw core::Error(PROV_E_INVALID_ARG, "not valid Base64: " + *problem);
  }
  std::vector<uint8_t> out(text.size() / 4 * 3 + 3);
  word32 out_len = static_cast<word32>(out.size());
  int rc = Base64_Decode(reinterpret_cast<const byte *>(text.data()),
                         static_cast<word32>(text.size()), out.data(), &out_len);
  if (rc != 0) {
    secure_wipe(out.data(), out.size());
    throw core::Error(PROV_E_INVALID_ARG, "not valid Base64 (wolfCrypt Base64_Decode error " +
                                              std::to_string(rc) + ")");
  }
  out.resize(out_len);
  return out;
}

std::string base64_encode(const uint8_t *data, size_t len) {
  std::vector<byte> out(len / 3 * 4 + 8);
  word32 out_len = static_cast<word32>(out.size());
  int rc = Base64_Encode_NoNl(data, static_cast<word32>(len), out.data(), &out_len);
  if (rc != 0) {
    throw core::Error(PROV_E_INTERNAL,
                      "Base64 encoding failed (wolfCrypt error " + std::to_string(rc) + ")");
  }
  return std::string(reinterpret_cast<const char *>(out.data()), out_len);
}

Sha256Digest hmac_sha256(const uint8_t *key, size_t key_len, std::string_view message) {
  Hmac hmac;
  Sha256Digest digest{};
  int rc = wc_HmacInit(&hmac, nullptr, INVALID_DEVID);
  if (rc == 0) {
    rc = wc_HmacSetKey(&hmac, WC_SHA256, key, static_cast<word32>(key_len));
    if (rc == 0) {
      rc = wc_HmacUpdate(&hmac, reinterpret_cast<const byte *>(message.data()),
                         static_cast<word32>(message.size()));
    }
    if (rc == 0) rc = wc_HmacFinal(&hmac, digest.data());
    wc_HmacFree(&hmac);
  }
  // The HMAC state holds key material.
  secure_wipe(&hmac, sizeof hmac);
  if (rc != 0) {
    throw core::Error(PROV_E_CREDENTIAL, "HMAC-SHA256 with the key failed (wolfCrypt error " +
                                             std::to_string(rc) + ")");
  }
  return digest;
}

void url_encode_append(std::string &out, std::string_view text) {
  static const char kHex[] = "0123456789ABCDEF";
  for (unsigned char c : text) {
    bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '_' || c == '.' || c == '~';
    if (unreserved) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0x0F]);
    }
  }
}

std::string url_encode(std::string_view text) {
  std::string out;
  out.reserve(text.size() * 3);
  url_encode_append(out, text);
  return out;
}

void random_bytes(uint8_t *out, size_t len) {
  if (len == 0) return;
  WC_RNG rng;
  if (wc_InitRng(&rng) != 0) {
    throw core::Error(PROV_E_INTERNAL,
                      "wolfCrypt: the random number generator could not be seeded");
  }
  const int rc = wc_RNG_GenerateBlock(&rng, out, static_cast<word32>(len));
  wc_FreeRng(&rng);
  if (rc != 0) {
    throw core::Error(PROV_E_INTERNAL,
                      "wolfCrypt: random number generation failed (" + std::to_string(rc) + ")");
  }
}

namespace {
struct EccCacheReleaser {
  ~EccCacheReleaser() {
#ifdef FP_ECC
    wc_ecc_fp_free();
#endif
  }
};
}  // namespace

void release_ecc_cache_at_thread_exit() noexcept {
  // The first use on a thread constructs the guard; its destructor runs at thread exit.
  thread_local EccCacheReleaser releaser;
  (void)releaser;
}

}  // namespace prov::auth
