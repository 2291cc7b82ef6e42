// WebSocketStream: MQTT over WebSockets (RFC 6455) as a ByteStream. It wraps
// the TLS byte stream of a CurlConnection (which already went through any
// proxy), performs the opening handshake (GET /$iothub/websocket, subprotocol
// "mqtt", a fresh random Sec-WebSocket-Key), sends every chunk the MQTT layer
// writes as one masked binary frame (a fresh random masking key each), answers
// pings and the server's Close, and hands the payload bytes of binary messages
// back as a plain stream. MqttTransport runs unchanged on top of it, so MQTT
// and MQTT over WebSockets share one implementation of the DPS exchange.
#ifndef PROV_TRANSPORT_WEBSOCKET_TRANSPORT_H
#define PROV_TRANSPORT_WEBSOCKET_TRANSPORT_H

#include <memory>
#include <string>
#include <vector>

#include "transport/connection.h"
#include "transport/websocket/ws_codec.h"

namespace prov::transport {

inline constexpr const char *kMqttWebSocketPath = "/$iothub/websocket";
inline constexpr int kDefaultWebSocketPort = 443;

struct WebSocketSettings {
  std::string host_header;  // "host" or "host:port" (port when not 443)
  std::string path = kMqttWebSocketPath;
  std::string subprotocol = "mqtt";
};

// The Host header value for host/port: "[v6]:port" style, port omitted when 443.
std::string websocket_host_header(const std::string &host, bool is_ipv6_literal, int port);

class WebSocketStream final : public ByteStream {
 public:
  WebSocketStream(WebSocketSettings settings, std::unique_ptr<ByteStream> inner);
  ~WebSocketStream() override;
  WebSocketStream(const WebSocketStream &) = delete;
  WebSocketStream &operator=(const WebSocketStream &) = delete;

  // Opens the inner stream, then the WebSocket handshake. A refused upgrade
  // is PROV_E_CONNECTION_FAILED naming the status or the missing header.
  void open(const core::WaitBudget &budget) override;
  void send_all(const uint8_t *data, size_t len, const core::Deadline &until,
                const core::WaitBudget &budget) override;
  Received receive(uint8_t *buffer, size_t capacity, const core::Deadline &until) override;
  void close() noexcept override;
  const std::string &peer() const override { return inner_->peer(); }

 private:
  void send_frame(const std::vector<uint8_t> &frame, const core::Deadline &until,
                  const core::WaitBudget &budget);

  WebSocketSettings settings_;
  std::unique_ptr<ByteStream> inner_;
  ws::FrameDecoder decoder_;
  std::vector<uint8_t> pending_;  // payload bytes of received messages not yet handed out
  size_t pending_pos_ = 0;
  bool open_ = false;
  bool close_sent_ = false;
};

}  // namespace prov::transport

#endif  // PROV_TRANSPORT_WEBSOCKET_TRANSPORT_H
