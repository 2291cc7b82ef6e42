#include "core/retry_policy.h"

#include <algorithm>

namespace prov::core {

RetryPolicy::RetryPolicy(Settings settings)
    : settings_(settings),
      // Seeded per client from a non-deterministic source: jitter must differ across devices.
      random_(std::random_device{}()) {}

std::optional<Millis> RetryPolicy::next_delay(uint32_t attempt,
                                              std::optional<int64_t> retry_after_s) {
  if (settings_.max_retries != 0 && attempt > settings_.max_retries) return std::nullopt;
  if (retry_after_s && *retry_after_s >= 0) return Millis(*retry_after_s * 1000);
  // Full jitter: uniform in [0, min(cap, base * 2^(attempt-1))].
  int64_t ceiling = settings_.base_delay.count();
  for (uint32_t i = 1; i < attempt && ceiling < settings_.max_delay.count(); ++i) ceiling *= 2;
  ceiling = std::min<int64_t>(ceiling, settings_.max_delay.count());
  std::uniform_int_distribution<int64_t> pick(0, ceiling);
  return Millis(pick(random_));
}

}  // namespace prov::core
