#include "transport/curl_driver.h"

#include <curl/curl.h>

#include <algorithm>
#include <chrono>
#include <new>
#include <string>

#include "core/cancel.h"
#include "core/error.h"
#include "core/event_loop.h"

namespace prov::transport {

using core::Error;

CurlDriver::CurlDriver() : loop_(core::EventLoop::current()) {
  if (loop_ == nullptr) {
    own_multi_ = curl_multi_init();
    if (own_multi_ == nullptr) throw std::bad_alloc();
  }
}

CurlDriver::~CurlDriver() {
  while (!added_.empty()) remove(added_.back());
  if (own_multi_ != nullptr) curl_multi_cleanup(static_cast<CURLM *>(own_multi_));
}

void CurlDriver::add(void *easy) {
  added_.reserve(added_.size() + 1);
  if (loop_ != nullptr) {
    loop_->attach(easy);
  } else {
    done_.erase(easy);
    const CURLMcode rc =
        curl_multi_add_handle(static_cast<CURLM *>(own_multi_), static_cast<CURL *>(easy));
    if (rc != CURLM_OK) {
      throw Error(PROV_E_INTERNAL,
                  std::string("libcurl refused the connection handle: ") + curl_multi_strerror(rc));
    }
  }
  added_.push_back(easy);
}

void CurlDriver::remove(void *easy) noexcept {
  auto it = std::find(added_.begin(), added_.end(), easy);
  if (it == added_.end()) return;
  added_.erase(it);
  if (loop_ != nullptr) {
    // Also forgets its transfer: a later handle at this address is a new one.
    loop_->detach(easy);
  } else {
    done_.erase(easy);
    curl_multi_remove_handle(static_cast<CURLM *>(own_multi_), static_cast<CURL *>(easy));
  }
}

CurlDriver::Outcome CurlDriver::wait_done(void *easy, const core::Deadline &until,
                                          const core::WakeSignal *signal, int *curl_code) {
  if (loop_ != nullptr) {
    switch (loop_->wait_transfer(easy, until, signal, curl_code)) {
      case core::Wake::Ready:
        return Outcome::Done;
      case core::Wake::Signalled:
        return Outcome::Signalled;
      case core::Wake::Timeout:
        return Outcome::Timeout;
    }
    return Outcome::Timeout;
  }
  CURLM *multi = static_cast<CURLM *>(own_multi_);
  for (;;) {
    int running = 0;
    const CURLMcode mc = curl_multi_perform(multi, &running);
    if (mc != CURLM_OK) {
      throw Error(PROV_E_INTERNAL, std::string("libcurl multi error: ") + curl_multi_strerror(mc));
    }
    int queued = 0;
    while (CURLMsg *message = curl_multi_info_read(multi, &queued)) {
      if (message->msg == CURLMSG_DONE) done_[message->easy_handle] = message->data.result;
    }
    auto found = done_.find(easy);
    if (found != done_.end()) {
      *curl_code = found->second;
      return Outcome::Done;
    }
    if (signal != nullptr && signal->raised()) return Outcome::Signalled;
    const int64_t left = std::chrono::ceil<core::Millis>(until.at() - core::Clock::now()).count();
    if (left <= 0) return Outcome::Timeout;
    // libcurl's own sockets and timers, plus the signal's descriptor, which
    // wakes the poll as soon as prov_client_cancel is called.
    const int signal_fd = signal != nullptr ? signal->fd() : -1;
    curl_waitfd signal_wait{};
    signal_wait.fd = signal_fd;
    signal_wait.events = CURL_WAIT_POLLIN;
    const int64_t slice =
        signal != nullptr && signal_fd < 0 ? core::WakeSignal::wait_slice_ms : 1000;
    curl_multi_poll(multi, signal_fd >= 0 ? &signal_wait : nullptr, signal_fd >= 0 ? 1 : 0,
                    static_cast<int>(std::clamp<int64_t>(left, 1, slice)), nullptr);
  }
}

}  // namespace prov::transport
