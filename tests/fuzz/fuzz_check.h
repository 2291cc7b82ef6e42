// Invariant checks for fuzz targets: a broken invariant aborts (libFuzzer
// records the input as a crash; the regression runner fails).
#ifndef PROV_TESTS_FUZZ_FUZZ_CHECK_H
#define PROV_TESTS_FUZZ_FUZZ_CHECK_H

#include <cstdio>
#include <cstdlib>

#define FUZZ_ASSERT(cond)                                                                    \
  do {                                                                                       \
    if (!(cond)) {                                                                           \
      std::fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                          \
    }                                                                                        \
  } while (0)

#endif  // PROV_TESTS_FUZZ_FUZZ_CHECK_H
