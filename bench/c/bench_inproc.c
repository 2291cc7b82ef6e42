/*
 * prov-bench-inproc: the "libprov from C, in-process" benchmark peer.
 *
 *   prov-bench-inproc run   --devices CSV --host H[:P] --id-scope S --ca PEM_FILE [--threads N]
 *   prov-bench-inproc scale --devices CSV --host H[:P] --id-scope S --ca PEM_FILE [--stack-kb K]
 *
 * run:   registers every device of the list, each with a client of its own
 *        (create, set CA, register, free — what an application does).
 *        --threads 1 runs on the main thread (sequential); N > 1 starts N
 *        worker threads that take the next device until the list is done.
 * --async uses prov_client_register_async (the library runs each registration
 *        and calls back) instead of the caller's threads; with run, --threads
 *        is then the number kept in flight.
 * scale: holds every device but the first in flight at once, one thread per
 *        registration (the public API is blocking and starts no thread, so a
 *        thread per in-flight registration is the only way to get
 *        concurrency). The first device is registered alone beforehand so
 *        one-time library setup is not charged to the in-flight ones. A
 *        sampler reads VmRSS, Threads and the open descriptors from
 *        /proc/self every 10 ms and reports the baseline and the peaks.
 *
 * Prints one JSON object on stdout: counts, failures by status, wall time,
 * CPU (user+sys of the whole process during the measured part), the
 * latency of every successful registration, and for scale the /proc
 * readings. Keys are never printed.
 */
#define _GNU_SOURCE
#include <prov/prov.h>
#include <pthread.h>
#include <stdatomic.h>

#include "bench_common.h"

enum { MAX_FAILURE_KINDS = 16 };

typedef struct bench_config {
  const char *devices_path;
  const char *host;
  const char *id_scope;
  const char *ca_path;
  long threads;
  long stack_kb;
  long timeout_ms;
  int use_async;
} bench_config;

static bench_config config = {NULL, NULL, NULL, NULL, 1, 0, 120000, 0};
static bench_device *devices;
static size_t device_count;
static char *ca_pem;

static double *latencies_ms;
static int *succeeded;
static int *status_of;
static atomic_size_t next_device;
static atomic_long in_flight;
static atomic_long finished;

static pthread_mutex_t error_lock = PTHREAD_MUTEX_INITIALIZER;
static char first_error[512];

static void remember_error(const char *registration_id, int status, const char *message) {
  pthread_mutex_lock(&error_lock);
  if (first_error[0] == '\0') {
    snprintf(first_error, sizeof first_error, "%s: %s: %s", registration_id,
             prov_status_str(status), message);
  }
  pthread_mutex_unlock(&error_lock);
}

/* One registration as an application does it; returns the prov_status. */
static int register_device(size_t index) {
  const bench_device *device = &devices[index];
  prov_client *client = NULL;
  prov_result *result = NULL;
  double started = bench_now_s();
  int status = prov_client_create_symkey(&client, config.host, device->registration_id,
                                         config.id_scope, device->key);
  if (status == PROV_OK) status = prov_client_set_server_verification_cert(client, ca_pem);
  if (status == PROV_OK)
    status = prov_client_set_register_timeout(client, (uint32_t)config.timeout_ms);
  if (status == PROV_OK) {
    atomic_fetch_add(&in_flight, 1);
    status = prov_client_register(client, &result);
    atomic_fetch_sub(&in_flight, 1);
  }
  if (status == PROV_OK &&
      (!prov_result_assigned_hub(result) || strcmp(prov_result_status(result), "assigned") != 0)) {
    status = PROV_E_PROTOCOL; /* PROV_OK must mean "assigned with a hub" */
  }
  latencies_ms[index] = (bench_now_s() - started) * 1000.0;
  status_of[index] = status;
  succeeded[index] = status == PROV_OK;
  if (status != PROV_OK) remember_error(device->registration_id, status, prov_last_error_message());
  prov_result_free(result);
  prov_client_free(client);
  atomic_fetch_add(&finished, 1);
  return status;
}

static void *run_worker(void *unused) {
  (void)unused;
  for (;;) {
    size_t index = atomic_fetch_add(&next_device, 1);
    if (index >= device_count) return NULL;
    register_device(index);
  }
}

static void *scale_worker(void *arg) {
  register_device((size_t)(uintptr_t)arg);
  return NULL;
}

/* --- prov_client_register_async: completion callbacks instead of threads --- */

typedef struct async_slot {
  size_t index;
  prov_client *client;
  double started;
} async_slot;

static pthread_mutex_t flight_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t flight_changed = PTHREAD_COND_INITIALIZER;

static void finish_device(async_slot *slot, int status, prov_result *result, const char *error) {
  if (status == PROV_OK &&
      (!prov_result_assigned_hub(result) || strcmp(prov_result_status(result), "assigned") != 0)) {
    status = PROV_E_PROTOCOL;
  }
  latencies_ms[slot->index] = (bench_now_s() - slot->started) * 1000.0;
  status_of[slot->index] = status;
  succeeded[slot->index] = status == PROV_OK;
  if (status != PROV_OK) remember_error(devices[slot->index].registration_id, status, error);
  prov_result_free(result);
  pthread_mutex_lock(&flight_lock);
  atomic_fetch_sub(&in_flight, 1);
  atomic_fetch_add(&finished, 1);
  pthread_cond_broadcast(&flight_changed);
  pthread_mutex_unlock(&flight_lock);
}

/* Runs on the library's thread. Freeing the client here is allowed (prov.h). */
static void on_registered(int status, prov_result *result, void *user_data) {
  async_slot *slot = user_data;
  prov_client *client = slot->client;
  finish_device(slot, status, result, prov_last_error_message());
  prov_client_free(client);
  free(slot);
}

/* Starts device `index` with prov_client_register_async; 1 if started. */
static int start_device_async(size_t index) {
  async_slot *slot = bench_xcalloc(1, sizeof *slot);
  const bench_device *device = &devices[index];
  slot->index = index;
  slot->started = bench_now_s();
  atomic_fetch_add(&in_flight, 1);
  int status = prov_client_create_symkey(&slot->client, config.host, device->registration_id,
                                         config.id_scope, device->key);
  if (status == PROV_OK) status = prov_client_set_server_verification_cert(slot->client, ca_pem);
  if (status == PROV_OK)
    status = prov_client_set_register_timeout(slot->client, (uint32_t)config.timeout_ms);
  if (status == PROV_OK) status = prov_client_register_async(slot->client, on_registered, slot);
  if (status == PROV_OK) return 1;
  prov_client *client = slot->client;
  finish_device(slot, status, NULL, prov_last_error_message());
  prov_client_free(client);
  free(slot);
  return 0;
}

static void wait_until_in_flight_below(long limit) {
  pthread_mutex_lock(&flight_lock);
  while (atomic_load(&in_flight) >= limit) pthread_cond_wait(&flight_changed, &flight_lock);
  pthread_mutex_unlock(&flight_lock);
}

static void print_failures(FILE *out, size_t first, size_t last) {
  int kinds[MAX_FAILURE_KINDS] = {0};
  long counts[MAX_FAILURE_KINDS] = {0};
  int kind_count = 0, written = 0;
  for (size_t i = first; i < last; i++) {
    int k;
    if (succeeded[i]) continue;
    for (k = 0; k < kind_count && kinds[k] != status_of[i]; k++) {
    }
    if (k == kind_count && kind_count < MAX_FAILURE_KINDS) kinds[kind_count++] = status_of[i];
    if (k < kind_count) counts[k]++;
  }
  fputs("\"failures\":{", out);
  for (int k = 0; k < kind_count; k++) {
    fprintf(out, "%s", written++ ? "," : "");
    bench_json_string(out, prov_status_str(kinds[k]));
    fprintf(out, ":%ld", counts[k]);
  }
  fputc('}', out);
}

static void print_summary(const char *mode, size_t first, double elapsed_s, bench_cpu cpu_before,
                          bench_cpu cpu_after) {
  size_t ok = 0;
  for (size_t i = first; i < device_count; i++) ok += succeeded[i] ? 1 : 0;
  printf("{\"mode\":\"%s\",\"threads\":%ld,\"count\":%zu,\"ok\":%zu,\"elapsed_s\":%.6f,", mode,
         config.threads, device_count - first, ok, elapsed_s);
  printf("\"cpu_user_s\":%.6f,\"cpu_sys_s\":%.6f,", cpu_after.user_s - cpu_before.user_s,
         cpu_after.sys_s - cpu_before.sys_s);
  printf("\"library\":\"libprov %s (C)\"", prov_version_string());
  printf(",\"first_error\":");
  bench_json_string(stdout, first_error);
  putchar(',');
  print_failures(stdout, first, device_count);
  putchar(',');
  bench_json_latencies(stdout, latencies_ms + first, succeeded + first, device_count - first);
}

static int run_mode(void) {
  bench_cpu cpu_before = bench_cpu_now();
  double started = bench_now_s();
  if (config.use_async) {
    /* At most --threads registrations in flight, each on the library's thread. */
    for (size_t i = 0; i < device_count; i++) {
      wait_until_in_flight_below(config.threads);
      start_device_async(i);
    }
    wait_until_in_flight_below(1);
  } else if (config.threads == 1) {
    run_worker(NULL);
  } else {
    pthread_t *workers = bench_xcalloc((size_t)config.threads, sizeof *workers);
    long started_threads = 0;
    for (long t = 0; t < config.threads; t++) {
      if (pthread_create(&workers[t], NULL, run_worker, NULL) != 0) break;
      started_threads++;
    }
    if (started_threads == 0) bench_die("could not start any worker thread");
    for (long t = 0; t < started_threads; t++) pthread_join(workers[t], NULL);
    free(workers);
  }
  double elapsed = bench_now_s() - started;
  print_summary(config.use_async ? "run-async" : "run", 0, elapsed, cpu_before, bench_cpu_now());
  puts("}");
  return 0;
}

typedef struct proc_sample {
  long rss_kb;
  long threads;
  long fds;
} proc_sample;

static proc_sample sample_proc(void) {
  proc_sample s;
  s.rss_kb = bench_proc_status_field("VmRSS");
  s.threads = bench_proc_status_field("Threads");
  s.fds = bench_open_fds();
  return s;
}

/* Resident memory of the thread stacks: anonymous read-write mappings whose
 * size is the stack size (glibc maps each stack as one region, minus its
 * guard page). Returns the summed Rss in kB and the region count. */
static long stack_rss_kb(size_t stack_bytes, long *regions) {
  FILE *f = fopen("/proc/self/smaps", "r");
  char line[512];
  long total = 0, in_region = 0, size_kb = 0, stack_kb = (long)(stack_bytes / 1024);
  *regions = 0;
  if (!f) return -1;
  while (fgets(line, sizeof line, f)) {
    unsigned long start, end;
    char perms[8], path[256] = "";
    if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %255s", &start, &end, perms, path) >= 3 &&
        strchr(line, '-') < strchr(line, ' ')) {
      size_kb = (long)((end - start) / 1024);
      in_region = path[0] == '\0' && strncmp(perms, "rw", 2) == 0 && size_kb <= stack_kb &&
                  size_kb >= stack_kb - 64;
      if (in_region) (*regions)++;
    } else if (in_region && strncmp(line, "Rss:", 4) == 0) {
      total += strtol(line + 4, NULL, 10);
    }
  }
  fclose(f);
  return total;
}

static int scale_mode(void) {
  if (device_count < 2) bench_die("scale needs at least 2 devices (the first one warms up)");
  /* Warm-up: library and TLS one-time setup, not charged to the in-flight ones. */
  if (register_device(0) != PROV_OK) bench_die("warm-up registration failed: %s", first_error);
  atomic_store(&finished, 0);

  size_t concurrent = device_count - 1;
  pthread_t *workers = bench_xcalloc(concurrent, sizeof *workers);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  if (config.stack_kb > 0 && pthread_attr_setstacksize(&attr, (size_t)config.stack_kb * 1024) != 0)
    bench_die("--stack-kb %ld is not a usable thread stack size", config.stack_kb);
  size_t default_stack = 0;
  pthread_attr_getstacksize(&attr, &default_stack);

  proc_sample baseline = sample_proc();
  proc_sample peak = baseline;
  long peak_in_flight = 0, rss_at_peak_in_flight = baseline.rss_kb;
  long stacks_kb = -1, stack_regions = 0;
  bench_cpu cpu_before = bench_cpu_now();
  double started = bench_now_s();
  size_t started_threads = 0;
  char thread_error[128] = "";
  for (size_t i = 0; i < concurrent && config.use_async; i++) {
    if (start_device_async(i + 1)) started_threads++;
  }
  for (size_t i = 0; i < concurrent && !config.use_async; i++) {
    int rc = pthread_create(&workers[i], &attr, scale_worker, (void *)(uintptr_t)(i + 1));
    if (rc != 0) {
      snprintf(thread_error, sizeof thread_error, "pthread_create failed after %zu threads: %s",
               started_threads, strerror(rc));
      break;
    }
    started_threads++;
  }
  double all_started = bench_now_s() - started;
  /* Sample until every started registration has returned. */
  while ((size_t)atomic_load(&finished) < started_threads) {
    proc_sample now = sample_proc();
    long flying = atomic_load(&in_flight);
    if (now.rss_kb > peak.rss_kb) peak.rss_kb = now.rss_kb;
    if (now.threads > peak.threads) peak.threads = now.threads;
    if (now.fds > peak.fds) peak.fds = now.fds;
    if (flying == (long)started_threads && stacks_kb < 0) {
      stacks_kb = stack_rss_kb(default_stack, &stack_regions); /* once, all in flight */
    }
    if (flying > peak_in_flight ||
        (flying == peak_in_flight && now.rss_kb > rss_at_peak_in_flight)) {
      peak_in_flight = flying;
      rss_at_peak_in_flight = now.rss_kb;
    }
    struct timespec pause = {0, 10 * 1000 * 1000};
    nanosleep(&pause, NULL);
  }
  if (!config.use_async) {
    for (size_t i = 0; i < started_threads; i++) pthread_join(workers[i], NULL);
  }
  double elapsed = bench_now_s() - started;
  bench_cpu cpu_after = bench_cpu_now();
  proc_sample after = sample_proc();
  pthread_attr_destroy(&attr);
  free(workers);
  for (size_t i = started_threads + 1; i < device_count; i++) status_of[i] = PROV_E_INTERNAL;

  struct rlimit fd_limit;
  getrlimit(RLIMIT_NOFILE, &fd_limit);
  config.threads = (long)started_threads;
  print_summary(config.use_async ? "scale-async" : "scale", 1, elapsed, cpu_before, cpu_after);
  printf(",\"thread_stack_kb\":%zu,\"fd_limit\":%ld,\"threads_started\":%zu,", default_stack / 1024,
         (long)fd_limit.rlim_cur, started_threads);
  printf("\"thread_error\":");
  bench_json_string(stdout, thread_error);
  printf(",\"thread_start_s\":%.6f,", all_started);
  printf("\"stacks_at_full\":{\"rss_kb\":%ld,\"regions\":%ld},", stacks_kb, stack_regions);
  printf("\"baseline\":{\"rss_kb\":%ld,\"threads\":%ld,\"fds\":%ld},", baseline.rss_kb,
         baseline.threads, baseline.fds);
  printf(
      "\"peak\":{\"rss_kb\":%ld,\"threads\":%ld,\"fds\":%ld,\"in_flight\":%ld,"
      "\"rss_at_peak_in_flight_kb\":%ld},",
      peak.rss_kb, peak.threads, peak.fds, peak_in_flight, rss_at_peak_in_flight);
  printf("\"after\":{\"rss_kb\":%ld,\"threads\":%ld,\"fds\":%ld}}\n", after.rss_kb, after.threads,
         after.fds);
  return 0;
}

static void usage(void) {
  fputs(
      "usage: prov-bench-inproc run|scale --devices CSV --host H[:P] --id-scope S --ca PEM_FILE\n"
      "                         [--threads N] [--stack-kb K] [--timeout-ms MS] [--async]\n",
      stderr);
  exit(2);
}

int main(int argc, char **argv) {
  if (argc < 2) usage();
  const char *mode = argv[1];
  if (strcmp(mode, "--help") == 0) usage();
  if (strcmp(mode, "run") != 0 && strcmp(mode, "scale") != 0)
    bench_die("unknown mode '%s' (run or scale)", mode);
  for (int i = 2; i < argc; i++) {
    const char *option = argv[i];
    if (strcmp(option, "--async") == 0) {
      config.use_async = 1;
      continue;
    }
    if (i + 1 >= argc) bench_die("option %s needs a value", option);
    const char *value = argv[++i];
    if (strcmp(option, "--devices") == 0)
      config.devices_path = value;
    else if (strcmp(option, "--host") == 0)
      config.host = value;
    else if (strcmp(option, "--id-scope") == 0)
      config.id_scope = value;
    else if (strcmp(option, "--ca") == 0)
      config.ca_path = value;
    else if (strcmp(option, "--threads") == 0)
      config.threads = bench_parse_count(option, value, 100000);
    else if (strcmp(option, "--stack-kb") == 0)
      config.stack_kb = bench_parse_count(option, value, 1024 * 1024);
    else if (strcmp(option, "--timeout-ms") == 0)
      config.timeout_ms = bench_parse_count(option, value, 86400000);
    else
      bench_die("unknown option '%s'", option);
  }
  if (!config.devices_path || !config.host || !config.id_scope || !config.ca_path)
    bench_die("--devices, --host, --id-scope and --ca are required");
  devices = bench_read_devices(config.devices_path, &device_count);
  ca_pem = bench_read_file(config.ca_path);
  latencies_ms = bench_xcalloc(device_count, sizeof *latencies_ms);
  succeeded = bench_xcalloc(device_count, sizeof *succeeded);
  status_of = bench_xcalloc(device_count, sizeof *status_of);
  return strcmp(mode, "run") == 0 ? run_mode() : scale_mode();
}
