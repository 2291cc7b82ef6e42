// The one way libprov waits. Every blocking point of a registration (socket
// readiness, back-off and retry-after sleeps, the end of a libcurl
// transfer) goes through here: on an event-loop fiber (an asynchronous
// registration, see event_loop.h) the wait yields to the loop, which runs
// other registrations meanwhile; anywhere else (prov_client_register on the
// caller's thread) it blocks in poll() as a plain thread would.
#ifndef PROV_CORE_WAIT_H
#define PROV_CORE_WAIT_H

#include "core/deadline.h"

namespace prov::core {

class WakeSignal;

enum class Wake {
  Ready,      // the descriptor is ready (or in error: the next call says which)
  Timeout,    // `until` passed
  Signalled,  // the signal was raised (e.g. the registration was cancelled)
};

// Waits until `fd` is ready for `events` (POLLIN and/or POLLOUT), `until`
// passes or `signal` (may be null) is raised. The signal is checked first.
Wake wait_for_fd(int fd, short events, const Deadline &until, const WakeSignal *signal);

// Waits until `until` passes or `signal` (may be null) is raised.
Wake wait_for_signal(const Deadline &until, const WakeSignal *signal);

}  // namespace prov::core

#endif  // PROV_CORE_WAIT_H
