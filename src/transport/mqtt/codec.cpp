// MQTT 3.1.1 codec (see codec.h). Section numbers refer to the OASIS
// MQTT 3.1.1 specification.
#include "transport/mqtt/codec.h"

#include "transport/utf8.h"

namespace prov::mqtt {
namespace {

constexpr size_t kMaxStringLength = 65535;
constexpr uint8_t kProtocolLevel311 = 4;

// Connect flags (3.1.2.3).
constexpr uint8_t kFlagUsername = 0x80;
constexpr uint8_t kFlagPassword = 0x40;
constexpr uint8_t kFlagCleanSession = 0x02;

std::string hex_byte(uint8_t value) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  return std::string("0x") + kDigits[value >> 4] + kDigits[value & 0x0F];
}

uint8_t first_byte(PacketType type, uint8_t flags) {
  return static_cast<uint8_t>((static_cast<uint8_t>(type) << 4) | (flags & 0x0F));
}

// Well-formed UTF-8 without U+0000 (1.5.3). Returns a description of the
// first problem, or nullptr when valid.
const char *mqtt_string_problem(std::string_view text) {
  if (text.find('\0') != std::string_view::npos) return "contains U+0000";
  return transport::utf8_problem(text);
}

void require_encodable_string(std::string_view value, const char *what) {
  if (value.size() > kMaxStringLength) {
    throw std::invalid_argument(std::string("MQTT ") + what + " is " +
                                std::to_string(value.size()) +
                                " bytes; MQTT strings are at most 65535 bytes");
  }
  if (const char *problem = mqtt_string_problem(value)) {
    throw std::invalid_argument(std::string("MQTT ") + what + " " + problem);
  }
}

void require_qos(uint8_t qos) {
  if (qos > 1) {
    throw std::invalid_argument("MQTT QoS " + std::to_string(qos) +
                                " is not supported (libprov uses QoS 0 or 1)");
  }
}

void require_packet_id(uint16_t packet_id, const char *packet) {
  if (packet_id == 0) {
    throw std::invalid_argument(std::string("MQTT ") + packet +
                                " needs a non-zero packet identifier");
  }
}

// Builds one packet: fixed header with the remaining length, then the body.
class PacketWriter {
 public:
  void u8(uint8_t value) { body_.push_back(value); }
  void u16(uint16_t value) {
    body_.push_back(static_cast<uint8_t>(value >> 8));
    body_.push_back(static_cast<uint8_t>(value & 0xFF));
  }
  // A length-prefixed string or binary field (1.5.3, 3.1.3.5); the caller
  // has checked the length.
  void string(std::string_view value) {
    u16(static_cast<uint16_t>(value.size()));
    raw(value);
  }
  void raw(std::string_view value) { body_.insert(body_.end(), value.begin(), value.end()); }

  std::vector<uint8_t> finish(PacketType type, uint8_t flags) const {
    if (body_.size() > kMaxRemainingLength) {
      throw std::invalid_argument("MQTT " + std::string(packet_type_name(type)) + " would be " +
                                  std::to_string(body_.size()) +
                                  " bytes; the MQTT maximum is 268435455");
    }
    std::vector<uint8_t> packet;
    packet.reserve(body_.size() + 5);
    packet.push_back(first_byte(type, flags));
    const std::vector<uint8_t> length = encode_remaining_length(body_.size());
    packet.insert(packet.end(), length.begin(), length.end());
    packet.insert(packet.end(), body_.begin(), body_.end());
    return packet;
  }

 private:
  std::vector<uint8_t> body_;
};

// Reads the body of one complete packet; every read is bounds-checked and a
// short body is a ProtocolError naming the packet and the field.
class BodyReader {
 public:
  BodyReader(const uint8_t *data, size_t size, const char *packet)
      : data_(data), size_(size), packet_(packet) {}

  size_t left() const { return size_ - pos_; }

  uint8_t u8(const char *field) {
    need(1, field);
    return data_[pos_++];
  }
  uint16_t u16(const char *field) {
    need(2, field);
    const uint16_t value = static_cast<uint16_t>((data_[pos_] << 8) | data_[pos_ + 1]);
    pos_ += 2;
    return value;
  }
  std::string rest() {
    std::string value(reinterpret_cast<const char *>(data_ + pos_), left());
    pos_ = size_;
    return value;
  }
  std::string bytes(size_t count, const char *field) {
    need(count, field);
    std::string value(reinterpret_cast<const char *>(data_ + pos_), count);
    pos_ += count;
    return value;
  }

 private:
  void need(size_t count, const char *field) const {
    if (left() < count) {
      throw ProtocolError(std::string("malformed MQTT ") + packet_ + ": the " + field + " needs " +
                          std::to_string(count) + " bytes but only " + std::to_string(left()) +
                          " remain in the packet");
    }
  }

  const uint8_t *data_;
  size_t size_;
  size_t pos_ = 0;
  const char *packet_;
};

[[noreturn]] void fail(const std::string &message) {
  throw ProtocolError(message);
}

void expect_remaining(const char *packet, size_t actual, size_t expected) {
  if (actual != expected) {
    fail(std::string("malformed MQTT ") + packet + ": remaining length is " +
         std::to_string(actual) + ", must be " + std::to_string(expected));
  }
}

uint16_t read_packet_id(BodyReader &reader, const char *packet) {
  const uint16_t packet_id = reader.u16("packet identifier");
  if (packet_id == 0) {
    fail(std::string("malformed MQTT ") + packet + ": packet identifier is 0");
  }
  return packet_id;
}

// Checks the fixed-header flags as soon as the first byte is known, so a bad
// stream fails before its body is buffered.
void check_first_byte(uint8_t byte) {
  const uint8_t type_value = byte >> 4;
  const uint8_t flags = byte & 0x0F;
  if (type_value == 0 || type_value == 15) {
    fail("malformed MQTT packet: packet type " + std::to_string(type_value) +
         " is reserved (first byte " + hex_byte(byte) + ")");
  }
  const auto type = static_cast<PacketType>(type_value);
  switch (type) {
    case PacketType::ConnAck:
    case PacketType::PubAck:
    case PacketType::SubAck:
    case PacketType::UnsubAck:
    case PacketType::PingResp:
      if (flags != 0) {
        fail(std::string("malformed MQTT ") + packet_type_name(type) +
             ": reserved fixed-header flags are " + hex_byte(flags) + ", must be 0");
      }
      return;
    case PacketType::Publish: {
      const uint8_t qos = (flags >> 1) & 0x03;
      if (qos == 3) {
        fail("malformed MQTT PUBLISH: QoS 3 is invalid");
      }
      if (qos == 2) {
        fail(
            "unexpected MQTT PUBLISH with QoS 2: libprov subscribes with QoS 1 at most, so the "
            "server may not send QoS 2");
      }
      if (qos == 0 && (flags & 0x08) != 0) {
        fail("malformed MQTT PUBLISH: DUP flag set on a QoS 0 message");
      }
      return;
    }
    default:
      fail(std::string("unexpected MQTT ") + packet_type_name(type) +
           " from the server: a client only receives CONNACK, PUBLISH, PUBACK, SUBACK, "
           "UNSUBACK and PINGRESP");
  }
}

Packet decode_body(uint8_t first, const uint8_t *body, size_t size) {
  Packet packet;
  packet.type = static_cast<PacketType>(first >> 4);
  packet.flags = first & 0x0F;
  const char *name = packet_type_name(packet.type);
  BodyReader reader(body, size, name);
  switch (packet.type) {
    case PacketType::ConnAck: {
      expect_remaining(name, size, 2);
      const uint8_t ack_flags = reader.u8("acknowledge flags");
      if ((ack_flags & 0xFE) != 0) {
        fail("malformed MQTT CONNACK: reserved acknowledge-flag bits are set");
      }
      packet.session_present = (ack_flags & 0x01) != 0;
      packet.return_code = reader.u8("return code");
      if (packet.return_code > kConnRefusedNotAuthorized) {
        fail("malformed MQTT CONNACK: return code " + std::to_string(packet.return_code) +
             " is reserved");
      }
      if (packet.return_code != kConnAccepted && packet.session_present) {
        fail("malformed MQTT CONNACK: session present set on a refused connection");
      }
      break;
    }
    case PacketType::PubAck:
    case PacketType::UnsubAck:
      expect_remaining(name, size, 2);
      packet.packet_id = read_packet_id(reader, name);
      break;
    case PacketType::PingResp:
      expect_remaining(name, size, 0);
      break;
    case PacketType::SubAck: {
      packet.packet_id = read_packet_id(reader, name);
      if (reader.left() == 0) {
        fail("malformed MQTT SUBACK: no return codes");
      }
      while (reader.left() > 0) {
        const uint8_t code = reader.u8("return code");
        if (code > 2 && code != kSubAckFailure) {
          fail("malformed MQTT SUBACK: return code " + hex_byte(code) + " is reserved");
        }
        packet.granted_qos.push_back(code);
      }
      break;
    }
    case PacketType::Publish: {
      packet.qos = (packet.flags >> 1) & 0x03;
      packet.dup = (packet.flags & 0x08) != 0;
      packet.retain = (packet.flags & 0x01) != 0;
      const uint16_t topic_length = reader.u16("topic length");
      if (topic_length > reader.left()) {
        fail("malformed MQTT PUBLISH: topic length " + std::to_string(topic_length) +
             " runs past the end of the packet (" + std::to_string(reader.left()) + " bytes left)");
      }
      packet.topic = reader.bytes(topic_length, "topic name");
      if (packet.topic.empty()) {
        fail("malformed MQTT PUBLISH: empty topic name");
      }
      if (const char *problem = mqtt_string_problem(packet.topic)) {
        fail(std::string("malformed MQTT PUBLISH: topic name ") + problem);
      }
      if (packet.topic.find_first_of("+#") != std::string::npos) {
        fail("malformed MQTT PUBLISH: topic name contains a wildcard (+ or #)");
      }
      if (packet.qos > 0) {
        packet.packet_id = read_packet_id(reader, name);
      }
      packet.payload = reader.rest();
      break;
    }
    default:
      // check_first_byte already rejected every other type.
      fail(std::string("unexpected MQTT ") + name + " from the server");
  }
  return packet;
}

}  // namespace

const char *packet_type_name(PacketType type) {
  switch (type) {
    case PacketType::Connect:
      return "CONNECT";
    case PacketType::ConnAck:
      return "CONNACK";
    case PacketType::Publish:
      return "PUBLISH";
    case PacketType::PubAck:
      return "PUBACK";
    case PacketType::PubRec:
      return "PUBREC";
    case PacketType::PubRel:
      return "PUBREL";
    case PacketType::PubComp:
      return "PUBCOMP";
    case PacketType::Subscribe:
      return "SUBSCRIBE";
    case PacketType::SubAck:
      return "SUBACK";
    case PacketType::Unsubscribe:
      return "UNSUBSCRIBE";
    case PacketType::UnsubAck:
      return "UNSUBACK";
    case PacketType::PingReq:
      return "PINGREQ";
    case PacketType::PingResp:
      return "PINGRESP";
    case PacketType::Disconnect:
      return "DISCONNECT";
  }
  return "reserved packet type";
}

std::string connack_code_description(uint8_t return_code) {
  const char *text;
  switch (return_code) {
    case kConnAccepted:
      text = "connection accepted";
      break;
    case kConnRefusedProtocolVersion:
      text = "unacceptable protocol version";
      break;
    case kConnRefusedIdentifierRejected:
      text = "client identifier rejected";
      break;
    case kConnRefusedServerUnavailable:
      text = "server unavailable";
      break;
    case kConnRefusedBadUsernameOrPassword:
      text = "bad user name or password";
      break;
    case kConnRefusedNotAuthorized:
      text = "not authorized";
      break;
    default:
      text = "reserved return code";
      break;
  }
  return std::string(text) + " (" + std::to_string(return_code) + ")";
}

std::vector<uint8_t> encode_remaining_length(size_t remaining_length) {
  if (remaining_length > kMaxRemainingLength) {
    throw std::invalid_argument("MQTT remaining length " + std::to_string(remaining_length) +
                                " exceeds the maximum 268435455");
  }
  std::vector<uint8_t> field;
  do {
    auto digit = static_cast<uint8_t>(remaining_length % 128);
    remaining_length /= 128;
    if (remaining_length > 0) {
      digit |= 0x80;
    }
    field.push_back(digit);
  } while (remaining_length > 0);
  return field;
}

std::vector<uint8_t> encode_connect(const ConnectPacket &packet) {
  require_encodable_string(packet.client_id, "client identifier");
  require_encodable_string(packet.username, "user name");
  if (packet.password && packet.password->size() > kMaxStringLength) {
    throw std::invalid_argument("MQTT password is " + std::to_string(packet.password->size()) +
                                " bytes; MQTT allows at most 65535");
  }
  if (packet.client_id.empty() && !packet.clean_session) {
    throw std::invalid_argument(
        "MQTT CONNECT with an empty client identifier needs clean_session (3.1.3-7)");
  }
  // A password needs the user-name flag (3.1.2-22); an empty user name is
  // legal, so it is sent whenever a password is.
  const bool has_username = !packet.username.empty() || packet.password.has_value();
  uint8_t connect_flags = 0;
  if (has_username) connect_flags |= kFlagUsername;
  if (packet.password) connect_flags |= kFlagPassword;
  if (packet.clean_session) connect_flags |= kFlagCleanSession;

  PacketWriter writer;
  writer.string("MQTT");
  writer.u8(kProtocolLevel311);
  writer.u8(connect_flags);
  writer.u16(packet.keep_alive);
  writer.string(packet.client_id);
  if (has_username) writer.string(packet.username);
  if (packet.password) writer.string(*packet.password);
  return writer.finish(PacketType::Connect, 0);
}

std::vector<uint8_t> encode_subscribe(uint16_t packet_id, std::string_view filter, uint8_t qos) {
  require_packet_id(packet_id, "SUBSCRIBE");
  require_qos(qos);
  require_encodable_string(filter, "topic filter");
  if (filter.empty()) {
    throw std::invalid_argument("MQTT topic filter is empty");
  }
  PacketWriter writer;
  writer.u16(packet_id);
  writer.string(filter);
  writer.u8(qos);
  // SUBSCRIBE has the fixed flags 0010 (3.8.1).
  return writer.finish(PacketType::Subscribe, 0x02);
}

std::vector<uint8_t> encode_publish(std::string_view topic, std::string_view payload, uint8_t qos,
                                    uint16_t packet_id) {
  require_qos(qos);
  require_encodable_string(topic, "topic name");
  if (topic.empty()) {
    throw std::invalid_argument("MQTT topic name is empty");
  }
  if (topic.find_first_of("+#") != std::string_view::npos) {
    throw std::invalid_argument("MQTT topic name contains a wildcard (+ or #)");
  }
  PacketWriter writer;
  writer.string(topic);
  if (qos > 0) {
    require_packet_id(packet_id, "PUBLISH with QoS 1");
    writer.u16(packet_id);
  }
  writer.raw(payload);
  return writer.finish(PacketType::Publish, static_cast<uint8_t>(qos << 1));
}

std::vector<uint8_t> encode_puback(uint16_t packet_id) {
  require_packet_id(packet_id, "PUBACK");
  PacketWriter writer;
  writer.u16(packet_id);
  return writer.finish(PacketType::PubAck, 0);
}

std::vector<uint8_t> encode_pingreq() {
  return PacketWriter().finish(PacketType::PingReq, 0);
}

std::vector<uint8_t> encode_disconnect() {
  return PacketWriter().finish(PacketType::Disconnect, 0);
}

Decoder::Decoder(size_t max_packet_size) : max_packet_size_(max_packet_size) {}

void Decoder::feed(const uint8_t *data, size_t len) {
  if (len == 0) {
    return;
  }
  // Drop consumed bytes before growing, so a long session keeps a small buffer.
  if (read_pos_ > 0 && read_pos_ >= buffer_.size() / 2) {
    buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(read_pos_));
    read_pos_ = 0;
  }
  buffer_.insert(buffer_.end(), data, data + len);
}

std::optional<Packet> Decoder::next() {
  if (failure_) {
    throw ProtocolError(*failure_);
  }
  try {
    const uint8_t *start = buffer_.data() + read_pos_;
    const size_t available = buffer_.size() - read_pos_;
    if (available == 0) {
      return std::nullopt;
    }
    check_first_byte(start[0]);

    // Remaining length: at most 4 bytes (2.2.3).
    size_t remaining = 0;
    size_t multiplier = 1;
    size_t header_size = 1;
    for (;;) {
      if (header_size > 4) {
        fail("malformed MQTT packet: remaining length uses more than 4 bytes");
      }
      if (header_size >= available) {
        return std::nullopt;  // the length field itself is incomplete
      }
      const uint8_t digit = start[header_size++];
      remaining += static_cast<size_t>(digit & 0x7F) * multiplier;
      multiplier *= 128;
      if ((digit & 0x80) == 0) {
        break;
      }
    }
    const size_t total = header_size + remaining;
    if (total > max_packet_size_) {
      fail(std::string("MQTT ") + packet_type_name(static_cast<PacketType>(start[0] >> 4)) +
           " of " + std::to_string(total) + " bytes exceeds the " +
           std::to_string(max_packet_size_) + "-byte limit");
    }
    if (available < total) {
      return std::nullopt;
    }
    Packet packet = decode_body(start[0], start + header_size, remaining);
    read_pos_ += total;
    if (read_pos_ == buffer_.size()) {
      buffer_.clear();
      read_pos_ = 0;
    }
    return packet;
  } catch (const ProtocolError &error) {
    failure_ = error.what();
    throw;
  }
}

}  // namespace prov::mqtt
