/* End-to-end tests: the real libprov against a real dps-emulator process on
 * free loopback ports. Each test case runs in its own process (ctest passes
 * its name as argv[1]) with its own emulator, so cases run in parallel. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <cjson/cJSON.h>

#include "emulator_fixture.h"
#include "prov/prov.h"
#include "test_helpers.h"

#define SCOPE "0ne00000A0A"
#define HUB_1 "hub-1.example.net"
#define HUB_2 "hub-2.example.net"
#define KEY_ASSIGNED "bGlicHJvdi1lMmUta2V5LWFzc2lnbmVkKioqKioqKio="
#define KEY_DELAY "bGlicHJvdi1lMmUta2V5LWRlbGF5KioqKioqKioqKio="
#define KEY_DISABLED "bGlicHJvdi1lMmUta2V5LWRpc2FibGVkKioqKioqKio="
#define KEY_THROTTLED "bGlicHJvdi1lMmUta2V5LXRocm90dGxlZCoqKioqKio="
#define KEY_SILENT "bGlicHJvdi1lMmUta2V5LXNpbGVudCoqKioqKioqKio="
#define KEY_ECHO "bGlicHJvdi1lMmUta2V5LWVjaG8qKioqKioqKioqKio="
#define KEY_ADMIN "bGlicHJvdi1lMmUta2V5LWFkbWluKioqKioqKioqKio="
#define KEY_WRONG "bGlicHJvdi1lMmUta2V5LXdyb25nKioqKioqKioqKio="
#define KEY_GROUP "bGlicHJvdi1lMmUta2V5LWdyb3VwKioqKioqKioqKio="
#define KEY_REPROV "bGlicHJvdi1lMmUta2V5LXJlcHJvdioqKioqKioqKio="

/* One emulator configuration serves every case; each device exercises one behaviour. */
static const char *kConfig =
    "{\n"
    "  // libprov e2e enrollments\n"
    "  \"idScope\": \"" SCOPE
    "\",\n"
    "  \"iotHubs\": [\"" HUB_1 "\", \"" HUB_2
    "\"],\n"
    "  \"assignmentDelayMs\": 0,\n"
    "  \"retryAfterSeconds\": 1,\n"
    "  \"enrollments\": [\n"
    "    {\"registrationId\": \"dev-assigned\", \"attestation\": {\"type\": \"symmetricKey\", "
    "\"primaryKey\": \"" KEY_ASSIGNED "\", \"secondaryKey\": \"" KEY_WRONG
    "\"}},\n"
    "    {\"registrationId\": \"dev-delay\", \"assignmentDelayMs\": 2500, \"retryAfterSeconds\": 1,"
    " \"attestation\": {\"type\": \"symmetricKey\", \"primaryKey\": \"" KEY_DELAY
    "\"}},\n"
    "    {\"registrationId\": \"dev-disabled\", \"enabled\": false,"
    " \"attestation\": {\"type\": \"symmetricKey\", \"primaryKey\": \"" KEY_DISABLED
    "\"}},\n"
    "    {\"registrationId\": \"dev-throttled\","
    " \"faults\": [{\"type\": \"throttle\", \"every\": 1, \"retryAfterSeconds\": 1, \"count\": 2}],"
    " \"attestation\": {\"type\": \"symmetricKey\", \"primaryKey\": \"" KEY_THROTTLED
    "\"}},\n"
    "    {\"registrationId\": \"dev-silent\", \"faults\": [{\"type\": \"silent\"}],"
    " \"attestation\": {\"type\": \"symmetricKey\", \"primaryKey\": \"" KEY_SILENT
    "\"}},\n"
    "    {\"registrationId\": \"dev-echo\", \"echoPayload\": true, \"deviceId\": \"echo-device\","
    " \"attestation\": {\"type\": \"symmetricKey\", \"primaryKey\": \"" KEY_ECHO
    "\"}},\n"
    "    {\"registrationId\": \"dev-admin\","
    " \"attestation\": {\"type\": \"symmetricKey\", \"primaryKey\": \"" KEY_ADMIN
    "\"}},\n"
    "    {\"registrationId\": \"dev-slowpoll\", \"assignmentDelayMs\": 2500, "
    "\"retryAfterSeconds\": 3,"
    " \"attestation\": {\"type\": \"symmetricKey\", \"primaryKey\": \"" KEY_DELAY
    "\"}},\n"
    "    {\"registrationId\": \"dev-drop\", \"faults\": [{\"type\": \"drop\", \"after\": "
    "\"register\"}],"
    " \"attestation\": {\"type\": \"symmetricKey\", \"primaryKey\": \"" KEY_ASSIGNED
    "\"}},\n"
    "    {\"registrationId\": \"dev-malformed\", \"faults\": [{\"type\": \"malformed\", \"every\": "
    "1}],"
    " \"attestation\": {\"type\": \"symmetricKey\", \"primaryKey\": \"" KEY_ASSIGNED
    "\"}},\n"
    "    {\"registrationId\": \"dev-503\", \"faults\": [{\"type\": \"error\", \"status\": 503, "
    "\"every\": 1, \"retryAfterSeconds\": 1}],"
    " \"attestation\": {\"type\": \"symmetricKey\", \"primaryKey\": \"" KEY_ASSIGNED
    "\"}},\n"
    "    {\"registrationId\": \"dev-nopuback\", \"faults\": [{\"type\": \"noPuback\"}],"
    " \"attestation\": {\"type\": \"symmetricKey\", \"primaryKey\": \"" KEY_ASSIGNED
    "\"}},\n"
    "    {\"registrationId\": \"dev-wrongrid\", \"faults\": [{\"type\": \"wrongRid\"}],"
    " \"attestation\": {\"type\": \"symmetricKey\", \"primaryKey\": \"" KEY_ASSIGNED
    "\"}},\n"
    "    {\"registrationId\": \"dev-failed\", \"faults\": [{\"type\": \"allocationFailed\"}],"
    " \"attestation\": {\"type\": \"symmetricKey\", \"primaryKey\": \"" KEY_ASSIGNED
    "\"}},\n"
    "    {\"registrationId\": \"dev-reprov\","
    " \"attestation\": {\"type\": \"symmetricKey\", \"primaryKey\": \"" KEY_REPROV
    "\"}}\n"
    "  ],\n"
    "  \"enrollmentGroups\": [\n"
    "    {\"enrollmentGroupId\": \"group-1\","
    " \"attestation\": {\"type\": \"symmetricKey\", \"primaryKey\": \"" KEY_GROUP
    "\"}}\n"
    "  ]\n"
    "}\n";

static emu_fixture *g_emu;

EMU_GROUP_FIXTURES(start_emulator, stop_emulator, g_emu, kConfig)

/* A client for registration_id at host with the emulator's CA trusted. */
static prov_client *make_client_at(const char *host, const char *registration_id, const char *key) {
  prov_client *client = NULL;
  int rc = prov_client_create_symkey(&client, host, registration_id, SCOPE, key);
  if (rc != PROV_OK) fail_msg("create %s: %s", registration_id, prov_last_error_message());
  assert_int_equal(prov_client_set_server_verification_cert(client, emu_ca_pem(g_emu)), PROV_OK);
  assert_int_equal(prov_client_set_register_timeout(client, (uint32_t)(test_scaled(20.0) * 1000)),
                   PROV_OK);
  return client;
}

/* The same on the emulator's MQTT port. */
static prov_client *make_client(const char *registration_id, const char *key) {
  return make_client_at(emu_mqtt_host(g_emu), registration_id, key);
}

static int register_expect(prov_client *client, int expected, prov_result **result) {
  int rc = prov_client_register(client, result);
  if (rc != expected) {
    emu_dump_log(g_emu);
    fail_msg("register returned %s (%s), expected %s", prov_status_str(rc),
             prov_last_error_message(), prov_status_str(expected));
  }
  return rc;
}

static void assert_assigned(const prov_result *result, const char *device_id) {
  assert_non_null(result);
  assert_string_equal(prov_result_status(result), "assigned");
  assert_string_equal(prov_result_device_id(result), device_id);
  const char *hub = prov_result_assigned_hub(result);
  assert_non_null(hub);
  assert_true(strcmp(hub, HUB_1) == 0 || strcmp(hub, HUB_2) == 0);
  assert_non_null(prov_result_operation_id(result));
  assert_non_null(prov_result_registration_state_json(result));
  assert_non_null(prov_result_created_date_time(result));
  assert_int_equal(prov_result_http_status(result), 200);
  assert_int_equal(prov_result_error_code(result), 0);
}

/* ---- cases ------------------------------------------------------------ */

static void assigned_first_try(void **state) {
  (void)state;
  prov_client *client = make_client("dev-assigned", KEY_ASSIGNED);
  prov_result *result = NULL;
  double start = test_now_s();
  register_expect(client, PROV_OK, &result);
  double elapsed = test_now_s() - start;
  assert_assigned(result, "dev-assigned");
  assert_string_equal(prov_result_registration_id(result), "dev-assigned");
  assert_string_equal(prov_result_substatus(result), "initialAssignment");
  /* Delay 0: the service answers 200 assigned at once, no poll wait. */
  if (elapsed > test_scaled(1.0)) fail_msg("immediate assignment took %.3f s", elapsed);
  prov_result_free(result);
  prov_client_free(client);
}

static void secondary_key_works(void **state) {
  (void)state;
  prov_client *client = make_client("dev-assigned", KEY_WRONG); /* the secondary key */
  prov_result *result = NULL;
  register_expect(client, PROV_OK, &result);
  assert_assigned(result, "dev-assigned");
  prov_result_free(result);
  prov_client_free(client);
}

static void retry_after_polling(void **state) {
  (void)state;
  prov_client *client = make_client("dev-delay", KEY_DELAY);
  prov_result *result = NULL;
  double start = test_now_s();
  register_expect(client, PROV_OK, &result);
  double elapsed = test_now_s() - start;
  assert_assigned(result, "dev-delay");
  /* Assignment takes 2.5 s and the service says retry-after 1: the polls
   * land at about 1, 2 and 3 s. */
  if (elapsed < 2.4 || elapsed > test_scaled(4.5))
    fail_msg("polling took %.3f s, expected 2.5..4.5 s", elapsed);
  prov_result_free(result);
  prov_client_free(client);
}

static void wrong_key_is_credential_error(void **state) {
  (void)state;
  prov_client *client = make_client("dev-delay", KEY_WRONG);
  prov_result *result = NULL;
  register_expect(client, PROV_E_CREDENTIAL, &result);
  assert_non_null(result);
  assert_int_equal(prov_result_http_status(result), 401);
  int32_t code = prov_result_error_code(result);
  if (code < 401000 || code > 401999) fail_msg("error code %d is not 401xxx", (int)code);
  assert_non_null(prov_result_tracking_id(result));
  test_assert_contains(prov_last_error_message(), "service rejected the credential: 401");
  assert_null(strstr(prov_last_error_message(), KEY_WRONG));
  prov_result_free(result);
  prov_client_free(client);
}

static void unknown_registration(void **state) {
  (void)state;
  prov_client *client = make_client("no-such-device", KEY_WRONG);
  prov_result *result = NULL;
  register_expect(client, PROV_E_CREDENTIAL, &result);
  assert_non_null(result);
  assert_int_equal(prov_result_http_status(result), 401);
  assert_int_equal(prov_result_error_code(result) / 1000, 401);
  test_assert_contains(prov_last_error_message(), "trackingId");
  prov_result_free(result);
  prov_client_free(client);
}

static void disabled_enrollment(void **state) {
  (void)state;
  prov_client *client = make_client("dev-disabled", KEY_DISABLED);
  prov_result *result = NULL;
  register_expect(client, PROV_E_SERVICE, &result);
  assert_non_null(result);
  assert_string_equal(prov_result_status(result), "disabled");
  assert_null(prov_result_assigned_hub(result));
  test_assert_contains(prov_last_error_message(), "status \"disabled\"");
  prov_result_free(result);
  prov_client_free(client);
}

/* The terminal status "failed" (200 with registrationState.errorCode): the
 * details reach the caller and the registration is not retried. */
static void allocation_failed(void **state) {
  (void)state;
  prov_client *client = make_client("dev-failed", KEY_ASSIGNED);
  prov_result *result = NULL;
  register_expect(client, PROV_E_SERVICE, &result);
  assert_non_null(result);
  assert_string_equal(prov_result_status(result), "failed");
  assert_int_equal(prov_result_http_status(result), 200);
  assert_int_equal(prov_result_error_code(result), 400207);
  assert_string_equal(prov_result_error_message(result),
                      "Custom allocation failed with status code: 400");
  assert_null(prov_result_assigned_hub(result));
  test_assert_contains(prov_last_error_message(), "status \"failed\"");
  test_assert_contains(prov_last_error_message(), "400207");
  prov_result_free(result);
  prov_client_free(client);

  /* Exactly one register request reached the service: no retry, no poll. */
  char *stats_text = NULL;
  int status = emu_admin_request(g_emu, "GET", "/stats", NULL, &stats_text);
  assert_int_equal(status, 200);
  cJSON *stats = cJSON_Parse(stats_text);
  assert_non_null(stats);
  const cJSON *requests = cJSON_GetObjectItemCaseSensitive(stats, "requests");
  const cJSON *faults = cJSON_GetObjectItemCaseSensitive(stats, "faultsInjected");
  const cJSON *failed = cJSON_GetObjectItemCaseSensitive(faults, "allocationFailed");
  if (!cJSON_IsNumber(requests) || requests->valueint != 1 || !cJSON_IsNumber(failed) ||
      failed->valueint != 1) {
    fail_msg("expected one request and one injected failure, emulator stats: %s", stats_text);
  }
  cJSON_Delete(stats);
  free(stats_text);
}

static void throttled_then_assigned(void **state) {
  (void)state;
  prov_client *client = make_client("dev-throttled", KEY_THROTTLED);
  prov_result *result = NULL;
  double start = test_now_s();
  register_expect(client, PROV_OK, &result);
  double elapsed = test_now_s() - start;
  assert_assigned(result, "dev-throttled");
  /* Two 429s with retry-after 1 each, honoured as given. */
  if (elapsed < 1.9 || elapsed > test_scaled(4.0))
    fail_msg("throttled registration took %.3f s", elapsed);
  prov_result_free(result);
  prov_client_free(client);
}

static void throttled_via_admin_endpoint(void **state) {
  (void)state;
  int status = emu_admin_request(
      g_emu, "PUT", "/faults",
      "{\"faults\":[{\"type\":\"throttle\",\"every\":1,\"retryAfterSeconds\":1,\"count\":1,"
      "\"registrationId\":\"dev-admin\"}]}",
      NULL);
  assert_true(status >= 200 && status < 300);
  prov_client *client = make_client("dev-admin", KEY_ADMIN);
  prov_result *result = NULL;
  double start = test_now_s();
  register_expect(client, PROV_OK, &result);
  double elapsed = test_now_s() - start;
  assert_assigned(result, "dev-admin");
  if (elapsed < 0.9 || elapsed > test_scaled(3.0))
    fail_msg("throttled registration took %.3f s", elapsed);
  prov_result_free(result);

  /* Faults cleared: assigned at once. */
  status = emu_admin_request(g_emu, "DELETE", "/faults", NULL, NULL);
  assert_true(status >= 200 && status < 300);
  start = test_now_s();
  register_expect(client, PROV_OK, &result);
  assert_true(test_now_s() - start < test_scaled(1.0));
  prov_result_free(result);
  prov_client_free(client);
}

static void silent_server_times_out(void **state) {
  (void)state;
  prov_client *client = make_client("dev-silent", KEY_SILENT);
  assert_int_equal(prov_client_set_register_timeout(client, 3000), PROV_OK);
  prov_result *result = NULL;
  double start = test_now_s();
  register_expect(client, PROV_E_TIMEOUT, &result);
  double elapsed = test_now_s() - start;
  assert_null(result);
  if (elapsed < 2.0 || elapsed > 3.0 + test_scaled(1.0))
    fail_msg("timeout after %.3f s, deadline 3 s", elapsed);
  test_assert_contains(prov_last_error_message(),
                       "registration deadline of 3000 ms expired while waiting for");

  /* A per-response timeout shorter than the deadline names that limit. */
  assert_int_equal(prov_client_set_register_timeout(client, 10000), PROV_OK);
  assert_int_equal(prov_client_set_response_timeout(client, 1500), PROV_OK);
  /* A missing response is retried by default; without retries it ends the call. */
  assert_int_equal(prov_client_set_retry_policy(client, 0, 1000, 1000), PROV_OK);
  start = test_now_s();
  register_expect(client, PROV_E_TIMEOUT, &result);
  elapsed = test_now_s() - start;
  if (elapsed < 1.0 || elapsed > 1.5 + test_scaled(1.0))
    fail_msg("response timeout after %.3f s, expected 1.5 s", elapsed);
  test_assert_contains(prov_last_error_message(), "timed out after 1500 ms waiting for");
  prov_client_free(client);
}

static void untrusted_certificate(void **state) {
  (void)state;
  prov_client *client = NULL;
  assert_int_equal(
      prov_client_create_symkey(&client, emu_mqtt_host(g_emu), "dev-assigned", SCOPE, KEY_ASSIGNED),
      PROV_OK);
  prov_result *result = NULL;
  /* No CA set: the system trust store does not know the emulator's CA. */
  register_expect(client, PROV_E_CONNECTION_FAILED, &result);
  assert_null(result);
  test_assert_contains(prov_last_error_message(),
                       "TLS: server certificate verification failed for localhost:");

  /* A wrong CA: the first root of the system bundle. */
  FILE *bundle = fopen("/etc/ssl/certs/ca-certificates.crt", "r");
  if (bundle) {
    char pem[16384] = "";
    char line[512];
    size_t len = 0;
    while (fgets(line, sizeof line, bundle) && len + strlen(line) < sizeof pem) {
      memcpy(pem + len, line, strlen(line) + 1);
      len += strlen(line);
      if (strstr(line, "-----END CERTIFICATE-----")) break;
    }
    fclose(bundle);
    assert_int_equal(prov_client_set_server_verification_cert(client, pem), PROV_OK);
    register_expect(client, PROV_E_CONNECTION_FAILED, &result);
    test_assert_contains(prov_last_error_message(), "server certificate verification failed");
  }
  prov_client_free(client);
}

static void reregister_same_client(void **state) {
  (void)state;
  prov_client *client = make_client("dev-reprov", KEY_REPROV);
  prov_result *first = NULL, *second = NULL;
  register_expect(client, PROV_OK, &first);
  register_expect(client, PROV_OK, &second);
  assert_assigned(first, "dev-reprov");
  assert_assigned(second, "dev-reprov");
  /* Hub allocation is stable per registration id. */
  assert_string_equal(prov_result_assigned_hub(first), prov_result_assigned_hub(second));
  assert_string_not_equal(prov_result_operation_id(first), prov_result_operation_id(second));
  prov_result_free(first);
  prov_result_free(second);
  prov_client_free(client);
}

static void payload_round_trip(void **state) {
  (void)state;
  prov_client *client = make_client("dev-echo", KEY_ECHO);
  const char *payload = "{\"modelId\":\"dtmi:com:example:x;1\",\"n\":[1,2,3]}";
  assert_int_equal(prov_client_set_provisioning_payload(client, payload), PROV_OK);
  prov_result *result = NULL;
  register_expect(client, PROV_OK, &result);
  assert_assigned(result, "echo-device");
  const char *returned = prov_result_payload(result);
  assert_non_null(returned);
  cJSON *sent = cJSON_Parse(payload);
  cJSON *got = cJSON_Parse(returned);
  assert_non_null(got);
  if (!cJSON_Compare(sent, got, 1)) fail_msg("payload came back as %s", returned);
  cJSON_Delete(sent);
  cJSON_Delete(got);
  prov_result_free(result);
  prov_client_free(client);
}

static void gateway_cipher_and_keep_alive(void **state) {
  (void)state;
  /* The DPS host name is only a name here: the connection goes to the
   * gateway, whose certificate is checked against the gateway's name. */
  prov_client *client = NULL;
  assert_int_equal(prov_client_create_symkey(&client, "global.azure-devices-provisioning.net",
                                             "dev-slowpoll", SCOPE, KEY_DELAY),
                   PROV_OK);
  assert_int_equal(prov_client_set_server_verification_cert(client, emu_ca_pem(g_emu)), PROV_OK);
  assert_int_equal(prov_client_set_gateway_hostname(client, emu_mqtt_host(g_emu)), PROV_OK);
  assert_int_equal(
      prov_client_set_cipher(client, "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256"),
      PROV_OK);
  /* Keep-alive 1 s, and the service asks for 3 s between polls: the server
   * closes connections idle for 1.5 x keep-alive, so this only succeeds if
   * PINGREQs go out while waiting. */
  assert_int_equal(prov_client_set_keep_alive(client, 1), PROV_OK);
  prov_result *result = NULL;
  double start = test_now_s();
  register_expect(client, PROV_OK, &result);
  double elapsed = test_now_s() - start;
  assert_assigned(result, "dev-slowpoll");
  if (elapsed < 2.9) fail_msg("registration took %.3f s; the poll wait is 3 s", elapsed);
  prov_result_free(result);

  /* A gateway name the certificate does not cover fails host-name
   * verification: this machine's host name, when it resolves to 127.0.0.1
   * (the emulator's certificate names localhost, 127.0.0.1 and ::1 only). */
  char host[256] = "";
  struct addrinfo hints, *found = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  int resolvable = gethostname(host, sizeof host - 1) == 0 && strcmp(host, "localhost") != 0 &&
                   getaddrinfo(host, NULL, &hints, &found) == 0;
  int loopback = resolvable && found &&
                 ((struct sockaddr_in *)found->ai_addr)->sin_addr.s_addr == htonl(INADDR_LOOPBACK);
  if (found) freeaddrinfo(found);
  if (loopback) {
    char gateway[300];
    snprintf(gateway, sizeof gateway, "%s:%d", host, emu_mqtt_port(g_emu));
    assert_int_equal(prov_client_set_gateway_hostname(client, gateway), PROV_OK);
    result = NULL;
    register_expect(client, PROV_E_CONNECTION_FAILED, &result);
    assert_null(result);
    test_assert_contains(prov_last_error_message(),
                         "TLS: server certificate verification failed for");
    test_assert_contains(prov_last_error_message(), host);
  } else {
    fprintf(stderr,
            "note: host name \"%s\" does not resolve to 127.0.0.1; "
            "host-name mismatch not checked here\n",
            host);
  }
  prov_client_free(client);
}

static int ipv6_loopback_available(void) {
  int fd = socket(AF_INET6, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  struct sockaddr_in6 addr;
  memset(&addr, 0, sizeof addr);
  addr.sin6_family = AF_INET6;
  addr.sin6_addr = in6addr_loopback;
  int ok = bind(fd, (struct sockaddr *)&addr, sizeof addr) == 0;
  close(fd);
  return ok;
}

/* "[::1]:port": an IPv6 literal host, verified against the certificate's
 * ::1 address entry. Uses its own emulator listening on ::1. */
static void ipv6_literal_host(void **state) {
  (void)state;
  if (!ipv6_loopback_available()) {
    fprintf(stderr, "IPv6 loopback (::1) is not available on this machine\n");
    skip();
  }
  emu_fixture *v6 = emu_start_on(kConfig, "::1");
  assert_non_null(v6);
  assert_true(strncmp(emu_mqtt_host(v6), "[::1]:", 6) == 0);
  prov_client *client = NULL;
  assert_int_equal(
      prov_client_create_symkey(&client, emu_mqtt_host(v6), "dev-assigned", SCOPE, KEY_ASSIGNED),
      PROV_OK);
  assert_int_equal(prov_client_set_server_verification_cert(client, emu_ca_pem(v6)), PROV_OK);
  prov_result *result = NULL;
  int rc = prov_client_register(client, &result);
  if (rc != PROV_OK) {
    emu_dump_log(v6);
    fail_msg("register over [::1]: %s %s", prov_status_str(rc), prov_last_error_message());
  }
  assert_assigned(result, "dev-assigned");
  prov_result_free(result);
  prov_client_free(client);
  emu_stop(v6);
}

/* Each service fault maps to its status, with a message naming the step. */
static void fault_statuses(void **state) {
  (void)state;
  prov_result *result = NULL;

  prov_client *client = make_client("dev-drop", KEY_ASSIGNED);
  /* Without retries the drop itself is reported (reconnecting is tests/faults' subject). */
  assert_int_equal(prov_client_set_retry_policy(client, 0, 1000, 1000), PROV_OK);
  register_expect(client, PROV_E_CONNECTION_DROPPED, &result);
  assert_null(result);
  test_assert_contains(prov_last_error_message(), "connection closed by localhost:");
  test_assert_contains(prov_last_error_message(), "while waiting for the register response");
  prov_client_free(client);

  client = make_client("dev-malformed", KEY_ASSIGNED);
  register_expect(client, PROV_E_PROTOCOL, &result);
  assert_null(result);
  test_assert_contains(prov_last_error_message(),
                       "service sent an unusable body in the register response");
  prov_client_free(client);

  /* 503 every time: retried with backoff until the next wait would pass the
   * deadline, then the last service error, with its details on the result. */
  client = make_client("dev-503", KEY_ASSIGNED);
  assert_int_equal(prov_client_set_register_timeout(client, 4000), PROV_OK);
  double start = test_now_s();
  register_expect(client, PROV_E_SERVICE, &result);
  double elapsed = test_now_s() - start;
  assert_non_null(result);
  assert_int_equal(prov_result_http_status(result), 503);
  assert_int_equal(prov_result_error_code(result) / 1000, 503);
  test_assert_contains(prov_last_error_message(), "service answered 503 to the register request");
  test_assert_contains(prov_last_error_message(),
                       "would pass the registration deadline of 4000 ms");
  if (elapsed > 4.0 + test_scaled(0.5))
    fail_msg("503 retries ran %.3f s past a 4 s deadline", elapsed);
  prov_result_free(result);
  result = NULL;
  prov_client_free(client);

  /* Responses with a foreign $rid are not ours: ignored until the timeout. */
  client = make_client("dev-wrongrid", KEY_ASSIGNED);
  assert_int_equal(prov_client_set_register_timeout(client, 2000), PROV_OK);
  register_expect(client, PROV_E_TIMEOUT, &result);
  test_assert_contains(prov_last_error_message(), "waiting for the register response");
  prov_client_free(client);
}

/* The register publish (QoS 1) gets no PUBACK and no answer: the timeout
 * names the missing PUBACK; a silent service (PUBACK, no answer) is told
 * apart by naming only the response. */
static void puback_withheld_times_out(void **state) {
  (void)state;
  static const struct {
    const char *registration_id;
    int transport;
    int with_puback;
  } kCases[] = {{"dev-nopuback", PROV_TRANSPORT_MQTT, 0},
                {"dev-nopuback", PROV_TRANSPORT_MQTT_WS, 0},
                {"dev-silent", PROV_TRANSPORT_MQTT, 1}};
  for (size_t i = 0; i < sizeof kCases / sizeof kCases[0]; ++i) {
    const char *key = kCases[i].with_puback ? KEY_SILENT : KEY_ASSIGNED;
    char host[64];
    snprintf(
        host, sizeof host, "localhost:%d",
        kCases[i].transport == PROV_TRANSPORT_MQTT ? emu_mqtt_port(g_emu) : emu_https_port(g_emu));
    prov_client *client = make_client_at(host, kCases[i].registration_id, key);
    assert_int_equal(prov_client_set_transport(client, kCases[i].transport), PROV_OK);
    /* 2 s: the wait also covers CONNACK and SUBACK (sent with the request). */
    assert_int_equal(prov_client_set_response_timeout(client, 2000), PROV_OK);
    assert_int_equal(prov_client_set_retry_policy(client, 0, 100, 100), PROV_OK);
    prov_result *result = NULL;
    double start = test_now_s();
    register_expect(client, PROV_E_TIMEOUT, &result);
    double elapsed = test_now_s() - start;
    assert_null(result);
    if (elapsed < 1.9 || elapsed > 2.0 + test_scaled(2.0)) {
      fail_msg("%s: timed out after %.3f s, expected about 2 s", kCases[i].registration_id,
               elapsed);
    }
    const char *message = prov_last_error_message();
    test_assert_contains(message, "timed out after 2000 ms waiting for the");
    if (kCases[i].with_puback) {
      test_assert_contains(message, "waiting for the register response");
      if (strstr(message, "PUBACK")) fail_msg("a PUBACK came, yet: %s", message);
    } else {
      test_assert_contains(message, "the MQTT PUBACK of the register request");
    }
    prov_client_free(client);
  }
}

/* ---- concurrency ------------------------------------------------------ */

#define CLIENTS 50
#define THREADS 8

struct worker {
  pthread_t thread;
  int first, step;
  int ok, failed;
  char failure[512];
};

static void *register_many(void *arg) {
  struct worker *w = arg;
  for (int i = w->first; i < CLIENTS; i += w->step) {
    char id[64];
    snprintf(id, sizeof id, "bulk-device-%03d", i);
    char *key = NULL;
    prov_client *client = NULL;
    prov_result *result = NULL;
    int rc = prov_derive_device_key(KEY_GROUP, id, &key);
    if (rc == PROV_OK)
      rc = prov_client_create_symkey(&client, emu_mqtt_host(g_emu), id, SCOPE, key);
    if (rc == PROV_OK) rc = prov_client_set_server_verification_cert(client, emu_ca_pem(g_emu));
    if (rc == PROV_OK) rc = prov_client_register(client, &result);
    if (rc == PROV_OK &&
        (!prov_result_device_id(result) || strcmp(prov_result_device_id(result), id) != 0)) {
      rc = -1;
    }
    if (rc == PROV_OK) {
      w->ok++;
    } else {
      w->failed++;
      snprintf(w->failure, sizeof w->failure, "%s: %s %s", id, prov_status_str(rc),
               prov_last_error_message());
    }
    prov_result_free(result);
    prov_client_free(client);
    prov_string_free(key);
  }
  return NULL;
}

static void concurrent_clients(void **state) {
  (void)state;
  struct worker workers[THREADS];
  memset(workers, 0, sizeof workers);
  double start = test_now_s();
  for (int t = 0; t < THREADS; ++t) {
    workers[t].first = t;
    workers[t].step = THREADS;
    assert_int_equal(pthread_create(&workers[t].thread, NULL, register_many, &workers[t]), 0);
  }
  int ok = 0;
  for (int t = 0; t < THREADS; ++t) {
    pthread_join(workers[t].thread, NULL);
    ok += workers[t].ok;
    if (workers[t].failed)
      fprintf(stderr, "thread %d: %d failed, e.g. %s\n", t, workers[t].failed, workers[t].failure);
  }
  fprintf(stderr, "%d/%d registrations from %d threads in %.2f s\n", ok, CLIENTS, THREADS,
          test_now_s() - start);
  assert_int_equal(ok, CLIENTS);
}

struct busy_call {
  prov_client *client;
  int rc;
  prov_result *result;
};

static void *register_in_thread(void *arg) {
  struct busy_call *call = arg;
  call->rc = prov_client_register(call->client, &call->result);
  return NULL;
}

static void busy_on_concurrent_register(void **state) {
  (void)state;
  struct busy_call call = {make_client("dev-delay", KEY_DELAY), -1, NULL};
  pthread_t thread;
  assert_int_equal(pthread_create(&thread, NULL, register_in_thread, &call), 0);
  test_sleep_ms(500); /* the first registration is now polling (assignment takes 2.5 s) */
  prov_result *result = (prov_result *)0x1;
  double start = test_now_s();
  assert_int_equal(prov_client_register(call.client, &result), PROV_E_BUSY);
  assert_true(test_now_s() - start < test_scaled(0.1));
  assert_null(result);
  test_assert_contains(prov_last_error_message(), "in flight");
  assert_int_equal(prov_client_set_keep_alive(call.client, 30), PROV_E_BUSY);
  pthread_join(thread, NULL);
  if (call.rc != PROV_OK) fail_msg("first registration: %s", prov_status_str(call.rc));
  assert_assigned(call.result, "dev-delay");
  /* Idle again: setters and register work. */
  assert_int_equal(prov_client_set_keep_alive(call.client, 30), PROV_OK);
  prov_result_free(call.result);
  prov_client_free(call.client);
}

int main(int argc, char **argv) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(assigned_first_try),
      cmocka_unit_test(secondary_key_works),
      cmocka_unit_test(retry_after_polling),
      cmocka_unit_test(wrong_key_is_credential_error),
      cmocka_unit_test(unknown_registration),
      cmocka_unit_test(disabled_enrollment),
      cmocka_unit_test(allocation_failed),
      cmocka_unit_test(throttled_then_assigned),
      cmocka_unit_test(throttled_via_admin_endpoint),
      cmocka_unit_test(silent_server_times_out),
      cmocka_unit_test(untrusted_certificate),
      cmocka_unit_test(reregister_same_client),
      cmocka_unit_test(payload_round_trip),
      cmocka_unit_test(gateway_cipher_and_keep_alive),
      cmocka_unit_test(fault_statuses),
      cmocka_unit_test(puback_withheld_times_out),
      cmocka_unit_test(ipv6_literal_host),
      cmocka_unit_test(concurrent_clients),
      cmocka_unit_test(busy_on_concurrent_register),
  };
  if (test_select_case(tests, sizeof tests / sizeof tests[0], argc > 1 ? argv[1] : NULL) != 0)
    return 2;
  return cmocka_run_group_tests(tests, start_emulator, stop_emulator);
}
