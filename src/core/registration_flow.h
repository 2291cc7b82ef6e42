// RegistrationFlow: register -> poll until a terminal status, over any
// RegistrationTransport. Owns the DPS semantics: status mapping, retry-after,
// transient retries and the deadlines. Returns the assigned result or throws
// Error (with the service's result attached when it answered).
#ifndef PROV_CORE_REGISTRATION_FLOW_H
#define PROV_CORE_REGISTRATION_FLOW_H

#include <memory>
#include <optional>
#include <string>

#include "core/deadline.h"
#include "core/result.h"
#include "core/retry_policy.h"
#include "core/transport.h"

namespace prov::core {

struct FlowRequest {
  std::string register_body;
  // Poll interval when an "assigning" answer carries no retry-after.
  Millis default_poll_interval{2000};
};

class RegistrationFlow {
 public:
  RegistrationFlow(RegistrationTransport &transport, RetryPolicy policy)
      : transport_(transport), policy_(std::move(policy)) {}

  // The budget starts when prov_client_register is called; the flow spends it.
  std::shared_ptr<Result> run(const FlowRequest &request, const WaitBudget &budget);

 private:
  enum class Step { Register, Poll };
  ServiceResponse send(Step step, const std::string &payload, const WaitBudget &budget);
  std::shared_ptr<Result> handle_terminal(const std::shared_ptr<Result> &result);

  RegistrationTransport &transport_;
  RetryPolicy policy_;
};

}  // namespace prov::core

#endif  // PROV_CORE_REGISTRATION_FLOW_H
