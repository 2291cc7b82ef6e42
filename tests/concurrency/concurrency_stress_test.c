/* Concurrency stress (issue 7), meant for ThreadSanitizer and also run in
 * the plain build: 100 clients register at the same time against one real
 * dps-emulator, from 50 threads, half of them asynchronously (on library
 * threads); a canceller thread cancels a third of them at random moments
 * (before, during and after their registration), a few async ones are
 * freed while in flight, and busy clients are poked from other threads.
 * Every registration must be accounted for: assigned, or PROV_E_CANCELLED
 * for one that was cancelled (or freed) while in flight. */
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
#include <time.h>

#include <cmocka.h>

#include "emulator_fixture.h"
#include "event_loop_test.h"
#include "process_stats.h"
#include "prov/prov.h"

#define SCOPE "0ne00000A0A"
#define FAST_GROUP_KEY "bGlicHJvdi1jb25jdXJyZW5jeS1mYXN0LWdyb3VwKio="
#define SLOW_GROUP_KEY "bGlicHJvdi1jb25jdXJyZW5jeS1zbG93LWdyb3VwKio="
#define CLIENTS 100
#define THREADS 50

static const char *kConfig =
    "{\"idScope\": \"" SCOPE
    "\", \"iotHubs\": [\"hub-1.example.net\", \"hub-2.example.net\"],"
    " \"enrollmentGroups\": ["
    "  {\"enrollmentGroupId\": \"fast\", \"attestation\": {\"type\": \"symmetricKey\","
    "   \"primaryKey\": \"" FAST_GROUP_KEY
    "\"}},"
    "  {\"enrollmentGroupId\": \"slow\", \"assignmentDelayMs\": 1500, \"retryAfterSeconds\": 1,"
    "   \"attestation\": {\"type\": \"symmetricKey\", \"primaryKey\": \"" SLOW_GROUP_KEY
    "\"}}"
    " ]}";

static emu_fixture *g_emu;

enum mode { SYNC, ASYNC, ASYNC_FREED_IN_FLIGHT };

struct slot {
  int index;
  enum mode mode;
  int cancel_at_ms; /* -1: never cancelled */
  prov_client *client;
  atomic_int started;
  atomic_int finished;
  int status;
  char hub[64];
  char message[256];
  pthread_mutex_t lock;
  pthread_cond_t done;
};

static struct slot g_slots[CLIENTS];
static pthread_barrier_t g_all_done; /* workers + canceller: nobody frees before */
static atomic_int g_busy_seen;

static void record(struct slot *s, int status, prov_result *result) {
  pthread_mutex_lock(&s->lock);
  s->status = status;
  if (result && prov_result_assigned_hub(result))
    snprintf(s->hub, sizeof s->hub, "%s", prov_result_assigned_hub(result));
  if (status != PROV_OK) snprintf(s->message, sizeof s->message, "%s", prov_last_error_message());
  atomic_store(&s->finished, 1);
  pthread_cond_signal(&s->done);
  pthread_mutex_unlock(&s->lock);
}

static void on_complete(int status, prov_result *result, void *user) {
  struct slot *s = user;
  /* The rule: the same client is busy inside its own callback. */
  prov_result *ignored = NULL;
  if (prov_client_register(s->client, &ignored) == PROV_E_BUSY) atomic_fetch_add(&g_busy_seen, 1);
  record(s, status, result);
  prov_result_free(result);
}

static prov_client *make_client(int index) {
  char id[64];
  snprintf(id, sizeof id, "stress-%03d", index);
  prov_client *client = NULL;
  const char *key = index % 3 == 0 ? SLOW_GROUP_KEY : FAST_GROUP_KEY;
  if (prov_client_create_symkey_group(&client, emu_mqtt_host(g_emu), id, SCOPE, key) != PROV_OK)
    return NULL;
  prov_client_set_server_verification_cert(client, emu_ca_pem(g_emu));
  prov_client_set_register_timeout(client, 120000);
  prov_client_set_response_timeout(client, 60000);
  return client;
}

static void wait_finished(struct slot *s) {
  pthread_mutex_lock(&s->lock);
  while (!atomic_load(&s->finished)) pthread_cond_wait(&s->done, &s->lock);
  pthread_mutex_unlock(&s->lock);
}

static void *worker(void *arg) {
  int t = (int)(intptr_t)arg;
  struct slot *mine[CLIENTS / THREADS];
  int n = 0;
  for (int i = t; i < CLIENTS; i += THREADS) mine[n++] = &g_slots[i];
  /* Async ones first (they run on library threads), then the blocking ones here. */
  for (int k = 0; k < n; ++k) {
    struct slot *s = mine[k];
    if (s->mode == SYNC) continue;
    atomic_store(&s->started, 1);
    int rc = prov_client_register_async(s->client, on_complete, s);
    if (rc != PROV_OK) record(s, rc, NULL);
  }
  for (int k = 0; k < n; ++k) {
    struct slot *s = mine[k];
    if (s->mode != SYNC) continue;
    atomic_store(&s->started, 1);
    prov_result *result = NULL;
    int rc = prov_client_register(s->client, &result);
    record(s, rc, result);
    prov_result_free(result);
  }
  for (int k = 0; k < n; ++k) {
    struct slot *s = mine[k];
    if (s->mode == ASYNC_FREED_IN_FLIGHT) {
      test_sleep_ms(100 + 37 * (s->index % 7));
      prov_client_free(s->client); /* cancels and joins: the callback has run */
      s->client = NULL;
      if (!atomic_load(&s->finished)) record(s, -1, NULL); /* must not happen */
    }
  }
  for (int k = 0; k < n; ++k) wait_finished(mine[k]);
  pthread_barrier_wait(&g_all_done);
  for (int k = 0; k < n; ++k) {
    if (mine[k]->client) prov_client_free(mine[k]->client);
    mine[k]->client = NULL;
  }
  return NULL;
}

static void *canceller(void *arg) {
  (void)arg;
  /* Cancels in order of their time; also pokes busy clients. */
  for (int elapsed = 0; elapsed <= 3000; elapsed += 10) {
    for (int i = 0; i < CLIENTS; ++i) {
      struct slot *s = &g_slots[i];
      if (s->cancel_at_ms == elapsed && s->mode != ASYNC_FREED_IN_FLIGHT) {
        prov_client_cancel(s->client);
      }
    }
    test_sleep_ms(10);
  }
  pthread_barrier_wait(&g_all_done);
  return NULL;
}

static void hundred_clients(void **state) {
  (void)state;
  unsigned seed = (unsigned)time(NULL);
  srand(seed);
  for (int i = 0; i < CLIENTS; ++i) {
    struct slot *s = &g_slots[i];
    memset(s, 0, sizeof *s);
    s->index = i;
    s->mode = i % 2 == 0 ? SYNC : (i % 10 == 1 ? ASYNC_FREED_IN_FLIGHT : ASYNC);
    s->cancel_at_ms = i % 3 == 0 ? (rand() % 300) * 10 : -1; /* the slow group */
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->done, NULL);
    s->client = make_client(i);
    assert_non_null(s->client);
  }
  pthread_barrier_init(&g_all_done, NULL, THREADS + 1);
  pthread_t threads[THREADS], cancel_thread;
  assert_int_equal(pthread_create(&cancel_thread, NULL, canceller, NULL), 0);
  for (int t = 0; t < THREADS; ++t)
    assert_int_equal(pthread_create(&threads[t], NULL, worker, (void *)(intptr_t)t), 0);
  for (int t = 0; t < THREADS; ++t) pthread_join(threads[t], NULL);
  pthread_join(cancel_thread, NULL);
  pthread_barrier_destroy(&g_all_done);

  int assigned = 0, cancelled = 0, bad = 0;
  for (int i = 0; i < CLIENTS; ++i) {
    struct slot *s = &g_slots[i];
    const int may_cancel = s->cancel_at_ms >= 0 || s->mode == ASYNC_FREED_IN_FLIGHT;
    if (s->status == PROV_OK && s->hub[0]) {
      ++assigned;
    } else if (s->status == PROV_E_CANCELLED && may_cancel) {
      ++cancelled;
    } else {
      ++bad;
      fprintf(stderr, "client %d (mode %d, cancel at %d ms): %s %s\n", i, s->mode, s->cancel_at_ms,
              prov_status_str(s->status), s->message);
    }
  }
  fprintf(stderr, "seed %u: %d assigned, %d cancelled, %d unexpected; busy in callback %d\n", seed,
          assigned, cancelled, bad, atomic_load(&g_busy_seen));
  if (bad) emu_dump_log(g_emu);
  assert_int_equal(bad, 0);
  assert_int_equal(assigned + cancelled, CLIENTS);
  /* Every async completion callback saw its own client busy. */
  assert_int_equal(atomic_load(&g_busy_seen), CLIENTS / 2);
  /* The never-cancelled ones (two thirds) were all assigned. */
  assert_true(assigned >= CLIENTS - (CLIENTS + 2) / 3 - CLIENTS / 10);
}

EMU_GROUP_FIXTURES(start_emulator, stop_emulator, g_emu, kConfig)

int main(int argc, char **argv) {
  /* "event-loop [pattern]": the engine tests of event_loop_test.c instead. */
  if (argc > 1 && strcmp(argv[1], "event-loop") == 0) {
    return event_loop_tests_main(argc > 2 ? argv[2] : NULL);
  }
  const struct CMUnitTest tests[] = {cmocka_unit_test(hundred_clients)};
  return cmocka_run_group_tests(tests, start_emulator, stop_emulator);
}
