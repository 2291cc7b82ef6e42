#include "transport/transport_factory.h"

#include "transport/https_transport.h"
#include "transport/mqtt_transport.h"
#include "transport/websocket_transport.h"

namespace prov::transport {

const char *transport_name(TransportKind kind) {
  switch (kind) {
    case TransportKind::Mqtt:
      return "MQTT";
    case TransportKind::MqttWebSocket:
      return "MQTT over WebSockets";
    case TransportKind::Https:
      return "HTTPS";
  }
  return "unknown transport";
}

int default_port(TransportKind kind) {
  return kind == TransportKind::Mqtt ? 8883 : 443;
}

std::unique_ptr<core::RegistrationTransport> make_registration_transport(
    TransportChoice choice, ConnectionSettings connection) {
  if (connection.port == 0) connection.port = default_port(choice.kind);
  if (choice.kind == TransportKind::Https) {
    HttpsSettings https;
    https.registration_id = std::move(choice.registration_id);
    https.id_scope = std::move(choice.id_scope);
    https.api_version = std::move(choice.api_version);
    https.sas_token = std::move(choice.sas_token);
    https.connection = std::move(connection);
    return std::make_unique<HttpsTransport>(std::move(https));
  }
  MqttSettings mqtt;
  mqtt.registration_id = std::move(choice.registration_id);
  mqtt.id_scope = std::move(choice.id_scope);
  mqtt.api_version = std::move(choice.api_version);
  mqtt.password = std::move(choice.sas_token);
  mqtt.keep_alive_s = choice.keep_alive_s;
  std::unique_ptr<ByteStream> stream;
  if (choice.kind == TransportKind::MqttWebSocket) {
    WebSocketSettings ws;
    ws.host_header =
        websocket_host_header(connection.host, connection.is_ipv6_literal, connection.port);
    stream = std::make_unique<WebSocketStream>(
        std::move(ws), std::make_unique<CurlConnection>(std::move(connection)));
  } else {
    stream = std::make_unique<CurlConnection>(std::move(connection));
  }
  return std::make_unique<MqttTransport>(std::move(mqtt), std::move(stream));
}

}  // namespace prov::transport
