#include "transport/trust_anchors.h"

#include <curl/curl.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <array>
#include <list>
#include <mutex>
#include <utility>
#include <vector>

namespace prov::transport {

class TrustAnchors {
 public:
  TrustAnchors() = default;
  TrustAnchors(const TrustAnchors &) = delete;
  TrustAnchors &operator=(const TrustAnchors &) = delete;
  ~TrustAnchors() {
    for (X509 *cert : certs_) X509_free(cert);
  }
  void add(X509 *cert) { certs_.push_back(cert); }
  const std::vector<X509 *> &certs() const { return certs_; }

 private:
  std::vector<X509 *> certs_;  // owned
};

namespace {

using Digest = std::array<unsigned char, 32>;

std::shared_ptr<const TrustAnchors> parse(const std::string &pem) {
  BIO *bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  if (bio == nullptr) return nullptr;
  auto anchors = std::make_shared<TrustAnchors>();
  while (X509 *cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
    // OpenSSL fills an X509's extension cache (key identifiers, flags) on
    // first use, under the certificate's lock but read back by its fast path
    // without one: on a certificate shared by many connections that is a
    // data race (ThreadSanitizer saw it in ASN1_STRING_cmp). Filling it here,
    // before the certificate is published to other threads, leaves only reads.
    X509_check_purpose(cert, -1, 0);
    anchors->add(cert);
  }
  BIO_free(bio);
  ERR_clear_error();  // the end of the PEM leaves a "no start line" on the queue
  if (anchors->certs().empty()) return nullptr;
  return anchors;
}

// A process-wide cache rather than one per client: a fleet program creates a
// client per device with the same CA PEM, so a per-client cache would parse it
// once per registration just the same. It holds public CA certificates only
// (no identity, nothing a client can change): entries are immutable, keyed by
// the PEM's SHA-256, at most kCapacity of them (least recently used evicted),
// and each is freed once evicted and no connection holds it any more.
class AnchorCache {
 public:
  std::shared_ptr<const TrustAnchors> get(const std::string &pem) {
    Digest digest{};
    unsigned int length = 0;
    if (EVP_Digest(pem.data(), pem.size(), digest.data(), &length, EVP_sha256(), nullptr) != 1) {
      return parse(pem);
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (auto it = entries_.begin(); it != entries_.end(); ++it) {
        if (it->first == digest) {
          entries_.splice(entries_.begin(), entries_, it);  // most recently used first
          return entries_.front().second;
        }
      }
    }
    // Parsed outside the lock; two threads may both parse a new PEM once.
    std::shared_ptr<const TrustAnchors> anchors = parse(pem);
    if (anchors == nullptr) return nullptr;
    std::lock_guard<std::mutex> lock(mutex_);
    entries_.emplace_front(digest, anchors);
    if (entries_.size() > kCapacity) entries_.pop_back();
    return anchors;
  }

 private:
  static constexpr size_t kCapacity = 8;
  std::mutex mutex_;
  std::list<std::pair<Digest, std::shared_ptr<const TrustAnchors>>> entries_;
};

}  // namespace

std::shared_ptr<const TrustAnchors> trust_anchors_for(const std::string &pem) {
  static AnchorCache cache;
  return cache.get(pem);
}

bool install_trust_anchors(const TrustAnchors &anchors, void *ssl_ctx) {
  X509_STORE *store = SSL_CTX_get_cert_store(static_cast<SSL_CTX *>(ssl_ctx));
  if (store == nullptr) return false;
  for (X509 *cert : anchors.certs()) {
    // Takes its own reference; a certificate already in the store (a PEM
    // listing one twice) is not an error.
    if (X509_STORE_add_cert(store, cert) != 1) {
      ERR_clear_error();
    }
  }
  return true;
}

int on_tls_context(void *, void *ssl_ctx, void *hook_pointer) {
  auto *hook = static_cast<TlsContextHook *>(hook_pointer);
  hook->tls_started = true;
  if (hook->anchors != nullptr && !install_trust_anchors(*hook->anchors, ssl_ctx)) {
    return CURLE_SSL_CACERT_BADFILE;
  }
  return CURLE_OK;
}

}  // namespace prov::transport
