/*
 * dlopen_consumer.c — uses libprov the way a language runtime without a C
 * compiler does (ctypes, FFI, plugin hosts): no header, no link against
 * libprov; the library is loaded with dlopen() and every function found with
 * dlsym() by its exported name. Built with `cc dlopen_consumer.c -ldl` only.
 *
 *   dlopen_consumer LIBPROV_PATH load
 *       load the library, resolve every function it uses, print the version
 *   dlopen_consumer LIBPROV_PATH register HOST[:PORT] ID_SCOPE REGISTRATION_ID CA_PEM_FILE
 *       register a device over TLS (device key in PROV_CONSUMER_DEVICE_KEY);
 *       prints "version=... status=assigned device=... hub=..."
 *
 * The types below are written from the ABI (what abi/libprov.abi records),
 * not from prov.h: opaque handles are pointers, statuses are int, PROV_OK 0.
 */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct opaque_client opaque_client;
typedef struct opaque_result opaque_result;

struct libprov_api {
  const char *(*status_str)(int status);
  const char *(*last_error_message)(void);
  uint32_t (*version_number)(void);
  const char *(*version_string)(void);
  int (*client_create_symkey)(opaque_client **out, const char *host, const char *registration_id,
                              const char *id_scope, const char *key);
  int (*client_set_server_verification_cert)(opaque_client *client, const char *pem);
  int (*client_register)(opaque_client *client, opaque_result **out);
  void (*client_free)(opaque_client *client);
  const char *(*result_status)(const opaque_result *result);
  const char *(*result_device_id)(const opaque_result *result);
  const char *(*result_assigned_hub)(const opaque_result *result);
  int32_t (*result_error_code)(const opaque_result *result);
  void (*result_free)(opaque_result *result);
};

/* dlsym returns void *; converting it to a function pointer through memcpy
 * is the form ISO C accepts without a pedantic warning. */
static int resolve(void *library, const char *name, void *function_pointer_out,
                   size_t pointer_size) {
  void *symbol = dlsym(library, name);
  if (symbol == NULL) {
    fprintf(stderr, "dlsym(%s) failed: %s\n", name, dlerror());
    return -1;
  }
  memcpy(function_pointer_out, &symbol, pointer_size);
  return 0;
}

#define RESOLVE(field, name) (resolve(library, name, (void *)&api->field, sizeof api->field) == 0)

static int load_api(void *library, struct libprov_api *api) {
  return RESOLVE(status_str, "prov_status_str") &&
         RESOLVE(last_error_message, "prov_last_error_message") &&
         RESOLVE(version_number, "prov_version_number") &&
         RESOLVE(version_string, "prov_version_string") &&
         RESOLVE(client_create_symkey, "prov_client_create_symkey") &&
         RESOLVE(client_set_server_verification_cert, "prov_client_set_server_verification_cert") &&
         RESOLVE(client_register, "prov_client_register") &&
         RESOLVE(client_free, "prov_client_free") && RESOLVE(result_status, "prov_result_status") &&
         RESOLVE(result_device_id, "prov_result_device_id") &&
         RESOLVE(result_assigned_hub, "prov_result_assigned_hub") &&
         RESOLVE(result_error_code, "prov_result_error_code") &&
         RESOLVE(result_free, "prov_result_free");
}

static char *read_text_file(const char *path) {
  FILE *file = fopen(path, "rb");
  char *text = NULL;
  long size;
  if (file == NULL) return NULL;
  if (fseek(file, 0, SEEK_END) == 0 && (size = ftell(file)) >= 0 && fseek(file, 0, SEEK_SET) == 0) {
    text = (char *)malloc((size_t)size + 1);
    if (text != NULL && fread(text, 1, (size_t)size, file) == (size_t)size) {
      text[size] = '\0';
    } else {
      free(text);
      text = NULL;
    }
  }
  fclose(file);
  return text;
}

static const char *or_null(const char *s) {
  return s != NULL ? s : "(null)";
}

static int register_device(const struct libprov_api *api, char **argv) {
  const char *device_key = getenv("PROV_CONSUMER_DEVICE_KEY");
  opaque_client *client = NULL;
  opaque_result *result = NULL;
  char *ca_pem = read_text_file(argv[4]);
  int rc;
  if (device_key == NULL || ca_pem == NULL) {
    fprintf(stderr, "need PROV_CONSUMER_DEVICE_KEY and a readable CA file (%s)\n", argv[4]);
    free(ca_pem);
    return 1;
  }
  rc = api->client_create_symkey(&client, argv[1], argv[3], argv[2], device_key);
  if (rc == 0) rc = api->client_set_server_verification_cert(client, ca_pem);
  if (rc == 0) rc = api->client_register(client, &result);
  if (rc == 0) {
    printf("version=%s status=%s device=%s hub=%s\n", api->version_string(),
           or_null(api->result_status(result)), or_null(api->result_device_id(result)),
           or_null(api->result_assigned_hub(result)));
  } else {
    fprintf(stderr, "registration failed: %s: %s (service error %d)\n", api->status_str(rc),
            api->last_error_message(), result != NULL ? (int)api->result_error_code(result) : 0);
  }
  api->result_free(result);
  api->client_free(client);
  free(ca_pem);
  return rc == 0 ? 0 : 1;
}

int main(int argc, char **argv) {
  struct libprov_api api;
  void *library;
  int rc;
  if (argc < 3 || (strcmp(argv[2], "load") != 0 && strcmp(argv[2], "register") != 0) ||
      (strcmp(argv[2], "register") == 0 && argc != 7)) {
    fprintf(stderr,
            "usage: %s LIBPROV_PATH load | register HOST[:PORT] ID_SCOPE REGISTRATION_ID "
            "CA_PEM_FILE\n",
            argv[0]);
    return 2;
  }
  /* RTLD_LOCAL: libprov and its dependencies stay out of the global scope,
   * as when a language runtime loads it. */
  library = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (library == NULL) {
    fprintf(stderr, "dlopen(%s) failed: %s\n", argv[1], dlerror());
    return 1;
  }
  if (!load_api(library, &api)) {
    dlclose(library);
    return 1;
  }
  if (api.version_number() / 1000000u != 1u) {
    fprintf(stderr, "unexpected library version %s\n", api.version_string());
    dlclose(library);
    return 1;
  }
  if (strcmp(argv[2], "load") == 0) {
    printf("version=%s\n", api.version_string());
    rc = 0;
  } else {
    rc = register_device(&api, argv + 2);
  }
  dlclose(library);
  return rc;
}
