// Fuzz target: prov::mqtt::Decoder on arbitrary server bytes.
//
// Invariants: no crash, no exception other than ProtocolError; feeding the
// same bytes at once or one at a time gives the same packets and the same
// error; every decoded PUBLISH re-encodes (encode_publish) to bytes that
// decode to the same topic, payload, QoS and packet id.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_check.h"
#include "transport/mqtt/codec.h"

using namespace prov::mqtt;

namespace {

constexpr size_t kMaxPacket = 64 * 1024;  // small limit so the size check is exercised

struct Outcome {
  std::vector<Packet> packets;
  std::string error;
};

bool same_packet(const Packet &a, const Packet &b) {
  return a.type == b.type && a.flags == b.flags && a.session_present == b.session_present &&
         a.return_code == b.return_code && a.packet_id == b.packet_id &&
         a.granted_qos == b.granted_qos && a.topic == b.topic && a.payload == b.payload &&
         a.qos == b.qos && a.retain == b.retain && a.dup == b.dup;
}

// Feeds `data` in pieces of `chunk` bytes (0 = all at once), draining packets.
Outcome decode(const uint8_t *data, size_t size, size_t chunk) {
  Outcome outcome;
  Decoder decoder(kMaxPacket);
  size_t offset = 0;
  try {
    do {
      const size_t piece = chunk == 0 ? size : std::min(chunk, size - offset);
      decoder.feed(data + offset, piece);
      offset += piece;
      while (std::optional<Packet> packet = decoder.next()) {
        outcome.packets.push_back(std::move(*packet));
      }
    } while (offset < size);
  } catch (const ProtocolError &error) {
    outcome.error = error.what();
    FUZZ_ASSERT(!outcome.error.empty());
  }
  return outcome;
}

void check_publish_round_trip(const Packet &packet) {
  FUZZ_ASSERT(packet.qos <= 1);
  FUZZ_ASSERT(!packet.topic.empty());
  const std::vector<uint8_t> wire =
      encode_publish(packet.topic, packet.payload, packet.qos, packet.packet_id);
  Decoder decoder(wire.size());
  decoder.feed(wire.data(), wire.size());
  const std::optional<Packet> again = decoder.next();
  FUZZ_ASSERT(again.has_value());
  FUZZ_ASSERT(again->topic == packet.topic && again->payload == packet.payload);
  FUZZ_ASSERT(again->qos == packet.qos && again->packet_id == packet.packet_id);
  FUZZ_ASSERT(decoder.buffered() == 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const Outcome whole = decode(data, size, 0);
  // Byte by byte for small inputs; odd-sized pieces keep big ones fast.
  const Outcome bytewise = decode(data, size, size <= 4096 ? 1 : 97);
  FUZZ_ASSERT(whole.error == bytewise.error);
  FUZZ_ASSERT(whole.packets.size() == bytewise.packets.size());
  for (size_t i = 0; i < whole.packets.size(); ++i) {
    FUZZ_ASSERT(same_packet(whole.packets[i], bytewise.packets[i]));
    const Packet &packet = whole.packets[i];
    switch (packet.type) {
      case PacketType::Publish:
        check_publish_round_trip(packet);
        break;
      case PacketType::SubAck:
        FUZZ_ASSERT(!packet.granted_qos.empty());
        break;
      case PacketType::ConnAck:
        FUZZ_ASSERT(packet.return_code <= kConnRefusedNotAuthorized);
        break;
      case PacketType::PubAck:
      case PacketType::UnsubAck:
        FUZZ_ASSERT(packet.packet_id != 0);
        break;
      case PacketType::PingResp:
        break;
      default:
        FUZZ_ASSERT(!"the decoder returned a packet type a server may not send");
    }
  }
  return 0;
}
