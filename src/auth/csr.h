// Certificate signing requests for DPS certificate issuance: a fresh key pair
// (ECDSA P-256 by default, RSA 2048 optionally) and a PKCS#10 request with
// CN = registration id, made with wolfCrypt; or a request the caller made
// (e.g. in a secure element), checked before it is sent.
#ifndef PROV_AUTH_CSR_H
#define PROV_AUTH_CSR_H

#include <cstdint>
#include <string>
#include <vector>

#include "auth/secret.h"

namespace prov::auth {

enum class CsrKeyType { EcP256, Rsa2048 };

struct GeneratedCsr {
  std::vector<uint8_t> der;      // PKCS#10 CertificationRequest
  SecretString private_key_pem;  // "EC PRIVATE KEY" or "RSA PRIVATE KEY" PEM
};

// Generates a key pair and a CSR signed with it (SHA-256), subject CN =
// common_name. Throws core::Error (PROV_E_CERTIFICATE when the name cannot be
// encoded, PROV_E_INTERNAL when wolfCrypt fails).
GeneratedCsr generate_csr(CsrKeyType key_type, const std::string &common_name);

// A caller-made CSR: its DER bytes, parsed and signature-checked. `origin`
// names the argument for messages. Throws core::Error(PROV_E_CERTIFICATE).
struct CheckedCsr {
  std::vector<uint8_t> der;
  std::string common_name;  // "" when the subject has none
};
CheckedCsr check_csr_der(const std::vector<uint8_t> &der, const std::string &origin);
CheckedCsr check_csr_pem(const std::string &pem, const std::string &origin);

}  // namespace prov::auth

#endif  // PROV_AUTH_CSR_H
