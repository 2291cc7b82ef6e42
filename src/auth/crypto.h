// The crypto primitives libprov needs, on wolfCrypt: strict Base64, HMAC-SHA256
// and percent-encoding. Kept apart so no other file includes wolfSSL headers.
#ifndef PROV_AUTH_CRYPTO_H
#define PROV_AUTH_CRYPTO_H

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace prov::auth {

// Why a Base64 text was rejected, or nullopt when it is valid (standard
// alphabet, '=' padding, length a multiple of 4, no whitespace).
std::optional<std::string> base64_problem(std::string_view text);
// Decodes text already checked by base64_problem. Throws prov::core::Error.
std::vector<uint8_t> base64_decode(std::string_view text);
std::string base64_encode(const uint8_t *data, size_t len);

using Sha256Digest = std::array<uint8_t, 32>;
Sha256Digest hmac_sha256(const uint8_t *key, size_t key_len, std::string_view message);

// Percent-encodes everything except A-Z a-z 0-9 - _ . ~, with upper-case hex
// (as Python's urllib.parse.quote(s, safe="")).
std::string url_encode(std::string_view text);
// The same, appended to `out` (no temporary copy: used for signatures).
void url_encode_append(std::string &out, std::string_view text);

// Fills `out` with len bytes from wolfCrypt's DRBG (e.g. WebSocket key
// nonces and masking keys, RFC 6455 10.3). Throws core::Error(PROV_E_INTERNAL)
// when the generator cannot be seeded.
void random_bytes(uint8_t *out, size_t len);

// Call on any thread before it does ECC work with wolfCrypt (X.509 checks,
// CSR keys). Debian's wolfSSL is built with FP_ECC, which keeps a per-thread
// cache of precomputed points that lives until wc_ecc_fp_free() is called on
// that same thread; without it every caller thread that registered with an
// EC credential leaks that cache. This arms a thread_local guard that frees
// it when the thread exits. Cheap after the first call on a thread.
void release_ecc_cache_at_thread_exit() noexcept;

}  // namespace prov::auth

#endif  // PROV_AUTH_CRYPTO_H
