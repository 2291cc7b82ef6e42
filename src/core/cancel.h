// WakeSignal: a one-shot event any thread may raise, which every kind of
// waiter notices at once: an event-loop fiber (it registers a listener that
// posts to its loop), or a thread blocked in poll() (it watches fd(), an
// eventfd made only when such a waiter asks for one, so ten thousand
// asynchronous registrations do not hold ten thousand descriptors).
//
// CancelSignal is how prov_client_cancel reaches a registration blocked in
// a wait.
#ifndef PROV_CORE_CANCEL_H
#define PROV_CORE_CANCEL_H

#include <atomic>
#include <mutex>
#include <string>
#include <vector>

#include "core/deadline.h"

namespace prov::core {

class WakeSignal {
 public:
  WakeSignal() = default;
  ~WakeSignal();
  WakeSignal(const WakeSignal &) = delete;
  WakeSignal &operator=(const WakeSignal &) = delete;

  // Any thread, any number of times.
  void raise() noexcept;
  bool raised() const noexcept { return raised_.load(std::memory_order_acquire); }

  // Readable (POLLIN) once raised; made on the first call. -1 if no
  // descriptor could be made: waits then fall back to short slices
  // (wait_slice_ms).
  int fd() const noexcept;
  static constexpr int wait_slice_ms = 20;

  // Told once when the signal is raised, on the raising thread, with the
  // signal's lock held: it must only hand the news on (never block, never
  // touch the signal).
  class Listener {
   public:
    virtual void on_raised() noexcept = 0;

   protected:
    ~Listener() = default;
  };
  // Returns false (and does not keep `listener`) when already raised.
  bool listen(Listener *listener) const;
  // After it returns, `listener` is never called again.
  void unlisten(Listener *listener) const noexcept;

  // Sleeps until `until` or the signal, whichever comes first (yielding
  // to the loop on an event-loop fiber); returns true when raised.
  bool wait_until(const Deadline &until) const;

 private:
  std::atomic<bool> raised_{false};
  mutable std::mutex mutex_;  // guards fd_ and listeners_
  mutable int fd_ = -1;
  mutable bool fd_failed_ = false;
  mutable std::vector<Listener *> listeners_;
};

class CancelSignal : public WakeSignal {
 public:
  void cancel() noexcept { raise(); }
  bool cancelled() const noexcept { return raised(); }
  // Throws Error(PROV_E_CANCELLED) naming `during` when cancelled.
  void throw_if_cancelled(const std::string &during) const;
};

}  // namespace prov::core

#endif  // PROV_CORE_CANCEL_H
