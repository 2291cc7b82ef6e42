// RegistrationFlow: connect -> register -> poll until a terminal status, over
// any RegistrationTransport. Owns the DPS semantics: status mapping,
// retry-after, retries of transient conditions (429/5xx answers, dropped or
// refused connections, missing responses) with reconnects that resume
// polling the same operation id, cancellation and the deadlines. Returns the
// assigned result or throws Error (with the service's result attached when
// it answered).
#ifndef PROV_CORE_REGISTRATION_FLOW_H
#define PROV_CORE_REGISTRATION_FLOW_H

#include <memory>
#include <optional>
#include <string>

#include "core/deadline.h"
#include "core/observer.h"
#include "core/result.h"
#include "core/retry_policy.h"
#include "core/transport.h"

namespace prov::core {

struct FlowRequest {
  std::string register_body;
  // Poll interval when an "assigning" answer carries no retry-after.
  Millis default_poll_interval{2000};
  // "host:port over MQTT", for progress and log messages.
  std::string endpoint;
};

class RegistrationFlow {
 public:
  RegistrationFlow(RegistrationTransport &transport, RetryPolicy policy)
      : RegistrationFlow(transport, std::move(policy), silent_observer()) {}
  // `observer` must outlive the flow.
  RegistrationFlow(RegistrationTransport &transport, RetryPolicy policy, const Observer &observer)
      : transport_(transport), policy_(std::move(policy)), observer_(observer) {}

  // The budget starts when prov_client_register is called; the flow spends
  // it. The transport is connected by the flow (and reconnected after
  // transient failures); the caller closes it.
  std::shared_ptr<Result> run(const FlowRequest &request, const WaitBudget &budget);

 private:
  enum class Step { Register, Poll };
  ServiceResponse send(Step step, const std::string &payload, const WaitBudget &budget);
  std::shared_ptr<Result> handle_terminal(const std::shared_ptr<Result> &result);
  // Waits until `when` without a connection (before a reconnect); cancel-aware.
  void wait_disconnected(Clock::time_point when, const WaitBudget &budget);
  static const Observer &silent_observer();

  RegistrationTransport &transport_;
  RetryPolicy policy_;
  const Observer &observer_;
};

// Whether a failure of a network step may be retried (after a reconnect):
// dropped connections, transient connect failures and responses that did
// not come within the response timeout, but nothing once the registration
// deadline has passed or it was cancelled.
bool is_retryable_failure(const class Error &failure, const WaitBudget &budget);

}  // namespace prov::core

#endif  // PROV_CORE_REGISTRATION_FLOW_H
