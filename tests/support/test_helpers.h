/*
 * test_helpers.h — small helpers shared by the CMocka test suites (e2e, fault
 * matrix, x509, transports): a monotonic clock, time bounds scaled for slow
 * runs, sleeping, and a substring assertion.
 *
 * Header-only (static inline), so suites need no extra library. Include it
 * after <cmocka.h>.
 */
#ifndef PROV_TESTS_TEST_HELPERS_H
#define PROV_TESTS_TEST_HELPERS_H

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Seconds on the monotonic clock. */
static inline double test_now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Upper time bounds are multiplied by PROV_TEST_TIME_SCALE. The valgrind
 * variants set it high: there a first TLS handshake alone can take seconds
 * (more on a loaded machine), and they check memory, statuses and messages,
 * while the plain runs check the timing. Lower bounds are never scaled. */
static inline double test_scaled(double seconds) {
  const char *scale = getenv("PROV_TEST_TIME_SCALE");
  double factor = scale ? atof(scale) : 1.0;
  return seconds * (factor >= 1.0 ? factor : 1.0);
}

static inline void test_sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* Fails the running test unless `text` contains `part`, showing both. */
static inline void test_assert_contains(const char *text, const char *part) {
  if (!text || !strstr(text, part))
    fail_msg("\"%s\" does not contain \"%s\"", text ? text : "(null)", part);
}

#endif /* PROV_TESTS_TEST_HELPERS_H */
