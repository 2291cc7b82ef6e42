#include "batch_stats.h"

#include <prov/prov.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace prov_cli {
namespace {

std::string format_fixed(double value, int decimals) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", decimals, value);
  return buffer;
}

std::string failure_reason(const Outcome &outcome) {
  std::string reason = prov_status_str(outcome.status);
  if (outcome.result) {
    const ResultFields &fields = *outcome.result;
    if (fields.status && *fields.status != "assigned") {
      reason += " (status " + *fields.status + ")";
    } else if (fields.error_code != 0) {
      reason += " (errorCode " + std::to_string(fields.error_code) + ")";
    }
  }
  return reason;
}

// Nearest-rank percentile of sorted values.
double percentile(const std::vector<double> &sorted, double fraction) {
  if (sorted.empty()) return 0.0;
  size_t rank = static_cast<size_t>(std::ceil(fraction * static_cast<double>(sorted.size())));
  if (rank == 0) rank = 1;
  return sorted[std::min(rank, sorted.size()) - 1];
}

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  long total = static_cast<long>(std::lround(seconds));
  if (total < 60) return std::to_string(total) + "s";
  if (total < 3600) return std::to_string(total / 60) + "m" + std::to_string(total % 60) + "s";
  return std::to_string(total / 3600) + "h" + std::to_string((total % 3600) / 60) + "m";
}

}  // namespace

BatchStats::BatchStats(size_t total) : started_(std::chrono::steady_clock::now()), total_(total) {}

void BatchStats::registration_started() {
  std::lock_guard<std::mutex> lock(mutex_);
  ++in_flight_;
}

void BatchStats::registration_finished(const Outcome &outcome) {
  std::lock_guard<std::mutex> lock(mutex_);
  --in_flight_;
  ++finished_;
  latencies_ms_.push_back(outcome.latency_ms);
  if (outcome.status != PROV_OK) {
    ++failed_;
    ++failures_by_reason_[failure_reason(outcome)];
  } else if (outcome.issued_files && !outcome.issued_files->error.empty()) {
    ++failed_;
    ++failures_by_reason_["saving the issued certificate"];
  }
}

void BatchStats::input_rejected() {
  std::lock_guard<std::mutex> lock(mutex_);
  ++finished_;
  ++failed_;
  ++failures_by_reason_["input error"];
}

BatchSnapshot BatchStats::snapshot() const {
  std::lock_guard<std::mutex> lock(mutex_);
  BatchSnapshot snapshot;
  snapshot.total = total_;
  snapshot.finished = finished_;
  snapshot.failed = failed_;
  snapshot.in_flight = in_flight_;
  snapshot.elapsed_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  return snapshot;
}

std::string BatchStats::summary(bool interrupted) const {
  BatchSnapshot counts = snapshot();
  std::vector<double> sorted;
  std::map<std::string, size_t> failures;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    sorted = latencies_ms_;
    failures = failures_by_reason_;
  }
  std::sort(sorted.begin(), sorted.end());

  size_t not_started = counts.total - counts.finished - counts.in_flight;
  double rate = counts.elapsed_seconds > 0
                    ? static_cast<double>(counts.finished) / counts.elapsed_seconds
                    : 0.0;
  std::string text = std::string("batch summary") + (interrupted ? " (interrupted)" : "") + ": " +
                     std::to_string(counts.total) + " devices, " +
                     std::to_string(counts.finished - counts.failed) + " assigned, " +
                     std::to_string(counts.failed) + " failed, " + std::to_string(not_started) +
                     " not started\n";
  text += "  elapsed " + format_fixed(counts.elapsed_seconds, 2) + " s, throughput " +
          format_fixed(rate, 1) + " registrations/s\n";
  if (failures.empty()) {
    text += "  failures: none\n";
  } else {
    text += "  failures:\n";
    for (const auto &[reason, count] : failures) {
      text += "    " + reason + ": " + std::to_string(count) + "\n";
    }
  }
  if (sorted.empty()) {
    text += "  latency ms: no registrations finished\n";
  } else {
    text += "  latency ms: p50 " + format_fixed(percentile(sorted, 0.50), 1) + ", p90 " +
            format_fixed(percentile(sorted, 0.90), 1) + ", p99 " +
            format_fixed(percentile(sorted, 0.99), 1) + ", max " + format_fixed(sorted.back(), 1) +
            "\n";
  }
  return text;
}

ProgressDisplay::ProgressDisplay(ProgressMode mode, bool stderr_is_terminal)
    : enabled_(mode != ProgressMode::kNever),
      live_(mode == ProgressMode::kAlways || stderr_is_terminal),
      last_draw_(std::chrono::steady_clock::now()) {}

std::string ProgressDisplay::describe(const BatchSnapshot &snapshot) const {
  double rate = snapshot.elapsed_seconds > 0
                    ? static_cast<double>(snapshot.finished) / snapshot.elapsed_seconds
                    : 0.0;
  size_t remaining = snapshot.total - snapshot.finished;
  std::string eta = rate > 0 ? format_duration(static_cast<double>(remaining) / rate) : "?";
  return std::to_string(snapshot.finished) + "/" + std::to_string(snapshot.total) + " done, " +
         std::to_string(snapshot.failed) + " failed, " + std::to_string(snapshot.in_flight) +
         " in flight, " + format_fixed(rate, 1) + "/s, ETA " + eta;
}

void ProgressDisplay::update(const BatchSnapshot &snapshot) {
  if (!enabled_) return;
  auto now = std::chrono::steady_clock::now();
  auto interval = live_ ? std::chrono::milliseconds(100) : std::chrono::milliseconds(2000);
  if (now - last_draw_ < interval) return;
  last_draw_ = now;
  std::string line;
  if (live_) {
    constexpr size_t kBarWidth = 24;
    size_t filled =
        snapshot.total == 0 ? kBarWidth : snapshot.finished * kBarWidth / snapshot.total;
    // \r and "erase to end of line" redraw the same terminal line.
    line = "\r\x1b[K[" + std::string(filled, '#') + std::string(kBarWidth - filled, '-') + "] " +
           describe(snapshot);
    drawn_ = true;
  } else {
    line = "progress: " + describe(snapshot) + "\n";
  }
  std::unique_lock<std::mutex> lock;
  if (terminal_lock_ != nullptr) lock = std::unique_lock<std::mutex>(*terminal_lock_);
  std::fputs(line.c_str(), stderr);
  std::fflush(stderr);
}

void ProgressDisplay::finish(const BatchSnapshot &snapshot) {
  if (!enabled_ || !live_) return;
  last_draw_ = std::chrono::steady_clock::time_point();
  update(snapshot);
  std::unique_lock<std::mutex> lock;
  if (terminal_lock_ != nullptr) lock = std::unique_lock<std::mutex>(*terminal_lock_);
  std::fputs("\n", stderr);
  drawn_ = false;
  std::fflush(stderr);
}

void ProgressDisplay::message(const std::string &text) {
  std::unique_lock<std::mutex> lock;
  if (terminal_lock_ != nullptr) lock = std::unique_lock<std::mutex>(*terminal_lock_);
  if (drawn_) std::fputs("\r\x1b[K", stderr);
  std::fputs(text.c_str(), stderr);
  std::fflush(stderr);
  // Force a redraw of the bar at the next update.
  last_draw_ = std::chrono::steady_clock::time_point();
}

}  // namespace prov_cli
