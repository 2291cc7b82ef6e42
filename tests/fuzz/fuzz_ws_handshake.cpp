// Fuzz target: the WebSocket handshake response path (end detection, HTTP
// parsing, validation) on arbitrary server bytes.
//
// Invariants: no crash, only HandshakeError escapes; a head that validates
// is a 101 with the expected Sec-WebSocket-Accept; error messages contain no
// control characters from the input.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "transport/websocket/ws_codec.h"

using namespace prov::ws;

namespace {

constexpr std::string_view kKey = "dGhlIHNhbXBsZSBub25jZQ==";

void check_message(const HandshakeError &error) {
  for (const char *p = error.what(); *p; ++p) {
    const auto c = static_cast<unsigned char>(*p);
    FUZZ_ASSERT(c >= 0x20 && c < 0x7F);
  }
}

void parse_and_validate(std::string_view head) {
  try {
    const HandshakeResponse response = parse_handshake_response(head);
    validate_handshake_response(response, kKey, "mqtt");
    FUZZ_ASSERT(response.status_code == 101);
    FUZZ_ASSERT(response.header("sec-websocket-accept") == compute_accept(kKey));
  } catch (const HandshakeError &error) {
    check_message(error);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const std::string_view input(reinterpret_cast<const char *>(data), size);
  // As the transport uses it: find the end of the head, then parse that.
  try {
    const size_t end = find_handshake_response_end(input);
    FUZZ_ASSERT(end <= input.size());
    if (end > 0) {
      FUZZ_ASSERT(input.substr(end - 4, 4) == "\r\n\r\n");
      parse_and_validate(input.substr(0, end));
    }
  } catch (const HandshakeError &error) {
    check_message(error);
    FUZZ_ASSERT(size >= kMaxHandshakeResponseSize);
  }
  // The parser on its own, with arbitrary (also unterminated) text.
  parse_and_validate(input);
  return 0;
}
