// Fiber: a stackful coroutine on ucontext. The event loop (event_loop.h)
// runs each asynchronous registration as one, so the registration code stays
// written as blocking code while thousands of them share a few threads: a
// fiber costs the stack pages it touched (a few KB; the reservation is
// mapped lazily), not a thread with its own stack.
//
// Sanitizers and valgrind are told about every switch (ASan's fiber API,
// TSan's fibers, VALGRIND_STACK_REGISTER), so they keep working.
#ifndef PROV_CORE_FIBER_H
#define PROV_CORE_FIBER_H

#include <ucontext.h>

#include <cstddef>

namespace prov::core {

class Fiber {
 public:
  // What a fiber runs. It must not throw (an escaping exception would
  // unwind into another stack): the entry catches everything itself.
  using Entry = void (*)(void *argument) noexcept;

  // Reserves a stack of `stack_size` bytes (plus a guard page below it).
  // Throws std::bad_alloc when the memory cannot be mapped.
  Fiber(Entry entry, void *argument, size_t stack_size);
  // Only a fiber that finished (or never started) may be destroyed.
  ~Fiber();
  Fiber(const Fiber &) = delete;
  Fiber &operator=(const Fiber &) = delete;

  // Runs the fiber on the calling thread until it yields or its entry
  // returns. Never from inside a fiber.
  void resume();
  bool finished() const { return finished_; }

  // From inside a running fiber: switches back to the resume() caller.
  static void yield();
  // The fiber running on this thread, or null on the thread's own stack.
  static Fiber *current();
  // Who is running: the current fiber, else the calling thread. Equal for
  // two calls exactly when they run in the same fiber or on the same
  // thread outside any fiber (what "called from my own callback" means).
  static const void *context_identity();

  // The stack reserved for each registration's fiber: registrations run
  // their TLS handshakes on the loop's own stack, so fibers touch only a
  // few KB of it; sanitizers need far more.
  static size_t default_stack_size();

 private:
  static void start(unsigned int high, unsigned int low);
  void switch_out(bool finishing);

  Entry entry_;
  void *argument_;
  ucontext_t context_{};
  ucontext_t caller_{};
  void *mapping_ = nullptr;  // guard page + stack
  size_t mapping_size_ = 0;
  void *stack_ = nullptr;  // lowest usable address
  size_t stack_size_ = 0;
  bool started_ = false;
  bool finished_ = false;
  Fiber *previous_ = nullptr;  // the current() of the resume() caller

  // Used only in builds with the tool in question (hence maybe_unused).
  // ASan: the caller's stack while the fiber runs, and the fiber's fake stack.
  [[maybe_unused]] const void *caller_stack_bottom_ = nullptr;
  [[maybe_unused]] size_t caller_stack_size_ = 0;
  [[maybe_unused]] void *fake_stack_ = nullptr;
  // TSan: the fiber's and the caller's TSan contexts.
  [[maybe_unused]] void *tsan_fiber_ = nullptr;
  [[maybe_unused]] void *tsan_caller_ = nullptr;
  // valgrind: the stack's registration id.
  [[maybe_unused]] unsigned valgrind_stack_id_ = 0;
};

}  // namespace prov::core

#endif  // PROV_CORE_FIBER_H
