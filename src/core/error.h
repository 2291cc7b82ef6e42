// Error: the one exception type the library throws internally. It carries
// the public status code, a message naming the step and the cause, and, when
// the service answered, the result with the service's error details. The API
// layer's exception firewall turns it into a prov_status + last error.
#ifndef PROV_CORE_ERROR_H
#define PROV_CORE_ERROR_H

#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

#include "prov/prov.h"

namespace prov::core {

class Result;

class Error : public std::runtime_error {
 public:
  Error(prov_status status, const std::string &message)
      : std::runtime_error(message), status_(status) {}
  Error(prov_status status, const std::string &message, std::shared_ptr<Result> result)
      : std::runtime_error(message), status_(status), result_(std::move(result)) {}

  prov_status status() const noexcept { return status_; }
  // A connection failure that trying again later may cure (connection
  // refused or reset, DNS not answering yet at boot), as opposed to one that
  // will fail the same way every time (untrusted certificate, bad proxy
  // credentials). The retry policy reconnects only after transient ones.
  bool transient() const noexcept { return transient_; }
  Error &&as_transient() && {
    transient_ = true;
    return std::move(*this);
  }
  // The service's answer, when there was one (credential/service errors).
  const std::shared_ptr<Result> &result() const noexcept { return result_; }

 private:
  prov_status status_;
  std::shared_ptr<Result> result_;
  bool transient_ = false;
};

// Shorthand for argument validation failures.
[[noreturn]] inline void throw_invalid_arg(const std::string &message) {
  throw Error(PROV_E_INVALID_ARG, message);
}

}  // namespace prov::core

#endif  // PROV_CORE_ERROR_H
