// Unit tests of the MQTT 3.1.1 codec (src/transport/mqtt/codec.h): every
// packet type encoded byte-exact against hand-computed vectors, decoding of
// every packet a client receives, truncated, malformed and oversized input,
// and the remaining-length edge cases.
#include <algorithm>
#include <string>

#include "check.h"
#include "transport/mqtt/codec.h"

using check::bytes;
using check::concat;
using namespace prov::mqtt;

namespace {

// Feeds all of `wire` at once and returns the single packet it holds.
Packet decode_one(const std::vector<uint8_t> &wire) {
  Decoder decoder;
  decoder.feed(wire.data(), wire.size());
  std::optional<Packet> packet = decoder.next();
  if (!packet) throw std::runtime_error("decode_one: incomplete packet " + check::hex(wire));
  if (decoder.buffered() != 0) throw std::runtime_error("decode_one: bytes left over");
  return *packet;
}

// Decodes `wire`, expecting a ProtocolError (returns its message).
std::string decode_error(const std::vector<uint8_t> &wire, size_t max_packet_size = 256 * 1024) {
  Decoder decoder(max_packet_size);
  decoder.feed(wire.data(), wire.size());
  try {
    while (decoder.next()) {
    }
  } catch (const ProtocolError &error) {
    return error.what();
  }
  return "(no error)";
}

#define CHECK_DECODE_ERROR(wire, needle)                                                  \
  do {                                                                                    \
    const std::string message_ = decode_error(wire);                                      \
    ++check::assertions();                                                                \
    if (message_.find(needle) == std::string::npos)                                       \
      check::report(__FILE__, __LINE__,                                                   \
                    std::string("decoding ") + check::hex(wire) + " gave \"" + message_ + \
                        "\", expected it to mention \"" + (needle) + "\"");               \
  } while (0)

}  // namespace

// ---- Encoders, byte-exact ----

TEST(connect_with_username_and_password) {
  ConnectPacket connect;
  connect.client_id = "dev-1";
  connect.username = "u";
  connect.password = "p";
  connect.keep_alive = 60;
  CHECK_BYTES(encode_connect(connect),
              bytes({0x10, 0x17,                            // CONNECT, remaining 23
                     0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04,  // protocol name, level 4
                     0xC2,                                  // user name, password, clean
                     0x00, 0x3C,                            // keep alive 60
                     0x00, 0x05, 'd', 'e', 'v', '-', '1',   // client id
                     0x00, 0x01, 'u',                       // user name
                     0x00, 0x01, 'p'}));                    // password
}

TEST(connect_flag_combinations) {
  ConnectPacket connect;
  connect.client_id = "c";
  connect.keep_alive = 0x1234;
  // No user name, no password.
  CHECK_BYTES(encode_connect(connect), bytes({0x10, 0x0D, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04,
                                              0x02, 0x12, 0x34, 0x00, 0x01, 'c'}));
  // User name only, persistent session.
  connect.username = "ab";
  connect.clean_session = false;
  CHECK_BYTES(encode_connect(connect),
              bytes({0x10, 0x11, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x80, 0x12, 0x34, 0x00, 0x01,
                     'c', 0x00, 0x02, 'a', 'b'}));
  // A password without a user name still sets the user-name flag (with an
  // empty user name), because 3.1.1 forbids a password flag alone.
  connect.username.clear();
  connect.clean_session = true;
  connect.password = std::string("\x00\xFF", 2);  // binary data is allowed
  CHECK_BYTES(encode_connect(connect),
              bytes({0x10, 0x13, 0x00, 0x04, 'M',  'Q',  'T',  'T',  0x04, 0xC2, 0x12,
                     0x34, 0x00, 0x01, 'c',  0x00, 0x00, 0x00, 0x02, 0x00, 0xFF}));
}

TEST(connect_dps_sized_uses_two_byte_remaining_length) {
  // A DPS CONNECT: the SAS token password pushes the packet past 127 bytes.
  ConnectPacket connect;
  connect.client_id = "dev-1";
  connect.username = "0ne00000A0A/registrations/dev-1/api-version=2019-03-31";
  connect.password = std::string(150, 's');
  const std::vector<uint8_t> wire = encode_connect(connect);
  const size_t remaining = 10 + (2 + 5) + (2 + connect.username.size()) + (2 + 150);
  CHECK_EQ(wire.size(), 1 + 2 + remaining);
  CHECK_EQ(wire[1], static_cast<uint8_t>((remaining % 128) | 0x80));
  CHECK_EQ(wire[2], static_cast<uint8_t>(remaining / 128));
  CHECK_EQ(wire.back(), 's');
}

TEST(subscribe) {
  const std::string filter = "$dps/registrations/res/#";
  CHECK_EQ(filter.size(), 24u);
  CHECK_BYTES(
      encode_subscribe(1, filter, 1),
      concat(concat(bytes({0x82, 0x1D, 0x00, 0x01, 0x00, 0x18}), bytes(filter)), bytes({0x01})));
  CHECK_BYTES(encode_subscribe(0xABCD, "a", 0),
              bytes({0x82, 0x06, 0xAB, 0xCD, 0x00, 0x01, 'a', 0x00}));
}

TEST(publish_qos0_and_qos1) {
  CHECK_BYTES(encode_publish("a/b", "hi", 0, 0),
              bytes({0x30, 0x07, 0x00, 0x03, 'a', '/', 'b', 'h', 'i'}));
  // The packet id is ignored at QoS 0.
  CHECK_BYTES(encode_publish("a/b", "hi", 0, 99),
              bytes({0x30, 0x07, 0x00, 0x03, 'a', '/', 'b', 'h', 'i'}));
  CHECK_BYTES(encode_publish("a/b", "hi", 1, 10),
              bytes({0x32, 0x09, 0x00, 0x03, 'a', '/', 'b', 0x00, 0x0A, 'h', 'i'}));
  // Empty payload, and a binary payload with NUL bytes.
  CHECK_BYTES(encode_publish("t", "", 0, 0), bytes({0x30, 0x03, 0x00, 0x01, 't'}));
  CHECK_BYTES(encode_publish("t", std::string_view("\x00\x01", 2), 1, 0x0102),
              bytes({0x32, 0x07, 0x00, 0x01, 't', 0x01, 0x02, 0x00, 0x01}));
}

TEST(puback_pingreq_disconnect) {
  CHECK_BYTES(encode_puback(7), bytes({0x40, 0x02, 0x00, 0x07}));
  CHECK_BYTES(encode_puback(0xFFFF), bytes({0x40, 0x02, 0xFF, 0xFF}));
  CHECK_BYTES(encode_pingreq(), bytes({0xC0, 0x00}));
  CHECK_BYTES(encode_disconnect(), bytes({0xE0, 0x00}));
}

TEST(encoder_rejects_what_mqtt_cannot_carry) {
  const std::string too_long(65536, 'x');
  const std::string longest(65535, 'x');
  ConnectPacket connect;
  connect.client_id = too_long;
  CHECK_THROWS(encode_connect(connect), std::invalid_argument, "65535");
  connect.client_id = longest;  // the limit itself is fine
  CHECK_EQ(encode_connect(connect).size(), 1 + 3 + 10 + 2 + 65535u);
  connect.client_id = "c";
  connect.username = too_long;
  CHECK_THROWS(encode_connect(connect), std::invalid_argument, "user name");
  connect.username = "u";
  connect.password = too_long;
  CHECK_THROWS(encode_connect(connect), std::invalid_argument, "password");
  connect.password.reset();
  connect.client_id = "";
  connect.clean_session = false;
  CHECK_THROWS(encode_connect(connect), std::invalid_argument, "clean_session");
  connect.clean_session = true;
  connect.client_id = std::string("bad\xC3", 4);
  CHECK_THROWS(encode_connect(connect), std::invalid_argument, "UTF-8");
  connect.client_id = std::string("nul\0id", 6);
  CHECK_THROWS(encode_connect(connect), std::invalid_argument, "U+0000");

  CHECK_THROWS(encode_subscribe(1, too_long, 1), std::invalid_argument, "65535");
  CHECK_THROWS(encode_subscribe(0, "a", 1), std::invalid_argument, "packet identifier");
  CHECK_THROWS(encode_subscribe(1, "a", 2), std::invalid_argument, "QoS 2");
  CHECK_THROWS(encode_subscribe(1, "", 1), std::invalid_argument, "empty");

  CHECK_THROWS(encode_publish(too_long, "", 0, 0), std::invalid_argument, "65535");
  CHECK_THROWS(encode_publish("a", "", 3, 1), std::invalid_argument, "QoS 3");
  CHECK_THROWS(encode_publish("a", "", 1, 0), std::invalid_argument, "packet identifier");
  CHECK_THROWS(encode_publish("a/+", "", 0, 0), std::invalid_argument, "wildcard");
  CHECK_THROWS(encode_publish("a/#", "", 0, 0), std::invalid_argument, "wildcard");
  CHECK_THROWS(encode_publish("", "", 0, 0), std::invalid_argument, "empty");
  CHECK_THROWS(encode_publish("\xED\xA0\x80", "", 0, 0), std::invalid_argument, "surrogate");
  CHECK_THROWS(encode_publish("\xC0\xAF", "", 0, 0), std::invalid_argument, "overlong");
  CHECK_THROWS(encode_puback(0), std::invalid_argument, "packet identifier");
}

// ---- Remaining length ----

TEST(remaining_length_edges_encode) {
  CHECK_BYTES(encode_remaining_length(0), bytes({0x00}));
  CHECK_BYTES(encode_remaining_length(127), bytes({0x7F}));
  CHECK_BYTES(encode_remaining_length(128), bytes({0x80, 0x01}));
  CHECK_BYTES(encode_remaining_length(16383), bytes({0xFF, 0x7F}));
  CHECK_BYTES(encode_remaining_length(16384), bytes({0x80, 0x80, 0x01}));
  CHECK_BYTES(encode_remaining_length(2097151), bytes({0xFF, 0xFF, 0x7F}));
  CHECK_BYTES(encode_remaining_length(2097152), bytes({0x80, 0x80, 0x80, 0x01}));
  CHECK_BYTES(encode_remaining_length(268435455), bytes({0xFF, 0xFF, 0xFF, 0x7F}));
  CHECK_THROWS(encode_remaining_length(268435456), std::invalid_argument, "268435455");
}

TEST(remaining_length_edges_round_trip_through_publish) {
  // PUBLISH "t" at QoS 0 has 3 bytes before the payload; choose payloads so the
  // remaining length hits each boundary, encode, decode, compare.
  for (size_t remaining : {size_t{3}, size_t{127}, size_t{128}, size_t{16383}, size_t{16384},
                           size_t{2097151}, size_t{2097152}}) {
    const std::string payload(remaining - 3, 'p');
    const std::vector<uint8_t> wire = encode_publish("t", payload, 0, 0);
    const std::vector<uint8_t> length_field = encode_remaining_length(remaining);
    CHECK_EQ(wire.size(), 1 + length_field.size() + remaining);
    CHECK(std::equal(length_field.begin(), length_field.end(), wire.begin() + 1));
    Decoder decoder(4 * 1024 * 1024);
    decoder.feed(wire.data(), wire.size());
    const std::optional<Packet> packet = decoder.next();
    CHECK(packet.has_value());
    if (packet) {
      CHECK_EQ(packet->topic, "t");
      CHECK_EQ(packet->payload.size(), remaining - 3);
    }
  }
}

TEST(remaining_length_maximum_is_accepted_by_the_length_parser) {
  // 268435455 (FF FF FF 7F) is a legal length: with a large enough limit the
  // decoder waits for the body instead of failing.
  const std::vector<uint8_t> header = bytes({0x30, 0xFF, 0xFF, 0xFF, 0x7F, 0x00, 0x01, 't'});
  Decoder decoder(size_t{300} * 1024 * 1024);
  decoder.feed(header.data(), header.size());
  CHECK(!decoder.next().has_value());
  CHECK_EQ(decoder.buffered(), header.size());
  // With the default limit the same header fails at once, before buffering.
  CHECK_DECODE_ERROR(header, "268435460 bytes exceeds the 262144-byte limit");
}

TEST(remaining_length_of_five_bytes_is_rejected) {
  CHECK_DECODE_ERROR(bytes({0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F}), "more than 4 bytes");
  // Already the fifth continuation byte fails, without waiting for more input.
  CHECK_DECODE_ERROR(bytes({0x30, 0x80, 0x80, 0x80, 0x80}), "more than 4 bytes");
}

// ---- Decoding what a client receives ----

TEST(decode_connack) {
  Packet packet = decode_one(bytes({0x20, 0x02, 0x00, 0x00}));
  CHECK(packet.type == PacketType::ConnAck);
  CHECK_EQ(packet.return_code, 0);
  CHECK(!packet.session_present);
  packet = decode_one(bytes({0x20, 0x02, 0x01, 0x00}));
  CHECK(packet.session_present);
  for (uint8_t code = 1; code <= 5; ++code) {
    packet = decode_one(bytes({0x20, 0x02, 0x00, code}));
    CHECK_EQ(packet.return_code, code);
  }
  CHECK_EQ(connack_code_description(5), "not authorized (5)");
  CHECK_EQ(connack_code_description(4), "bad user name or password (4)");
}

TEST(decode_suback) {
  Packet packet = decode_one(bytes({0x90, 0x03, 0x00, 0x01, 0x01}));
  CHECK(packet.type == PacketType::SubAck);
  CHECK_EQ(packet.packet_id, 1);
  CHECK_BYTES(packet.granted_qos, bytes({0x01}));
  packet = decode_one(bytes({0x90, 0x06, 0x12, 0x34, 0x00, 0x01, 0x02, 0x80}));
  CHECK_EQ(packet.packet_id, 0x1234);
  CHECK_BYTES(packet.granted_qos, bytes({0x00, 0x01, 0x02, kSubAckFailure}));
}

TEST(decode_publish) {
  Packet packet = decode_one(bytes({0x30, 0x07, 0x00, 0x03, 'a', '/', 'b', 'h', 'i'}));
  CHECK(packet.type == PacketType::Publish);
  CHECK_EQ(packet.topic, "a/b");
  CHECK_EQ(packet.payload, "hi");
  CHECK_EQ(packet.qos, 0);
  CHECK_EQ(packet.packet_id, 0);
  CHECK(!packet.retain && !packet.dup);

  // QoS 1 with DUP and RETAIN, packet id 0x0A0B, empty payload.
  packet = decode_one(bytes({0x3B, 0x07, 0x00, 0x03, 'x', '/', 'y', 0x0A, 0x0B}));
  CHECK_EQ(packet.qos, 1);
  CHECK(packet.dup);
  CHECK(packet.retain);
  CHECK_EQ(packet.flags, 0x0B);
  CHECK_EQ(packet.packet_id, 0x0A0B);
  CHECK_EQ(packet.payload, "");

  // A DPS response with a UTF-8 topic and binary-safe payload.
  const std::string topic = "$dps/registrations/res/202/?$rid=1&retry-after=3";
  const std::string payload = std::string("{\"status\":\"assigning\"}\0\xFF", 24);
  packet = decode_one(encode_publish(topic, payload, 1, 42));
  CHECK_EQ(packet.topic, topic);
  CHECK_EQ(packet.payload, payload);
  CHECK_EQ(packet.packet_id, 42);
  packet = decode_one(encode_publish("caf\xC3\xA9/\xF0\x9F\x98\x80", "", 0, 0));
  CHECK_EQ(packet.topic, "caf\xC3\xA9/\xF0\x9F\x98\x80");
}

TEST(decode_puback_pingresp_unsuback) {
  Packet packet = decode_one(bytes({0x40, 0x02, 0x00, 0x07}));
  CHECK(packet.type == PacketType::PubAck);
  CHECK_EQ(packet.packet_id, 7);
  packet = decode_one(bytes({0xD0, 0x00}));
  CHECK(packet.type == PacketType::PingResp);
  packet = decode_one(bytes({0xB0, 0x02, 0xFF, 0xFE}));
  CHECK(packet.type == PacketType::UnsubAck);
  CHECK_EQ(packet.packet_id, 0xFFFE);
}

TEST(several_packets_in_one_feed) {
  const std::vector<uint8_t> wire =
      concat(concat(bytes({0x20, 0x02, 0x00, 0x00, 0x90, 0x03, 0x00, 0x01, 0x01}),
                    encode_publish("r", "body", 1, 5)),
             bytes({0xD0, 0x00, 0x40}));  // plus the first byte of a PUBACK
  Decoder decoder;
  decoder.feed(wire.data(), wire.size());
  std::vector<PacketType> types;
  while (std::optional<Packet> packet = decoder.next()) types.push_back(packet->type);
  CHECK(types == std::vector<PacketType>({PacketType::ConnAck, PacketType::SubAck,
                                          PacketType::Publish, PacketType::PingResp}));
  CHECK_EQ(decoder.buffered(), 1u);
  const std::vector<uint8_t> rest = bytes({0x02, 0x00, 0x05});
  decoder.feed(rest.data(), rest.size());
  std::optional<Packet> puback = decoder.next();
  CHECK(puback && puback->type == PacketType::PubAck && puback->packet_id == 5);
  CHECK(!decoder.next());
  CHECK_EQ(decoder.buffered(), 0u);
}

TEST(truncated_input_fed_byte_by_byte) {
  const std::vector<std::vector<uint8_t>> packets = {
      bytes({0x20, 0x02, 0x01, 0x00}),
      bytes({0x90, 0x04, 0x00, 0x02, 0x01, 0x80}),
      encode_publish("$dps/registrations/res/200/?$rid=7", std::string(300, 'j'), 1, 3),
      encode_publish("t", std::string(20000, 'k'), 0, 0),  // 3-byte remaining length
      bytes({0x40, 0x02, 0x00, 0x09}),
      bytes({0xB0, 0x02, 0x00, 0x0A}),
      bytes({0xD0, 0x00}),
  };
  for (const std::vector<uint8_t> &wire : packets) {
    Decoder decoder;
    bool early = false;
    for (size_t i = 0; i + 1 < wire.size(); ++i) {
      decoder.feed(&wire[i], 1);
      if (decoder.next()) early = true;
    }
    CHECK(!early);
    decoder.feed(&wire.back(), 1);
    std::optional<Packet> packet = decoder.next();
    CHECK(packet.has_value());
    if (packet) CHECK_EQ(static_cast<uint8_t>(packet->type), wire[0] >> 4);
    CHECK(!decoder.next());
  }
  // Nothing at all, and a zero-length feed.
  Decoder empty;
  empty.feed(nullptr, 0);
  CHECK(!empty.next());
}

TEST(long_stream_in_uneven_chunks) {
  // 3000 packets of varying size, fed in chunks of 1..97 bytes: every packet
  // comes out once, in order, and the buffer does not grow with the stream.
  std::vector<uint8_t> wire;
  for (uint16_t i = 1; i <= 3000; ++i) {
    const std::vector<uint8_t> packet =
        i % 3 == 0   ? encode_publish("s/" + std::to_string(i), std::string(i % 300, 'v'), 1, i)
        : i % 3 == 1 ? bytes({0x40, 0x02, static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i)})
                     : bytes({0xD0, 0x00});
    wire.insert(wire.end(), packet.begin(), packet.end());
  }
  Decoder decoder;
  size_t offset = 0, chunk = 1, count = 0, largest_backlog = 0;
  bool in_order = true;
  while (offset < wire.size()) {
    const size_t piece = std::min(chunk, wire.size() - offset);
    decoder.feed(wire.data() + offset, piece);
    offset += piece;
    chunk = chunk % 97 + 1;
    while (std::optional<Packet> packet = decoder.next()) {
      ++count;
      if (packet->type == PacketType::Publish) {
        in_order =
            in_order && packet->packet_id == count && packet->topic == "s/" + std::to_string(count);
      } else if (packet->type == PacketType::PubAck) {
        in_order = in_order && packet->packet_id == count;
      }
    }
    largest_backlog = std::max(largest_backlog, decoder.buffered());
  }
  CHECK_EQ(count, 3000u);
  CHECK(in_order);
  CHECK_EQ(decoder.buffered(), 0u);
  CHECK(largest_backlog < 400);
}

// ---- Malformed input ----

TEST(reserved_flags_are_rejected) {
  CHECK_DECODE_ERROR(bytes({0x21, 0x02, 0x00, 0x00}), "CONNACK: reserved fixed-header flags");
  CHECK_DECODE_ERROR(bytes({0x42, 0x02, 0x00, 0x01}), "PUBACK: reserved fixed-header flags");
  CHECK_DECODE_ERROR(bytes({0x92, 0x03, 0x00, 0x01, 0x00}), "SUBACK: reserved");
  CHECK_DECODE_ERROR(bytes({0xB8, 0x02, 0x00, 0x01}), "UNSUBACK: reserved");
  CHECK_DECODE_ERROR(bytes({0xD1, 0x00}), "PINGRESP: reserved");
  CHECK_DECODE_ERROR(bytes({0x20, 0x02, 0x02, 0x00}), "reserved acknowledge-flag bits");
  // Reserved flags fail on the first byte alone, before any length.
  CHECK_DECODE_ERROR(bytes({0xD4}), "PINGRESP: reserved");
}

TEST(qos_3_and_qos_2_publish_are_rejected) {
  CHECK_DECODE_ERROR(bytes({0x36, 0x05, 0x00, 0x01, 't', 0x00, 0x01}), "QoS 3 is invalid");
  CHECK_DECODE_ERROR(bytes({0x34, 0x05, 0x00, 0x01, 't', 0x00, 0x01}), "QoS 2");
  CHECK_DECODE_ERROR(bytes({0x38, 0x03, 0x00, 0x01, 't'}), "DUP flag set on a QoS 0");
}

TEST(topic_length_past_the_end) {
  CHECK_DECODE_ERROR(bytes({0x30, 0x05, 0x00, 0x09, 'a', 'b', 'c'}),
                     "topic length 9 runs past the end of the packet (3 bytes left)");
  CHECK_DECODE_ERROR(bytes({0x30, 0x01, 0x00}), "topic length needs 2 bytes but only 1 remain");
  CHECK_DECODE_ERROR(bytes({0x30, 0x00}), "topic length needs 2 bytes");
  // QoS 1: the packet id does not fit after the topic.
  CHECK_DECODE_ERROR(bytes({0x32, 0x04, 0x00, 0x01, 't', 0x00}),
                     "packet identifier needs 2 bytes but only 1 remain");
}

TEST(bad_topics_are_rejected) {
  CHECK_DECODE_ERROR(bytes({0x30, 0x02, 0x00, 0x00}), "empty topic name");
  CHECK_DECODE_ERROR(bytes({0x30, 0x04, 0x00, 0x02, 'a', '#'}), "wildcard");
  CHECK_DECODE_ERROR(bytes({0x30, 0x04, 0x00, 0x02, 0xC3, 0x28}), "not valid UTF-8");
  CHECK_DECODE_ERROR(bytes({0x30, 0x04, 0x00, 0x02, 'a', 0x00}), "U+0000");
  CHECK_DECODE_ERROR(bytes({0x30, 0x05, 0x00, 0x03, 0xED, 0xB0, 0x80}), "surrogate");
  CHECK_DECODE_ERROR(bytes({0x30, 0x03, 0x00, 0x01, 0xFF}), "not valid UTF-8");
  CHECK_DECODE_ERROR(bytes({0x30, 0x04, 0x00, 0x02, 0xE2, 0x82}), "truncated");
}

TEST(wrong_lengths_and_values_are_rejected) {
  CHECK_DECODE_ERROR(bytes({0x20, 0x03, 0x00, 0x00, 0x00}), "CONNACK: remaining length is 3");
  CHECK_DECODE_ERROR(bytes({0x20, 0x01, 0x00}), "CONNACK: remaining length is 1, must be 2");
  CHECK_DECODE_ERROR(bytes({0x20, 0x02, 0x00, 0x06}), "return code 6 is reserved");
  CHECK_DECODE_ERROR(bytes({0x20, 0x02, 0x01, 0x05}), "session present set on a refused");
  CHECK_DECODE_ERROR(bytes({0x90, 0x02, 0x00, 0x01}), "SUBACK: no return codes");
  CHECK_DECODE_ERROR(bytes({0x90, 0x03, 0x00, 0x01, 0x03}), "return code 0x03 is reserved");
  CHECK_DECODE_ERROR(bytes({0x90, 0x03, 0x00, 0x00, 0x01}), "SUBACK: packet identifier is 0");
  CHECK_DECODE_ERROR(bytes({0x40, 0x02, 0x00, 0x00}), "PUBACK: packet identifier is 0");
  CHECK_DECODE_ERROR(bytes({0x40, 0x03, 0x00, 0x01, 0x00}), "PUBACK: remaining length is 3");
  CHECK_DECODE_ERROR(bytes({0xB0, 0x00}), "UNSUBACK: remaining length is 0");
  CHECK_DECODE_ERROR(bytes({0xD0, 0x01, 0x00}), "PINGRESP: remaining length is 1, must be 0");
  CHECK_DECODE_ERROR(bytes({0x32, 0x05, 0x00, 0x01, 't', 0x00, 0x00}),
                     "PUBLISH: packet identifier is 0");
}

TEST(packets_a_server_never_sends_are_rejected) {
  CHECK_DECODE_ERROR(bytes({0x10, 0x00}), "unexpected MQTT CONNECT from the server");
  CHECK_DECODE_ERROR(bytes({0x50, 0x02, 0x00, 0x01}), "unexpected MQTT PUBREC");
  CHECK_DECODE_ERROR(bytes({0x62, 0x02, 0x00, 0x01}), "unexpected MQTT PUBREL");
  CHECK_DECODE_ERROR(bytes({0x70, 0x02, 0x00, 0x01}), "unexpected MQTT PUBCOMP");
  CHECK_DECODE_ERROR(bytes({0x82, 0x00}), "unexpected MQTT SUBSCRIBE");
  CHECK_DECODE_ERROR(bytes({0xA2, 0x00}), "unexpected MQTT UNSUBSCRIBE");
  CHECK_DECODE_ERROR(bytes({0xC0, 0x00}), "unexpected MQTT PINGREQ");
  CHECK_DECODE_ERROR(bytes({0xE0, 0x00}), "unexpected MQTT DISCONNECT");
  CHECK_DECODE_ERROR(bytes({0x00, 0x00}), "packet type 0 is reserved");
  CHECK_DECODE_ERROR(bytes({0xF0, 0x00}), "packet type 15 is reserved (first byte 0xF0)");
}

TEST(oversized_packets_are_rejected_before_buffering) {
  // A 200-byte PUBLISH against a 100-byte limit: fails once the length is known.
  const std::vector<uint8_t> wire = encode_publish("t", std::string(197, 'x'), 0, 0);
  CHECK_EQ(decode_error(wire, 100), "MQTT PUBLISH of 203 bytes exceeds the 100-byte limit");
  const std::vector<uint8_t> header(wire.begin(), wire.begin() + 3);
  CHECK_EQ(decode_error(header, 100), "MQTT PUBLISH of 203 bytes exceeds the 100-byte limit");
  // One byte over the limit fails; exactly at the limit is fine.
  CHECK_EQ(decode_error(wire, wire.size() - 1),
           "MQTT PUBLISH of 203 bytes exceeds the 202-byte limit");
  Decoder decoder(wire.size());
  decoder.feed(wire.data(), wire.size());
  CHECK(decoder.next().has_value());
}

TEST(errors_are_sticky) {
  Decoder decoder;
  const std::vector<uint8_t> wire = bytes({0x10, 0x00, 0xD0, 0x00});
  decoder.feed(wire.data(), wire.size());
  CHECK_THROWS(decoder.next(), ProtocolError, "CONNECT");
  // The stream is out of sync: the next call fails the same way, never
  // resynchronises on the PINGRESP behind the bad packet.
  CHECK_THROWS(decoder.next(), ProtocolError, "CONNECT");
  decoder.feed(wire.data() + 2, 2);
  CHECK_THROWS(decoder.next(), ProtocolError, "CONNECT");
}

TEST(packet_type_names) {
  CHECK_EQ(std::string(packet_type_name(PacketType::Connect)), "CONNECT");
  CHECK_EQ(std::string(packet_type_name(PacketType::UnsubAck)), "UNSUBACK");
  CHECK_EQ(std::string(packet_type_name(PacketType::Disconnect)), "DISCONNECT");
}

CHECK_MAIN()
