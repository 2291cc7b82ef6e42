// RFC 6455 WebSocket client side, as MQTT over WebSockets needs it: the
// opening handshake (request builder, response validator) and binary framing.
//
// Pure: bytes in, bytes out. No I/O, no globals, no randomness: the caller
// supplies the 16 random key bytes and every 4-byte masking key (RFC 6455
// 10.3: they must come from a strong random source, e.g. wc_RNG).
//
// Errors: builders and encoders throw std::invalid_argument for arguments
// that cannot be encoded; the response validator throws HandshakeError; the
// FrameDecoder throws ProtocolError for a frame a conforming server could not
// send, after which the connection must be failed (RFC 6455 7.1.7).
#ifndef PROV_TRANSPORT_WEBSOCKET_WS_CODEC_H
#define PROV_TRANSPORT_WEBSOCKET_WS_CODEC_H

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace prov::ws {

class ProtocolError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The server's answer to the opening handshake was not an acceptable upgrade.
class HandshakeError : public ProtocolError {
 public:
  using ProtocolError::ProtocolError;
};

using KeyNonce = std::array<uint8_t, 16>;
using MaskKey = std::array<uint8_t, 4>;

// ---- Opening handshake (RFC 6455 4.1) ----

struct HandshakeRequest {
  std::string host;  // value of the Host header: "name" or "name:port" (non-default port)
  std::string path = "/$iothub/websocket";
  std::string subprotocol = "mqtt";
  KeyNonce key_nonce{};  // 16 random bytes; base64 of them is Sec-WebSocket-Key
  // Further headers (e.g. User-Agent). Names and values must not contain CR or LF.
  std::vector<std::pair<std::string, std::string>> extra_headers;
};

// base64 of the 16 nonce bytes: the Sec-WebSocket-Key value.
std::string make_key(const KeyNonce &nonce);

// base64(SHA-1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")): the
// Sec-WebSocket-Accept value a server must answer for `key`.
std::string compute_accept(std::string_view key);

// The complete HTTP/1.1 GET request, ending with the empty line.
std::string build_handshake_request(const HandshakeRequest &request);

// Upper bound for the response head; a longer one is a HandshakeError.
inline constexpr size_t kMaxHandshakeResponseSize = 16 * 1024;

// Length of the response head (status line + headers + the empty line) at
// the start of `received`, or 0 while it is incomplete. Bytes after it are
// already WebSocket frames and go to a FrameDecoder. Throws HandshakeError
// when kMaxHandshakeResponseSize bytes arrived without the empty line.
size_t find_handshake_response_end(std::string_view received);

struct HandshakeResponse {
  int status_code = 0;
  std::string reason;
  // Header names lower-cased, values with surrounding whitespace removed,
  // in the order received.
  std::vector<std::pair<std::string, std::string>> headers;

  // The first value of a header (name compared case-insensitively).
  std::optional<std::string> header(std::string_view name) const;
};

// Parses a response head (as delimited by find_handshake_response_end).
// Throws HandshakeError when it is not an HTTP/1.1 response.
HandshakeResponse parse_handshake_response(std::string_view head);

// Checks the server accepted the upgrade: status 101, "Upgrade: websocket" and
// "Connection: Upgrade" (case-insensitive, Connection may list several
// tokens), Sec-WebSocket-Accept matching `key`, and the subprotocol echoed
// (case-insensitive). Throws HandshakeError naming what is wrong.
void validate_handshake_response(const HandshakeResponse &response, std::string_view key,
                                 std::string_view subprotocol);

// ---- Framing (RFC 6455 5) ----

enum class Opcode : uint8_t {
  Continuation = 0x0,
  Text = 0x1,
  Binary = 0x2,
  Close = 0x8,
  Ping = 0x9,
  Pong = 0xA
};

// Close status codes (RFC 6455 7.4.1).
inline constexpr uint16_t kCloseNormal = 1000;
inline constexpr uint16_t kCloseProtocolError = 1002;
inline constexpr uint16_t kCloseNoStatus = 1005;  // never sent; means "no code in the frame"

// A single masked binary frame with FIN set. Client frames are always masked.
std::vector<uint8_t> encode_binary_frame(const uint8_t *payload, size_t len,
                                         const MaskKey &mask_key);
inline std::vector<uint8_t> encode_binary_frame(const std::vector<uint8_t> &payload,
                                                const MaskKey &mask_key) {
  return encode_binary_frame(payload.data(), payload.size(), mask_key);
}

// Control frames: payload at most 125 bytes (std::invalid_argument otherwise).
std::vector<uint8_t> encode_ping(const uint8_t *payload, size_t len, const MaskKey &mask_key);
std::vector<uint8_t> encode_pong(const uint8_t *payload, size_t len, const MaskKey &mask_key);
// A Close with a status code and an optional UTF-8 reason (at most 123 bytes).
std::vector<uint8_t> encode_close(uint16_t code, std::string_view reason, const MaskKey &mask_key);

// What the FrameDecoder yields.
struct Event {
  enum class Type { Data, Ping, Pong, Close };
  Type type = Type::Data;
  // Data: one whole message (binary frame + continuations reassembled).
  // Ping/Pong: the application data (answer a Ping with encode_pong of it).
  // Close: the reason bytes.
  std::vector<uint8_t> payload;
  uint16_t close_code = kCloseNoStatus;  // Close only
};

// Incremental decoder of server->client frames.
//
// Rejects: masked frames, RSV bits (no extension is negotiated), reserved
// opcodes, text frames (MQTT over WebSockets is binary only, MQTT 6.0.0-1),
// control frames over 125 bytes or fragmented, a continuation with no message
// open, a new message while one is open, non-minimal or 64-bit lengths with
// the top bit set, messages over max_message_size, malformed Close frames
// (1-byte payload, invalid code, reason not UTF-8), and any frame after Close.
class FrameDecoder {
 public:
  explicit FrameDecoder(size_t max_message_size = 1024 * 1024);

  void feed(const uint8_t *data, size_t len);

  // The next event, or nullopt when more bytes are needed. Throws
  // ProtocolError; the decoder then stays failed (every later call rethrows).
  std::optional<Event> next();

  bool close_received() const { return close_received_; }
  size_t buffered() const { return buffer_.size() - read_pos_; }

 private:
  size_t max_message_size_;
  std::vector<uint8_t> buffer_;
  size_t read_pos_ = 0;
  bool message_open_ = false;
  std::vector<uint8_t> message_;
  bool close_received_ = false;
  std::optional<std::string> failure_;
};

}  // namespace prov::ws

#endif  // PROV_TRANSPORT_WEBSOCKET_WS_CODEC_H
