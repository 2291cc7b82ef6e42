// Development PKI of dps-emulator (see pki.h). OpenSSL 3 only.
#include "pki.h"

#include "ossl_ptr.h"
#include "util.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>

namespace dpsemu::pki {
namespace {

namespace fs = std::filesystem;

constexpr int kInvalidCertificate = 401002;
constexpr size_t kMaxCsrBytes = 64 * 1024;  // far above any real CSR; bounds the work on junk input

// Drains OpenSSL's error queue into one line. The queue never holds key material, only reasons.
std::string take_openssl_errors() {
  std::string text;
  unsigned long code;
  while ((code = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof buf);
    if (!text.empty()) text += "; ";
    text += buf;
  }
  return text;
}

[[noreturn]] void throw_openssl(const std::string &what) {
  std::string detail = take_openssl_errors();
  throw std::runtime_error(detail.empty() ? what : what + " (" + detail + ")");
}

BioPtr memory_bio(const std::string &text) {
  BioPtr bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
  if (!bio) throw_openssl("out of memory");
  return bio;
}

std::string bio_contents(BIO *bio) {
  char *data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  return len > 0 ? std::string(data, static_cast<size_t>(len)) : std::string();
}

// ---------------------------------------------------------------------------------------------
// Files

std::string read_text_file(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path + ": " + std::strerror(errno));
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// Writes via a temporary file and rename, so readers never see a half-written certificate or key;
// the temporary file is created with the final mode, so a key is never world-readable.
void write_file_atomically(const std::string &path, const std::string &content, mode_t mode) {
  std::string tmp = path + ".tmp.XXXXXX";
  int fd = ::mkostemp(tmp.data(), O_CLOEXEC);  // unique name, created 0600
  if (fd < 0) throw std::runtime_error("cannot create " + tmp + ": " + std::strerror(errno));
  bool ok = ::fchmod(fd, mode) == 0;
  size_t done = 0;
  while (ok && done < content.size()) {
    ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0)
      ok = false;
    else
      done += static_cast<size_t>(n);
  }
  ok = ok && ::fsync(fd) == 0;
  int saved_errno = errno;
  ok = (::close(fd) == 0) && ok;
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    if (ok) saved_errno = errno;
    ::unlink(tmp.c_str());
    throw std::runtime_error("cannot write " + path + ": " + std::strerror(saved_errno));
  }
}

// ---------------------------------------------------------------------------------------------
// Keys, certificates and their text forms

enum class KeyType { kEc, kRsa };

PkeyPtr generate_key(KeyType type) {
  PkeyPtr key(type == KeyType::kEc ? EVP_EC_gen("P-256") : EVP_RSA_gen(2048));
  if (!key) throw_openssl("key generation failed");
  return key;
}

// Never prompts on a terminal (OpenSSL's default when no callback is given): an encrypted key
// without a pass phrase simply fails to load.
int pass_phrase_callback(char *buf, int size, int /*rwflag*/, void *userdata) {
  if (userdata == nullptr || size <= 0) return -1;
  const auto *pass = static_cast<const std::string *>(userdata);
  if (pass->size() > static_cast<size_t>(size)) return -1;
  std::memcpy(buf, pass->data(), pass->size());
  return static_cast<int>(pass->size());
}

std::string key_to_pem(EVP_PKEY *key, const std::string *pass_phrase = nullptr) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  int ok;
  if (pass_phrase != nullptr) {
    // PKCS#8 with AES-256-CBC (PBKDF2): what the Python ssl module and wolfSSL both read.
    ok = PEM_write_bio_PKCS8PrivateKey(bio.get(), key, EVP_aes_256_cbc(), nullptr, 0, nullptr,
                                       const_cast<char *>(pass_phrase->c_str()));
  } else {
    ok = PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
  }
  if (!bio || ok != 1) throw_openssl("cannot encode private key");
  return bio_contents(bio.get());
}

std::string cert_to_pem(X509 *cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) throw_openssl("cannot encode certificate");
  return bio_contents(bio.get());
}

std::string cert_to_der(X509 *cert) {
  unsigned char *der = nullptr;
  int len = i2d_X509(cert, &der);
  if (len <= 0) throw_openssl("cannot encode certificate as DER");
  std::string out(reinterpret_cast<char *>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  return out;
}

// Base64 with optional line breaks and padding; nullopt on anything else.
std::optional<std::string> base64_decode(const std::string &text) {
  EncodeCtxPtr ctx(EVP_ENCODE_CTX_new());
  if (!ctx) return std::nullopt;
  EVP_DecodeInit(ctx.get());
  std::string out(text.size() / 4 * 3 + 3, '\0');
  int len = 0;
  int tail = 0;
  if (EVP_DecodeUpdate(ctx.get(), reinterpret_cast<unsigned char *>(out.data()), &len,
                       reinterpret_cast<const unsigned char *>(text.data()),
                       static_cast<int>(text.size())) < 0)
    return std::nullopt;
  if (EVP_DecodeFinal(ctx.get(), reinterpret_cast<unsigned char *>(out.data()) + len, &tail) != 1)
    return std::nullopt;
  out.resize(static_cast<size_t>(len + tail));
  return out;
}

std::string to_hex(const unsigned char *data, size_t len) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (size_t i = 0; i < len; ++i) {
    out += digits[data[i] >> 4];
    out += digits[data[i] & 0x0f];
  }
  return out;
}

std::string thumbprint_hex(X509 *cert, const EVP_MD *md) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (X509_digest(cert, md, digest, &len) != 1) throw_openssl("cannot hash certificate");
  return to_hex(digest, len);
}

std::string name_to_string(const X509_NAME *name) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || name == nullptr) return std::string();
  // RFC 2253 order (CN first) with ", " between RDNs, as DPS shows names ("CN=dev, O=org").
  const unsigned long flags =
      ((XN_FLAG_RFC2253 & ~XN_FLAG_SEP_MASK) | XN_FLAG_SEP_CPLUS_SPC) & ~ASN1_STRFLGS_ESC_MSB;
  X509_NAME_print_ex(bio.get(), name, 0, flags);
  return bio_contents(bio.get());
}

std::string subject_of(X509 *cert) {
  return name_to_string(X509_get_subject_name(cert));
}

std::string common_name(const X509_NAME *name) {
  int index = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (index < 0) return std::string();
  const ASN1_STRING *value = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, index));
  unsigned char *utf8 = nullptr;
  int len = ASN1_STRING_to_UTF8(&utf8, value);
  if (len < 0) return std::string();
  std::string cn(reinterpret_cast<char *>(utf8), static_cast<size_t>(len));
  OPENSSL_free(utf8);
  return cn;
}

std::string time_to_string(const ASN1_TIME *time) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || ASN1_TIME_print(bio.get(), time) != 1) return "?";
  return bio_contents(bio.get());
}

// All certificates in a PEM text, in order. Throws when the text holds none or is damaged.
std::vector<CertPtr> parse_pem_certificates(const std::string &pem, const std::string &what) {
  std::vector<CertPtr> certs;
  BioPtr bio = memory_bio(pem);
  for (;;) {
    CertPtr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!cert) break;
    certs.push_back(std::move(cert));
  }
  unsigned long err = ERR_peek_last_error();
  bool clean_end = ERR_GET_LIB(err) == ERR_LIB_PEM && ERR_GET_REASON(err) == PEM_R_NO_START_LINE;
  ERR_clear_error();
  if (certs.empty()) throw std::runtime_error(what + " holds no PEM certificate");
  if (!clean_end) throw std::runtime_error(what + " holds a damaged PEM certificate");
  return certs;
}

CertPtr load_certificate_file(const std::string &path) {
  auto certs = parse_pem_certificates(read_text_file(path), path);
  return std::move(certs.front());
}

PkeyPtr load_key_file(const std::string &path, const std::string *pass_phrase = nullptr) {
  std::string text = read_text_file(path);
  BioPtr bio = memory_bio(text);
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, pass_phrase_callback,
                                      const_cast<std::string *>(pass_phrase)));
  OPENSSL_cleanse(text.data(), text.size());
  if (!key) {
    ERR_clear_error();
    throw std::runtime_error(path + " holds no readable private key" +
                             (pass_phrase ? " (wrong pass phrase?)" : " (encrypted?)"));
  }
  return key;
}

// ---------------------------------------------------------------------------------------------
// Issuing certificates

enum class CertRole { kRootCa, kIntermediateCa, kServer, kClient };

struct CertRequest {
  CertRole role = CertRole::kClient;
  std::string common_name;
  std::string organization = "dps-emulator";
  long valid_days = 365;
  bool already_expired = false;   // test credentials: notAfter in the past
  std::string subject_alt_names;  // X509V3 config syntax, e.g. "DNS:localhost,IP:127.0.0.1"
  int path_length = -1;           // CAs only; -1 = unlimited
};

void add_extension(X509 *cert, X509V3_CTX *ctx, int nid, const std::string &value) {
  ExtPtr ext(X509V3_EXT_conf_nid(nullptr, ctx, nid, value.c_str()));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1)
    throw_openssl(std::string("cannot add certificate extension ") + OBJ_nid2sn(nid));
}

void set_random_serial(X509 *cert) {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) throw_openssl("no randomness for the serial number");
  bytes[0] &= 0x7f;  // positive
  bytes[0] |= 0x40;  // and never shorter than 16 bytes
  BnPtr bn(BN_bin2bn(bytes, sizeof bytes, nullptr));
  if (!bn || BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert)) == nullptr)
    throw_openssl("cannot set the serial number");
}

// issuer_cert/issuer_key null => self-signed with subject_key (which must then be a private key).
CertPtr issue_certificate(const CertRequest &request, EVP_PKEY *subject_key, X509 *issuer_cert,
                          EVP_PKEY *issuer_key) {
  CertPtr cert(X509_new());
  if (!cert) throw_openssl("out of memory");
  X509_set_version(cert.get(), X509_VERSION_3);
  set_random_serial(cert.get());

  // RFC 5280's upper bound; OpenSSL would refuse it later with a less helpful message.
  constexpr size_t kMaxCommonName = 64;
  if (request.common_name.empty() || request.common_name.size() > kMaxCommonName)
    throw std::runtime_error("the common name must have 1 to 64 characters (X.509 limit); '" +
                             request.common_name + "' has " +
                             std::to_string(request.common_name.size()));
  // Most general RDN first, so the usual (RFC 2253) rendering reads "CN=...,O=...".
  NamePtr subject(X509_NAME_new());
  if (!subject) throw_openssl("out of memory");
  if (!request.organization.empty() &&
      X509_NAME_add_entry_by_txt(
          subject.get(), "O", MBSTRING_UTF8,
          reinterpret_cast<const unsigned char *>(request.organization.c_str()), -1, -1, 0) != 1)
    throw_openssl("invalid organization name");
  if (X509_NAME_add_entry_by_txt(
          subject.get(), "CN", MBSTRING_UTF8,
          reinterpret_cast<const unsigned char *>(request.common_name.c_str()), -1, -1, 0) != 1)
    throw_openssl("invalid common name");
  X509_set_subject_name(cert.get(), subject.get());
  X509_set_issuer_name(cert.get(),
                       issuer_cert ? X509_get_subject_name(issuer_cert) : subject.get());

  // One hour of slack before "now" tolerates small clock differences between host and device.
  constexpr long kOneHour = 3600;
  if (request.already_expired) {
    X509_time_adj_ex(X509_getm_notBefore(cert.get()), -(request.valid_days + 1), 0, nullptr);
    X509_time_adj_ex(X509_getm_notAfter(cert.get()), -1, 0, nullptr);
  } else {
    X509_time_adj_ex(X509_getm_notBefore(cert.get()), 0, -kOneHour, nullptr);
    X509_time_adj_ex(X509_getm_notAfter(cert.get()), request.valid_days, 0, nullptr);
  }
  if (X509_set_pubkey(cert.get(), subject_key) != 1) throw_openssl("cannot set the public key");

  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer_cert ? issuer_cert : cert.get(), cert.get(), nullptr, nullptr, 0);
  bool is_ca = request.role == CertRole::kRootCa || request.role == CertRole::kIntermediateCa;
  if (is_ca) {
    std::string constraints = "critical,CA:TRUE";
    if (request.path_length >= 0) constraints += ",pathlen:" + std::to_string(request.path_length);
    add_extension(cert.get(), &ctx, NID_basic_constraints, constraints);
    add_extension(cert.get(), &ctx, NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature");
  } else {
    add_extension(cert.get(), &ctx, NID_basic_constraints, "critical,CA:FALSE");
    // keyEncipherment only means something for RSA key transport; EC keys only sign.
    bool rsa = EVP_PKEY_is_a(subject_key, "RSA") == 1;
    add_extension(cert.get(), &ctx, NID_key_usage,
                  rsa ? "critical,digitalSignature,keyEncipherment" : "critical,digitalSignature");
    add_extension(cert.get(), &ctx, NID_ext_key_usage,
                  request.role == CertRole::kServer ? "serverAuth" : "clientAuth");
  }
  add_extension(cert.get(), &ctx, NID_subject_key_identifier, "hash");
  add_extension(cert.get(), &ctx, NID_authority_key_identifier, "keyid:always");
  if (!request.subject_alt_names.empty())
    add_extension(cert.get(), &ctx, NID_subject_alt_name, request.subject_alt_names);

  EVP_PKEY *signing_key = issuer_key ? issuer_key : subject_key;
  if (X509_sign(cert.get(), signing_key, EVP_sha256()) <= 0)
    throw_openssl("cannot sign the certificate");
  return cert;
}

// ---------------------------------------------------------------------------------------------
// The dev PKI in DATA_DIR/pki

constexpr long kRootCaDays = 3650;
constexpr long kIssuingCaDays = 5 * 365;
constexpr long kServerDays = 2 * 365;
constexpr long kRenewServerBeforeDays = 30;

bool is_ip_address(const std::string &host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

// "[::1]" -> "::1", DNS names lower-cased; rejects anything that is neither a DNS name nor an IP
// (also keeps the X509V3 config string we build from these names well-formed).
std::string normalize_host(const std::string &raw) {
  std::string host = raw;
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (is_ip_address(host)) return host;
  bool valid = !host.empty() && host.size() <= 253 && host.front() != '.' && host.front() != '-';
  for (char &c : host) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_' ||
          c == '*'))
      valid = false;
  }
  if (!valid)
    throw std::runtime_error("invalid host name for the server certificate: '" + raw + "'");
  return host;
}

bool certificate_covers_host(X509 *cert, const std::string &host) {
  if (is_ip_address(host)) return X509_check_ip_asc(cert, host.c_str(), 0) == 1;
  return X509_check_host(cert, host.c_str(), host.size(), X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS,
                         nullptr) == 1;
}

bool expires_within_days(X509 *cert, long days) {
  time_t horizon = time(nullptr) + days * 24 * 3600;
  return X509_cmp_time(X509_get0_notAfter(cert), &horizon) < 0;
}

struct KeyedCert {
  CertPtr cert;
  PkeyPtr key;
};

// The pair at cert_path/key_path when both load, match and (when issuer given) were signed by
// issuer; nullopt when anything is missing or wrong, so the caller makes a new one.
std::optional<KeyedCert> load_pair_if_usable(const std::string &cert_path,
                                             const std::string &key_path, X509 *issuer) {
  if (!fs::exists(cert_path) || !fs::exists(key_path)) return std::nullopt;
  try {
    KeyedCert pair{load_certificate_file(cert_path), load_key_file(key_path)};
    bool usable = X509_check_private_key(pair.cert.get(), pair.key.get()) == 1 &&
                  !expires_within_days(pair.cert.get(), 1);
    if (usable && issuer != nullptr)
      usable = X509_verify(pair.cert.get(), X509_get0_pubkey(issuer)) == 1;
    ERR_clear_error();
    if (usable) return pair;
  } catch (const std::runtime_error &) {
    // unreadable => regenerate
  }
  return std::nullopt;
}

void save_pair(const KeyedCert &pair, const std::string &cert_path, const std::string &key_path,
               const std::string &extra_cert_pem = std::string()) {
  std::string key_pem = key_to_pem(pair.key.get());
  write_file_atomically(key_path, key_pem, 0600);
  OPENSSL_cleanse(key_pem.data(), key_pem.size());
  write_file_atomically(cert_path, cert_to_pem(pair.cert.get()) + extra_cert_pem, 0644);
}

std::string random_tag() {
  unsigned char bytes[4];
  if (RAND_bytes(bytes, sizeof bytes) != 1) throw_openssl("no randomness");
  return to_hex(bytes, sizeof bytes);
}

// Serializes PKI creation between emulator processes sharing a data directory.
class DirectoryLock {
 public:
  explicit DirectoryLock(const std::string &dir) {
    std::string path = dir + "/.lock";
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd_ < 0) throw std::runtime_error("cannot open " + path + ": " + std::strerror(errno));
    while (::flock(fd_, LOCK_EX) != 0) {
      if (errno != EINTR) {
        ::close(fd_);
        throw std::runtime_error("cannot lock " + path + ": " + std::strerror(errno));
      }
    }
  }
  ~DirectoryLock() { ::close(fd_); }
  DirectoryLock(const DirectoryLock &) = delete;
  DirectoryLock &operator=(const DirectoryLock &) = delete;

 private:
  int fd_ = -1;
};

// ---------------------------------------------------------------------------------------------
// Attestation helpers

X509Check failure(X509Check check, const std::string &message) {
  check.ok = false;
  check.error_code = kInvalidCertificate;
  check.message = message;
  return check;
}

// Parses the presented chain and fills the leaf facts (also when a later certificate is damaged).
// On a parse problem returns a failed check.
std::optional<X509Check> parse_presented_chain(const std::vector<std::string> &chain_pem,
                                               std::vector<CertPtr> &certs, X509Check &check) {
  if (chain_pem.empty()) return failure(check, "no client certificate was presented");
  auto fill_leaf_facts = [&] {
    X509 *leaf = certs.front().get();
    check.leaf_cn = common_name(X509_get_subject_name(leaf));
    check.sha1_thumbprint_hex = thumbprint_hex(leaf, EVP_sha1());
    check.sha256_thumbprint_hex = thumbprint_hex(leaf, EVP_sha256());
  };
  for (size_t i = 0; i < chain_pem.size(); ++i) {
    std::string what = i == 0 ? "the device certificate"
                              : "certificate #" + std::to_string(i + 1) + " of the presented chain";
    try {
      for (auto &cert : parse_pem_certificates(chain_pem[i], what))
        certs.push_back(std::move(cert));
    } catch (const std::runtime_error &e) {
      if (!certs.empty()) fill_leaf_facts();
      return failure(check, e.what());
    }
  }
  fill_leaf_facts();
  return std::nullopt;
}

std::optional<std::string> validity_problem(X509 *cert, const std::string &what) {
  if (X509_cmp_current_time(X509_get0_notBefore(cert)) > 0)
    return what + " '" + subject_of(cert) + "' is not yet valid (notBefore " +
           time_to_string(X509_get0_notBefore(cert)) + ")";
  if (X509_cmp_current_time(X509_get0_notAfter(cert)) < 0)
    return what + " '" + subject_of(cert) + "' has expired (notAfter " +
           time_to_string(X509_get0_notAfter(cert)) + ")";
  return std::nullopt;
}

std::string normalize_thumbprint(const std::string &text) {
  std::string out;
  for (char c : text) {
    if (c == ':' || std::isspace(static_cast<unsigned char>(c))) continue;
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

std::string describe_verify_error(X509_STORE_CTX *ctx) {
  int error = X509_STORE_CTX_get_error(ctx);
  int depth = X509_STORE_CTX_get_error_depth(ctx);
  X509 *cert = X509_STORE_CTX_get_current_cert(ctx);
  std::string who = cert ? "'" + subject_of(cert) + "'" : "a certificate";
  std::string where = " (chain depth " + std::to_string(depth) + ")";
  switch (error) {
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
      return "unknown issuer: " + who + where + " is issued by '" +
             (cert ? name_to_string(X509_get_issuer_name(cert)) : std::string("?")) +
             "', which is neither an enrollment CA certificate nor in the presented chain "
             "(missing intermediate certificate, or a certificate of another CA)";
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return "certificate " + who + where + " has expired (notAfter " +
             (cert ? time_to_string(X509_get0_notAfter(cert)) : std::string("?")) + ")";
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return "certificate " + who + where + " is not yet valid";
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
      return "the signature of certificate " + who + where + " does not verify";
    case X509_V_ERR_INVALID_CA:
      return "certificate " + who + where + " issues other certificates but is not a CA";
    case X509_V_ERR_PATH_LENGTH_EXCEEDED:
      return "the chain is longer than a CA's path length constraint allows at " + who;
    default:
      return std::string("certificate chain verification failed at ") + who + where + ": " +
             X509_verify_cert_error_string(error);
  }
}

// ---------------------------------------------------------------------------------------------
// CSR issuance

bool equals_ignoring_ascii_case(const std::string &a, const std::string &b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  }
  return true;
}

CsrIssue csr_failure(const std::string &error) {
  CsrIssue issue;
  issue.error = error;
  return issue;
}

CsrIssue issue_from_request(const PkiPaths &paths, X509_REQ *request,
                            const std::string &expected_cn) {
  EVP_PKEY *csr_key = X509_REQ_get0_pubkey(request);
  if (csr_key == nullptr) {
    ERR_clear_error();
    return csr_failure("CSR public key is missing or unsupported");
  }
  if (X509_REQ_verify(request, csr_key) != 1) {
    ERR_clear_error();
    return csr_failure("CSR signature invalid");
  }
  if (EVP_PKEY_is_a(csr_key, "RSA") == 1 && EVP_PKEY_get_bits(csr_key) < 2048)
    return csr_failure("CSR RSA key has " + std::to_string(EVP_PKEY_get_bits(csr_key)) +
                       " bits; at least 2048 are required");
  if (EVP_PKEY_is_a(csr_key, "RSA") != 1 && EVP_PKEY_is_a(csr_key, "EC") != 1)
    return csr_failure("CSR key type is not supported (use EC or RSA)");
  std::string cn = common_name(X509_REQ_get_subject_name(request));
  if (cn.empty())
    return csr_failure("CSR subject has no CN; it must be CN=" + expected_cn +
                       " (the registration id)");
  // Registration ids are case-insensitive at the service, the CSR's CN included.
  if (!equals_ignoring_ascii_case(cn, expected_cn))
    return csr_failure("CSR subject CN '" + cn + "' does not equal the registration id '" +
                       expected_cn + "'");

  CsrIssue issue;
  try {
    CertPtr issuing_ca = load_certificate_file(paths.issuing_ca_cert);
    PkeyPtr issuing_key = load_key_file(paths.issuing_ca_key);
    std::string root_pem = read_text_file(paths.root_ca_cert);
    CertPtr root = std::move(parse_pem_certificates(root_pem, paths.root_ca_cert).front());

    CertRequest leaf_request;
    leaf_request.role = CertRole::kClient;
    leaf_request.common_name = expected_cn;
    leaf_request.organization.clear();
    leaf_request.valid_days = 365;
    CertPtr leaf = issue_certificate(leaf_request, csr_key, issuing_ca.get(), issuing_key.get());

    issue.chain_der_base64 = {base64_encode(cert_to_der(leaf.get())),
                              base64_encode(cert_to_der(issuing_ca.get())),
                              base64_encode(cert_to_der(root.get()))};
    issue.leaf_pem = cert_to_pem(leaf.get());
    issue.trust_bundle_pem = cert_to_pem(root.get());
    issue.ok = true;
  } catch (const std::runtime_error &e) {
    return csr_failure(std::string("certificate issuance failed: ") + e.what());
  }
  return issue;
}

// ---------------------------------------------------------------------------------------------
// make-cert

const char kMakeCertHelp[] =
    "usage: dps-emulator make-cert ca|device|thumbprint [options]\n"
    "\n"
    "Makes X.509 test credentials for devices and enrollments.\n"
    "\n"
    "  make-cert ca --out-cert F --out-key F [--cn NAME] [--key-type ec|rsa] [--days N]\n"
    "               [--issuer-cert F --issuer-key F]\n"
    "      A root CA, or an intermediate CA signed by the issuer when --issuer-* are given.\n"
    "\n"
    "  make-cert device --cn REGID --out-cert F --out-key F [--issuer-cert F --issuer-key F]\n"
    "               [--chain] [--key-type ec|rsa] [--days N] [--expired] [--pass-phrase P | "
    "--pass-phrase-file F]\n"
    "      A device (client) certificate with CN = registration id; self-signed without an\n"
    "      issuer. --chain appends the issuer certificate file (which may itself hold a chain)\n"
    "      so F holds the whole chain leaf first. --expired puts notAfter in the past.\n"
    "      --pass-phrase / --pass-phrase-file (first line of F) write the key as encrypted\n"
    "      PKCS#8 (AES-256-CBC, PBKDF2).\n"
    "\n"
    "  make-cert thumbprint --cert F\n"
    "      Prints the SHA-256 thumbprint (hex of the DER) of the first certificate in F.\n"
    "\n"
    "Keys are EC P-256 unless --key-type rsa (RSA 2048); key files are written with mode 0600.\n";

struct MakeCertOptions {
  std::string out_cert, out_key, cn, issuer_cert, issuer_key, cert, pass_phrase, pass_phrase_file;
  KeyType key_type = KeyType::kEc;
  long days = 0;
  bool chain = false, expired = false, has_pass_phrase = false, help = false;
};

// Parses argv[2..]; throws std::invalid_argument with a message naming the bad option.
MakeCertOptions parse_make_cert_options(const std::string &kind, int argc, char **argv) {
  MakeCertOptions opts;
  auto allowed = [&](const std::string &name) {
    static const std::vector<std::string> ca = {
        "--out-cert", "--out-key", "--cn", "--key-type", "--issuer-cert", "--issuer-key", "--days"};
    static const std::vector<std::string> device = {
        "--out-cert",        "--out-key", "--cn",   "--key-type", "--issuer-cert",
        "--issuer-key",      "--chain",   "--days", "--expired",  "--pass-phrase",
        "--pass-phrase-file"};
    static const std::vector<std::string> thumbprint = {"--cert"};
    const auto &list = kind == "ca" ? ca : kind == "device" ? device : thumbprint;
    return std::find(list.begin(), list.end(), name) != list.end();
  };
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    std::string value;
    bool has_inline_value = false;
    if (arg == "-h" || arg == "--help") {
      opts.help = true;
      continue;
    }
    if (auto eq = arg.find('='); arg.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
      has_inline_value = true;
    }
    if (!allowed(arg))
      throw std::invalid_argument("unknown option for make-cert " + kind + ": " + arg);
    if (arg == "--chain" || arg == "--expired") {
      if (has_inline_value) throw std::invalid_argument(arg + " takes no value");
      (arg == "--chain" ? opts.chain : opts.expired) = true;
      continue;
    }
    if (!has_inline_value) {
      if (i + 1 >= argc) throw std::invalid_argument(arg + " needs a value");
      value = argv[++i];
    }
    if (arg == "--out-cert")
      opts.out_cert = value;
    else if (arg == "--out-key")
      opts.out_key = value;
    else if (arg == "--cn")
      opts.cn = value;
    else if (arg == "--issuer-cert")
      opts.issuer_cert = value;
    else if (arg == "--issuer-key")
      opts.issuer_key = value;
    else if (arg == "--cert")
      opts.cert = value;
    else if (arg == "--pass-phrase") {
      if (opts.has_pass_phrase) throw std::invalid_argument("give the pass phrase only once");
      opts.pass_phrase = value;
      opts.has_pass_phrase = true;
    } else if (arg == "--pass-phrase-file") {
      if (opts.has_pass_phrase) throw std::invalid_argument("give the pass phrase only once");
      opts.pass_phrase_file = value;
      opts.has_pass_phrase = true;
    } else if (arg == "--key-type") {
      if (value == "ec")
        opts.key_type = KeyType::kEc;
      else if (value == "rsa")
        opts.key_type = KeyType::kRsa;
      else
        throw std::invalid_argument("--key-type must be ec or rsa, not '" + value + "'");
    } else if (arg == "--days") {
      char *end = nullptr;
      errno = 0;
      long days = std::strtol(value.c_str(), &end, 10);
      if (value.empty() || *end != '\0' || errno != 0 || days < 1 || days > 36500)
        throw std::invalid_argument("--days must be a whole number from 1 to 36500, not '" + value +
                                    "'");
      opts.days = days;
    }
  }
  return opts;
}

void require(bool condition, const std::string &message) {
  if (!condition) throw std::invalid_argument(message);
}

int make_cert_issue(const std::string &kind, MakeCertOptions &opts) {
  if (!opts.pass_phrase_file.empty()) {
    // Only the first line, so a trailing newline from `echo` is not part of the pass phrase.
    opts.pass_phrase = read_text_file(opts.pass_phrase_file);
    opts.pass_phrase.erase(
        std::min(opts.pass_phrase.find_first_of("\r\n"), opts.pass_phrase.size()));
  }
  bool device = kind == "device";
  require(!opts.out_cert.empty(), "--out-cert is required");
  require(!opts.out_key.empty(), "--out-key is required");
  require(!device || !opts.cn.empty(), "--cn (the registration id) is required");
  require(opts.issuer_cert.empty() == opts.issuer_key.empty(),
          "--issuer-cert and --issuer-key go together");
  require(!opts.chain || !opts.issuer_cert.empty(), "--chain needs --issuer-cert and --issuer-key");
  require(!opts.has_pass_phrase || !opts.pass_phrase.empty(), "the pass phrase must not be empty");

  CertPtr issuer;
  PkeyPtr issuer_key;
  std::string issuer_file_text;
  if (!opts.issuer_cert.empty()) {
    issuer_file_text = read_text_file(opts.issuer_cert);
    issuer = std::move(parse_pem_certificates(issuer_file_text, opts.issuer_cert).front());
    issuer_key = load_key_file(opts.issuer_key);
    if (X509_check_private_key(issuer.get(), issuer_key.get()) != 1) {
      ERR_clear_error();
      throw std::runtime_error(opts.issuer_key + " is not the key of the certificate in " +
                               opts.issuer_cert);
    }
    if (X509_check_ca(issuer.get()) == 0)
      throw std::runtime_error(opts.issuer_cert + " is not a CA certificate");
  }

  CertRequest request;
  if (device) {
    request.role = CertRole::kClient;
    request.common_name = opts.cn;
    request.organization.clear();
    request.valid_days = opts.days ? opts.days : 365;
  } else {
    request.role = issuer ? CertRole::kIntermediateCa : CertRole::kRootCa;
    request.common_name = !opts.cn.empty() ? opts.cn
                          : issuer         ? "dps-emulator Test Intermediate CA"
                                           : "dps-emulator Test Root CA";
    request.valid_days = opts.days ? opts.days : 3650;
  }
  request.already_expired = opts.expired;

  PkeyPtr key = generate_key(opts.key_type);
  CertPtr cert = issue_certificate(request, key.get(), issuer.get(), issuer_key.get());

  std::string cert_pem = cert_to_pem(cert.get());
  if (opts.chain) {
    cert_pem += issuer_file_text;
    if (!cert_pem.empty() && cert_pem.back() != '\n') cert_pem += '\n';
  }
  std::string key_pem = key_to_pem(key.get(), opts.has_pass_phrase ? &opts.pass_phrase : nullptr);
  write_file_atomically(opts.out_key, key_pem, 0600);
  OPENSSL_cleanse(key_pem.data(), key_pem.size());
  write_file_atomically(opts.out_cert, cert_pem, 0644);
  std::cout << "wrote " << opts.out_cert << " (" << subject_of(cert.get()) << ", sha256 thumbprint "
            << thumbprint_hex(cert.get(), EVP_sha256()) << ") and " << opts.out_key << "\n";
  return 0;
}

}  // namespace

// =============================================================================================
// Public API

PkiPaths ensure_dev_pki(const std::string &data_dir, const std::vector<std::string> &extra_hosts) {
  if (data_dir.empty()) throw std::runtime_error("data directory not given");
  std::vector<std::string> hosts = {"localhost", "127.0.0.1", "::1"};
  for (const auto &raw : extra_hosts) {
    std::string host = normalize_host(raw);
    if (std::find(hosts.begin(), hosts.end(), host) == hosts.end()) hosts.push_back(host);
  }

  std::error_code ec;
  fs::path dir = fs::absolute(fs::path(data_dir) / "pki", ec);
  if (ec) throw std::runtime_error("invalid data directory " + data_dir + ": " + ec.message());
  fs::create_directories(dir, ec);
  if (ec) throw std::runtime_error("cannot create " + dir.string() + ": " + ec.message());
  ::chmod(dir.c_str(), 0700);
  dir = fs::canonical(dir, ec);
  if (ec) throw std::runtime_error("cannot resolve " + dir.string() + ": " + ec.message());

  PkiPaths paths;
  paths.dir = dir.string();
  paths.root_ca_cert = (dir / "root-ca.pem").string();
  paths.root_ca_key = (dir / "root-ca.key.pem").string();
  paths.server_cert_chain = (dir / "server-chain.pem").string();
  paths.server_key = (dir / "server.key.pem").string();
  paths.issuing_ca_cert = (dir / "issuing-ca.pem").string();
  paths.issuing_ca_key = (dir / "issuing-ca.key.pem").string();

  DirectoryLock lock(paths.dir);
  // Temporary files left by a process killed mid-write (we hold the lock: none is in use).
  for (const auto &entry : fs::directory_iterator(dir, ec))
    if (entry.path().filename().string().find(".tmp.") != std::string::npos)
      fs::remove(entry.path(), ec);

  // Root CA: a new root invalidates everything signed by the old one.
  std::optional<KeyedCert> root =
      load_pair_if_usable(paths.root_ca_cert, paths.root_ca_key, nullptr);
  bool new_root = !root;
  if (new_root) {
    CertRequest request;
    request.role = CertRole::kRootCa;
    request.common_name = "dps-emulator Dev Root CA " + random_tag();
    request.valid_days = kRootCaDays;
    KeyedCert pair{nullptr, generate_key(KeyType::kEc)};
    pair.cert = issue_certificate(request, pair.key.get(), nullptr, nullptr);
    save_pair(pair, paths.root_ca_cert, paths.root_ca_key);
    root = std::move(pair);
  }
  X509 *root_cert = root->cert.get();
  EVP_PKEY *root_key = root->key.get();

  std::optional<KeyedCert> issuing;
  if (!new_root)
    issuing = load_pair_if_usable(paths.issuing_ca_cert, paths.issuing_ca_key, root_cert);
  if (!issuing) {
    CertRequest request;
    request.role = CertRole::kIntermediateCa;
    request.common_name = "dps-emulator Dev Issuing CA " + random_tag();
    request.valid_days = kIssuingCaDays;
    request.path_length = 0;
    KeyedCert pair{nullptr, generate_key(KeyType::kEc)};
    pair.cert = issue_certificate(request, pair.key.get(), root_cert, root_key);
    save_pair(pair, paths.issuing_ca_cert, paths.issuing_ca_key);
  }

  std::optional<KeyedCert> server;
  if (!new_root) server = load_pair_if_usable(paths.server_cert_chain, paths.server_key, root_cert);
  bool server_ok = server && !expires_within_days(server->cert.get(), kRenewServerBeforeDays);
  for (size_t i = 0; server_ok && i < hosts.size(); ++i)
    server_ok = certificate_covers_host(server->cert.get(), hosts[i]);
  if (!server_ok) {
    CertRequest request;
    request.role = CertRole::kServer;
    request.common_name = hosts.front();
    request.valid_days = kServerDays;
    for (const auto &host : hosts) {
      if (!request.subject_alt_names.empty()) request.subject_alt_names += ",";
      request.subject_alt_names += (is_ip_address(host) ? "IP:" : "DNS:") + host;
    }
    KeyedCert pair{nullptr, generate_key(KeyType::kEc)};
    pair.cert = issue_certificate(request, pair.key.get(), root_cert, root_key);
    save_pair(pair, paths.server_cert_chain, paths.server_key, cert_to_pem(root_cert));
  }
  return paths;
}

X509Check verify_device_chain_against_thumbprint(const std::vector<std::string> &chain_pem,
                                                 const std::string &thumbprint) {
  X509Check check;
  std::vector<CertPtr> certs;
  if (auto failed = parse_presented_chain(chain_pem, certs, check)) return *failed;
  if (auto problem = validity_problem(certs.front().get(), "device certificate"))
    return failure(check, *problem);
  std::string expected = normalize_thumbprint(thumbprint);
  if (expected.empty()) return failure(check, "the enrollment has no certificate thumbprint");
  if (expected != check.sha256_thumbprint_hex && expected != check.sha1_thumbprint_hex)
    return failure(check, "thumbprint mismatch: the device certificate's SHA-256 thumbprint is " +
                              check.sha256_thumbprint_hex + ", the enrollment expects " + expected);
  check.ok = true;
  return check;
}

X509Check verify_device_chain_against_cas(const std::vector<std::string> &chain_pem,
                                          const std::vector<std::string> &ca_pems) {
  X509Check check;
  std::vector<CertPtr> certs;
  if (auto failed = parse_presented_chain(chain_pem, certs, check)) return *failed;
  if (auto problem = validity_problem(certs.front().get(), "device certificate"))
    return failure(check, *problem);

  StorePtr store(X509_STORE_new());
  if (!store) throw_openssl("out of memory");
  size_t anchors = 0;
  for (size_t i = 0; i < ca_pems.size(); ++i) {
    try {
      for (auto &ca : parse_pem_certificates(
               ca_pems[i], "enrollment CA certificate #" + std::to_string(i + 1))) {
        if (X509_STORE_add_cert(store.get(), ca.get()) == 1) ++anchors;
      }
    } catch (const std::runtime_error &e) {
      return failure(check, std::string("enrollment configuration: ") + e.what());
    }
  }
  ERR_clear_error();  // adding a duplicate certificate leaves a harmless error behind
  if (anchors == 0) return failure(check, "the enrollment has no CA certificate");
  // An enrollment CA may be an intermediate; it is trusted as such without its own issuer.
  X509_STORE_set_flags(store.get(), X509_V_FLAG_PARTIAL_CHAIN);

  CertStackPtr untrusted(sk_X509_new_null());
  if (!untrusted) throw_openssl("out of memory");
  for (size_t i = 1; i < certs.size(); ++i) {
    if (!sk_X509_push(untrusted.get(), certs[i].get())) throw_openssl("out of memory");
    X509_up_ref(certs[i].get());
  }
  StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (!ctx ||
      X509_STORE_CTX_init(ctx.get(), store.get(), certs.front().get(), untrusted.get()) != 1)
    throw_openssl("cannot set up certificate verification");
  int verified = X509_verify_cert(ctx.get());
  ERR_clear_error();
  if (verified != 1) return failure(check, describe_verify_error(ctx.get()));

  STACK_OF(X509) *built = X509_STORE_CTX_get0_chain(ctx.get());
  int length = built ? sk_X509_num(built) : 0;
  if (length > 0) {
    check.enrollment_ca_subject = subject_of(sk_X509_value(built, length - 1));
    check.enrollment_ca_pem = cert_to_pem(sk_X509_value(built, length - 1));
  }
  check.ok = true;
  return check;
}

CsrIssue issue_from_csr_der_base64(const PkiPaths &paths, const std::string &csr_b64,
                                   const std::string &expected_cn) {
  if (csr_b64.empty()) return csr_failure("CSR is empty");
  if (csr_b64.size() > kMaxCsrBytes * 2) return csr_failure("CSR is too large");
  std::optional<std::string> der = base64_decode(csr_b64);
  if (!der || der->empty()) return csr_failure("CSR is not valid base64");
  const auto *cursor = reinterpret_cast<const unsigned char *>(der->data());
  ReqPtr request(d2i_X509_REQ(nullptr, &cursor, static_cast<long>(der->size())));
  bool trailing_bytes =
      request && cursor != reinterpret_cast<const unsigned char *>(der->data()) + der->size();
  ERR_clear_error();
  if (!request || trailing_bytes) return csr_failure("CSR is not a DER PKCS#10 request");
  return issue_from_request(paths, request.get(), expected_cn);
}

CsrIssue issue_from_csr_pem(const PkiPaths &paths, const std::string &csr_pem,
                            const std::string &expected_cn) {
  if (csr_pem.empty()) return csr_failure("CSR is empty");
  if (csr_pem.size() > kMaxCsrBytes * 2) return csr_failure("CSR is too large");
  BioPtr bio = memory_bio(csr_pem);
  ReqPtr request(PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  if (!request) return csr_failure("CSR is not a PEM PKCS#10 certificate request");
  return issue_from_request(paths, request.get(), expected_cn);
}

CertificateInfo describe_certificate(const std::string &pem) {
  CertificateInfo info;
  CertPtr cert;
  try {
    cert = std::move(parse_pem_certificates(pem, "certificate").front());
  } catch (const std::runtime_error &) {
    return info;
  }
  info.subject_name = subject_of(cert.get());
  info.issuer_name = name_to_string(X509_get_issuer_name(cert.get()));
  info.sha1_thumbprint = thumbprint_hex(cert.get(), EVP_sha1());
  info.sha256_thumbprint = thumbprint_hex(cert.get(), EVP_sha256());
  std::transform(info.sha1_thumbprint.begin(), info.sha1_thumbprint.end(),
                 info.sha1_thumbprint.begin(), [](unsigned char c) { return std::toupper(c); });
  std::transform(info.sha256_thumbprint.begin(), info.sha256_thumbprint.end(),
                 info.sha256_thumbprint.begin(), [](unsigned char c) { return std::toupper(c); });
  BnPtr serial(ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert.get()), nullptr));
  if (serial) {
    char *hex = BN_bn2hex(serial.get());
    if (hex) info.serial_number = hex;
    OPENSSL_free(hex);
  }
  auto iso8601 = [](const ASN1_TIME *time) {
    struct tm parts {};
    if (ASN1_TIME_to_tm(time, &parts) != 1) return std::string();
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &parts);
    return std::string(buf);
  };
  info.not_before_utc = iso8601(X509_get0_notBefore(cert.get()));
  info.not_after_utc = iso8601(X509_get0_notAfter(cert.get()));
  info.version = static_cast<int>(X509_get_version(cert.get())) + 1;
  ERR_clear_error();
  info.ok = true;
  return info;
}

int make_cert_main(int argc, char **argv) {
  std::string kind = argc >= 2 ? argv[1] : "";
  if (kind.empty() || kind == "-h" || kind == "--help") {
    (kind.empty() ? std::cerr : std::cout) << kMakeCertHelp;
    return kind.empty() ? 2 : 0;
  }
  if (kind != "ca" && kind != "device" && kind != "thumbprint") {
    std::cerr << "make-cert: unknown kind '" << kind << "' (ca, device or thumbprint)\n"
              << kMakeCertHelp;
    return 2;
  }
  MakeCertOptions opts;
  try {
    opts = parse_make_cert_options(kind, argc, argv);
  } catch (const std::invalid_argument &e) {
    std::cerr << "make-cert " << kind << ": " << e.what() << "\n";
    return 2;
  }
  if (opts.help) {
    std::cout << kMakeCertHelp;
    return 0;
  }
  try {
    if (kind == "thumbprint") {
      require(!opts.cert.empty(), "--cert is required");
      CertPtr cert = load_certificate_file(opts.cert);
      std::cout << thumbprint_hex(cert.get(), EVP_sha256()) << "\n";
      return 0;
    }
    return make_cert_issue(kind, opts);
  } catch (const std::invalid_argument &e) {
    std::cerr << "make-cert " << kind << ": " << e.what() << "\n";
    return 2;
  } catch (const std::exception &e) {
    std::cerr << "make-cert " << kind << ": " << e.what() << "\n";
    return 1;
  }
}

}  // namespace dpsemu::pki
