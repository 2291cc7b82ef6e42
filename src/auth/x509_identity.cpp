#include "auth/x509_identity.h"

// clang-format off
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/openssl/evp.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/error-crypt.h>
// clang-format on

#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>

#include "auth/crypto.h"
#include "core/ascii.h"
#include "core/error.h"

namespace prov::auth {

using core::Error;

namespace {

// Files larger than this are not credentials; refuse before reading them whole.
constexpr std::streamoff kMaxCredentialFileBytes = 1024 * 1024;

struct X509Free {
  void operator()(WOLFSSL_X509 *x) const { wolfSSL_X509_free(x); }
};
using X509Ptr = std::unique_ptr<WOLFSSL_X509, X509Free>;
struct PkeyFree {
  void operator()(WOLFSSL_EVP_PKEY *k) const { wolfSSL_EVP_PKEY_free(k); }
};
using PkeyPtr = std::unique_ptr<WOLFSSL_EVP_PKEY, PkeyFree>;

void ensure_wolfssl_initialized() {
  static std::once_flag once;
  std::call_once(once, [] { wolfSSL_Init(); });
  release_ecc_cache_at_thread_exit();
}

[[noreturn]] void fail(const std::string &message) {
  throw Error(PROV_E_CERTIFICATE, message);
}

std::string read_credential_file(const std::string &path, const std::string &what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    fail(what + " \"" + path + "\" cannot be read: " + std::strerror(errno));
  }
  in.seekg(0, std::ios::end);
  std::streamoff size = in.tellg();
  in.seekg(0, std::ios::beg);
  if (size < 0) fail(what + " \"" + path + "\" cannot be read (not a regular file?)");
  if (size > kMaxCredentialFileBytes) {
    fail(what + " \"" + path + "\" is " + std::to_string(size) +
         " bytes, too large for a PEM credential");
  }
  std::string text(static_cast<size_t>(size), '\0');
  if (size > 0 && !in.read(text.data(), size)) {
    secure_wipe(text.data(), text.size());
    fail(what + " \"" + path + "\" cannot be read: " + std::strerror(errno));
  }
  if (text.empty()) fail(what + " \"" + path + "\" is empty");
  return text;
}

std::string name_text(WOLFSSL_X509_NAME *name) {
  if (name == nullptr) return "";
  char buffer[512] = {};
  if (wolfSSL_X509_NAME_oneline(name, buffer, sizeof buffer - 1) == nullptr) return "";
  return buffer;
}

std::string common_name(WOLFSSL_X509_NAME *name) {
  if (name == nullptr) return "";
  char buffer[256] = {};
  int len = wolfSSL_X509_NAME_get_text_by_NID(name, NID_commonName, buffer, sizeof buffer - 1);
  return len > 0 ? std::string(buffer, static_cast<size_t>(len)) : std::string();
}

// Days from 1970-01-01 to the civil date (proleptic Gregorian; H. Hinnant's algorithm).
int64_t days_from_civil(int64_t year, int64_t month, int64_t day) {
  year -= month <= 2 ? 1 : 0;
  const int64_t era = (year >= 0 ? year : year - 399) / 400;
  const int64_t year_of_era = year - era * 400;
  const int64_t day_of_year = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
  const int64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146097 + day_of_era - 719468;
}

// Reads an X.509 time (UTCTime "YYMMDDHHMMSSZ" or GeneralizedTime
// "YYYYMMDDHHMMSSZ") as Unix seconds. Parsed here rather than with
// wolfSSL_ASN1_TIME_to_tm, whose time conversion is not thread-safe in
// Debian's build (clients are created concurrently from many threads).
std::optional<int64_t> asn1_time_to_unix(const WOLFSSL_ASN1_TIME *time) {
  if (time == nullptr) return std::nullopt;
  auto *mutable_time = const_cast<WOLFSSL_ASN1_TIME *>(time);  // the getters are not const-correct
  const unsigned char *data = wolfSSL_ASN1_TIME_get_data(mutable_time);
  const int length = wolfSSL_ASN1_TIME_get_length(mutable_time);
  if (data == nullptr || (length != 13 && length != 15) || data[length - 1] != 'Z') {
    return std::nullopt;
  }
  int64_t digits[14] = {};
  for (int i = 0; i < length - 1; ++i) {
    if (data[i] < '0' || data[i] > '9') return std::nullopt;
    digits[i] = data[i] - '0';
  }
  auto two = [&](int at) { return digits[at] * 10 + digits[at + 1]; };
  int at = 0;
  int64_t year;
  if (length == 13) {  // RFC 5280 4.1.2.5.1: YY >= 50 means 19YY, else 20YY
    year = two(0);
    year += year >= 50 ? 1900 : 2000;
    at = 2;
  } else {
    year = two(0) * 100 + two(2);
    at = 4;
  }
  const int64_t month = two(at), day = two(at + 2), hour = two(at + 4), minute = two(at + 6),
                second = two(at + 8);
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
    return std::nullopt;
  }
  return days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second;
}

std::string describe_wolf_error(int code) {
  const char *text = wc_GetErrorString(code);
  return "wolfCrypt error " + std::to_string(code) + (text ? std::string(" ") + text : "");
}

// Whether `key` is the private half of the certificate's public key: a
// signature made with it must verify with the certificate's key. (wolfSSL's
// X509_check_private_key only compares key types in this version.)
bool key_matches_certificate(WOLFSSL_EVP_PKEY *key, WOLFSSL_X509 *cert) {
  PkeyPtr public_key(wolfSSL_X509_get_pubkey(cert));
  if (!public_key) return false;
  static const unsigned char kProbe[] = "libprov: does this key belong to the certificate?";
  unsigned char signature[1024];
  size_t signature_len = sizeof signature;
  struct MdCtxFree {
    void operator()(WOLFSSL_EVP_MD_CTX *c) const { wolfSSL_EVP_MD_CTX_free(c); }
  };
  std::unique_ptr<WOLFSSL_EVP_MD_CTX, MdCtxFree> sign(wolfSSL_EVP_MD_CTX_new());
  if (!sign ||
      wolfSSL_EVP_DigestSignInit(sign.get(), nullptr, wolfSSL_EVP_sha256(), nullptr, key) !=
          WOLFSSL_SUCCESS ||
      wolfSSL_EVP_DigestSignUpdate(sign.get(), kProbe, sizeof kProbe) != WOLFSSL_SUCCESS ||
      wolfSSL_EVP_DigestSignFinal(sign.get(), signature, &signature_len) != WOLFSSL_SUCCESS) {
    return false;
  }
  std::unique_ptr<WOLFSSL_EVP_MD_CTX, MdCtxFree> verify(wolfSSL_EVP_MD_CTX_new());
  return verify &&
         wolfSSL_EVP_DigestVerifyInit(verify.get(), nullptr, wolfSSL_EVP_sha256(), nullptr,
                                      public_key.get()) == WOLFSSL_SUCCESS &&
         wolfSSL_EVP_DigestVerifyUpdate(verify.get(), kProbe, sizeof kProbe) == WOLFSSL_SUCCESS &&
         wolfSSL_EVP_DigestVerifyFinal(verify.get(), signature, signature_len) == WOLFSSL_SUCCESS;
}

const char *ordinal_name(size_t index) {
  static const char *const kNames[] = {"first", "second", "third", "fourth", "fifth"};
  return index < 5 ? kNames[index] : "next";
}

}  // namespace

std::string format_utc(int64_t unix_seconds) {
  time_t t = static_cast<time_t>(unix_seconds);
  struct tm parts {};
  gmtime_r(&t, &parts);
  char buffer[32] = {};
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &parts);
  return buffer;
}

std::vector<std::string> pem_blocks(const std::string &text, const std::string &label) {
  const std::string begin = "-----BEGIN " + label + "-----";
  const std::string end = "-----END " + label + "-----";
  std::vector<std::string> blocks;
  size_t at = 0;
  for (;;) {
    size_t start = text.find(begin, at);
    if (start == std::string::npos) break;
    size_t stop = text.find(end, start + begin.size());
    if (stop == std::string::npos) {
      // A truncated block: keep it so the parser reports it as damaged.
      blocks.push_back(text.substr(start) + "\n");
      break;
    }
    stop += end.size();
    blocks.push_back(text.substr(start, stop - start) + "\n");
    at = stop;
  }
  return blocks;
}

std::vector<uint8_t> certificate_pem_to_der(const std::string &pem_block, int error_status,
                                            const std::string &what) {
  std::vector<uint8_t> der(pem_block.size());
  int len = wc_CertPemToDer(reinterpret_cast<const unsigned char *>(pem_block.data()),
                            static_cast<int>(pem_block.size()), der.data(),
                            static_cast<int>(der.size()), CERT_TYPE);
  if (len <= 0) {
    throw Error(static_cast<prov_status>(error_status),
                what + " is not a valid PEM certificate (" + describe_wolf_error(len) + ")");
  }
  der.resize(static_cast<size_t>(len));
  return der;
}

bool is_certificate_der(const std::vector<uint8_t> &der) {
  ensure_wolfssl_initialized();
  X509Ptr cert(wolfSSL_X509_load_certificate_buffer(der.data(), static_cast<int>(der.size()),
                                                    WOLFSSL_FILETYPE_ASN1));
  return cert != nullptr;
}

std::string der_to_pem(const std::vector<uint8_t> &der, const std::string &label) {
  const std::string body = base64_encode(der.data(), der.size());
  std::string pem = "-----BEGIN " + label + "-----\n";
  for (size_t i = 0; i < body.size(); i += 64) pem += body.substr(i, 64) + "\n";
  pem += "-----END " + label + "-----\n";
  return pem;
}

X509Identity X509Identity::from_files(const std::string &cert_file, const std::string &key_file,
                                      const std::optional<SecretString> &pass_phrase) {
  std::string cert_text = read_credential_file(cert_file, "certificate file");
  SecretString key_text(read_credential_file(key_file, "key file"));
  return load(cert_text, "certificate file \"" + cert_file + "\"", key_text,
              "key file \"" + key_file + "\"", pass_phrase);
}

X509Identity X509Identity::from_pem(const std::string &cert_pem, const SecretString &key_pem,
                                    const std::optional<SecretString> &pass_phrase) {
  return load(cert_pem, "cert_pem", key_pem, "key_pem", pass_phrase);
}

X509Identity X509Identity::load(const std::string &cert_text, const std::string &cert_origin,
                                const SecretString &key_text, const std::string &key_origin,
                                const std::optional<SecretString> &pass_phrase) {
  ensure_wolfssl_initialized();
  X509Identity identity;
  identity.cert_origin_ = cert_origin;

  // --- the certificates, leaf first -------------------------------------
  const std::vector<std::string> blocks = pem_blocks(cert_text, "CERTIFICATE");
  if (blocks.empty()) {
    fail(cert_origin +
         " holds no \"-----BEGIN CERTIFICATE-----\" block (a PEM certificate, leaf first, is "
         "expected)");
  }
  std::vector<X509Ptr> certs;
  for (size_t i = 0; i < blocks.size(); ++i) {
    const std::string which = std::string("the ") + ordinal_name(i) + " certificate in " +
                              cert_origin + (i == 0 ? " (the device certificate)" : "");
    std::vector<uint8_t> der = certificate_pem_to_der(blocks[i], PROV_E_CERTIFICATE, which);
    X509Ptr cert(wolfSSL_X509_load_certificate_buffer(der.data(), static_cast<int>(der.size()),
                                                      WOLFSSL_FILETYPE_ASN1));
    if (!cert) fail(which + " cannot be parsed as an X.509 certificate");
    CertificateSummary summary;
    summary.subject = name_text(wolfSSL_X509_get_subject_name(cert.get()));
    summary.issuer = name_text(wolfSSL_X509_get_issuer_name(cert.get()));
    summary.common_name = common_name(wolfSSL_X509_get_subject_name(cert.get()));
    std::optional<int64_t> not_before = asn1_time_to_unix(wolfSSL_X509_get_notBefore(cert.get()));
    std::optional<int64_t> not_after = asn1_time_to_unix(wolfSSL_X509_get_notAfter(cert.get()));
    if (!not_before || !not_after) {
      fail(which + " ('" + summary.subject + "') has a validity period that cannot be read");
    }
    summary.not_before = *not_before;
    summary.not_after = *not_after;
    summary.self_signed = summary.subject == summary.issuer;
    identity.chain_.push_back(std::move(summary));
    identity.chain_pem_ += der_to_pem(der, "CERTIFICATE");
    certs.push_back(std::move(cert));
  }

  // --- the chain: each certificate issued and signed by the next -----------
  for (size_t i = 0; i + 1 < certs.size(); ++i) {
    const CertificateSummary &child = identity.chain_[i];
    const CertificateSummary &parent = identity.chain_[i + 1];
    if (child.issuer != parent.subject) {
      fail("certificate chain in " + cert_origin + " is not in order: certificate '" +
           child.subject + "' is issued by '" + child.issuer + "' but is followed by '" +
           parent.subject +
           "'; put the device certificate first, then each issuer after the certificate it "
           "signed");
    }
    PkeyPtr parent_key(wolfSSL_X509_get_pubkey(certs[i + 1].get()));
    if (!parent_key || wolfSSL_X509_verify(certs[i].get(), parent_key.get()) != WOLFSSL_SUCCESS) {
      fail("certificate chain in " + cert_origin + ": the signature of certificate '" +
           child.subject + "' does not verify with the public key of the next certificate '" +
           parent.subject + "' (same name, different key?)");
    }
  }

  // --- the private key ------------------------------------------------------
  if (key_text.str().find("-----BEGIN") == std::string::npos) {
    fail(key_origin + " holds no PEM private key (\"-----BEGIN ... PRIVATE KEY-----\")");
  }
  const bool encrypted = key_text.str().find("ENCRYPTED") != std::string::npos;
  if (encrypted && !pass_phrase) {
    fail(key_origin + " holds an encrypted private key but no pass phrase was given");
  }
  std::vector<uint8_t> key_der_buffer(key_text.str().size());
  const int key_len =
      wc_KeyPemToDer(reinterpret_cast<const unsigned char *>(key_text.str().data()),
                     static_cast<int>(key_text.str().size()), key_der_buffer.data(),
                     static_cast<int>(key_der_buffer.size()),
                     encrypted && pass_phrase ? pass_phrase->str().c_str() : nullptr);
  if (key_len <= 0) {
    secure_wipe(key_der_buffer.data(), key_der_buffer.size());
    if (encrypted) {
      fail(key_origin + ": the pass phrase is wrong (the encrypted private key does not decrypt: " +
           describe_wolf_error(key_len) + ")");
    }
    fail(key_origin + " is not a valid PEM private key (" + describe_wolf_error(key_len) + ")");
  }
  key_der_buffer.resize(static_cast<size_t>(key_len));
  SecretBytes key_der(std::move(key_der_buffer));
  const unsigned char *cursor = key_der.data();
  PkeyPtr key(wolfSSL_d2i_AutoPrivateKey(nullptr, &cursor, static_cast<long>(key_der.size())));
  if (!key) {
    if (encrypted) {
      // Legacy PEM encryption (Proc-Type: 4,ENCRYPTED) has no integrity
      // check: a wrong pass phrase yields bytes that do not parse as a key.
      fail(key_origin +
           ": the pass phrase is wrong (the decrypted private key does not parse as RSA or "
           "ECDSA)");
    }
    fail(key_origin + " does not hold an RSA or ECDSA private key that wolfSSL can parse");
  }
  const int key_type = wolfSSL_EVP_PKEY_id(key.get());
  if (key_type != EVP_PKEY_RSA && key_type != EVP_PKEY_EC) {
    fail(key_origin + " holds a private key of an unsupported type (RSA and ECDSA are supported)");
  }
  if (wolfSSL_X509_check_private_key(certs[0].get(), key.get()) != WOLFSSL_SUCCESS ||
      !key_matches_certificate(key.get(), certs[0].get())) {
    fail(key_origin + " does not match the device certificate '" + identity.chain_[0].subject +
         "' in " + cert_origin + " (the key's public half differs from the certificate's)");
  }

  identity.key_pem_ = key_text;
  identity.pass_phrase_ = pass_phrase;
  return identity;
}

void X509Identity::check_for(const std::string &registration_id, int64_t now_s) const {
  const CertificateSummary &leaf = chain_.front();
  if (leaf.common_name.empty()) {
    fail("device certificate '" + leaf.subject + "' in " + cert_origin_ +
         " has no subject CN; DPS requires CN = registration id \"" + registration_id + "\"");
  }
  if (!core::ascii_iequals(leaf.common_name, registration_id)) {
    fail("device certificate '" + leaf.subject + "' in " + cert_origin_ + " has subject CN \"" +
         leaf.common_name + "\", but the registration id is \"" + registration_id +
         "\"; DPS requires them to be equal");
  }
  for (const CertificateSummary &cert : chain_) {
    const std::string which = (&cert == &leaf ? "device certificate '" : "certificate '") +
                              cert.subject + "' in " + cert_origin_;
    if (now_s < cert.not_before) {
      fail(which + " is not yet valid: notBefore " + format_utc(cert.not_before) + ", now " +
           format_utc(now_s));
    }
    if (now_s > cert.not_after) {
      fail(which + " has expired: notAfter " + format_utc(cert.not_after) + ", now " +
           format_utc(now_s));
    }
  }
}

std::string X509Identity::describe_chain() const {
  std::ostringstream text;
  text << "the TLS handshake presented " << chain_.size() << " certificate"
       << (chain_.size() == 1 ? "" : "s") << " from " << cert_origin_ << ": ";
  for (size_t i = 0; i < chain_.size(); ++i) {
    if (i > 0) text << " <- ";
    text << "'" << chain_[i].subject << "'";
  }
  const CertificateSummary &last = chain_.back();
  if (last.self_signed) {
    text << " (complete up to the self-signed '" << last.subject
         << "'): check that an enrollment for this registration id names this certificate's "
            "thumbprint or one of its CAs";
  } else {
    text << "; the chain ends at a certificate issued by '" << last.issuer
         << "', which was not sent: if the enrollment is a group on an intermediate or root CA, "
            "append the missing intermediate certificate(s) to the certificate file after the "
            "device certificate (leaf first)";
  }
  return text.str();
}

}  // namespace prov::auth
