// Fault injection state: which configured fault (global or per enrollment) fires for a request.
// Counters live here so "every Nth request", per-minute quotas and "count" limits are exact.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "config.h"

namespace dpsemu {

enum class FaultPhase { kConnect, kRequest };

struct FaultHit {
  FaultSpec spec;
  std::string scope;  // "global" or "enrollment:<id>"
};

class FaultList {
 public:
  FaultList() = default;
  FaultList(std::vector<FaultSpec> specs, std::string scope);

  // Evaluates the faults in order for one event and returns the first that fires. Only faults
  // whose registrationId filter (case-insensitive) matches see the event. Phase kConnect only
  // considers drop-after-connect; kRequest considers everything else (a register request also
  // considers drop-after-register when `is_register`).
  std::optional<FaultHit> evaluate(FaultPhase phase, const std::string &registration_id,
                                   bool is_register, int64_t now_ms);
  std::vector<FaultSpec> specs() const;
  bool empty() const { return entries_.empty(); }

 private:
  struct Entry {
    FaultSpec spec;
    int64_t matched = 0;            // events this fault has seen
    int64_t fired = 0;              // times it has fired
    std::deque<int64_t> window_ms;  // accepted request times in the last minute (perMinute)
  };
  std::vector<Entry> entries_;
  std::string scope_;
};

}  // namespace dpsemu
