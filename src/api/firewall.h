// The exception firewall of the C API: every exported function that can fail
// runs its body through guarded(), which turns any exception into a
// prov_status and the thread-local last error message. Nothing unwinds into
// C, cgo, JNI or P/Invoke frames.
#ifndef PROV_API_FIREWALL_H
#define PROV_API_FIREWALL_H

#include <exception>
#include <new>
#include <string>
#include <string_view>

#include "core/error.h"
#include "prov/prov.h"

namespace prov::api {

// Thread-local last error; copying never allocates (it must work when memory is short).
void set_last_error(std::string_view message) noexcept;
const char *last_error() noexcept;
void clear_last_error() noexcept;

// Runs body (returning int, a prov_status) and maps exceptions to statuses.
template <typename Body>
int guarded(const char *function, Body &&body) noexcept {
  try {
    return body();
  } catch (const core::Error &error) {
    set_last_error(error.what());
    return error.status();
  } catch (const std::bad_alloc &) {
    set_last_error(std::string_view("out of memory"));
    return PROV_E_NOMEM;
  } catch (const std::exception &error) {
    try {
      set_last_error(std::string("internal error in ") + function + ": " + error.what());
    } catch (...) {
      set_last_error(std::string_view("internal error (and out of memory describing it)"));
    }
    return PROV_E_INTERNAL;
  } catch (...) {
    try {
      set_last_error(std::string("internal error in ") + function + ": unknown exception");
    } catch (...) {
      set_last_error(std::string_view("internal error: unknown exception"));
    }
    return PROV_E_INTERNAL;
  }
}

}  // namespace prov::api

#endif  // PROV_API_FIREWALL_H
