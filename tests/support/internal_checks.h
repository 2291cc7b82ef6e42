// The checks of the white-box C++ tests (linked against prov_internal):
// CHECK(cond) and CHECK_THROWS(expr, status, part) record a failure with its
// line and keep going; main() returns non-zero when g_failures is not 0.
// CHECK_THROWS expects prov::core::Error with `status` and a message
// containing `part`.
#ifndef PROV_TESTS_INTERNAL_CHECKS_H
#define PROV_TESTS_INTERNAL_CHECKS_H

#include <cstdio>
#include <functional>
#include <string>

#include "core/error.h"

inline int g_failures = 0;

#define CHECK(cond)                                                                 \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      ++g_failures;                                                                 \
    }                                                                               \
  } while (0)

inline void check_throws(const std::function<void()> &fn, prov_status status,
                         const std::string &part, int line) {
  try {
    fn();
    std::fprintf(stderr, "line %d: expected an Error(%d), nothing thrown\n", line, status);
    ++g_failures;
  } catch (const prov::core::Error &error) {
    if (error.status() != status || std::string(error.what()).find(part) == std::string::npos) {
      std::fprintf(stderr, "line %d: got Error(%d, \"%s\"), expected (%d, \"...%s...\")\n", line,
                   error.status(), error.what(), status, part.c_str());
      ++g_failures;
    }
  }
}

#define CHECK_THROWS(expr, status, part) check_throws([&] { (void)(expr); }, status, part, __LINE__)

#endif  // PROV_TESTS_INTERNAL_CHECKS_H
