// Deadline and WaitBudget: every wait in a registration is bounded by the
// overall register deadline and by the per-step response timeout, whichever
// comes first. A timeout names the step it interrupted and which limit hit.
#ifndef PROV_CORE_DEADLINE_H
#define PROV_CORE_DEADLINE_H

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>

namespace prov::core {

class CancelSignal;

using Clock = std::chrono::steady_clock;
using Millis = std::chrono::milliseconds;

class Deadline {
 public:
  static Deadline after(Millis duration) { return Deadline(Clock::now() + duration); }
  explicit Deadline(Clock::time_point at) : at_(at) {}

  Clock::time_point at() const { return at_; }
  bool expired() const { return Clock::now() >= at_; }
  // Time left, never negative.
  Millis remaining() const {
    auto left = std::chrono::duration_cast<Millis>(at_ - Clock::now());
    return std::max(left, Millis(0));
  }
  Deadline earliest(const Deadline &other) const { return Deadline(std::min(at_, other.at_)); }

 private:
  Clock::time_point at_;
};

// The limits in force for one registration.
class WaitBudget {
 public:
  // `cancel` (may be null: not cancellable) must outlive the budget; every
  // wait bounded by this budget also wakes when it is signalled.
  WaitBudget(uint32_t register_timeout_ms, uint32_t response_timeout_ms,
             const CancelSignal *cancel = nullptr)
      : overall_(Deadline::after(Millis(register_timeout_ms))),
        register_timeout_ms_(register_timeout_ms),
        response_timeout_ms_(response_timeout_ms),
        cancel_(cancel) {}

  const CancelSignal *cancel() const { return cancel_; }

  const Deadline &overall() const { return overall_; }
  // Deadline for one network step started now.
  Deadline step() const { return Deadline::after(Millis(response_timeout_ms_)).earliest(overall_); }
  uint32_t response_timeout_ms() const { return response_timeout_ms_; }
  uint32_t register_timeout_ms() const { return register_timeout_ms_; }

  // The message for a wait on `step_name` that ran out: names the step and
  // which limit expired.
  std::string timeout_message(const std::string &step_name) const {
    if (overall_.expired()) {
      return "registration deadline of " + std::to_string(register_timeout_ms_) +
             " ms expired while waiting for " + step_name;
    }
    return "timed out after " + std::to_string(response_timeout_ms_) + " ms waiting for " +
           step_name;
  }

 private:
  Deadline overall_;
  uint32_t register_timeout_ms_;
  uint32_t response_timeout_ms_;
  const CancelSignal *cancel_;
};

}  // namespace prov::core

#endif  // PROV_CORE_DEADLINE_H
