// RetryPolicy: when and how long to wait before re-sending a request that met
// a transient condition (429, 5xx). A service retry-after is honoured as
// given; otherwise exponential backoff with full jitter, capped, so that a
// fleet rebooting together does not retry in lock-step.
#ifndef PROV_CORE_RETRY_POLICY_H
#define PROV_CORE_RETRY_POLICY_H

#include <cstdint>
#include <optional>
#include <random>

#include "core/deadline.h"

namespace prov::core {

class RetryPolicy {
 public:
  struct Settings {
    Millis base_delay{1000};   // first backoff ceiling
    Millis max_delay{30000};   // backoff ceiling cap
    uint32_t max_retries = 0;  // 0 = as many as the deadline allows
  };

  RetryPolicy() : RetryPolicy(Settings{}) {}
  explicit RetryPolicy(Settings settings);

  // Whether the status is transient (worth re-sending the same request).
  static bool is_transient(int status) { return status == 429 || (status >= 500 && status <= 599); }

  // The delay before retry number `attempt` (1 = first retry), or nullopt
  // when the retry budget is used up.
  std::optional<Millis> next_delay(uint32_t attempt, std::optional<int64_t> retry_after_s);

 private:
  Settings settings_;
  std::minstd_rand random_;
};

}  // namespace prov::core

#endif  // PROV_CORE_RETRY_POLICY_H
