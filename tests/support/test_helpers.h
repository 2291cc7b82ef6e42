/*
 * test_helpers.h — small helpers shared by the CMocka test suites (e2e, fault
 * matrix, x509, transports, concurrency): time bounds scaled for slow runs, a
 * substring assertion, a registration that must end "assigned", and picking
 * the one case a process runs; plus, from process_stats.h, a monotonic clock,
 * sleeping and the process's thread and descriptor counts.
 *
 * Header-only (static inline), so suites need no extra library. Include it
 * after <cmocka.h>.
 */
#ifndef PROV_TESTS_TEST_HELPERS_H
#define PROV_TESTS_TEST_HELPERS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emulator_fixture.h"
#include "process_stats.h"
#include "prov/prov.h"

/* Upper time bounds are multiplied by PROV_TEST_TIME_SCALE. The valgrind
 * variants set it high: there a first TLS handshake alone can take seconds
 * (more on a loaded machine), and they check memory, statuses and messages,
 * while the plain runs check the timing. Lower bounds are never scaled. */
static inline double test_scaled(double seconds) {
  const char *scale = getenv("PROV_TEST_TIME_SCALE");
  double factor = scale ? atof(scale) : 1.0;
  return seconds * (factor >= 1.0 ? factor : 1.0);
}

/* Fails the running test unless `text` contains `part`, showing both. */
static inline void test_assert_contains(const char *text, const char *part) {
  if (!text || !strstr(text, part))
    fail_msg("\"%s\" does not contain \"%s\"", text ? text : "(null)", part);
}

/* Registers and expects "assigned"; on any other outcome prints libprov's
 * status and message and the emulator's log (emu may be NULL), then fails.
 * Returns the result (the caller frees it). */
static inline prov_result *test_register_assigned(const emu_fixture *emu, prov_client *client) {
  prov_result *result = NULL;
  int rc = prov_client_register(client, &result);
  if (rc != PROV_OK) {
    fprintf(stderr, "register: %s: %s\n", prov_status_str(rc), prov_last_error_message());
    if (emu) emu_dump_log(emu);
  }
  assert_int_equal(rc, PROV_OK);
  assert_non_null(result);
  assert_string_equal(prov_result_status(result), "assigned");
  return result;
}

/* For a main() whose suite runs one case per process (ctest passes its
 * name): narrows the run to the case called `name` (NULL = all of them).
 * Returns 0, or 2 after a message when no case has that name: a filter that
 * matches nothing would "pass" with zero tests run. */
static inline int test_select_case(const struct CMUnitTest *tests, size_t count, const char *name) {
  if (name == NULL) return 0;
  for (size_t i = 0; i < count; ++i) {
    if (strcmp(tests[i].name, name) == 0) {
      cmocka_set_test_filter(name);
      return 0;
    }
  }
  fprintf(stderr, "unknown test case \"%s\"\n", name);
  return 2;
}

#endif /* PROV_TESTS_TEST_HELPERS_H */
