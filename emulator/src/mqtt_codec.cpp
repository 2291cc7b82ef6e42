#include "mqtt_codec.h"

namespace dpsemu::mqtt {

namespace {

// Reads fields from a packet's variable header and payload, remembering the first error.
class Reader {
 public:
  Reader(const uint8_t *data, size_t size) : data_(data), size_(size) {}

  bool ok() const { return error_.empty(); }
  const std::string &error() const { return error_; }
  size_t remaining() const { return size_ - pos_; }

  uint8_t byte(const char *what) {
    if (!ok()) return 0;
    if (remaining() < 1) return fail(what), 0;
    return data_[pos_++];
  }
  uint16_t u16(const char *what) {
    if (!ok()) return 0;
    if (remaining() < 2) return fail(what), 0;
    uint16_t v = static_cast<uint16_t>((data_[pos_] << 8) | data_[pos_ + 1]);
    pos_ += 2;
    return v;
  }
  // A length-prefixed string or binary field.
  std::string str(const char *what) {
    uint16_t len = u16(what);
    if (!ok()) return {};
    if (remaining() < len) return fail(what), std::string{};
    std::string s(reinterpret_cast<const char *>(data_ + pos_), len);
    pos_ += len;
    return s;
  }
  std::string rest() {
    std::string s(reinterpret_cast<const char *>(data_ + pos_), remaining());
    pos_ = size_;
    return s;
  }
  void fail(const char *what) {
    if (error_.empty()) error_ = std::string("truncated ") + what;
  }
  void fail_with(std::string message) {
    if (error_.empty()) error_ = std::move(message);
  }

 private:
  const uint8_t *data_;
  size_t size_;
  size_t pos_ = 0;
  std::string error_;
};

bool has_nul(const std::string &s) {
  return s.find('\0') != std::string::npos;
}

ParseResult error_result(std::string message) {
  ParseResult r;
  r.status = ParseStatus::kError;
  r.error = std::move(message);
  return r;
}

ParseResult ok_result(Packet packet) {
  ParseResult r;
  r.status = ParseStatus::kOk;
  r.packet = std::move(packet);
  return r;
}

ParseResult parse_connect(uint8_t flags, Reader &r) {
  if (flags != 0) return error_result("CONNECT with non-zero fixed-header flags");
  Connect c;
  c.protocol_name = r.str("CONNECT protocol name");
  c.protocol_level = r.byte("CONNECT protocol level");
  uint8_t connect_flags = r.byte("CONNECT flags");
  c.keep_alive_seconds = r.u16("CONNECT keep-alive");
  if (!r.ok()) return error_result(r.error());
  if (c.protocol_name != "MQTT" && c.protocol_name != "MQIsdp") {
    return error_result("CONNECT with unknown protocol name");
  }
  if (connect_flags & 0x01) return error_result("CONNECT reserved flag set");
  c.clean_session = connect_flags & 0x02;
  bool will = connect_flags & 0x04;
  c.will_qos = (connect_flags >> 3) & 0x03;
  c.will_retain = connect_flags & 0x20;
  bool has_password = connect_flags & 0x40;
  bool has_username = connect_flags & 0x80;
  if (!will && (c.will_qos != 0 || c.will_retain)) {
    return error_result("CONNECT will QoS/retain set without a will");
  }
  if (c.will_qos > 2) return error_result("CONNECT will QoS 3");
  c.client_id = r.str("CONNECT client id");
  if (will) {
    c.will_topic = r.str("CONNECT will topic");
    c.will_message = r.str("CONNECT will message");
  }
  if (has_username) c.username = r.str("CONNECT username");
  if (has_password) c.password = r.str("CONNECT password");
  if (!r.ok()) return error_result(r.error());
  if (r.remaining() != 0) return error_result("CONNECT has trailing bytes");
  if (has_nul(c.client_id) || (c.username && has_nul(*c.username))) {
    return error_result("CONNECT string contains U+0000");
  }
  return ok_result(std::move(c));
}

ParseResult parse_publish(uint8_t flags, Reader &r) {
  Publish p;
  p.dup = flags & 0x08;
  p.qos = (flags >> 1) & 0x03;
  p.retain = flags & 0x01;
  if (p.qos == 3) return error_result("PUBLISH with QoS 3");
  if (p.qos == 2) return error_result("PUBLISH with QoS 2 (not supported by DPS)");
  p.topic = r.str("PUBLISH topic");
  if (p.qos > 0) p.packet_id = r.u16("PUBLISH packet id");
  if (!r.ok()) return error_result(r.error());
  if (p.topic.empty()) return error_result("PUBLISH with an empty topic");
  if (has_nul(p.topic)) return error_result("PUBLISH topic contains U+0000");
  if (p.topic.find_first_of("+#") != std::string::npos) {
    return error_result("PUBLISH topic contains a wildcard");
  }
  if (p.qos > 0 && p.packet_id == 0) return error_result("PUBLISH with packet id 0");
  p.payload = r.rest();
  return ok_result(std::move(p));
}

ParseResult parse_subscribe(uint8_t flags, Reader &r) {
  if (flags != 0x02) return error_result("SUBSCRIBE with fixed-header flags other than 0010");
  Subscribe s;
  s.packet_id = r.u16("SUBSCRIBE packet id");
  while (r.ok() && r.remaining() > 0) {
    std::string filter = r.str("SUBSCRIBE topic filter");
    uint8_t qos = r.byte("SUBSCRIBE requested QoS");
    if (!r.ok()) break;
    if (qos > 2) return error_result("SUBSCRIBE with invalid requested QoS byte");
    if (filter.empty()) return error_result("SUBSCRIBE with an empty topic filter");
    s.filters.emplace_back(std::move(filter), qos);
  }
  if (!r.ok()) return error_result(r.error());
  if (s.filters.empty()) return error_result("SUBSCRIBE without topic filters");
  return ok_result(std::move(s));
}

ParseResult parse_unsubscribe(uint8_t flags, Reader &r) {
  if (flags != 0x02) return error_result("UNSUBSCRIBE with fixed-header flags other than 0010");
  Unsubscribe u;
  u.packet_id = r.u16("UNSUBSCRIBE packet id");
  while (r.ok() && r.remaining() > 0) u.filters.push_back(r.str("UNSUBSCRIBE topic filter"));
  if (!r.ok()) return error_result(r.error());
  if (u.filters.empty()) return error_result("UNSUBSCRIBE without topic filters");
  return ok_result(std::move(u));
}

std::string check_first_byte(uint8_t type, uint8_t flags) {
  switch (static_cast<PacketType>(type)) {
    case PacketType::kConnect:
    case PacketType::kPuback:
    case PacketType::kPingreq:
    case PacketType::kDisconnect:
      if (flags != 0) return "packet type " + std::to_string(type) + " with non-zero flags";
      return {};
    case PacketType::kSubscribe:
    case PacketType::kUnsubscribe:
      if (flags != 0x02) return "(UN)SUBSCRIBE with fixed-header flags other than 0010";
      return {};
    case PacketType::kPublish:
      if (((flags >> 1) & 0x03) == 3) return "PUBLISH with QoS 3";
      if (((flags >> 1) & 0x03) == 2) return "PUBLISH with QoS 2 (not supported by DPS)";
      return {};
    case PacketType::kPubrec:
    case PacketType::kPubrel:
    case PacketType::kPubcomp:
      return "QoS 2 flow packet (type " + std::to_string(type) + ") not supported by DPS";
    default:
      return "packet type " + std::to_string(type) + " not allowed from a client";
  }
}

}  // namespace

ParseResult parse_packet(const uint8_t *data, size_t size, size_t max_packet_size) {
  if (size == 0) return {};
  uint8_t type_byte = data[0];
  uint8_t type = type_byte >> 4;
  uint8_t flags = type_byte & 0x0f;
  // Judge the first byte at once, so garbage is refused without waiting for more input.
  std::string first_byte_problem = check_first_byte(type, flags);
  if (!first_byte_problem.empty()) return error_result(first_byte_problem);
  if (size < 2) return {};

  // Remaining length: 1 to 4 bytes, 7 bits each, high bit = continuation.
  size_t remaining_length = 0;
  size_t header_len = 1;
  for (int i = 0;; ++i) {
    if (i == 4) return error_result("remaining length longer than 4 bytes");
    if (header_len >= size) return {};  // need more
    uint8_t b = data[header_len++];
    remaining_length |= size_t{static_cast<uint8_t>(b & 0x7f)} << (7 * i);
    if ((b & 0x80) == 0) break;
  }
  if (remaining_length > max_packet_size) {
    return error_result("packet of " + std::to_string(remaining_length) +
                        " bytes exceeds the limit of " + std::to_string(max_packet_size));
  }
  if (size - header_len < remaining_length) return {};  // need more

  Reader r(data + header_len, remaining_length);
  ParseResult result;
  switch (static_cast<PacketType>(type)) {
    case PacketType::kConnect:
      result = parse_connect(flags, r);
      break;
    case PacketType::kPublish:
      result = parse_publish(flags, r);
      break;
    case PacketType::kPuback: {
      if (flags != 0) return error_result("PUBACK with non-zero flags");
      if (remaining_length != 2) return error_result("PUBACK with remaining length != 2");
      result = ok_result(Puback{r.u16("PUBACK packet id")});
      break;
    }
    case PacketType::kSubscribe:
      result = parse_subscribe(flags, r);
      break;
    case PacketType::kUnsubscribe:
      result = parse_unsubscribe(flags, r);
      break;
    case PacketType::kPingreq:
      if (flags != 0 || remaining_length != 0) return error_result("malformed PINGREQ");
      result = ok_result(Pingreq{});
      break;
    case PacketType::kDisconnect:
      if (flags != 0 || remaining_length != 0) return error_result("malformed DISCONNECT");
      result = ok_result(Disconnect{});
      break;
    default:  // check_first_byte has refused every other type already
      return error_result("packet type " + std::to_string(type) + " not allowed from a client");
  }
  if (result.status == ParseStatus::kOk) result.consumed = header_len + remaining_length;
  return result;
}

void append_remaining_length(std::vector<uint8_t> &out, size_t value) {
  do {
    uint8_t b = value % 128;
    value /= 128;
    if (value > 0) b |= 0x80;
    out.push_back(b);
  } while (value > 0);
}

namespace {
void append_u16(std::vector<uint8_t> &out, uint16_t v) {
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v & 0xff));
}
}  // namespace

std::vector<uint8_t> encode_connack(bool session_present, uint8_t return_code) {
  return {0x20, 0x02, static_cast<uint8_t>(session_present ? 1 : 0), return_code};
}

std::vector<uint8_t> encode_publish(const std::string &topic, const std::string &payload,
                                    uint8_t qos, uint16_t packet_id) {
  std::vector<uint8_t> out;
  out.push_back(static_cast<uint8_t>(0x30 | (qos << 1)));
  size_t len = 2 + topic.size() + (qos > 0 ? 2 : 0) + payload.size();
  append_remaining_length(out, len);
  append_u16(out, static_cast<uint16_t>(topic.size()));
  out.insert(out.end(), topic.begin(), topic.end());
  if (qos > 0) append_u16(out, packet_id);
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

std::vector<uint8_t> encode_puback(uint16_t packet_id) {
  std::vector<uint8_t> out{0x40, 0x02};
  append_u16(out, packet_id);
  return out;
}

std::vector<uint8_t> encode_suback(uint16_t packet_id, const std::vector<uint8_t> &return_codes) {
  std::vector<uint8_t> out{0x90};
  append_remaining_length(out, 2 + return_codes.size());
  append_u16(out, packet_id);
  out.insert(out.end(), return_codes.begin(), return_codes.end());
  return out;
}

std::vector<uint8_t> encode_unsuback(uint16_t packet_id) {
  std::vector<uint8_t> out{0xb0, 0x02};
  append_u16(out, packet_id);
  return out;
}

std::vector<uint8_t> encode_pingresp() {
  return {0xd0, 0x00};
}

}  // namespace dpsemu::mqtt
