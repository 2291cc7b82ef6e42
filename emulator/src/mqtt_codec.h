// Server side of MQTT 3.1.1 framing as DPS uses it: a pure parser for what devices send and
// encoders for what the service sends. No I/O; safe to feed arbitrary bytes (fuzzed).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace dpsemu::mqtt {

// DPS's documented maximum message size.
constexpr size_t kDefaultMaxPacketSize = 96 * 1024;

enum class PacketType : uint8_t {
  kConnect = 1,
  kConnack = 2,
  kPublish = 3,
  kPuback = 4,
  kPubrec = 5,
  kPubrel = 6,
  kPubcomp = 7,
  kSubscribe = 8,
  kSuback = 9,
  kUnsubscribe = 10,
  kUnsuback = 11,
  kPingreq = 12,
  kPingresp = 13,
  kDisconnect = 14,
};

struct Connect {
  std::string protocol_name;  // "MQTT" (3.1.1) or "MQIsdp" (3.1)
  uint8_t protocol_level = 0;
  bool clean_session = false;
  uint16_t keep_alive_seconds = 0;
  std::string client_id;
  std::optional<std::string> will_topic, will_message;
  uint8_t will_qos = 0;
  bool will_retain = false;
  std::optional<std::string> username;
  std::optional<std::string> password;  // binary data in MQTT; a SAS token for DPS
};

struct Publish {
  bool dup = false;
  uint8_t qos = 0;
  bool retain = false;
  std::string topic;
  uint16_t packet_id = 0;  // only when qos > 0
  std::string payload;
};

struct Puback {
  uint16_t packet_id = 0;
};

struct Subscribe {
  uint16_t packet_id = 0;
  std::vector<std::pair<std::string, uint8_t>> filters;  // (topic filter, requested QoS)
};

struct Unsubscribe {
  uint16_t packet_id = 0;
  std::vector<std::string> filters;
};

struct Pingreq {};
struct Disconnect {};

using Packet = std::variant<Connect, Publish, Puback, Subscribe, Unsubscribe, Pingreq, Disconnect>;

enum class ParseStatus { kOk, kNeedMore, kError };

struct ParseResult {
  ParseStatus status = ParseStatus::kNeedMore;
  size_t consumed = 0;  // bytes of the input that form the packet (kOk only)
  std::string error;    // what is wrong (kError only)
  Packet packet;        // kOk only
};

// Parses one client-to-server packet from the front of `data`. kNeedMore when the packet is not
// complete yet; kError for a malformed packet, a packet type a client must not send (CONNACK,
// SUBACK, ...), QoS 2 flows, or a remaining length above `max_packet_size` (reported as soon as
// the length is known, before the body arrives).
ParseResult parse_packet(const uint8_t *data, size_t size,
                         size_t max_packet_size = kDefaultMaxPacketSize);

// Encoders for the server-to-client packets.
std::vector<uint8_t> encode_connack(bool session_present, uint8_t return_code);
std::vector<uint8_t> encode_publish(const std::string &topic, const std::string &payload,
                                    uint8_t qos, uint16_t packet_id);
std::vector<uint8_t> encode_puback(uint16_t packet_id);
std::vector<uint8_t> encode_suback(uint16_t packet_id, const std::vector<uint8_t> &return_codes);
std::vector<uint8_t> encode_unsuback(uint16_t packet_id);
std::vector<uint8_t> encode_pingresp();

// Appends the MQTT variable-length "remaining length" encoding of `value` (< 268,435,456).
void append_remaining_length(std::vector<uint8_t> &out, size_t value);

}  // namespace dpsemu::mqtt
