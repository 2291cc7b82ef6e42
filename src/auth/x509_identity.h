// X509Identity: a device's X.509 credential (certificate chain + private key),
// loaded from PEM files or PEM text and checked with wolfSSL before any
// connection is made, so that a wrong credential fails early with a message
// naming the file, the certificate and the problem instead of a TLS error or
// a 401 from the service.
#ifndef PROV_AUTH_X509_IDENTITY_H
#define PROV_AUTH_X509_IDENTITY_H

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "auth/secret.h"

namespace prov::auth {

// What libprov knows about one certificate of the chain.
struct CertificateSummary {
  std::string subject;      // one-line form, e.g. "/CN=dev-1/O=contoso"
  std::string issuer;       // one-line form
  std::string common_name;  // subject CN ("" when the subject has none)
  int64_t not_before = 0;   // Unix seconds
  int64_t not_after = 0;
  bool self_signed = false;  // subject == issuer
};

class X509Identity {
 public:
  // Reads the certificate file (PEM; leaf first, optionally followed by the
  // intermediate certificates) and the key file (PEM: PKCS#8, encrypted
  // PKCS#8, traditional RSA/EC, optionally encrypted with pass_phrase).
  // Throws core::Error(PROV_E_CERTIFICATE) naming the file and the problem.
  static X509Identity from_files(const std::string &cert_file, const std::string &key_file,
                                 const std::optional<SecretString> &pass_phrase);
  // The same from PEM text in memory.
  static X509Identity from_pem(const std::string &cert_pem, const SecretString &key_pem,
                               const std::optional<SecretString> &pass_phrase);

  // Checks what depends on the registration and the time: the leaf's CN
  // equals registration_id (case-insensitively, as the service compares),
  // and every certificate of the chain is valid at now_s.
  void check_for(const std::string &registration_id, int64_t now_s) const;

  // The certificate blocks, leaf first, as PEM text (what TLS sends).
  const std::string &chain_pem() const { return chain_pem_; }
  const SecretString &key_pem() const { return key_pem_; }
  const std::optional<SecretString> &pass_phrase() const { return pass_phrase_; }
  const std::vector<CertificateSummary> &chain() const { return chain_; }
  // Where the certificate came from, for messages: "certificate file \"x\"" or "cert_pem".
  const std::string &cert_origin() const { return cert_origin_; }

  // "leaf 'CN=a' issued by 'CN=b'; ... ; the chain ends at ..." for the hint
  // given when the service rejects the certificate (e.g. a missing intermediate).
  std::string describe_chain() const;

 private:
  X509Identity() = default;
  static X509Identity load(const std::string &cert_text, const std::string &cert_origin,
                           const SecretString &key_text, const std::string &key_origin,
                           const std::optional<SecretString> &pass_phrase);

  std::string chain_pem_;
  SecretString key_pem_;
  std::optional<SecretString> pass_phrase_;
  std::vector<CertificateSummary> chain_;
  std::string cert_origin_;
};

// "2026-11-26T07:12:00Z".
std::string format_utc(int64_t unix_seconds);

// Splits PEM text into its "-----BEGIN <label>-----" ... "-----END <label>-----"
// blocks (each with its header and footer and a final newline).
std::vector<std::string> pem_blocks(const std::string &text, const std::string &label);

// Converts one PEM certificate block to DER, or throws core::Error(code, what + why).
std::vector<uint8_t> certificate_pem_to_der(const std::string &pem_block, int error_status,
                                            const std::string &what);
// Whether der is one X.509 certificate that wolfSSL can parse.
bool is_certificate_der(const std::vector<uint8_t> &der);
// Wraps DER bytes as a PEM block with the given label ("CERTIFICATE", ...).
std::string der_to_pem(const std::vector<uint8_t> &der, const std::string &label);

}  // namespace prov::auth

#endif  // PROV_AUTH_X509_IDENTITY_H
