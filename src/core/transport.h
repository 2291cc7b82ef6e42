// The interface RegistrationFlow drives. A transport knows how to carry the
// two DPS requests (register, operation status) and deliver the service's
// answer; the flow owns the protocol logic (polling, retries, deadlines),
// so MQTT, MQTT over WebSockets and HTTPS differ only here.
#ifndef PROV_CORE_TRANSPORT_H
#define PROV_CORE_TRANSPORT_H

#include <optional>
#include <string>

#include "core/deadline.h"

namespace prov::core {

// One response of the service to a request.
struct ServiceResponse {
  int status = 0;                        // HTTP-like status (200, 202, 401, 429, ...)
  std::optional<int64_t> retry_after_s;  // as the service sent it
  std::string body;                      // JSON text
};

class RegistrationTransport {
 public:
  virtual ~RegistrationTransport() = default;

  // Opens the connection and authenticates (e.g. MQTT CONNECT + SUBSCRIBE).
  virtual void connect(const WaitBudget &budget) = 0;
  // Sends the register request and waits for its response.
  virtual ServiceResponse request_register(const std::string &body, const WaitBudget &budget) = 0;
  // Sends an operation status query and waits for its response.
  virtual ServiceResponse request_operation_status(const std::string &operation_id,
                                                   const WaitBudget &budget) = 0;
  // Waits `duration` (bounded by the deadline) while keeping the connection
  // alive (keep-alive pings, acknowledging server messages).
  virtual void idle(Millis duration, const WaitBudget &budget) = 0;
  // Closes the connection politely; never throws.
  virtual void close() noexcept = 0;
};

}  // namespace prov::core

#endif  // PROV_CORE_TRANSPORT_H
