/*
 * header_c.c — the public header stands alone in C: this file includes only
 * <prov/prov.h> and is compiled by tests/abi/header_standalone.sh as C89 (with
 * <stdint.h>) and as C99, with -Wall -Wextra -pedantic -Werror
 * -Wstrict-prototypes, then linked against libprov.so.1 and run.
 *
 * Taking the address of every function makes the link step prove that each
 * declaration names a function the library really exports with C linkage.
 */
#include <prov/prov.h>

typedef void (*prov_any_fn)(void);

static const prov_any_fn every_function[] = {
    (prov_any_fn)prov_status_str,
    (prov_any_fn)prov_last_error_message,
    (prov_any_fn)prov_last_error_clear,
    (prov_any_fn)prov_version_number,
    (prov_any_fn)prov_version_string,
    (prov_any_fn)prov_string_free,
    (prov_any_fn)prov_derive_device_key,
    (prov_any_fn)prov_generate_sas_token,
    (prov_any_fn)prov_client_create_symkey,
    (prov_any_fn)prov_client_free,
    (prov_any_fn)prov_client_set_server_verification_cert,
    (prov_any_fn)prov_client_set_gateway_hostname,
    (prov_any_fn)prov_client_set_cipher,
    (prov_any_fn)prov_client_set_keep_alive,
    (prov_any_fn)prov_client_set_sastoken_ttl,
    (prov_any_fn)prov_client_set_provisioning_payload,
    (prov_any_fn)prov_client_set_register_timeout,
    (prov_any_fn)prov_client_set_response_timeout,
    (prov_any_fn)prov_client_register,
    (prov_any_fn)prov_result_free,
    (prov_any_fn)prov_result_operation_id,
    (prov_any_fn)prov_result_status,
    (prov_any_fn)prov_result_registration_id,
    (prov_any_fn)prov_result_device_id,
    (prov_any_fn)prov_result_assigned_hub,
    (prov_any_fn)prov_result_substatus,
    (prov_any_fn)prov_result_created_date_time,
    (prov_any_fn)prov_result_last_update_date_time,
    (prov_any_fn)prov_result_etag,
    (prov_any_fn)prov_result_payload,
    (prov_any_fn)prov_result_registration_state_json,
    (prov_any_fn)prov_result_error_code,
    (prov_any_fn)prov_result_http_status,
    (prov_any_fn)prov_result_tracking_id,
    (prov_any_fn)prov_result_error_message,
};

int main(void) {
  unsigned i;
  prov_status ok = PROV_OK;
  for (i = 0; i < sizeof every_function / sizeof every_function[0]; ++i) {
    if (every_function[i] == 0) return 1;
  }
  /* The library the program runs with is the one the header describes. */
  if (prov_version_number() != PROV_VERSION_NUMBER) return 2;
  if (prov_status_str(ok) == 0) return 3;
  return 0;
}
