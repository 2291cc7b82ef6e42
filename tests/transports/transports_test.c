/* Every network path end to end: each transport (MQTT, MQTT over WebSockets,
 * HTTPS) x each way out (direct, HTTP CONNECT, HTTP CONNECT with Basic auth,
 * SOCKS4, SOCKS5, SOCKS5 with username/password) registers a symmetric-key
 * device against a real dps-emulator, through real proxy servers (tinyproxy,
 * danted, microsocks) whose logs prove the traffic went through them. Then
 * the failures: proxy down, wrong proxy credentials, CONNECT refused, wrong
 * gateway certificate, wrong device key, options that do not apply.
 *
 * Each case runs in its own process (ctest passes its name as argv[1]) with
 * its own emulator and proxy on free loopback ports, so cases run in parallel. */
#define _GNU_SOURCE
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "emulator_fixture.h"
#include "prov/prov.h"
#include "proxy_fixture.h"
#include "test_helpers.h"

#define SCOPE "0ne00000A0A"
#define HUB_1 "hub-1.example.net"
#define HUB_2 "hub-2.example.net"
#define DEVICE "dev-net"
#define KEY "bGlicHJvdi10cmFuc3BvcnRzLWtleSoqKioqKioqKio="
#define KEY_DELAY "bGlicHJvdi10cmFuc3BvcnRzLWRlbGF5KioqKioqKio="
#define KEY_GROUP "bGlicHJvdi10cmFuc3BvcnRzLWdyb3VwKioqKioqKio="
#define KEY_WRONG "bGlicHJvdi10cmFuc3BvcnRzLXdyb25nKioqKioqKio="
#define PROXY_USER "proxy-user"
#define PROXY_PASSWORD "s3cret-proxy-pw"
#define WRONG_PROXY_PASSWORD "not-the-proxy-pw"

static const char *kConfig =
    "{\n"
    "  // libprov transport tests\n"
    "  \"idScope\": \"" SCOPE
    "\",\n"
    "  \"iotHubs\": [\"" HUB_1 "\", \"" HUB_2
    "\"],\n"
    "  \"retryAfterSeconds\": 1,\n"
    "  \"enrollments\": [\n"
    "    {\"registrationId\": \"" DEVICE
    "\", \"deviceId\": \"net-device\","
    " \"attestation\": {\"type\": \"symmetricKey\", \"primaryKey\": \"" KEY
    "\"}},\n"
    "    {\"registrationId\": \"dev-delay\", \"assignmentDelayMs\": 1500, \"retryAfterSeconds\": 1,"
    " \"attestation\": {\"type\": \"symmetricKey\", \"primaryKey\": \"" KEY_DELAY
    "\"}},\n"
    "    {\"registrationId\": \"dev-silent\", \"faults\": [{\"type\": \"silent\"}],"
    " \"attestation\": {\"type\": \"symmetricKey\", \"primaryKey\": \"" KEY
    "\"}},\n"
    "    {\"registrationId\": \"dev-throttled\","
    " \"faults\": [{\"type\": \"throttle\", \"every\": 1, \"retryAfterSeconds\": 1, \"count\": 2}],"
    " \"attestation\": {\"type\": \"symmetricKey\", \"primaryKey\": \"" KEY
    "\"}},\n"
    "    {\"registrationId\": \"dev-drop\","
    " \"faults\": [{\"type\": \"drop\", \"after\": \"register\", \"count\": 1}],"
    " \"attestation\": {\"type\": \"symmetricKey\", \"primaryKey\": \"" KEY
    "\"}},\n"
    "    {\"registrationId\": \"dev-disabled\", \"enabled\": false,"
    " \"attestation\": {\"type\": \"symmetricKey\", \"primaryKey\": \"" KEY
    "\"}}\n"
    "  ],\n"
    "  \"enrollmentGroups\": [{\"enrollmentGroupId\": \"net-group\","
    " \"attestation\": {\"type\": \"symmetricKey\", \"primaryKey\": \"" KEY_GROUP
    "\"}}]\n"
    "}\n";

typedef enum way_out {
  WAY_DIRECT,
  WAY_HTTP,
  WAY_HTTP_AUTH,
  WAY_SOCKS4,
  WAY_SOCKS5,
  WAY_SOCKS5_AUTH,
  /* destination name resolved by the proxy. (SOCKS4a has no cell: dante
   * 1.4.2, the only SOCKS4 server in Debian, does not implement 4a and
   * connects to the literal 0.0.0.x address.) */
  WAY_SOCKS5H,
  WAY_HTTPS_PROXY /* TLS to the proxy (stunnel + tinyproxy), CONNECT inside */
} way_out;

typedef struct cell {
  int transport; /* prov_transport */
  way_out way;
} cell;

static emu_fixture *g_emu;

/* Timeouts and upper time bounds are multiplied by PROV_TEST_TIME_SCALE (the
 * valgrind variants set it: everything runs many times slower there). */
static int time_scale(void) {
  const char *text = getenv("PROV_TEST_TIME_SCALE");
  int scale = text != NULL ? atoi(text) : 1;
  return scale >= 1 && scale <= 100 ? scale : 1;
}

static int start_emulator(void **state) {
  (void)state;
  g_emu = emu_start(kConfig);
  return g_emu == NULL ? -1 : 0;
}

static int stop_emulator(void **state) {
  (void)state;
  emu_stop(g_emu);
  g_emu = NULL;
  return 0;
}

static int port_for(int transport) {
  return transport == PROV_TRANSPORT_MQTT ? emu_mqtt_port(g_emu) : emu_https_port(g_emu);
}

/* A client for `registration_id` on the emulator port of `transport`. */
static prov_client *make_client(int transport, const char *host_name, const char *registration_id,
                                const char *key) {
  char host[128];
  snprintf(host, sizeof host, "%s:%d", host_name, port_for(transport));
  prov_client *client = NULL;
  assert_int_equal(prov_client_create_symkey(&client, host, registration_id, SCOPE, key), PROV_OK);
  assert_int_equal(prov_client_set_server_verification_cert(client, emu_ca_pem(g_emu)), PROV_OK);
  assert_int_equal(prov_client_set_transport(client, transport), PROV_OK);
  assert_int_equal(prov_client_set_register_timeout(client, 20000u * (uint32_t)time_scale()),
                   PROV_OK);
  assert_int_equal(prov_client_set_response_timeout(client, 10000u * (uint32_t)time_scale()),
                   PROV_OK);
  return client;
}

/* The emulator's request counters show the requests came over `transport`
 * (and no other): the WebSocket path really is WebSockets, and so on. */
static void assert_served_over(int transport) {
  char *stats = NULL;
  assert_int_equal(emu_admin_request(g_emu, "GET", "/stats", NULL, &stats), 200);
  assert_non_null(stats);
  const char *by_transport = strstr(stats, "\"requestsByTransport\"");
  assert_non_null(by_transport);
  const char *names[] = {"\"mqtt\":", "\"mqtt-ws\":", "\"https\":"};
  for (int t = 0; t < 3; ++t) {
    const char *found = strstr(by_transport, names[t]);
    const char *end = strchr(by_transport, '}');
    const int present = found != NULL && end != NULL && found < end;
    if (present != (t == transport)) fprintf(stderr, "emulator stats: %s\n", stats);
    assert_int_equal(present, t == transport);
  }
  free(stats);
}

static void assert_assigned(const prov_result *result) {
  assert_non_null(result);
  assert_string_equal(prov_result_status(result), "assigned");
  assert_string_equal(prov_result_registration_id(result), DEVICE);
  assert_string_equal(prov_result_device_id(result), "net-device");
  const char *hub = prov_result_assigned_hub(result);
  assert_non_null(hub);
  assert_true(strcmp(hub, HUB_1) == 0 || strcmp(hub, HUB_2) == 0);
  assert_string_equal(prov_result_substatus(result), "initialAssignment");
  assert_non_null(prov_result_operation_id(result));
  assert_int_equal(prov_result_http_status(result), 200);
}

/* An HTTPS proxy whose certificate is the emulator's server certificate
 * (valid for localhost). */
static proxy_fixture *start_https_proxy(void) {
  static char cert[512], key[512];
  snprintf(cert, sizeof cert, "%s/pki/server-chain.pem", emu_data_dir(g_emu));
  snprintf(key, sizeof key, "%s/pki/server.key.pem", emu_data_dir(g_emu));
  proxy_options options = {.tls_cert_file = cert, .tls_key_file = key};
  return proxy_start(PROXY_TINYPROXY_TLS, &options);
}

static void register_cell(void **state) {
  const cell *c = (const cell *)*state;
  proxy_fixture *proxy = NULL;
  proxy_options options = {.username = NULL};
  const char *host_name = "127.0.0.1";
  switch (c->way) {
    case WAY_DIRECT:
      break;
    case WAY_HTTP:
      proxy = proxy_start(PROXY_TINYPROXY, &options);
      break;
    case WAY_HTTP_AUTH:
      options.username = PROXY_USER;
      options.password = PROXY_PASSWORD;
      proxy = proxy_start(PROXY_TINYPROXY, &options);
      break;
    case WAY_SOCKS4:
    case WAY_SOCKS5H:
      proxy = proxy_start(PROXY_DANTE, &options);
      break;
    case WAY_SOCKS5:
      proxy = proxy_start(PROXY_MICROSOCKS, &options);
      break;
    case WAY_SOCKS5_AUTH:
      options.username = PROXY_USER;
      options.password = PROXY_PASSWORD;
      proxy = proxy_start(PROXY_MICROSOCKS, &options);
      break;
    case WAY_HTTPS_PROXY:
      proxy = start_https_proxy();
      break;
  }
  if (c->way != WAY_DIRECT) assert_non_null(proxy);
  if (c->way == WAY_SOCKS5H) host_name = "localhost";

  prov_client *client = make_client(c->transport, host_name, DEVICE, KEY);
  char url[256];
  switch (c->way) {
    case WAY_DIRECT:
      break;
    case WAY_HTTP: /* fields, as the Python SDK's ProxyOptions */
      assert_int_equal(prov_client_set_proxy(client, PROV_PROXY_HTTP, "127.0.0.1",
                                             proxy_port(proxy), NULL, NULL),
                       PROV_OK);
      break;
    case WAY_HTTP_AUTH: /* URL form */
      snprintf(url, sizeof url, "http://%s:%s@127.0.0.1:%d", PROXY_USER, PROXY_PASSWORD,
               proxy_port(proxy));
      assert_int_equal(prov_client_set_proxy_url(client, url), PROV_OK);
      break;
    case WAY_SOCKS4:
      assert_int_equal(prov_client_set_proxy(client, PROV_PROXY_SOCKS4, "127.0.0.1",
                                             proxy_port(proxy), NULL, NULL),
                       PROV_OK);
      break;
    case WAY_SOCKS5:
      snprintf(url, sizeof url, "socks5://127.0.0.1:%d", proxy_port(proxy));
      assert_int_equal(prov_client_set_proxy_url(client, url), PROV_OK);
      break;
    case WAY_SOCKS5_AUTH:
      assert_int_equal(prov_client_set_proxy(client, PROV_PROXY_SOCKS5, "127.0.0.1",
                                             proxy_port(proxy), PROXY_USER, PROXY_PASSWORD),
                       PROV_OK);
      break;
    case WAY_SOCKS5H:
      snprintf(url, sizeof url, "socks5h://127.0.0.1:%d/", proxy_port(proxy));
      assert_int_equal(prov_client_set_proxy_url(client, url), PROV_OK);
      break;
    case WAY_HTTPS_PROXY:
      /* The proxy's certificate (the emulator's dev PKI) is checked against its own roots. */
      assert_int_equal(prov_client_set_proxy_ca_cert(client, emu_ca_pem(g_emu)), PROV_OK);
      assert_int_equal(prov_client_set_proxy(client, PROV_PROXY_HTTPS, "localhost",
                                             proxy_port(proxy), NULL, NULL),
                       PROV_OK);
      break;
  }
  if (c->transport != PROV_TRANSPORT_HTTPS) {
    /* Set after the proxy: order does not matter. */
    assert_int_equal(prov_client_set_keep_alive(client, 30), PROV_OK);
  }

  prov_result *result = NULL;
  int rc = prov_client_register(client, &result);
  if (rc != PROV_OK) {
    fprintf(stderr, "register: %s: %s\n", prov_status_str(rc), prov_last_error_message());
    if (proxy != NULL) proxy_dump_log(proxy);
    emu_dump_log(g_emu);
  }
  assert_int_equal(rc, PROV_OK);
  assert_assigned(result);
  assert_served_over(c->transport);
  if (proxy != NULL) {
    int through = proxy_count_connections_to(proxy, port_for(c->transport));
    if (through < 1) proxy_dump_log(proxy);
    assert_true(through >= 1);
  }
  prov_result_free(result);
  prov_client_free(client);
  proxy_stop(proxy);
}

/* ---- failures ---- */

static int transport_of(void **state) {
  return *(const int *)*state;
}

/* Registers and expects `status`; returns a copy of the message. Network
 * failures get a 3 s deadline: the library may retry a transient one (e.g. a
 * proxy that is down) until then, and must end with the status and message of
 * the failure by then, not hang. */
static char *register_expecting(prov_client *client, int status, double max_seconds) {
  if (status != PROV_E_INVALID_ARG) {
    assert_int_equal(prov_client_set_register_timeout(client, 3000u * (uint32_t)time_scale()),
                     PROV_OK);
  }
  max_seconds *= time_scale();
  prov_result *result = NULL;
  double started = test_now_s();
  int rc = prov_client_register(client, &result);
  double took = test_now_s() - started;
  char *message = strdup(prov_last_error_message());
  fprintf(stderr, "register -> %s after %.2f s: %s\n", prov_status_str(rc), took, message);
  assert_int_equal(rc, status);
  assert_true(took < max_seconds);
  prov_result_free(result);
  return message;
}

static void proxy_down(void **state) {
  const int transport = transport_of(state);
  prov_client *client = make_client(transport, "127.0.0.1", DEVICE, KEY);
  const int port = unused_loopback_port();
  char url[128], name[128];
  snprintf(url, sizeof url, "http://" PROXY_USER ":" PROXY_PASSWORD "@127.0.0.1:%d", port);
  snprintf(name, sizeof name, "proxy http://127.0.0.1:%d", port);
  assert_int_equal(prov_client_set_proxy_url(client, url), PROV_OK);
  char *message = register_expecting(client, PROV_E_CONNECTION_FAILED, 4.5);
  assert_non_null(strstr(message, name));
  assert_non_null(strstr(message, "TCP connect"));
  assert_null(strstr(message, PROXY_PASSWORD));
  free(message);
  prov_client_free(client);
}

/* A "proxy" that accepts the TCP connection (the kernel does, from the
 * listen backlog) and then never says a word: the registration must end
 * with a timeout naming the connection through the proxy, not hang. */
static void proxy_silent_times_out(void **state) {
  const int transport = transport_of(state);
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(listener >= 0);
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  assert_int_equal(bind(listener, (struct sockaddr *)&addr, sizeof addr), 0);
  assert_int_equal(listen(listener, 8), 0);
  assert_int_equal(getsockname(listener, (struct sockaddr *)&addr, &len), 0);
  const int port = ntohs(addr.sin_port);

  prov_client *client = make_client(transport, "127.0.0.1", DEVICE, KEY);
  assert_int_equal(prov_client_set_response_timeout(client, 1000), PROV_OK);
  assert_int_equal(prov_client_set_register_timeout(client, 3000), PROV_OK);
  assert_int_equal(
      prov_client_set_proxy(client, PROV_PROXY_HTTP, "127.0.0.1", port, PROXY_USER, PROXY_PASSWORD),
      PROV_OK);
  char *message = register_expecting(client, PROV_E_TIMEOUT, 4.5);
  char name[128];
  snprintf(name, sizeof name, "through proxy http://127.0.0.1:%d", port);
  assert_non_null(strstr(message, name));
  /* Which limit ends it depends on how the retries fall: a step or the deadline. */
  assert_true(strstr(message, "after 1000 ms") != NULL ||
              strstr(message, "deadline of 3000 ms") != NULL);
  assert_null(strstr(message, PROXY_PASSWORD));
  free(message);
  prov_client_free(client);
  close(listener);
}

static void proxy_wrong_password(void **state) {
  const int transport = transport_of(state);
  proxy_options options = {.username = PROXY_USER, .password = PROXY_PASSWORD};
  proxy_fixture *proxy = proxy_start(PROXY_TINYPROXY, &options);
  assert_non_null(proxy);
  prov_client *client = make_client(transport, "127.0.0.1", DEVICE, KEY);
  assert_int_equal(prov_client_set_proxy(client, PROV_PROXY_HTTP, "127.0.0.1", proxy_port(proxy),
                                         PROXY_USER, WRONG_PROXY_PASSWORD),
                   PROV_OK);
  char *message = register_expecting(client, PROV_E_CONNECTION_FAILED, 4.5);
  char name[128];
  snprintf(name, sizeof name, "proxy http://127.0.0.1:%d", proxy_port(proxy));
  assert_non_null(strstr(message, name));
  assert_non_null(strstr(message, "rejected the proxy credentials"));
  /* tinyproxy answers 401 where RFC 9110 says 407; both are an authentication failure. */
  assert_true(strstr(message, "HTTP 401") != NULL || strstr(message, "HTTP 407") != NULL);
  assert_null(strstr(message, WRONG_PROXY_PASSWORD));
  assert_null(strstr(message, PROXY_USER));
  free(message);

  /* No credentials at all: told the proxy wants some. */
  assert_int_equal(
      prov_client_set_proxy(client, PROV_PROXY_HTTP, "127.0.0.1", proxy_port(proxy), NULL, NULL),
      PROV_OK);
  message = register_expecting(client, PROV_E_CONNECTION_FAILED, 4.5);
  assert_non_null(strstr(message, "requires authentication"));
  free(message);
  prov_client_free(client);
  proxy_stop(proxy);
}

static void socks5_wrong_password(void **state) {
  const int transport = transport_of(state);
  proxy_options options = {.username = PROXY_USER, .password = PROXY_PASSWORD};
  proxy_fixture *proxy = proxy_start(PROXY_MICROSOCKS, &options);
  assert_non_null(proxy);
  prov_client *client = make_client(transport, "127.0.0.1", DEVICE, KEY);
  char url[256];
  snprintf(url, sizeof url, "socks5h://" PROXY_USER ":" WRONG_PROXY_PASSWORD "@127.0.0.1:%d",
           proxy_port(proxy));
  assert_int_equal(prov_client_set_proxy_url(client, url), PROV_OK);
  char *message = register_expecting(client, PROV_E_CONNECTION_FAILED, 4.5);
  char name[128];
  snprintf(name, sizeof name, "proxy socks5h://127.0.0.1:%d", proxy_port(proxy));
  assert_non_null(strstr(message, name));
  assert_non_null(strstr(message, "rejected the proxy credentials"));
  assert_null(strstr(message, WRONG_PROXY_PASSWORD));
  free(message);
  prov_client_free(client);
  proxy_stop(proxy);
}

static void proxy_refuses_connect(void **state) {
  const int transport = transport_of(state);
  /* tinyproxy allows CONNECT to one other port only. */
  proxy_options options = {.only_connect_port = port_for(transport) == 443 ? 444 : 443};
  proxy_fixture *proxy = proxy_start(PROXY_TINYPROXY, &options);
  assert_non_null(proxy);
  prov_client *client = make_client(transport, "127.0.0.1", DEVICE, KEY);
  assert_int_equal(
      prov_client_set_proxy(client, PROV_PROXY_HTTP, "127.0.0.1", proxy_port(proxy), NULL, NULL),
      PROV_OK);
  char *message = register_expecting(client, PROV_E_CONNECTION_FAILED, 4.5);
  assert_non_null(strstr(message, "refused the CONNECT tunnel"));
  assert_non_null(strstr(message, "HTTP 403"));
  free(message);
  prov_client_free(client);
  proxy_stop(proxy);
}

/* The HTTPS proxy's certificate does not chain to the trusted roots. */
static void https_proxy_untrusted(void **state) {
  const int transport = transport_of(state);
  proxy_fixture *proxy = start_https_proxy();
  assert_non_null(proxy);
  prov_client *client = make_client(transport, "127.0.0.1", DEVICE, KEY);
  char url[128], name[128];
  snprintf(url, sizeof url, "https://localhost:%d", proxy_port(proxy));
  snprintf(name, sizeof name, "proxy https://localhost:%d", proxy_port(proxy));
  assert_int_equal(prov_client_set_proxy_url(client, url), PROV_OK); /* system roots only */
  char *message = register_expecting(client, PROV_E_CONNECTION_FAILED, 4.5);
  assert_non_null(strstr(message, name));
  assert_non_null(strstr(message, "certificate"));
  assert_int_equal(proxy_count_connections_to(proxy, port_for(transport)), 0);
  free(message);
  prov_client_free(client);
  proxy_stop(proxy);
}

/* A provisioning host that does not resolve, reached through a gateway. */
static void gateway_host(void **state) {
  const int transport = transport_of(state);
  prov_client *client = NULL;
  assert_int_equal(prov_client_create_symkey(&client, "dps.invalid", DEVICE, SCOPE, KEY), PROV_OK);
  char gateway[64];
  snprintf(gateway, sizeof gateway, "localhost:%d", port_for(transport));
  assert_int_equal(prov_client_set_transport(client, transport), PROV_OK);
  assert_int_equal(prov_client_set_gateway_hostname(client, gateway), PROV_OK);
  assert_int_equal(prov_client_set_server_verification_cert(client, emu_ca_pem(g_emu)), PROV_OK);
  assert_int_equal(
      prov_client_set_cipher(client, "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-GCM-SHA256"),
      PROV_OK);
  prov_result *result = test_register_assigned(g_emu, client);
  assert_assigned(result);
  prov_result_free(result);
  prov_client_free(client);
}

/* The cipher list reaches TLS on every transport: the emulator's server key
 * is ECDSA, so an RSA-only list cannot complete a handshake, an ECDSA one can. */
static void cipher_honoured(void **state) {
  const int transport = transport_of(state);
  prov_client *client = make_client(transport, "127.0.0.1", DEVICE, KEY);
  assert_int_equal(prov_client_set_cipher(client, "ECDHE-RSA-AES128-GCM-SHA256"), PROV_OK);
  char *message = register_expecting(client, PROV_E_CONNECTION_FAILED, 4.5);
  assert_non_null(strstr(message, "TLS"));
  free(message);
  assert_int_equal(prov_client_set_cipher(client, "ECDHE-ECDSA-AES256-GCM-SHA384"), PROV_OK);
  assert_int_equal(prov_client_set_register_timeout(client, 20000), PROV_OK);
  prov_result *result = test_register_assigned(g_emu, client);
  assert_assigned(result);
  prov_result_free(result);
  prov_client_free(client);
}

/* Another CA than the emulator's: the gateway's certificate does not verify. */
static void wrong_gateway_certificate(void **state) {
  const int transport = transport_of(state);
  char dir[] = "/tmp/prov-other-ca-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char command[512];
  snprintf(command, sizeof command, "'%s' ca-path --data-dir '%s/data'",
           getenv("PROV_TEST_EMULATOR"), dir);
  FILE *pipe = popen(command, "r");
  assert_non_null(pipe);
  char ca_path[512] = {0};
  assert_non_null(fgets(ca_path, sizeof ca_path, pipe));
  pclose(pipe);
  ca_path[strcspn(ca_path, "\n")] = '\0';
  FILE *f = fopen(ca_path, "r");
  assert_non_null(f);
  static char pem[16384];
  size_t n = fread(pem, 1, sizeof pem - 1, f);
  pem[n] = '\0';
  fclose(f);
  snprintf(command, sizeof command, "rm -rf '%s'", dir);
  assert_int_equal(system(command), 0);

  prov_client *client = NULL;
  assert_int_equal(prov_client_create_symkey(&client, "dps.invalid", DEVICE, SCOPE, KEY), PROV_OK);
  char gateway[64];
  snprintf(gateway, sizeof gateway, "localhost:%d", port_for(transport));
  assert_int_equal(prov_client_set_transport(client, transport), PROV_OK);
  assert_int_equal(prov_client_set_gateway_hostname(client, gateway), PROV_OK);
  assert_int_equal(prov_client_set_server_verification_cert(client, pem), PROV_OK);
  char *message = register_expecting(client, PROV_E_CONNECTION_FAILED, 4.5);
  assert_non_null(strstr(message, "certificate verification failed"));
  assert_non_null(strstr(message, gateway));
  free(message);
  prov_client_free(client);
}

static void wrong_key(void **state) {
  const int transport = transport_of(state);
  prov_client *client = make_client(transport, "127.0.0.1", DEVICE, KEY_WRONG);
  prov_result *result = NULL;
  int rc = prov_client_register(client, &result);
  fprintf(stderr, "register -> %s: %s\n", prov_status_str(rc), prov_last_error_message());
  assert_int_equal(rc, PROV_E_CREDENTIAL);
  assert_non_null(result);
  assert_int_equal(prov_result_http_status(result), 401);
  assert_int_equal(prov_result_error_code(result) / 1000, 401);
  assert_non_null(prov_result_tracking_id(result));
  prov_result_free(result);
  prov_client_free(client);
}

/* assignmentDelayMs: 202 assigning + retry-after, polled until assigned. */
static void polls_until_assigned(void **state) {
  const int transport = transport_of(state);
  prov_client *client = make_client(transport, "127.0.0.1", "dev-delay", KEY_DELAY);
  double started = test_now_s();
  prov_result *result = test_register_assigned(g_emu, client);
  assert_true(test_now_s() - started >= 1.0); /* it did wait for the assignment */
  assert_string_equal(prov_result_registration_id(result), "dev-delay");
  prov_result_free(result);
  prov_client_free(client);
}

/* 429 + retry-after twice, then assigned: the retry-after reaches the flow
 * from the MQTT topic and from the HTTP header alike. */
static void throttled_then_assigned(void **state) {
  const int transport = transport_of(state);
  prov_client *client = make_client(transport, "127.0.0.1", "dev-throttled", KEY);
  double started = test_now_s();
  prov_result *result = test_register_assigned(g_emu, client);
  assert_true(test_now_s() - started >= 1.5); /* two retry-after waits of 1 s */
  prov_result_free(result);
  prov_client_free(client);
}

/* The service drops the connection once instead of answering the register
 * request: a lost connection on every transport, reconnected and registered
 * within the deadline. */
static void dropped_once_then_assigned(void **state) {
  const int transport = transport_of(state);
  prov_client *client = make_client(transport, "127.0.0.1", "dev-drop", KEY);
  prov_result *result = test_register_assigned(g_emu, client);
  prov_result_free(result);
  prov_client_free(client);
  char *stats = NULL;
  assert_int_equal(emu_admin_request(g_emu, "GET", "/stats", NULL, &stats), 200);
  fprintf(stderr, "emulator stats: %s\n", stats);
  assert_non_null(strstr(stats, "\"drop\":1")); /* the fault really fired */
  free(stats);
  assert_served_over(transport);
}

/* A disabled enrollment: the same service error and result on every transport. */
static void disabled_is_service_error(void **state) {
  const int transport = transport_of(state);
  prov_client *client = make_client(transport, "127.0.0.1", "dev-disabled", KEY);
  prov_result *result = NULL;
  int rc = prov_client_register(client, &result);
  fprintf(stderr, "register -> %s: %s\n", prov_status_str(rc), prov_last_error_message());
  assert_int_equal(rc, PROV_E_SERVICE);
  assert_non_null(result);
  assert_string_equal(prov_result_status(result), "disabled");
  assert_string_equal(prov_result_registration_id(result), "dev-disabled");
  prov_result_free(result);
  prov_client_free(client);
}

/* Nine clients at once, three per transport, each through its own kind of
 * way out: nothing in the transports is shared between clients. */
struct concurrent_job {
  int transport;
  int index;
  const char *proxy_url;
  int rc;
  char hub[128];
};

static void *concurrent_register(void *arg) {
  struct concurrent_job *job = arg;
  char host[64], id[64];
  snprintf(host, sizeof host, "127.0.0.1:%d", port_for(job->transport));
  snprintf(id, sizeof id, "net-group-%d-%d", job->transport, job->index);
  prov_client *client = NULL;
  job->rc = prov_client_create_symkey_group(&client, host, id, SCOPE, KEY_GROUP);
  if (job->rc != PROV_OK) return NULL;
  prov_client_set_server_verification_cert(client, emu_ca_pem(g_emu));
  prov_client_set_transport(client, job->transport);
  prov_client_set_register_timeout(client, 30000u * (uint32_t)time_scale());
  if (job->proxy_url != NULL) prov_client_set_proxy_url(client, job->proxy_url);
  prov_result *result = NULL;
  job->rc = prov_client_register(client, &result);
  if (job->rc == PROV_OK) {
    snprintf(job->hub, sizeof job->hub, "%s", prov_result_assigned_hub(result));
  } else {
    fprintf(stderr, "%s: %s\n", id, prov_last_error_message());
  }
  prov_result_free(result);
  prov_client_free(client);
  return NULL;
}

static void concurrent_clients_on_every_transport(void **state) {
  (void)state;
  proxy_options http_options = {.username = NULL};
  proxy_fixture *http = proxy_start(PROXY_TINYPROXY, &http_options);
  proxy_options socks_options = {.username = PROXY_USER, .password = PROXY_PASSWORD};
  proxy_fixture *socks = proxy_start(PROXY_MICROSOCKS, &socks_options);
  assert_non_null(http);
  assert_non_null(socks);
  char http_url[64], socks_url[128];
  snprintf(http_url, sizeof http_url, "http://127.0.0.1:%d", proxy_port(http));
  snprintf(socks_url, sizeof socks_url, "socks5://" PROXY_USER ":" PROXY_PASSWORD "@127.0.0.1:%d",
           proxy_port(socks));
  const char *ways[3] = {NULL, http_url, socks_url};
  struct concurrent_job jobs[9];
  pthread_t threads[9];
  for (int i = 0; i < 9; ++i) {
    jobs[i] = (struct concurrent_job){.transport = i % 3, .index = i / 3, .proxy_url = ways[i / 3]};
    assert_int_equal(pthread_create(&threads[i], NULL, concurrent_register, &jobs[i]), 0);
  }
  for (int i = 0; i < 9; ++i) pthread_join(threads[i], NULL);
  for (int i = 0; i < 9; ++i) {
    assert_int_equal(jobs[i].rc, PROV_OK);
    assert_true(strcmp(jobs[i].hub, HUB_1) == 0 || strcmp(jobs[i].hub, HUB_2) == 0);
  }
  assert_true(proxy_count_connections_to(http, emu_mqtt_port(g_emu)) >= 1);
  assert_true(proxy_count_connections_to(http, emu_https_port(g_emu)) >= 2);
  assert_true(proxy_count_connections_to(socks, emu_https_port(g_emu)) >= 2);
  proxy_stop(http);
  proxy_stop(socks);
}

/* The same device over the three transports: the same result fields. */
static void same_result_on_every_transport(void **state) {
  (void)state;
  const int transports[] = {PROV_TRANSPORT_MQTT, PROV_TRANSPORT_MQTT_WS, PROV_TRANSPORT_HTTPS};
  char hub[3][128], device[3][128], substatus[3][128];
  for (int i = 0; i < 3; ++i) {
    prov_client *client = make_client(transports[i], "127.0.0.1", DEVICE, KEY);
    prov_result *result = test_register_assigned(g_emu, client);
    snprintf(hub[i], sizeof hub[i], "%s", prov_result_assigned_hub(result));
    snprintf(device[i], sizeof device[i], "%s", prov_result_device_id(result));
    snprintf(substatus[i], sizeof substatus[i], "%s", prov_result_substatus(result));
    assert_non_null(prov_result_created_date_time(result));
    assert_non_null(prov_result_last_update_date_time(result));
    assert_non_null(prov_result_registration_state_json(result));
    prov_result_free(result);
    prov_client_free(client);
  }
  assert_string_equal(hub[0], hub[1]);
  assert_string_equal(hub[0], hub[2]);
  assert_string_equal(device[0], device[1]);
  assert_string_equal(device[0], device[2]);
  /* Re-registration of the same device keeps its hub on every transport. */
  assert_string_equal(substatus[1], substatus[2]);
}

static void keep_alive_rejected_on_https(void **state) {
  (void)state;
  /* Either order: the combination is refused by register, before connecting. */
  for (int order = 0; order < 2; ++order) {
    prov_client *client = NULL;
    assert_int_equal(prov_client_create_symkey(&client, "127.0.0.1:1", DEVICE, SCOPE, KEY),
                     PROV_OK);
    if (order == 0) {
      assert_int_equal(prov_client_set_keep_alive(client, 30), PROV_OK);
      assert_int_equal(prov_client_set_transport(client, PROV_TRANSPORT_HTTPS), PROV_OK);
    } else {
      assert_int_equal(prov_client_set_transport(client, PROV_TRANSPORT_HTTPS), PROV_OK);
      assert_int_equal(prov_client_set_keep_alive(client, 30), PROV_OK);
    }
    char *message = register_expecting(client, PROV_E_INVALID_ARG, 1.0);
    assert_non_null(strstr(message, "keep_alive"));
    assert_non_null(strstr(message, "HTTPS"));
    free(message);
    prov_client_free(client);
  }
  /* A proxy CA certificate without an HTTPS proxy would never be used. */
  prov_client *client = NULL;
  assert_int_equal(prov_client_create_symkey(&client, "127.0.0.1:1", DEVICE, SCOPE, KEY), PROV_OK);
  assert_int_equal(prov_client_set_proxy_ca_cert(client, emu_ca_pem(g_emu)), PROV_OK);
  assert_int_equal(prov_client_set_proxy_url(client, "socks5://127.0.0.1:1080"), PROV_OK);
  char *message = register_expecting(client, PROV_E_INVALID_ARG, 1.0);
  assert_non_null(strstr(message, "proxy CA certificate"));
  free(message);
  prov_client_free(client);
}

static void expect_invalid(int rc, const char *must_contain, const char *must_not_contain) {
  const char *message = prov_last_error_message();
  fprintf(stderr, "-> %s: %s\n", prov_status_str(rc), message);
  assert_int_equal(rc, PROV_E_INVALID_ARG);
  if (must_contain != NULL) assert_non_null(strstr(message, must_contain));
  if (must_not_contain != NULL) assert_null(strstr(message, must_not_contain));
}

static void proxy_arguments(void **state) {
  (void)state;
  prov_client *client = NULL;
  assert_int_equal(prov_client_create_symkey(&client, "127.0.0.1:1", DEVICE, SCOPE, KEY), PROV_OK);
  expect_invalid(prov_client_set_transport(client, 3), "prov_transport", NULL);
  expect_invalid(prov_client_set_transport(client, -1), "prov_transport", NULL);
  expect_invalid(prov_client_set_proxy(client, 7, "h", 1, NULL, NULL), "proxy_type", NULL);
  expect_invalid(prov_client_set_proxy(client, PROV_PROXY_HTTP, NULL, 8080, NULL, NULL), "address",
                 NULL);
  expect_invalid(prov_client_set_proxy(client, PROV_PROXY_HTTP, "h", 0, NULL, NULL), "port", NULL);
  expect_invalid(prov_client_set_proxy(client, PROV_PROXY_HTTP, "h", 70000, NULL, NULL), "port",
                 NULL);
  expect_invalid(
      prov_client_set_proxy(client, PROV_PROXY_HTTP, "h", 8080, NULL, "hunter2-password"),
      "password", "hunter2-password");
  expect_invalid(prov_client_set_proxy(client, PROV_PROXY_NONE, "h", 8080, NULL, NULL), "NONE",
                 NULL);
  expect_invalid(prov_client_set_proxy(client, PROV_PROXY_HTTP, "bad host", 8080, NULL, NULL),
                 "address", NULL);
  expect_invalid(prov_client_set_proxy_url(client, "ftp://u:hunter2-password@h:21"), "ftp",
                 "hunter2-password");
  expect_invalid(prov_client_set_proxy_url(client, "socks5://u:hunter2-password@h:99999"), "port",
                 "hunter2-password");
  expect_invalid(prov_client_set_proxy_url(client, "http://u:hunter2%zz@h:8080"),
                 "percent-encoding", "hunter2");
  expect_invalid(prov_client_set_proxy_url(client, "http://u:hunter2-password@h:8080/path"), "path",
                 "hunter2-password");
  expect_invalid(prov_client_set_proxy_url(client, "http://[::1:8080"), "'['", NULL);
  expect_invalid(prov_client_set_proxy_ca_cert(client, "/etc/ssl/certs/ca.pem"), "BEGIN", NULL);
  /* Accepted forms. */
  assert_int_equal(prov_client_set_proxy_url(client, "proxy.example:3128"), PROV_OK);
  assert_int_equal(prov_client_set_proxy_url(client, "SOCKS5H://u%40x:p%3Aw@[::1]:1080"), PROV_OK);
  assert_int_equal(prov_client_set_proxy_url(client, "https://proxy.example"), PROV_OK);
  assert_int_equal(prov_client_set_proxy(client, PROV_PROXY_SOCKS4A, "::1", 1080, "u", NULL),
                   PROV_OK);
  assert_int_equal(prov_client_set_proxy(client, PROV_PROXY_NONE, NULL, 0, NULL, NULL), PROV_OK);
  assert_int_equal(prov_client_set_proxy_url(client, NULL), PROV_OK);
  assert_int_equal(prov_client_set_proxy_url(client, ""), PROV_OK);
  prov_client_free(client);
}

/* Setting a transport or proxy option while a registration is in flight. */
struct in_flight {
  prov_client *client;
  int rc;
};

static void *register_in_thread(void *arg) {
  struct in_flight *f = arg;
  prov_result *result = NULL;
  f->rc = prov_client_register(f->client, &result);
  prov_result_free(result);
  return NULL;
}

static void busy_while_registering(void **state) {
  (void)state;
  prov_client *client = make_client(PROV_TRANSPORT_HTTPS, "127.0.0.1", "dev-silent", KEY);
  assert_int_equal(prov_client_set_register_timeout(client, 2000), PROV_OK);
  struct in_flight flight = {client, -1};
  pthread_t thread;
  assert_int_equal(pthread_create(&thread, NULL, register_in_thread, &flight), 0);
  usleep(500 * 1000);
  assert_int_equal(prov_client_set_transport(client, PROV_TRANSPORT_MQTT), PROV_E_BUSY);
  assert_int_equal(prov_client_set_proxy_url(client, "socks5://127.0.0.1:1080"), PROV_E_BUSY);
  assert_int_equal(prov_client_set_proxy(client, PROV_PROXY_HTTP, "127.0.0.1", 3128, NULL, NULL),
                   PROV_E_BUSY);
  assert_int_equal(prov_client_set_proxy_ca_cert(client, NULL), PROV_E_BUSY);
  pthread_join(thread, NULL);
  assert_int_equal(flight.rc, PROV_E_TIMEOUT);
  assert_int_equal(prov_client_set_transport(client, PROV_TRANSPORT_MQTT), PROV_OK);
  prov_client_free(client);
}

/* X.509 attestation (a device certificate issued by an enrolled group CA,
 * chain sent in the TLS handshake) over the transport, directly and through
 * an authenticated SOCKS5 proxy. Uses its own emulator: the enrollment names
 * a CA made for this case. */
static void make_cert(const char *dir, const char *args) {
  char command[2048];
  snprintf(command, sizeof command, "cd '%s' && '%s' make-cert %s >/dev/null", dir,
           getenv("PROV_TEST_EMULATOR"), args);
  if (system(command) != 0) fail_msg("make-cert failed: %s", command);
}

static void x509_device(void **state) {
  const int transport = transport_of(state);
  char dir[] = "/tmp/prov-net-x509-XXXXXX";
  assert_non_null(mkdtemp(dir));
  make_cert(dir, "ca --cn 'transports test root' --out-cert root.pem --out-key root.key");
  make_cert(dir,
            "device --cn dev-x509-net --issuer-cert root.pem --issuer-key root.key --chain "
            "--out-cert device.pem --out-key device.key");
  char config[2048];
  snprintf(config, sizeof config,
           "{\"idScope\": \"" SCOPE "\", \"iotHubs\": [\"" HUB_1
           "\"],\n"
           " \"enrollmentGroups\": [{\"enrollmentGroupId\": \"net-x509\",\n"
           "   \"attestation\": {\"type\": \"x509\", \"caCertificates\": [\"%s/root.pem\"]}}]}\n",
           dir);
  emu_fixture *emu = emu_start(config);
  assert_non_null(emu);
  proxy_options options = {.username = PROXY_USER, .password = PROXY_PASSWORD};
  proxy_fixture *proxy = proxy_start(PROXY_MICROSOCKS, &options);
  assert_non_null(proxy);
  const int port = transport == PROV_TRANSPORT_MQTT ? emu_mqtt_port(emu) : emu_https_port(emu);
  char host[64], cert[256], key[256], url[256];
  snprintf(host, sizeof host, "localhost:%d", port);
  snprintf(cert, sizeof cert, "%s/device.pem", dir);
  snprintf(key, sizeof key, "%s/device.key", dir);
  snprintf(url, sizeof url, "socks5h://" PROXY_USER ":" PROXY_PASSWORD "@127.0.0.1:%d",
           proxy_port(proxy));
  for (int through_proxy = 0; through_proxy < 2; ++through_proxy) {
    prov_client *client = NULL;
    assert_int_equal(prov_client_create_x509(&client, host, "dev-x509-net", SCOPE, cert, key, NULL),
                     PROV_OK);
    assert_int_equal(prov_client_set_server_verification_cert(client, emu_ca_pem(emu)), PROV_OK);
    assert_int_equal(prov_client_set_transport(client, transport), PROV_OK);
    if (through_proxy) assert_int_equal(prov_client_set_proxy_url(client, url), PROV_OK);
    prov_result *result = test_register_assigned(emu, client);
    assert_string_equal(prov_result_registration_id(result), "dev-x509-net");
    assert_string_equal(prov_result_assigned_hub(result), HUB_1);
    prov_result_free(result);
    prov_client_free(client);
  }
  assert_true(proxy_count_connections_to(proxy, port) >= 1);
  proxy_stop(proxy);
  emu_stop(emu);
  char command[128];
  snprintf(command, sizeof command, "rm -rf '%s'", dir);
  assert_int_equal(system(command), 0);
}

/* ---- the table ---- */

static const int kMqtt = PROV_TRANSPORT_MQTT;
static const int kWs = PROV_TRANSPORT_MQTT_WS;
static const int kHttps = PROV_TRANSPORT_HTTPS;

#define CELL(name, transport, way)            \
  static cell name##_cell = {transport, way}; \
  static void name(void **state) {            \
    *state = &name##_cell;                    \
    register_cell(state);                     \
  }
#define MATRIX_ROW(prefix, transport)                    \
  CELL(prefix##_direct, transport, WAY_DIRECT)           \
  CELL(prefix##_http, transport, WAY_HTTP)               \
  CELL(prefix##_http_auth, transport, WAY_HTTP_AUTH)     \
  CELL(prefix##_socks4, transport, WAY_SOCKS4)           \
  CELL(prefix##_socks5, transport, WAY_SOCKS5)           \
  CELL(prefix##_socks5_auth, transport, WAY_SOCKS5_AUTH) \
  CELL(prefix##_socks5h, transport, WAY_SOCKS5H)         \
  CELL(prefix##_https_proxy, transport, WAY_HTTPS_PROXY)
MATRIX_ROW(mqtt, PROV_TRANSPORT_MQTT)
MATRIX_ROW(ws, PROV_TRANSPORT_MQTT_WS)
MATRIX_ROW(https, PROV_TRANSPORT_HTTPS)

#define PER_TRANSPORT(fn)                                                                     \
  {#fn "_mqtt", fn, NULL, NULL, (void *)&kMqtt}, {#fn "_ws", fn, NULL, NULL, (void *)&kWs}, { \
#fn "_https", fn, NULL, NULL, (void *)&kHttps                                             \
  }
#define MATRIX_TESTS(prefix)                                                     \
  cmocka_unit_test(prefix##_direct), cmocka_unit_test(prefix##_http),            \
      cmocka_unit_test(prefix##_http_auth), cmocka_unit_test(prefix##_socks4),   \
      cmocka_unit_test(prefix##_socks5), cmocka_unit_test(prefix##_socks5_auth), \
      cmocka_unit_test(prefix##_socks5h), cmocka_unit_test(prefix##_https_proxy)

int main(int argc, char **argv) {
  const struct CMUnitTest tests[] = {
      MATRIX_TESTS(mqtt),
      MATRIX_TESTS(ws),
      MATRIX_TESTS(https),
      PER_TRANSPORT(proxy_down),
      PER_TRANSPORT(proxy_silent_times_out),
      PER_TRANSPORT(proxy_wrong_password),
      PER_TRANSPORT(socks5_wrong_password),
      PER_TRANSPORT(proxy_refuses_connect),
      PER_TRANSPORT(https_proxy_untrusted),
      PER_TRANSPORT(gateway_host),
      PER_TRANSPORT(cipher_honoured),
      PER_TRANSPORT(wrong_gateway_certificate),
      PER_TRANSPORT(wrong_key),
      PER_TRANSPORT(polls_until_assigned),
      PER_TRANSPORT(throttled_then_assigned),
      PER_TRANSPORT(dropped_once_then_assigned),
      PER_TRANSPORT(disabled_is_service_error),
      PER_TRANSPORT(x509_device),
      cmocka_unit_test(same_result_on_every_transport),
      cmocka_unit_test(concurrent_clients_on_every_transport),
      cmocka_unit_test(keep_alive_rejected_on_https),
      cmocka_unit_test(proxy_arguments),
      cmocka_unit_test(busy_while_registering),
  };
  if (test_select_case(tests, sizeof tests / sizeof tests[0], argc > 1 ? argv[1] : NULL) != 0)
    return 2;
  return cmocka_run_group_tests(tests, start_emulator, stop_emulator);
}
