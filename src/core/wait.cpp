#include "core/wait.h"

#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>

#include "core/cancel.h"
#include "core/event_loop.h"

namespace prov::core {

namespace {

// Rounded up: waking a fraction of a millisecond early would be a spin.
int64_t millis_left(const Deadline &until) {
  return std::chrono::ceil<Millis>(until.at() - Clock::now()).count();
}

// poll() on the caller's thread: `fd` (may be -1) and the signal's descriptor.
Wake blocking_wait(int fd, short events, const Deadline &until, const WakeSignal *signal) {
  const int signal_fd = signal != nullptr ? signal->fd() : -1;
  // Without a descriptor for the signal, wake regularly to look at it.
  const int64_t cap = signal != nullptr && signal_fd < 0 ? WakeSignal::wait_slice_ms : 60000;
  for (;;) {
    if (signal != nullptr && signal->raised()) return Wake::Signalled;
    const int64_t left = millis_left(until);
    if (left <= 0) return Wake::Timeout;
    pollfd fds[2] = {};
    fds[0].fd = fd;  // poll ignores a negative descriptor
    fds[0].events = events;
    fds[1].fd = signal_fd;
    fds[1].events = POLLIN;
    const int rc = ::poll(fds, 2, static_cast<int>(std::min(left, cap)));
    if (signal != nullptr && signal->raised()) return Wake::Signalled;
    if (rc > 0 && fd >= 0 && fds[0].revents != 0) return Wake::Ready;
    if (rc < 0 && errno != EINTR) return Wake::Ready;  // the caller's next call reports it
  }
}

}  // namespace

Wake wait_for_fd(int fd, short events, const Deadline &until, const WakeSignal *signal) {
  if (signal != nullptr && signal->raised()) return Wake::Signalled;
  if (EventLoop *loop = EventLoop::current()) return loop->wait_fd(fd, events, until, signal);
  return blocking_wait(fd, events, until, signal);
}

Wake wait_for_signal(const Deadline &until, const WakeSignal *signal) {
  if (signal != nullptr && signal->raised()) return Wake::Signalled;
  if (EventLoop *loop = EventLoop::current()) {
    // A fiber may be woken early (a stale wake-up); only the deadline or
    // the signal ends a sleep.
    for (;;) {
      const Wake why = loop->wait_fd(-1, 0, until, signal);
      if (why != Wake::Ready) return why;
    }
  }
  return blocking_wait(-1, 0, until, signal);
}

}  // namespace prov::core
