#include "core/registration_flow.h"

#include "core/error.h"

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

}  // namespace

ServiceResponse RegistrationFlow::send(Step step, const std::string &payload,
                                       const WaitBudget &budget) {
  return step == Step::Register ? transport_.request_register(payload, budget)
                                : transport_.request_operation_status(payload, budget);
}

std::shared_ptr<Result> RegistrationFlow::run(const FlowRequest &request,
                                              const WaitBudget &budget) {
  transport_.connect(budget);

  Step step = Step::Register;
  std::string step_payload = request.register_body;
  uint32_t transient_attempts = 0;

  for (;;) {
    const bool polling = step == Step::Poll;
    ServiceResponse response = send(step, step_payload, budget);
    const std::string what = std::string("the ") + step_name(polling) + " response";

    json::ServiceAnswer answer;
    try {
      answer = json::parse_service_answer(response.body);
    } catch (const Error &bad_body) {
      throw Error(PROV_E_PROTOCOL, "service sent an unusable body in " + what + " (status " +
                                       std::to_string(response.status) + "): " + bad_body.what());
    }
    auto result = std::make_shared<Result>(std::move(answer), response.status);
    const json::ServiceAnswer &said = result->answer();

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
                    last_error + "; gave up after " + std::to_string(transient_attempts) + " tries",
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
      transport_.idle(*delay, budget);
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
    transport_.idle(wait, budget);
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
