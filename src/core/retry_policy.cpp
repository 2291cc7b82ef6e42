#include "core/retry_policy.h"

#include <algorithm>
#include <string>

#include "core/error.h"

namespace prov::core {

namespace {
// Seeded per policy from a non-deterministic source, mixed with the
// policy's address and the clock: jitter must differ across devices and
// across clients started in the same microsecond in one process.
uint32_t fresh_seed(const void *self) {
  std::random_device device;
  const auto now = static_cast<uint64_t>(Clock::now().time_since_epoch().count());
  const auto address = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(self));
  return static_cast<uint32_t>(device() ^ now ^ (now >> 32) ^ address ^ (address >> 32));
}
}  // namespace

RetryPolicy::RetryPolicy(Settings settings) : settings_(settings), random_(fresh_seed(this)) {}

RetryPolicy::Settings RetryPolicy::validated(uint32_t max_retries, uint32_t initial_backoff_ms,
                                             uint32_t max_backoff_ms) {
  constexpr uint32_t kMaxBackoffMs = 3600000;
  if (initial_backoff_ms < 1 || initial_backoff_ms > kMaxBackoffMs) {
    throw_invalid_arg("initial_backoff_ms " + std::to_string(initial_backoff_ms) +
                      " is out of range (1..3600000 ms)");
  }
  if (max_backoff_ms < initial_backoff_ms || max_backoff_ms > kMaxBackoffMs) {
    throw_invalid_arg("max_backoff_ms " + std::to_string(max_backoff_ms) +
                      " is out of range (initial_backoff_ms " + std::to_string(initial_backoff_ms) +
                      "..3600000 ms)");
  }
  Settings settings;
  settings.max_retries = max_retries;
  settings.initial_backoff = Millis(initial_backoff_ms);
  settings.max_backoff = Millis(max_backoff_ms);
  return settings;
}

Millis RetryPolicy::backoff_ceiling(uint32_t attempt) const {
  int64_t ceiling = settings_.initial_backoff.count();
  for (uint32_t i = 1; i < attempt && ceiling < settings_.max_backoff.count(); ++i) ceiling *= 2;
  return Millis(std::min<int64_t>(ceiling, settings_.max_backoff.count()));
}

std::optional<Millis> RetryPolicy::next_delay(uint32_t attempt,
                                              std::optional<int64_t> retry_after_s) {
  if (attempt > settings_.max_retries) return std::nullopt;
  if (retry_after_s && *retry_after_s >= 0) return Millis(*retry_after_s * 1000);
  // Full jitter: uniform in [0, min(cap, initial * 2^(attempt-1))].
  std::uniform_int_distribution<int64_t> pick(0, backoff_ceiling(attempt).count());
  return Millis(pick(random_));
}

}  // namespace prov::core
