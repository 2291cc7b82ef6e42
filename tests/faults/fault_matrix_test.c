/* Fault matrix (issue 7): the real libprov against the real dps-emulator's
 * fault injection. Every cell asserts the outcome AND the elapsed time.
 * Each cell runs in its own process (ctest passes its name as argv[1]) with
 * its own emulator on free loopback ports, so cells run in parallel.
 *
 * A connection dropped while the registration is polling (the emulator's
 * "drop" fault only fires on CONNECT and on the register request) is made
 * by a loopback TCP relay between the client and the emulator that the test
 * cuts: TLS stays end to end, the relay only forwards bytes. The same relay
 * in "black hole" mode accepts connections and never answers, to cancel a
 * registration stuck in the TLS handshake. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "emulator_fixture.h"
#include "prov/prov.h"
#include "test_helpers.h"

#define SCOPE "0ne00000A0A"
#define KEY "bGlicHJvdi1mYXVsdC1tYXRyaXgta2V5KioqKioqKio="

/* One enrollment per behaviour, all with the same key. */
#define ENROLL(id, extra)                       \
  "    {\"registrationId\": \"" id "\", " extra \
  " \"attestation\": {\"type\": \"symmetricKey\", \"primaryKey\": \"" KEY "\"}},\n"
#define THROTTLE_ONCE(seconds)                                                           \
  "\"faults\": [{\"type\": \"throttle\", \"every\": 1, \"retryAfterSeconds\": " #seconds \
  ", \"count\": 1}],"

/* clang-format off */
static const char *kConfig =
    "{\n"
    "  \"idScope\": \"" SCOPE "\",\n"
    "  \"iotHubs\": [\"hub-1.example.net\"],\n"
    "  \"enrollments\": [\n"
    ENROLL("dev-ok", "")
    ENROLL("dev-429-1", THROTTLE_ONCE(1))
    ENROLL("dev-429-3", THROTTLE_ONCE(3))
    ENROLL("dev-429-always", "\"faults\": [{\"type\": \"throttle\", \"every\": 1, \"retryAfterSeconds\": 1}],")
    ENROLL("dev-500", "\"faults\": [{\"type\": \"error\", \"status\": 500, \"every\": 1, \"count\": 2}],")
    ENROLL("dev-503", "\"faults\": [{\"type\": \"error\", \"status\": 503, \"every\": 1, \"count\": 1, \"retryAfterSeconds\": 1}],")
    ENROLL("dev-drop-connect", "\"faults\": [{\"type\": \"drop\", \"after\": \"connect\", \"count\": 1}],")
    ENROLL("dev-drop-register", "\"faults\": [{\"type\": \"drop\", \"after\": \"register\", \"count\": 1}],")
    ENROLL("dev-silent", "\"faults\": [{\"type\": \"silent\"}],")
    ENROLL("dev-slow", "\"assignmentDelayMs\": 10000, \"retryAfterSeconds\": 1,")
    ENROLL("dev-assigning", "\"assignmentDelayMs\": 3000, \"retryAfterSeconds\": 2,")
    ENROLL("dev-malformed", "\"faults\": [{\"type\": \"malformed\", \"every\": 1}],")
    ENROLL("dev-wrongrid", "\"faults\": [{\"type\": \"wrongRid\"}],")
    ENROLL("dev-wrongrid-once", "\"faults\": [{\"type\": \"wrongRid\", \"count\": 1}],")
    "    {\"registrationId\": \"dev-last\", \"attestation\": {\"type\": \"symmetricKey\", \"primaryKey\": \"" KEY "\"}}\n"
    "  ]\n"
    "}\n";
/* clang-format on */

static emu_fixture *g_emu;

static void assert_between(double value, double low, double high, const char *what) {
  if (value < low || value > high) {
    emu_dump_log(g_emu);
    fail_msg("%s took %.3f s, expected %.3f .. %.3f s", what, value, low, high);
  }
}

/* ---- loopback TCP relay --------------------------------------------------- */

struct relay {
  int listen_fd;
  int port;
  int target_port;
  atomic_int black_hole; /* accept, never forward, never answer */
  atomic_int generation; /* bumped to cut every open connection */
  atomic_int stop;
  atomic_int active; /* pump threads alive */
  atomic_int accepted;
  pthread_t acceptor;
};

struct pump_args {
  struct relay *relay;
  int client_fd;
};

static int connect_loopback(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((uint16_t)port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

static void *pump(void *arg) {
  struct pump_args *a = arg;
  struct relay *r = a->relay;
  int client = a->client_fd;
  free(a);
  int generation = atomic_load(&r->generation);
  int server = atomic_load(&r->black_hole) ? -1 : connect_loopback(r->target_port);
  char buffer[16384];
  while (!atomic_load(&r->stop) && atomic_load(&r->generation) == generation) {
    struct pollfd fds[2] = {{client, POLLIN, 0}, {server, POLLIN, 0}};
    int rc = poll(fds, 2, 20);
    if (rc < 0 && errno != EINTR) break;
    if (rc <= 0) continue;
    int done = 0;
    for (int i = 0; i < 2 && !done; ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      if (server < 0) { /* black hole: swallow, notice the close */
        if (read(client, buffer, sizeof buffer) <= 0) done = 1;
        continue;
      }
      ssize_t got = read(fds[i].fd, buffer, sizeof buffer);
      if (got <= 0) {
        done = 1;
        break;
      }
      int out = i == 0 ? server : client;
      for (ssize_t sent = 0; sent < got;) {
        ssize_t n = write(out, buffer + sent, (size_t)(got - sent));
        if (n <= 0) {
          done = 1;
          break;
        }
        sent += n;
      }
    }
    if (done) break;
  }
  close(client);
  if (server >= 0) close(server);
  atomic_fetch_sub(&r->active, 1);
  return NULL;
}

static void *acceptor(void *arg) {
  struct relay *r = arg;
  while (!atomic_load(&r->stop)) {
    struct pollfd pfd = {r->listen_fd, POLLIN, 0};
    if (poll(&pfd, 1, 20) <= 0) continue;
    int fd = accept4(r->listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0) continue;
    atomic_fetch_add(&r->accepted, 1);
    struct pump_args *a = malloc(sizeof *a);
    a->relay = r;
    a->client_fd = fd;
    atomic_fetch_add(&r->active, 1);
    pthread_t thread;
    if (pthread_create(&thread, NULL, pump, a) != 0) {
      atomic_fetch_sub(&r->active, 1);
      close(fd);
      free(a);
      continue;
    }
    pthread_detach(thread);
  }
  return NULL;
}

static struct relay *relay_start(int target_port) {
  struct relay *r = calloc(1, sizeof *r);
  r->target_port = target_port;
  r->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  assert_int_equal(bind(r->listen_fd, (struct sockaddr *)&addr, sizeof addr), 0);
  assert_int_equal(listen(r->listen_fd, 64), 0);
  getsockname(r->listen_fd, (struct sockaddr *)&addr, &len);
  r->port = ntohs(addr.sin_port);
  assert_int_equal(pthread_create(&r->acceptor, NULL, acceptor, r), 0);
  return r;
}

static void relay_cut(struct relay *r) {
  atomic_fetch_add(&r->generation, 1);
}

static void relay_stop(struct relay *r) {
  atomic_store(&r->stop, 1);
  pthread_join(r->acceptor, NULL);
  while (atomic_load(&r->active) > 0) test_sleep_ms(5);
  close(r->listen_fd);
  free(r);
}

/* ---- progress recording ---------------------------------------------------- */

#define MAX_EVENTS 64

struct progress_log {
  pthread_mutex_t lock;
  int count;
  int states[MAX_EVENTS];
  uint32_t delays[MAX_EVENTS];
  double times[MAX_EVENTS];
  char details[MAX_EVENTS][512];
  /* Cancel (or cut the relay) once this state is reported. */
  int trigger_state;
  atomic_int triggered;
  double triggered_at;
  struct relay *cut_relay; /* cut on the trigger instead of signalling */
};

static void on_progress(int state, const char *detail, uint32_t retry_after_ms, void *user) {
  struct progress_log *log = user;
  pthread_mutex_lock(&log->lock);
  if (log->count < MAX_EVENTS) {
    log->states[log->count] = state;
    log->delays[log->count] = retry_after_ms;
    log->times[log->count] = test_now_s();
    snprintf(log->details[log->count], sizeof log->details[0], "%s", detail);
    log->count++;
  }
  pthread_mutex_unlock(&log->lock);
  if (state == log->trigger_state && !atomic_load(&log->triggered)) {
    log->triggered_at = test_now_s();
    if (log->cut_relay) relay_cut(log->cut_relay);
    atomic_store(&log->triggered, 1);
  }
}

static void progress_init(struct progress_log *log, int trigger_state) {
  memset(log, 0, sizeof *log);
  pthread_mutex_init(&log->lock, NULL);
  log->trigger_state = trigger_state;
}

static int count_state(struct progress_log *log, int state) {
  int n = 0;
  for (int i = 0; i < log->count; ++i) n += log->states[i] == state;
  return n;
}

static int find_state(struct progress_log *log, int state, int from) {
  for (int i = from; i < log->count; ++i)
    if (log->states[i] == state) return i;
  return -1;
}

static prov_client *make_client_at(const char *host, const char *registration_id,
                                   uint32_t deadline_ms) {
  prov_client *client = NULL;
  int rc = prov_client_create_symkey(&client, host, registration_id, SCOPE, KEY);
  if (rc != PROV_OK) fail_msg("create %s: %s", registration_id, prov_last_error_message());
  assert_int_equal(prov_client_set_server_verification_cert(client, emu_ca_pem(g_emu)), PROV_OK);
  assert_int_equal(prov_client_set_register_timeout(client, deadline_ms), PROV_OK);
  return client;
}

static prov_client *make_client(const char *registration_id, uint32_t deadline_ms) {
  return make_client_at(emu_mqtt_host(g_emu), registration_id, deadline_ms);
}

static int register_timed(prov_client *client, prov_result **result, double *elapsed) {
  double start = test_now_s();
  int rc = prov_client_register(client, result);
  *elapsed = test_now_s() - start;
  return rc;
}

static void expect_status(int rc, int expected) {
  if (rc != expected) {
    emu_dump_log(g_emu);
    fail_msg("register returned %s (%s), expected %s", prov_status_str(rc),
             prov_last_error_message(), prov_status_str(expected));
  }
}

/* Lines of the emulator log containing every one of the given parts. */
static int count_log_lines(const char *part1, const char *part2, const char *part3) {
  char path[1200];
  snprintf(path, sizeof path, "%s/../emulator.log", emu_data_dir(g_emu));
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  char line[4096];
  int n = 0;
  while (fgets(line, sizeof line, f)) {
    if (strstr(line, part1) && (!part2 || strstr(line, part2)) && (!part3 || strstr(line, part3)))
      ++n;
  }
  fclose(f);
  return n;
}

EMU_GROUP_FIXTURES(start_emulator, stop_emulator, g_emu, kConfig)

/* ---- cells: throttling and service errors ----------------------------------- */

static void throttled_cell(const char *id, uint32_t retry_after_s) {
  prov_client *client = make_client(id, 20000);
  struct progress_log log;
  progress_init(&log, -1);
  assert_int_equal(prov_client_set_progress_callback(client, on_progress, &log), PROV_OK);
  prov_result *result = NULL;
  double elapsed;
  expect_status(register_timed(client, &result, &elapsed), PROV_OK);
  assert_string_equal(prov_result_status(result), "assigned");
  /* The retry-after is honoured as given: never shortened, never clamped. */
  assert_between(elapsed, retry_after_s, retry_after_s + test_scaled(1.0),
                 "throttled registration");
  int retry = find_state(&log, PROV_PROGRESS_RETRYING, 0);
  assert_true(retry >= 0);
  assert_int_equal(log.delays[retry], retry_after_s * 1000);
  test_assert_contains(log.details[retry], "service answered 429");
  test_assert_contains(log.details[retry], "429001");
  assert_int_equal(count_state(&log, PROV_PROGRESS_ASSIGNED), 1);
  prov_result_free(result);
  prov_client_free(client);
}

static void throttled_retry_after_1s(void **state) {
  (void)state;
  throttled_cell("dev-429-1", 1);
}

static void throttled_retry_after_3s(void **state) {
  (void)state;
  throttled_cell("dev-429-3", 3);
}

/* `times` 5xx answers, then assigned. With retry_after_s > 0 the emulator
 * sends that retry-after and each retry waits exactly that long; with 0 the
 * answers carry none and the client backs off with its own policy (here at
 * most kOwnBackoffMs, full jitter), never with some built-in retry-after. */
static void server_error_cell(const char *id, int status, int times, uint32_t retry_after_s) {
  enum { kOwnBackoffMs = 200 };
  prov_client *client = make_client(id, 20000);
  assert_int_equal(prov_client_set_retry_policy(client, 5, kOwnBackoffMs, kOwnBackoffMs), PROV_OK);
  struct progress_log log;
  progress_init(&log, -1);
  assert_int_equal(prov_client_set_progress_callback(client, on_progress, &log), PROV_OK);
  prov_result *result = NULL;
  double elapsed;
  expect_status(register_timed(client, &result, &elapsed), PROV_OK);
  assert_string_equal(prov_result_status(result), "assigned");
  assert_int_equal(count_state(&log, PROV_PROGRESS_RETRYING), times);
  char expected[64];
  snprintf(expected, sizeof expected, "service answered %d", status);
  for (int retry = find_state(&log, PROV_PROGRESS_RETRYING, 0); retry >= 0;
       retry = find_state(&log, PROV_PROGRESS_RETRYING, retry + 1)) {
    test_assert_contains(log.details[retry], expected);
    if (retry_after_s > 0) {
      assert_int_equal(log.delays[retry], retry_after_s * 1000);
      test_assert_contains(log.details[retry], "; retry-after ");
    } else {
      assert_true(log.delays[retry] <= kOwnBackoffMs);
      test_assert_contains(log.details[retry], "; backoff");
    }
  }
  double least = retry_after_s > 0 ? times * (double)retry_after_s : 0.0;
  double most = retry_after_s > 0 ? least : times * kOwnBackoffMs / 1000.0;
  assert_between(elapsed, least, most + test_scaled(1.0), "registration after 5xx");
  prov_result_free(result);
  prov_client_free(client);
}

/* dev-500's answers carry no retry-after. */
static void error_500_then_assigned(void **state) {
  (void)state;
  server_error_cell("dev-500", 500, 2, 0);
}

/* dev-503's answer carries retry-after 1. */
static void error_503_then_assigned(void **state) {
  (void)state;
  server_error_cell("dev-503", 503, 1, 1);
}

static void retry_budget_exhausted(void **state) {
  (void)state;
  prov_client *client = make_client("dev-429-always", 20000);
  assert_int_equal(prov_client_set_retry_policy(client, 2, 100, 100), PROV_OK);
  prov_result *result = NULL;
  double elapsed;
  expect_status(register_timed(client, &result, &elapsed), PROV_E_SERVICE);
  /* Two retries, each after the service's retry-after of 1 s. */
  assert_between(elapsed, 2.0, 2.0 + test_scaled(1.0), "exhausted retry budget");
  assert_non_null(result);
  assert_int_equal(prov_result_http_status(result), 429);
  assert_int_equal(prov_result_error_code(result), 429001);
  test_assert_contains(prov_last_error_message(), "service answered 429 to the register request");
  test_assert_contains(prov_last_error_message(), "gave up after 3 tries");
  prov_result_free(result);

  /* No retries at all: the first 429 is the answer. */
  assert_int_equal(prov_client_set_retry_policy(client, 0, 100, 100), PROV_OK);
  expect_status(register_timed(client, &result, &elapsed), PROV_E_SERVICE);
  assert_between(elapsed, 0.0, test_scaled(1.0), "registration without retries");
  assert_int_equal(prov_result_error_code(result), 429001);
  prov_result_free(result);

  /* Bad policies are refused, naming the value. */
  assert_int_equal(prov_client_set_retry_policy(client, 3, 0, 100), PROV_E_INVALID_ARG);
  test_assert_contains(prov_last_error_message(), "initial_backoff_ms 0");
  assert_int_equal(prov_client_set_retry_policy(client, 3, 500, 100), PROV_E_INVALID_ARG);
  test_assert_contains(prov_last_error_message(), "max_backoff_ms 100");
  prov_client_free(client);
}

/* ---- cells: dropped connections ----------------------------------------------- */

static void drop_cell(const char *id) {
  prov_client *client = make_client(id, 20000);
  assert_int_equal(prov_client_set_retry_policy(client, 5, 300, 300), PROV_OK);
  struct progress_log log;
  progress_init(&log, -1);
  assert_int_equal(prov_client_set_progress_callback(client, on_progress, &log), PROV_OK);
  prov_result *result = NULL;
  double elapsed;
  expect_status(register_timed(client, &result, &elapsed), PROV_OK);
  assert_string_equal(prov_result_status(result), "assigned");
  /* One backoff of at most 300 ms (full jitter) and a second connection. */
  assert_between(elapsed, 0.0, 0.3 + test_scaled(1.0), "registration after a dropped connection");
  assert_int_equal(count_state(&log, PROV_PROGRESS_RETRYING), 1);
  test_assert_contains(log.details[find_state(&log, PROV_PROGRESS_RETRYING, 0)],
                       "PROV_E_CONNECTION_DROPPED");
  assert_int_equal(count_state(&log, PROV_PROGRESS_CONNECTING), 2);
  assert_true(log.delays[find_state(&log, PROV_PROGRESS_RETRYING, 0)] <= 300);
  prov_result_free(result);
  prov_client_free(client);
}

static void drop_after_connect_reconnects(void **state) {
  (void)state;
  drop_cell("dev-drop-connect");
  assert_int_equal(count_log_lines("event=fault", "type=drop", "dev-drop-connect"), 1);
}

static void drop_after_register_reconnects(void **state) {
  (void)state;
  drop_cell("dev-drop-register");
  /* No operation id was known yet: the register request is sent again. */
  assert_int_equal(
      count_log_lines("event=request", "op=register", "registrationId=dev-drop-register"), 2);
}

/* The connection is cut while the client waits out the retry-after of an
 * "assigning" answer: it reconnects, still waits the rest of the retry-after,
 * and polls the SAME operation id (no new register request). */
static void drop_while_assigning_resumes_operation(void **state) {
  (void)state;
  struct relay *relay = relay_start(emu_mqtt_port(g_emu));
  char host[64];
  snprintf(host, sizeof host, "localhost:%d", relay->port);
  prov_client *client = make_client_at(host, "dev-assigning", 20000);
  assert_int_equal(prov_client_set_retry_policy(client, 5, 200, 200), PROV_OK);
  struct progress_log log;
  progress_init(&log, PROV_PROGRESS_ASSIGNING);
  log.cut_relay = relay;
  assert_int_equal(prov_client_set_progress_callback(client, on_progress, &log), PROV_OK);
  prov_result *result = NULL;
  double elapsed;
  expect_status(register_timed(client, &result, &elapsed), PROV_OK);
  assert_string_equal(prov_result_status(result), "assigned");

  int assigning = find_state(&log, PROV_PROGRESS_ASSIGNING, 0);
  assert_true(assigning >= 0);
  assert_int_equal(log.delays[assigning], 2000);
  const char *operation_id = log.details[assigning];
  assert_string_equal(prov_result_operation_id(result), operation_id);
  int retry = find_state(&log, PROV_PROGRESS_RETRYING, assigning);
  assert_true(retry > assigning);
  test_assert_contains(log.details[retry], "PROV_E_CONNECTION_DROPPED");
  test_assert_contains(log.details[retry], "resume polling operation");
  /* Reconnected, then polled the same operation no earlier than the retry-after. */
  assert_true(find_state(&log, PROV_PROGRESS_CONNECTING, retry) > retry);
  int poll = find_state(&log, PROV_PROGRESS_REGISTERING, retry);
  assert_true(poll > retry);
  assert_string_equal(log.details[poll], operation_id);
  assert_between(log.times[poll] - log.times[assigning], 2.0, 2.0 + test_scaled(0.5),
                 "first poll after the reconnect");
  assert_int_equal(count_log_lines("event=request", "op=register", "registrationId=dev-assigning"),
                   1);
  assert_true(count_log_lines("event=request", "op=query", "registrationId=dev-assigning") >= 1);
  assert_true(atomic_load(&relay->accepted) >= 2);
  /* 3 s assignment delay, polls every 2 s: assigned at the second poll (~4 s). */
  assert_between(elapsed, 3.0, 4.0 + test_scaled(1.5), "registration with a reconnect");
  prov_result_free(result);
  prov_client_free(client);
  relay_stop(relay);
}

/* ---- cells: silence, slowness, bad answers --------------------------------------- */

static void silent_times_out_at_deadline(void **state) {
  (void)state;
  prov_client *client = make_client("dev-silent", 4000);
  struct progress_log log;
  progress_init(&log, -1);
  assert_int_equal(prov_client_set_progress_callback(client, on_progress, &log), PROV_OK);
  prov_result *result = NULL;
  double elapsed;
  expect_status(register_timed(client, &result, &elapsed), PROV_E_TIMEOUT);
  assert_null(result);
  assert_between(elapsed, 3.0, 4.0 + test_scaled(1.0), "silent service (deadline 4 s)");
  test_assert_contains(prov_last_error_message(), "waiting for the register response");

  /* With a response timeout of 1.5 s the missing answers are retried (with a
   * new connection each time) until the deadline. */
  assert_int_equal(prov_client_set_response_timeout(client, 1500), PROV_OK);
  log.count = 0;
  expect_status(register_timed(client, &result, &elapsed), PROV_E_TIMEOUT);
  assert_between(elapsed, 3.0, 4.0 + test_scaled(1.0), "silent service, response timeout 1.5 s");
  assert_true(count_state(&log, PROV_PROGRESS_RETRYING) >= 1);
  test_assert_contains(log.details[find_state(&log, PROV_PROGRESS_RETRYING, 0)],
                       /* (under valgrind the CONNACK may be what is late) */
                       "timed out after 1500 ms waiting for the ");
  assert_int_equal(count_state(&log, PROV_PROGRESS_FAILED), 1);
  test_assert_contains(log.details[find_state(&log, PROV_PROGRESS_FAILED, 0)], "PROV_E_TIMEOUT");
  prov_client_free(client);
}

static void slow_assignment_beyond_deadline(void **state) {
  (void)state;
  prov_client *client = make_client("dev-slow", 3000);
  prov_result *result = NULL;
  double elapsed;
  expect_status(register_timed(client, &result, &elapsed), PROV_E_TIMEOUT);
  assert_between(elapsed, 2.0, 3.0 + test_scaled(1.0), "slow assignment (deadline 3 s)");
  test_assert_contains(prov_last_error_message(), "registration still \"assigning\"");
  test_assert_contains(prov_last_error_message(), "registration deadline of 3000 ms");
  prov_client_free(client);
}

static void malformed_body_is_protocol_error(void **state) {
  (void)state;
  prov_client *client = make_client("dev-malformed", 10000);
  prov_result *result = NULL;
  double elapsed;
  expect_status(register_timed(client, &result, &elapsed), PROV_E_PROTOCOL);
  assert_between(elapsed, 0.0, test_scaled(1.0), "malformed answer (not retried)");
  test_assert_contains(prov_last_error_message(), "unusable body in the register response");
  assert_int_equal(count_log_lines("event=request", "op=register", "registrationId=dev-malformed"),
                   1);
  /* Nothing broke: the same process registers another device. */
  prov_client *other = make_client("dev-ok", 10000);
  expect_status(register_timed(other, &result, &elapsed), PROV_OK);
  prov_result_free(result);
  prov_client_free(other);
  prov_client_free(client);
}

static void wrong_rid_ignored_then_timeout(void **state) {
  (void)state;
  prov_client *client = make_client("dev-wrongrid", 2500);
  prov_result *result = NULL;
  double elapsed;
  expect_status(register_timed(client, &result, &elapsed), PROV_E_TIMEOUT);
  assert_between(elapsed, 1.5, 2.5 + test_scaled(1.0), "foreign $rid answers (deadline 2.5 s)");
  test_assert_contains(prov_last_error_message(), "waiting for the register response");
  prov_client_free(client);
}

static void wrong_rid_ignored_then_success(void **state) {
  (void)state;
  prov_client *client = make_client("dev-wrongrid-once", 10000);
  assert_int_equal(prov_client_set_response_timeout(client, 1000), PROV_OK);
  assert_int_equal(prov_client_set_retry_policy(client, 3, 200, 200), PROV_OK);
  prov_result *result = NULL;
  double elapsed;
  expect_status(register_timed(client, &result, &elapsed), PROV_OK);
  /* The foreign answer is ignored; after the 1 s response timeout it retries. */
  assert_between(elapsed, 1.0, 1.2 + test_scaled(1.0), "registration after a foreign $rid answer");
  prov_result_free(result);
  prov_client_free(client);
}

/* ---- cells: cancellation ----------------------------------------------------------- */

struct canceller {
  pthread_t thread;
  prov_client *client;
  struct progress_log *log;
  long after_ms;
  double cancelled_at;
};

static void *cancel_when_triggered(void *arg) {
  struct canceller *c = arg;
  while (!atomic_load(&c->log->triggered)) test_sleep_ms(1);
  test_sleep_ms(c->after_ms);
  c->cancelled_at = test_now_s();
  int rc = prov_client_cancel(c->client);
  if (rc != PROV_OK) c->cancelled_at = -1;
  return NULL;
}

/* Registers, cancelling `after_ms` after `state` was reported; asserts
 * PROV_E_CANCELLED within 100 ms of the cancel call. */
static void cancel_cell(prov_client *client, int state, long after_ms) {
  struct progress_log log;
  progress_init(&log, state);
  assert_int_equal(prov_client_set_progress_callback(client, on_progress, &log), PROV_OK);
  struct canceller c = {0};
  c.client = client;
  c.log = &log;
  c.after_ms = after_ms;
  assert_int_equal(pthread_create(&c.thread, NULL, cancel_when_triggered, &c), 0);
  prov_result *result = NULL;
  int rc = prov_client_register(client, &result);
  double returned_at = test_now_s();
  if (!atomic_load(&log.triggered)) atomic_store(&log.triggered, 1); /* free the canceller */
  pthread_join(c.thread, NULL);
  expect_status(rc, PROV_E_CANCELLED);
  assert_null(result);
  assert_true(c.cancelled_at > 0);
  assert_between(returned_at - c.cancelled_at, 0.0, 0.1 * test_scaled(1.0),
                 "return after prov_client_cancel");
  test_assert_contains(prov_last_error_message(), "registration cancelled");
  test_assert_contains(log.details[find_state(&log, PROV_PROGRESS_FAILED, 0)], "PROV_E_CANCELLED");
  assert_int_equal(prov_client_set_progress_callback(client, NULL, NULL), PROV_OK);
}

static void cancel_while_connecting(void **state) {
  (void)state;
  struct relay *relay = relay_start(emu_mqtt_port(g_emu));
  atomic_store(&relay->black_hole, 1); /* TCP accepted, TLS handshake never answered */
  char host[64];
  snprintf(host, sizeof host, "localhost:%d", relay->port);
  prov_client *client = make_client_at(host, "dev-ok", 20000);
  cancel_cell(client, PROV_PROGRESS_CONNECTING, 500);
  /* The same client registers again once the network is back. */
  atomic_store(&relay->black_hole, 0);
  prov_result *result = NULL;
  double elapsed;
  expect_status(register_timed(client, &result, &elapsed), PROV_OK);
  assert_string_equal(prov_result_status(result), "assigned");
  prov_result_free(result);
  prov_client_free(client);
  relay_stop(relay);
}

/* A TLS handshake that never completes: the timeout names that step. */
static void handshake_timeout_names_step(void **state) {
  (void)state;
  struct relay *relay = relay_start(emu_mqtt_port(g_emu));
  atomic_store(&relay->black_hole, 1);
  char host[64];
  snprintf(host, sizeof host, "localhost:%d", relay->port);
  prov_client *client = make_client_at(host, "dev-ok", 10000);
  assert_int_equal(prov_client_set_response_timeout(client, 1000), PROV_OK);
  assert_int_equal(prov_client_set_retry_policy(client, 0, 100, 100), PROV_OK);
  prov_result *result = NULL;
  double elapsed;
  expect_status(register_timed(client, &result, &elapsed), PROV_E_TIMEOUT);
  assert_between(elapsed, 0.9, 1.0 + test_scaled(1.0), "TLS handshake timeout (1 s)");
  test_assert_contains(prov_last_error_message(),
                       "timed out after 1000 ms waiting for the TLS handshake");
  /* Retried (default policy) until the registration deadline. */
  assert_int_equal(prov_client_set_register_timeout(client, 3500), PROV_OK);
  assert_int_equal(prov_client_set_retry_policy(client, 10, 100, 100), PROV_OK);
  expect_status(register_timed(client, &result, &elapsed), PROV_E_TIMEOUT);
  assert_between(elapsed, 3.0, 3.5 + test_scaled(1.0), "TLS handshake timeouts until the deadline");
  assert_true(atomic_load(&relay->accepted) >= 4);
  prov_client_free(client);
  relay_stop(relay);
}

/* A client on the emulator's port for `transport` (MQTT's, else HTTPS's). */
static prov_client *make_transport_client(int transport, const char *registration_id,
                                          uint32_t deadline_ms) {
  char host[64];
  snprintf(host, sizeof host, "localhost:%d",
           transport == PROV_TRANSPORT_MQTT ? emu_mqtt_port(g_emu) : emu_https_port(g_emu));
  prov_client *client = make_client_at(host, registration_id, deadline_ms);
  assert_int_equal(prov_client_set_transport(client, transport), PROV_OK);
  return client;
}

/* Cells that run once per transport get it as their CMocka state (see
 * TRANSPORT_CELL in main). */
static int transport_of(void **state) {
  return *(const int *)*state;
}

static void cancel_while_registering_cell(void **state) {
  prov_client *client = make_transport_client(transport_of(state), "dev-silent", 20000);
  cancel_cell(client, PROV_PROGRESS_REGISTERING, 300);
  /* Cancelled twice in a row works the same. */
  cancel_cell(client, PROV_PROGRESS_REGISTERING, 100);
  prov_client_free(client);
}

static void cancel_while_assigning_cell(void **state) {
  const int transport = transport_of(state);
  prov_client *client = make_transport_client(transport, "dev-slow", 30000);
  cancel_cell(client, PROV_PROGRESS_ASSIGNING, 300);
  prov_client_free(client);
  /* Then a fresh registration of another device on a new client succeeds. */
  client = make_transport_client(transport, "dev-ok", 30000);
  prov_result_free(test_register_assigned(g_emu, client));
  prov_client_free(client);
}

/* Cancelling while the client waits to reconnect (a backoff after a drop). */
static void cancel_while_waiting_to_retry(void **state) {
  (void)state;
  prov_client *client = make_client("dev-drop-register", 30000);
  assert_int_equal(prov_client_set_retry_policy(client, 5, 5000, 5000), PROV_OK);
  /* The backoff is jittered in [0, 5 s]; the cancel comes right after RETRYING. */
  cancel_cell(client, PROV_PROGRESS_RETRYING, 0);
  prov_client_free(client);
}

/* ---- cells: asynchronous registration and callback rules ---------------------------- */

struct async_outcome {
  pthread_mutex_t lock;
  pthread_cond_t done_cond;
  int done;
  int status;
  int status_register_in_callback;
  int status_async_in_callback;
  double completed_at;
  char message[512];
  char hub[128];
  int free_in_callback;
  prov_client *client;
};

static void on_complete(int status, prov_result *result, void *user) {
  struct async_outcome *o = user;
  prov_result *inner = NULL;
  o->completed_at = test_now_s();
  o->status = status;
  snprintf(o->message, sizeof o->message, "%s", status == PROV_OK ? "" : prov_last_error_message());
  if (result && prov_result_assigned_hub(result))
    snprintf(o->hub, sizeof o->hub, "%s", prov_result_assigned_hub(result));
  prov_result_free(result);
  /* The rules: registering again from the callback is refused at once. */
  o->status_register_in_callback = prov_client_register(o->client, &inner);
  o->status_async_in_callback = prov_client_register_async(o->client, on_complete, o);
  if (o->free_in_callback) prov_client_free(o->client); /* allowed */
  pthread_mutex_lock(&o->lock);
  o->done = 1;
  pthread_cond_signal(&o->done_cond);
  pthread_mutex_unlock(&o->lock);
}

static void async_init(struct async_outcome *o, prov_client *client) {
  memset(o, 0, sizeof *o);
  pthread_mutex_init(&o->lock, NULL);
  pthread_cond_init(&o->done_cond, NULL);
  o->client = client;
}

static void async_wait(struct async_outcome *o) {
  pthread_mutex_lock(&o->lock);
  while (!o->done) pthread_cond_wait(&o->done_cond, &o->lock);
  pthread_mutex_unlock(&o->lock);
}

struct free_attempt {
  prov_client *client;
  int attempted;
  char message[256];
};

static void free_from_progress(int state, const char *detail, uint32_t ms, void *user) {
  (void)detail;
  (void)ms;
  struct free_attempt *f = user;
  if (state != PROV_PROGRESS_CONNECTED || f->attempted) return;
  f->attempted = 1;
  prov_last_error_clear();
  prov_client_free(f->client); /* refused: the registration still runs on it */
  snprintf(f->message, sizeof f->message, "%s", prov_last_error_message());
}

static void async_register_and_callback_rules(void **state) {
  (void)state;
  /* 1. Completes on a library thread; register from the callback is BUSY. */
  prov_client *client = make_client("dev-429-1", 20000);
  struct async_outcome o;
  async_init(&o, client);
  double start = test_now_s();
  assert_int_equal(prov_client_register_async(client, on_complete, &o), PROV_OK);
  assert_true(test_now_s() - start < test_scaled(0.2)); /* returns at once */
  /* A second registration while one is in flight: BUSY, and setters too. */
  assert_int_equal(prov_client_register_async(client, on_complete, &o), PROV_E_BUSY);
  prov_result *result = NULL;
  assert_int_equal(prov_client_register(client, &result), PROV_E_BUSY);
  assert_int_equal(prov_client_set_register_timeout(client, 5000), PROV_E_BUSY);
  async_wait(&o);
  assert_int_equal(o.status, PROV_OK);
  assert_string_equal(o.hub, "hub-1.example.net");
  assert_int_equal(o.status_register_in_callback, PROV_E_BUSY);
  assert_int_equal(o.status_async_in_callback, PROV_E_BUSY);
  assert_between(o.completed_at - start, 1.0, 1.0 + test_scaled(1.0), "async registration");

  /* 2. The client registers again (async) after the callback returned. */
  async_init(&o, client);
  for (int i = 0; i < 200 && prov_client_register_async(client, on_complete, &o) == PROV_E_BUSY;
       ++i)
    test_sleep_ms(5);
  async_wait(&o);
  assert_int_equal(o.status, PROV_OK);

  /* 3. Freeing the client from its own completion callback is safe. */
  async_init(&o, client);
  o.free_in_callback = 1;
  for (int i = 0; i < 200 && prov_client_register_async(client, on_complete, &o) == PROV_E_BUSY;
       ++i)
    test_sleep_ms(5);
  async_wait(&o);
  assert_int_equal(o.status, PROV_OK);

  /* 4. Freeing it from a progress callback is refused with a clear message. */
  client = make_client("dev-ok", 20000);
  struct free_attempt f = {client, 0, ""};
  assert_int_equal(prov_client_set_progress_callback(client, free_from_progress, &f), PROV_OK);
  expect_status(prov_client_register(client, &result), PROV_OK);
  assert_true(f.attempted);
  test_assert_contains(f.message, "prov_client_free refused");
  prov_result_free(result);
  prov_client_free(client);

  /* 5. Freeing a client (from another thread) during an async registration
   * cancels it and waits: the callback reports PROV_E_CANCELLED. */
  client = make_client("dev-silent", 20000);
  async_init(&o, client);
  assert_int_equal(prov_client_register_async(client, on_complete, &o), PROV_OK);
  test_sleep_ms(500);
  start = test_now_s();
  prov_client_free(client);
  assert_between(test_now_s() - start, 0.0, 0.1 * test_scaled(1.0),
                 "free during async registration");
  assert_true(o.done);
  assert_int_equal(o.status, PROV_E_CANCELLED);
}

static void async_cancel_while_assigning(void **state) {
  (void)state;
  prov_client *client = make_client("dev-slow", 30000);
  struct progress_log log;
  progress_init(&log, PROV_PROGRESS_ASSIGNING);
  assert_int_equal(prov_client_set_progress_callback(client, on_progress, &log), PROV_OK);
  struct async_outcome o;
  async_init(&o, client);
  assert_int_equal(prov_client_register_async(client, on_complete, &o), PROV_OK);
  while (!atomic_load(&log.triggered)) test_sleep_ms(1);
  test_sleep_ms(200);
  double cancelled_at = test_now_s();
  assert_int_equal(prov_client_cancel(client), PROV_OK);
  async_wait(&o);
  assert_int_equal(o.status, PROV_E_CANCELLED);
  test_assert_contains(o.message, "registration cancelled");
  assert_between(o.completed_at - cancelled_at, 0.0, 0.1 * test_scaled(1.0),
                 "async completion after cancel");
  /* Cancel without a registration in flight does nothing. */
  assert_int_equal(prov_client_cancel(client), PROV_OK);
  assert_int_equal(prov_client_cancel(NULL), PROV_E_INVALID_ARG);
  prov_client_free(client);
}

/* ---- cell: the log hook never carries a secret ---------------------------------------- */

struct log_capture {
  pthread_mutex_t lock;
  int lines;
  int levels[4];
  char *all; /* every line, '\n'-separated */
  size_t size;
};

static void on_log(int level, const char *message, void *user) {
  struct log_capture *c = user;
  pthread_mutex_lock(&c->lock);
  size_t len = strlen(message);
  c->all = realloc(c->all, c->size + len + 2);
  memcpy(c->all + c->size, message, len);
  c->size += len;
  c->all[c->size++] = '\n';
  c->all[c->size] = '\0';
  c->lines++;
  if (level >= 0 && level <= 3) c->levels[level]++;
  pthread_mutex_unlock(&c->lock);
}

static void log_hook_redacts_secrets(void **state) {
  (void)state;
  struct log_capture capture;
  memset(&capture, 0, sizeof capture);
  pthread_mutex_init(&capture.lock, NULL);
  /* A registration with a throttle, a drop and a credential failure: every
   * message kind the flow writes. */
  prov_client *client = make_client("dev-drop-register", 20000);
  assert_int_equal(prov_client_set_log_callback(client, 7, on_log, &capture), PROV_E_INVALID_ARG);
  assert_int_equal(prov_client_set_log_callback(client, PROV_LOG_DEBUG, on_log, &capture), PROV_OK);
  assert_int_equal(prov_client_set_retry_policy(client, 3, 100, 100), PROV_OK);
  prov_result *result = NULL;
  double elapsed;
  expect_status(register_timed(client, &result, &elapsed), PROV_OK);
  prov_result_free(result);
  prov_client_free(client);
  client = make_client("dev-429-1", 20000);
  assert_int_equal(prov_client_set_log_callback(client, PROV_LOG_DEBUG, on_log, &capture), PROV_OK);
  expect_status(register_timed(client, &result, &elapsed), PROV_OK);
  prov_result_free(result);
  prov_client_free(client);
  prov_client *wrong = NULL;
  assert_int_equal(prov_client_create_symkey(&wrong, emu_mqtt_host(g_emu), "dev-ok", SCOPE,
                                             "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXkqKio="),
                   PROV_OK);
  assert_int_equal(prov_client_set_server_verification_cert(wrong, emu_ca_pem(g_emu)), PROV_OK);
  assert_int_equal(prov_client_set_log_callback(wrong, PROV_LOG_DEBUG, on_log, &capture), PROV_OK);
  expect_status(register_timed(wrong, &result, &elapsed), PROV_E_CREDENTIAL);
  prov_result_free(result);
  prov_client_free(wrong);

  assert_true(capture.lines >= 10);
  assert_true(capture.levels[PROV_LOG_DEBUG] > 0 && capture.levels[PROV_LOG_INFO] > 0 &&
              capture.levels[PROV_LOG_WARNING] > 0 && capture.levels[PROV_LOG_ERROR] > 0);
  test_assert_contains(capture.all, "retry 1");
  test_assert_contains(capture.all, "assigned to hub-1.example.net");
  /* No key, no SAS token, no signature in any line. */
  char *token = NULL;
  assert_int_equal(prov_generate_sas_token(SCOPE, "dev-ok", KEY, 4102444800, &token), PROV_OK);
  const char *sig = strstr(token, "sig=");
  assert_non_null(sig);
  char sig_value[128];
  snprintf(sig_value, sizeof sig_value, "%.*s", (int)strcspn(sig + 4, "&"), sig + 4);
  prov_string_free(token);
  if (strstr(capture.all, KEY) || strstr(capture.all, "d3Jvbmcta2V5") ||
      strstr(capture.all, "SharedAccessSignature sr") || strstr(capture.all, sig_value)) {
    fail_msg("a secret reached the log:\n%s", capture.all);
  }
  for (const char *at = strstr(capture.all, "sig="); at; at = strstr(at + 1, "sig=")) {
    if (strncmp(at + 4, "<redacted>", 10) != 0) fail_msg("unredacted sig= in the log");
  }
  /* Below min_level nothing is delivered. */
  int before = capture.lines;
  client = make_client("dev-ok", 20000);
  assert_int_equal(prov_client_set_log_callback(client, PROV_LOG_ERROR, on_log, &capture), PROV_OK);
  expect_status(register_timed(client, &result, &elapsed), PROV_OK);
  assert_int_equal(capture.lines, before);
  prov_result_free(result);
  prov_client_free(client);
  free(capture.all);
}

static int g_mqtt = PROV_TRANSPORT_MQTT;
static int g_https = PROV_TRANSPORT_HTTPS;
static int g_websocket = PROV_TRANSPORT_MQTT_WS;
/* A cell named `name` that runs `cell` with the transport as its state. */
#define TRANSPORT_CELL(name, cell, transport) \
  { #name, cell, NULL, NULL, &transport }

int main(int argc, char **argv) {
  const struct CMUnitTest all[] = {
      cmocka_unit_test(throttled_retry_after_1s),
      cmocka_unit_test(throttled_retry_after_3s),
      cmocka_unit_test(error_500_then_assigned),
      cmocka_unit_test(error_503_then_assigned),
      cmocka_unit_test(retry_budget_exhausted),
      cmocka_unit_test(drop_after_connect_reconnects),
      cmocka_unit_test(drop_after_register_reconnects),
      cmocka_unit_test(drop_while_assigning_resumes_operation),
      cmocka_unit_test(silent_times_out_at_deadline),
      cmocka_unit_test(slow_assignment_beyond_deadline),
      cmocka_unit_test(malformed_body_is_protocol_error),
      cmocka_unit_test(wrong_rid_ignored_then_timeout),
      cmocka_unit_test(wrong_rid_ignored_then_success),
      cmocka_unit_test(handshake_timeout_names_step),
      cmocka_unit_test(cancel_while_connecting),
      TRANSPORT_CELL(cancel_while_registering, cancel_while_registering_cell, g_mqtt),
      TRANSPORT_CELL(cancel_while_registering_https, cancel_while_registering_cell, g_https),
      TRANSPORT_CELL(cancel_while_registering_websocket, cancel_while_registering_cell,
                     g_websocket),
      TRANSPORT_CELL(cancel_while_assigning, cancel_while_assigning_cell, g_mqtt),
      TRANSPORT_CELL(cancel_while_assigning_https, cancel_while_assigning_cell, g_https),
      cmocka_unit_test(cancel_while_waiting_to_retry),
      cmocka_unit_test(async_register_and_callback_rules),
      cmocka_unit_test(async_cancel_while_assigning),
      cmocka_unit_test(log_hook_redacts_secrets),
  };
  if (test_select_case(all, sizeof all / sizeof all[0], argc > 1 ? argv[1] : NULL) != 0) return 2;
  return cmocka_run_group_tests_name("faults", all, start_emulator, stop_emulator);
}
