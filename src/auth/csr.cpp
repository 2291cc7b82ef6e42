#include "auth/csr.h"

// clang-format off
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/error-crypt.h>
#include <wolfssl/wolfcrypt/random.h>
#include <wolfssl/wolfcrypt/rsa.h>
// clang-format on

#include <cstring>
#include <memory>

#include "auth/crypto.h"
#include "auth/x509_identity.h"
#include "core/error.h"

namespace prov::auth {

using core::Error;

namespace {

constexpr word32 kMaxCsrBytes = 8192;  // an RSA-2048 CSR is ~700 bytes
constexpr word32 kMaxKeyDerBytes = 4096;

[[noreturn]] void wolf_failure(const std::string &step, int code) {
  const char *text = wc_GetErrorString(code);
  throw Error(PROV_E_INTERNAL, "CSR generation: " + step + " failed (wolfCrypt error " +
                                   std::to_string(code) + (text ? std::string(" ") + text : "") +
                                   ")");
}

// RAII over the wolfCrypt objects (each has an init/free pair).
struct Rng {
  WC_RNG rng{};
  Rng() {
    int rc = wc_InitRng(&rng);
    if (rc != 0) wolf_failure("random number generator initialisation", rc);
  }
  ~Rng() { wc_FreeRng(&rng); }
  Rng(const Rng &) = delete;
  Rng &operator=(const Rng &) = delete;
};

struct EccKey {
  ecc_key key{};
  EccKey() {
    release_ecc_cache_at_thread_exit();
    int rc = wc_ecc_init(&key);
    if (rc != 0) wolf_failure("ECC key initialisation", rc);
  }
  ~EccKey() {
    wc_ecc_free(&key);
    secure_wipe(&key, sizeof key);
  }
  EccKey(const EccKey &) = delete;
  EccKey &operator=(const EccKey &) = delete;
};

struct RsaKeyHolder {
  RsaKey key{};
  RsaKeyHolder() {
    int rc = wc_InitRsaKey(&key, nullptr);
    if (rc != 0) wolf_failure("RSA key initialisation", rc);
  }
  ~RsaKeyHolder() {
    wc_FreeRsaKey(&key);
    secure_wipe(&key, sizeof key);
  }
  RsaKeyHolder(const RsaKeyHolder &) = delete;
  RsaKeyHolder &operator=(const RsaKeyHolder &) = delete;
};

SecretString key_der_to_pem(std::vector<uint8_t> &der, int pem_type) {
  std::vector<uint8_t> pem(der.size() * 2 + 128);
  int len = wc_DerToPem(der.data(), static_cast<word32>(der.size()), pem.data(),
                        static_cast<word32>(pem.size()), pem_type);
  secure_wipe(der.data(), der.size());
  if (len <= 0) {
    secure_wipe(pem.data(), pem.size());
    wolf_failure("private key PEM encoding", len);
  }
  SecretString text(
      std::string(reinterpret_cast<const char *>(pem.data()), static_cast<size_t>(len)));
  secure_wipe(pem.data(), pem.size());
  return text;
}

struct X509Free {
  void operator()(WOLFSSL_X509 *x) const { wolfSSL_X509_free(x); }
};
struct PkeyFree {
  void operator()(WOLFSSL_EVP_PKEY *k) const { wolfSSL_EVP_PKEY_free(k); }
};

}  // namespace

GeneratedCsr generate_csr(CsrKeyType key_type, const std::string &common_name) {
  if (common_name.empty() || common_name.size() >= CTC_NAME_SIZE) {
    throw Error(PROV_E_CERTIFICATE,
                "a CSR cannot carry the registration id \"" + common_name +
                    "\" as its CN: " + "the CSR encoder (wolfCrypt) takes at most " +
                    std::to_string(CTC_NAME_SIZE - 1) +
                    " characters (X.509 allows 64); pass a CSR made elsewhere with "
                    "prov_client_set_csr_pem/_der, or use a shorter registration id");
  }
  Rng rng;
  Cert request;
  int rc = wc_InitCert(&request);
  if (rc != 0) wolf_failure("certificate request initialisation", rc);
  request.version = 0;  // PKCS#10 v1
  std::memcpy(request.subject.commonName, common_name.c_str(), common_name.size() + 1);
  request.sigType = CTC_SHA256wECDSA;

  std::vector<uint8_t> csr(kMaxCsrBytes);
  std::vector<uint8_t> key_der(kMaxKeyDerBytes);
  GeneratedCsr out;
  if (key_type == CsrKeyType::EcP256) {
    EccKey key;
    rc = wc_ecc_make_key_ex(&rng.rng, 32, &key.key, ECC_SECP256R1);
    if (rc != 0) wolf_failure("ECDSA P-256 key generation", rc);
    rc = wc_MakeCertReq_ex(&request, csr.data(), kMaxCsrBytes, ECC_TYPE, &key.key);
    if (rc <= 0) wolf_failure("CSR encoding", rc);
    rc = wc_SignCert_ex(request.bodySz, request.sigType, csr.data(), kMaxCsrBytes, ECC_TYPE,
                        &key.key, &rng.rng);
    if (rc <= 0) wolf_failure("CSR signing", rc);
    csr.resize(static_cast<size_t>(rc));
    int key_len = wc_EccKeyToDer(&key.key, key_der.data(), kMaxKeyDerBytes);
    if (key_len <= 0) wolf_failure("private key encoding", key_len);
    key_der.resize(static_cast<size_t>(key_len));
    out.private_key_pem = key_der_to_pem(key_der, ECC_PRIVATEKEY_TYPE);
  } else {
    RsaKeyHolder key;
    rc = wc_MakeRsaKey(&key.key, 2048, WC_RSA_EXPONENT, &rng.rng);
    if (rc != 0) wolf_failure("RSA 2048 key generation", rc);
    wc_RsaSetRNG(&key.key, &rng.rng);
    request.sigType = CTC_SHA256wRSA;
    rc = wc_MakeCertReq_ex(&request, csr.data(), kMaxCsrBytes, RSA_TYPE, &key.key);
    if (rc <= 0) wolf_failure("CSR encoding", rc);
    rc = wc_SignCert_ex(request.bodySz, request.sigType, csr.data(), kMaxCsrBytes, RSA_TYPE,
                        &key.key, &rng.rng);
    if (rc <= 0) wolf_failure("CSR signing", rc);
    csr.resize(static_cast<size_t>(rc));
    int key_len = wc_RsaKeyToDer(&key.key, key_der.data(), kMaxKeyDerBytes);
    if (key_len <= 0) wolf_failure("private key encoding", key_len);
    key_der.resize(static_cast<size_t>(key_len));
    out.private_key_pem = key_der_to_pem(key_der, PRIVATEKEY_TYPE);
  }
  out.der = std::move(csr);
  return out;
}

CheckedCsr check_csr_der(const std::vector<uint8_t> &der, const std::string &origin) {
  if (der.empty()) throw Error(PROV_E_CERTIFICATE, origin + " is empty");
  if (der.size() > 64 * 1024) {
    throw Error(PROV_E_CERTIFICATE, origin + " is " + std::to_string(der.size()) +
                                        " bytes, too large for a certificate signing request");
  }
  std::unique_ptr<WOLFSSL_X509, X509Free> request(wolfSSL_X509_REQ_load_certificate_buffer(
      der.data(), static_cast<int>(der.size()), WOLFSSL_FILETYPE_ASN1));
  if (!request) {
    throw Error(PROV_E_CERTIFICATE,
                origin + " is not a PKCS#10 certificate signing request that wolfSSL can parse");
  }
  std::unique_ptr<WOLFSSL_EVP_PKEY, PkeyFree> key(wolfSSL_X509_get_pubkey(request.get()));
  if (!key || wolfSSL_X509_REQ_verify(request.get(), key.get()) != WOLFSSL_SUCCESS) {
    throw Error(PROV_E_CERTIFICATE,
                origin + ": the CSR's signature does not verify with its own public key");
  }
  CheckedCsr out;
  out.der = der;
  char cn[256] = {};
  int len = wolfSSL_X509_NAME_get_text_by_NID(wolfSSL_X509_get_subject_name(request.get()),
                                              NID_commonName, cn, sizeof cn - 1);
  if (len > 0) out.common_name.assign(cn, static_cast<size_t>(len));
  return out;
}

CheckedCsr check_csr_pem(const std::string &pem, const std::string &origin) {
  std::vector<std::string> blocks = pem_blocks(pem, "CERTIFICATE REQUEST");
  if (blocks.empty()) blocks = pem_blocks(pem, "NEW CERTIFICATE REQUEST");
  if (blocks.size() != 1) {
    throw Error(PROV_E_CERTIFICATE,
                origin + (blocks.empty() ? " holds no \"-----BEGIN CERTIFICATE REQUEST-----\" block"
                                         : " holds more than one certificate request"));
  }
  std::vector<uint8_t> der(blocks[0].size());
  int len = wc_CertPemToDer(reinterpret_cast<const unsigned char *>(blocks[0].data()),
                            static_cast<int>(blocks[0].size()), der.data(),
                            static_cast<int>(der.size()), CERTREQ_TYPE);
  if (len <= 0) {
    throw Error(PROV_E_CERTIFICATE,
                origin + " is not valid PEM (wolfCrypt error " + std::to_string(len) + ")");
  }
  der.resize(static_cast<size_t>(len));
  return check_csr_der(der, origin);
}

}  // namespace prov::auth
