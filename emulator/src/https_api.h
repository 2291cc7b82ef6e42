// The HTTPS listener's connections: the DPS REST device API (register, operation status,
// registration status lookup) and WebSocket upgrades (any path, subprotocol "mqtt") that hand
// the connection to an MQTT session.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "net.h"
#include "registration_service.h"

namespace dpsemu {

// A REST route after percent-decoding the path segments.
struct RestRoute {
  enum class Kind { kRegister, kOperationStatus, kStatusLookup };
  Kind kind = Kind::kRegister;
  std::string id_scope, registration_id, operation_id, api_version;
};
// Matches method + target; nullopt with `error` set when nothing matches.
std::optional<RestRoute> match_rest_route(http::verb method, std::string_view target,
                                          std::string &error);

// The client's "mqtt" token (any case) from a Sec-WebSocket-Protocol list, or nullopt.
std::optional<std::string> pick_mqtt_subprotocol(std::string_view offered);

class HttpsSession : public std::enable_shared_from_this<HttpsSession> {
 public:
  HttpsSession(tcp::socket socket, ssl::context &tls, RegistrationService &service);
  void start();

 private:
  void read_request();
  void send_continue();
  void read_body();
  void on_read_error(beast::error_code ec);
  void on_request();
  void upgrade_to_websocket();
  void respond(const ServiceReply &reply, bool keep_alive);
  void close();

  std::shared_ptr<TlsStream> stream_;
  RegistrationService &service_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::vector<std::string> peer_chain_;
  std::chrono::steady_clock::time_point request_started_;
};

// Completes the TLS handshake on an accepted MQTT-over-TLS socket and runs an MQTT session.
void start_mqtt_tls_connection(tcp::socket socket, ssl::context &tls, RegistrationService &service);

}  // namespace dpsemu
