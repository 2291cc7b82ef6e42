/* The event-loop engine tests (event_loop_test.c), run by
 * `prov_concurrency_stress_test event-loop`. */
#ifndef PROV_TESTS_EVENT_LOOP_TEST_H
#define PROV_TESTS_EVENT_LOOP_TEST_H

/* `filter`: a cmocka test-name pattern (NULL: every test). */
int event_loop_tests_main(const char *filter);

#endif
