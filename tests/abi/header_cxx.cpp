// header_cxx.cpp — the public header stands alone in C++: this file includes
// only <prov/prov.h> and is compiled by tests/abi/header_standalone.sh as
// C++11 with -Wall -Wextra -pedantic -Werror, linked against libprov.so.1 and
// run. Linking proves every declaration has C linkage (extern "C"): a
// mangled name would not resolve.
#include <prov/prov.h>

namespace {

using AnyFunction = void (*)();

const AnyFunction kEveryFunction[] = {
    reinterpret_cast<AnyFunction>(prov_status_str),
    reinterpret_cast<AnyFunction>(prov_last_error_message),
    reinterpret_cast<AnyFunction>(prov_last_error_clear),
    reinterpret_cast<AnyFunction>(prov_version_number),
    reinterpret_cast<AnyFunction>(prov_version_string),
    reinterpret_cast<AnyFunction>(prov_string_free),
    reinterpret_cast<AnyFunction>(prov_derive_device_key),
    reinterpret_cast<AnyFunction>(prov_generate_sas_token),
    reinterpret_cast<AnyFunction>(prov_client_create_symkey),
    reinterpret_cast<AnyFunction>(prov_client_free),
    reinterpret_cast<AnyFunction>(prov_client_set_server_verification_cert),
    reinterpret_cast<AnyFunction>(prov_client_set_gateway_hostname),
    reinterpret_cast<AnyFunction>(prov_client_set_cipher),
    reinterpret_cast<AnyFunction>(prov_client_set_keep_alive),
    reinterpret_cast<AnyFunction>(prov_client_set_sastoken_ttl),
    reinterpret_cast<AnyFunction>(prov_client_set_provisioning_payload),
    reinterpret_cast<AnyFunction>(prov_client_set_register_timeout),
    reinterpret_cast<AnyFunction>(prov_client_set_response_timeout),
    reinterpret_cast<AnyFunction>(prov_client_register),
    reinterpret_cast<AnyFunction>(prov_result_free),
    reinterpret_cast<AnyFunction>(prov_result_operation_id),
    reinterpret_cast<AnyFunction>(prov_result_status),
    reinterpret_cast<AnyFunction>(prov_result_registration_id),
    reinterpret_cast<AnyFunction>(prov_result_device_id),
    reinterpret_cast<AnyFunction>(prov_result_assigned_hub),
    reinterpret_cast<AnyFunction>(prov_result_substatus),
    reinterpret_cast<AnyFunction>(prov_result_created_date_time),
    reinterpret_cast<AnyFunction>(prov_result_last_update_date_time),
    reinterpret_cast<AnyFunction>(prov_result_etag),
    reinterpret_cast<AnyFunction>(prov_result_payload),
    reinterpret_cast<AnyFunction>(prov_result_registration_state_json),
    reinterpret_cast<AnyFunction>(prov_result_error_code),
    reinterpret_cast<AnyFunction>(prov_result_http_status),
    reinterpret_cast<AnyFunction>(prov_result_tracking_id),
    reinterpret_cast<AnyFunction>(prov_result_error_message),
};

}  // namespace

int main() {
  for (AnyFunction function : kEveryFunction) {
    if (function == nullptr) return 1;
  }
  if (prov_version_number() != PROV_VERSION_NUMBER) return 2;
  if (prov_status_str(PROV_OK) == nullptr) return 3;
  return 0;
}
