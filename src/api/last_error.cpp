#include <cstring>

#include "api/firewall.h"

namespace prov::api {

namespace {
// Fixed size: recording an error must not allocate or throw.
thread_local char g_last_error[2048] = "";
}  // namespace

void set_last_error(std::string_view message) noexcept {
  size_t len = message.size() < sizeof g_last_error - 1 ? message.size() : sizeof g_last_error - 1;
  std::memcpy(g_last_error, message.data(), len);
  g_last_error[len] = '\0';
}

const char *last_error() noexcept {
  return g_last_error;
}

void clear_last_error() noexcept {
  g_last_error[0] = '\0';
}

}  // namespace prov::api
