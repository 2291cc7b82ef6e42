// Observer: the progress and log callbacks of one registration, with the
// redaction every log line and progress detail passes through. Copied with
// the options when a registration starts, so callbacks cannot change under
// a running registration.
#ifndef PROV_CORE_OBSERVER_H
#define PROV_CORE_OBSERVER_H

#include <cstdint>
#include <string>
#include <vector>

#include "auth/secret.h"
#include "prov/prov.h"

namespace prov::core {

// Replaces every occurrence of each secret (and of any SAS signature
// "sig=...", "SharedAccessSignature ..." value or PEM private key block) in
// `text` by "<redacted>".
std::string redact(std::string text, const std::vector<auth::SecretString> &secrets);

class Observer {
 public:
  void set_progress(prov_progress_callback callback, void *user_data) {
    progress_ = callback;
    progress_user_ = user_data;
  }
  void set_log(prov_log_callback callback, int min_level, void *user_data) {
    log_ = callback;
    log_min_level_ = min_level;
    log_user_ = user_data;
  }
  // Exact strings no message may contain (the key, the SAS token, ...).
  void add_secret(const auth::SecretString &secret) {
    if (!secret.str().empty()) secrets_.push_back(secret);
  }

  bool logs(int level) const { return log_ != nullptr && level >= log_min_level_; }
  // Never throws; the callbacks are the user's, exceptions cannot cross them.
  void log(int level, const std::string &message) const noexcept;
  void progress(prov_progress_state state, const std::string &detail,
                uint32_t retry_after_ms = 0) const noexcept;

 private:
  prov_progress_callback progress_ = nullptr;
  void *progress_user_ = nullptr;
  prov_log_callback log_ = nullptr;
  int log_min_level_ = PROV_LOG_INFO;
  void *log_user_ = nullptr;
  std::vector<auth::SecretString> secrets_;
};

}  // namespace prov::core

#endif  // PROV_CORE_OBSERVER_H
