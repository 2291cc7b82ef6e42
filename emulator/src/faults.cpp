#include "faults.h"

#include "util.h"

namespace dpsemu {

FaultList::FaultList(std::vector<FaultSpec> specs, std::string scope) : scope_(std::move(scope)) {
  for (auto &spec : specs) entries_.push_back(Entry{std::move(spec), 0, 0, {}});
}

std::vector<FaultSpec> FaultList::specs() const {
  std::vector<FaultSpec> out;
  for (const auto &e : entries_) out.push_back(e.spec);
  return out;
}

std::optional<FaultHit> FaultList::evaluate(FaultPhase phase, const std::string &registration_id,
                                            bool is_register, int64_t now_ms) {
  for (auto &e : entries_) {
    const FaultSpec &f = e.spec;
    if (!f.registration_id.empty() && !iequals(f.registration_id, registration_id)) continue;
    bool is_drop = f.type == FaultSpec::Type::kDrop;
    if (phase == FaultPhase::kConnect) {
      if (!is_drop || f.drop_after != "connect") continue;
    } else {
      if (is_drop && (f.drop_after != "register" || !is_register)) continue;
      // A failed allocation is the outcome of a register request; status queries pass by.
      if (f.type == FaultSpec::Type::kAllocationFailed && !is_register) continue;
    }
    if (f.count && e.fired >= *f.count) continue;
    ++e.matched;
    bool fires = false;
    if (f.type == FaultSpec::Type::kThrottle && f.per_minute > 0) {
      while (!e.window_ms.empty() && now_ms - e.window_ms.front() >= 60000) e.window_ms.pop_front();
      if (static_cast<int>(e.window_ms.size()) >= f.per_minute) {
        fires = true;
      } else {
        e.window_ms.push_back(now_ms);
      }
    } else if (f.every > 0) {
      fires = e.matched % f.every == 0;
    } else {
      fires = true;  // drop, silent, wrongRid (and the rest without 'every'): every event
    }
    if (fires) {
      ++e.fired;
      return FaultHit{f, scope_};
    }
  }
  return std::nullopt;
}

}  // namespace dpsemu
