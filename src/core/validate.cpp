#include "core/validate.h"

#include <cctype>
#include <cstdio>

#include "auth/crypto.h"
#include "auth/secret.h"
#include "core/error.h"
#include "json/json.h"

namespace prov::core {

namespace {
bool is_alnum(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

std::string printable(char c) {
  if (c >= 0x20 && c < 0x7F) return std::string("'") + c + "'";
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%02X", static_cast<unsigned char>(c));
  return buf;
}

bool is_host_char(char c) {
  return is_alnum(c) || c == '-' || c == '.' || c == '_';
}
}  // namespace

std::string require_text(const char *value, const char *arg_name) {
  if (value == nullptr) throw_invalid_arg(std::string(arg_name) + " is NULL");
  if (*value == '\0') throw_invalid_arg(std::string(arg_name) + " is empty");
  return value;
}

HostPort parse_host_port(const char *value, const char *arg_name) {
  std::string text = require_text(value, arg_name);
  const std::string name(arg_name);
  HostPort result;
  std::string port_text;
  bool has_port = false;
  if (text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string::npos) {
      throw_invalid_arg(name + " \"" + text + "\": '[' without a closing ']' (use \"[::1]:8883\")");
    }
    result.host = text.substr(1, close - 1);
    result.is_ipv6_literal = true;
    if (result.host.empty()) throw_invalid_arg(name + " \"" + text + "\": empty IPv6 address");
    for (char c : result.host) {
      bool ok = std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.';
      if (!ok) {
        throw_invalid_arg(name + " \"" + text + "\": " + printable(c) +
                          " is not valid in an IPv6 address");
      }
    }
    std::string rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') {
        throw_invalid_arg(name + " \"" + text + "\": expected ':port' after ']'");
      }
      has_port = true;
      port_text = rest.substr(1);
    }
  } else {
    size_t colon = text.find(':');
    if (colon != std::string::npos && text.find(':', colon + 1) != std::string::npos) {
      throw_invalid_arg(name + " \"" + text +
                        "\": more than one ':' (write IPv6 addresses in brackets: \"[::1]:8883\")");
    }
    result.host = text.substr(0, colon);
    if (colon != std::string::npos) {
      has_port = true;
      port_text = text.substr(colon + 1);
    }
    if (result.host.empty()) throw_invalid_arg(name + " \"" + text + "\": the host name is empty");
    if (result.host.size() > 253) {
      throw_invalid_arg(name + ": the host name is longer than 253 characters");
    }
    for (char c : result.host) {
      if (!is_host_char(c)) {
        throw_invalid_arg(name + " \"" + text + "\": " + printable(c) +
                          " is not valid in a host name");
      }
    }
  }
  if (has_port) {
    if (port_text.empty())
      throw_invalid_arg(name + " \"" + text + "\": the port after ':' is empty");
    if (port_text.size() > 5) {
      throw_invalid_arg(name + " \"" + text + "\": port must be 1..65535");
    }
    int port = 0;
    for (char c : port_text) {
      if (c < '0' || c > '9') {
        throw_invalid_arg(name + " \"" + text + "\": port \"" + port_text + "\" is not a number");
      }
      port = port * 10 + (c - '0');
    }
    if (port < 1 || port > 65535) {
      throw_invalid_arg(name + " \"" + text + "\": port must be 1..65535");
    }
    result.port = port;
  }
  return result;
}

std::string validate_registration_id(const char *value, const char *arg_name) {
  std::string id = require_text(value, arg_name);
  const std::string name(arg_name);
  if (id.size() > 128) {
    throw_invalid_arg(name + " is " + std::to_string(id.size()) +
                      " characters long; the maximum is 128");
  }
  for (size_t i = 0; i < id.size(); ++i) {
    char c = id[i];
    if (!(is_alnum(c) || c == '-' || c == '.' || c == '_' || c == ':')) {
      throw_invalid_arg(name + " contains " + printable(c) + " at position " +
                        std::to_string(i + 1) +
                        "; allowed are letters, digits, '-', '.', '_', ':'");
    }
  }
  if (!is_alnum(id.front()) || !is_alnum(id.back())) {
    throw_invalid_arg(name + " \"" + id + "\" must start and end with a letter or digit");
  }
  return id;
}

std::string validate_id_scope(const char *value, const char *arg_name) {
  std::string scope = require_text(value, arg_name);
  if (scope.size() > 64) throw_invalid_arg(std::string(arg_name) + " is longer than 64 characters");
  for (char c : scope) {
    if (!is_alnum(c)) {
      throw_invalid_arg(std::string(arg_name) + " \"" + scope + "\" contains " + printable(c) +
                        "; an id scope is letters and digits, e.g. \"0ne00000A0A\"");
    }
  }
  return scope;
}

void validate_symmetric_key(const char *value, const char *arg_name, size_t min_bytes,
                            size_t max_bytes) {
  const std::string name(arg_name);
  if (value == nullptr) throw_invalid_arg(name + " is NULL");
  if (*value == '\0') throw_invalid_arg(name + " is empty");
  std::string_view text(value);
  if (auto problem = auth::base64_problem(text)) {
    throw_invalid_arg(name + " is not valid Base64: " + *problem);
  }
  std::vector<uint8_t> decoded = auth::base64_decode(text);
  size_t size = decoded.size();
  auth::secure_wipe(decoded.data(), decoded.size());
  if (size < min_bytes || size > max_bytes) {
    throw_invalid_arg(name + " decodes to " + std::to_string(size) + " bytes; it must be " +
                      std::to_string(min_bytes) + ".." + std::to_string(max_bytes) + " bytes");
  }
}

void validate_json(const char *value, const char *arg_name) {
  std::string text = require_text(value, arg_name);
  if (auto problem = json::parse_problem(text)) {
    throw_invalid_arg(std::string(arg_name) + " is not valid JSON: " + *problem);
  }
}

void require_range(int64_t value, int64_t min, int64_t max, const char *arg_name,
                   const char *unit) {
  if (value < min || value > max) {
    throw_invalid_arg(std::string(arg_name) + " " + std::to_string(value) + " is out of range " +
                      std::to_string(min) + ".." + std::to_string(max) + " " + unit);
  }
}

}  // namespace prov::core
