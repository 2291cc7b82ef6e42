/* End-to-end tests of X.509 attestation, symmetric-key groups and certificate
 * issuance (issue 6): the real libprov against a real dps-emulator process.
 * Credentials are made by `dps-emulator make-cert` in each case's own temp
 * directory; issued certificates are verified with OpenSSL (code libprov does
 * not use for this), against the emulator's own root CA. Each case runs in its
 * own process (ctest passes its name as argv[1]). */
#define _GNU_SOURCE
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "emulator_fixture.h"
#include "prov/prov.h"
#include "test_helpers.h"

#define SCOPE "0ne00000A0A"
#define GROUP_KEY "bGlicHJvdi14NTA5LWdyb3VwLWtleSoqKioqKioqKio="
#define CSR_KEY "bGlicHJvdi14NTA5LWNzci1rZXkqKioqKioqKioqKio="
#define PASS "correct horse battery"

static emu_fixture *g_emu;
/* The transport every case uses (argv[2]: mqtt, mqtt-ws or https). */
static int g_transport = PROV_TRANSPORT_MQTT;
static char g_dir[256]; /* credentials of this case */
static char g_config[16384];

/* ---- helpers ------------------------------------------------------------ */

/* A path in g_dir; the result lives in a small ring of buffers (main thread only). */
static const char *path_of(const char *name) {
  static char paths[16][512];
  static int next;
  char *out = paths[next++ % 16];
  snprintf(out, 512, "%s/%s", g_dir, name);
  return out;
}

static void make_cert(const char *args_format, ...) {
  const char *emulator = getenv("PROV_TEST_EMULATOR");
  if (!emulator) fail_msg("PROV_TEST_EMULATOR is not set");
  char args[2048];
  va_list ap;
  va_start(ap, args_format);
  vsnprintf(args, sizeof args, args_format, ap);
  va_end(ap);
  char command[4096];
  snprintf(command, sizeof command, "cd '%s' && '%s' make-cert %s >/dev/null", g_dir, emulator,
           args);
  if (system(command) != 0) fail_msg("make-cert failed: %s", command);
}

static char *read_text(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) fail_msg("cannot read %s", path);
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *text = calloc(1, (size_t)size + 1);
  if (fread(text, 1, (size_t)size, f) != (size_t)size) fail_msg("short read of %s", path);
  fclose(f);
  return text;
}

static void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "wb");
  if (!f) fail_msg("cannot write %s", path);
  fputs(text, f);
  fclose(f);
}

/* SHA-256 of the DER of the first certificate in a PEM file, as hex. */
static void thumbprint(const char *pem_path, char out[65]) {
  FILE *f = fopen(pem_path, "rb");
  X509 *cert = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
  if (f) fclose(f);
  if (!cert) fail_msg("cannot parse %s", pem_path);
  unsigned char *der = NULL;
  int len = i2d_X509(cert, &der);
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(der, (size_t)len, digest);
  for (int i = 0; i < SHA256_DIGEST_LENGTH; ++i) sprintf(out + 2 * i, "%02x", digest[i]);
  OPENSSL_free(der);
  X509_free(cert);
}

/* The emulator's own `make-cert thumbprint` of a certificate file (hex, as it prints it). */
static void emulator_thumbprint(const char *pem_path, char out[65]) {
  const char *emulator = getenv("PROV_TEST_EMULATOR");
  if (!emulator) fail_msg("PROV_TEST_EMULATOR is not set");
  char command[2048];
  snprintf(command, sizeof command, "'%s' make-cert thumbprint --cert '%s'", emulator, pem_path);
  FILE *p = popen(command, "r");
  if (!p) fail_msg("cannot run %s", command);
  char line[256] = "";
  if (!fgets(line, sizeof line, p)) line[0] = '\0';
  int rc = pclose(p);
  line[strcspn(line, "\r\n")] = '\0';
  if (rc != 0 || strlen(line) != 64) fail_msg("%s printed \"%s\"", command, line);
  memcpy(out, line, 65);
}

static void assert_contains_ignoring_case(const char *text, const char *part) {
  if (!text || !strcasestr(text, part))
    fail_msg("\"%s\" does not contain \"%s\" (ignoring case)", text ? text : "(null)", part);
}

/* The credentials every case uses, and the emulator configured for them:
 *   root CA -> intermediate CA; another root CA nobody enrolled;
 *   dev-thumb      self-signed, individual enrollment by thumbprint
 *   dev-ca         signed by root, individual enrollment on the root CA
 *   group-x509     group enrollment on the root CA: devices signed by root
 *                  directly or through the intermediate (chain in the file)
 *   group-sym      symmetric-key group
 *   dev-csr        symmetric-key individual enrollment, for issuance */
static int setup(void **state) {
  (void)state;
  snprintf(g_dir, sizeof g_dir, "/tmp/prov-x509-XXXXXX");
  if (!mkdtemp(g_dir)) return -1;
  make_cert("ca --cn 'libprov test root' --out-cert root.pem --out-key root.key");
  make_cert(
      "ca --cn 'libprov test intermediate' --issuer-cert root.pem --issuer-key root.key "
      "--out-cert int.pem --out-key int.key");
  make_cert("ca --cn 'unenrolled root' --out-cert other.pem --out-key other.key");
  make_cert("device --cn dev-thumb --out-cert thumb.pem --out-key thumb.key");
  make_cert("device --cn dev-thumb --out-cert thumb-other.pem --out-key thumb-other.key");
  make_cert(
      "device --cn dev-ca --issuer-cert root.pem --issuer-key root.key --out-cert ca.pem "
      "--out-key ca.key");
  make_cert(
      "device --cn dev-grp-root --issuer-cert root.pem --issuer-key root.key --key-type rsa "
      "--out-cert grp-root.pem --out-key grp-root.key");
  make_cert(
      "device --cn dev-grp-int --issuer-cert int.pem --issuer-key int.key --chain "
      "--out-cert grp-int.pem --out-key grp-int.key");
  make_cert(
      "device --cn dev-no-int --issuer-cert int.pem --issuer-key int.key "
      "--out-cert no-int.pem --out-key no-int.key");
  make_cert("device --cn dev-enc --issuer-cert root.pem --issuer-key root.key --pass-phrase '" PASS
            "' --out-cert enc.pem --out-key enc.key");
  make_cert(
      "device --cn dev-expired --issuer-cert root.pem --issuer-key root.key --expired "
      "--out-cert expired.pem --out-key expired.key");
  make_cert(
      "device --cn dev-ca --issuer-cert other.pem --issuer-key other.key "
      "--out-cert foreign.pem --out-key foreign.key");

  char thumb[65];
  thumbprint(path_of("thumb.pem"), thumb);
  snprintf(g_config, sizeof g_config,
           "{\"idScope\": \"" SCOPE
           "\", \"iotHubs\": [\"hub-1.example.net\"],\n"
           " \"enrollments\": [\n"
           "  {\"registrationId\": \"dev-thumb\", \"attestation\": {\"type\": \"x509\", "
           "\"thumbprint\": \"%s\"}},\n"
           "  {\"registrationId\": \"dev-ca\", \"attestation\": {\"type\": \"x509\", "
           "\"caCertificates\": [\"%s\"]}},\n"
           "  {\"registrationId\": \"dev-csr\", \"attestation\": {\"type\": \"symmetricKey\", "
           "\"primaryKey\": \"" CSR_KEY
           "\"}}\n"
           " ],\n"
           " \"enrollmentGroups\": [\n"
           "  {\"enrollmentGroupId\": \"group-x509\", \"attestation\": {\"type\": \"x509\", "
           "\"caCertificates\": [\"%s\"]}},\n"
           "  {\"enrollmentGroupId\": \"group-sym\", \"attestation\": {\"type\": "
           "\"symmetricKey\", \"primaryKey\": \"" GROUP_KEY "\"}}\n ]}\n",
           thumb, path_of("root.pem"), path_of("root.pem"));
  g_emu = emu_start(g_config);
  return g_emu ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  emu_stop(g_emu);
  g_emu = NULL;
  char command[512];
  snprintf(command, sizeof command, "rm -rf '%s'", g_dir);
  if (system(command) != 0) return -1;
  return 0;
}

/* "localhost:<port>" of the emulator's listener for g_transport. */
static const char *emu_host(void) {
  static char host[64];
  if (g_transport == PROV_TRANSPORT_MQTT) return emu_mqtt_host(g_emu);
  snprintf(host, sizeof host, "localhost:%d", emu_https_port(g_emu));
  return host;
}

static void prepare(prov_client *client) {
  assert_int_equal(prov_client_set_server_verification_cert(client, emu_ca_pem(g_emu)), PROV_OK);
  /* Scaled by PROV_TEST_TIME_SCALE (e.g. 8 under valgrind, where RSA key
   * generation and each TLS handshake take seconds). */
  uint32_t timeout_ms = (uint32_t)(test_scaled(20.0) * 1000);
  assert_int_equal(prov_client_set_register_timeout(client, timeout_ms), PROV_OK);
  assert_int_equal(prov_client_set_transport(client, g_transport), PROV_OK);
}

static prov_client *x509_client(const char *registration_id, const char *cert, const char *key,
                                const char *pass) {
  prov_client *client = NULL;
  int rc = prov_client_create_x509(&client, emu_host(), registration_id, SCOPE, path_of(cert),
                                   path_of(key), pass);
  if (rc != PROV_OK) {
    fail_msg("create_x509 %s: %s: %s", registration_id, prov_status_str(rc),
             prov_last_error_message());
  }
  prepare(client);
  return client;
}

static prov_result *register_expect(prov_client *client, int expected) {
  prov_result *result = NULL;
  int rc = prov_client_register(client, &result);
  if (rc != expected) {
    emu_dump_log(g_emu);
    fail_msg("register returned %s (%s), expected %s", prov_status_str(rc),
             prov_last_error_message(), prov_status_str(expected));
  }
  return result;
}

static void assert_assigned(const prov_result *result, const char *device_id) {
  assert_non_null(result);
  assert_string_equal(prov_result_status(result), "assigned");
  assert_string_equal(prov_result_device_id(result), device_id);
  assert_string_equal(prov_result_assigned_hub(result), "hub-1.example.net");
}

/* Registers and expects "assigned"; checks the group id (NULL = individual). */
static void register_assigned(prov_client *client, const char *id, const char *group) {
  prov_result *result = register_expect(client, PROV_OK);
  assert_assigned(result, id);
  if (group) {
    assert_string_equal(prov_result_enrollment_group_id(result), group);
  } else {
    assert_null(prov_result_enrollment_group_id(result));
  }
  /* No CSR was sent: nothing issued. */
  assert_null(prov_result_issued_certificate_chain_pem(result));
  assert_int_equal(prov_result_issued_certificate_count(result), 0);
  prov_result_free(result);
}

/* Expects prov_client_create_x509 (files) to fail with status and a message
 * containing each of the given parts (NULL-terminated). */
static void expect_create_failure(const char *registration_id, const char *cert_path,
                                  const char *key_path, const char *pass, int status, ...) {
  prov_client *client = (prov_client *)&client; /* must be reset to NULL */
  int rc = prov_client_create_x509(&client, emu_host(), registration_id, SCOPE, cert_path, key_path,
                                   pass);
  if (rc != status) {
    fail_msg("create_x509 returned %s (%s), expected %s", prov_status_str(rc),
             prov_last_error_message(), prov_status_str(status));
  }
  assert_null(client);
  const char *message = prov_last_error_message();
  va_list ap;
  va_start(ap, status);
  for (const char *part = va_arg(ap, const char *); part; part = va_arg(ap, const char *)) {
    test_assert_contains(message, part);
  }
  va_end(ap);
  /* The pass phrase never appears in a message. */
  if (pass && *pass) assert_null(strstr(message, pass));
}

/* ---- X.509 attestation ---------------------------------------------------- */

static void individual_thumbprint(void **state) {
  (void)state;
  prov_client *client = x509_client("dev-thumb", "thumb.pem", "thumb.key", NULL);
  /* No SAS token for X.509 clients: the option is refused, as in Python. */
  assert_int_equal(prov_client_set_sastoken_ttl(client, 600), PROV_E_INVALID_ARG);
  test_assert_contains(prov_last_error_message(), "X.509");
  prov_result *result = register_expect(client, PROV_OK);
  assert_assigned(result, "dev-thumb");
  assert_non_null(prov_result_x509_json(result));
  assert_null(prov_result_enrollment_group_id(result));
  /* registrationState.x509.certificateInfo describes the leaf the device presented. */
  const char *info = prov_result_x509_certificate_info_json(result);
  assert_non_null(info);
  test_assert_contains(info, "\"subjectName\":\"CN=dev-thumb\"");
  char thumb[65];
  emulator_thumbprint(path_of("thumb.pem"), thumb);
  char expected[96];
  snprintf(expected, sizeof expected, "\"sha256Thumbprint\":\"%s\"", thumb);
  assert_contains_ignoring_case(info, expected);
  prov_result_free(result);
  prov_client_free(client);
}

static void individual_ca_signed(void **state) {
  (void)state;
  prov_client *client = x509_client("dev-ca", "ca.pem", "ca.key", NULL);
  register_assigned(client, "dev-ca", NULL);
  prov_client_free(client);
}

static void group_root_ca_rsa(void **state) {
  (void)state;
  prov_client *client = x509_client("dev-grp-root", "grp-root.pem", "grp-root.key", NULL);
  register_assigned(client, "dev-grp-root", "group-x509");
  prov_client_free(client);
}

/* The group is enrolled on the root; the device is signed by the
 * intermediate, which must travel in the TLS handshake. */
static void group_intermediate_chain(void **state) {
  (void)state;
  prov_client *client = x509_client("dev-grp-int", "grp-int.pem", "grp-int.key", NULL);
  register_assigned(client, "dev-grp-int", "group-x509");

  /* The X.509 details: the leaf (issued by the intermediate) and the group. */
  prov_result *result = register_expect(client, PROV_OK);
  const char *info = prov_result_x509_certificate_info_json(result);
  assert_non_null(info);
  test_assert_contains(info, "\"subjectName\":\"CN=dev-grp-int\"");
  test_assert_contains(info, "\"issuerName\":\"CN=libprov test intermediate,");
  char thumb[65];
  emulator_thumbprint(path_of("grp-int.pem"), thumb);
  char expected[96];
  snprintf(expected, sizeof expected, "\"sha256Thumbprint\":\"%s\"", thumb);
  assert_contains_ignoring_case(info, expected);
  test_assert_contains(prov_result_x509_json(result), "\"enrollmentGroupId\":\"group-x509\"");
  test_assert_contains(prov_result_x509_json(result), "\"signingCertificateInfo\"");
  prov_result_free(result);
  prov_client_free(client);
}

static void group_intermediate_from_pem_text(void **state) {
  (void)state;
  char *cert = read_text(path_of("grp-int.pem"));
  char *key = read_text(path_of("grp-int.key"));
  prov_client *client = NULL;
  int rc = prov_client_create_x509_pem(&client, emu_host(), "dev-grp-int", SCOPE, cert, key, NULL);
  if (rc != PROV_OK) fail_msg("create_x509_pem: %s", prov_last_error_message());
  prepare(client);
  register_assigned(client, "dev-grp-int", "group-x509");
  prov_client_free(client);
  free(cert);
  free(key);
}

static void encrypted_key_pass_phrase(void **state) {
  (void)state;
  prov_client *client = x509_client("dev-enc", "enc.pem", "enc.key", PASS);
  register_assigned(client, "dev-enc", "group-x509");
  prov_client_free(client);

  /* The same from PEM text. */
  char *cert = read_text(path_of("enc.pem"));
  char *key = read_text(path_of("enc.key"));
  test_assert_contains(key, "ENCRYPTED");
  client = NULL;
  assert_int_equal(
      prov_client_create_x509_pem(&client, emu_host(), "dev-enc", SCOPE, cert, key, PASS), PROV_OK);
  prepare(client);
  register_assigned(client, "dev-enc", "group-x509");
  prov_client_free(client);
  free(cert);
  free(key);
}

/* Many X.509 and CSR clients at once, each with its own identity, from
 * their own threads: no process-wide credential state (unlike the C SDK). */
struct concurrent_job {
  const char *id, *cert, *key, *pass;
  int csr;
  int status;
  char group[64];
  size_t issued;
  char message[512]; /* prov_last_error_message() of the failing call (thread-local) */
};

static void *run_job(void *arg) {
  struct concurrent_job *job = arg;
  prov_client *client = NULL;
  /* Paths in this thread's own buffers: path_of()'s shared ring is not for threads. */
  char cert_path[512], key_path[512];
  snprintf(cert_path, sizeof cert_path, "%s/%s", g_dir, job->cert);
  snprintf(key_path, sizeof key_path, "%s/%s", g_dir, job->key);
  job->status =
      prov_client_create_x509(&client, emu_host(), job->id, SCOPE, cert_path, key_path, job->pass);
  if (job->status != PROV_OK) {
    snprintf(job->message, sizeof job->message, "%s", prov_last_error_message());
    return NULL;
  }
  prov_client_set_server_verification_cert(client, emu_ca_pem(g_emu));
  prov_client_set_transport(client, g_transport);
  if (job->csr) prov_client_set_csr_auto(client, PROV_KEY_EC_P256);
  prov_result *result = NULL;
  job->status = prov_client_register(client, &result);
  if (job->status != PROV_OK) {
    snprintf(job->message, sizeof job->message, "%s", prov_last_error_message());
  }
  const char *group = prov_result_enrollment_group_id(result);
  snprintf(job->group, sizeof job->group, "%s", group ? group : "");
  job->issued = prov_result_issued_certificate_count(result);
  prov_result_free(result);
  prov_client_free(client);
  return NULL;
}

static void concurrent_x509_clients(void **state) {
  (void)state;
  struct concurrent_job jobs[12];
  pthread_t threads[12];
  static const struct concurrent_job kinds[4] = {
      {.id = "dev-grp-int", .cert = "grp-int.pem", .key = "grp-int.key"},
      {.id = "dev-enc", .cert = "enc.pem", .key = "enc.key", .pass = PASS, .csr = 1},
      {.id = "dev-thumb", .cert = "thumb.pem", .key = "thumb.key", .csr = 1},
      {.id = "dev-grp-root", .cert = "grp-root.pem", .key = "grp-root.key"},
  };
  for (int i = 0; i < 12; ++i) {
    jobs[i] = kinds[i % 4];
    assert_int_equal(pthread_create(&threads[i], NULL, run_job, &jobs[i]), 0);
  }
  for (int i = 0; i < 12; ++i) pthread_join(threads[i], NULL);
  for (int i = 0; i < 12; ++i) {
    if (jobs[i].status != PROV_OK) {
      fail_msg("%s (job %d): %s: %s", jobs[i].id, i, prov_status_str(jobs[i].status),
               jobs[i].message);
    }
    assert_string_equal(jobs[i].group, i % 4 == 2 ? "" : "group-x509");
    assert_int_equal(jobs[i].issued, jobs[i].csr ? 3 : 0);
  }
}

/* ---- local checks (before connecting) -------------------------------------- */

static void wrong_pass_phrase(void **state) {
  (void)state;
  expect_create_failure("dev-enc", path_of("enc.pem"), path_of("enc.key"), "not the phrase",
                        PROV_E_CERTIFICATE, "enc.key", "pass phrase is wrong", NULL);
  expect_create_failure("dev-enc", path_of("enc.pem"), path_of("enc.key"), NULL, PROV_E_CERTIFICATE,
                        "enc.key", "encrypted", "no pass phrase", NULL);

  /* The same key in legacy PEM encryption ("Proc-Type: 4,ENCRYPTED", no
   * integrity check): the right phrase works, a wrong one is named. */
  FILE *in = fopen(path_of("enc.key"), "rb");
  assert_non_null(in);
  EVP_PKEY *key = PEM_read_PrivateKey(in, NULL, NULL, (void *)PASS);
  fclose(in);
  assert_non_null(key);
  BIO *out = BIO_new_file(path_of("legacy.key"), "wb");
  assert_non_null(out);
  assert_int_equal(PEM_write_bio_PrivateKey_traditional(out, key, EVP_aes_256_cbc(), NULL, 0, NULL,
                                                        (void *)PASS),
                   1);
  BIO_free(out);
  EVP_PKEY_free(key);
  char *legacy = read_text(path_of("legacy.key"));
  test_assert_contains(legacy, "Proc-Type: 4,ENCRYPTED");
  free(legacy);
  prov_client *client = x509_client("dev-enc", "enc.pem", "legacy.key", PASS);
  prov_client_free(client);
  expect_create_failure("dev-enc", path_of("enc.pem"), path_of("legacy.key"), "not the phrase",
                        PROV_E_CERTIFICATE, "legacy.key", "pass phrase is wrong", NULL);
}

static void key_not_matching(void **state) {
  (void)state;
  expect_create_failure("dev-ca", path_of("ca.pem"), path_of("thumb.key"), NULL, PROV_E_CERTIFICATE,
                        "thumb.key", "does not match", "CN=dev-ca", "ca.pem", NULL);
}

static void expired_certificate(void **state) {
  (void)state;
  expect_create_failure("dev-expired", path_of("expired.pem"), path_of("expired.key"), NULL,
                        PROV_E_CERTIFICATE, "expired.pem", "CN=dev-expired", "has expired",
                        "notAfter", NULL);
}

static void cn_not_registration_id(void **state) {
  (void)state;
  expect_create_failure("dev-other", path_of("ca.pem"), path_of("ca.key"), NULL, PROV_E_CERTIFICATE,
                        "ca.pem", "CN \"dev-ca\"", "registration id is \"dev-other\"", NULL);
}

static void unreadable_file(void **state) {
  (void)state;
  expect_create_failure("dev-ca", path_of("missing.pem"), path_of("ca.key"), NULL,
                        PROV_E_CERTIFICATE, "certificate file", "missing.pem", "cannot be read",
                        NULL);
  expect_create_failure("dev-ca", path_of("ca.pem"), g_dir, NULL, PROV_E_CERTIFICATE, "key file",
                        g_dir, NULL);
  /* A file that is not PEM at all. */
  write_text(path_of("garbage.pem"), "this is not a certificate\n");
  expect_create_failure("dev-ca", path_of("garbage.pem"), path_of("ca.key"), NULL,
                        PROV_E_CERTIFICATE, "garbage.pem", "BEGIN CERTIFICATE", NULL);
  /* NULL arguments are argument errors, not certificate errors. */
  expect_create_failure("dev-ca", NULL, path_of("ca.key"), NULL, PROV_E_INVALID_ARG, "cert_file",
                        NULL);
}

static void chain_out_of_order(void **state) {
  (void)state;
  /* intermediate first, then the device certificate */
  char *leaf = read_text(path_of("no-int.pem"));
  char *intermediate = read_text(path_of("int.pem"));
  char both[16384];
  snprintf(both, sizeof both, "%s%s", intermediate, leaf);
  write_text(path_of("reversed.pem"), both);
  expect_create_failure("dev-no-int", path_of("reversed.pem"), path_of("no-int.key"), NULL,
                        PROV_E_CERTIFICATE, "reversed.pem", "not in order", NULL);
  /* device certificate followed by a CA that did not sign it */
  char *other = read_text(path_of("other.pem"));
  snprintf(both, sizeof both, "%s%s", leaf, other);
  write_text(path_of("wrong-issuer.pem"), both);
  expect_create_failure("dev-no-int", path_of("wrong-issuer.pem"), path_of("no-int.key"), NULL,
                        PROV_E_CERTIFICATE, "wrong-issuer.pem", "libprov test intermediate", NULL);
  free(leaf);
  free(intermediate);
  free(other);
}

/* ---- service rejections ---------------------------------------------------- */

static void missing_intermediate(void **state) {
  (void)state;
  prov_client *client = x509_client("dev-no-int", "no-int.pem", "no-int.key", NULL);
  prov_result *result = register_expect(client, PROV_E_CREDENTIAL);
  const char *message = prov_last_error_message();
  test_assert_contains(message, "401002");
  test_assert_contains(message, "libprov test intermediate"); /* the issuer that was not sent */
  test_assert_contains(message, "intermediate");
  test_assert_contains(message, "no-int.pem");
  assert_non_null(result);
  assert_int_equal(prov_result_error_code(result), 401002);
  assert_int_equal(prov_result_http_status(result), 401);
  prov_result_free(result);
  prov_client_free(client);
}

static void certificate_of_another_enrollment(void **state) {
  (void)state;
  /* CN dev-thumb, but not the enrolled certificate (other thumbprint). */
  prov_client *client = x509_client("dev-thumb", "thumb-other.pem", "thumb-other.key", NULL);
  prov_result *result = register_expect(client, PROV_E_CREDENTIAL);
  test_assert_contains(prov_last_error_message(), "401002");
  test_assert_contains(prov_last_error_message(), "thumb-other.pem");
  test_assert_contains(prov_last_error_message(), "check that an enrollment");
  assert_int_equal(prov_result_error_code(result), 401002);
  prov_result_free(result);
  prov_client_free(client);
  /* CN dev-ca, signed by a root that dev-ca's enrollment does not name. */
  client = x509_client("dev-ca", "foreign.pem", "foreign.key", NULL);
  result = register_expect(client, PROV_E_CREDENTIAL);
  test_assert_contains(prov_last_error_message(), "unenrolled root");
  assert_int_equal(prov_result_error_code(result), 401002);
  prov_result_free(result);
  prov_client_free(client);
}

/* ---- symmetric-key group ----------------------------------------------------- */

static void symkey_group_derived(void **state) {
  (void)state;
  const char *ids[] = {"sensor-001", "sensor-002"};
  for (int i = 0; i < 2; ++i) {
    prov_client *client = NULL;
    assert_int_equal(prov_client_create_symkey_group(&client, emu_host(), ids[i], SCOPE, GROUP_KEY),
                     PROV_OK);
    prepare(client);
    register_assigned(client, ids[i], "group-sym");
    prov_client_free(client);
  }
  /* The group key itself is not a device key. */
  prov_client *client = NULL;
  assert_int_equal(prov_client_create_symkey(&client, emu_host(), "sensor-003", SCOPE, GROUP_KEY),
                   PROV_OK);
  prepare(client);
  prov_result *result = register_expect(client, PROV_E_CREDENTIAL);
  prov_result_free(result);
  prov_client_free(client);
  /* Bad group key: argument error naming it. */
  client = (prov_client *)&client;
  assert_int_equal(
      prov_client_create_symkey_group(&client, emu_host(), "sensor-004", SCOPE, "not base64!"),
      PROV_E_INVALID_ARG);
  assert_null(client);
  test_assert_contains(prov_last_error_message(), "group_key");
}

/* ---- certificate issuance ------------------------------------------------------ */

static X509 *der_to_x509(const uint8_t *der, size_t len) {
  const unsigned char *p = der;
  X509 *cert = d2i_X509(NULL, &p, (long)len);
  if (!cert) fail_msg("issued certificate does not parse as DER");
  return cert;
}

static void assert_cn(X509 *cert, const char *expected) {
  char cn[256] = {0};
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn);
  assert_string_equal(cn, expected);
}

/* Verifies the issued chain (DER getters) up to the emulator's root CA, and
 * that the PEM getter holds the same certificates in the same order. */
static X509 *verify_issued_chain(const prov_result *result) {
  size_t count = prov_result_issued_certificate_count(result);
  assert_true(count >= 1);
  X509_STORE *store = X509_STORE_new();
  BIO *root_bio = BIO_new_mem_buf(emu_ca_pem(g_emu), -1);
  X509 *root = PEM_read_bio_X509(root_bio, NULL, NULL, NULL);
  assert_non_null(root);
  X509_STORE_add_cert(store, root);
  STACK_OF(X509) *untrusted = sk_X509_new_null();
  size_t len = 0;
  const uint8_t *leaf_der = prov_result_issued_certificate_der(result, 0, &len);
  X509 *leaf = der_to_x509(leaf_der, len);
  for (size_t i = 1; i < count; ++i) {
    const uint8_t *der = prov_result_issued_certificate_der(result, i, &len);
    sk_X509_push(untrusted, der_to_x509(der, len));
  }
  assert_null(prov_result_issued_certificate_der(result, count, &len));
  assert_int_equal(len, 0);

  if (count == 1) {
    /* The 2021 form returns the leaf alone: its issuer is the emulator's
     * issuing CA, read from its data directory. */
    char issuing_path[1024];
    snprintf(issuing_path, sizeof issuing_path, "%s/pki/issuing-ca.pem", emu_data_dir(g_emu));
    FILE *f = fopen(issuing_path, "rb");
    X509 *issuing = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
    if (f) fclose(f);
    if (!issuing) fail_msg("cannot read the emulator's issuing CA %s", issuing_path);
    sk_X509_push(untrusted, issuing);
  }
  X509_STORE_CTX *ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, leaf, untrusted);
  if (X509_verify_cert(ctx) != 1) {
    fail_msg("issued chain does not verify to the emulator root: %s",
             X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
  }
  X509_STORE_CTX_free(ctx);

  /* PEM text: same number of blocks, leaf first. */
  const char *pem = prov_result_issued_certificate_chain_pem(result);
  assert_non_null(pem);
  size_t blocks = 0;
  for (const char *at = pem; (at = strstr(at, "-----BEGIN CERTIFICATE-----")); ++at) ++blocks;
  assert_int_equal(blocks, count);
  BIO *pem_bio = BIO_new_mem_buf(pem, -1);
  X509 *first = PEM_read_bio_X509(pem_bio, NULL, NULL, NULL);
  assert_non_null(first);
  assert_int_equal(X509_cmp(first, leaf), 0);
  X509_free(first);
  BIO_free(pem_bio);

  sk_X509_pop_free(untrusted, X509_free);
  X509_free(root);
  BIO_free(root_bio);
  X509_STORE_free(store);
  return leaf;
}

static EVP_PKEY *read_private_key(const char *pem) {
  BIO *bio = BIO_new_mem_buf(pem, -1);
  EVP_PKEY *key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
  BIO_free(bio);
  if (!key) fail_msg("generated private key does not parse");
  return key;
}

static prov_client *csr_client(void) {
  prov_client *client = NULL;
  assert_int_equal(prov_client_create_symkey(&client, emu_host(), "dev-csr", SCOPE, CSR_KEY),
                   PROV_OK);
  prepare(client);
  return client;
}

static void issue_auto(int key_type, int api) {
  prov_client *client = csr_client();
  assert_int_equal(prov_client_set_csr_auto(client, key_type), PROV_OK);
  if (api) assert_int_equal(prov_client_set_csr_api(client, api), PROV_OK);
  prov_result *result = register_expect(client, PROV_OK);
  assert_assigned(result, "dev-csr");
  X509 *leaf = verify_issued_chain(result);
  assert_cn(leaf, "dev-csr");
  const char *key_pem = prov_result_generated_private_key_pem(result);
  assert_non_null(key_pem);
  EVP_PKEY *key = read_private_key(key_pem);
  assert_int_equal(EVP_PKEY_base_id(key),
                   key_type == PROV_KEY_RSA_2048 ? EVP_PKEY_RSA : EVP_PKEY_EC);
  if (key_type == PROV_KEY_RSA_2048) assert_int_equal(EVP_PKEY_get_bits(key), 2048);
  /* The issued certificate certifies the generated key. */
  assert_int_equal(X509_check_private_key(leaf, key), 1);
  if (api == PROV_CSR_API_2021_11_01_PREVIEW) {
    const char *bundle = prov_result_trust_bundle_pem(result);
    assert_non_null(bundle);
    test_assert_contains(bundle, "-----BEGIN CERTIFICATE-----");
  } else {
    assert_int_equal(prov_result_issued_certificate_count(result), 3); /* leaf, issuing CA, root */
    assert_null(prov_result_trust_bundle_pem(result));
  }
  EVP_PKEY_free(key);
  X509_free(leaf);

  /* The issued certificate and key work as an X.509 credential for libprov
   * (parsed and checked by the library itself). */
  prov_client *reuse = NULL;
  int rc =
      prov_client_create_x509_pem(&reuse, emu_host(), "dev-csr", SCOPE,
                                  prov_result_issued_certificate_chain_pem(result), key_pem, NULL);
  if (rc != PROV_OK) fail_msg("issued credential rejected: %s", prov_last_error_message());
  prov_client_free(reuse);
  prov_result_free(result);
  prov_client_free(client);
}

static void issue_2025_ec(void **state) {
  (void)state;
  issue_auto(PROV_KEY_EC_P256, 0); /* default api */
}

static void issue_2025_rsa(void **state) {
  (void)state;
  issue_auto(PROV_KEY_RSA_2048, PROV_CSR_API_2025_07_01_PREVIEW);
}

static void issue_2021_ec(void **state) {
  (void)state;
  issue_auto(PROV_KEY_EC_P256, PROV_CSR_API_2021_11_01_PREVIEW);
}

/* A CSR made by the caller (here with OpenSSL): DER and PEM, both APIs. */
static X509_REQ *make_request(const char *cn, EVP_PKEY **out_key) {
  EVP_PKEY *key = EVP_EC_gen("P-256");
  assert_non_null(key);
  X509_REQ *req = X509_REQ_new();
  X509_NAME *name = X509_NAME_new();
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
  X509_REQ_set_subject_name(req, name);
  X509_NAME_free(name);
  X509_REQ_set_pubkey(req, key);
  assert_true(X509_REQ_sign(req, key, EVP_sha256()) > 0);
  *out_key = key;
  return req;
}

static void issue_caller_csr(void **state) {
  (void)state;
  EVP_PKEY *key = NULL;
  X509_REQ *req = make_request("dev-csr", &key);
  for (int api = PROV_CSR_API_2025_07_01_PREVIEW; api <= PROV_CSR_API_2021_11_01_PREVIEW; ++api) {
    prov_client *client = csr_client();
    if (api == PROV_CSR_API_2025_07_01_PREVIEW) {
      unsigned char *der = NULL;
      int len = i2d_X509_REQ(req, &der);
      assert_int_equal(prov_client_set_csr_der(client, der, (size_t)len), PROV_OK);
      OPENSSL_free(der);
    } else {
      BIO *bio = BIO_new(BIO_s_mem());
      PEM_write_bio_X509_REQ(bio, req);
      char *pem = NULL;
      long n = BIO_get_mem_data(bio, &pem);
      char *text = strndup(pem, (size_t)n);
      assert_int_equal(prov_client_set_csr_pem(client, text), PROV_OK);
      free(text);
      BIO_free(bio);
    }
    assert_int_equal(prov_client_set_csr_api(client, api), PROV_OK);
    prov_result *result = register_expect(client, PROV_OK);
    X509 *leaf = verify_issued_chain(result);
    assert_cn(leaf, "dev-csr");
    /* The certificate is for the CSR's key; no key was generated. */
    assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(leaf), key), 1);
    assert_null(prov_result_generated_private_key_pem(result));
    X509_free(leaf);
    prov_result_free(result);
    prov_client_free(client);
  }
  X509_REQ_free(req);
  EVP_PKEY_free(key);
}

/* CSR issuance for an X.509-attested device (TLS client certificate + CSR). */
static void issue_with_x509_attestation(void **state) {
  (void)state;
  prov_client *client = x509_client("dev-grp-int", "grp-int.pem", "grp-int.key", NULL);
  assert_int_equal(prov_client_set_csr_auto(client, PROV_KEY_EC_P256), PROV_OK);
  prov_result *result = register_expect(client, PROV_OK);
  assert_string_equal(prov_result_enrollment_group_id(result), "group-x509");
  X509 *leaf = verify_issued_chain(result);
  assert_cn(leaf, "dev-grp-int");
  X509_free(leaf);
  prov_result_free(result);
  prov_client_free(client);
}

static void csr_wrong_cn(void **state) {
  (void)state;
  EVP_PKEY *key = NULL;
  X509_REQ *req = make_request("someone-else", &key);
  unsigned char *der = NULL;
  int len = i2d_X509_REQ(req, &der);
  prov_client *client = csr_client();
  assert_int_equal(prov_client_set_csr_der(client, der, (size_t)len), PROV_OK);
  prov_result *result = NULL;
  int rc = prov_client_register(client, &result);
  assert_int_equal(rc, PROV_E_CERTIFICATE);
  assert_null(result); /* refused before connecting */
  test_assert_contains(prov_last_error_message(), "CN \"someone-else\"");
  test_assert_contains(prov_last_error_message(), "registration id is \"dev-csr\"");

  /* Junk is refused when set, naming the argument. */
  const uint8_t junk[] = {0x30, 0x03, 0x02, 0x01, 0x00};
  assert_int_equal(prov_client_set_csr_der(client, junk, sizeof junk), PROV_E_CERTIFICATE);
  test_assert_contains(prov_last_error_message(), "csr");
  assert_int_equal(prov_client_set_csr_pem(client, "no pem here"), PROV_E_CERTIFICATE);
  test_assert_contains(prov_last_error_message(), "BEGIN CERTIFICATE REQUEST");
  assert_int_equal(prov_client_set_csr_auto(client, 99), PROV_E_INVALID_ARG);
  assert_int_equal(prov_client_set_csr_api(client, 0), PROV_E_INVALID_ARG);
  /* The CN is compared ignoring case, as the service compares registration ids. */
  EVP_PKEY *upper_key = NULL;
  X509_REQ *upper = make_request("DEV-CSR", &upper_key);
  unsigned char *upper_der = NULL;
  int upper_len = i2d_X509_REQ(upper, &upper_der);
  assert_int_equal(prov_client_set_csr_der(client, upper_der, (size_t)upper_len), PROV_OK);
  result = register_expect(client, PROV_OK);
  X509 *leaf = verify_issued_chain(result);
  assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(leaf), upper_key), 1);
  X509_free(leaf);
  prov_result_free(result);
  OPENSSL_free(upper_der);
  X509_REQ_free(upper);
  EVP_PKEY_free(upper_key);

  /* Clearing the CSR: the registration goes through without issuance. */
  assert_int_equal(prov_client_set_csr_pem(client, NULL), PROV_OK);
  result = register_expect(client, PROV_OK);
  assert_int_equal(prov_result_issued_certificate_count(result), 0);
  prov_result_free(result);
  prov_client_free(client);
  OPENSSL_free(der);
  X509_REQ_free(req);
  EVP_PKEY_free(key);
}

/* ---- main ------------------------------------------------------------------------- */

#define CASE(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(int argc, char **argv) {
  const struct CMUnitTest all[] = {
      CASE(individual_thumbprint),
      CASE(individual_ca_signed),
      CASE(group_root_ca_rsa),
      CASE(group_intermediate_chain),
      CASE(group_intermediate_from_pem_text),
      CASE(encrypted_key_pass_phrase),
      CASE(concurrent_x509_clients),
      CASE(wrong_pass_phrase),
      CASE(key_not_matching),
      CASE(expired_certificate),
      CASE(cn_not_registration_id),
      CASE(unreadable_file),
      CASE(chain_out_of_order),
      CASE(missing_intermediate),
      CASE(certificate_of_another_enrollment),
      CASE(symkey_group_derived),
      CASE(issue_2025_ec),
      CASE(issue_2025_rsa),
      CASE(issue_2021_ec),
      CASE(issue_caller_csr),
      CASE(issue_with_x509_attestation),
      CASE(csr_wrong_cn),
  };
  if (test_select_case(all, sizeof all / sizeof all[0], argc > 1 ? argv[1] : NULL) != 0) return 2;
  if (argc > 2) {
    if (strcmp(argv[2], "mqtt-ws") == 0) {
      g_transport = PROV_TRANSPORT_MQTT_WS;
    } else if (strcmp(argv[2], "https") == 0) {
      g_transport = PROV_TRANSPORT_HTTPS;
    } else if (strcmp(argv[2], "mqtt") != 0) {
      fprintf(stderr, "unknown transport %s (mqtt, mqtt-ws, https)\n", argv[2]);
      return 2;
    }
  }
  return cmocka_run_group_tests(all, NULL, NULL);
}
