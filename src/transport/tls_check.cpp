// Cipher-list validation with OpenSSL, the TLS library libcurl uses here.
// Kept in its own file: OpenSSL and wolfSSL headers must not meet.
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "transport/connection.h"

namespace prov::transport {

std::optional<std::string> cipher_list_problem(const std::string &cipher_list) {
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == nullptr) return std::string("OpenSSL could not create a TLS context to check it");
  ERR_clear_error();
  int ok = SSL_CTX_set_cipher_list(ctx, cipher_list.c_str());
  SSL_CTX_free(ctx);
  if (ok == 1) {
    ERR_clear_error();
    return std::nullopt;
  }
  unsigned long code = ERR_get_error();
  char reason[256] = "no cipher matched";
  if (code != 0) ERR_error_string_n(code, reason, sizeof reason);
  ERR_clear_error();
  return std::string("OpenSSL rejected it (") + reason + ")";
}

}  // namespace prov::transport
