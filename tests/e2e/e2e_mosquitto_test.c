/* The MQTT side of libprov against mosquitto, an MQTT server we did not
 * write: CONNACK refusal maps to PROV_E_CREDENTIAL with the refusal on the
 * result, and a broker that accepts CONNECT/SUBSCRIBE/PUBLISH but never
 * answers the DPS request ends in PROV_E_TIMEOUT naming the register
 * response. TLS uses the dps-emulator's development PKI (server cert for
 * localhost), created with `dps-emulator ca-path`. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "prov/prov.h"

#define SCOPE "0ne00000A0A"
#define KEY "bGlicHJvdi1lMmUta2V5LWFzc2lnbmVkKioqKioqKio="

static char g_dir[256];
static char g_ca_pem[8192];
static int g_auth_port, g_open_port;
static pid_t g_broker;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 ||
      getsockname(fd, (struct sockaddr *)&addr, &len) != 0) {
    if (fd >= 0) close(fd);
    return -1;
  }
  close(fd);
  return ntohs(addr.sin_port);
}

static int port_open(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((uint16_t)port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int ok = fd >= 0 && connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0;
  if (fd >= 0) close(fd);
  return ok;
}

static int run(const char *command, char *output, size_t output_size) {
  FILE *p = popen(command, "r");
  if (!p) return -1;
  size_t len = output ? fread(output, 1, output_size - 1, p) : 0;
  if (output) output[len] = '\0';
  return pclose(p);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  return remove(path);
}

static int start_broker(void **state) {
  (void)state;
  const char *emulator = getenv("PROV_TEST_EMULATOR");
  if (!emulator || !*emulator) {
    fprintf(stderr, "PROV_TEST_EMULATOR is not set\n");
    return -1;
  }
  snprintf(g_dir, sizeof g_dir, "%s/prov-mosq-XXXXXX",
           getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  if (!mkdtemp(g_dir)) return -1;

  char command[1024], ca_path[1024];
  snprintf(command, sizeof command, "'%s' ca-path --data-dir '%s/emu'", emulator, g_dir);
  if (run(command, ca_path, sizeof ca_path) != 0) return -1;
  ca_path[strcspn(ca_path, "\r\n")] = '\0';
  FILE *ca = fopen(ca_path, "r");
  if (!ca) return -1;
  size_t n = fread(g_ca_pem, 1, sizeof g_ca_pem - 1, ca);
  g_ca_pem[n] = '\0';
  fclose(ca);
  char pki[1024];
  snprintf(pki, sizeof pki, "%s", ca_path);
  dirname(pki);

  char passwd[300];
  snprintf(passwd, sizeof passwd, "%s/passwd", g_dir);
  snprintf(command, sizeof command, "mosquitto_passwd -c -b '%s' someone-else secret 2>&1", passwd);
  if (run(command, NULL, 0) != 0) return -1;

  g_auth_port = free_port();
  g_open_port = free_port();
  char conf_path[300];
  snprintf(conf_path, sizeof conf_path, "%s/mosquitto.conf", g_dir);
  FILE *conf = fopen(conf_path, "w");
  if (!conf) return -1;
  fprintf(conf,
          "user root\nper_listener_settings true\nlog_dest stderr\npersistence false\n"
          "listener %d 127.0.0.1\ncertfile %s/server-chain.pem\nkeyfile %s/server.key.pem\n"
          "allow_anonymous false\npassword_file %s\n"
          "listener %d 127.0.0.1\ncertfile %s/server-chain.pem\nkeyfile %s/server.key.pem\n"
          "allow_anonymous true\n",
          g_auth_port, pki, pki, passwd, g_open_port, pki, pki);
  fclose(conf);

  char log_path[300];
  snprintf(log_path, sizeof log_path, "%s/mosquitto.log", g_dir);
  g_broker = fork();
  if (g_broker == 0) {
    int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0) {
      dup2(fd, STDERR_FILENO);
      dup2(fd, STDOUT_FILENO);
    }
    execlp("mosquitto", "mosquitto", "-c", conf_path, (char *)NULL);
    _exit(127);
  }
  double give_up = now_s() + 10;
  while (now_s() < give_up) {
    if (port_open(g_auth_port) && port_open(g_open_port)) return 0;
    struct timespec ts = {0, 20000000L};
    nanosleep(&ts, NULL);
  }
  fprintf(stderr, "mosquitto did not listen on %d/%d within 10 s (log: %s)\n", g_auth_port,
          g_open_port, log_path);
  return -1;
}

static int stop_broker(void **state) {
  (void)state;
  if (g_broker > 0) {
    kill(g_broker, SIGTERM);
    waitpid(g_broker, NULL, 0);
  }
  if (g_dir[0]) nftw(g_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
  return 0;
}

static prov_client *client_for(int port) {
  char host[64];
  snprintf(host, sizeof host, "localhost:%d", port);
  prov_client *client = NULL;
  assert_int_equal(prov_client_create_symkey(&client, host, "dev-1", SCOPE, KEY), PROV_OK);
  assert_int_equal(prov_client_set_server_verification_cert(client, g_ca_pem), PROV_OK);
  return client;
}

static void connack_refused_is_credential_error(void **state) {
  (void)state;
  prov_client *client = client_for(g_auth_port);
  prov_result *result = NULL;
  int rc = prov_client_register(client, &result);
  if (rc != PROV_E_CREDENTIAL) {
    fail_msg("got %s: %s", prov_status_str(rc), prov_last_error_message());
  }
  const char *message = prov_last_error_message();
  fprintf(stderr, "message: %s\n", message);
  /* mosquitto refuses an unknown user with 5 (not authorized) or 4. */
  if (!strstr(message, "MQTT CONNACK refused: not authorized (5)") &&
      !strstr(message, "MQTT CONNACK refused: bad user name or password (4)")) {
    fail_msg("message: %s", message);
  }
  assert_null(strstr(message, "SharedAccessSignature"));
  assert_non_null(result);
  assert_non_null(strstr(prov_result_error_message(result), "CONNACK refused"));
  assert_null(prov_result_status(result));
  prov_result_free(result);
  prov_client_free(client);
}

static void broker_without_dps_times_out_on_register(void **state) {
  (void)state;
  prov_client *client = client_for(g_open_port);
  assert_int_equal(prov_client_set_response_timeout(client, 1500), PROV_OK);
  /* A missing response is transient and would be retried until the 90 s
   * deadline; with retries off the first timeout is the outcome. */
  assert_int_equal(prov_client_set_retry_policy(client, 0, 1000, 1000), PROV_OK);
  prov_result *result = NULL;
  double start = now_s();
  int rc = prov_client_register(client, &result);
  double elapsed = now_s() - start;
  if (rc != PROV_E_TIMEOUT) fail_msg("got %s: %s", prov_status_str(rc), prov_last_error_message());
  assert_null(result);
  /* CONNECT, CONNACK, SUBSCRIBE, SUBACK and PUBLISH went through: the wait
   * that timed out is the one for the DPS response. */
  assert_non_null(strstr(prov_last_error_message(),
                         "timed out after 1500 ms waiting for the register response"));
  if (elapsed < 1.4 || elapsed > 3.0) fail_msg("took %.3f s", elapsed);
  prov_client_free(client);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(connack_refused_is_credential_error),
      cmocka_unit_test(broker_without_dps_times_out_on_register),
  };
  return cmocka_run_group_tests(tests, start_broker, stop_broker);
}
