/*
 * firewall.c — no C++ exception crosses the C boundary (issue 4, "The header
 * stands alone"; docs/DESIGN.md C ABI rule 2).
 *
 * The library has no test-only switch to inject a throw, so this forces a
 * real internal failure through the public API: with the address space
 * limited (RLIMIT_AS) just above what the process uses, a 256 MiB trusted-CA
 * text is passed to prov_client_set_server_verification_cert, whose copy
 * cannot be allocated (std::bad_alloc inside the library), and then a
 * 256 MiB JSON string to prov_client_set_provisioning_payload, whose JSON
 * parser (cJSON) runs out of memory. Each call must return PROV_E_NOMEM with
 * a message, not abort or unwind into this C frame (which would terminate
 * the process: C has no handler), and the client must still work once
 * memory is available again.
 */
#define _GNU_SOURCE
#include <prov/prov.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#define HUGE_TEXT_BYTES (256u * 1024u * 1024u)
#define HEADROOM_BYTES (48u * 1024u * 1024u)

static const char *const kCertificate =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBszCCAVmgAwIBAgIUQ2VydGlmaWNhdGUgZm9yIGZpcmV3YWxsIHRlc3QwCgYI\n"
    "-----END CERTIFICATE-----\n";

static int failures = 0;

static void expect(int condition, const char *what) {
  if (!condition) {
    fprintf(stderr, "firewall: FAIL: %s\n", what);
    ++failures;
  } else {
    printf("firewall: ok: %s\n", what);
  }
}

/* Virtual memory size of this process in bytes, from /proc/self/status. */
static unsigned long long current_vm_bytes(void) {
  FILE *status = fopen("/proc/self/status", "r");
  char line[256];
  unsigned long long kib = 0;
  if (status == NULL) return 0;
  while (fgets(line, sizeof line, status) != NULL) {
    if (sscanf(line, "VmSize: %llu kB", &kib) == 1) break;
  }
  fclose(status);
  return kib * 1024u;
}

int main(void) {
  prov_client *client = NULL;
  struct rlimit original;
  struct rlimit limited;
  char *huge_text;
  size_t prefix_length;
  int rc;

  rc = prov_client_create_symkey(&client, "localhost:8883", "firewall-device", "0ne00000A0A",
                                 "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=");
  if (rc != PROV_OK) {
    fprintf(stderr, "firewall: cannot create a client: %s: %s\n", prov_status_str(rc),
            prov_last_error_message());
    return 1;
  }

  /* The huge argument is made before the limit, so only the library's copy
   * of it runs out of memory. It looks like PEM so it passes validation up
   * to the copy. */
  huge_text = malloc(HUGE_TEXT_BYTES);
  if (huge_text == NULL) {
    fprintf(stderr, "firewall: cannot allocate the test input\n");
    return 1;
  }
  prefix_length = strlen(kCertificate);
  memcpy(huge_text, kCertificate, prefix_length);
  memset(huge_text + prefix_length, 'A', HUGE_TEXT_BYTES - prefix_length - 1);
  huge_text[HUGE_TEXT_BYTES - 1] = '\0';

  if (getrlimit(RLIMIT_AS, &original) != 0) {
    perror("firewall: getrlimit");
    return 1;
  }
  limited = original;
  limited.rlim_cur = (rlim_t)(current_vm_bytes() + HEADROOM_BYTES);
  if (current_vm_bytes() == 0 || setrlimit(RLIMIT_AS, &limited) != 0) {
    perror("firewall: cannot limit the address space");
    return 1;
  }
  prov_last_error_clear();
  rc = prov_client_set_server_verification_cert(client, huge_text);
  /* Lift the limit before anything else can need memory. */
  if (setrlimit(RLIMIT_AS, &original) != 0) {
    perror("firewall: cannot restore the address space limit");
    return 1;
  }
  printf("firewall: set_server_verification_cert(256 MiB) under RLIMIT_AS -> %s (%s)\n",
         prov_status_str(rc), prov_last_error_message());
  expect(rc == PROV_E_NOMEM, "a failed allocation of a copy returns PROV_E_NOMEM");
  expect(strstr(prov_last_error_message(), "memory") != NULL,
         "the last error message says memory ran out");

  /* The same buffer as one valid JSON string: "aaaa...". */
  huge_text[0] = '"';
  memset(huge_text + 1, 'a', HUGE_TEXT_BYTES - 3);
  huge_text[HUGE_TEXT_BYTES - 2] = '"';
  huge_text[HUGE_TEXT_BYTES - 1] = '\0';
  limited.rlim_cur = (rlim_t)(current_vm_bytes() + HEADROOM_BYTES);
  if (setrlimit(RLIMIT_AS, &limited) != 0) {
    perror("firewall: cannot limit the address space");
    return 1;
  }
  prov_last_error_clear();
  rc = prov_client_set_provisioning_payload(client, huge_text);
  if (setrlimit(RLIMIT_AS, &original) != 0) {
    perror("firewall: cannot restore the address space limit");
    return 1;
  }
  printf("firewall: set_provisioning_payload(256 MiB JSON) under RLIMIT_AS -> %s (%s)\n",
         prov_status_str(rc), prov_last_error_message());
  expect(rc == PROV_E_NOMEM,
         "the JSON parser running out of memory returns PROV_E_NOMEM (not 'invalid JSON')");

  /* The client is still usable: the failed setter changed nothing. */
  rc = prov_client_set_server_verification_cert(client, kCertificate);
  expect(rc == PROV_OK, "the same client accepts the next call once memory is available");
  rc = prov_client_set_keep_alive(client, 0);
  expect(rc == PROV_E_INVALID_ARG, "and still validates arguments (keep-alive 0 rejected)");

  free(huge_text);
  prov_client_free(client);
  if (failures != 0) {
    fprintf(stderr, "firewall: %d check(s) failed\n", failures);
    return 1;
  }
  printf("firewall: all checks passed\n");
  return 0;
}
