// The one place that turns a transport choice into a RegistrationTransport:
// MQTT over TLS, MQTT over WebSockets (the same MqttTransport on a
// WebSocketStream) or the HTTPS REST API. Every one of them connects through
// the same ConnectionSettings (TLS options, client credential, proxy).
#ifndef PROV_TRANSPORT_TRANSPORT_FACTORY_H
#define PROV_TRANSPORT_TRANSPORT_FACTORY_H

#include <memory>
#include <optional>
#include <string>

#include "auth/secret.h"
#include "core/transport.h"
#include "transport/connection.h"

namespace prov::transport {

// Values match prov_transport in prov.h.
enum class TransportKind { Mqtt = 0, MqttWebSocket = 1, Https = 2 };

// "MQTT", "MQTT over WebSockets", "HTTPS" (for messages).
const char *transport_name(TransportKind kind);
// 8883 for MQTT, 443 for WebSockets and HTTPS.
int default_port(TransportKind kind);

struct TransportChoice {
  TransportKind kind = TransportKind::Mqtt;
  std::string registration_id;
  std::string id_scope;
  std::string api_version = "2019-03-31";
  std::optional<auth::SecretString> sas_token;  // none for X.509
  uint16_t keep_alive_s = 60;                   // MQTT and MQTT over WebSockets
};

// `connection.port` 0 means the transport's default port.
std::unique_ptr<core::RegistrationTransport> make_registration_transport(
    TransportChoice choice, ConnectionSettings connection);

}  // namespace prov::transport

#endif  // PROV_TRANSPORT_TRANSPORT_FACTORY_H
