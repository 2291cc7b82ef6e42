// Ctrl-C (SIGINT) and SIGTERM during `prov register`.
//
// Signals are never handled in a signal handler: they are blocked in every
// thread (InterruptSignals, created before any thread starts, so libprov's
// threads inherit the mask) and read from a signalfd by one thread,
// which then cancels the registrations in flight through InFlightClients
// (prov_client_cancel is allowed from any thread).
#ifndef PROV_CLI_INTERRUPTS_H
#define PROV_CLI_INTERRUPTS_H

#include <prov/prov.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace prov_cli {

// Blocks SIGINT and SIGTERM in the calling thread for the object's lifetime
// (threads started meanwhile inherit the block). The destructor discards a
// signal still pending (one that came after the work ended) before
// restoring the previous mask, which would otherwise kill the process then.
class InterruptSignals {
 public:
  InterruptSignals();
  ~InterruptSignals();
  InterruptSignals(const InterruptSignals &) = delete;
  InterruptSignals &operator=(const InterruptSignals &) = delete;

  // Waits up to `timeout` (negative: no limit) for SIGINT or SIGTERM, or
  // until `wake_fd` (an eventfd, -1 = none) becomes readable. Returns the
  // signal's number, or 0. Without a signalfd (out of descriptors) it polls
  // with sigtimedwait and returns after at most kPollFallback.
  int wait(std::chrono::milliseconds timeout, int wake_fd = -1) const;

 private:
  sigset_t signals_;
  sigset_t previous_mask_;
  int signal_fd_ = -1;  // signalfd for signals_, or -1
};

// The clients whose registration is in flight, so that another thread can
// cancel them all.
class InFlightClients {
 public:
  // Records a client that is about to register. Returns false once
  // cancel_all() has been called: the caller must not start (its
  // registration counts as cancelled).
  bool add(prov_client *client);
  // Call before the client is freed.
  void remove(prov_client *client);
  // Cancels every recorded client and refuses new ones. libprov does not
  // remember a cancel that arrives just before prov_client_register is in
  // flight, so callers repeat this until the clients are gone (see
  // InterruptWatcher).
  void cancel_all();
  bool cancelling() const { return cancelling_.load(); }

 private:
  std::mutex mutex_;  // also keeps a client from being freed mid-cancel
  std::vector<prov_client *> clients_;
  std::atomic<bool> cancelling_{false};
};

// A thread that waits for SIGINT/SIGTERM while a single registration runs on
// the caller's thread: the first signal calls `on_first` and then cancels
// `clients` (again every 50 ms until the watcher stops); a second one calls
// `on_second`, which is expected not to return (it quits the process).
class InterruptWatcher {
 public:
  InterruptWatcher(const InterruptSignals &signals, InFlightClients &clients,
                   std::function<void()> on_first, std::function<void()> on_second);
  ~InterruptWatcher();  // stops and joins the thread
  InterruptWatcher(const InterruptWatcher &) = delete;
  InterruptWatcher &operator=(const InterruptWatcher &) = delete;

 private:
  void run();

  const InterruptSignals &signals_;
  InFlightClients &clients_;
  std::function<void()> on_first_, on_second_;
  std::atomic<bool> stop_{false};
  int wake_fd_ = -1;  // eventfd: the destructor wakes the thread at once
  std::thread thread_;
};

// How often cancellation is repeated while clients are still in flight.
constexpr std::chrono::milliseconds kCancelRepeatInterval{50};
// The longest InterruptSignals::wait sleeps when it cannot use a signalfd.
constexpr std::chrono::milliseconds kPollFallback{50};

}  // namespace prov_cli

#endif
