// Fuzz target: the MQTT packet parser and the DPS username/topic parsers, fed arbitrary bytes as
// a connection's byte stream would be.
#include <cstddef>
#include <cstdint>
#include <variant>

#include "mqtt_codec.h"
#include "mqtt_topics.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  size_t offset = 0;
  // Parse packets back to back, as the session does, until the input is exhausted or bad.
  while (offset < size) {
    auto result = dpsemu::mqtt::parse_packet(data + offset, size - offset, 4096);
    if (result.status != dpsemu::mqtt::ParseStatus::kOk) break;
    if (result.consumed == 0 || result.consumed > size - offset) __builtin_trap();
    offset += result.consumed;
    if (auto *connect = std::get_if<dpsemu::mqtt::Connect>(&result.packet)) {
      if (connect->username) (void)dpsemu::parse_mqtt_username(*connect->username);
    } else if (auto *publish = std::get_if<dpsemu::mqtt::Publish>(&result.packet)) {
      (void)dpsemu::parse_dps_topic(publish->topic);
    }
  }
  return 0;
}
