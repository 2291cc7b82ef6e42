#include "batch_runner.h"

#include <prov/prov.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <vector>

#include "batch_input.h"
#include "errors.h"
#include "exit_codes.h"
#include "interrupts.h"
#include "issued_files.h"
#include "output.h"

namespace prov_cli {
namespace {

// Writes the result lines on a thread of its own, so that the coordinating
// thread never blocks on a slow or stuck reader (it must keep seeing
// Ctrl-C and completions). Each line is written and flushed on its own, so a
// reader (or an interrupted run) always sees complete lines.
class LineWriter {
 public:
  explicit LineWriter(FILE *stream) : stream_(stream), thread_([this] { run(); }) {}
  ~LineWriter() { stop(); }
  LineWriter(const LineWriter &) = delete;
  LineWriter &operator=(const LineWriter &) = delete;

  // Set when the lines go to the terminal that shows the live progress
  // line: each result line then first erases the bar (redrawn soon after).
  void clear_progress_line_first() { clear_progress_line_ = true; }
  // Held while a line is written to the terminal.
  std::mutex &terminal_mutex() { return terminal_mutex_; }

  void post(std::string line) {
    line += '\n';
    std::lock_guard<std::mutex> lock(mutex_);
    queue_.push_back(std::move(line));
    ready_.notify_one();
  }
  // True when every posted line has been written (or failed).
  bool drained() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return queue_.empty() && !writing_;
  }
  bool failed() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return failed_;
  }
  // Writes what is left, then ends the thread.
  void stop() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
      ready_.notify_one();
    }
    if (thread_.joinable()) thread_.join();
  }

 private:
  void run() {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      ready_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, all written
      std::string line = std::move(queue_.front());
      queue_.pop_front();
      writing_ = true;
      lock.unlock();
      bool ok = write_line(line);
      lock.lock();
      writing_ = false;
      if (!ok) failed_ = true;
    }
  }
  bool write_line(const std::string &line) {
    std::lock_guard<std::mutex> terminal(terminal_mutex_);
    if (clear_progress_line_) std::fputs("\r\x1b[K", stderr);
    return std::fwrite(line.data(), 1, line.size(), stream_) == line.size() &&
           std::fflush(stream_) == 0;
  }

  mutable std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::string> queue_;
  bool writing_ = false;
  bool failed_ = false;
  bool stopping_ = false;
  std::mutex terminal_mutex_;
  FILE *stream_;
  bool clear_progress_line_ = false;
  std::thread thread_;  // last: starts once the members above exist
};

class CompletionQueue;

// One registration in flight: what its completion callback fills in on a
// libprov event-loop thread and hands to the coordinator.
struct AsyncRegistration {
  const BatchEntry *entry = nullptr;
  std::unique_ptr<PendingRegistration> pending;
  CompletionQueue *queue = nullptr;
  int status = PROV_OK;
  prov_result *result = nullptr;
  std::string message;  // prov_last_error_message() of the loop thread
};

// Completions handed from libprov's callbacks to the coordinating thread.
// The callback only stores a pointer (into storage reserved for every
// registration that can be in flight, so it never allocates) and wakes the
// coordinator through an eventfd: it never blocks a loop thread for longer
// than a short lock.
class CompletionQueue {
 public:
  explicit CompletionQueue(size_t capacity) : wake_fd_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
    ready_.reserve(capacity);
    taken_.reserve(capacity);
  }
  ~CompletionQueue() {
    if (wake_fd_ >= 0) close(wake_fd_);
  }
  CompletionQueue(const CompletionQueue &) = delete;
  CompletionQueue &operator=(const CompletionQueue &) = delete;

  int wake_fd() const { return wake_fd_; }
  void push(AsyncRegistration *registration) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      ready_.push_back(registration);
    }
    if (wake_fd_ >= 0) eventfd_write(wake_fd_, 1);
  }
  // The completions so far (valid until the next call).
  const std::vector<AsyncRegistration *> &take() {
    if (wake_fd_ >= 0) {
      eventfd_t ignored = 0;
      eventfd_read(wake_fd_, &ignored);
    }
    taken_.clear();
    std::lock_guard<std::mutex> lock(mutex_);
    taken_.swap(ready_);
    return taken_;
  }

 private:
  int wake_fd_;
  std::mutex mutex_;
  std::vector<AsyncRegistration *> ready_;
  std::vector<AsyncRegistration *> taken_;
};

void registration_completed(int status, prov_result *result, void *user_data) {
  auto *registration = static_cast<AsyncRegistration *>(user_data);
  registration->status = status;
  registration->result = result;
  if (status != PROV_OK) {
    try {
      registration->message = prov_last_error_message();
    } catch (const std::bad_alloc &) {
      // The coordinator falls back to the status's name.
    }
  }
  registration->queue->push(registration);
}

// Descriptors the CLI and libprov need besides one per registration in
// flight (stdio, signalfd, eventfds, the event loops' epoll and curl
// handles, files being read).
constexpr rlim_t kReservedDescriptors = 64;

// Raises the soft RLIMIT_NOFILE to the hard limit when `concurrency`
// registrations (one connection each) would not fit under it. Throws
// UsageError, naming both numbers, when even the hard limit is too low.
void make_room_for_descriptors(int concurrency) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  const rlim_t needed = static_cast<rlim_t>(concurrency) + kReservedDescriptors;
  if (limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur >= needed) return;
  if (limit.rlim_max != RLIM_INFINITY && limit.rlim_max < needed) {
    const rlim_t usable =
        limit.rlim_max > kReservedDescriptors ? limit.rlim_max - kReservedDescriptors : 0;
    throw UsageError("--concurrency " + std::to_string(concurrency) + " needs about " +
                     std::to_string(needed) +
                     " open files (one connection per registration in flight), but the hard "
                     "limit on open files is " +
                     std::to_string(limit.rlim_max) + " (ulimit -Hn); use --concurrency " +
                     std::to_string(usable) + " or less, or raise the hard limit");
  }
  rlimit raised = limit;
  raised.rlim_cur = limit.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &raised) != 0) {
    throw UsageError("--concurrency " + std::to_string(concurrency) + " needs about " +
                     std::to_string(needed) + " open files, but the limit is " +
                     std::to_string(limit.rlim_cur) +
                     " and raising it failed: " + std::strerror(errno));
  }
}

// Ctrl-C escalates: the first lets the registrations in flight finish, the
// second cancels them (each still gets its line, PROV_E_CANCELLED), the
// third quits at once.
enum class InterruptStage { kNone, kDraining, kCancelling };

// Drives the batch from one thread: starts registrations with
// prov_client_register_async while fewer than --concurrency are in flight,
// turns each completion into its line, and reacts to Ctrl-C.
class BatchCoordinator {
 public:
  BatchCoordinator(const RegistrationSettings &settings, const BatchOptions &options,
                   const std::vector<BatchEntry> &entries, LineWriter &writer, BatchStats &stats)
      : settings_(settings),
        options_(options),
        entries_(entries),
        writer_(writer),
        stats_(stats),
        completions_(static_cast<size_t>(options.concurrency)) {}

  bool stopped_by_error() const { return stopped_by_error_; }

  // Returns once nothing is in flight and every line is written; returns
  // the interrupt stage reached (std::_Exit on the third interrupt).
  InterruptStage run(const InterruptSignals &signals, ProgressDisplay &progress) {
    for (;;) {
      start_registrations();
      if (in_flight_.empty() && (stop_starting_ || next_entry_ >= entries_.size()) &&
          writer_.drained()) {
        break;
      }
      if (signals.wait(kCancelRepeatInterval, completions_.wake_fd()) != 0) {
        escalate(progress);
      }
      finish_completed();
      // Repeated while registrations run: cheap, and certain to reach each.
      if (stage_ == InterruptStage::kCancelling) {
        for (const auto &entry : in_flight_) prov_client_cancel(entry.second->pending->client());
      }
      progress.update(stats_.snapshot());
    }
    return stage_;
  }

 private:
  void start_registrations() {
    const size_t limit = static_cast<size_t>(options_.concurrency);
    while (!stop_starting_ && in_flight_.size() < limit && next_entry_ < entries_.size()) {
      const BatchEntry &entry = entries_[next_entry_++];
      try {
        start(entry);
      } catch (const std::exception &) {
        // Out of memory: stop starting, so the lines already written, those
        // in flight and the summary survive.
        stop_starting_ = true;
        stopped_by_error_ = true;
      }
    }
  }

  void start(const BatchEntry &entry) {
    if (!entry.input_error.empty()) {
      stats_.input_rejected();
      writer_.post(input_error_to_json(
          entry.line_number, entry.registration_id,
          "line " + std::to_string(entry.line_number) + ": " + entry.input_error));
      return;
    }
    stats_.registration_started();
    auto registration = std::make_unique<AsyncRegistration>();
    registration->entry = &entry;
    registration->queue = &completions_;
    registration->pending =
        std::make_unique<PendingRegistration>(settings_, entry.registration_id, *entry.credential);
    if (registration->pending->failed()) {
      finish(*registration);
      return;
    }
    AsyncRegistration *key = registration.get();
    in_flight_.emplace(key, std::move(registration));
    int status = prov_client_register_async(key->pending->client(), registration_completed, key);
    if (status != PROV_OK) {
      // The callback will not run: this registration ends here.
      key->status = status;
      key->message = prov_last_error_message();
      std::unique_ptr<AsyncRegistration> owner = std::move(in_flight_[key]);
      in_flight_.erase(key);
      finish(*owner);
    }
  }

  void finish_completed() {
    for (AsyncRegistration *done : completions_.take()) {
      auto found = in_flight_.find(done);
      std::unique_ptr<AsyncRegistration> owner = std::move(found->second);
      in_flight_.erase(found);
      try {
        finish(*owner);
      } catch (const std::exception &) {
        stop_starting_ = true;
        stopped_by_error_ = true;
      }
    }
  }

  // Frees the client (waiting for its callback to have returned), writes
  // the device's line and counts it.
  void finish(AsyncRegistration &registration) {
    prov_result *result = registration.result;
    registration.result = nullptr;
    Outcome outcome =
        registration.pending->failed()
            ? registration.pending->finish(PROV_OK, nullptr, "")
            : registration.pending->finish(registration.status, result, registration.message);
    if (outcome.status == PROV_OK && options_.issued_dir) {
      // Registration ids cannot contain '/' (libprov checks them).
      std::string base = *options_.issued_dir + "/" + registration.entry->registration_id;
      save_issued_files(outcome, {base + ".pem", base + ".key"});
    }
    const BatchLineInfo line_info{registration.entry->line_number, true};
    writer_.post(outcome_to_json(outcome, line_info));
    stats_.registration_finished(outcome);
  }

  void escalate(ProgressDisplay &progress) {
    if (stage_ == InterruptStage::kNone) {
      stage_ = InterruptStage::kDraining;
      stop_starting_ = true;
      progress.message("prov: interrupted; starting no new registrations, waiting for " +
                       std::to_string(stats_.snapshot().in_flight) +
                       " in flight (interrupt again to cancel them)\n");
    } else if (stage_ == InterruptStage::kDraining) {
      stage_ = InterruptStage::kCancelling;
      progress.message("prov: interrupted again; cancelling " +
                       std::to_string(stats_.snapshot().in_flight) +
                       " in flight (interrupt a third time to quit at once)\n");
    } else {
      // Every finished line handed to the writer is written unless the
      // output is stuck. No lock is taken here: the writer may be stuck on a
      // full pipe.
      std::fputs("\n", stderr);
      std::fputs(stats_.summary(true).c_str(), stderr);
      std::fflush(stderr);
      std::_Exit(kExitInterrupted);
    }
  }

  const RegistrationSettings &settings_;
  const BatchOptions &options_;
  const std::vector<BatchEntry> &entries_;
  LineWriter &writer_;
  BatchStats &stats_;
  CompletionQueue completions_;
  std::unordered_map<AsyncRegistration *, std::unique_ptr<AsyncRegistration>> in_flight_;
  size_t next_entry_ = 0;
  bool stop_starting_ = false;
  bool stopped_by_error_ = false;
  InterruptStage stage_ = InterruptStage::kNone;
};

}  // namespace

int run_batch(const RegistrationSettings &settings, const BatchOptions &options) {
  std::vector<BatchEntry> entries = read_batch_file(options.input_path);
  for (BatchEntry &entry : entries) {
    if (entry.credential && entry.credential->kind == KeyKind::kX509 &&
        entry.credential->pass_phrase.empty()) {
      entry.credential->pass_phrase = options.default_pass_phrase;
    }
  }
  make_room_for_descriptors(
      static_cast<int>(std::min(entries.size(), static_cast<size_t>(options.concurrency))));

  FILE *output = stdout;
  if (options.output_path && *options.output_path != "-") {
    output = std::fopen(options.output_path->c_str(), "w");
    if (output == nullptr) {
      throw UsageError("cannot write --output file '" + *options.output_path +
                       "': " + std::strerror(errno));
    }
  }

  // Blocked in every thread (the writer and libprov's threads inherit the
  // mask) and read by the coordinator (InterruptSignals::wait), so no
  // registration is ever interrupted by a signal handler.
  InterruptSignals signals;

  BatchStats stats(entries.size());
  ProgressDisplay progress(options.progress, isatty(STDERR_FILENO) == 1);
  LineWriter writer(output);
  if (progress.live() && output == stdout && isatty(STDOUT_FILENO) == 1) {
    writer.clear_progress_line_first();
    progress.set_terminal_lock(&writer.terminal_mutex());
  }
  // Registrations run as fibers on libprov's event-loop threads: no thread
  // per registration, however many are in flight.
  BatchCoordinator coordinator(settings, options, entries, writer, stats);
  const bool interrupted = coordinator.run(signals, progress) != InterruptStage::kNone;
  writer.stop();
  progress.finish(stats.snapshot());

  bool write_failed = writer.failed();
  if (output != stdout) {
    if (std::fclose(output) != 0) write_failed = true;
  }
  std::fputs(stats.summary(interrupted).c_str(), stderr);

  if (coordinator.stopped_by_error()) {
    std::fputs("prov: error: out of memory; the batch was stopped\n", stderr);
    return kExitOther;
  }
  if (write_failed) {
    std::fputs("prov: error: writing the result lines failed\n", stderr);
    return kExitOther;
  }
  if (interrupted) return kExitInterrupted;
  BatchSnapshot final_counts = stats.snapshot();
  return final_counts.failed == 0 ? kExitAssigned : kExitOther;
}

}  // namespace prov_cli
