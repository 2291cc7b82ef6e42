// Fuzz target: prov::ws::FrameDecoder on arbitrary server bytes.
//
// Invariants: no crash, no exception other than ProtocolError; feeding at
// once or byte by byte gives the same events and error; control payloads
// are at most 125 bytes (so a Ping can always be answered with encode_pong);
// nothing follows a Close.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_check.h"
#include "transport/websocket/ws_codec.h"

using namespace prov::ws;

namespace {

constexpr size_t kMaxMessage = 64 * 1024;

struct Outcome {
  std::vector<Event> events;
  std::string error;
};

Outcome decode(const uint8_t *data, size_t size, size_t chunk) {
  Outcome outcome;
  FrameDecoder decoder(kMaxMessage);
  size_t offset = 0;
  try {
    do {
      const size_t piece = chunk == 0 ? size : std::min(chunk, size - offset);
      decoder.feed(data + offset, piece);
      offset += piece;
      while (std::optional<Event> event = decoder.next()) {
        outcome.events.push_back(std::move(*event));
      }
    } while (offset < size);
  } catch (const ProtocolError &error) {
    outcome.error = error.what();
    FUZZ_ASSERT(!outcome.error.empty());
  }
  return outcome;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const Outcome whole = decode(data, size, 0);
  // Byte by byte for small inputs; odd-sized pieces keep big ones fast.
  const Outcome bytewise = decode(data, size, size <= 4096 ? 1 : 97);
  FUZZ_ASSERT(whole.error == bytewise.error);
  FUZZ_ASSERT(whole.events.size() == bytewise.events.size());
  const MaskKey mask = {0x11, 0x22, 0x33, 0x44};
  for (size_t i = 0; i < whole.events.size(); ++i) {
    const Event &event = whole.events[i];
    FUZZ_ASSERT(event.type == bytewise.events[i].type);
    FUZZ_ASSERT(event.payload == bytewise.events[i].payload);
    FUZZ_ASSERT(event.close_code == bytewise.events[i].close_code);
    switch (event.type) {
      case Event::Type::Data:
        FUZZ_ASSERT(event.payload.size() <= kMaxMessage);
        break;
      case Event::Type::Ping: {
        FUZZ_ASSERT(event.payload.size() <= 125);
        const std::vector<uint8_t> pong =
            encode_pong(event.payload.data(), event.payload.size(), mask);
        FUZZ_ASSERT(pong.size() == 2 + 4 + event.payload.size());
        break;
      }
      case Event::Type::Pong:
        FUZZ_ASSERT(event.payload.size() <= 125);
        break;
      case Event::Type::Close:
        FUZZ_ASSERT(event.payload.size() <= 123);
        FUZZ_ASSERT(i + 1 == whole.events.size());
        break;
    }
  }
  return 0;
}
