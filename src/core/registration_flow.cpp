#include "core/registration_flow.h"

#include <algorithm>

#include "core/cancel.h"
#include "core/error.h"
#include "core/wait.h"

namespace prov::core {

namespace {

const char *step_name(bool polling) {
  return polling ? "operation status" : "register";
}

// "401002 Unauthorized (trackingId abc)" from whatever the service sent.
std::string describe_service_error(const json::ServiceAnswer &answer, int http_status) {
  std::string text;
  if (answer.error_code != 0) text += std::to_string(answer.error_code);
  if (answer.error_message) text += (text.empty() ? "" : " ") + *answer.error_message;
  if (text.empty()) text = "HTTP-like status " + std::to_string(http_status) + " without details";
  if (answer.tracking_id) text += " (trackingId " + *answer.tracking_id + ")";
  return text;
}

std::string seconds_text(Millis delay) {
  return std::to_string(delay.count() / 1000) + "." + std::to_string((delay.count() % 1000) / 100) +
         " s";
}

uint32_t as_ms(Millis delay) {
  return static_cast<uint32_t>(std::clamp<int64_t>(delay.count(), 0, UINT32_MAX));
}

void throw_if_cancelled(const WaitBudget &budget, const std::string &during) {
  if (budget.cancel() != nullptr) budget.cancel()->throw_if_cancelled(during);
}

}  // namespace

bool is_retryable_failure(const Error &failure, const WaitBudget &budget) {
  if (budget.overall().expired()) return false;
  if (budget.cancel() != nullptr && budget.cancel()->cancelled()) return false;
  switch (failure.status()) {
    case PROV_E_CONNECTION_DROPPED:
    case PROV_E_TIMEOUT:  // the response timeout of one step, not the deadline
      return true;
    case PROV_E_CONNECTION_FAILED:
      return failure.transient();
    default:
      return false;
  }
}

const Observer &RegistrationFlow::silent_observer() {
  static const Observer none;
  return none;
}

ServiceResponse RegistrationFlow::send(Step step, const std::string &payload,
                                       const WaitBudget &budget) {
  return step == Step::Register ? transport_.request_register(payload, budget)
                                : transport_.request_operation_status(payload, budget);
}

void RegistrationFlow::wait_disconnected(Clock::time_point when, const WaitBudget &budget) {
  const Deadline until = Deadline(when).earliest(budget.overall());
  wait_for_signal(until, budget.cancel());
  throw_if_cancelled(budget, "while waiting to reconnect");
}

std::shared_ptr<Result> RegistrationFlow::run(const FlowRequest &request,
                                              const WaitBudget &budget) {
  Step step = Step::Register;
  std::string step_payload = request.register_body;
  // Consecutive transient failures (answers or network); reset by a 2xx.
  uint32_t transient_attempts = 0;
  bool connected = false;
  // No request before this time: a retry-after or backoff still running,
  // which a reconnect does not cut short.
  Clock::time_point not_before = Clock::now();
  // The wait an answer asked for, spent on the open connection (exactly, so
  // a retry-after is honoured as given).
  // Negative: none pending.
  Millis idle_next{-1};

  for (;;) {
    const bool polling = step == Step::Poll;
    const std::string what = std::string("the ") + step_name(polling) + " response";
    ServiceResponse response;
    try {
      throw_if_cancelled(budget, "before the " + std::string(step_name(polling)) + " request");
      if (!connected) {
        if (Clock::now() < not_before) wait_disconnected(not_before, budget);
        observer_.progress(PROV_PROGRESS_CONNECTING, request.endpoint);
        observer_.log(PROV_LOG_INFO, "connecting to " + request.endpoint);
        transport_.connect(budget);
        connected = true;
        observer_.progress(PROV_PROGRESS_CONNECTED, request.endpoint);
        observer_.log(PROV_LOG_DEBUG, "connected to " + request.endpoint);
      }
      if (idle_next.count() >= 0) {
        const Millis wait = idle_next;
        idle_next = Millis(-1);
        transport_.idle(wait, budget);
      } else if (const Millis left = std::chrono::duration_cast<Millis>(not_before - Clock::now());
                 left.count() > 0) {
        transport_.idle(left, budget);
      }
      observer_.progress(PROV_PROGRESS_REGISTERING, polling ? step_payload : "register");
      observer_.log(PROV_LOG_DEBUG, polling ? "querying operation " + step_payload
                                            : std::string("sending the register request"));
      response = send(step, step_payload, budget);
    } catch (const Error &failure) {
      if (!is_retryable_failure(failure, budget)) throw;
      idle_next = Millis(-1);
      ++transient_attempts;
      std::optional<Millis> delay = policy_.next_delay(transient_attempts, std::nullopt);
      if (!delay) {
        throw Error(failure.status(),
                    std::string(failure.what()) + "; gave up after " +
                        std::to_string(transient_attempts - 1) + " retries (retry policy)",
                    failure.result());
      }
      const Clock::time_point now = Clock::now();
      // A retry-after the service gave before the failure still applies.
      not_before = std::max(not_before, now + *delay);
      const Millis wait = std::chrono::duration_cast<Millis>(not_before - now);
      if (wait > budget.overall().remaining()) {
        throw Error(failure.status(),
                    std::string(failure.what()) + "; the retry delay of " + seconds_text(wait) +
                        " would pass the registration deadline of " +
                        std::to_string(budget.register_timeout_ms()) + " ms",
                    failure.result());
      }
      const std::string reason = std::string(failure.what()) + " (" +
                                 prov_status_str(failure.status()) + "); reconnecting" +
                                 (polling ? " to resume polling operation " + step_payload : "");
      observer_.progress(PROV_PROGRESS_RETRYING, reason, as_ms(wait));
      observer_.log(PROV_LOG_WARNING, "retry " + std::to_string(transient_attempts) + " in " +
                                          seconds_text(wait) + ": " + reason);
      transport_.close();
      connected = false;
      continue;
    }

    json::ServiceAnswer answer;
    try {
      answer = json::parse_service_answer(response.body);
    } catch (const Error &bad_body) {
      throw Error(PROV_E_PROTOCOL, "service sent an unusable body in " + what + " (status " +
                                       std::to_string(response.status) + "): " + bad_body.what());
    }
    auto result = std::make_shared<Result>(std::move(answer), response.status);
    const json::ServiceAnswer &said = result->answer();
    observer_.log(PROV_LOG_DEBUG, "service answered " + std::to_string(response.status) +
                                      " to the " + step_name(polling) + " request" +
                                      (said.status ? " (status \"" + *said.status + "\")" : ""));

    if (response.status == 401 || response.status == 403) {
      throw Error(
          PROV_E_CREDENTIAL,
          "service rejected the credential: " + describe_service_error(said, response.status),
          result);
    }
    if (RetryPolicy::is_transient(response.status)) {
      ++transient_attempts;
      std::optional<Millis> delay = policy_.next_delay(transient_attempts, response.retry_after_s);
      const std::string last_error = "service answered " + std::to_string(response.status) +
                                     " to the " + step_name(polling) +
                                     " request: " + describe_service_error(said, response.status);
      if (!delay) {
        throw Error(PROV_E_SERVICE,
                    last_error + "; gave up after " + std::to_string(transient_attempts) +
                        " tries (retry policy)",
                    result);
      }
      if (*delay > budget.overall().remaining()) {
        throw Error(PROV_E_SERVICE,
                    last_error + " (attempt " + std::to_string(transient_attempts) +
                        "); the retry delay of " + seconds_text(*delay) +
                        " would pass the registration deadline of " +
                        std::to_string(budget.register_timeout_ms()) + " ms",
                    result);
      }
      const std::string reason =
          last_error + (response.retry_after_s
                            ? "; retry-after " + std::to_string(*response.retry_after_s) + " s"
                            : std::string("; backoff"));
      observer_.progress(PROV_PROGRESS_RETRYING, reason, as_ms(*delay));
      observer_.log(PROV_LOG_WARNING, "retry " + std::to_string(transient_attempts) + " in " +
                                          seconds_text(*delay) + ": " + reason);
      not_before = Clock::now() + *delay;
      idle_next = *delay;
      continue;
    }
    if (response.status < 200 || response.status > 299) {
      throw Error(PROV_E_SERVICE,
                  "service answered " + std::to_string(response.status) + " to the " +
                      step_name(polling) +
                      " request: " + describe_service_error(said, response.status),
                  result);
    }
    transient_attempts = 0;

    if (!said.status) {
      throw Error(PROV_E_PROTOCOL, "service sent no \"status\" in " + what, result);
    }
    const std::string &status = *said.status;
    if (status == "assigned") return result;
    if (status == "failed" || status == "disabled") return handle_terminal(result);
    if (status != "assigning" && status != "unassigned") {
      throw Error(PROV_E_PROTOCOL,
                  "service sent an unknown registration status \"" + status + "\" in " + what,
                  result);
    }
    if (!said.operation_id || said.operation_id->empty()) {
      throw Error(PROV_E_PROTOCOL,
                  "service answered \"" + status + "\" without an operationId in " + what, result);
    }
    Millis wait = response.retry_after_s && *response.retry_after_s >= 0
                      ? Millis(*response.retry_after_s * 1000)
                      : request.default_poll_interval;
    if (wait > budget.overall().remaining()) {
      throw Error(PROV_E_TIMEOUT, "registration still \"" + status +
                                      "\"; the service asked to poll again in " +
                                      seconds_text(wait) + ", past the registration deadline of " +
                                      std::to_string(budget.register_timeout_ms()) + " ms");
    }
    observer_.progress(PROV_PROGRESS_ASSIGNING, *said.operation_id, as_ms(wait));
    observer_.log(PROV_LOG_INFO, "registration \"" + status + "\" (operation " +
                                     *said.operation_id + "); polling again in " +
                                     seconds_text(wait));
    not_before = Clock::now() + wait;
    idle_next = wait;
    step = Step::Poll;
    step_payload = *said.operation_id;
  }
}

std::shared_ptr<Result> RegistrationFlow::handle_terminal(const std::shared_ptr<Result> &result) {
  const json::ServiceAnswer &said = result->answer();
  std::string message = "registration ended with status \"" + *said.status + "\"";
  if (said.error_code != 0 || said.error_message) {
    message += ": " + describe_service_error(said, result->http_status());
  } else if (*said.status == "disabled") {
    message += ": the enrollment or device registration is disabled";
  }
  throw Error(PROV_E_SERVICE, message, result);
}

}  // namespace prov::core
