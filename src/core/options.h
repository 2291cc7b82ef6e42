// Options of a client, as set through prov_client_set_*; validated by the
// setters, copied by each registration when it starts.
#ifndef PROV_CORE_OPTIONS_H
#define PROV_CORE_OPTIONS_H

#include <cstdint>
#include <optional>
#include <string>

#include "core/validate.h"

namespace prov::core {

struct Options {
  std::optional<std::string> server_ca_pem;  // NULL = system trust store
  std::optional<HostPort> gateway;           // connect here instead of the DPS host
  std::string cipher_list;                   // "" = library defaults
  uint16_t keep_alive_s = 60;                // 1..1740
  uint32_t sastoken_ttl_s = 3600;            // 60..31536000
  std::optional<std::string> payload_json;   // "payload" of the register body
  uint32_t register_timeout_ms = 90000;      // 1..86400000
  uint32_t response_timeout_ms = 30000;      // 1..3600000
};

}  // namespace prov::core

#endif  // PROV_CORE_OPTIONS_H
