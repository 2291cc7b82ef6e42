// EventLoop: the engine behind prov_client_register_async. A few library
// threads (one per CPU, at most 4, started on first use) each run one
// epoll loop that drives all of its connections with libcurl's multi socket
// API (curl_multi_socket_action; one multi handle per 128 connections, see
// kHandlesPerMulti) and a timer queue, and runs every asynchronous
// registration as a fiber (fiber.h). A fiber runs until it has to wait —
// for its socket, a libcurl connect or transfer, a deadline, or a signal
// such as prov_client_cancel — and then yields to the loop, which resumes
// it when that happens. The registration code itself stays blocking code
// and calls the waits in wait.h, which end up here on a fiber.
//
// Cost per in-flight registration: the touched pages of its fiber stack
// (the TLS handshakes run on the loop thread's own stack, inside
// curl_multi_socket_action) and its socket; no thread, no multi handle, no
// wake-up descriptors of its own.
//
// Lifetime: the loop threads are joined by a static destructor (process
// exit or dlclose of libprov); fibers still running then are signalled to
// stop (their registrations end as cancelled) and given a moment to finish.
#ifndef PROV_CORE_EVENT_LOOP_H
#define PROV_CORE_EVENT_LOOP_H

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

#include "core/deadline.h"
#include "core/wait.h"

namespace prov::core {

class WakeSignal;

class EventLoop {
 public:
  // Runs `body` as a fiber on one of the library's event loops (spread
  // round robin). `stop` (may be null) is raised if the loops shut down
  // while the fiber still runs. `body` must not throw. Throws
  // std::bad_alloc or Error(PROV_E_INTERNAL) when no fiber or loop could
  // be started (then `body` never runs).
  static void spawn(std::function<void()> body, std::shared_ptr<WakeSignal> stop);

  // The loop running the calling fiber, or null when the caller is not on
  // an event-loop fiber (then waits block the thread instead).
  static EventLoop *current();

  // Fibers alive in the process, and loop threads running (for tests).
  static size_t fibers_alive();
  static size_t threads_running();

  // --- From a fiber running on this loop only. ---
  // Yields until `fd` (may be -1: none) is ready for `events` (POLLIN /
  // POLLOUT), `until` passes or `signal` (may be null) is raised.
  Wake wait_fd(int fd, short events, const Deadline &until, const WakeSignal *signal);
  // Adds `easy` (a CURL*) to one of the loop's libcurl multi handles (throws
  // Error(PROV_E_INTERNAL) if libcurl refuses); detach() removes it. A
  // CONNECT_ONLY handle stays attached while curl_easy_send/recv use it.
  void attach(void *easy);
  void detach(void *easy) noexcept;
  // Yields until libcurl reports the transfer of `easy` (attached; for
  // CURLOPT_CONNECT_ONLY the connect) done — then stores its CURLcode in
  // *result and returns Ready — or until `until` or `signal`.
  Wake wait_transfer(void *easy, const Deadline &until, const WakeSignal *signal, int *result);

  EventLoop(const EventLoop &) = delete;
  EventLoop &operator=(const EventLoop &) = delete;

  // Implementation types (event_loop.cpp).
  struct Task;
  struct State;

 private:
  friend struct LoopRegistry;

  EventLoop();
  ~EventLoop();
  void start_thread();
  void submit(std::unique_ptr<Task> task);
  void request_stop();
  void join();
  void run() noexcept;
  void forget_transfer(void *easy) noexcept;

  bool wake_registered_ = false;  // wake_fd is in the epoll set
  std::unique_ptr<State> state_;
};

}  // namespace prov::core

#endif  // PROV_CORE_EVENT_LOOP_H
