#include "batch_runner.h"

#include <prov/prov.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <vector>

#include "batch_input.h"
#include "errors.h"
#include "exit_codes.h"
#include "interrupts.h"
#include "issued_files.h"
#include "output.h"

namespace prov_cli {
namespace {

// Writes whole lines from many threads; each line is flushed at once so a
// reader (or an interrupted run) always sees complete lines. The JSON
// formatting also happens under the lock because cJSON's parser writes a
// global error pointer.
class LineWriter {
 public:
  explicit LineWriter(FILE *stream) : stream_(stream) {}

  // Set when the lines go to the terminal that shows the live progress
  // line: each result line then first erases the bar (redrawn soon after).
  void clear_progress_line_first() { clear_progress_line_ = true; }
  std::mutex &mutex() { return mutex_; }

  template <typename Format>
  void write(Format &&format) {
    std::lock_guard<std::mutex> lock(mutex_);
    std::string line = format();
    line += '\n';
    if (clear_progress_line_) std::fputs("\r\x1b[K", stderr);
    if (std::fwrite(line.data(), 1, line.size(), stream_) != line.size() ||
        std::fflush(stream_) != 0) {
      failed_ = true;
    }
  }
  bool failed() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return failed_;
  }

 private:
  mutable std::mutex mutex_;
  FILE *stream_;
  bool failed_ = false;
  bool clear_progress_line_ = false;
};

struct SharedState {
  const RegistrationSettings *settings = nullptr;
  const BatchOptions *options = nullptr;
  const std::vector<BatchEntry> *entries = nullptr;
  std::atomic<size_t> next_entry{0};
  std::atomic<bool> stop_requested{false};
  std::atomic<int> workers_running{0};
  std::atomic<bool> worker_error{false};
  LineWriter *writer = nullptr;
  BatchStats *stats = nullptr;
  InFlightClients *in_flight = nullptr;
};

void process_entry(SharedState &state, const BatchEntry &entry) {
  if (!entry.input_error.empty()) {
    state.stats->input_rejected();
    state.writer->write([&entry] {
      return input_error_to_json(
          entry.line_number, entry.registration_id,
          "line " + std::to_string(entry.line_number) + ": " + entry.input_error);
    });
    return;
  }
  state.stats->registration_started();
  Outcome outcome;
  try {
    outcome =
        register_device(*state.settings, entry.registration_id, *entry.credential, state.in_flight);
  } catch (const std::exception &error) {
    // Only allocation failures can get here; the device still gets its line.
    outcome.registration_id = entry.registration_id;
    outcome.status = PROV_E_NOMEM;
    outcome.step = "register";
    outcome.message = error.what();
  }
  if (outcome.status == PROV_OK && state.options->issued_dir) {
    // Registration ids cannot contain '/' (libprov checks them).
    std::string base = *state.options->issued_dir + "/" + entry.registration_id;
    save_issued_files(outcome, {base + ".pem", base + ".key"});
  }
  const BatchLineInfo line_info{entry.line_number, true};
  state.writer->write([&outcome, &line_info] { return outcome_to_json(outcome, line_info); });
  state.stats->registration_finished(outcome);
}

void worker_loop(SharedState &state) {
  try {
    while (!state.stop_requested.load()) {
      size_t index = state.next_entry.fetch_add(1);
      if (index >= state.entries->size()) break;
      process_entry(state, (*state.entries)[index]);
    }
  } catch (const std::exception &) {
    // Out of memory while writing a line: stop the batch rather than abort,
    // so the lines already written and the summary survive.
    state.stop_requested = true;
    state.worker_error = true;
  }
  state.workers_running.fetch_sub(1);
}

// Ctrl-C escalates: the first lets the registrations in flight finish, the
// second cancels them (each still gets its line, PROV_E_CANCELLED), the
// third quits at once.
enum class InterruptStage { kNone, kDraining, kCancelling };

}  // namespace

int run_batch(const RegistrationSettings &settings, const BatchOptions &options) {
  std::vector<BatchEntry> entries = read_batch_file(options.input_path);
  for (BatchEntry &entry : entries) {
    if (entry.credential && entry.credential->kind == KeyKind::kX509 &&
        entry.credential->pass_phrase.empty()) {
      entry.credential->pass_phrase = options.default_pass_phrase;
    }
  }

  FILE *output = stdout;
  if (options.output_path && *options.output_path != "-") {
    output = std::fopen(options.output_path->c_str(), "w");
    if (output == nullptr) {
      throw UsageError("cannot write --output file '" + *options.output_path +
                       "': " + std::strerror(errno));
    }
  }

  // Blocked in every thread (the workers and libprov's threads inherit the
  // mask) and read below (InterruptSignals::wait), so no registration is ever
  // interrupted by a signal handler.
  InterruptSignals signals;
  InFlightClients in_flight;

  LineWriter writer(output);
  BatchStats stats(entries.size());
  ProgressDisplay progress(options.progress, isatty(STDERR_FILENO) == 1);
  if (progress.live() && output == stdout && isatty(STDOUT_FILENO) == 1) {
    writer.clear_progress_line_first();
    progress.set_terminal_lock(&writer.mutex());
  }
  SharedState state;
  state.settings = &settings;
  state.options = &options;
  state.entries = &entries;
  state.writer = &writer;
  state.stats = &stats;
  state.in_flight = &in_flight;

  size_t worker_count = std::min(entries.size(), static_cast<size_t>(options.concurrency));
  state.workers_running = static_cast<int>(worker_count);
  std::vector<std::thread> workers;
  workers.reserve(worker_count);
  for (size_t index = 0; index < worker_count; ++index) {
    try {
      workers.emplace_back(worker_loop, std::ref(state));
    } catch (const std::system_error &error) {
      // Out of threads (ulimit -u, memory): carry on with those that started.
      state.workers_running.fetch_sub(static_cast<int>(worker_count - index));
      if (workers.empty()) {
        throw std::runtime_error(std::string("cannot start a worker thread: ") + error.what());
      }
      progress.message("prov: warning: could start only " + std::to_string(workers.size()) +
                       " of " + std::to_string(worker_count) +
                       " worker threads; continuing with those\n");
      break;
    }
  }

  InterruptStage stage = InterruptStage::kNone;
  while (state.workers_running.load() > 0) {
    if (signals.wait(kCancelRepeatInterval) != 0) {
      if (stage == InterruptStage::kNone) {
        stage = InterruptStage::kDraining;
        state.stop_requested = true;
        BatchSnapshot now = stats.snapshot();
        progress.message("prov: interrupted; starting no new registrations, waiting for " +
                         std::to_string(now.in_flight) +
                         " in flight (interrupt again to cancel them)\n");
      } else if (stage == InterruptStage::kDraining) {
        stage = InterruptStage::kCancelling;
        BatchSnapshot now = stats.snapshot();
        progress.message("prov: interrupted again; cancelling " + std::to_string(now.in_flight) +
                         " in flight (interrupt a third time to quit at once)\n");
      } else {
        // Every finished line is already written and flushed. No lock is
        // taken here: a worker may be stuck writing to a full pipe.
        std::fputs("\n", stderr);
        std::fputs(stats.summary(true).c_str(), stderr);
        std::fflush(stderr);
        std::_Exit(kExitInterrupted);
      }
    }
    // Repeated while workers run: a cancel landing just before a
    // registration is in flight is not remembered by libprov.
    if (stage == InterruptStage::kCancelling) in_flight.cancel_all();
    progress.update(stats.snapshot());
  }
  const bool interrupted = stage != InterruptStage::kNone;
  for (std::thread &worker : workers) worker.join();
  progress.finish(stats.snapshot());

  bool write_failed = writer.failed();
  if (output != stdout) {
    if (std::fclose(output) != 0) write_failed = true;
  }
  std::fputs(stats.summary(interrupted).c_str(), stderr);

  if (state.worker_error) {
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
