// Unit tests of the RFC 6455 client codec (src/transport/websocket/ws_codec.h):
// the handshake (RFC sample key/accept, request text, response validation),
// masking, the three length forms, fragmentation, control frames, and every
// class of bad server frame.
#include <string>

#include "check.h"
#include "transport/websocket/ws_codec.h"

using check::bytes;
using check::concat;
using namespace prov::ws;

namespace {

const KeyNonce kSampleNonce = {'t', 'h', 'e', ' ', 's', 'a', 'm', 'p',
                               'l', 'e', ' ', 'n', 'o', 'n', 'c', 'e'};
constexpr std::string_view kSampleKey = "dGhlIHNhbXBsZSBub25jZQ==";
// RFC 6455 section 1.3 and 4.2.2: the accept value for the sample key.
constexpr std::string_view kSampleAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
const MaskKey kRfcMask = {0x37, 0xFA, 0x21, 0x3D};  // RFC 6455 5.7

std::vector<Event> decode_all(FrameDecoder &decoder, const std::vector<uint8_t> &wire) {
  decoder.feed(wire.data(), wire.size());
  std::vector<Event> events;
  while (std::optional<Event> event = decoder.next()) events.push_back(std::move(*event));
  return events;
}

std::string decode_error(const std::vector<uint8_t> &wire, size_t max_message = 1024 * 1024) {
  FrameDecoder decoder(max_message);
  try {
    decode_all(decoder, wire);
  } catch (const ProtocolError &error) {
    return error.what();
  }
  return "(no error)";
}

#define CHECK_FRAME_ERROR(wire, needle)                                                   \
  do {                                                                                    \
    const std::string message_ = decode_error(wire);                                      \
    ++check::assertions();                                                                \
    if (message_.find(needle) == std::string::npos)                                       \
      check::report(__FILE__, __LINE__,                                                   \
                    std::string("decoding ") + check::hex(wire) + " gave \"" + message_ + \
                        "\", expected it to mention \"" + (needle) + "\"");               \
  } while (0)

std::string good_response(std::string_view accept = kSampleAccept) {
  return "HTTP/1.1 101 Switching Protocols\r\n"
         "Upgrade: websocket\r\n"
         "Connection: Upgrade\r\n"
         "Sec-WebSocket-Accept: " +
         std::string(accept) +
         "\r\n"
         "Sec-WebSocket-Protocol: mqtt\r\n"
         "\r\n";
}

void validate(std::string_view head, std::string_view subprotocol = "mqtt") {
  validate_handshake_response(parse_handshake_response(head), kSampleKey, subprotocol);
}

// Removes the mask from a client frame's payload (header_size = bytes before the mask key).
std::vector<uint8_t> unmask(const std::vector<uint8_t> &frame, size_t header_size) {
  std::vector<uint8_t> payload;
  const uint8_t *key = frame.data() + header_size;
  for (size_t i = header_size + 4; i < frame.size(); ++i) {
    payload.push_back(frame[i] ^ key[(i - header_size - 4) % 4]);
  }
  return payload;
}

}  // namespace

// ---- Handshake ----

TEST(rfc6455_sample_key_and_accept) {
  CHECK_EQ(make_key(kSampleNonce), kSampleKey);
  CHECK_EQ(compute_accept(kSampleKey), kSampleAccept);
  // Another pair, computed independently (Python hashlib + base64).
  CHECK_EQ(compute_accept("x3JJHMbDL1EzLkh9GBhXDw=="), "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");
}

TEST(handshake_request_text) {
  HandshakeRequest request;
  request.host = "server.example.com";
  request.key_nonce = kSampleNonce;
  CHECK_EQ(build_handshake_request(request),
           "GET /$iothub/websocket HTTP/1.1\r\n"
           "Host: server.example.com\r\n"
           "Upgrade: websocket\r\n"
           "Connection: Upgrade\r\n"
           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
           "Sec-WebSocket-Version: 13\r\n"
           "Sec-WebSocket-Protocol: mqtt\r\n"
           "\r\n");
  request.host = "127.0.0.1:8443";
  request.path = "/mqtt";
  request.subprotocol.clear();
  request.extra_headers = {{"User-Agent", "libprov/1.0"}};
  CHECK_EQ(build_handshake_request(request),
           "GET /mqtt HTTP/1.1\r\n"
           "Host: 127.0.0.1:8443\r\n"
           "Upgrade: websocket\r\n"
           "Connection: Upgrade\r\n"
           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
           "Sec-WebSocket-Version: 13\r\n"
           "User-Agent: libprov/1.0\r\n"
           "\r\n");
}

TEST(handshake_request_rejects_header_injection) {
  HandshakeRequest request;
  request.host = "evil\r\nX: y";
  CHECK_THROWS(build_handshake_request(request), std::invalid_argument, "Host");
  request.host = "";
  CHECK_THROWS(build_handshake_request(request), std::invalid_argument, "Host");
  request.host = "h";
  request.path = "no-slash";
  CHECK_THROWS(build_handshake_request(request), std::invalid_argument, "must start with '/'");
  request.path = "/a b";
  CHECK_THROWS(build_handshake_request(request), std::invalid_argument, "path");
  request.path = "/";
  request.subprotocol = "mq tt";
  CHECK_THROWS(build_handshake_request(request), std::invalid_argument, "subprotocol");
  request.subprotocol = "mqtt";
  request.extra_headers = {{"X-Test", "a\r\nInjected: 1"}};
  CHECK_THROWS(build_handshake_request(request), std::invalid_argument, "line break");
  request.extra_headers = {{"Bad Name", "v"}};
  CHECK_THROWS(build_handshake_request(request), std::invalid_argument, "not an HTTP token");
}

TEST(handshake_response_end_detection) {
  const std::string head = good_response();
  const std::string with_frame = head + "\x82\x02\x20\x02";
  CHECK_EQ(find_handshake_response_end(with_frame), head.size());
  // Incomplete heads, down to a lone CR LF CR.
  for (size_t cut = 0; cut < head.size(); ++cut) {
    CHECK_EQ(find_handshake_response_end(std::string_view(head).substr(0, cut)), 0u);
  }
  const std::string endless =
      "HTTP/1.1 101 OK\r\nX: " + std::string(kMaxHandshakeResponseSize, 'a');
  CHECK_THROWS(find_handshake_response_end(endless), HandshakeError, "longer than 16384 bytes");
}

TEST(handshake_response_valid_forms) {
  validate(good_response());
  // Case-insensitive names and values, Connection with several tokens,
  // subprotocol echoed in another case, extra headers.
  validate(
      "HTTP/1.1 101 Web Socket Protocol Handshake\r\n"
      "server: test\r\n"
      "UPGRADE: WebSocket\r\n"
      "connection: keep-alive, Upgrade\r\n"
      "sec-websocket-accept:   s3pPLMBiTxaQ9kYGzzhZRbK+xOo=  \r\n"
      "Sec-WebSocket-Protocol: MQTT\r\n"
      "\r\n");
  // No subprotocol requested and none answered.
  validate(
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n"
      "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
      "");
  const HandshakeResponse response = parse_handshake_response(good_response());
  CHECK_EQ(response.status_code, 101);
  CHECK_EQ(response.reason, "Switching Protocols");
  CHECK_EQ(response.header("SEC-WEBSOCKET-PROTOCOL").value_or(""), "mqtt");
  CHECK(!response.header("x-missing").has_value());
}

TEST(handshake_response_errors) {
  CHECK_THROWS(validate("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"), HandshakeError,
               "the server answered HTTP 403 Forbidden instead of 101 Switching Protocols");
  CHECK_THROWS(validate("HTTP/1.0 200 OK\r\n\r\n"), HandshakeError, "HTTP 200 OK");
  CHECK_THROWS(validate("SSH-2.0-OpenSSH_9.2\r\n\r\n"), HandshakeError,
               "did not answer with HTTP/1.1");
  CHECK_THROWS(validate("HTTP/1.1 1x1 Nope\r\n\r\n"), HandshakeError, "malformed HTTP status");
  CHECK_THROWS(validate(""), HandshakeError, "empty response");

  std::string no_upgrade = good_response();
  no_upgrade.replace(no_upgrade.find("Upgrade: websocket\r\n"), 20, "");
  CHECK_THROWS(validate(no_upgrade), HandshakeError, "no Upgrade header");
  std::string bad_upgrade = good_response();
  bad_upgrade.replace(bad_upgrade.find("websocket"), 9, "h2c");
  CHECK_THROWS(validate(bad_upgrade), HandshakeError, "\"Upgrade: h2c\"");
  std::string bad_connection = good_response();
  bad_connection.replace(bad_connection.find("Connection: Upgrade"), 19, "Connection: close");
  CHECK_THROWS(validate(bad_connection), HandshakeError, "expected \"Connection: Upgrade\"");

  CHECK_THROWS(validate(good_response("HSmrc0sMlYUkAGmm5OPpG2HaGWk=")), HandshakeError,
               "does not match the key sent");
  std::string no_accept = good_response();
  const size_t accept_line = no_accept.find("Sec-WebSocket-Accept");
  no_accept.erase(accept_line, no_accept.find("\r\n", accept_line) + 2 - accept_line);
  CHECK_THROWS(validate(no_accept), HandshakeError, "no Sec-WebSocket-Accept");

  std::string no_protocol = good_response();
  no_protocol.replace(no_protocol.find("Sec-WebSocket-Protocol: mqtt\r\n"), 30, "");
  CHECK_THROWS(validate(no_protocol), HandshakeError, "did not select the subprotocol \"mqtt\"");
  std::string other_protocol = good_response();
  other_protocol.replace(other_protocol.find(": mqtt"), 6, ": mqttv5");
  CHECK_THROWS(validate(other_protocol), HandshakeError, "selected subprotocol \"mqttv5\"");
  CHECK_THROWS(validate(good_response(), ""), HandshakeError, "although none was requested");

  std::string extension = good_response();
  extension.insert(extension.size() - 2, "Sec-WebSocket-Extensions: permessage-deflate\r\n");
  CHECK_THROWS(validate(extension), HandshakeError, "permessage-deflate");

  CHECK_THROWS(validate("HTTP/1.1 101 OK\r\nno colon here\r\n\r\n"), HandshakeError,
               "malformed header line");
  CHECK_THROWS(validate("HTTP/1.1 101 OK\r\nUpgrade: websocket\r\n folded\r\n\r\n"), HandshakeError,
               "folded");
  // Control bytes from the server are not echoed raw into the message.
  try {
    validate("HTTP/1.1 500 \x1b[31mred\x1b[0m\r\n\r\n");
    CHECK(false);
  } catch (const HandshakeError &error) {
    CHECK(std::string(error.what()).find('\x1b') == std::string::npos);
  }
}

// ---- Encoding ----

TEST(rfc6455_masked_frame_example) {
  // RFC 6455 5.7 "A single-frame masked text message" — here as a binary frame.
  CHECK_BYTES(encode_binary_frame(bytes("Hello"), kRfcMask),
              bytes({0x82, 0x85, 0x37, 0xFA, 0x21, 0x3D, 0x7F, 0x9F, 0x4D, 0x51, 0x58}));
  // RFC 6455 5.7 "Unmasked Ping request and a masked Ping response".
  const std::vector<uint8_t> hello = bytes("Hello");
  CHECK_BYTES(encode_pong(hello.data(), hello.size(), kRfcMask),
              bytes({0x8A, 0x85, 0x37, 0xFA, 0x21, 0x3D, 0x7F, 0x9F, 0x4D, 0x51, 0x58}));
  CHECK_BYTES(encode_ping(nullptr, 0, kRfcMask), bytes({0x89, 0x80, 0x37, 0xFA, 0x21, 0x3D}));
}

TEST(length_forms) {
  const MaskKey mask = {0x01, 0x02, 0x03, 0x04};
  struct Form {
    size_t length;
    std::vector<uint8_t> header;
  };
  const std::vector<Form> forms = {
      {0, bytes({0x82, 0x80})},
      {125, bytes({0x82, 0xFD})},
      {126, bytes({0x82, 0xFE, 0x00, 0x7E})},
      {65535, bytes({0x82, 0xFE, 0xFF, 0xFF})},
      {65536, bytes({0x82, 0xFF, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00})},
      {200000, bytes({0x82, 0xFF, 0, 0, 0, 0, 0, 0x03, 0x0D, 0x40})},
  };
  for (const Form &form : forms) {
    std::vector<uint8_t> payload(form.length);
    for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<uint8_t>(i * 7);
    const std::vector<uint8_t> frame = encode_binary_frame(payload, mask);
    CHECK_EQ(frame.size(), form.header.size() + 4 + form.length);
    CHECK(std::equal(form.header.begin(), form.header.end(), frame.begin()));
    CHECK(std::equal(mask.begin(), mask.end(), frame.begin() + form.header.size()));
    CHECK(unmask(frame, form.header.size()) == payload);
  }
}

TEST(close_frame_encoding) {
  const MaskKey zero_mask = {0, 0, 0, 0};
  CHECK_BYTES(encode_close(kCloseNormal, "", zero_mask),
              bytes({0x88, 0x82, 0, 0, 0, 0, 0x03, 0xE8}));
  CHECK_BYTES(encode_close(kCloseNormal, "bye", kRfcMask),
              concat(bytes({0x88, 0x85, 0x37, 0xFA, 0x21, 0x3D}),
                     bytes({0x03 ^ 0x37, 0xE8 ^ 0xFA, 'b' ^ 0x21, 'y' ^ 0x3D, 'e' ^ 0x37})));
  CHECK_THROWS(encode_close(kCloseNoStatus, "", zero_mask), std::invalid_argument, "1005");
  CHECK_THROWS(encode_close(999, "", zero_mask), std::invalid_argument, "999");
  CHECK_THROWS(encode_close(kCloseNormal, std::string(124, 'r'), zero_mask), std::invalid_argument,
               "at most 123");
  CHECK_EQ(encode_close(4000, std::string(123, 'r'), zero_mask).size(), 2 + 4 + 125u);
  CHECK_THROWS(encode_close(kCloseNormal, "\xFF", zero_mask), std::invalid_argument, "UTF-8");
  const std::vector<uint8_t> big(126, 0);
  CHECK_THROWS(encode_pong(big.data(), big.size(), zero_mask), std::invalid_argument,
               "at most 125");
  CHECK_THROWS(encode_ping(big.data(), big.size(), zero_mask), std::invalid_argument, "Ping");
}

// ---- Decoding ----

TEST(decode_unmasked_binary_and_length_forms) {
  for (size_t length : {size_t{0}, size_t{5}, size_t{125}, size_t{126}, size_t{256}, size_t{65535},
                        size_t{65536}, size_t{300000}}) {
    std::vector<uint8_t> frame;
    frame.reserve(length + 10);
    frame.push_back(0x82);
    if (length < 126) {
      frame.push_back(static_cast<uint8_t>(length));
    } else if (length <= 0xFFFF) {
      frame.push_back(126);
      frame.push_back(static_cast<uint8_t>(length >> 8));
      frame.push_back(static_cast<uint8_t>(length & 0xFF));
    } else {
      frame.push_back(127);
      for (int shift = 56; shift >= 0; shift -= 8) {
        frame.push_back(static_cast<uint8_t>((static_cast<uint64_t>(length) >> shift) & 0xFF));
      }
    }
    for (size_t i = 0; i < length; ++i) frame.push_back(static_cast<uint8_t>(i));
    FrameDecoder decoder;
    const std::vector<Event> events = decode_all(decoder, frame);
    CHECK_EQ(events.size(), 1u);
    if (events.size() == 1) {
      CHECK(events[0].type == Event::Type::Data);
      CHECK_EQ(events[0].payload.size(), length);
      CHECK(length == 0 || events[0].payload.back() == static_cast<uint8_t>(length - 1));
    }
  }
  // RFC 6455 5.7 "256 bytes binary message in a single unmasked frame" header.
  FrameDecoder decoder;
  const std::vector<Event> events =
      decode_all(decoder, concat(bytes({0x82, 0x7E, 0x01, 0x00}), std::vector<uint8_t>(256, 9)));
  CHECK(events.size() == 1 && events[0].payload == std::vector<uint8_t>(256, 9));
}

TEST(fragmentation_with_interleaved_control_frames) {
  // Binary "Hel" (FIN clear), Ping "p" in between, continuation "lo" (FIN set),
  // then a second unfragmented message "!".
  const std::vector<uint8_t> wire = bytes({0x02, 0x03, 'H', 'e', 'l',  //
                                           0x89, 0x01, 'p',            //
                                           0x00, 0x00,                 // empty continuation
                                           0x80, 0x02, 'l', 'o',       //
                                           0x82, 0x01, '!',            //
                                           0x8A, 0x00});               // unsolicited Pong
  FrameDecoder decoder;
  const std::vector<Event> events = decode_all(decoder, wire);
  CHECK_EQ(events.size(), 4u);
  if (events.size() == 4) {
    CHECK(events[0].type == Event::Type::Ping);
    CHECK_BYTES(events[0].payload, bytes("p"));
    CHECK(events[1].type == Event::Type::Data);
    CHECK_BYTES(events[1].payload, bytes("Hello"));
    CHECK_BYTES(events[2].payload, bytes("!"));
    CHECK(events[3].type == Event::Type::Pong);
  }
  // The same stream fed one byte at a time gives the same events.
  FrameDecoder slow;
  std::vector<Event> slow_events;
  for (uint8_t byte : wire) {
    slow.feed(&byte, 1);
    while (std::optional<Event> event = slow.next()) slow_events.push_back(*event);
  }
  CHECK_EQ(slow_events.size(), 4u);
  CHECK(slow_events.size() == 4 && slow_events[1].payload == bytes("Hello"));
  CHECK_EQ(slow.buffered(), 0u);
}

TEST(ping_is_exposed_for_the_caller_to_answer) {
  // RFC 6455 5.7 unmasked Ping "Hello"; the answer is a masked Pong of the same data.
  FrameDecoder decoder;
  const std::vector<Event> events =
      decode_all(decoder, bytes({0x89, 0x05, 'H', 'e', 'l', 'l', 'o'}));
  CHECK(events.size() == 1 && events[0].type == Event::Type::Ping);
  if (events.size() == 1) {
    CHECK_BYTES(encode_pong(events[0].payload.data(), events[0].payload.size(), kRfcMask),
                bytes({0x8A, 0x85, 0x37, 0xFA, 0x21, 0x3D, 0x7F, 0x9F, 0x4D, 0x51, 0x58}));
  }
}

TEST(close_frames) {
  FrameDecoder decoder;
  std::vector<Event> events = decode_all(decoder, bytes({0x88, 0x05, 0x03, 0xE9, 'b', 'y', 'e'}));
  CHECK(events.size() == 1 && events[0].type == Event::Type::Close);
  if (!events.empty()) {
    CHECK_EQ(events[0].close_code, 1001);
    CHECK_BYTES(events[0].payload, bytes("bye"));
  }
  CHECK(decoder.close_received());
  FrameDecoder empty_close;
  events = decode_all(empty_close, bytes({0x88, 0x00}));
  CHECK(events.size() == 1 && events[0].close_code == kCloseNoStatus);

  CHECK_FRAME_ERROR(bytes({0x88, 0x01, 0x03}), "Close frame with a 1-byte payload");
  CHECK_FRAME_ERROR(bytes({0x88, 0x02, 0x03, 0xED}), "invalid status code 1005");
  CHECK_FRAME_ERROR(bytes({0x88, 0x02, 0x03, 0xE7}), "invalid status code 999");
  CHECK_FRAME_ERROR(bytes({0x88, 0x02, 0x13, 0x88}), "invalid status code 5000");
  CHECK_FRAME_ERROR(bytes({0x88, 0x03, 0x03, 0xE8, 0xFF}), "reason is not valid UTF-8");
  CHECK_FRAME_ERROR(bytes({0x88, 0x00, 0x82, 0x00}), "frame after its Close frame");
}

TEST(bad_frames_are_rejected) {
  CHECK_FRAME_ERROR(bytes({0x82, 0x81, 1, 2, 3, 4, 'x'}), "masked frame");
  CHECK_FRAME_ERROR(bytes({0xC2, 0x00}), "reserved bits");
  CHECK_FRAME_ERROR(bytes({0xA2, 0x00}), "reserved bits");
  CHECK_FRAME_ERROR(bytes({0x92, 0x00}), "reserved bits");
  CHECK_FRAME_ERROR(bytes({0x83, 0x00}), "reserved opcode 3");
  CHECK_FRAME_ERROR(bytes({0x8B, 0x00}), "reserved opcode 11");
  CHECK_FRAME_ERROR(bytes({0x81, 0x02, 'h', 'i'}), "text frame");
  CHECK_FRAME_ERROR(bytes({0x89, 0x7E, 0x00, 0x7E}), "control frame with a 16-bit length");
  CHECK_FRAME_ERROR(bytes({0x8A, 0x7F}), "control frame with a 64-bit length");
  CHECK_FRAME_ERROR(bytes({0x09, 0x00}), "fragmented control frame");
  CHECK_FRAME_ERROR(bytes({0x80, 0x01, 'x'}), "continuation frame without a message");
  CHECK_FRAME_ERROR(bytes({0x02, 0x01, 'a', 0x82, 0x01, 'b'}), "new binary message while");
  CHECK_FRAME_ERROR(bytes({0x82, 0x7E, 0x00, 0x7D}), "not in its shortest form");
  CHECK_FRAME_ERROR(bytes({0x82, 0x7F, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF}), "not in its shortest form");
  CHECK_FRAME_ERROR(bytes({0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0}), "most significant bit");
}

TEST(oversized_messages_are_rejected_before_buffering) {
  // A 64-bit length of 2^40 fails as soon as its header is in.
  CHECK_FRAME_ERROR(bytes({0x82, 0x7F, 0, 0, 0x01, 0, 0, 0, 0, 0}), "exceeds the 1048576-byte");
  // Fragments that together exceed the limit.
  const std::vector<uint8_t> fragment =
      concat(bytes({0x02, 0x7E, 0x01, 0x00}), std::vector<uint8_t>(256, 1));
  const std::vector<uint8_t> tail =
      concat(bytes({0x80, 0x7E, 0x01, 0x00}), std::vector<uint8_t>(256, 2));
  CHECK_EQ(decode_error(concat(fragment, tail), 511),
           "WebSocket: message of at least 512 bytes exceeds the 511-byte limit");
  CHECK_EQ(decode_error(concat(fragment, tail), 512), "(no error)");
}

TEST(errors_are_sticky) {
  FrameDecoder decoder;
  const std::vector<uint8_t> wire = bytes({0x81, 0x00, 0x82, 0x00});
  decoder.feed(wire.data(), wire.size());
  CHECK_THROWS(decoder.next(), ProtocolError, "text frame");
  CHECK_THROWS(decoder.next(), ProtocolError, "text frame");
}

CHECK_MAIN()
