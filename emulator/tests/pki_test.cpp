// Tests of the emulator's PKI module (emulator/src/pki.cpp) with real OpenSSL objects and files:
// dev PKI creation and reuse, X.509 attestation checks, CSR issuance, and `make-cert`.
// A plain program: every failed CHECK is printed, the exit status is 1 when any failed.
#include "../src/pki.h"
#include "../src/ossl_ptr.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace fs = std::filesystem;
using namespace dpsemu::pki;

namespace {

int g_failures = 0;
int g_checks = 0;

void report_failure(const char *file, int line, const std::string &what) {
  std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", file, line, what.c_str());
  ++g_failures;
}

#define CHECK(cond)                                         \
  do {                                                      \
    ++g_checks;                                             \
    if (!(cond)) report_failure(__FILE__, __LINE__, #cond); \
  } while (0)

#define CHECK_CONTAINS(text, needle)                                                            \
  do {                                                                                          \
    ++g_checks;                                                                                 \
    const std::string check_text_ = (text);                                                     \
    if (check_text_.find(needle) == std::string::npos)                                          \
      report_failure(                                                                           \
          __FILE__, __LINE__,                                                                   \
          std::string(#text " contains \"") + (needle) + "\"; it is: \"" + check_text_ + "\""); \
  } while (0)

using Cert = dpsemu::CertPtr;
using Key = dpsemu::PkeyPtr;
using Req = dpsemu::ReqPtr;
using Bio = dpsemu::BioPtr;

class TempDir {
 public:
  TempDir() {
    const char *base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/pki_test.XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string operator/(const std::string &name) const { return path_ + "/" + name; }
  const std::string &path() const { return path_; }

 private:
  std::string path_;
};

std::string read_file(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// The PEM blocks of a file, one certificate each, in file order (as the server hands them over).
std::vector<std::string> pem_blocks(const std::string &text) {
  std::vector<std::string> blocks;
  const std::string end_marker = "-----END CERTIFICATE-----";
  size_t start = 0;
  for (;;) {
    size_t begin = text.find("-----BEGIN CERTIFICATE-----", start);
    if (begin == std::string::npos) break;
    size_t end = text.find(end_marker, begin);
    if (end == std::string::npos) break;
    blocks.push_back(text.substr(begin, end + end_marker.size() - begin) + "\n");
    start = end + end_marker.size();
  }
  return blocks;
}

Cert cert_from_pem(const std::string &pem) {
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  return Cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

Cert cert_from_file(const std::string &path) {
  return cert_from_pem(read_file(path));
}

std::string cn_of(X509 *cert) {
  char buf[256] = {0};
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, buf, sizeof buf);
  return buf;
}

// SHA-256 of the DER, computed here independently of the module's X509_digest.
std::string sha256_hex_of_der(X509 *cert) {
  unsigned char *der = nullptr;
  int len = i2d_X509(cert, &der);
  unsigned char digest[32];
  unsigned int digest_len = 0;
  EVP_Digest(der, static_cast<size_t>(len), digest, &digest_len, EVP_sha256(), nullptr);
  OPENSSL_free(der);
  std::string hex;
  char two[3];
  for (unsigned i = 0; i < digest_len; ++i) {
    std::snprintf(two, sizeof two, "%02x", digest[i]);
    hex += two;
  }
  return hex;
}

mode_t file_mode(const std::string &path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return 0;
  return st.st_mode & 0777;
}

int run_make_cert(std::vector<std::string> args) {
  args.insert(args.begin(), "make-cert");
  std::vector<char *> argv;
  for (auto &arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  return make_cert_main(static_cast<int>(args.size()), argv.data());
}

// Runs make-cert with stdout redirected into a file and returns what it printed.
std::string make_cert_stdout(const TempDir &dir, std::vector<std::string> args, int *rc) {
  std::string out_path = dir / "stdout.txt";
  std::cout.flush();
  std::fflush(stdout);
  int saved = dup(STDOUT_FILENO);
  FILE *out = std::fopen(out_path.c_str(), "w");
  dup2(fileno(out), STDOUT_FILENO);
  *rc = run_make_cert(std::move(args));
  std::cout.flush();
  std::fflush(stdout);
  dup2(saved, STDOUT_FILENO);
  close(saved);
  std::fclose(out);
  return read_file(out_path);
}

bool verify_with_openssl(X509 *leaf, const std::vector<X509 *> &intermediates, X509 *anchor,
                         int purpose, const char *host = nullptr) {
  dpsemu::StorePtr store(X509_STORE_new());
  X509_STORE_add_cert(store.get(), anchor);
  dpsemu::CertStackPtr untrusted(sk_X509_new_null());
  for (X509 *cert : intermediates) {
    X509_up_ref(cert);
    sk_X509_push(untrusted.get(), cert);
  }
  dpsemu::StoreCtxPtr ctx(X509_STORE_CTX_new());
  X509_STORE_CTX_init(ctx.get(), store.get(), leaf, untrusted.get());
  X509_STORE_CTX_set_purpose(ctx.get(), purpose);
  if (host) X509_VERIFY_PARAM_set1_host(X509_STORE_CTX_get0_param(ctx.get()), host, 0);
  int ok = X509_verify_cert(ctx.get());
  if (ok != 1)
    std::fprintf(stderr, "  (openssl verify: %s)\n",
                 X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get())));
  ERR_clear_error();
  return ok == 1;
}

// ------------------------------------------------------------------------------------------
// Dev PKI

void test_dev_pki_created_and_reused() {
  TempDir tmp;
  std::string data_dir = tmp / "data";  // does not exist yet: ensure_dev_pki creates it
  PkiPaths paths = ensure_dev_pki(data_dir, {});
  CHECK(paths.dir == fs::canonical(data_dir + "/pki").string());
  for (const auto &file : {paths.root_ca_cert, paths.root_ca_key, paths.server_cert_chain,
                           paths.server_key, paths.issuing_ca_cert, paths.issuing_ca_key}) {
    CHECK(fs::path(file).is_absolute());
    CHECK(fs::exists(file));
  }
  CHECK(file_mode(paths.root_ca_key) == 0600);
  CHECK(file_mode(paths.server_key) == 0600);
  CHECK(file_mode(paths.issuing_ca_key) == 0600);

  Cert root = cert_from_file(paths.root_ca_cert);
  Cert issuing = cert_from_file(paths.issuing_ca_cert);
  auto server_blocks = pem_blocks(read_file(paths.server_cert_chain));
  CHECK(server_blocks.size() == 2);
  Cert server = cert_from_pem(server_blocks.at(0));
  Cert server_root = cert_from_pem(server_blocks.at(1));
  CHECK(root && issuing && server && server_root);
  CHECK(X509_cmp(root.get(), server_root.get()) == 0);
  CHECK(X509_check_ca(root.get()) == 1);
  CHECK(X509_check_ca(issuing.get()) == 1);
  CHECK(X509_check_ca(server.get()) == 0);
  // Root CA valid for about 10 years, server certificate about 2.
  time_t in_9_years = time(nullptr) + 9L * 365 * 24 * 3600;
  time_t in_3_years = time(nullptr) + 3L * 365 * 24 * 3600;
  CHECK(X509_cmp_time(X509_get0_notAfter(root.get()), &in_9_years) > 0);
  CHECK(X509_cmp_time(X509_get0_notAfter(server.get()), &in_3_years) < 0);
  // SKI/AKI present so clients can build the path.
  CHECK(X509_get0_subject_key_id(root.get()) != nullptr);
  CHECK(X509_get0_authority_key_id(server.get()) != nullptr);
  CHECK(ASN1_OCTET_STRING_cmp(X509_get0_subject_key_id(root.get()),
                              X509_get0_authority_key_id(server.get())) == 0);

  // The server certificate is what a TLS client with hostname checking accepts.
  for (const char *host : {"localhost", "LOCALHOST"})
    CHECK(verify_with_openssl(server.get(), {}, root.get(), X509_PURPOSE_SSL_SERVER, host));
  CHECK(!verify_with_openssl(server.get(), {}, root.get(), X509_PURPOSE_SSL_SERVER, "example.com"));
  CHECK(X509_check_ip_asc(server.get(), "127.0.0.1", 0) == 1);
  CHECK(X509_check_ip_asc(server.get(), "::1", 0) == 1);
  CHECK(cn_of(server.get()) == "localhost");
  CHECK(verify_with_openssl(issuing.get(), {}, root.get(), X509_PURPOSE_ANY));
  // The server key belongs to the server certificate.
  Bio key_bio(BIO_new_file(paths.server_key.c_str(), "r"));
  Key server_key(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
  CHECK(server_key && X509_check_private_key(server.get(), server_key.get()) == 1);

  // Second start: everything reused byte for byte.
  std::string root_pem = read_file(paths.root_ca_cert);
  std::string issuing_pem = read_file(paths.issuing_ca_cert);
  std::string server_pem = read_file(paths.server_cert_chain);
  PkiPaths again = ensure_dev_pki(data_dir, {"localhost", "127.0.0.1"});
  CHECK(again.root_ca_cert == paths.root_ca_cert);
  CHECK(read_file(again.root_ca_cert) == root_pem);
  CHECK(read_file(again.issuing_ca_cert) == issuing_pem);
  CHECK(read_file(again.server_cert_chain) == server_pem);

  // A temporary file left by a killed process is cleaned up.
  std::ofstream(paths.dir + "/root-ca.pem.tmp.AbC123") << "partial";
  ensure_dev_pki(data_dir, {});
  CHECK(!fs::exists(paths.dir + "/root-ca.pem.tmp.AbC123"));
  CHECK(read_file(paths.root_ca_cert) == root_pem);

  // A lost server key re-issues the server certificate only; the root stays trusted.
  fs::remove(paths.server_key);
  ensure_dev_pki(data_dir, {});
  CHECK(fs::exists(paths.server_key));
  CHECK(read_file(paths.root_ca_cert) == root_pem);
  CHECK(read_file(paths.server_cert_chain) != server_pem);
}

void test_dev_pki_reissues_server_cert_for_new_hosts() {
  TempDir tmp;
  PkiPaths paths = ensure_dev_pki(tmp.path(), {});
  std::string root_pem = read_file(paths.root_ca_cert);
  std::string issuing_pem = read_file(paths.issuing_ca_cert);
  std::string server_pem = read_file(paths.server_cert_chain);

  ensure_dev_pki(tmp.path(), {"Global.Azure-Devices-Provisioning.net", "10.1.2.3", "[fe80::1]"});
  CHECK(read_file(paths.root_ca_cert) == root_pem);
  CHECK(read_file(paths.issuing_ca_cert) == issuing_pem);
  std::string reissued_pem = read_file(paths.server_cert_chain);
  CHECK(reissued_pem != server_pem);
  Cert server = cert_from_pem(reissued_pem);
  Cert root = cert_from_pem(root_pem);
  CHECK(verify_with_openssl(server.get(), {}, root.get(), X509_PURPOSE_SSL_SERVER,
                            "global.azure-devices-provisioning.net"));
  CHECK(verify_with_openssl(server.get(), {}, root.get(), X509_PURPOSE_SSL_SERVER, "localhost"));
  CHECK(X509_check_ip_asc(server.get(), "10.1.2.3", 0) == 1);
  CHECK(X509_check_ip_asc(server.get(), "fe80::1", 0) == 1);
  CHECK(X509_check_ip_asc(server.get(), "127.0.0.1", 0) == 1);
  CHECK(X509_check_ip_asc(server.get(), "::1", 0) == 1);

  // A subset of the covered names needs no new certificate.
  ensure_dev_pki(tmp.path(), {"10.1.2.3"});
  CHECK(read_file(paths.server_cert_chain) == reissued_pem);

  // A name that is neither DNS nor IP is refused with an error naming it.
  bool threw = false;
  try {
    ensure_dev_pki(tmp.path(), {"bad host,DNS:evil"});
  } catch (const std::runtime_error &e) {
    threw = true;
    CHECK_CONTAINS(e.what(), "bad host,DNS:evil");
  }
  CHECK(threw);
  CHECK(read_file(paths.server_cert_chain) == reissued_pem);
}

// Several emulator processes (here: threads with their own lock descriptors) starting on the same
// empty data directory end up with one consistent PKI.
void test_dev_pki_concurrent_creation() {
  TempDir tmp;
  std::vector<std::thread> starters;
  std::vector<PkiPaths> results(4);
  std::atomic<int> errors{0};
  for (size_t i = 0; i < results.size(); ++i) {
    starters.emplace_back([&, i] {
      try {
        results[i] = ensure_dev_pki(tmp.path(), {"host-0"});
      } catch (const std::exception &) {
        ++errors;
      }
    });
  }
  for (auto &starter : starters) starter.join();
  CHECK(errors == 0);
  // Inspect the files as the racing starts left them (another call would repair them).
  const PkiPaths &paths = results[0];
  Cert root = cert_from_file(paths.root_ca_cert);
  Cert server = cert_from_file(paths.server_cert_chain);
  Cert issuing = cert_from_file(paths.issuing_ca_cert);
  CHECK(root && server && issuing);
  CHECK(verify_with_openssl(server.get(), {}, root.get(), X509_PURPOSE_SSL_SERVER, "host-0"));
  CHECK(verify_with_openssl(issuing.get(), {}, root.get(), X509_PURPOSE_ANY));
  std::vector<std::string> leftovers;
  for (const auto &entry : fs::directory_iterator(paths.dir))
    if (entry.path().string().find(".tmp.") != std::string::npos) leftovers.push_back(entry.path());
  CHECK(leftovers.empty());
}

void test_dev_pki_unusable_data_dir() {
  TempDir tmp;
  std::ofstream(tmp / "file") << "not a directory";
  bool threw = false;
  try {
    ensure_dev_pki(tmp / "file", {});
  } catch (const std::runtime_error &e) {
    threw = true;
    CHECK(std::string(e.what()).size() > 0);
  }
  CHECK(threw);
}

// ------------------------------------------------------------------------------------------
// Attestation

struct TestCa {
  std::string cert, key;
};

TestCa make_ca(const TempDir &tmp, const std::string &name, const TestCa *issuer = nullptr) {
  TestCa ca{tmp / (name + ".pem"), tmp / (name + ".key")};
  std::vector<std::string> args = {"ca", "--cn", name, "--out-cert", ca.cert, "--out-key", ca.key};
  if (issuer) args.insert(args.end(), {"--issuer-cert", issuer->cert, "--issuer-key", issuer->key});
  int rc = run_make_cert(args);
  CHECK(rc == 0);
  return ca;
}

std::string make_device(const TempDir &tmp, const std::string &cn, const TestCa *issuer,
                        std::vector<std::string> extra = {}) {
  std::string cert = tmp / (cn + ".pem");
  std::vector<std::string> args = {"device",           "--cn", cn, "--out-cert", cert, "--out-key",
                                   tmp / (cn + ".key")};
  if (issuer) args.insert(args.end(), {"--issuer-cert", issuer->cert, "--issuer-key", issuer->key});
  args.insert(args.end(), extra.begin(), extra.end());
  int rc = run_make_cert(args);
  CHECK(rc == 0);
  return cert;
}

void check_rejected(const X509Check &check, const std::string &expected_in_message) {
  CHECK(!check.ok);
  CHECK(check.error_code == 401002);
  CHECK_CONTAINS(check.message, expected_in_message);
}

void test_verify_by_thumbprint() {
  TempDir tmp;
  std::string cert_path = make_device(tmp, "dev-thumb", nullptr);
  Cert cert = cert_from_file(cert_path);
  // Self-signed: issuer = subject, signed by its own key.
  CHECK(X509_NAME_cmp(X509_get_subject_name(cert.get()), X509_get_issuer_name(cert.get())) == 0);
  CHECK(X509_verify(cert.get(), X509_get0_pubkey(cert.get())) == 1);
  std::string sha256 = sha256_hex_of_der(cert.get());
  std::vector<std::string> chain = pem_blocks(read_file(cert_path));
  CHECK(chain.size() == 1);

  X509Check ok = verify_device_chain_against_thumbprint(chain, sha256);
  CHECK(ok.ok);
  CHECK(ok.error_code == 0);
  CHECK(ok.leaf_cn == "dev-thumb");
  CHECK(ok.sha256_thumbprint_hex == sha256);
  CHECK(ok.sha1_thumbprint_hex.size() == 40);

  std::string upper;
  for (size_t i = 0; i < sha256.size(); ++i) {
    if (i && i % 2 == 0) upper += ':';
    upper += static_cast<char>(std::toupper(static_cast<unsigned char>(sha256[i])));
  }
  CHECK(verify_device_chain_against_thumbprint(chain, upper).ok);
  CHECK(verify_device_chain_against_thumbprint(chain, ok.sha1_thumbprint_hex).ok);

  std::string wrong = sha256;
  wrong[0] = wrong[0] == '0' ? '1' : '0';
  X509Check mismatch = verify_device_chain_against_thumbprint(chain, wrong);
  check_rejected(mismatch, "thumbprint mismatch");
  CHECK(mismatch.leaf_cn == "dev-thumb");  // filled although rejected
  CHECK(mismatch.sha256_thumbprint_hex == sha256);
  check_rejected(verify_device_chain_against_thumbprint(chain, ""), "thumbprint");

  // Right thumbprint, but expired.
  std::string expired_path = make_device(tmp, "dev-old", nullptr, {"--expired"});
  Cert expired = cert_from_file(expired_path);
  check_rejected(verify_device_chain_against_thumbprint(pem_blocks(read_file(expired_path)),
                                                        sha256_hex_of_der(expired.get())),
                 "expired");
}

void test_verify_against_cas() {
  TempDir tmp;
  TestCa root = make_ca(tmp, "Test Root");
  TestCa intermediate = make_ca(tmp, "Test Intermediate", &root);
  TestCa other_root = make_ca(tmp, "Other Root");
  Cert intermediate_cert = cert_from_file(intermediate.cert);
  CHECK(X509_check_ca(intermediate_cert.get()) == 1);
  std::string root_pem = read_file(root.cert);
  std::string intermediate_pem = read_file(intermediate.cert);
  std::string other_pem = read_file(other_root.cert);

  // Signed by the root directly.
  auto direct = pem_blocks(read_file(make_device(tmp, "dev-a", &root)));
  X509Check by_root = verify_device_chain_against_cas(direct, {root_pem});
  CHECK(by_root.ok);
  CHECK(by_root.error_code == 0);
  CHECK(by_root.leaf_cn == "dev-a");
  CHECK(by_root.sha256_thumbprint_hex.size() == 64);
  CHECK_CONTAINS(by_root.enrollment_ca_subject, "CN=Test Root");
  // One of several enrollment CAs, also when they arrive as one PEM text.
  CHECK(verify_device_chain_against_cas(direct, {other_pem, root_pem}).ok);
  CHECK(verify_device_chain_against_cas(direct, {other_pem + root_pem}).ok);

  // Through an intermediate the device presents (--chain: leaf + intermediate).
  auto via_intermediate =
      pem_blocks(read_file(make_device(tmp, "dev-b", &intermediate, {"--chain"})));
  CHECK(via_intermediate.size() == 2);
  X509Check chained = verify_device_chain_against_cas(via_intermediate, {root_pem});
  CHECK(chained.ok);
  CHECK(chained.leaf_cn == "dev-b");
  CHECK_CONTAINS(chained.enrollment_ca_subject, "CN=Test Root");
  // The whole chain as one PEM text works the same.
  CHECK(verify_device_chain_against_cas({read_file(tmp / "dev-b.pem")}, {root_pem}).ok);
  // The intermediate itself as the enrollment CA: a trust anchor, no root needed.
  X509Check by_intermediate =
      verify_device_chain_against_cas({via_intermediate.at(0)}, {intermediate_pem});
  CHECK(by_intermediate.ok);
  CHECK_CONTAINS(by_intermediate.enrollment_ca_subject, "CN=Test Intermediate");

  // The device presents leaf + intermediate + root; the enrollment trusts only the intermediate.
  {
    auto full = via_intermediate;
    full.push_back(root_pem);
    X509Check partial = verify_device_chain_against_cas(full, {intermediate_pem});
    CHECK(partial.ok);
    CHECK_CONTAINS(partial.enrollment_ca_subject, "CN=Test Intermediate");
    CHECK(verify_device_chain_against_cas(full, {root_pem}).ok);
  }

  // Missing intermediate: only the leaf presented, enrollment on the root.
  X509Check missing = verify_device_chain_against_cas({via_intermediate.at(0)}, {root_pem});
  check_rejected(missing, "unknown issuer");
  CHECK_CONTAINS(missing.message, "missing intermediate");
  CHECK_CONTAINS(missing.message, "Test Intermediate");
  CHECK(missing.leaf_cn == "dev-b");

  // Certificate of another CA.
  check_rejected(verify_device_chain_against_cas(direct, {other_pem}), "unknown issuer");
  check_rejected(verify_device_chain_against_cas(via_intermediate, {other_pem}), "unknown issuer");

  // Expired device certificate from the right CA.
  auto expired = pem_blocks(read_file(make_device(tmp, "dev-expired", &root, {"--expired"})));
  X509Check expired_check = verify_device_chain_against_cas(expired, {root_pem});
  check_rejected(expired_check, "expired");
  CHECK(expired_check.leaf_cn == "dev-expired");

  // A self-signed device certificate is not accepted by a CA enrollment.
  auto self_signed = pem_blocks(read_file(make_device(tmp, "dev-self", nullptr)));
  check_rejected(verify_device_chain_against_cas(self_signed, {root_pem}), "unknown issuer");

  // A device certificate cannot act as a CA for another one.
  TestCa fake_ca{tmp / "dev-a.pem", tmp / "dev-a.key"};
  CHECK(run_make_cert({"device", "--cn", "dev-c", "--out-cert", tmp / "dev-c.pem", "--out-key",
                       tmp / "dev-c.key", "--issuer-cert", fake_ca.cert, "--issuer-key",
                       fake_ca.key}) == 1);

  // Junk in, clear failure out.
  check_rejected(verify_device_chain_against_cas({}, {root_pem}), "no client certificate");
  check_rejected(verify_device_chain_against_cas({"not a certificate"}, {root_pem}),
                 "device certificate");
  std::string damaged = direct.at(0);
  damaged[damaged.size() / 2] = '!';
  check_rejected(verify_device_chain_against_cas({damaged}, {root_pem}), "device certificate");
  check_rejected(verify_device_chain_against_cas(direct, {}), "no CA certificate");
  check_rejected(verify_device_chain_against_cas(direct, {"garbage"}), "enrollment");
  X509Check damaged_second = verify_device_chain_against_cas({direct.at(0), "junk"}, {root_pem});
  check_rejected(damaged_second, "certificate #2");
  CHECK(damaged_second.leaf_cn == "dev-a");  // the leaf parsed, so its facts are there
  check_rejected(verify_device_chain_against_thumbprint({}, "00"), "no client certificate");
}

// ------------------------------------------------------------------------------------------
// CSR issuance

Key make_ec_key() {
  return Key(EVP_EC_gen("P-256"));
}

Req make_csr(EVP_PKEY *key, const std::string &cn) {
  Req req(X509_REQ_new());
  X509_NAME *name = X509_REQ_get_subject_name(req.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char *>(cn.c_str()), -1, -1, 0);
  X509_REQ_set_pubkey(req.get(), key);
  X509_REQ_sign(req.get(), key, EVP_sha256());
  return req;
}

std::string csr_der(X509_REQ *req) {
  unsigned char *der = nullptr;
  int len = i2d_X509_REQ(req, &der);
  std::string out(reinterpret_cast<char *>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  return out;
}

std::string base64(const std::string &bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int len = EVP_EncodeBlock(reinterpret_cast<unsigned char *>(out.data()),
                            reinterpret_cast<const unsigned char *>(bytes.data()),
                            static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(len));
  return out;
}

Cert cert_from_base64_der(const std::string &b64) {
  std::string der(b64.size(), '\0');
  int len = EVP_DecodeBlock(reinterpret_cast<unsigned char *>(der.data()),
                            reinterpret_cast<const unsigned char *>(b64.data()),
                            static_cast<int>(b64.size()));
  if (len < 0) return nullptr;
  const auto *p = reinterpret_cast<const unsigned char *>(der.data());
  return Cert(d2i_X509(nullptr, &p, len));  // EVP_DecodeBlock's padding zeros are ignored by d2i
}

std::string csr_pem(X509_REQ *req) {
  Bio bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509_REQ(bio.get(), req);
  char *data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

void test_csr_issuance() {
  TempDir tmp;
  PkiPaths paths = ensure_dev_pki(tmp.path(), {});
  Cert root = cert_from_file(paths.root_ca_cert);
  Cert issuing = cert_from_file(paths.issuing_ca_cert);

  for (const char *key_kind : {"ec", "rsa"}) {
    Key key(std::string(key_kind) == "ec" ? EVP_EC_gen("P-256") : EVP_RSA_gen(2048));
    Req req = make_csr(key.get(), "csr-device-1");
    CsrIssue issue = issue_from_csr_der_base64(paths, base64(csr_der(req.get())), "csr-device-1");
    CHECK(issue.ok);
    CHECK(issue.error.empty());
    CHECK(issue.chain_der_base64.size() == 3);
    if (issue.chain_der_base64.size() != 3) continue;
    Cert leaf = cert_from_base64_der(issue.chain_der_base64[0]);
    Cert chain_issuing = cert_from_base64_der(issue.chain_der_base64[1]);
    Cert chain_root = cert_from_base64_der(issue.chain_der_base64[2]);
    CHECK(leaf && chain_issuing && chain_root);
    CHECK(X509_cmp(chain_issuing.get(), issuing.get()) == 0);
    CHECK(X509_cmp(chain_root.get(), root.get()) == 0);
    // Each certificate issues the previous one, and the chain verifies to the dev root for TLS
    // client authentication.
    CHECK(X509_check_issued(chain_issuing.get(), leaf.get()) == X509_V_OK);
    CHECK(X509_check_issued(chain_root.get(), chain_issuing.get()) == X509_V_OK);
    CHECK(verify_with_openssl(leaf.get(), {chain_issuing.get()}, root.get(),
                              X509_PURPOSE_SSL_CLIENT));
    CHECK(cn_of(leaf.get()) == "csr-device-1");
    CHECK(EVP_PKEY_eq(X509_get0_pubkey(leaf.get()), key.get()) == 1);
    CHECK(X509_check_ca(leaf.get()) == 0);
    // And the emulator's own attestation check accepts it through the issuing CA.
    Cert leaf_from_pem = cert_from_pem(issue.leaf_pem);
    CHECK(leaf_from_pem && X509_cmp(leaf_from_pem.get(), leaf.get()) == 0);
    CHECK(issue.trust_bundle_pem == read_file(paths.root_ca_cert));
    CHECK(verify_device_chain_against_cas({issue.leaf_pem}, {read_file(paths.issuing_ca_cert)}).ok);
  }

  // Two issues for the same CSR get different serial numbers.
  Key key = make_ec_key();
  Req req = make_csr(key.get(), "dev-serial");
  std::string b64 = base64(csr_der(req.get()));
  CsrIssue first = issue_from_csr_der_base64(paths, b64, "dev-serial");
  CsrIssue second = issue_from_csr_der_base64(paths, b64, "dev-serial");
  CHECK(first.ok && second.ok);
  if (first.ok && second.ok) {
    Cert a = cert_from_base64_der(first.chain_der_base64[0]);
    Cert b = cert_from_base64_der(second.chain_der_base64[0]);
    CHECK(ASN1_INTEGER_cmp(X509_get0_serialNumber(a.get()), X509_get0_serialNumber(b.get())) != 0);
  }

  // PEM form (2021-11-01-preview).
  CsrIssue pem_issue = issue_from_csr_pem(paths, csr_pem(req.get()), "dev-serial");
  CHECK(pem_issue.ok);
  Cert pem_leaf = cert_from_pem(pem_issue.leaf_pem);
  CHECK(pem_leaf && cn_of(pem_leaf.get()) == "dev-serial");
  CHECK(pem_leaf && EVP_PKEY_eq(X509_get0_pubkey(pem_leaf.get()), key.get()) == 1);
  CHECK(pem_issue.trust_bundle_pem == read_file(paths.root_ca_cert));

  // Wrong CN: the error names both.
  CsrIssue wrong_cn = issue_from_csr_der_base64(paths, b64, "other-device");
  CHECK(!wrong_cn.ok);
  CHECK(wrong_cn.chain_der_base64.empty());
  CHECK_CONTAINS(wrong_cn.error, "'dev-serial'");
  CHECK_CONTAINS(wrong_cn.error, "'other-device'");
  CsrIssue wrong_cn_pem = issue_from_csr_pem(paths, csr_pem(req.get()), "other-device");
  CHECK(!wrong_cn_pem.ok);
  CHECK_CONTAINS(wrong_cn_pem.error, "'other-device'");

  // Tampered signature: flip a bit of the signature value (the last bytes of the DER).
  std::string der = csr_der(req.get());
  std::string tampered_sig = der;
  tampered_sig[tampered_sig.size() - 2] ^= 0x01;
  CsrIssue bad_sig = issue_from_csr_der_base64(paths, base64(tampered_sig), "dev-serial");
  CHECK(!bad_sig.ok);
  CHECK(bad_sig.error == "CSR signature invalid");
  // Tampered subject: "dev-serial" -> "dev-serjal" in the signed part; the signature check comes
  // before the CN check, so the forged CN is not trusted.
  std::string tampered_cn = der;
  size_t at = tampered_cn.find("dev-serial");
  CHECK(at != std::string::npos);
  tampered_cn[at + 7] = 'j';
  CsrIssue forged = issue_from_csr_der_base64(paths, base64(tampered_cn), "dev-serjal");
  CHECK(!forged.ok);
  CHECK(forged.error == "CSR signature invalid");

  // CSR without CN.
  Req no_cn(X509_REQ_new());
  X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(no_cn.get()), "O", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char *>("org"), -1, -1, 0);
  X509_REQ_set_pubkey(no_cn.get(), key.get());
  X509_REQ_sign(no_cn.get(), key.get(), EVP_sha256());
  CsrIssue missing_cn = issue_from_csr_der_base64(paths, base64(csr_der(no_cn.get())), "dev-x");
  CHECK(!missing_cn.ok);
  CHECK_CONTAINS(missing_cn.error, "no CN");

  // Junk.
  for (const std::string &junk :
       {std::string(), std::string("!!!not base64!!!"), base64("definitely not DER"),
        base64(der + "trailing"), base64(der.substr(0, der.size() / 2))}) {
    CsrIssue result = issue_from_csr_der_base64(paths, junk, "dev-serial");
    CHECK(!result.ok);
    CHECK(!result.error.empty());
  }
  for (const std::string &junk : {std::string(),
                                  std::string("-----BEGIN CERTIFICATE REQUEST-----\n"
                                              "AAAA\n-----END CERTIFICATE REQUEST-----\n"),
                                  std::string("plain text")}) {
    CsrIssue result = issue_from_csr_pem(paths, junk, "dev-serial");
    CHECK(!result.ok);
    CHECK(!result.error.empty());
  }
}

// ------------------------------------------------------------------------------------------
// make-cert

void test_describe_certificate() {
  TempDir tmp;
  TestCa root = make_ca(tmp, "Info Root");
  std::string cert_path = make_device(tmp, "dev-info", &root, {"--days", "10"});
  Cert cert = cert_from_file(cert_path);
  CertificateInfo info = describe_certificate(read_file(cert_path));
  CHECK(info.ok);
  CHECK(info.subject_name == "CN=dev-info");
  CHECK(info.issuer_name == "CN=Info Root, O=dps-emulator");
  std::string sha256 = sha256_hex_of_der(cert.get());
  for (auto &c : sha256) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  CHECK(info.sha256_thumbprint == sha256);
  CHECK(info.sha1_thumbprint.size() == 40);
  CHECK(info.serial_number.size() >= 30);
  CHECK(info.version == 3);
  // notAfter is 10 days after now; notBefore one hour before now.
  char expected_after[32];
  time_t after = time(nullptr) + 10L * 24 * 3600;
  std::strftime(expected_after, sizeof expected_after, "%Y-%m-%dT", gmtime(&after));
  CHECK_CONTAINS(info.not_after_utc, expected_after);
  CHECK(info.not_before_utc.size() == 20 && info.not_before_utc.back() == 'Z');
  CHECK(!describe_certificate("junk").ok);
  CHECK(!describe_certificate("").ok);
}

void test_make_cert_credentials() {
  TempDir tmp;
  // RSA device key encrypted with a pass phrase.
  TestCa root = make_ca(tmp, "Key Root");
  std::string cert_path = make_device(
      tmp, "dev-rsa", &root, {"--key-type", "rsa", "--pass-phrase", "s3cret", "--days", "30"});
  std::string key_text = read_file(tmp / "dev-rsa.key");
  CHECK_CONTAINS(key_text, "-----BEGIN ENCRYPTED PRIVATE KEY-----");
  CHECK(file_mode(tmp / "dev-rsa.key") == 0600);
  Cert cert = cert_from_file(cert_path);
  CHECK(cert && cn_of(cert.get()) == "dev-rsa");
  CHECK(EVP_PKEY_is_a(X509_get0_pubkey(cert.get()), "RSA") == 1);
  CHECK(EVP_PKEY_get_bits(X509_get0_pubkey(cert.get())) == 2048);
  time_t in_31_days = time(nullptr) + 31L * 24 * 3600;
  CHECK(X509_cmp_time(X509_get0_notAfter(cert.get()), &in_31_days) < 0);
  {
    Bio bio(BIO_new_mem_buf(key_text.data(), static_cast<int>(key_text.size())));
    Key key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, const_cast<char *>("s3cret")));
    CHECK(key && X509_check_private_key(cert.get(), key.get()) == 1);
  }
  {
    Bio bio(BIO_new_mem_buf(key_text.data(), static_cast<int>(key_text.size())));
    Key key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, const_cast<char *>("wrong")));
    CHECK(!key);
    ERR_clear_error();
  }
  // The pass phrase from a file: its first line.
  std::ofstream(tmp / "pass.txt") << "from-file\nsecond line ignored\n";
  make_device(tmp, "dev-passfile", nullptr, {"--pass-phrase-file", tmp / "pass.txt"});
  {
    std::string text = read_file(tmp / "dev-passfile.key");
    Bio bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
    Key key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, const_cast<char *>("from-file")));
    CHECK(key != nullptr);
    ERR_clear_error();
  }
  CHECK(
      run_make_cert({"device", "--cn", "x", "--out-cert", tmp / "x.pem", "--out-key", tmp / "x.key",
                     "--pass-phrase", "a", "--pass-phrase-file", tmp / "pass.txt"}) == 2);
  CHECK(run_make_cert({"device", "--cn", "x", "--out-cert", tmp / "x.pem", "--out-key",
                       tmp / "x.key", "--pass-phrase", ""}) == 2);

  // The device certificate is a TLS client certificate.
  Cert root_cert = cert_from_file(root.cert);
  CHECK(verify_with_openssl(cert.get(), {}, root_cert.get(), X509_PURPOSE_SSL_CLIENT));

  // thumbprint prints the SHA-256 of the leaf DER (also for a chain file).
  TestCa intermediate = make_ca(tmp, "Key Intermediate", &root);
  std::string chain_path = make_device(tmp, "dev-chain", &intermediate, {"--chain"});
  int rc = -1;
  std::string printed = make_cert_stdout(tmp, {"thumbprint", "--cert", chain_path}, &rc);
  CHECK(rc == 0);
  CHECK(printed == sha256_hex_of_der(cert_from_file(chain_path).get()) + "\n");

  // Usage errors: exit status 2, never a crash.
  CHECK(run_make_cert({}) == 2);
  CHECK(run_make_cert({"--help"}) == 0);
  CHECK(run_make_cert({"device", "--help"}) == 0);
  CHECK(run_make_cert({"bogus"}) == 2);
  CHECK(run_make_cert({"device", "--out-cert", tmp / "x.pem", "--out-key", tmp / "x.key"}) == 2);
  CHECK(run_make_cert({"device", "--cn", "x", "--out-cert", tmp / "x.pem"}) == 2);
  CHECK(run_make_cert({"device", "--cn", "x", "--out-cert", tmp / "x.pem", "--out-key",
                       tmp / "x.key", "--chain"}) == 2);
  CHECK(run_make_cert({"device", "--cn", "x", "--out-cert", tmp / "x.pem", "--out-key",
                       tmp / "x.key", "--days", "ten"}) == 2);
  CHECK(run_make_cert({"device", "--cn", "x", "--out-cert", tmp / "x.pem", "--out-key",
                       tmp / "x.key", "--key-type", "dsa"}) == 2);
  CHECK(run_make_cert({"device", "--cn", "x", "--out-cert", tmp / "x.pem", "--out-key",
                       tmp / "x.key", "--issuer-cert", root.cert}) == 2);
  CHECK(run_make_cert(
            {"ca", "--out-cert", tmp / "x.pem", "--out-key", tmp / "x.key", "--expired"}) == 2);
  CHECK(run_make_cert({"thumbprint"}) == 2);
  CHECK(run_make_cert({"device", "--cn"}) == 2);
  CHECK(!fs::exists(tmp / "x.pem"));
  // A CN over the X.509 limit of 64 characters: a clear failure, no file.
  CHECK(run_make_cert({"device", "--cn", std::string(65, 'a'), "--out-cert", tmp / "x.pem",
                       "--out-key", tmp / "x.key"}) == 1);
  CHECK(run_make_cert({"device", "--cn", std::string(64, 'a'), "--out-cert", tmp / "x64.pem",
                       "--out-key", tmp / "x64.key"}) == 0);
  // Unreadable inputs: exit status 1.
  CHECK(run_make_cert({"thumbprint", "--cert", tmp / "missing.pem"}) == 1);
  CHECK(run_make_cert({"thumbprint", "--cert", tmp / "dev-rsa.key"}) == 1);
  CHECK(
      run_make_cert({"device", "--cn", "x", "--out-cert", tmp / "x.pem", "--out-key", tmp / "x.key",
                     "--issuer-cert", tmp / "missing.pem", "--issuer-key", root.key}) == 1);
  // An issuer key that is not the issuer certificate's.
  CHECK(
      run_make_cert({"device", "--cn", "x", "--out-cert", tmp / "x.pem", "--out-key", tmp / "x.key",
                     "--issuer-cert", root.cert, "--issuer-key", intermediate.key}) == 1);
  // An encrypted issuer key fails instead of prompting on the terminal.
  CHECK(
      run_make_cert({"device", "--cn", "x", "--out-cert", tmp / "x.pem", "--out-key", tmp / "x.key",
                     "--issuer-cert", cert_path, "--issuer-key", tmp / "dev-rsa.key"}) == 1);
  CHECK(!fs::exists(tmp / "x.pem"));
}

}  // namespace

int main() {
  const std::vector<std::pair<const char *, std::function<void()>>> tests = {
      {"dev_pki_created_and_reused", test_dev_pki_created_and_reused},
      {"dev_pki_reissues_server_cert_for_new_hosts",
       test_dev_pki_reissues_server_cert_for_new_hosts},
      {"dev_pki_concurrent_creation", test_dev_pki_concurrent_creation},
      {"dev_pki_unusable_data_dir", test_dev_pki_unusable_data_dir},
      {"verify_by_thumbprint", test_verify_by_thumbprint},
      {"verify_against_cas", test_verify_against_cas},
      {"csr_issuance", test_csr_issuance},
      {"describe_certificate", test_describe_certificate},
      {"make_cert_credentials", test_make_cert_credentials},
  };
  for (const auto &[name, test] : tests) {
    int before = g_failures;
    try {
      test();
    } catch (const std::exception &e) {
      std::fprintf(stderr, "%s: unexpected exception: %s\n", name, e.what());
      ++g_failures;
    }
    std::printf("%s %s\n", g_failures == before ? "PASS" : "FAIL", name);
  }
  std::printf("%d checks, %d failed\n", g_checks, g_failures);
  return g_failures == 0 ? 0 : 1;
}
