#include "interrupts.h"

#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>

namespace prov_cli {

InterruptSignals::InterruptSignals() {
  sigemptyset(&signals_);
  sigaddset(&signals_, SIGINT);
  sigaddset(&signals_, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals_, &previous_mask_);
  signal_fd_ = signalfd(-1, &signals_, SFD_CLOEXEC);
}

InterruptSignals::~InterruptSignals() {
  const timespec no_wait{0, 0};
  while (sigtimedwait(&signals_, nullptr, &no_wait) > 0) {
  }
  if (signal_fd_ >= 0) close(signal_fd_);
  pthread_sigmask(SIG_SETMASK, &previous_mask_, nullptr);
}

int InterruptSignals::wait(std::chrono::milliseconds timeout, int wake_fd) const {
  if (signal_fd_ < 0) {
    std::chrono::milliseconds interval =
        timeout.count() < 0 ? kPollFallback : std::min(timeout, kPollFallback);
    const timespec wait_for{static_cast<time_t>(interval.count() / 1000),
                            static_cast<long>((interval.count() % 1000) * 1000000)};
    int signal_number = sigtimedwait(&signals_, nullptr, &wait_for);
    return signal_number > 0 ? signal_number : 0;
  }
  pollfd fds[2] = {{signal_fd_, POLLIN, 0}, {wake_fd, POLLIN, 0}};
  if (poll(fds, wake_fd >= 0 ? 2 : 1, static_cast<int>(timeout.count())) <= 0) return 0;
  if ((fds[0].revents & POLLIN) == 0) return 0;  // woken, not signalled
  signalfd_siginfo info{};
  if (read(signal_fd_, &info, sizeof info) != static_cast<ssize_t>(sizeof info)) return 0;
  return static_cast<int>(info.ssi_signo);
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
      wake_fd_(eventfd(0, EFD_CLOEXEC)),
      thread_([this] { run(); }) {}

InterruptWatcher::~InterruptWatcher() {
  stop_ = true;
  if (wake_fd_ >= 0) eventfd_write(wake_fd_, 1);
  thread_.join();
  if (wake_fd_ >= 0) close(wake_fd_);
}

void InterruptWatcher::run() {
  // Without an eventfd the loop must look at stop_ now and then.
  const std::chrono::milliseconds idle_wait =
      wake_fd_ >= 0 ? std::chrono::milliseconds(-1) : kCancelRepeatInterval;
  bool interrupted = false;
  while (!stop_.load()) {
    if (signals_.wait(interrupted ? kCancelRepeatInterval : idle_wait, wake_fd_) != 0) {
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
