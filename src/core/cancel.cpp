#include "core/cancel.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>

#include "core/error.h"
#include "core/wait.h"

namespace prov::core {

WakeSignal::~WakeSignal() {
  if (fd_ >= 0) ::close(fd_);
}

void WakeSignal::raise() noexcept {
  std::lock_guard<std::mutex> lock(mutex_);
  if (raised_.exchange(true, std::memory_order_acq_rel)) return;
  if (fd_ >= 0) {
    const uint64_t one = 1;
    // Never read back: the descriptor stays readable for every later poll.
    ssize_t written = ::write(fd_, &one, sizeof one);
    (void)written;
  }
  for (Listener *listener : listeners_) listener->on_raised();
  listeners_.clear();
}

int WakeSignal::fd() const noexcept {
  std::lock_guard<std::mutex> lock(mutex_);
  if (fd_ < 0 && !fd_failed_) {
    fd_ = ::eventfd(raised() ? 1 : 0, EFD_CLOEXEC | EFD_NONBLOCK);
    fd_failed_ = fd_ < 0;
  }
  return fd_;
}

bool WakeSignal::listen(Listener *listener) const {
  std::lock_guard<std::mutex> lock(mutex_);
  if (raised()) return false;
  listeners_.push_back(listener);
  return true;
}

void WakeSignal::unlisten(Listener *listener) const noexcept {
  std::lock_guard<std::mutex> lock(mutex_);
  listeners_.erase(std::remove(listeners_.begin(), listeners_.end(), listener), listeners_.end());
}

bool WakeSignal::wait_until(const Deadline &until) const {
  return wait_for_signal(until, this) == Wake::Signalled;
}

void CancelSignal::throw_if_cancelled(const std::string &during) const {
  if (cancelled()) throw Error(PROV_E_CANCELLED, "registration cancelled " + during);
}

}  // namespace prov::core
