#include "transport/websocket_transport.h"

#include <algorithm>
#include <array>
#include <cstring>

#include "auth/crypto.h"
#include "core/error.h"

namespace prov::transport {

using core::Error;

namespace {
// MQTT messages to a device are small (DPS caps them at 96 KB); a WebSocket
// message is one or more MQTT packets.
constexpr size_t kMaxWebSocketMessage = 256 * 1024;

ws::MaskKey fresh_mask() {
  ws::MaskKey mask{};
  auth::random_bytes(mask.data(), mask.size());
  return mask;
}
}  // namespace

std::string websocket_host_header(const std::string &host, bool is_ipv6_literal, int port) {
  std::string value = is_ipv6_literal ? "[" + host + "]" : host;
  if (port != kDefaultWebSocketPort) value += ":" + std::to_string(port);
  return value;
}

WebSocketStream::WebSocketStream(WebSocketSettings settings, std::unique_ptr<ByteStream> inner)
    : settings_(std::move(settings)), inner_(std::move(inner)), decoder_(kMaxWebSocketMessage) {}

WebSocketStream::~WebSocketStream() {
  close();
}

void WebSocketStream::open(const core::WaitBudget &budget) {
  close();
  decoder_ = ws::FrameDecoder(kMaxWebSocketMessage);
  pending_.clear();
  pending_pos_ = 0;
  close_sent_ = false;
  inner_->open(budget);

  ws::HandshakeRequest request;
  request.host = settings_.host_header;
  request.path = settings_.path;
  request.subprotocol = settings_.subprotocol;
  auth::random_bytes(request.key_nonce.data(), request.key_nonce.size());
  request.extra_headers.emplace_back("User-Agent", std::string("libprov/") + PROV_VERSION_STRING);
  const std::string key = ws::make_key(request.key_nonce);
  const std::string head = ws::build_handshake_request(request);
  const core::Deadline step = budget.step();
  inner_->send_all(reinterpret_cast<const uint8_t *>(head.data()), head.size(), step, budget);

  const std::string waiting_for = "the WebSocket handshake response from " + inner_->peer();
  std::string received;
  std::array<uint8_t, 4096> buffer;
  size_t head_end = 0;
  try {
    while ((head_end = ws::find_handshake_response_end(received)) == 0) {
      Received got = inner_->receive(buffer.data(), buffer.size(), step);
      if (got.status == ReceiveStatus::Timeout) {
        throw Error(PROV_E_TIMEOUT, budget.timeout_message(waiting_for));
      }
      if (got.status == ReceiveStatus::Closed) {
        throw Error(PROV_E_CONNECTION_FAILED,
                    "WebSocket handshake: " + inner_->peer() +
                        " closed the connection before answering the upgrade request")
            .as_transient();
      }
      received.append(reinterpret_cast<const char *>(buffer.data()), got.size);
    }
    const ws::HandshakeResponse response =
        ws::parse_handshake_response(std::string_view(received).substr(0, head_end));
    if (response.status_code >= 500) {
      // A gateway or load balancer that is busy or restarting: worth another try.
      throw Error(PROV_E_CONNECTION_FAILED,
                  "WebSocket handshake with " + inner_->peer() + " (path " + settings_.path +
                      ") failed: the server answered HTTP " + std::to_string(response.status_code) +
                      " " + response.reason)
          .as_transient();
    }
    ws::validate_handshake_response(response, key, settings_.subprotocol);
  } catch (const ws::HandshakeError &refused) {
    inner_->close();
    throw Error(PROV_E_CONNECTION_FAILED, "WebSocket handshake with " + inner_->peer() + " (path " +
                                              settings_.path + ") failed: " + refused.what());
  } catch (...) {
    inner_->close();
    throw;
  }
  // Frames the server sent right behind its answer.
  if (received.size() > head_end) {
    decoder_.feed(reinterpret_cast<const uint8_t *>(received.data()) + head_end,
                  received.size() - head_end);
  }
  open_ = true;
}

void WebSocketStream::send_frame(const std::vector<uint8_t> &frame, const core::Deadline &until,
                                 const core::WaitBudget &budget) {
  inner_->send_all(frame.data(), frame.size(), until, budget);
}

void WebSocketStream::send_all(const uint8_t *data, size_t len, const core::Deadline &until,
                               const core::WaitBudget &budget) {
  if (!open_) {
    throw Error(PROV_E_CONNECTION_DROPPED,
                "the WebSocket connection to " + inner_->peer() + " is closed");
  }
  std::vector<uint8_t> frame = ws::encode_binary_frame(data, len, fresh_mask());
  send_frame(frame, until, budget);
  // The frame may carry the CONNECT packet and its SAS token (masked, but
  // the mask travels with it).
  auth::secure_wipe(frame.data(), frame.size());
}

ByteStream::Received WebSocketStream::receive(uint8_t *buffer, size_t capacity,
                                              const core::Deadline &until) {
  if (!open_) {
    throw Error(PROV_E_CONNECTION_DROPPED,
                "the WebSocket connection to " + inner_->peer() + " is closed");
  }
  for (;;) {
    if (pending_pos_ < pending_.size()) {
      const size_t n = std::min(capacity, pending_.size() - pending_pos_);
      std::memcpy(buffer, pending_.data() + pending_pos_, n);
      pending_pos_ += n;
      if (pending_pos_ == pending_.size()) {
        pending_.clear();
        pending_pos_ = 0;
      }
      return {ReceiveStatus::Data, n};
    }
    std::optional<ws::Event> event;
    try {
      event = decoder_.next();
    } catch (const ws::ProtocolError &bad) {
      // RFC 6455 7.1.7: fail the connection.
      close();
      throw Error(PROV_E_PROTOCOL,
                  "WebSocket: malformed frame from " + inner_->peer() + ": " + bad.what());
    }
    if (event) {
      switch (event->type) {
        case ws::Event::Type::Data:
          pending_ = std::move(event->payload);
          pending_pos_ = 0;
          continue;
        case ws::Event::Type::Ping: {
          // A pong is owed promptly but must not hold the caller up for long.
          core::WaitBudget quick(2000, 2000);
          send_frame(ws::encode_pong(event->payload.data(), event->payload.size(), fresh_mask()),
                     quick.step(), quick);
          continue;
        }
        case ws::Event::Type::Pong:
          continue;
        case ws::Event::Type::Close:
          close();  // answers the Close, then drops the connection
          return {ReceiveStatus::Closed, 0};
      }
    }
    // The caller's buffer is scratch until a payload is handed out: frames
    // are read into it and copied by the decoder (no 16 KB chunk on the
    // stack of every waiting registration, issue 9).
    Received got = inner_->receive(buffer, capacity, until);
    if (got.status != ReceiveStatus::Data) return got;
    decoder_.feed(buffer, got.size);
  }
}

void WebSocketStream::close() noexcept {
  if (open_ && !close_sent_) {
    close_sent_ = true;
    try {
      core::WaitBudget quick(250, 250);  // a courtesy must not hold up the caller
      send_frame(ws::encode_close(ws::kCloseNormal, "", fresh_mask()), quick.step(), quick);
    } catch (...) {
      // The connection is going away anyway.
    }
  }
  open_ = false;
  if (inner_) inner_->close();
}

}  // namespace prov::transport
