#include "core/event_loop.h"

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/cancel.h"
#include "core/error.h"
#include "core/fiber.h"
#include "transport/connection.h"

namespace prov::core {

namespace {

thread_local EventLoop *t_loop = nullptr;  // the loop whose fiber runs now
std::atomic<size_t> g_fibers_alive{0};
std::atomic<size_t> g_threads_running{0};

// How long a shutting-down loop waits for its fibers to end once told to stop.
constexpr auto kStopGrace = std::chrono::seconds(5);

// Easy handles per libcurl multi handle. curl_easy_send/recv on a
// CONNECT_ONLY handle look its connection up by a linear walk of the multi
// handle's connection cache (libcurl 7.88 Curl_getconnectinfo), so one multi
// handle with 10,000 connections makes every read O(10,000); a loop spreads
// its handles over multi handles of at most this many.
constexpr size_t kHandlesPerMulti = 128;

uint32_t epoll_mask(short poll_events) {
  uint32_t mask = 0;
  if (poll_events & POLLIN) mask |= EPOLLIN;
  if (poll_events & POLLOUT) mask |= EPOLLOUT;
  return mask;
}

}  // namespace

// One fiber and what it waits for.
struct EventLoop::Task {
  std::function<void()> body;
  std::shared_ptr<WakeSignal> stop;
  std::unique_ptr<Fiber> fiber;
  // The wait in progress (a fiber waits for one thing at a time).
  bool waiting = false;
  uint64_t generation = 0;  // of the wait; stale wake-ups name an older one
  Wake reason = Wake::Timeout;
  bool has_timer = false;
  std::multimap<Clock::time_point, Task *>::iterator timer;

  static void entry(void *argument) noexcept {
    auto *task = static_cast<Task *>(argument);
    try {
      task->body();
    } catch (...) {
      // The body reports its own failures; nothing may unwind off the fiber.
    }
    // Its captures (a client's shared state, a completion) go now, on the
    // fiber, where a destructor may still wait.
    task->body = nullptr;
  }
};

// One libcurl multi handle of a loop and its timer.
struct CurlShard {
  EventLoop::State *state = nullptr;
  CURLM *multi = nullptr;
  std::optional<Clock::time_point> timer;  // libcurl's CURLMOPT_TIMERFUNCTION
  size_t handles = 0;
};

struct EventLoop::State {
  std::thread thread;
  int epoll_fd = -1;
  int wake_fd = -1;  // eventfd: new fibers and signal wake-ups were posted

  // Posted from any thread.
  std::mutex inbox_mutex;
  std::vector<std::unique_ptr<Task>> new_tasks;
  std::vector<std::pair<Task *, uint64_t>> wakes;
  bool stop_requested = false;

  // Loop thread only.
  std::unordered_map<Task *, std::unique_ptr<Task>> tasks;
  std::deque<Task *> ready;
  std::multimap<Clock::time_point, Task *> timers;
  struct Interest {
    int curl_events = 0;         // CURL_POLL_IN/OUT bits libcurl wants
    CurlShard *shard = nullptr;  // whose multi handle wants them
    Task *waiter = nullptr;      // a fiber waiting on the descriptor
    uint32_t waiter_events = 0;  // EPOLLIN/EPOLLOUT
    bool registered = false;     // in the epoll set
  };
  std::unordered_map<int, Interest> fds;
  struct Transfer {
    Task *waiter = nullptr;
    bool done = false;
    int result = 0;
  };
  std::unordered_map<void *, Transfer> transfers;
  std::vector<std::unique_ptr<CurlShard>> shards;
  std::unordered_map<void *, CurlShard *> shard_of;  // easy handle -> its multi
  Task *running = nullptr;

  ~State() {
    for (auto &shard : shards) curl_multi_cleanup(shard->multi);
  }

  void update_epoll(int fd) {
    auto it = fds.find(fd);
    if (it == fds.end()) return;
    Interest &interest = it->second;
    uint32_t mask = interest.waiter != nullptr ? interest.waiter_events : 0;
    if (interest.curl_events & CURL_POLL_IN) mask |= EPOLLIN;
    if (interest.curl_events & CURL_POLL_OUT) mask |= EPOLLOUT;
    if (mask == 0 && interest.waiter == nullptr && interest.curl_events == 0) {
      // The descriptor may already be closed (then it left the set by itself).
      if (interest.registered) ::epoll_ctl(epoll_fd, EPOLL_CTL_DEL, fd, nullptr);
      fds.erase(it);
      return;
    }
    epoll_event event{};
    event.events = mask;
    event.data.fd = fd;
    // One registration per descriptor with the union of both interests.
    int op = interest.registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    int rc = ::epoll_ctl(epoll_fd, op, fd, &event);
    if (rc != 0 && op == EPOLL_CTL_MOD && errno == ENOENT) {
      rc = ::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &event);
    } else if (rc != 0 && op == EPOLL_CTL_ADD && errno == EEXIST) {
      rc = ::epoll_ctl(epoll_fd, EPOLL_CTL_MOD, fd, &event);
    }
    interest.registered = rc == 0;
  }

  void wake(Task *task, Wake why) {
    if (!task->waiting) return;
    task->waiting = false;
    task->reason = why;
    ready.push_back(task);
  }

  void post(Task *task, uint64_t generation) {
    {
      std::lock_guard<std::mutex> lock(inbox_mutex);
      wakes.emplace_back(task, generation);
    }
    ring();
  }

  void ring() const {
    const uint64_t one = 1;
    ssize_t written = ::write(wake_fd, &one, sizeof one);
    (void)written;
  }
};

namespace {
// What a raised WakeSignal posts to the loop: "wake this wait" (a wait that
// already ended is recognised by its generation and ignored).
struct SignalHook final : WakeSignal::Listener {
  EventLoop::State *state = nullptr;
  EventLoop::Task *task = nullptr;
  uint64_t generation = 0;
  void on_raised() noexcept override { state->post(task, generation); }
};

int on_curl_socket(CURL *, curl_socket_t socket, int what, void *user, void *) {
  auto *shard = static_cast<CurlShard *>(user);
  EventLoop::State *state = shard->state;
  const int fd = static_cast<int>(socket);
  if (what == CURL_POLL_REMOVE) {
    auto it = state->fds.find(fd);
    if (it == state->fds.end()) return 0;
    it->second.curl_events = 0;
    it->second.shard = nullptr;
  } else {
    EventLoop::State::Interest &interest = state->fds[fd];
    interest.curl_events = what;
    interest.shard = shard;
  }
  state->update_epoll(fd);
  return 0;
}

int on_curl_timer(CURLM *, long timeout_ms, void *user) {
  auto *shard = static_cast<CurlShard *>(user);
  if (timeout_ms < 0) {
    shard->timer.reset();
  } else {
    shard->timer = Clock::now() + Millis(timeout_ms);
  }
  return 0;
}
}  // namespace

// The loops of the process, made on first use and joined at exit/dlclose.
struct LoopRegistry {
  std::mutex mutex;
  std::vector<EventLoop *> loops;
  std::atomic<size_t> next{0};

  static LoopRegistry &instance() {
    static LoopRegistry registry;
    return registry;
  }

  EventLoop &pick() {
    std::lock_guard<std::mutex> lock(mutex);
    if (loops.empty()) {
      const unsigned cpus = std::thread::hardware_concurrency();
      const size_t count = std::clamp<size_t>(cpus == 0 ? 1 : cpus, 1, 4);
      for (size_t i = 0; i < count; ++i) loops.push_back(new EventLoop());
    }
    EventLoop &loop = *loops[next.fetch_add(1, std::memory_order_relaxed) % loops.size()];
    loop.start_thread();
    return loop;
  }

  ~LoopRegistry() {
    std::lock_guard<std::mutex> lock(mutex);
    for (EventLoop *loop : loops) loop->request_stop();
    for (EventLoop *loop : loops) {
      loop->join();
      delete loop;
    }
    loops.clear();
  }
};

EventLoop::EventLoop() : state_(std::make_unique<State>()) {}

EventLoop::~EventLoop() {
  if (state_->epoll_fd >= 0) ::close(state_->epoll_fd);
  if (state_->wake_fd >= 0) ::close(state_->wake_fd);
}

void EventLoop::start_thread() {
  // Called with the registry's lock held.
  if (state_->thread.joinable()) return;
  if (state_->epoll_fd < 0) state_->epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
  if (state_->wake_fd < 0) state_->wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (state_->epoll_fd < 0 || state_->wake_fd < 0) {
    throw Error(PROV_E_INTERNAL, std::string("could not create the event loop's descriptors: ") +
                                     std::strerror(errno));
  }
  if (!wake_registered_) {
    wake_registered_ = true;
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.fd = state_->wake_fd;
    ::epoll_ctl(state_->epoll_fd, EPOLL_CTL_ADD, state_->wake_fd, &event);
  }
  // A library thread takes no signals (they belong to the application's
  // threads, e.g. a CLI waiting for SIGINT on a signalfd): it inherits a
  // full mask, set here around its creation.
  sigset_t all;
  sigset_t previous;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &previous);
  try {
    state_->thread = std::thread([this] { run(); });
  } catch (const std::system_error &error) {
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    throw Error(PROV_E_INTERNAL,
                std::string("could not start the event loop thread: ") + error.what());
  }
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
}

void EventLoop::request_stop() {
  {
    std::lock_guard<std::mutex> lock(state_->inbox_mutex);
    state_->stop_requested = true;
  }
  if (state_->wake_fd >= 0) state_->ring();
}

void EventLoop::join() {
  if (state_->thread.joinable()) state_->thread.join();
}

void EventLoop::submit(std::unique_ptr<Task> task) {
  {
    std::lock_guard<std::mutex> lock(state_->inbox_mutex);
    state_->new_tasks.push_back(std::move(task));
  }
  state_->ring();
}

void EventLoop::spawn(std::function<void()> body, std::shared_ptr<WakeSignal> stop) {
  // libcurl (and so OpenSSL, whose atexit cleanup frees its per-thread
  // state only for threads that ended before it) is set up before the loop
  // registry, so at exit the loops are joined first.
  transport::ensure_curl_initialized();
  auto task = std::make_unique<Task>();
  task->body = std::move(body);
  task->stop = std::move(stop);
  task->fiber = std::make_unique<Fiber>(&Task::entry, task.get(), Fiber::default_stack_size());
  EventLoop &loop = LoopRegistry::instance().pick();
  g_fibers_alive.fetch_add(1, std::memory_order_relaxed);
  loop.submit(std::move(task));
}

EventLoop *EventLoop::current() {
  return Fiber::current() != nullptr ? t_loop : nullptr;
}

size_t EventLoop::fibers_alive() {
  return g_fibers_alive.load(std::memory_order_relaxed);
}

size_t EventLoop::threads_running() {
  return g_threads_running.load(std::memory_order_relaxed);
}

Wake EventLoop::wait_fd(int fd, short events, const Deadline &until, const WakeSignal *signal) {
  State &s = *state_;
  Task *task = s.running;
  if (task == nullptr) return Wake::Timeout;  // not on this loop's fiber: cannot happen
  if (signal != nullptr && signal->raised()) return Wake::Signalled;
  if (until.expired()) return Wake::Timeout;

  task->waiting = true;
  const uint64_t generation = ++task->generation;
  task->timer = s.timers.emplace(until.at(), task);
  task->has_timer = true;
  if (fd >= 0) {
    State::Interest &interest = s.fds[fd];
    interest.waiter = task;
    interest.waiter_events = epoll_mask(events);
    s.update_epoll(fd);
    auto it = s.fds.find(fd);
    if (it == s.fds.end() || !it->second.registered) {
      // Not pollable (closed?): let the caller's next call find out.
      s.wake(task, Wake::Ready);
    }
  }
  SignalHook hook;
  hook.state = &s;
  hook.task = task;
  hook.generation = generation;
  const bool listening = signal != nullptr && signal->listen(&hook);
  if (signal != nullptr && !listening) s.wake(task, Wake::Signalled);

  Fiber::yield();

  if (listening) signal->unlisten(&hook);
  if (task->has_timer) {
    s.timers.erase(task->timer);
    task->has_timer = false;
  }
  if (fd >= 0) {
    auto it = s.fds.find(fd);
    if (it != s.fds.end() && it->second.waiter == task) {
      it->second.waiter = nullptr;
      it->second.waiter_events = 0;
      s.update_epoll(fd);
    }
  }
  task->waiting = false;
  // A stale Signalled wake-up (raised for an earlier wait) is not this one's.
  if (task->reason == Wake::Signalled && (signal == nullptr || !signal->raised())) {
    return Wake::Ready;
  }
  return task->reason;
}

Wake EventLoop::wait_transfer(void *easy, const Deadline &until, const WakeSignal *signal,
                              int *result) {
  State &s = *state_;
  Task *task = s.running;
  for (;;) {
    State::Transfer &transfer = s.transfers[easy];
    if (transfer.done) {
      *result = transfer.result;
      return Wake::Ready;
    }
    transfer.waiter = task;
    const Wake why = wait_fd(-1, 0, until, signal);
    auto it = s.transfers.find(easy);
    if (it != s.transfers.end()) it->second.waiter = nullptr;
    if (why != Wake::Ready) return why;
  }
}

void EventLoop::forget_transfer(void *easy) noexcept {
  state_->transfers.erase(easy);
}

void EventLoop::attach(void *easy) {
  State &s = *state_;
  CurlShard *shard = nullptr;
  for (auto &candidate : s.shards) {
    if (candidate->handles < kHandlesPerMulti) {
      shard = candidate.get();
      break;
    }
  }
  if (shard == nullptr) {
    auto made = std::make_unique<CurlShard>();
    made->state = &s;
    made->multi = curl_multi_init();
    if (made->multi == nullptr) throw std::bad_alloc();
    curl_multi_setopt(made->multi, CURLMOPT_SOCKETFUNCTION, &on_curl_socket);
    curl_multi_setopt(made->multi, CURLMOPT_SOCKETDATA, made.get());
    curl_multi_setopt(made->multi, CURLMOPT_TIMERFUNCTION, &on_curl_timer);
    curl_multi_setopt(made->multi, CURLMOPT_TIMERDATA, made.get());
    s.shards.push_back(std::move(made));
    shard = s.shards.back().get();
  }
  forget_transfer(easy);
  const CURLMcode rc = curl_multi_add_handle(shard->multi, static_cast<CURL *>(easy));
  if (rc != CURLM_OK) {
    throw Error(PROV_E_INTERNAL,
                std::string("libcurl refused the connection handle: ") + curl_multi_strerror(rc));
  }
  ++shard->handles;
  s.shard_of[easy] = shard;
}

void EventLoop::detach(void *easy) noexcept {
  State &s = *state_;
  forget_transfer(easy);
  auto it = s.shard_of.find(easy);
  if (it == s.shard_of.end()) return;
  CurlShard *shard = it->second;
  s.shard_of.erase(it);
  --shard->handles;
  curl_multi_remove_handle(shard->multi, static_cast<CURL *>(easy));
}

void EventLoop::run() noexcept {
  State &s = *state_;
  g_threads_running.fetch_add(1, std::memory_order_relaxed);
  t_loop = this;
  bool stopping = false;
  Clock::time_point stop_deadline{};
  std::vector<epoll_event> events(256);

  for (;;) {
    // 1. What other threads posted.
    std::vector<std::unique_ptr<Task>> arrived;
    std::vector<std::pair<Task *, uint64_t>> wakes;
    {
      std::lock_guard<std::mutex> lock(s.inbox_mutex);
      arrived.swap(s.new_tasks);
      wakes.swap(s.wakes);
      if (s.stop_requested && !stopping) {
        stopping = true;
        stop_deadline = Clock::now() + kStopGrace;
      }
    }
    for (auto &task : arrived) {
      Task *raw = task.get();
      s.tasks.emplace(raw, std::move(task));
      s.ready.push_back(raw);
    }
    for (const auto &[task, generation] : wakes) {
      if (s.tasks.count(task) != 0 && task->waiting && task->generation == generation) {
        s.wake(task, Wake::Signalled);
      }
    }
    if (stopping) {
      for (auto &entry : s.tasks) {
        if (entry.second->stop) entry.second->stop->raise();
      }
    }

    // 2. Run every fiber that can run, until each waits again or ends.
    while (!s.ready.empty()) {
      Task *task = s.ready.front();
      s.ready.pop_front();
      s.running = task;
      task->fiber->resume();
      s.running = nullptr;
      if (task->fiber->finished()) {
        s.tasks.erase(task);
        g_fibers_alive.fetch_sub(1, std::memory_order_relaxed);
      }
    }
    if (stopping && (s.tasks.empty() || Clock::now() >= stop_deadline)) break;

    // 3. Sleep until a descriptor, libcurl's timer or a fiber's deadline.
    Clock::time_point wake_at = Clock::now() + std::chrono::seconds(60);
    for (const auto &shard : s.shards) {
      if (shard->timer) wake_at = std::min(wake_at, *shard->timer);
    }
    if (!s.timers.empty()) wake_at = std::min(wake_at, s.timers.begin()->first);
    if (stopping) wake_at = std::min(wake_at, stop_deadline);
    const int64_t timeout =
        std::max<int64_t>(0, std::chrono::ceil<Millis>(wake_at - Clock::now()).count());
    const int count = ::epoll_wait(s.epoll_fd, events.data(), static_cast<int>(events.size()),
                                   static_cast<int>(timeout));
    for (int i = 0; i < count; ++i) {
      const int fd = events[i].data.fd;
      const uint32_t happened = events[i].events;
      if (fd == s.wake_fd) {
        uint64_t drained = 0;
        ssize_t got = ::read(s.wake_fd, &drained, sizeof drained);
        (void)got;
        continue;
      }
      auto it = s.fds.find(fd);
      if (it == s.fds.end()) continue;
      if (it->second.curl_events != 0 && it->second.shard != nullptr) {
        int mask = 0;
        if (happened & (EPOLLIN | EPOLLHUP)) mask |= CURL_CSELECT_IN;
        if (happened & EPOLLOUT) mask |= CURL_CSELECT_OUT;
        if (happened & EPOLLERR) mask |= CURL_CSELECT_ERR;
        int running = 0;
        curl_multi_socket_action(it->second.shard->multi, fd, mask, &running);
        it = s.fds.find(fd);  // libcurl may have changed its interest
      }
      if (it != s.fds.end() && it->second.waiter != nullptr &&
          (happened & (it->second.waiter_events | EPOLLERR | EPOLLHUP)) != 0) {
        s.wake(it->second.waiter, Wake::Ready);
      }
    }

    // 4. Timers: libcurl's, then the fibers'.
    const Clock::time_point now = Clock::now();
    for (const auto &shard : s.shards) {
      if (shard->timer && *shard->timer <= now) {
        shard->timer.reset();
        int running = 0;
        curl_multi_socket_action(shard->multi, CURL_SOCKET_TIMEOUT, 0, &running);
      }
      int queued = 0;
      while (CURLMsg *message = curl_multi_info_read(shard->multi, &queued)) {
        if (message->msg != CURLMSG_DONE) continue;
        State::Transfer &transfer = s.transfers[message->easy_handle];
        transfer.done = true;
        transfer.result = message->data.result;
        if (transfer.waiter != nullptr) s.wake(transfer.waiter, Wake::Ready);
      }
    }
    while (!s.timers.empty() && s.timers.begin()->first <= now) {
      Task *task = s.timers.begin()->second;
      s.timers.erase(s.timers.begin());
      task->has_timer = false;
      s.wake(task, Wake::Timeout);
    }
  }

  // Fibers that outlived the grace period are abandoned with their stacks.
  for (auto &entry : s.tasks) {
    if (!entry.second->fiber->finished()) (void)entry.second.release();
  }
  s.tasks.clear();
  t_loop = nullptr;
  // The TLS handshakes ran here: free this thread's OpenSSL state (error
  // queue, random generators) now rather than rely on exit-time ordering.
  OPENSSL_thread_stop();
  g_threads_running.fetch_sub(1, std::memory_order_relaxed);
}

}  // namespace prov::core
