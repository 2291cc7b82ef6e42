// MQTT 3.1.1 codec for the packets a DPS device client exchanges.
//
// Pure: bytes in, bytes out. No I/O, no globals, no threads. The transport
// owns the socket; it encodes with the encode_* functions, writes the bytes,
// and feeds whatever it reads into a Decoder, which yields whole packets.
//
// Errors: encoders throw std::invalid_argument for arguments MQTT cannot carry
// (a string longer than 65535 bytes, QoS above 1, packet id 0 where one is
// required). The Decoder throws ProtocolError for any byte stream a conforming
// server could not have sent; after that the connection must be dropped.
#ifndef PROV_TRANSPORT_MQTT_CODEC_H
#define PROV_TRANSPORT_MQTT_CODEC_H

#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace prov::mqtt {

// The MQTT 3.1.1 maximum for the remaining-length field (4 varint bytes).
inline constexpr size_t kMaxRemainingLength = 268435455;

enum class PacketType : uint8_t {
  Connect = 1,
  ConnAck,
  Publish,
  PubAck,
  PubRec,
  PubRel,
  PubComp,
  Subscribe,
  SubAck,
  Unsubscribe,
  UnsubAck,
  PingReq,
  PingResp,
  Disconnect
};

// Name of a packet type for error messages ("CONNACK", "PUBLISH", ...).
const char *packet_type_name(PacketType type);

// CONNACK return codes (MQTT 3.1.1 section 3.2.2.3).
enum ConnAckCode : uint8_t {
  kConnAccepted = 0,
  kConnRefusedProtocolVersion = 1,
  kConnRefusedIdentifierRejected = 2,
  kConnRefusedServerUnavailable = 3,
  kConnRefusedBadUsernameOrPassword = 4,
  kConnRefusedNotAuthorized = 5,
};

// Human text for a CONNACK return code, e.g. "not authorized (5)".
std::string connack_code_description(uint8_t return_code);

// SUBACK per-filter result meaning "subscription refused".
inline constexpr uint8_t kSubAckFailure = 0x80;

struct ConnectPacket {
  std::string client_id;
  std::string username;
  std::optional<std::string> password;
  uint16_t keep_alive = 60;
  bool clean_session = true;
};

// The remaining-length field (2.2.3): 1 to 4 bytes, 7 bits each, least
// significant first. std::invalid_argument above kMaxRemainingLength.
std::vector<uint8_t> encode_remaining_length(size_t remaining_length);

std::vector<uint8_t> encode_connect(const ConnectPacket &packet);
// qos 0 or 1; packet_id must be non-zero.
std::vector<uint8_t> encode_subscribe(uint16_t packet_id, std::string_view filter, uint8_t qos);
// qos 0 or 1; packet_id is written (and must be non-zero) only when qos is 1.
std::vector<uint8_t> encode_publish(std::string_view topic, std::string_view payload, uint8_t qos,
                                    uint16_t packet_id);
std::vector<uint8_t> encode_puback(uint16_t packet_id);
std::vector<uint8_t> encode_pingreq();
std::vector<uint8_t> encode_disconnect();

// A packet received from the server. Fields not carried by `type` are zero/empty.
struct Packet {
  PacketType type = PacketType::Connect;
  uint8_t flags = 0;                 // low nibble of the fixed header
  bool session_present = false;      // CONNACK
  uint8_t return_code = 0;           // CONNACK
  uint16_t packet_id = 0;            // SUBACK, UNSUBACK, PUBACK, PUBLISH with qos 1
  std::vector<uint8_t> granted_qos;  // SUBACK: one entry per filter (0, 1, 2 or 0x80)
  std::string topic;                 // PUBLISH
  std::string payload;               // PUBLISH (binary-safe)
  uint8_t qos = 0;                   // PUBLISH
  bool retain = false;               // PUBLISH
  bool dup = false;                  // PUBLISH
};

class ProtocolError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Incremental decoder of server->client packets: CONNACK, SUBACK, PUBLISH
// (qos 0 or 1), PUBACK, PINGRESP, UNSUBACK. Anything else is a ProtocolError.
class Decoder {
 public:
  // Packets whose fixed header + remaining length exceed max_packet_size are
  // rejected as soon as their length field is read (before buffering them).
  explicit Decoder(size_t max_packet_size = 256 * 1024);

  // Appends received bytes. Never throws ProtocolError; next() does.
  void feed(const uint8_t *data, size_t len);

  // The next whole packet, or nullopt when more bytes are needed.
  // Throws ProtocolError on malformed input; the decoder then stays failed
  // (every later call throws the same error).
  std::optional<Packet> next();

  // Bytes received but not yet returned as packets.
  size_t buffered() const { return buffer_.size() - read_pos_; }

 private:
  size_t max_packet_size_;
  std::vector<uint8_t> buffer_;
  size_t read_pos_ = 0;
  std::optional<std::string> failure_;
};

}  // namespace prov::mqtt

#endif  // PROV_TRANSPORT_MQTT_CODEC_H
