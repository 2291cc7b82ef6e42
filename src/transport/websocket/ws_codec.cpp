// RFC 6455 client-side handshake and framing (see ws_codec.h).
#include "transport/websocket/ws_codec.h"

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/coding.h>
#include <wolfssl/wolfcrypt/sha.h>

#include "transport/utf8.h"

namespace prov::ws {
namespace {

constexpr std::string_view kAcceptGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
constexpr size_t kMaxControlPayload = 125;

char ascii_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool equals_ignore_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// RFC 7230 token characters (header names, subprotocol names).
bool is_token(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7F) return false;
    if (std::string_view("()<>@,;:\\\"/[]?={}").find(c) != std::string_view::npos) return false;
  }
  return true;
}

bool has_control_or_space(std::string_view text) {
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7F) return true;
  }
  return false;
}

bool has_line_break(std::string_view text) {
  return text.find_first_of("\r\n") != std::string_view::npos ||
         text.find('\0') != std::string_view::npos;
}

// Text shown to the user for a value the server sent: printable ASCII only,
// bounded, so a hostile response cannot flood or garble a log line.
std::string printable(std::string_view text, size_t limit = 80) {
  std::string out;
  for (char c : text.substr(0, limit)) {
    const auto u = static_cast<unsigned char>(c);
    out.push_back(u >= 0x20 && u < 0x7F ? c : '?');
  }
  if (text.size() > limit) out += "...";
  return out;
}

bool valid_utf8(const uint8_t *data, size_t size) {
  return transport::utf8_problem(std::string_view(reinterpret_cast<const char *>(data), size)) ==
         nullptr;
}

std::string base64(const uint8_t *data, size_t size) {
  // 4 output characters per 3 input bytes, plus room for the terminator.
  std::string out(((size + 2) / 3) * 4 + 1, '\0');
  word32 out_len = static_cast<word32>(out.size());
  if (Base64_Encode_NoNl(data, static_cast<word32>(size), reinterpret_cast<byte *>(out.data()),
                         &out_len) != 0) {
    throw std::runtime_error("WebSocket: base64 encoding failed in wolfCrypt");
  }
  out.resize(out_len);
  return out;
}

bool valid_close_code(uint16_t code) {
  // RFC 6455 7.4.1/7.4.2 and the IANA registry: 1004-1006 and 1015 are never
  // sent on the wire; 3000-4999 are for libraries and applications.
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
         (code >= 3000 && code <= 4999);
}

std::vector<uint8_t> encode_frame(Opcode opcode, const uint8_t *payload, size_t len,
                                  const MaskKey &mask_key) {
  std::vector<uint8_t> frame;
  frame.reserve(len + 14);
  frame.push_back(static_cast<uint8_t>(0x80 | static_cast<uint8_t>(opcode)));  // FIN
  constexpr uint8_t kMaskBit = 0x80;
  if (len < 126) {
    frame.push_back(static_cast<uint8_t>(kMaskBit | len));
  } else if (len <= 0xFFFF) {
    frame.push_back(kMaskBit | 126);
    frame.push_back(static_cast<uint8_t>(len >> 8));
    frame.push_back(static_cast<uint8_t>(len & 0xFF));
  } else {
    frame.push_back(kMaskBit | 127);
    const uint64_t len64 = len;
    for (int shift = 56; shift >= 0; shift -= 8) {
      frame.push_back(static_cast<uint8_t>((len64 >> shift) & 0xFF));
    }
  }
  frame.insert(frame.end(), mask_key.begin(), mask_key.end());
  for (size_t i = 0; i < len; ++i) {
    frame.push_back(payload[i] ^ mask_key[i % 4]);
  }
  return frame;
}

std::vector<uint8_t> encode_control(Opcode opcode, const uint8_t *payload, size_t len,
                                    const MaskKey &mask_key, const char *name) {
  if (len > kMaxControlPayload) {
    throw std::invalid_argument(std::string("WebSocket ") + name + " payload is " +
                                std::to_string(len) + " bytes; control frames carry at most 125");
  }
  return encode_frame(opcode, payload, len, mask_key);
}

[[noreturn]] void fail(const std::string &message) {
  throw ProtocolError(message);
}
[[noreturn]] void fail_handshake(const std::string &message) {
  throw HandshakeError(message);
}

}  // namespace

std::string make_key(const KeyNonce &nonce) {
  return base64(nonce.data(), nonce.size());
}

std::string compute_accept(std::string_view key) {
  wc_Sha sha;
  std::array<uint8_t, WC_SHA_DIGEST_SIZE> digest{};
  bool ok = wc_InitSha(&sha) == 0;
  ok = ok && wc_ShaUpdate(&sha, reinterpret_cast<const byte *>(key.data()),
                          static_cast<word32>(key.size())) == 0;
  ok = ok && wc_ShaUpdate(&sha, reinterpret_cast<const byte *>(kAcceptGuid.data()),
                          static_cast<word32>(kAcceptGuid.size())) == 0;
  ok = ok && wc_ShaFinal(&sha, digest.data()) == 0;
  wc_ShaFree(&sha);
  if (!ok) {
    throw std::runtime_error("WebSocket: SHA-1 failed in wolfCrypt");
  }
  return base64(digest.data(), digest.size());
}

std::string build_handshake_request(const HandshakeRequest &request) {
  if (request.host.empty() || has_control_or_space(request.host)) {
    throw std::invalid_argument("WebSocket Host \"" + printable(request.host) +
                                "\" is empty or contains spaces or control characters");
  }
  if (request.path.empty() || request.path.front() != '/' || has_control_or_space(request.path)) {
    throw std::invalid_argument("WebSocket path \"" + printable(request.path) +
                                "\" must start with '/' and contain no spaces or control "
                                "characters");
  }
  if (!request.subprotocol.empty() && !is_token(request.subprotocol)) {
    throw std::invalid_argument("WebSocket subprotocol \"" + printable(request.subprotocol) +
                                "\" is not an HTTP token");
  }
  std::string text;
  text.reserve(256);
  text += "GET " + request.path + " HTTP/1.1\r\n";
  text += "Host: " + request.host + "\r\n";
  text += "Upgrade: websocket\r\n";
  text += "Connection: Upgrade\r\n";
  text += "Sec-WebSocket-Key: " + make_key(request.key_nonce) + "\r\n";
  text += "Sec-WebSocket-Version: 13\r\n";
  if (!request.subprotocol.empty()) {
    text += "Sec-WebSocket-Protocol: " + request.subprotocol + "\r\n";
  }
  for (const auto &[name, value] : request.extra_headers) {
    if (!is_token(name)) {
      throw std::invalid_argument("WebSocket handshake header name \"" + printable(name) +
                                  "\" is not an HTTP token");
    }
    if (has_line_break(value)) {
      throw std::invalid_argument("WebSocket handshake header \"" + name +
                                  "\" has a line break or NUL in its value");
    }
    text += name + ": " + value + "\r\n";
  }
  text += "\r\n";
  return text;
}

size_t find_handshake_response_end(std::string_view received) {
  const size_t end = received.substr(0, kMaxHandshakeResponseSize).find("\r\n\r\n");
  if (end != std::string_view::npos) {
    return end + 4;
  }
  if (received.size() >= kMaxHandshakeResponseSize) {
    fail_handshake("WebSocket handshake: the server's response head is longer than " +
                   std::to_string(kMaxHandshakeResponseSize) + " bytes");
  }
  return 0;
}

std::optional<std::string> HandshakeResponse::header(std::string_view name) const {
  for (const auto &[key, value] : headers) {
    if (equals_ignore_case(key, name)) return value;
  }
  return std::nullopt;
}

HandshakeResponse parse_handshake_response(std::string_view head) {
  // Strip the terminating empty line, then split on CRLF.
  if (head.size() >= 4 && head.substr(head.size() - 4) == "\r\n\r\n") {
    head.remove_suffix(2);
  }
  HandshakeResponse response;
  size_t line_start = 0;
  bool first_line = true;
  while (line_start < head.size()) {
    const size_t line_end = head.find("\r\n", line_start);
    if (line_end == std::string_view::npos) {
      fail_handshake("WebSocket handshake: response line not terminated by CRLF");
    }
    const std::string_view line = head.substr(line_start, line_end - line_start);
    line_start = line_end + 2;
    if (first_line) {
      first_line = false;
      // "HTTP/1.1 101 Switching Protocols"
      if (line.size() < 12 ||
          (line.substr(0, 9) != "HTTP/1.1 " && line.substr(0, 9) != "HTTP/1.0 ")) {
        fail_handshake(
            "WebSocket handshake: the server did not answer with HTTP/1.1 (status line \"" +
            printable(line) + "\")");
      }
      const std::string_view code = line.substr(9, 3);
      for (char c : code) {
        if (c < '0' || c > '9') {
          fail_handshake("WebSocket handshake: malformed HTTP status line \"" + printable(line) +
                         "\"");
        }
      }
      if (line.size() > 12 && line[12] != ' ') {
        fail_handshake("WebSocket handshake: malformed HTTP status line \"" + printable(line) +
                       "\"");
      }
      response.status_code = (code[0] - '0') * 100 + (code[1] - '0') * 10 + (code[2] - '0');
      response.reason = std::string(line.size() > 13 ? line.substr(13) : std::string_view());
      continue;
    }
    if (line.empty()) {
      fail_handshake("WebSocket handshake: empty line inside the response head");
    }
    if (line.front() == ' ' || line.front() == '\t') {
      fail_handshake("WebSocket handshake: folded header lines are not allowed");
    }
    const size_t colon = line.find(':');
    const std::string_view name = colon == std::string_view::npos ? line : line.substr(0, colon);
    if (colon == std::string_view::npos || !is_token(name)) {
      fail_handshake("WebSocket handshake: malformed header line \"" + printable(line) + "\"");
    }
    std::string lower_name(name);
    for (char &c : lower_name) c = ascii_lower(c);
    response.headers.emplace_back(std::move(lower_name), std::string(trim(line.substr(colon + 1))));
  }
  if (first_line) {
    fail_handshake("WebSocket handshake: empty response");
  }
  return response;
}

void validate_handshake_response(const HandshakeResponse &response, std::string_view key,
                                 std::string_view subprotocol) {
  if (response.status_code != 101) {
    fail_handshake("WebSocket handshake refused: the server answered HTTP " +
                   std::to_string(response.status_code) +
                   (response.reason.empty() ? "" : " " + printable(response.reason)) +
                   " instead of 101 Switching Protocols");
  }
  const auto upgrade = response.header("upgrade");
  if (!upgrade || !equals_ignore_case(*upgrade, "websocket")) {
    fail_handshake("WebSocket handshake: the 101 response has " +
                   (upgrade ? "\"Upgrade: " + printable(*upgrade) + "\"" : "no Upgrade header") +
                   ", expected \"Upgrade: websocket\"");
  }
  const auto connection = response.header("connection");
  bool connection_upgrade = false;
  if (connection) {
    std::string_view tokens = *connection;
    while (!tokens.empty() && !connection_upgrade) {
      const size_t comma = tokens.find(',');
      connection_upgrade = equals_ignore_case(trim(tokens.substr(0, comma)), "upgrade");
      tokens = comma == std::string_view::npos ? std::string_view() : tokens.substr(comma + 1);
    }
  }
  if (!connection_upgrade) {
    fail_handshake(
        "WebSocket handshake: the 101 response has " +
        (connection ? "\"Connection: " + printable(*connection) + "\"" : "no Connection header") +
        ", expected \"Connection: Upgrade\"");
  }
  const auto accept = response.header("sec-websocket-accept");
  if (!accept) {
    fail_handshake("WebSocket handshake: the 101 response has no Sec-WebSocket-Accept header");
  }
  if (*accept != compute_accept(key)) {
    fail_handshake("WebSocket handshake: Sec-WebSocket-Accept \"" + printable(*accept) +
                   "\" does not match the key sent");
  }
  const auto extensions = response.header("sec-websocket-extensions");
  if (extensions && !extensions->empty()) {
    fail_handshake("WebSocket handshake: the server selected extensions \"" +
                   printable(*extensions) + "\" that were not requested");
  }
  const auto protocol = response.header("sec-websocket-protocol");
  if (subprotocol.empty()) {
    if (protocol) {
      fail_handshake("WebSocket handshake: the server selected subprotocol \"" +
                     printable(*protocol) + "\" although none was requested");
    }
  } else if (!protocol) {
    fail_handshake("WebSocket handshake: the server did not select the subprotocol \"" +
                   std::string(subprotocol) + "\" (no Sec-WebSocket-Protocol header)");
  } else if (!equals_ignore_case(*protocol, subprotocol)) {
    fail_handshake("WebSocket handshake: the server selected subprotocol \"" +
                   printable(*protocol) + "\", expected \"" + std::string(subprotocol) + "\"");
  }
}

std::vector<uint8_t> encode_binary_frame(const uint8_t *payload, size_t len,
                                         const MaskKey &mask_key) {
  return encode_frame(Opcode::Binary, payload, len, mask_key);
}

std::vector<uint8_t> encode_ping(const uint8_t *payload, size_t len, const MaskKey &mask_key) {
  return encode_control(Opcode::Ping, payload, len, mask_key, "Ping");
}

std::vector<uint8_t> encode_pong(const uint8_t *payload, size_t len, const MaskKey &mask_key) {
  return encode_control(Opcode::Pong, payload, len, mask_key, "Pong");
}

std::vector<uint8_t> encode_close(uint16_t code, std::string_view reason, const MaskKey &mask_key) {
  if (!valid_close_code(code)) {
    throw std::invalid_argument("WebSocket close code " + std::to_string(code) +
                                " may not be sent");
  }
  if (reason.size() > kMaxControlPayload - 2) {
    throw std::invalid_argument("WebSocket close reason is " + std::to_string(reason.size()) +
                                " bytes; at most 123 fit in a Close frame");
  }
  if (!valid_utf8(reinterpret_cast<const uint8_t *>(reason.data()), reason.size())) {
    throw std::invalid_argument("WebSocket close reason is not valid UTF-8");
  }
  std::vector<uint8_t> payload;
  payload.push_back(static_cast<uint8_t>(code >> 8));
  payload.push_back(static_cast<uint8_t>(code & 0xFF));
  payload.insert(payload.end(), reason.begin(), reason.end());
  return encode_frame(Opcode::Close, payload.data(), payload.size(), mask_key);
}

FrameDecoder::FrameDecoder(size_t max_message_size) : max_message_size_(max_message_size) {}

void FrameDecoder::feed(const uint8_t *data, size_t len) {
  if (len == 0) return;
  if (read_pos_ > 0 && read_pos_ >= buffer_.size() / 2) {
    buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(read_pos_));
    read_pos_ = 0;
  }
  buffer_.insert(buffer_.end(), data, data + len);
}

std::optional<Event> FrameDecoder::next() {
  if (failure_) {
    throw ProtocolError(*failure_);
  }
  try {
    // Loops over non-final data frames, which produce no event of their own.
    for (;;) {
      const uint8_t *start = buffer_.data() + read_pos_;
      const size_t available = buffer_.size() - read_pos_;
      if (available < 2) return std::nullopt;
      if (close_received_) {
        fail("WebSocket: the server sent a frame after its Close frame");
      }
      const bool fin = (start[0] & 0x80) != 0;
      const uint8_t rsv = start[0] & 0x70;
      const uint8_t opcode_value = start[0] & 0x0F;
      const bool masked = (start[1] & 0x80) != 0;
      const uint8_t length7 = start[1] & 0x7F;
      if (rsv != 0) {
        fail("WebSocket: reserved bits set in a frame header (no extension was negotiated)");
      }
      const bool control = (opcode_value & 0x08) != 0;
      const auto opcode = static_cast<Opcode>(opcode_value);
      switch (opcode) {
        case Opcode::Continuation:
          if (!message_open_) fail("WebSocket: continuation frame without a message to continue");
          break;
        case Opcode::Binary:
          if (message_open_) {
            fail("WebSocket: new binary message while a fragmented message is unfinished");
          }
          break;
        case Opcode::Text:
          fail("WebSocket: text frame received; MQTT over WebSockets uses binary frames only");
        case Opcode::Close:
        case Opcode::Ping:
        case Opcode::Pong:
          break;
        default:
          fail("WebSocket: reserved opcode " + std::to_string(opcode_value));
      }
      if (masked) {
        fail("WebSocket: the server sent a masked frame (servers must not mask)");
      }
      if (control && !fin) {
        fail("WebSocket: fragmented control frame");
      }
      if (control && length7 > kMaxControlPayload) {
        fail("WebSocket: control frame with a " + std::string(length7 == 126 ? "16" : "64") +
             "-bit length (control payloads are at most 125 bytes)");
      }

      size_t header_size = 2;
      uint64_t length = length7;
      if (length7 == 126) {
        if (available < 4) return std::nullopt;
        length = (static_cast<uint64_t>(start[2]) << 8) | start[3];
        header_size = 4;
        if (length < 126) {
          fail("WebSocket: payload length " + std::to_string(length) +
               " not in its shortest form (16-bit length below 126)");
        }
      } else if (length7 == 127) {
        if (available < 10) return std::nullopt;
        length = 0;
        for (size_t i = 0; i < 8; ++i) length = (length << 8) | start[2 + i];
        header_size = 10;
        if ((length >> 63) != 0) {
          fail("WebSocket: 64-bit payload length has its most significant bit set");
        }
        if (length <= 0xFFFF) {
          fail("WebSocket: payload length " + std::to_string(length) +
               " not in its shortest form (64-bit length below 65536)");
        }
      }
      const uint64_t message_so_far = control ? 0 : message_.size();
      if (length > max_message_size_ || message_so_far + length > max_message_size_) {
        fail("WebSocket: message of at least " + std::to_string(message_so_far + length) +
             " bytes exceeds the " + std::to_string(max_message_size_) + "-byte limit");
      }
      if (available - header_size < length) return std::nullopt;

      const uint8_t *payload = start + header_size;
      const auto payload_size = static_cast<size_t>(length);
      read_pos_ += header_size + payload_size;
      // Copy before the buffer may be reused.
      std::vector<uint8_t> data(payload, payload + payload_size);
      if (read_pos_ == buffer_.size()) {
        buffer_.clear();
        read_pos_ = 0;
      }

      Event event;
      switch (opcode) {
        case Opcode::Ping:
          event.type = Event::Type::Ping;
          event.payload = std::move(data);
          return event;
        case Opcode::Pong:
          event.type = Event::Type::Pong;
          event.payload = std::move(data);
          return event;
        case Opcode::Close:
          if (data.size() == 1) fail("WebSocket: Close frame with a 1-byte payload");
          if (data.size() >= 2) {
            event.close_code = static_cast<uint16_t>((data[0] << 8) | data[1]);
            if (!valid_close_code(event.close_code)) {
              fail("WebSocket: Close frame with invalid status code " +
                   std::to_string(event.close_code));
            }
            if (!valid_utf8(data.data() + 2, data.size() - 2)) {
              fail("WebSocket: Close frame reason is not valid UTF-8");
            }
            event.payload.assign(data.begin() + 2, data.end());
          }
          event.type = Event::Type::Close;
          close_received_ = true;
          return event;
        default:  // Binary or Continuation
          message_.insert(message_.end(), data.begin(), data.end());
          message_open_ = !fin;
          if (fin) {
            event.type = Event::Type::Data;
            event.payload = std::move(message_);
            message_.clear();
            return event;
          }
          break;
      }
    }
  } catch (const ProtocolError &error) {
    failure_ = error.what();
    throw;
  }
}

}  // namespace prov::ws
