/*
 * emulator_fixture.h — starts a real dps-emulator process for C tests.
 *
 * Each fixture gets its own temporary directory (config, data dir, ports
 * file, emulator log), listens on free loopback ports (port 0) and is torn
 * down by emu_stop(), so tests can run in parallel. The emulator binary comes
 * from the PROV_TEST_EMULATOR environment variable (set by ctest).
 */
#ifndef PROV_TESTS_EMULATOR_FIXTURE_H
#define PROV_TESTS_EMULATOR_FIXTURE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct emu_fixture emu_fixture;

/* Writes config_json to a config file, starts `dps-emulator serve` on free
 * loopback ports and waits (up to 30 s) until its ports file appears.
 * Returns NULL (after printing why to stderr) when it cannot start. */
emu_fixture *emu_start(const char *config_json);

/* The same, listening on bind_address (e.g. "::1") instead of 127.0.0.1.
 * emu_mqtt_host() then gives "[::1]:<port>" for an IPv6 address. */
emu_fixture *emu_start_on(const char *config_json, const char *bind_address);

/* Ports of the running emulator (0 for an unknown port). */
int emu_mqtt_port(const emu_fixture *e);
int emu_https_port(const emu_fixture *e);
int emu_admin_port(const emu_fixture *e);

/* Root CA PEM text (borrowed, valid until emu_stop) and its file path. */
const char *emu_ca_pem(const emu_fixture *e);
const char *emu_ca_path(const emu_fixture *e);
/* The emulator's data directory. */
const char *emu_data_dir(const emu_fixture *e);
/* "localhost:<mqtt port>" (or "[addr]:<port>" for an IPv6 bind), for
 * prov_client_create_symkey (borrowed). */
const char *emu_mqtt_host(const emu_fixture *e);

/* For CMocka group setup/teardown functions that keep the suite's emulator in
 * a static: emu_start_into stores emu_start(config_json) in *slot and returns
 * 0, or -1 when it could not start; emu_stop_slot stops *slot, sets it to NULL
 * and returns 0. */
int emu_start_into(emu_fixture **slot, const char *config_json);
int emu_stop_slot(emu_fixture **slot);

/* Defines that pair of group fixtures for a suite whose one emulator lives
 * in the static `slot`, started with `config_json`:
 *   EMU_GROUP_FIXTURES(start_emulator, stop_emulator, g_emu, kConfig)
 *   ... cmocka_run_group_tests(tests, start_emulator, stop_emulator); */
#define EMU_GROUP_FIXTURES(setup_name, teardown_name, slot, config_json) \
  static int setup_name(void **state) {                                  \
    (void)state;                                                         \
    return emu_start_into(&(slot), (config_json));                       \
  }                                                                      \
  static int teardown_name(void **state) {                               \
    (void)state;                                                         \
    return emu_stop_slot(&(slot));                                       \
  }

/* Sends SIGTERM, waits for the process (SIGKILL after 10 s), removes the
 * temporary directory and frees the fixture. NULL is a no-op. */
void emu_stop(emu_fixture *e);
/* Sends SIGKILL and waits; the fixture stays allocated (use emu_restart or
 * emu_stop afterwards). */
void emu_kill9(emu_fixture *e);
/* Stops the process if running and starts it again on the same data dir
 * and config (ports may change). Returns 0 on success. */
int emu_restart(emu_fixture *e);

/* Sends one plain-HTTP request to the admin endpoint. Returns the HTTP
 * status (or -1 on failure); when response_body is not NULL it receives a
 * malloc'ed body that the caller frees. */
int emu_admin_request(const emu_fixture *e, const char *method, const char *path, const char *body,
                      char **response_body);

/* Prints the emulator's log (stderr) to our stderr, for failed tests. */
void emu_dump_log(const emu_fixture *e);

#ifdef __cplusplus
}
#endif

#endif /* PROV_TESTS_EMULATOR_FIXTURE_H */
