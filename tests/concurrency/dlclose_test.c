/* dlopen/dlclose of libprov with asynchronous registrations (issue 9): the
 * event-loop threads start with the first prov_client_register_async and are
 * joined by libprov's static destructor. This program does not link libprov;
 * it loads it (path in argv[1]) twice, each time running async registrations
 * against a real dps-emulator, then unloads it: no crash, and once libprov is
 * really unmapped no libprov thread is left behind.
 *
 * With "exit-in-flight" as second argument it instead leaves registrations
 * in flight and calls exit(): libprov's static destructor cancels them, their
 * completions run (PROV_E_CANCELLED) and the process ends promptly; an
 * atexit handler registered before libprov was loaded (so it runs after
 * libprov's destructor) checks that. */
#define _GNU_SOURCE
#include <dlfcn.h>
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
#include <unistd.h>

#include <cmocka.h>

#include "emulator_fixture.h"
#include "process_stats.h"
#include "prov/prov.h"

#define SCOPE "0ne00000A0A"
#define GROUP_KEY "bGlicHJvdi1kbGNsb3NlLXRlc3QtZ3JvdXAta2V5Kio="
#define SLOW_KEY "bGlicHJvdi1kbGNsb3NlLXNsb3ctZ3JvdXAta2V5Kio="
#define CLIENTS 8
#define LEFT_IN_FLIGHT 10

static const char *kConfig =
    "{\"idScope\": \"" SCOPE
    "\", \"iotHubs\": [\"hub-1.example.net\"], \"enrollmentGroups\": ["
    " {\"enrollmentGroupId\": \"g\", \"assignmentDelayMs\": 300, \"retryAfterSeconds\": 1,"
    "  \"attestation\": {\"type\": \"symmetricKey\", \"primaryKey\": \"" GROUP_KEY
    "\"}},"
    " {\"enrollmentGroupId\": \"slow\", \"assignmentDelayMs\": 60000, \"retryAfterSeconds\": 5,"
    "  \"attestation\": {\"type\": \"symmetricKey\", \"primaryKey\": \"" SLOW_KEY "\"}}]}";

static emu_fixture *g_emu;
static const char *g_library_path;
static atomic_int g_done;
static atomic_int g_assigned;
static atomic_int g_cancelled;

struct api {
  void *handle;
  __typeof__(prov_client_create_symkey_group) *create_group;
  __typeof__(prov_client_set_server_verification_cert) *set_ca;
  __typeof__(prov_client_register_async) *register_async;
  __typeof__(prov_client_free) *client_free;
  __typeof__(prov_result_free) *result_free;
  __typeof__(prov_last_error_message) *last_error;
};

static struct api g_api;

/* dlsym's void* to a function pointer without the pedantic cast warning. */
static void bind(void *handle, const char *name, void *slot, size_t size) {
  void *symbol = dlsym(handle, name);
  if (symbol == NULL) fail_msg("dlsym %s: %s", name, dlerror());
  memcpy(slot, &symbol, size);
}

static void load(void) {
  g_api.handle = dlopen(g_library_path, RTLD_NOW | RTLD_LOCAL);
  if (g_api.handle == NULL) fail_msg("dlopen %s: %s", g_library_path, dlerror());
  bind(g_api.handle, "prov_client_create_symkey_group", &g_api.create_group,
       sizeof g_api.create_group);
  bind(g_api.handle, "prov_client_set_server_verification_cert", &g_api.set_ca,
       sizeof g_api.set_ca);
  bind(g_api.handle, "prov_client_register_async", &g_api.register_async,
       sizeof g_api.register_async);
  bind(g_api.handle, "prov_client_free", &g_api.client_free, sizeof g_api.client_free);
  bind(g_api.handle, "prov_result_free", &g_api.result_free, sizeof g_api.result_free);
  bind(g_api.handle, "prov_last_error_message", &g_api.last_error, sizeof g_api.last_error);
}

static void on_complete(int status, prov_result *result, void *user) {
  (void)user;
  g_api.result_free(result);
  if (status == PROV_OK) atomic_fetch_add(&g_assigned, 1);
  if (status == PROV_E_CANCELLED) atomic_fetch_add(&g_cancelled, 1);
  atomic_fetch_add(&g_done, 1);
}

/* Whether libprov is still mapped into the process. */
static int libprov_mapped(void) {
  FILE *f = fopen("/proc/self/maps", "r");
  char line[1024];
  int mapped = 0;
  while (f && fgets(line, sizeof line, f)) {
    if (strstr(line, "/libprov.so")) mapped = 1;
  }
  if (f) fclose(f);
  return mapped;
}

static void register_batch(int round) {
  prov_client *clients[CLIENTS];
  atomic_store(&g_done, 0);
  atomic_store(&g_assigned, 0);
  for (int i = 0; i < CLIENTS; ++i) {
    char id[64];
    snprintf(id, sizeof id, "dlclose-%d-%d", round, i);
    if (g_api.create_group(&clients[i], emu_mqtt_host(g_emu), id, SCOPE, GROUP_KEY) != PROV_OK)
      fail_msg("create: %s", g_api.last_error());
    assert_int_equal(g_api.set_ca(clients[i], emu_ca_pem(g_emu)), PROV_OK);
    assert_int_equal(g_api.register_async(clients[i], on_complete, NULL), PROV_OK);
  }
  for (int waited = 0; atomic_load(&g_done) < CLIENTS && waited < 30000; waited += 10)
    test_sleep_ms(10);
  assert_int_equal(atomic_load(&g_assigned), CLIENTS);
  for (int i = 0; i < CLIENTS; ++i) g_api.client_free(clients[i]);
}

static void load_register_unload_twice(void **state) {
  (void)state;
  const int threads_before = test_thread_count();
  for (int round = 0; round < 2; ++round) {
    load();
    register_batch(round);
    assert_true(test_thread_count() > threads_before); /* the event loops run */
    assert_int_equal(dlclose(g_api.handle), 0);
    memset(&g_api, 0, sizeof g_api);
    if (libprov_mapped()) {
      /* Kept loaded (a NODELETE dependency): its loops keep running and the
       * next dlopen must find them working. */
      fprintf(stderr, "round %d: libprov stays mapped after dlclose\n", round);
    } else {
      /* Unloaded: the static destructor joined every loop thread. */
      fprintf(stderr, "round %d: libprov unloaded; threads %d -> %d\n", round, threads_before,
              test_thread_count());
      assert_int_equal(test_thread_count(), threads_before);
    }
  }
}

EMU_GROUP_FIXTURES(start_emulator, stop_emulator, g_emu, kConfig)

/* Runs after libprov's static destructor (registered before libprov was
 * loaded): every registration left in flight was cancelled and completed. */
static void check_after_libprov_exit(void) {
  const int done = atomic_load(&g_done);
  const int cancelled = atomic_load(&g_cancelled);
  emu_stop(g_emu);
  fprintf(stderr, "at exit: %d of %d in-flight registrations completed, %d cancelled\n", done,
          LEFT_IN_FLIGHT, cancelled);
  if (done != LEFT_IN_FLIGHT || cancelled != LEFT_IN_FLIGHT) _exit(3);
}

static int exit_in_flight(void) {
  if (atexit(check_after_libprov_exit) != 0) return 2;
  g_emu = emu_start(kConfig);
  if (g_emu == NULL) return 2;
  load();
  for (int i = 0; i < LEFT_IN_FLIGHT; ++i) {
    char id[64];
    prov_client *client = NULL;
    snprintf(id, sizeof id, "left-in-flight-%d", i);
    if (g_api.create_group(&client, emu_mqtt_host(g_emu), id, SCOPE, SLOW_KEY) != PROV_OK ||
        g_api.set_ca(client, emu_ca_pem(g_emu)) != PROV_OK ||
        g_api.register_async(client, on_complete, NULL) != PROV_OK) {
      fprintf(stderr, "starting %s: %s\n", id, g_api.last_error());
      return 2;
    }
    /* Never freed: the process exits with it in flight. */
  }
  test_sleep_ms(1000); /* connected and waiting for the assignment */
  if (atomic_load(&g_done) != 0) {
    fprintf(stderr, "a registration ended before exit\n");
    return 2;
  }
  exit(0);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s PATH_TO_LIBPROV_SO [exit-in-flight]\n", argv[0]);
    return 2;
  }
  g_library_path = argv[1];
  if (argc > 2 && strcmp(argv[2], "exit-in-flight") == 0) return exit_in_flight();
  const struct CMUnitTest tests[] = {cmocka_unit_test(load_register_unload_twice)};
  return cmocka_run_group_tests(tests, start_emulator, stop_emulator);
}
