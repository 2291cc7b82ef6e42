// UTF-8 validation shared by the MQTT codec (topics and strings, MQTT 3.1.1
// section 1.5.3) and the WebSocket codec (close reasons, RFC 6455 5.5.1).
#ifndef PROV_TRANSPORT_UTF8_H
#define PROV_TRANSPORT_UTF8_H

#include <string_view>

namespace prov::transport {

// Well-formed UTF-8 (no overlong forms, no surrogates, nothing above
// U+10FFFF). Returns a description of the first problem, starting with
// "is not valid UTF-8", or nullptr when the text is valid.
const char *utf8_problem(std::string_view text) noexcept;

}  // namespace prov::transport

#endif  // PROV_TRANSPORT_UTF8_H
