#include "interrupts.h"

#include <pthread.h>
#include <time.h>

#include <algorithm>

namespace prov_cli {

InterruptSignals::InterruptSignals() {
  sigemptyset(&signals_);
  sigaddset(&signals_, SIGINT);
  sigaddset(&signals_, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals_, &previous_mask_);
}

InterruptSignals::~InterruptSignals() {
  const timespec no_wait{0, 0};
  while (sigtimedwait(&signals_, nullptr, &no_wait) > 0) {
  }
  pthread_sigmask(SIG_SETMASK, &previous_mask_, nullptr);
}

int InterruptSignals::wait(std::chrono::milliseconds timeout) const {
  const timespec interval{static_cast<time_t>(timeout.count() / 1000),
                          static_cast<long>((timeout.count() % 1000) * 1000000)};
  int signal_number = sigtimedwait(&signals_, nullptr, &interval);
  return signal_number > 0 ? signal_number : 0;
}

bool InFlightClients::add(prov_client *client) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (cancelling_.load()) return false;
  clients_.push_back(client);
  return true;
}

void InFlightClients::remove(prov_client *client) {
  std::lock_guard<std::mutex> lock(mutex_);
  clients_.erase(std::remove(clients_.begin(), clients_.end(), client), clients_.end());
}

void InFlightClients::cancel_all() {
  std::lock_guard<std::mutex> lock(mutex_);
  cancelling_ = true;
  for (prov_client *client : clients_) prov_client_cancel(client);
}

InterruptWatcher::InterruptWatcher(const InterruptSignals &signals, InFlightClients &clients,
                                   std::function<void()> on_first, std::function<void()> on_second)
    : signals_(signals),
      clients_(clients),
      on_first_(std::move(on_first)),
      on_second_(std::move(on_second)),
      thread_([this] { run(); }) {}

InterruptWatcher::~InterruptWatcher() {
  stop_ = true;
  thread_.join();
}

void InterruptWatcher::run() {
  bool interrupted = false;
  while (!stop_.load()) {
    if (signals_.wait(kCancelRepeatInterval) != 0) {
      if (interrupted) {
        on_second_();
      } else {
        interrupted = true;
        on_first_();
      }
    }
    if (interrupted) clients_.cancel_all();
  }
}

}  // namespace prov_cli
