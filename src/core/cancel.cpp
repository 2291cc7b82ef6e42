#include "core/cancel.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>

#include "core/error.h"

namespace prov::core {

CancelSignal::CancelSignal() : fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

CancelSignal::~CancelSignal() {
  if (fd_ >= 0) ::close(fd_);
}

void CancelSignal::cancel() noexcept {
  if (cancelled_.exchange(true, std::memory_order_acq_rel)) return;
  if (fd_ >= 0) {
    const uint64_t one = 1;
    // Never read back: the descriptor stays readable for every later poll.
    ssize_t written = ::write(fd_, &one, sizeof one);
    (void)written;
  }
}

void CancelSignal::throw_if_cancelled(const std::string &during) const {
  if (cancelled()) throw Error(PROV_E_CANCELLED, "registration cancelled " + during);
}

bool CancelSignal::wait_until(const Deadline &until) const {
  for (;;) {
    if (cancelled()) return true;
    // Rounded up: waking a fraction of a millisecond early would be a spin.
    const int64_t left =
        std::chrono::ceil<std::chrono::milliseconds>(until.at() - Clock::now()).count();
    if (left <= 0) return false;
    pollfd pfd{};
    pfd.fd = fd_;
    pfd.events = POLLIN;
    const int timeout = fd_ >= 0 ? static_cast<int>(std::min<int64_t>(left, 60000))
                                 : static_cast<int>(std::min<int64_t>(left, wait_slice_ms));
    if (::poll(fd_ >= 0 ? &pfd : nullptr, fd_ >= 0 ? 1 : 0, timeout) < 0 && errno != EINTR) {
      return cancelled();
    }
  }
}

}  // namespace prov::core
