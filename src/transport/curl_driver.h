// CurlDriver: runs libcurl easy handles — the connect of a CONNECT_ONLY
// byte stream, or a whole HTTPS transfer — until libcurl reports them done,
// a deadline passes or a signal (prov_client_cancel) is raised. On an
// event-loop fiber (asynchronous registrations) the handles join the loop's
// one multi handle and the wait yields to the loop; anywhere else the driver
// owns a multi handle and polls it on the calling thread. Either way it is
// the same code path for the transports: one connect loop.
#ifndef PROV_TRANSPORT_CURL_DRIVER_H
#define PROV_TRANSPORT_CURL_DRIVER_H

#include <unordered_map>
#include <vector>

#include "core/deadline.h"

namespace prov::core {
class EventLoop;
class WakeSignal;
}  // namespace prov::core

namespace prov::transport {

class CurlDriver {
 public:
  // Bound to the calling context: the loop of the calling fiber, or a
  // private multi handle (made here; throws std::bad_alloc).
  CurlDriver();
  // Removes every handle still added. Call on the thread (fiber) that made it.
  ~CurlDriver();
  CurlDriver(const CurlDriver &) = delete;
  CurlDriver &operator=(const CurlDriver &) = delete;

  // Whether the handles run on an event loop (shared multi handle).
  bool on_event_loop() const { return loop_ != nullptr; }

  // Adds `easy` (a CURL*); throws Error(PROV_E_INTERNAL) if libcurl refuses.
  // A CONNECT_ONLY handle must stay added while curl_easy_send/recv use it.
  void add(void *easy);
  void remove(void *easy) noexcept;

  enum class Outcome { Done, Timeout, Signalled };
  // Waits until the transfer of `easy` (added) is done — its CURLcode then
  // in *curl_code — or `until` passes, or `signal` (may be null) is raised.
  Outcome wait_done(void *easy, const core::Deadline &until, const core::WakeSignal *signal,
                    int *curl_code);

 private:
  core::EventLoop *loop_ = nullptr;
  void *own_multi_ = nullptr;  // CURLM*, when not on a loop
  std::vector<void *> added_;
  std::unordered_map<void *, int> done_;  // own multi: finished transfers
};

}  // namespace prov::transport

#endif  // PROV_TRANSPORT_CURL_DRIVER_H
