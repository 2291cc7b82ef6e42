// RetryPolicy: when and how long to wait before retrying after a transient
// condition (429, 5xx, a dropped or refused connection, no response). A
// service retry-after is honoured as given (never clamped); otherwise
// exponential backoff with full jitter, capped, so that a fleet rebooting
// together does not retry in lock-step.
#ifndef PROV_CORE_RETRY_POLICY_H
#define PROV_CORE_RETRY_POLICY_H

#include <cstdint>
#include <optional>
#include <random>

#include "core/deadline.h"

namespace prov::core {

class RetryPolicy {
 public:
  // Defaults for fleets (documented in prov.h, prov_client_set_retry_policy):
  // ten consecutive retries spread over up to 30 s each, always inside
  // the registration deadline.
  struct Settings {
    uint32_t max_retries = 10;     // consecutive retries; 0 = none
    Millis initial_backoff{1000};  // ceiling of the first backoff
    Millis max_backoff{30000};     // cap of the ceiling
  };

  RetryPolicy() : RetryPolicy(Settings{}) {}
  explicit RetryPolicy(Settings settings);

  // Checks the values of prov_client_set_retry_policy (Error(PROV_E_INVALID_ARG)).
  static Settings validated(uint32_t max_retries, uint32_t initial_backoff_ms,
                            uint32_t max_backoff_ms);

  // Whether a service status is transient (worth re-sending the same request).
  static bool is_transient(int status) { return status == 429 || (status >= 500 && status <= 599); }

  // The delay before retry number `attempt` (1 = first retry): the
  // service's retry-after when it sent one, else the jittered backoff; or
  // nullopt when the retry budget is used up.
  std::optional<Millis> next_delay(uint32_t attempt, std::optional<int64_t> retry_after_s);

  // The backoff ceiling before retry `attempt` (for tests and messages).
  Millis backoff_ceiling(uint32_t attempt) const;

  const Settings &settings() const { return settings_; }

 private:
  Settings settings_;
  std::minstd_rand random_;
};

}  // namespace prov::core

#endif  // PROV_CORE_RETRY_POLICY_H
