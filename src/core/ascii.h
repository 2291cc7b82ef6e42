// ASCII case-insensitive comparison, for the protocol's case-insensitive
// names: registration ids against certificate CNs, MQTT topic property names.
// Deliberately not locale-aware: these are ASCII identifiers on the wire.
#ifndef PROV_CORE_ASCII_H
#define PROV_CORE_ASCII_H

#include <cstddef>
#include <string_view>

namespace prov::core {

inline char ascii_lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

inline bool ascii_iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

}  // namespace prov::core

#endif  // PROV_CORE_ASCII_H
