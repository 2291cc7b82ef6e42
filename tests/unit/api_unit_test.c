/* Unit tests of libprov's public API: known-answer vectors, argument
 * validation (exact status + a helpful message), status names, versions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <cjson/cJSON.h>

#include "prov/prov.h"

#define GOOD_HOST "localhost:8883"
#define GOOD_ID "my-device-001"
#define GOOD_SCOPE "0ne00000A0A"
/* 32 bytes */
#define GOOD_KEY "ZmFrZS1kZXZpY2Uta2V5LWZvci10ZXN0cy1vbmx5LTAwMDE="
/* 8 bytes: too short */
#define SHORT_KEY "c2hvcnRrZXk="
/* 65 bytes: too long */
#define LONG_KEY \
  "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE="

static char *read_text_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *text = malloc((size_t)size + 1);
  if (text && fread(text, 1, (size_t)size, f) != (size_t)size) {
    free(text);
    text = NULL;
  }
  if (text) text[size] = '\0';
  fclose(f);
  return text;
}

static cJSON *load_vectors(void) {
  const char *path = getenv("PROV_TEST_VECTORS");
  if (!path) fail_msg("PROV_TEST_VECTORS is not set (path of sas.json)");
  char *text = read_text_file(path);
  if (!text) fail_msg("cannot read %s", path);
  cJSON *root = cJSON_Parse(text);
  free(text);
  if (!root) fail_msg("%s is not valid JSON", path);
  return root;
}

static const char *str_of(const cJSON *object, const char *name) {
  const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, name);
  assert_true(cJSON_IsString(item));
  return item->valuestring;
}

static void test_sas_vectors(void **state) {
  (void)state;
  cJSON *root = load_vectors();
  const cJSON *vectors = cJSON_GetObjectItemCaseSensitive(root, "sas");
  assert_true(cJSON_GetArraySize(vectors) >= 3);
  const cJSON *v;
  cJSON_ArrayForEach(v, vectors) {
    const cJSON *expiry = cJSON_GetObjectItemCaseSensitive(v, "expiry");
    char *token = NULL;
    int rc = prov_generate_sas_token(str_of(v, "id_scope"), str_of(v, "registration_id"),
                                     str_of(v, "device_key"), (int64_t)expiry->valuedouble, &token);
    assert_int_equal(rc, PROV_OK);
    assert_non_null(token);
    assert_string_equal(token, str_of(v, "token"));
    prov_string_free(token);
  }
  cJSON_Delete(root);
}

static void test_derived_key_vectors(void **state) {
  (void)state;
  cJSON *root = load_vectors();
  const cJSON *vectors = cJSON_GetObjectItemCaseSensitive(root, "derived_keys");
  assert_true(cJSON_GetArraySize(vectors) >= 2);
  const cJSON *v;
  cJSON_ArrayForEach(v, vectors) {
    char *key = NULL;
    assert_int_equal(
        prov_derive_device_key(str_of(v, "group_key"), str_of(v, "registration_id"), &key),
        PROV_OK);
    assert_string_equal(key, str_of(v, "device_key"));
    prov_string_free(key);
  }
  cJSON_Delete(root);
}

/* ---- bad inputs ------------------------------------------------------- */

static prov_client *good_client(void) {
  prov_client *client = NULL;
  assert_int_equal(prov_client_create_symkey(&client, GOOD_HOST, GOOD_ID, GOOD_SCOPE, GOOD_KEY),
                   PROV_OK);
  assert_non_null(client);
  return client;
}

static int create_with(const char *host, const char *id, const char *scope, const char *key) {
  prov_client *client = (prov_client *)0x1; /* must be reset to NULL on failure */
  int rc = prov_client_create_symkey(&client, host, id, scope, key);
  if (rc == PROV_OK) {
    prov_client_free(client);
  } else {
    assert_null(client);
  }
  return rc;
}

static char long_id[200];

enum case_kind {
  CREATE,
  KEEP_ALIVE,
  PAYLOAD,
  REG_TIMEOUT,
  RESP_TIMEOUT,
  TTL,
  CIPHER,
  GATEWAY,
  CERT
};

struct bad_input {
  const char *what;
  enum case_kind kind;
  const char *host, *id, *scope, *key; /* CREATE */
  const char *text;                    /* string setters */
  int64_t number;                      /* numeric setters */
  int expected_status;
  const char *message_part;
};

static const struct bad_input kBadInputs[] = {
    {"host NULL", CREATE, NULL, GOOD_ID, GOOD_SCOPE, GOOD_KEY, NULL, 0, PROV_E_INVALID_ARG,
     "provisioning_host is NULL"},
    {"host empty", CREATE, "", GOOD_ID, GOOD_SCOPE, GOOD_KEY, NULL, 0, PROV_E_INVALID_ARG,
     "provisioning_host is empty"},
    {"port 0", CREATE, "localhost:0", GOOD_ID, GOOD_SCOPE, GOOD_KEY, NULL, 0, PROV_E_INVALID_ARG,
     "port must be 1..65535"},
    {"port 70000", CREATE, "localhost:70000", GOOD_ID, GOOD_SCOPE, GOOD_KEY, NULL, 0,
     PROV_E_INVALID_ARG, "port must be 1..65535"},
    {"port not a number", CREATE, "localhost:88a3", GOOD_ID, GOOD_SCOPE, GOOD_KEY, NULL, 0,
     PROV_E_INVALID_ARG, "is not a number"},
    {"empty port", CREATE, "localhost:", GOOD_ID, GOOD_SCOPE, GOOD_KEY, NULL, 0, PROV_E_INVALID_ARG,
     "port after ':' is empty"},
    {"bare IPv6", CREATE, "::1:8883", GOOD_ID, GOOD_SCOPE, GOOD_KEY, NULL, 0, PROV_E_INVALID_ARG,
     "write IPv6 addresses in brackets"},
    {"unclosed bracket", CREATE, "[::1:8883", GOOD_ID, GOOD_SCOPE, GOOD_KEY, NULL, 0,
     PROV_E_INVALID_ARG, "without a closing ']'"},
    {"space in host", CREATE, "my host", GOOD_ID, GOOD_SCOPE, GOOD_KEY, NULL, 0, PROV_E_INVALID_ARG,
     "' ' is not valid in a host name"},
    {"id NULL", CREATE, GOOD_HOST, NULL, GOOD_SCOPE, GOOD_KEY, NULL, 0, PROV_E_INVALID_ARG,
     "registration_id is NULL"},
    {"id empty", CREATE, GOOD_HOST, "", GOOD_SCOPE, GOOD_KEY, NULL, 0, PROV_E_INVALID_ARG,
     "registration_id is empty"},
    {"id with slash", CREATE, GOOD_HOST, "dev/1", GOOD_SCOPE, GOOD_KEY, NULL, 0, PROV_E_INVALID_ARG,
     "registration_id contains '/' at position 4"},
    {"id with space", CREATE, GOOD_HOST, "dev 1", GOOD_SCOPE, GOOD_KEY, NULL, 0, PROV_E_INVALID_ARG,
     "registration_id contains ' '"},
    {"id too long", CREATE, GOOD_HOST, long_id, GOOD_SCOPE, GOOD_KEY, NULL, 0, PROV_E_INVALID_ARG,
     "registration_id is 129 characters long; the maximum is 128"},
    {"id starts with dash", CREATE, GOOD_HOST, "-dev", GOOD_SCOPE, GOOD_KEY, NULL, 0,
     PROV_E_INVALID_ARG, "must start and end with a letter or digit"},
    {"scope NULL", CREATE, GOOD_HOST, GOOD_ID, NULL, GOOD_KEY, NULL, 0, PROV_E_INVALID_ARG,
     "id_scope is NULL"},
    {"scope with slash", CREATE, GOOD_HOST, GOOD_ID, "0ne/0000", GOOD_KEY, NULL, 0,
     PROV_E_INVALID_ARG, "id_scope \"0ne/0000\" contains '/'"},
    {"key NULL", CREATE, GOOD_HOST, GOOD_ID, GOOD_SCOPE, NULL, NULL, 0, PROV_E_INVALID_ARG,
     "symmetric_key is NULL"},
    {"key empty", CREATE, GOOD_HOST, GOOD_ID, GOOD_SCOPE, "", NULL, 0, PROV_E_INVALID_ARG,
     "symmetric_key is empty"},
    {"key bad Base64", CREATE, GOOD_HOST, GOOD_ID, GOOD_SCOPE, "not*base64*key==", NULL, 0,
     PROV_E_INVALID_ARG, "symmetric_key is not valid Base64"},
    {"key bad length", CREATE, GOOD_HOST, GOOD_ID, GOOD_SCOPE, "abcde", NULL, 0, PROV_E_INVALID_ARG,
     "is not a multiple of 4"},
    {"key too short", CREATE, GOOD_HOST, GOOD_ID, GOOD_SCOPE, SHORT_KEY, NULL, 0,
     PROV_E_INVALID_ARG, "symmetric_key decodes to 8 bytes; it must be 16..64 bytes"},
    {"key too long", CREATE, GOOD_HOST, GOOD_ID, GOOD_SCOPE, LONG_KEY, NULL, 0, PROV_E_INVALID_ARG,
     "symmetric_key decodes to 65 bytes"},
    {"keep-alive 0", KEEP_ALIVE, 0, 0, 0, 0, NULL, 0, PROV_E_INVALID_ARG,
     "keep_alive 0 is out of range 1..1740 seconds"},
    {"keep-alive 1741", KEEP_ALIVE, 0, 0, 0, 0, NULL, 1741, PROV_E_INVALID_ARG,
     "keep_alive 1741 is out of range 1..1740"},
    {"keep-alive negative", KEEP_ALIVE, 0, 0, 0, 0, NULL, -5, PROV_E_INVALID_ARG,
     "keep_alive -5 is out of range"},
    {"payload bad JSON", PAYLOAD, 0, 0, 0, 0, "{\"modelId\": ", 0, PROV_E_INVALID_ARG,
     "json is not valid JSON"},
    {"payload trailing garbage", PAYLOAD, 0, 0, 0, 0, "{} x", 0, PROV_E_INVALID_ARG,
     "json is not valid JSON: parse error at character"},
    {"payload empty", PAYLOAD, 0, 0, 0, 0, "", 0, PROV_E_INVALID_ARG, "json is empty"},
    {"register timeout 0", REG_TIMEOUT, 0, 0, 0, 0, NULL, 0, PROV_E_INVALID_ARG,
     "register_timeout 0 is out of range 1..86400000 ms"},
    {"register timeout too big", REG_TIMEOUT, 0, 0, 0, 0, NULL, 86400001, PROV_E_INVALID_ARG,
     "register_timeout 86400001 is out of range"},
    {"response timeout 0", RESP_TIMEOUT, 0, 0, 0, 0, NULL, 0, PROV_E_INVALID_ARG,
     "response_timeout 0 is out of range 1..3600000 ms"},
    {"response timeout too big", RESP_TIMEOUT, 0, 0, 0, 0, NULL, 3600001, PROV_E_INVALID_ARG,
     "response_timeout 3600001 is out of range"},
    {"sastoken ttl 59", TTL, 0, 0, 0, 0, NULL, 59, PROV_E_INVALID_ARG,
     "sastoken_ttl 59 is out of range 60..31536000 seconds"},
    {"cipher unknown", CIPHER, 0, 0, 0, 0, "NO-SUCH-CIPHER", 0, PROV_E_INVALID_ARG,
     "cipher_list \"NO-SUCH-CIPHER\" is not a usable OpenSSL cipher list"},
    {"gateway bad port", GATEWAY, 0, 0, 0, 0, "gw.example.net:99999", 0, PROV_E_INVALID_ARG,
     "hostname \"gw.example.net:99999\": port must be 1..65535"},
    {"gateway empty", GATEWAY, 0, 0, 0, 0, "", 0, PROV_E_INVALID_ARG, "hostname is empty"},
    {"cert is a path", CERT, 0, 0, 0, 0, "/etc/ssl/certs/ca-certificates.crt", 0,
     PROV_E_INVALID_ARG, "not a file path"},
};

static void check_message(const char *what, const char *part) {
  const char *message = prov_last_error_message();
  assert_non_null(message);
  if (strstr(message, part) == NULL) {
    fail_msg("%s: message \"%s\" does not contain \"%s\"", what, message, part);
  }
}

static void test_bad_inputs(void **state) {
  (void)state;
  memset(long_id, 'a', 129);
  long_id[129] = '\0';
  size_t count = sizeof kBadInputs / sizeof kBadInputs[0];
  assert_true(count >= 20);
  for (size_t i = 0; i < count; ++i) {
    const struct bad_input *c = &kBadInputs[i];
    prov_last_error_clear();
    int rc;
    prov_client *client = c->kind == CREATE ? NULL : good_client();
    switch (c->kind) {
      case CREATE:
        rc = create_with(c->host, c->id, c->scope, c->key);
        break;
      case KEEP_ALIVE:
        rc = prov_client_set_keep_alive(client, (int32_t)c->number);
        break;
      case PAYLOAD:
        rc = prov_client_set_provisioning_payload(client, c->text);
        break;
      case REG_TIMEOUT:
        rc = prov_client_set_register_timeout(client, (uint32_t)c->number);
        break;
      case RESP_TIMEOUT:
        rc = prov_client_set_response_timeout(client, (uint32_t)c->number);
        break;
      case TTL:
        rc = prov_client_set_sastoken_ttl(client, (int32_t)c->number);
        break;
      case CIPHER:
        rc = prov_client_set_cipher(client, c->text);
        break;
      case GATEWAY:
        rc = prov_client_set_gateway_hostname(client, c->text);
        break;
      case CERT:
        rc = prov_client_set_server_verification_cert(client, c->text);
        break;
      default:
        rc = -1;
    }
    prov_client_free(client);
    if (rc != c->expected_status) {
      fail_msg("%s: status %s, expected %s (message: %s)", c->what, prov_status_str(rc),
               prov_status_str(c->expected_status), prov_last_error_message());
    }
    check_message(c->what, c->message_part);
    /* A key never appears in a message. */
    if (c->key && strlen(c->key) > 8) assert_null(strstr(prov_last_error_message(), c->key));
  }
}

static void test_null_handles_and_outputs(void **state) {
  (void)state;
  prov_result *result = (prov_result *)0x1;
  assert_int_equal(prov_client_register(NULL, &result), PROV_E_INVALID_ARG);
  assert_null(result);
  check_message("register NULL client", "client is NULL");

  prov_client *client = good_client();
  assert_int_equal(prov_client_register(client, NULL), PROV_E_INVALID_ARG);
  check_message("register NULL out", "out is NULL");
  prov_client_free(client);

  assert_int_equal(prov_client_create_symkey(NULL, GOOD_HOST, GOOD_ID, GOOD_SCOPE, GOOD_KEY),
                   PROV_E_INVALID_ARG);
  check_message("create NULL out", "out is NULL");

  assert_int_equal(prov_client_set_keep_alive(NULL, 60), PROV_E_INVALID_ARG);
  check_message("setter NULL client", "client is NULL");

  char *key = (char *)0x1;
  assert_int_equal(prov_derive_device_key("not base64", GOOD_ID, &key), PROV_E_INVALID_ARG);
  assert_null(key);
  check_message("derive bad group key", "group_key is not valid Base64");
  assert_int_equal(prov_derive_device_key(GOOD_KEY, "bad!id", &key), PROV_E_INVALID_ARG);
  check_message("derive bad id", "registration_id contains '!'");
  assert_int_equal(prov_derive_device_key(GOOD_KEY, GOOD_ID, NULL), PROV_E_INVALID_ARG);
  check_message("derive NULL out", "out_device_key is NULL");

  char *token = NULL;
  assert_int_equal(prov_generate_sas_token(GOOD_SCOPE, GOOD_ID, GOOD_KEY, 0, &token),
                   PROV_E_INVALID_ARG);
  check_message("sas expiry 0", "expiry 0 must be a positive Unix time");
  assert_int_equal(prov_generate_sas_token(GOOD_SCOPE, GOOD_ID, SHORT_KEY, 100, &token),
                   PROV_E_INVALID_ARG);
  check_message("sas short key", "symmetric_key decodes to 8 bytes");

  /* NULL-safe frees and getters. */
  prov_client_free(NULL);
  prov_result_free(NULL);
  prov_string_free(NULL);
  assert_null(prov_result_status(NULL));
  assert_null(prov_result_assigned_hub(NULL));
  assert_null(prov_result_payload(NULL));
  assert_int_equal(prov_result_error_code(NULL), 0);
  assert_int_equal(prov_result_http_status(NULL), 0);
}

static void test_good_options(void **state) {
  (void)state;
  prov_client *client = good_client();
  assert_int_equal(prov_client_set_keep_alive(client, 1), PROV_OK);
  assert_int_equal(prov_client_set_keep_alive(client, 1740), PROV_OK);
  assert_int_equal(prov_client_set_sastoken_ttl(client, 60), PROV_OK);
  assert_int_equal(prov_client_set_register_timeout(client, 86400000u), PROV_OK);
  assert_int_equal(prov_client_set_response_timeout(client, 1), PROV_OK);
  assert_int_equal(prov_client_set_provisioning_payload(client, "{\"modelId\":\"dtmi:x;1\"}"),
                   PROV_OK);
  assert_int_equal(prov_client_set_provisioning_payload(client, "42"), PROV_OK);
  assert_int_equal(prov_client_set_provisioning_payload(client, NULL), PROV_OK);
  assert_int_equal(prov_client_set_cipher(client, "ECDHE-RSA-AES128-GCM-SHA256"), PROV_OK);
  assert_int_equal(prov_client_set_cipher(client, NULL), PROV_OK);
  assert_int_equal(prov_client_set_cipher(client, ""), PROV_OK);
  assert_int_equal(prov_client_set_gateway_hostname(client, "[::1]:8883"), PROV_OK);
  assert_int_equal(prov_client_set_gateway_hostname(client, "gw.example.net"), PROV_OK);
  assert_int_equal(prov_client_set_gateway_hostname(client, NULL), PROV_OK);
  assert_int_equal(prov_client_set_server_verification_cert(client, NULL), PROV_OK);
  prov_client_free(client);

  /* Host forms and id characters that are allowed. */
  assert_int_equal(create_with("[::1]:8883", "a", GOOD_SCOPE, GOOD_KEY), PROV_OK);
  assert_int_equal(create_with("127.0.0.1", "sensor-42.floor:3_b", GOOD_SCOPE, GOOD_KEY), PROV_OK);
  assert_int_equal(create_with("global.azure-devices-provisioning.net", GOOD_ID, GOOD_SCOPE,
                               "8isrFI1sGsIlvvFSSFRiMfCNzv21fjbE/+ah/"
                               "lSh3lF8e2YG1Te7w1KpZhJFFXJrqYKi9yegxkqIChbqOS9Egw=="),
                   PROV_OK);
  memset(long_id, 'b', 128);
  long_id[128] = '\0';
  assert_int_equal(create_with(GOOD_HOST, long_id, GOOD_SCOPE, GOOD_KEY), PROV_OK);
}

static void test_connection_refused(void **state) {
  (void)state;
  /* Port 1 on loopback: nothing listens there. */
  prov_client *client = NULL;
  assert_int_equal(prov_client_create_symkey(&client, "127.0.0.1:1", GOOD_ID, GOOD_SCOPE, GOOD_KEY),
                   PROV_OK);
  assert_int_equal(prov_client_set_register_timeout(client, 5000), PROV_OK);
  prov_result *result = NULL;
  assert_int_equal(prov_client_register(client, &result), PROV_E_CONNECTION_FAILED);
  assert_null(result);
  check_message("connection refused", "TCP connect to 127.0.0.1:1 failed");
  assert_null(strstr(prov_last_error_message(), GOOD_KEY));
  prov_client_free(client);
}

static void test_status_strings(void **state) {
  (void)state;
  static const struct {
    int code;
    const char *name;
  } kNames[] = {
      {PROV_OK, "PROV_OK"},
      {PROV_E_INVALID_ARG, "PROV_E_INVALID_ARG"},
      {PROV_E_NOMEM, "PROV_E_NOMEM"},
      {PROV_E_CREDENTIAL, "PROV_E_CREDENTIAL"},
      {PROV_E_CONNECTION_FAILED, "PROV_E_CONNECTION_FAILED"},
      {PROV_E_CONNECTION_DROPPED, "PROV_E_CONNECTION_DROPPED"},
      {PROV_E_TIMEOUT, "PROV_E_TIMEOUT"},
      {PROV_E_CANCELLED, "PROV_E_CANCELLED"},
      {PROV_E_SERVICE, "PROV_E_SERVICE"},
      {PROV_E_PROTOCOL, "PROV_E_PROTOCOL"},
      {PROV_E_BUSY, "PROV_E_BUSY"},
      {PROV_E_INTERNAL, "PROV_E_INTERNAL"},
      {PROV_E_CERTIFICATE, "PROV_E_CERTIFICATE"},
  };
  for (size_t i = 0; i < sizeof kNames / sizeof kNames[0]; ++i) {
    assert_int_equal(kNames[i].code, (int)i); /* append-only numbering */
    assert_string_equal(prov_status_str(kNames[i].code), kNames[i].name);
  }
  assert_string_equal(prov_status_str(1000), "PROV_E_UNKNOWN");
  assert_string_equal(prov_status_str(-1), "PROV_E_UNKNOWN");
  assert_string_equal(prov_status_str(0x7FFFFFFF), "PROV_E_UNKNOWN");
}

static void test_versions_and_last_error(void **state) {
  (void)state;
  assert_int_equal(prov_version_number(), PROV_VERSION_NUMBER);
  assert_int_equal(prov_version_number(), 1000000);
  assert_string_equal(prov_version_string(), PROV_VERSION_STRING);

  assert_int_equal(prov_client_set_keep_alive(NULL, 1), PROV_E_INVALID_ARG);
  assert_true(strlen(prov_last_error_message()) > 0);
  prov_last_error_clear();
  assert_string_equal(prov_last_error_message(), "");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sas_vectors),    cmocka_unit_test(test_derived_key_vectors),
      cmocka_unit_test(test_bad_inputs),     cmocka_unit_test(test_null_handles_and_outputs),
      cmocka_unit_test(test_good_options),   cmocka_unit_test(test_connection_refused),
      cmocka_unit_test(test_status_strings), cmocka_unit_test(test_versions_and_last_error),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
