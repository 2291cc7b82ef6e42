// Argument validation for the public API. Each function throws
// Error(PROV_E_INVALID_ARG) with a message naming the argument and the
// problem; secrets are never quoted back.
#ifndef PROV_CORE_VALIDATE_H
#define PROV_CORE_VALIDATE_H

#include <cstdint>
#include <string>

namespace prov::core {

struct HostPort {
  std::string host;  // without brackets, e.g. "::1"
  int port = 0;      // 0 = not given
  bool is_ipv6_literal = false;
};

// A non-NULL, non-empty string argument; returns it.
std::string require_text(const char *value, const char *arg_name);

// "host", "host:port", "[v6]", "[v6]:port". Port 1..65535.
HostPort parse_host_port(const char *value, const char *arg_name);

// 1..128 of [A-Za-z0-9-._:], first and last alphanumeric.
std::string validate_registration_id(const char *value, const char *arg_name);

// Letters and digits, 1..64 characters (DPS id scopes look like "0ne00000A0A").
std::string validate_id_scope(const char *value, const char *arg_name);

// Base64 decoding to min_bytes..max_bytes. Returns the text (caller wraps it).
void validate_symmetric_key(const char *value, const char *arg_name, size_t min_bytes,
                            size_t max_bytes);

// A JSON document (any value); the message says where parsing stopped.
void validate_json(const char *value, const char *arg_name);

// An integer in [min, max].
void require_range(int64_t value, int64_t min, int64_t max, const char *arg_name, const char *unit);

}  // namespace prov::core

#endif  // PROV_CORE_VALIDATE_H
