#include "transport/tls_sessions.h"

#include <curl/curl.h>
#include <openssl/evp.h>

#include <array>
#include <mutex>
#include <vector>

namespace prov::transport {

namespace {

using Digest = std::array<unsigned char, 32>;

// One libcurl share holding the session cache of the connections that trust
// one CA PEM. libcurl calls lock/unlock around every access from any thread.
struct SessionShare {
  Digest trust{};
  bool system_store = false;
  CURLSH *share = nullptr;
  std::array<std::mutex, CURL_LOCK_DATA_LAST> locks;
};

void lock_share(CURL *, curl_lock_data data, curl_lock_access, void *user) {
  static_cast<SessionShare *>(user)->locks.at(static_cast<size_t>(data)).lock();
}

void unlock_share(CURL *, curl_lock_data data, void *user) {
  static_cast<SessionShare *>(user)->locks.at(static_cast<size_t>(data)).unlock();
}

// Never freed: an easy handle may use a share until the process exits, and a
// share cannot be cleaned up while one does. A process uses one or two CA PEMs
// in practice; beyond kMaxShares distinct ones, new ones get no resumption
// rather than unbounded memory.
class ShareRegistry {
 public:
  CURLSH *share_for(const std::optional<std::string> &ca_pem) {
    Digest digest{};
    if (ca_pem) {
      unsigned int length = 0;
      if (EVP_Digest(ca_pem->data(), ca_pem->size(), digest.data(), &length, EVP_sha256(),
                     nullptr) != 1) {
        return nullptr;
      }
    }
    const bool system_store = !ca_pem.has_value();
    std::lock_guard<std::mutex> lock(mutex_);
    for (SessionShare *existing : shares_) {
      if (existing->system_store == system_store && existing->trust == digest) {
        return existing->share;
      }
    }
    if (shares_.size() >= kMaxShares) return nullptr;
    auto *created = new SessionShare;
    created->trust = digest;
    created->system_store = system_store;
    created->share = curl_share_init();
    if (created->share == nullptr ||
        curl_share_setopt(created->share, CURLSHOPT_LOCKFUNC, &lock_share) != CURLSHE_OK ||
        curl_share_setopt(created->share, CURLSHOPT_UNLOCKFUNC, &unlock_share) != CURLSHE_OK ||
        curl_share_setopt(created->share, CURLSHOPT_USERDATA, created) != CURLSHE_OK ||
        curl_share_setopt(created->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION) !=
            CURLSHE_OK) {
      if (created->share != nullptr) curl_share_cleanup(created->share);
      delete created;
      return nullptr;
    }
    shares_.push_back(created);
    return created->share;
  }

 private:
  static constexpr size_t kMaxShares = 8;
  std::mutex mutex_;
  std::vector<SessionShare *> shares_;
};

ShareRegistry &registry() {
  static ShareRegistry *shares = new ShareRegistry;  // outlives every connection
  return *shares;
}

}  // namespace

bool share_tls_sessions(void *curl_easy, const std::optional<std::string> &ca_pem) {
  CURLSH *share = registry().share_for(ca_pem);
  if (share == nullptr) return false;
  return curl_easy_setopt(static_cast<CURL *>(curl_easy), CURLOPT_SHARE, share) == CURLE_OK;
}

}  // namespace prov::transport
