// CancelSignal: how prov_client_cancel reaches a registration blocked in a
// wait. It is an atomic flag plus an eventfd that becomes readable once
// cancelled, so every poll() in the transports can watch it next to its
// socket and wake at once instead of sleeping out its timeout.
#ifndef PROV_CORE_CANCEL_H
#define PROV_CORE_CANCEL_H

#include <atomic>
#include <string>

#include "core/deadline.h"

namespace prov::core {

class CancelSignal {
 public:
  CancelSignal();
  ~CancelSignal();
  CancelSignal(const CancelSignal &) = delete;
  CancelSignal &operator=(const CancelSignal &) = delete;

  // Any thread, any number of times; async-signal-safe apart from the flag.
  void cancel() noexcept;
  bool cancelled() const noexcept { return cancelled_.load(std::memory_order_acquire); }
  // Readable (POLLIN) once cancelled; -1 if no descriptor could be made, in
  // which case waits fall back to short slices (see wait_slice_ms).
  int fd() const noexcept { return fd_; }
  // Throws Error(PROV_E_CANCELLED) naming `during` when cancelled.
  void throw_if_cancelled(const std::string &during) const;
  // Sleeps until `until` or cancellation, whichever comes first; returns
  // true when cancelled.
  bool wait_until(const Deadline &until) const;
  // Poll timeout cap for waits that can only watch the flag.
  static constexpr int wait_slice_ms = 20;

 private:
  std::atomic<bool> cancelled_{false};
  int fd_ = -1;
};

}  // namespace prov::core

#endif  // PROV_CORE_CANCEL_H
