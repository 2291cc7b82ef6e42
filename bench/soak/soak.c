/* Soak (issue 7): many registrations against a real dps-emulator with
 * random faults switched on and off through its admin endpoint, random
 * cancellations, blocking and asynchronous registrations on all three
 * transports, at a fixed concurrency. Every registration is accounted for
 * (its final status is recorded exactly once), and the process's resident
 * memory and open file descriptors are sampled once a second.
 *
 *   soak --registrations N --concurrency C [--duration S] --csv samples.csv [--seed S]
 *
 * --duration spreads the registrations evenly over S seconds (a long soak at
 * a low rate); without it they run back to back.
 *
 * PROV_TEST_EMULATOR names the dps-emulator binary (see run_soak.sh).
 * Exit status 0 only when every registration ended with a clear status,
 * none is missing or counted twice, and the fd count is back to where it
 * started. */
#define _GNU_SOURCE
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "emulator_fixture.h"
#include "process_stats.h"
#include "prov/prov.h"

#define SCOPE "0ne00000A0A"
#define GROUP_KEY "bGlicHJvdi1zb2FrLWdyb3VwLWtleS1zb2FrLXNvYWsqKio="
#define STATUS_SLOTS 16

static const char *kConfig =
    "{\"idScope\": \"" SCOPE
    "\", \"iotHubs\": [\"hub-1.example.net\", \"hub-2.example.net\"],"
    " \"enrollmentGroups\": [{\"enrollmentGroupId\": \"soak\", \"retryAfterSeconds\": 1,"
    "  \"attestation\": {\"type\": \"symmetricKey\", \"primaryKey\": \"" GROUP_KEY "\"}}]}";

/* The fault sets the chaos thread switches between (global faults). */
static const char *kFaultSets[] = {
    "{\"faults\": []}",
    "{\"faults\": [{\"type\": \"throttle\", \"every\": 5, \"retryAfterSeconds\": 1}]}",
    "{\"faults\": [{\"type\": \"error\", \"status\": 503, \"every\": 7}]}",
    "{\"faults\": [{\"type\": \"error\", \"status\": 500, \"every\": 9}]}",
    "{\"faults\": [{\"type\": \"drop\", \"after\": \"connect\", \"count\": 5}]}",
    "{\"faults\": [{\"type\": \"drop\", \"after\": \"register\", \"count\": 5}]}",
    "{\"faults\": [{\"type\": \"silent\", \"count\": 3}]}",
    "{\"faults\": [{\"type\": \"wrongRid\", \"count\": 3}]}",
    "{\"faults\": [{\"type\": \"malformed\", \"every\": 97}]}",
    "{\"faults\": [{\"type\": \"throttle\", \"perMinute\": 600, \"retryAfterSeconds\": 2}]}",
};
#define FAULT_SETS (sizeof kFaultSets / sizeof kFaultSets[0])

struct registration {
  atomic_int finished; /* times a final status was recorded: must end as 1 */
  int status;
  int transport;
  int async;
  int cancel_after_ms; /* -1 = not cancelled */
};

static struct registration *g_regs;
static int g_total, g_concurrency;
static double g_duration_s; /* > 0: registration i starts no earlier than i * duration / total */
static double g_start;
static atomic_int g_next, g_done, g_stop_sampling;
static emu_fixture *g_emu;
static FILE *g_csv;
static unsigned g_seed;

static long rss_kib(void) {
  return test_proc_status_field("VmRSS");
}

/* Heap bytes in use (all malloc arenas): unlike RSS, free memory kept by
 * the allocator does not count, so a leak shows here as a steady climb. */
static long heap_in_use_kib(void) {
  struct mallinfo2 info = mallinfo2();
  return (long)(info.uordblks / 1024);
}

static void finish(int index, int status) {
  g_regs[index].status = status;
  atomic_fetch_add(&g_regs[index].finished, 1);
  atomic_fetch_add(&g_done, 1);
}

struct async_wait {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  int done;
  int index;
};

static void on_complete(int status, prov_result *result, void *user) {
  struct async_wait *w = user;
  prov_result_free(result);
  finish(w->index, status);
  pthread_mutex_lock(&w->lock);
  w->done = 1;
  pthread_cond_signal(&w->cond);
  pthread_mutex_unlock(&w->lock);
}

struct canceller_args {
  prov_client *client;
  int after_ms;
  pthread_t thread;
};

static void *cancel_later(void *arg) {
  struct canceller_args *c = arg;
  test_sleep_ms(c->after_ms);
  prov_client_cancel(c->client);
  return NULL;
}

static void run_one(int index) {
  struct registration *r = &g_regs[index];
  char id[64];
  snprintf(id, sizeof id, "soak-%06d", index);
  prov_client *client = NULL;
  char host[64];
  int port = r->transport == PROV_TRANSPORT_MQTT ? emu_mqtt_port(g_emu) : emu_https_port(g_emu);
  snprintf(host, sizeof host, "localhost:%d", port);
  int rc = prov_client_create_symkey_group(&client, host, id, SCOPE, GROUP_KEY);
  if (rc != PROV_OK) {
    finish(index, rc);
    return;
  }
  prov_client_set_server_verification_cert(client, emu_ca_pem(g_emu));
  prov_client_set_transport(client, r->transport);
  prov_client_set_register_timeout(client, 30000);
  prov_client_set_response_timeout(client, 3000);
  prov_client_set_retry_policy(client, 10, 200, 2000);

  struct canceller_args canceller = {client, r->cancel_after_ms, 0};
  if (r->cancel_after_ms >= 0) pthread_create(&canceller.thread, NULL, cancel_later, &canceller);
  if (r->async) {
    struct async_wait w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, index};
    rc = prov_client_register_async(client, on_complete, &w);
    if (rc != PROV_OK) {
      finish(index, rc);
    } else {
      pthread_mutex_lock(&w.lock);
      while (!w.done) pthread_cond_wait(&w.cond, &w.lock);
      pthread_mutex_unlock(&w.lock);
    }
  } else {
    prov_result *result = NULL;
    rc = prov_client_register(client, &result);
    prov_result_free(result);
    finish(index, rc);
  }
  if (r->cancel_after_ms >= 0) pthread_join(canceller.thread, NULL);
  prov_client_free(client);
}

static void *worker(void *arg) {
  (void)arg;
  for (;;) {
    int index = atomic_fetch_add(&g_next, 1);
    if (index >= g_total) return NULL;
    if (g_duration_s > 0) {
      const double due = g_start + index * g_duration_s / g_total;
      const double wait = due - test_now_s();
      if (wait > 0) test_sleep_ms((long)(wait * 1000));
    }
    run_one(index);
  }
}

static void *chaos(void *arg) {
  (void)arg;
  unsigned seed = g_seed ^ 0x5eed;
  while (!atomic_load(&g_stop_sampling)) {
    const char *set = kFaultSets[rand_r(&seed) % FAULT_SETS];
    emu_admin_request(g_emu, "PUT", "/faults", set, NULL);
    for (int i = 0; i < 20 && !atomic_load(&g_stop_sampling); ++i) test_sleep_ms(100);
  }
  emu_admin_request(g_emu, "DELETE", "/faults", NULL, NULL);
  return NULL;
}

static void *sampler(void *arg) {
  double start = *(double *)arg;
  while (!atomic_load(&g_stop_sampling)) {
    fprintf(g_csv, "%.1f,%d,%ld,%d,%ld\n", test_now_s() - start, atomic_load(&g_done), rss_kib(),
            test_open_fds(), heap_in_use_kib());
    fflush(g_csv);
    test_sleep_ms(1000);
  }
  return NULL;
}

int main(int argc, char **argv) {
  g_total = 10000;
  g_concurrency = 32;
  const char *csv_path = "soak-samples.csv";
  g_seed = (unsigned)time(NULL);
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--registrations"))
      g_total = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--concurrency"))
      g_concurrency = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--csv"))
      csv_path = argv[i + 1];
    else if (!strcmp(argv[i], "--seed"))
      g_seed = (unsigned)strtoul(argv[i + 1], NULL, 10);
    else if (!strcmp(argv[i], "--duration"))
      g_duration_s = atof(argv[i + 1]);
    else {
      fprintf(stderr,
              "usage: soak [--registrations N] [--concurrency C] [--duration S] [--csv FILE] "
              "[--seed S]\n");
      return 2;
    }
  }
  if (g_total < 1 || g_concurrency < 1) {
    fprintf(stderr, "soak: --registrations and --concurrency must be positive\n");
    return 2;
  }
  g_csv = fopen(csv_path, "w");
  if (!g_csv) {
    perror(csv_path);
    return 2;
  }
  fprintf(g_csv, "seconds,completed,rss_kib,open_fds,heap_kib\n");
  g_emu = emu_start(kConfig);
  if (!g_emu) return 2;

  /* The plan: transports, async and cancellations drawn from the seed. */
  g_regs = calloc((size_t)g_total, sizeof *g_regs);
  unsigned seed = g_seed;
  int planned_cancels = 0;
  for (int i = 0; i < g_total; ++i) {
    int t = rand_r(&seed) % 10;
    g_regs[i].transport = t < 6   ? PROV_TRANSPORT_MQTT
                          : t < 8 ? PROV_TRANSPORT_MQTT_WS
                                  : PROV_TRANSPORT_HTTPS;
    g_regs[i].async = rand_r(&seed) % 4 == 0;
    g_regs[i].cancel_after_ms = rand_r(&seed) % 20 == 0 ? rand_r(&seed) % 400 : -1;
    planned_cancels += g_regs[i].cancel_after_ms >= 0;
  }

  const int fds_before = test_open_fds();
  const long rss_before = rss_kib();
  const long heap_before = heap_in_use_kib();
  double start = test_now_s();
  g_start = start;
  pthread_t sampler_thread, chaos_thread;
  pthread_create(&sampler_thread, NULL, sampler, &start);
  pthread_create(&chaos_thread, NULL, chaos, NULL);
  pthread_t *workers = calloc((size_t)g_concurrency, sizeof *workers);
  for (int i = 0; i < g_concurrency; ++i) pthread_create(&workers[i], NULL, worker, NULL);
  for (int i = 0; i < g_concurrency; ++i) pthread_join(workers[i], NULL);
  const double elapsed = test_now_s() - start;
  const long rss_after = rss_kib();
  const long heap_after = heap_in_use_kib();
  atomic_store(&g_stop_sampling, 1);
  pthread_join(sampler_thread, NULL);
  pthread_join(chaos_thread, NULL);
  const int fds_after = test_open_fds();

  /* Accounting. */
  int by_status[STATUS_SLOTS] = {0};
  int missing = 0, twice = 0, unclear = 0, cancelled_planned = 0;
  for (int i = 0; i < g_total; ++i) {
    int n = atomic_load(&g_regs[i].finished);
    if (n == 0) ++missing;
    if (n > 1) ++twice;
    int s = g_regs[i].status;
    if (s >= 0 && s < STATUS_SLOTS) by_status[s]++;
    /* Clear outcomes: assigned, or an error that names its cause. */
    if (s == PROV_E_INTERNAL || s == PROV_E_INVALID_ARG || s == PROV_E_NOMEM || s < 0 ||
        s >= STATUS_SLOTS)
      ++unclear;
    if (s == PROV_E_CANCELLED && g_regs[i].cancel_after_ms < 0) ++unclear;
    cancelled_planned += s == PROV_E_CANCELLED;
  }
  printf("soak: %d registrations, concurrency %d, seed %u, %.1f s (%.1f registrations/s)\n",
         g_total, g_concurrency, g_seed, elapsed, g_total / elapsed);
  printf("soak: planned cancellations %d, cancelled %d\n", planned_cancels, cancelled_planned);
  for (int s = 0; s < STATUS_SLOTS; ++s) {
    if (by_status[s]) printf("soak:   %-26s %6d\n", prov_status_str(s), by_status[s]);
  }
  printf("soak: missing %d, counted twice %d, unclear %d\n", missing, twice, unclear);
  printf(
      "soak: RSS %ld KiB before, %ld KiB after; heap in use %ld KiB before, %ld KiB after; "
      "open fds %d before, %d after\n",
      rss_before, rss_after, heap_before, heap_after, fds_before, fds_after);
  /* What the emulator saw: requests, replies and the faults it injected. */
  char *stats = NULL;
  if (emu_admin_request(g_emu, "GET", "/stats", NULL, &stats) == 200 && stats) {
    printf("soak: emulator /stats %s\n", stats);
  }
  free(stats);
  emu_stop(g_emu);
  fclose(g_csv);
  free(workers);
  free(g_regs);
  return missing || twice || unclear || fds_after > fds_before ? 1 : 0;
}
