// Development PKI of dps-emulator: the dev root CA and TLS server certificate, X.509 attestation
// checks of device chains, certificate issuance from CSRs, and the `make-cert` subcommand that
// makes test credentials. OpenSSL 3 only; shares no code with the library in src/.
#pragma once

#include <string>
#include <vector>

namespace dpsemu::pki {

// Absolute paths of the files in DATA_DIR/pki/. Keys are written with mode 0600.
struct PkiPaths {
  std::string dir;                // DATA_DIR/pki
  std::string root_ca_cert;       // root CA certificate (PEM): what clients must trust
  std::string root_ca_key;        // root CA private key (PEM, unencrypted)
  std::string server_cert_chain;  // server leaf + root CA (PEM), for the TLS listeners
  std::string server_key;         // server private key (PEM)
  std::string issuing_ca_cert;    // intermediate CA (signed by the root) used for CSR issuance
  std::string issuing_ca_key;     // its private key (PEM)
};

// Creates DATA_DIR/pki/ on first use (root CA, server certificate for localhost, 127.0.0.1, ::1 and
// every entry of extra_hosts as DNS or IP SAN, issuing CA) and reuses it afterwards. When the
// existing server certificate does not cover all of extra_hosts, only the server certificate is
// re-issued (the root stays, so clients keep trusting it). Throws std::runtime_error on failure.
PkiPaths ensure_dev_pki(const std::string &data_dir, const std::vector<std::string> &extra_hosts);

// Result of an X.509 attestation check. error_code is 0 when ok, 401002 otherwise.
// leaf_cn and the thumbprints (lower-case hex of the leaf DER) are filled whenever the leaf parses.
struct X509Check {
  bool ok = false;
  int error_code = 0;
  std::string message;  // why the check failed (expired, unknown issuer, thumbprint mismatch, ...)
  std::string leaf_cn, sha1_thumbprint_hex, sha256_thumbprint_hex;
  std::string
      enrollment_ca_subject;  // subject of the enrollment CA the chain verified to (CA checks)
  // That enrollment CA certificate (PEM), for registrationState.x509.signingCertificateInfo.
  std::string enrollment_ca_pem;
};

// chain_pem: the certificates the device presented in the TLS handshake, as PEM, leaf first.
// Accepts when the leaf is within its validity and its SHA-256 (or SHA-1) thumbprint equals
// `thumbprint` (hex, case-insensitive, ':' and spaces ignored).
X509Check verify_device_chain_against_thumbprint(const std::vector<std::string> &chain_pem,
                                                 const std::string &thumbprint);
// Accepts when the leaf chains (through the device-presented intermediates) to one of ca_pems.
// Each entry of ca_pems is PEM text (one or more certificates); an enrollment CA may be an
// intermediate, it is a trust anchor all the same.
X509Check verify_device_chain_against_cas(const std::vector<std::string> &chain_pem,
                                          const std::vector<std::string> &ca_pems);

// Result of issuing a device certificate from a CSR.
struct CsrIssue {
  bool ok = false;
  std::string error;                          // set when !ok: what is wrong with the CSR
  std::vector<std::string> chain_der_base64;  // [leaf, issuing CA, root], base64 DER, leaf first
  std::string leaf_pem;                       // the issued leaf (PEM)
  std::string trust_bundle_pem;               // the root CA (PEM)
};

// The CSR's subject CN must equal expected_cn, compared case-insensitively (ASCII) like every
// registration id at the service.
// 2025-07-01-preview "csr": base64 DER PKCS#10 (no PEM armour).
CsrIssue issue_from_csr_der_base64(const PkiPaths &paths, const std::string &csr_b64,
                                   const std::string &expected_cn);
// 2021-11-01-preview "clientCertificateCsr": PEM PKCS#10.
CsrIssue issue_from_csr_pem(const PkiPaths &paths, const std::string &csr_pem,
                            const std::string &expected_cn);

// The DPS REST API's X509CertificateInfo (registrationState.x509.certificateInfo, trustBundle
// certificate metadata) of the first certificate in `pem`. ok=false when it does not parse.
// Thumbprints and serial number are upper-case hex, times "YYYY-MM-DDTHH:MM:SSZ", names
// "CN=..., O=...". (Addition beyond the agreed API; optional for the server to use.)
struct CertificateInfo {
  bool ok = false;
  std::string subject_name, issuer_name, sha1_thumbprint, sha256_thumbprint, serial_number;
  std::string not_before_utc, not_after_utc;
  int version = 0;
};
CertificateInfo describe_certificate(const std::string &pem);

// `dps-emulator make-cert ca|device|thumbprint ...` (argv[0] = "make-cert"). Returns the exit code.
int make_cert_main(int argc, char **argv);

}  // namespace dpsemu::pki
