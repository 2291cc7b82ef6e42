// Options of a client, as set through prov_client_set_*; validated by the
// setters, copied by each registration when it starts.
#ifndef PROV_CORE_OPTIONS_H
#define PROV_CORE_OPTIONS_H

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/observer.h"
#include "core/retry_policy.h"
#include "core/validate.h"
#include "transport/proxy.h"
#include "transport/transport_factory.h"

namespace prov::core {

struct Options {
  std::optional<std::string> server_ca_pem;  // NULL = system trust store
  std::optional<HostPort> gateway;           // connect here instead of the DPS host
  std::string cipher_list;                   // "" = library defaults
  uint16_t keep_alive_s = 60;                // 1..1740
  bool keep_alive_set = false;               // set explicitly (checked against the transport)
  transport::TransportKind transport = transport::TransportKind::Mqtt;
  transport::ProxySettings proxy;           // type None = direct
  std::optional<std::string> proxy_ca_pem;  // roots for an HTTPS proxy; NULL = system store
  uint32_t sastoken_ttl_s = 3600;           // 60..31536000
  std::optional<std::string> payload_json;  // "payload" of the register body
  uint32_t register_timeout_ms = 90000;     // 1..86400000
  uint32_t response_timeout_ms = 30000;     // 1..3600000
  // Certificate issuance (CSR sent with the registration): none, a key pair
  // and CSR the client generates, or a CSR the caller made.
  enum class CsrSource { None, Generate, Provided };
  CsrSource csr_source = CsrSource::None;
  int csr_key_type = 0;          // PROV_KEY_* when generating
  std::vector<uint8_t> csr_der;  // when provided (checked when set)
  std::string csr_common_name;   // of the provided CSR
  int csr_api = 1;               // PROV_CSR_API_*
  RetryPolicy::Settings retry;   // prov_client_set_retry_policy
  Observer observer;             // progress and log callbacks (secrets added per registration)
};

}  // namespace prov::core

#endif  // PROV_CORE_OPTIONS_H
