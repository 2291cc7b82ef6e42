#include "core/fiber.h"

#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <new>

#if defined(__SANITIZE_ADDRESS__)
#define PROV_FIBER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PROV_FIBER_ASAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define PROV_FIBER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define PROV_FIBER_TSAN 1
#endif
#endif

#ifdef PROV_FIBER_ASAN
#include <sanitizer/common_interface_defs.h>
#endif
#ifdef PROV_FIBER_TSAN
#include <sanitizer/tsan_interface.h>
#endif
// valgrind would otherwise take a switch to another stack for a huge stack
// frame and report every access on it. The header is only needed at build time.
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define PROV_FIBER_VALGRIND 1
#endif

namespace prov::core {

namespace {
thread_local Fiber *t_current = nullptr;
// Any object with one address per thread: identifies "this thread, outside
// every fiber".
thread_local char t_thread_marker = 0;

size_t page_size() {
  static const size_t size = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  return size;
}
}  // namespace

size_t Fiber::default_stack_size() {
#if defined(PROV_FIBER_ASAN) || defined(PROV_FIBER_TSAN)
  return 1024 * 1024;  // instrumented frames are several times larger
#else
  return 256 * 1024;
#endif
}

Fiber::Fiber(Entry entry, void *argument, size_t stack_size) : entry_(entry), argument_(argument) {
  const size_t page = page_size();
  stack_size_ = (stack_size + page - 1) / page * page;
  mapping_size_ = stack_size_ + page;
  // Reserved, not committed: only pages the fiber touches cost memory.
  void *mapping = ::mmap(nullptr, mapping_size_, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
  if (mapping == MAP_FAILED) throw std::bad_alloc();
  // The lowest page traps a stack overflow instead of corrupting memory.
  if (::mprotect(mapping, page, PROT_NONE) != 0) {
    ::munmap(mapping, mapping_size_);
    throw std::bad_alloc();
  }
  mapping_ = mapping;
  stack_ = static_cast<char *>(mapping) + page;

  if (::getcontext(&context_) != 0) {
    ::munmap(mapping_, mapping_size_);
    throw std::bad_alloc();
  }
  context_.uc_stack.ss_sp = stack_;
  context_.uc_stack.ss_size = stack_size_;
  context_.uc_link = nullptr;  // the entry never returns through ucontext
  const auto self = reinterpret_cast<uintptr_t>(this);
  ::makecontext(&context_, reinterpret_cast<void (*)()>(&Fiber::start), 2,
                static_cast<unsigned int>(self >> 32), static_cast<unsigned int>(self));
#ifdef PROV_FIBER_TSAN
  tsan_fiber_ = __tsan_create_fiber(0);
#endif
#ifdef PROV_FIBER_VALGRIND
  valgrind_stack_id_ = VALGRIND_STACK_REGISTER(static_cast<char *>(stack_) + stack_size_, stack_);
#endif
}

Fiber::~Fiber() {
#ifdef PROV_FIBER_VALGRIND
  VALGRIND_STACK_DEREGISTER(valgrind_stack_id_);
#endif
#ifdef PROV_FIBER_TSAN
  if (tsan_fiber_ != nullptr) __tsan_destroy_fiber(tsan_fiber_);
#endif
  if (mapping_ != nullptr) ::munmap(mapping_, mapping_size_);
}

Fiber *Fiber::current() {
  return t_current;
}

const void *Fiber::context_identity() {
  if (t_current != nullptr) return t_current;
  return &t_thread_marker;
}

void Fiber::start(unsigned int high, unsigned int low) {
  auto *self =
      reinterpret_cast<Fiber *>((static_cast<uintptr_t>(high) << 32) | static_cast<uintptr_t>(low));
#ifdef PROV_FIBER_ASAN
  __sanitizer_finish_switch_fiber(nullptr, &self->caller_stack_bottom_, &self->caller_stack_size_);
#endif
  self->entry_(self->argument_);
  self->finished_ = true;
  self->switch_out(/*finishing=*/true);
  std::abort();  // a finished fiber is never resumed
}

void Fiber::resume() {
  if (finished_) return;
  previous_ = t_current;
  t_current = this;
  if (!started_) {
    // swapcontext installs the target's signal mask: a fresh fiber gets
    // this thread's, not that of the thread which created it.
    ::pthread_sigmask(SIG_SETMASK, nullptr, &context_.uc_sigmask);
  }
  started_ = true;
#ifdef PROV_FIBER_ASAN
  void *caller_fake_stack = nullptr;
  __sanitizer_start_switch_fiber(&caller_fake_stack, stack_, stack_size_);
#endif
#ifdef PROV_FIBER_TSAN
  tsan_caller_ = __tsan_get_current_fiber();
  __tsan_switch_to_fiber(tsan_fiber_, 0);
#endif
  ::swapcontext(&caller_, &context_);
#ifdef PROV_FIBER_ASAN
  __sanitizer_finish_switch_fiber(caller_fake_stack, nullptr, nullptr);
#endif
  t_current = previous_;
}

void Fiber::switch_out(bool finishing) {
#ifdef PROV_FIBER_ASAN
  // A finishing fiber's fake stack is released (nullptr).
  __sanitizer_start_switch_fiber(finishing ? nullptr : &fake_stack_, caller_stack_bottom_,
                                 caller_stack_size_);
#else
  (void)finishing;
#endif
#ifdef PROV_FIBER_TSAN
  __tsan_switch_to_fiber(tsan_caller_, 0);
#endif
  ::swapcontext(&context_, &caller_);
#ifdef PROV_FIBER_ASAN
  __sanitizer_finish_switch_fiber(fake_stack_, &caller_stack_bottom_, &caller_stack_size_);
#endif
}

void Fiber::yield() {
  Fiber *self = t_current;
  if (self == nullptr) return;
  self->switch_out(/*finishing=*/false);
}

}  // namespace prov::core
