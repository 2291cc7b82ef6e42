/*
 * register_device.c — a program that uses libprov the way a user does: it
 * includes only <prov/prov.h> and is built against an installed prefix, once
 * with `pkg-config --cflags --libs prov` and once with CMake's
 * find_package(prov) (tests/consumers/cmake_project).
 *
 *   register_device HOST[:PORT] ID_SCOPE REGISTRATION_ID CA_PEM_FILE
 *
 * The device key comes from the environment (PROV_CONSUMER_DEVICE_KEY) so it
 * never shows on a command line. On success it prints
 *   version=<library version> status=assigned device=<id> hub=<hub>
 * and exits 0; on failure it prints the status and message and exits 1.
 */
#include <prov/prov.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Reads a whole text file into a new NUL-terminated buffer, or NULL. */
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

int main(int argc, char **argv) {
  const char *device_key = getenv("PROV_CONSUMER_DEVICE_KEY");
  prov_client *client = NULL;
  prov_result *result = NULL;
  char *ca_pem;
  int rc;

  if (argc != 5 || device_key == NULL) {
    fprintf(stderr,
            "usage: %s HOST[:PORT] ID_SCOPE REGISTRATION_ID CA_PEM_FILE "
            "(device key in PROV_CONSUMER_DEVICE_KEY)\n",
            argv[0]);
    return 2;
  }
  if (prov_version_number() / 1000000u != PROV_VERSION_MAJOR) {
    fprintf(stderr, "library version %s does not match header major %d\n", prov_version_string(),
            PROV_VERSION_MAJOR);
    return 1;
  }
  ca_pem = read_text_file(argv[4]);
  if (ca_pem == NULL) {
    fprintf(stderr, "cannot read CA file %s\n", argv[4]);
    return 1;
  }

  rc = prov_client_create_symkey(&client, argv[1], argv[3], argv[2], device_key);
  if (rc == PROV_OK) rc = prov_client_set_server_verification_cert(client, ca_pem);
  if (rc == PROV_OK) rc = prov_client_register(client, &result);
  if (rc == PROV_OK) {
    printf("version=%s status=%s device=%s hub=%s\n", prov_version_string(),
           or_null(prov_result_status(result)), or_null(prov_result_device_id(result)),
           or_null(prov_result_assigned_hub(result)));
  } else {
    fprintf(stderr, "registration failed: %s: %s\n", prov_status_str(rc),
            prov_last_error_message());
    if (result != NULL) {
      fprintf(stderr, "service: status %s, error %d, http %d, message %s\n",
              or_null(prov_result_status(result)), (int)prov_result_error_code(result),
              (int)prov_result_http_status(result), or_null(prov_result_error_message(result)));
    }
  }
  prov_result_free(result);
  prov_client_free(client);
  free(ca_pem);
  return rc == PROV_OK ? 0 : 1;
}
