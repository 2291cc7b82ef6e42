// Counters and latencies of a batch run, the progress display and the final
// summary. BatchStats has a mutex inside (the third Ctrl-C reads it while a
// line may be half written); the progress display is driven by the
// coordinating thread only.
#ifndef PROV_CLI_BATCH_STATS_H
#define PROV_CLI_BATCH_STATS_H

#include <stddef.h>

#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "registration.h"

namespace prov_cli {

struct BatchSnapshot {
  size_t total = 0;
  size_t finished = 0;  // assigned + failed
  size_t failed = 0;
  size_t in_flight = 0;
  double elapsed_seconds = 0.0;
};

class BatchStats {
 public:
  explicit BatchStats(size_t total);

  void registration_started();
  void registration_finished(const Outcome &outcome);
  void input_rejected();

  BatchSnapshot snapshot() const;
  // Multi-line summary for stderr: counts, failures by reason, throughput,
  // latency p50/p90/p99/max.
  std::string summary(bool interrupted) const;

 private:
  mutable std::mutex mutex_;
  std::chrono::steady_clock::time_point started_;
  size_t total_;
  size_t finished_ = 0;
  size_t failed_ = 0;
  size_t in_flight_ = 0;
  std::vector<double> latencies_ms_;
  std::map<std::string, size_t> failures_by_reason_;
};

enum class ProgressMode { kAuto, kAlways, kNever };

// Shows progress on stderr. kAuto: a live single line redrawn in place when
// stderr is a terminal, otherwise a plain line every two seconds. kAlways:
// the live line even when stderr is not a terminal. kNever: nothing.
class ProgressDisplay {
 public:
  ProgressDisplay(ProgressMode mode, bool stderr_is_terminal);
  void update(const BatchSnapshot &snapshot);  // call often; it rate-limits itself
  void finish(const BatchSnapshot &snapshot);  // final redraw and newline
  // Prints a message on its own line without garbling the live bar.
  void message(const std::string &text);
  // True when the live line is drawn (for the result writer to clear it).
  bool live() const { return enabled_ && live_; }
  // When stdout and stderr share a terminal, result lines and the live bar
  // are written under one lock so neither cuts into the other.
  void set_terminal_lock(std::mutex *lock) { terminal_lock_ = lock; }

 private:
  std::string describe(const BatchSnapshot &snapshot) const;

  bool enabled_;
  bool live_;
  bool drawn_ = false;
  std::mutex *terminal_lock_ = nullptr;
  std::chrono::steady_clock::time_point last_draw_;
};

}  // namespace prov_cli

#endif
