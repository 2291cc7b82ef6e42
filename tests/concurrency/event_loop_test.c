/* The event-loop engine behind prov_client_register_async (issue 9): many
 * registrations in flight as fibers on a few library threads, against one
 * real dps-emulator whose assignment delay keeps them overlapping.
 *  - in_flight_at_scale: 1,000 (300 under sanitizers) in flight at once; the
 *    process holds only a few more threads than before, and fewer than 1.5
 *    descriptors per registration; all are assigned.
 *  - cancel_many_in_flight: cancelling in-flight fibers one by one; each
 *    completes with PROV_E_CANCELLED within 100 ms of its cancel.
 *  - callback_frees_other_in_flight: a completion callback frees another
 *    client still in flight (possibly on the same loop): no deadlock, the
 *    other one's completion (cancelled) has run when free returns.
 *  - callback_runs_sync_registration / callback_starts_async /
 *    callback_frees_own_client: the other things a callback may do.
 * Built into prov_concurrency_stress_test (selected by its first argument),
 * so the TSan pass that builds that target runs these too. */
#define _GNU_SOURCE
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <cmocka.h>

#include "emulator_fixture.h"
#include "event_loop_test.h"
#include "process_stats.h"
#include "prov/prov.h"

#define SCOPE "0ne00000A0A"
#define FAST_KEY "bGlicHJvdi1ldmVudC1sb29wLWZhc3QtZ3JvdXAqKg=="
#define SLOW_KEY "bGlicHJvdi1ldmVudC1sb29wLXNsb3ctZ3JvdXAqKg=="
#define POLLED_KEY "bGlicHJvdi1ldmVudC1sb29wLXBvbGxlZC1ncm91cA=="

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifdef SANITIZED
#define SCALE 300 /* instrumented TLS is ~10x slower; the property is the same */
#else
#define SCALE 1000
#endif

/* The slow group stays "assigning" for 20 s (polled every 4 s on the open
 * connection): long enough for every registration to be in flight at once. */
static const char *kConfig =
    "{\"idScope\": \"" SCOPE
    "\", \"iotHubs\": [\"hub-1.example.net\"],"
    " \"enrollmentGroups\": ["
    "  {\"enrollmentGroupId\": \"fast\", \"attestation\": {\"type\": \"symmetricKey\","
    "   \"primaryKey\": \"" FAST_KEY
    "\"}},"
    "  {\"enrollmentGroupId\": \"polled\", \"assignmentDelayMs\": 1500, \"retryAfterSeconds\": 1,"
    "   \"attestation\": {\"type\": \"symmetricKey\", \"primaryKey\": \"" POLLED_KEY
    "\"}},"
    "  {\"enrollmentGroupId\": \"slow\", \"assignmentDelayMs\": 20000, \"retryAfterSeconds\": 4,"
    "   \"attestation\": {\"type\": \"symmetricKey\", \"primaryKey\": \"" SLOW_KEY
    "\"}}"
    " ]}";

static emu_fixture *g_emu;

static double now_ms(void) {
  return test_now_s() * 1000.0;
}

static prov_client *make_client(const char *group_key, const char *prefix, int index) {
  char id[64];
  snprintf(id, sizeof id, "%s-%d", prefix, index);
  prov_client *client = NULL;
  int rc = prov_client_create_symkey_group(&client, emu_mqtt_host(g_emu), id, SCOPE, group_key);
  if (rc != PROV_OK) fail_msg("create %s: %s", id, prov_last_error_message());
  assert_int_equal(prov_client_set_server_verification_cert(client, emu_ca_pem(g_emu)), PROV_OK);
  assert_int_equal(prov_client_set_register_timeout(client, 120000), PROV_OK);
  return client;
}

/* One registration's outcome, signalled to the test thread. */
struct outcome {
  atomic_int assigning; /* reported PROV_PROGRESS_ASSIGNING */
  atomic_int done;
  int status;
  double completed_at_ms;
  char message[200];
};

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_changed = PTHREAD_COND_INITIALIZER;
static atomic_int g_assigning;
static atomic_int g_done;

static void on_progress(int state, const char *detail, uint32_t retry_after_ms, void *user) {
  (void)detail;
  (void)retry_after_ms;
  struct outcome *o = user;
  if (state == PROV_PROGRESS_ASSIGNING && atomic_exchange(&o->assigning, 1) == 0) {
    atomic_fetch_add(&g_assigning, 1);
  }
}

static void on_complete(int status, prov_result *result, void *user) {
  struct outcome *o = user;
  o->status = status;
  o->completed_at_ms = now_ms();
  if (status != PROV_OK) snprintf(o->message, sizeof o->message, "%s", prov_last_error_message());
  prov_result_free(result);
  pthread_mutex_lock(&g_lock);
  atomic_store(&o->done, 1);
  atomic_fetch_add(&g_done, 1);
  pthread_cond_broadcast(&g_changed);
  pthread_mutex_unlock(&g_lock);
}

static void reset_counters(void) {
  atomic_store(&g_assigning, 0);
  atomic_store(&g_done, 0);
}

/* Waits until `counter` reaches `target` or `timeout_ms` passes. */
static int wait_count(atomic_int *counter, int target, long timeout_ms) {
  const double until = now_ms() + (double)timeout_ms;
  while (atomic_load(counter) < target && now_ms() < until) test_sleep_ms(10);
  return atomic_load(counter);
}

/* Resident KB of the mappings of exactly `size_kb` (the fibers' stacks are
 * 256 KB mappings of their own), and how many there are. */
static long resident_kb_of_mappings(long size_kb, int *count) {
  FILE *f = fopen("/proc/self/smaps", "r");
  char line[512];
  long total = 0;
  int matching = 0;
  int in_match = 0;
  while (f && fgets(line, sizeof line, f)) {
    long kb = 0;
    if (sscanf(line, "Size: %ld kB", &kb) == 1) {
      in_match = kb == size_kb;
      matching += in_match;
    } else if (in_match && sscanf(line, "Rss: %ld kB", &kb) == 1) {
      total += kb;
    }
  }
  if (f) fclose(f);
  *count = matching;
  return total;
}

static void raise_fd_limit(void) {
  struct rlimit limit;
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

static void in_flight_at_scale(void **state) {
  (void)state;
  raise_fd_limit();
  reset_counters();
  const int threads_before = test_thread_count();
  const int fds_before = test_open_fds();
  prov_client **clients = calloc(SCALE, sizeof *clients);
  struct outcome *outcomes = calloc(SCALE, sizeof *outcomes);
  assert_non_null(clients);
  assert_non_null(outcomes);

  const double started = now_ms();
  for (int i = 0; i < SCALE; ++i) {
    clients[i] = make_client(SLOW_KEY, "scale", i);
    assert_int_equal(prov_client_set_progress_callback(clients[i], on_progress, &outcomes[i]),
                     PROV_OK);
    int rc = prov_client_register_async(clients[i], on_complete, &outcomes[i]);
    if (rc != PROV_OK) fail_msg("register_async %d: %s", i, prov_last_error_message());
  }
  /* Every one connected, registered and told "assigning": all in flight. */
  const int assigning = wait_count(&g_assigning, SCALE, 60000);
  const int threads_during = test_thread_count();
  const int fds_during = test_open_fds();
  const int finished_early = atomic_load(&g_done);
  int stacks = 0;
  const long stack_kb = resident_kb_of_mappings(256, &stacks);
  fprintf(stderr, "fiber stacks: %d mappings of 256 KB, %ld KB resident (%.1f KB each)\n", stacks,
          stack_kb, stacks > 0 ? (double)stack_kb / stacks : 0.0);
  const int in_flight = assigning - finished_early;
  fprintf(stderr,
          "%d registrations: %d assigning after %.0f ms (%d already done); threads %d -> %d, "
          "fds %d -> %d (%.2f per registration in flight)\n",
          SCALE, assigning, now_ms() - started, finished_early, threads_before, threads_during,
          fds_before, fds_during,
          in_flight > 0 ? (double)(fds_during - fds_before) / in_flight : 0);
  assert_int_equal(assigning, SCALE);
  assert_true(in_flight >= SCALE * 9 / 10);
  /* A few loop threads (at most 4) instead of one per registration. */
  assert_true(threads_during <= threads_before + 4 + 2);
  /* The socket of each, plus a small constant. */
  assert_true((double)(fds_during - fds_before) < 1.5 * in_flight);

  const int done = wait_count(&g_done, SCALE, 120000);
  assert_int_equal(done, SCALE);
  int assigned = 0;
  for (int i = 0; i < SCALE; ++i) {
    if (outcomes[i].status == PROV_OK) {
      ++assigned;
    } else if (i - assigned < 5) { /* the first few failures */
      fprintf(stderr, "registration %d: %s: %s\n", i, prov_status_str(outcomes[i].status),
              outcomes[i].message);
    }
    prov_client_free(clients[i]);
  }
  assert_int_equal(assigned, SCALE);
  free(clients);
  free(outcomes);
}

#define CANCELLED_COUNT 100

static void cancel_many_in_flight(void **state) {
  (void)state;
  reset_counters();
  prov_client *clients[CANCELLED_COUNT];
  static struct outcome outcomes[CANCELLED_COUNT];
  memset(outcomes, 0, sizeof outcomes);
  for (int i = 0; i < CANCELLED_COUNT; ++i) {
    clients[i] = make_client(SLOW_KEY, "cancelled", i);
    assert_int_equal(prov_client_set_progress_callback(clients[i], on_progress, &outcomes[i]),
                     PROV_OK);
    assert_int_equal(prov_client_register_async(clients[i], on_complete, &outcomes[i]), PROV_OK);
  }
  assert_int_equal(wait_count(&g_assigning, CANCELLED_COUNT, 60000), CANCELLED_COUNT);
  double worst = 0;
  for (int i = 0; i < CANCELLED_COUNT; ++i) {
    const double asked = now_ms();
    assert_int_equal(prov_client_cancel(clients[i]), PROV_OK);
    pthread_mutex_lock(&g_lock);
    while (!atomic_load(&outcomes[i].done)) pthread_cond_wait(&g_changed, &g_lock);
    pthread_mutex_unlock(&g_lock);
    const double took = outcomes[i].completed_at_ms - asked;
    if (took > worst) worst = took;
    assert_int_equal(outcomes[i].status, PROV_E_CANCELLED);
    if (took > 100) fail_msg("registration %d completed %.1f ms after its cancel", i, took);
  }
  fprintf(stderr, "%d in-flight registrations cancelled, slowest completion %.1f ms\n",
          CANCELLED_COUNT, worst);
  for (int i = 0; i < CANCELLED_COUNT; ++i) prov_client_free(clients[i]);
}

/* A fast client whose completion frees a slow client still in flight. */
struct freeing_pair {
  prov_client *fast;
  prov_client *slow;
  struct outcome slow_outcome;
  atomic_int slow_done_when_freed; /* 1: its completion ran before free returned */
  atomic_int fast_status;
  atomic_int finished;
};

static void on_fast_frees_slow(int status, prov_result *result, void *user) {
  struct freeing_pair *pair = user;
  prov_result_free(result);
  prov_client_free(pair->slow); /* cancels it and waits for its fiber */
  atomic_store(&pair->slow_done_when_freed, atomic_load(&pair->slow_outcome.done));
  atomic_store(&pair->fast_status, status);
  atomic_store(&pair->finished, 1);
}

#define PAIRS 8

static void callback_frees_other_in_flight(void **state) {
  (void)state;
  reset_counters();
  static struct freeing_pair pairs[PAIRS];
  memset(pairs, 0, sizeof pairs);
  for (int i = 0; i < PAIRS; ++i) {
    pairs[i].slow = make_client(SLOW_KEY, "freed-slow", i);
    assert_int_equal(
        prov_client_set_progress_callback(pairs[i].slow, on_progress, &pairs[i].slow_outcome),
        PROV_OK);
    assert_int_equal(prov_client_register_async(pairs[i].slow, on_complete, &pairs[i].slow_outcome),
                     PROV_OK);
  }
  /* Every slow one in flight before the fast ones start (the loops take
   * registrations round robin, so some pairs share a loop). */
  assert_int_equal(wait_count(&g_assigning, PAIRS, 60000), PAIRS);
  for (int i = 0; i < PAIRS; ++i) {
    pairs[i].fast = make_client(FAST_KEY, "freeing-fast", i);
    assert_int_equal(prov_client_register_async(pairs[i].fast, on_fast_frees_slow, &pairs[i]),
                     PROV_OK);
  }
  for (int i = 0; i < PAIRS; ++i) {
    wait_count(&pairs[i].finished, 1, 30000);
    assert_true(atomic_load(&pairs[i].finished));
    assert_int_equal(atomic_load(&pairs[i].fast_status), PROV_OK);
    assert_true(atomic_load(&pairs[i].slow_done_when_freed));
    assert_int_equal(pairs[i].slow_outcome.status, PROV_E_CANCELLED);
    prov_client_free(pairs[i].fast);
  }
}

/* Completion callbacks that run a blocking registration on another client,
 * while slow registrations share the loops. */
struct sync_in_callback {
  prov_client *outer;
  prov_client *inner;
  atomic_int inner_status;
  atomic_int finished;
};

static void on_complete_then_register(int status, prov_result *result, void *user) {
  struct sync_in_callback *s = user;
  prov_result_free(result);
  (void)status;
  prov_result *inner = NULL;
  atomic_store(&s->inner_status, prov_client_register(s->inner, &inner));
  prov_result_free(inner);
  atomic_store(&s->finished, 1);
}

static void callback_runs_sync_registration(void **state) {
  (void)state;
  enum { COUNT = 6 };
  static struct sync_in_callback runs[COUNT];
  memset(runs, 0, sizeof runs);
  for (int i = 0; i < COUNT; ++i) {
    runs[i].outer = make_client(FAST_KEY, "sync-outer", i);
    runs[i].inner = make_client(FAST_KEY, "sync-inner", i);
    assert_int_equal(prov_client_register_async(runs[i].outer, on_complete_then_register, &runs[i]),
                     PROV_OK);
  }
  for (int i = 0; i < COUNT; ++i) {
    wait_count(&runs[i].finished, 1, 30000);
    assert_true(atomic_load(&runs[i].finished));
    assert_int_equal(atomic_load(&runs[i].inner_status), PROV_OK);
    prov_client_free(runs[i].outer);
    prov_client_free(runs[i].inner);
  }
}

/* A chain: each completion starts the next client's asynchronous registration. */
#define CHAIN 10
static prov_client *g_chain[CHAIN];
static atomic_int g_chain_done;
static atomic_int g_chain_failures;

static void on_chain_link(int status, prov_result *result, void *user) {
  const int index = (int)(intptr_t)user;
  prov_result_free(result);
  if (status != PROV_OK) atomic_fetch_add(&g_chain_failures, 1);
  if (index + 1 < CHAIN && prov_client_register_async(g_chain[index + 1], on_chain_link,
                                                      (void *)(intptr_t)(index + 1)) != PROV_OK) {
    atomic_fetch_add(&g_chain_failures, 1);
  }
  atomic_fetch_add(&g_chain_done, 1);
}

static void callback_starts_async(void **state) {
  (void)state;
  atomic_store(&g_chain_done, 0);
  atomic_store(&g_chain_failures, 0);
  for (int i = 0; i < CHAIN; ++i) g_chain[i] = make_client(FAST_KEY, "chain", i);
  assert_int_equal(prov_client_register_async(g_chain[0], on_chain_link, (void *)(intptr_t)0),
                   PROV_OK);
  assert_int_equal(wait_count(&g_chain_done, CHAIN, 60000), CHAIN);
  assert_int_equal(atomic_load(&g_chain_failures), 0);
  for (int i = 0; i < CHAIN; ++i) prov_client_free(g_chain[i]);
}

/* Completions that free their own clients, many at once. */
#define SELF_FREED 50
static atomic_int g_self_freed;

static void on_complete_free_self(int status, prov_result *result, void *user) {
  prov_result_free(result);
  if (status == PROV_OK) prov_client_free((prov_client *)user);
  atomic_fetch_add(&g_self_freed, status == PROV_OK ? 1 : 1000);
}

static void callback_frees_own_client(void **state) {
  (void)state;
  atomic_store(&g_self_freed, 0);
  for (int i = 0; i < SELF_FREED; ++i) {
    prov_client *client = make_client(FAST_KEY, "self-freed", i);
    assert_int_equal(prov_client_register_async(client, on_complete_free_self, client), PROV_OK);
  }
  assert_int_equal(wait_count(&g_self_freed, SELF_FREED, 60000), SELF_FREED);
  test_sleep_ms(50);
  assert_int_equal(atomic_load(&g_self_freed), SELF_FREED);
}

/* HTTPS (its own connection cache on the loop's multi handle, polling on
 * the kept-alive connection) and MQTT over WebSockets, asynchronously, side by
 * side with MQTT, each polled at least once. */
#define PER_TRANSPORT 10

static void transports_async(void **state) {
  (void)state;
  reset_counters();
  const int transports[] = {PROV_TRANSPORT_HTTPS, PROV_TRANSPORT_MQTT_WS, PROV_TRANSPORT_MQTT};
  enum { TOTAL = 3 * PER_TRANSPORT };
  prov_client *clients[TOTAL];
  static struct outcome outcomes[TOTAL];
  memset(outcomes, 0, sizeof outcomes);
  for (int i = 0; i < TOTAL; ++i) {
    const int transport = transports[i / PER_TRANSPORT];
    char id[64];
    char host[64];
    snprintf(id, sizeof id, "transport-%d-%d", transport, i);
    snprintf(host, sizeof host, "localhost:%d",
             transport == PROV_TRANSPORT_MQTT ? emu_mqtt_port(g_emu) : emu_https_port(g_emu));
    assert_int_equal(prov_client_create_symkey_group(&clients[i], host, id, SCOPE, POLLED_KEY),
                     PROV_OK);
    assert_int_equal(prov_client_set_server_verification_cert(clients[i], emu_ca_pem(g_emu)),
                     PROV_OK);
    assert_int_equal(prov_client_set_transport(clients[i], transport), PROV_OK);
    assert_int_equal(prov_client_set_progress_callback(clients[i], on_progress, &outcomes[i]),
                     PROV_OK);
    assert_int_equal(prov_client_register_async(clients[i], on_complete, &outcomes[i]), PROV_OK);
  }
  assert_int_equal(wait_count(&g_done, TOTAL, 60000), TOTAL);
  for (int i = 0; i < TOTAL; ++i) {
    if (outcomes[i].status != PROV_OK) {
      fail_msg("registration %d (transport %d): %s: %s", i, transports[i / PER_TRANSPORT],
               prov_status_str(outcomes[i].status), outcomes[i].message);
    }
    assert_true(atomic_load(&outcomes[i].assigning)); /* it polled */
    prov_client_free(clients[i]);
  }
}

/* Trusted roots stay per client on the shared loops: registrations against
 * two emulators (two different development PKIs whose roots share a subject
 * name) side by side, each trusting only its own root, all succeed; a client
 * that trusts the first emulator's root is refused by the second, however
 * many connections to the second already ran on the same multi handles (a
 * root installed for one client must never be trusted by another). */
#define ROOT_ROUNDS 4

static int register_async_and_wait(const emu_fixture *server, const char *ca_pem, int index,
                                   char *message, size_t message_size) {
  char id[64];
  snprintf(id, sizeof id, "roots-%d", index);
  prov_client *client = NULL;
  assert_int_equal(
      prov_client_create_symkey_group(&client, emu_mqtt_host(server), id, SCOPE, FAST_KEY),
      PROV_OK);
  assert_int_equal(prov_client_set_server_verification_cert(client, ca_pem), PROV_OK);
  assert_int_equal(prov_client_set_register_timeout(client, 30000), PROV_OK);
  static struct outcome outcome;
  memset(&outcome, 0, sizeof outcome);
  reset_counters();
  assert_int_equal(prov_client_register_async(client, on_complete, &outcome), PROV_OK);
  assert_int_equal(wait_count(&g_done, 1, 60000), 1);
  snprintf(message, message_size, "%s", outcome.message);
  prov_client_free(client);
  return outcome.status;
}

static void roots_stay_per_client(void **state) {
  (void)state;
  emu_fixture *other = NULL;
  assert_int_equal(emu_start_into(&other, kConfig), 0);
  char message[200];
  int index = 0;
  for (int round = 0; round < ROOT_ROUNDS; ++round) {
    int status =
        register_async_and_wait(g_emu, emu_ca_pem(g_emu), index++, message, sizeof message);
    if (status != PROV_OK)
      fail_msg("first emulator, own root: %s: %s", prov_status_str(status), message);
    status = register_async_and_wait(other, emu_ca_pem(other), index++, message, sizeof message);
    if (status != PROV_OK)
      fail_msg("second emulator, own root: %s: %s", prov_status_str(status), message);
    status = register_async_and_wait(other, emu_ca_pem(g_emu), index++, message, sizeof message);
    if (status == PROV_OK) fail_msg("second emulator accepted with the first emulator's root");
    assert_non_null(strstr(message, "certificate"));
  }
  assert_int_equal(emu_stop_slot(&other), 0);
}

EMU_GROUP_FIXTURES(start_emulator, stop_emulator, g_emu, kConfig)

int event_loop_tests_main(const char *filter) {
  if (filter != NULL) cmocka_set_test_filter(filter);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(in_flight_at_scale),
      cmocka_unit_test(cancel_many_in_flight),
      cmocka_unit_test(callback_frees_other_in_flight),
      cmocka_unit_test(callback_runs_sync_registration),
      cmocka_unit_test(callback_starts_async),
      cmocka_unit_test(callback_frees_own_client),
      cmocka_unit_test(transports_async),
      cmocka_unit_test(roots_stay_per_client),
  };
  return cmocka_run_group_tests_name("event_loop", tests, start_emulator, stop_emulator);
}
