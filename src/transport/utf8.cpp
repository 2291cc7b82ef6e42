#include "transport/utf8.h"

#include <cstddef>
#include <cstdint>

namespace prov::transport {

const char *utf8_problem(std::string_view text) noexcept {
  size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<uint8_t>(text[i]);
    size_t extra;
    uint32_t code_point;
    if (lead < 0x80) {
      ++i;
      continue;
    } else if ((lead & 0xE0) == 0xC0) {
      extra = 1;
      code_point = lead & 0x1F;
    } else if ((lead & 0xF0) == 0xE0) {
      extra = 2;
      code_point = lead & 0x0F;
    } else if ((lead & 0xF8) == 0xF0) {
      extra = 3;
      code_point = lead & 0x07;
    } else {
      return "is not valid UTF-8";
    }
    if (text.size() - i <= extra) {
      return "is not valid UTF-8 (truncated sequence)";
    }
    for (size_t k = 1; k <= extra; ++k) {
      const auto next = static_cast<uint8_t>(text[i + k]);
      if ((next & 0xC0) != 0x80) {
        return "is not valid UTF-8";
      }
      code_point = (code_point << 6) | (next & 0x3F);
    }
    static constexpr uint32_t kMinForLength[] = {0, 0x80, 0x800, 0x10000};
    if (code_point < kMinForLength[extra] || code_point > 0x10FFFF) {
      return "is not valid UTF-8 (overlong or out of range)";
    }
    if (code_point >= 0xD800 && code_point <= 0xDFFF) {
      return "is not valid UTF-8 (surrogate code point)";
    }
    i += extra + 1;
  }
  return nullptr;
}

}  // namespace prov::transport
