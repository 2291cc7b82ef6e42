// White-box unit tests of the core's pure parts (linked against prov_internal):
// the DPS response-topic parser, the JSON codecs, the retry policy, argument
// parsers, and RegistrationFlow decisions for service answers the emulator
// cannot be made to send (driven by a scripted transport).
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "api/firewall.h"
#include "auth/crypto.h"
#include "core/cancel.h"
#include "core/error.h"
#include "core/event_loop.h"
#include "core/fiber.h"
#include "core/registration_flow.h"
#include "core/retry_policy.h"
#include "core/validate.h"
#include "core/wait.h"
#include "internal_checks.h"
#include "json/json.h"
#include "transport/dps_topic.h"
#include "transport/mqtt_transport.h"

namespace {

using prov::transport::parse_response_topic;

void test_response_topics() {
  auto t = parse_response_topic("$dps/registrations/res/202/?$rid=7&retry-after=3");
  CHECK(t.is_response && t.topic);
  CHECK(t.topic->status == 202 && t.topic->rid == "7" && t.topic->retry_after_s == 3);

  t = parse_response_topic("$dps/registrations/res/200/?$rid=1");
  CHECK(t.topic && t.topic->status == 200 && !t.topic->retry_after_s);

  // Order-free, case-insensitive retry-after; a huge value is kept as given.
  t = parse_response_topic("$dps/registrations/res/429/?Retry-After=300&$rid=abc");
  CHECK(t.topic && t.topic->rid == "abc" && t.topic->retry_after_s == 300);
  t = parse_response_topic("$dps/registrations/res/429/?$rid=1&retry-after=86400");
  CHECK(t.topic && t.topic->retry_after_s == 86400);
  // Non-integer retry-after is ignored, not guessed.
  t = parse_response_topic("$dps/registrations/res/429/?$rid=1&retry-after=1.5");
  CHECK(t.topic && !t.topic->retry_after_s);
  t = parse_response_topic("$dps/registrations/res/429/?$rid=1&retry-after=99999999999");
  CHECK(t.topic && !t.topic->retry_after_s);

  // Not a response topic at all.
  t = parse_response_topic("$iothub/twin/res/200/?$rid=1");
  CHECK(!t.is_response && !t.topic);
  // Response topics that are broken say why.
  for (const char *bad :
       {"$dps/registrations/res/", "$dps/registrations/res/abc/?$rid=1",
        "$dps/registrations/res/99/?$rid=1", "$dps/registrations/res/600/?$rid=1",
        "$dps/registrations/res/2000/?$rid=1", "$dps/registrations/res/200/$rid=1",
        "$dps/registrations/res/200/?retry-after=1", "$dps/registrations/res/200/?$rid=1&$rid=2"}) {
    t = parse_response_topic(bad);
    CHECK(t.is_response && !t.topic && !t.problem.empty());
  }
}

void test_service_answers() {
  using prov::json::parse_service_answer;
  auto a = parse_service_answer(
      R"({"operationId":"4.abc","status":"assigned","registrationState":{"registrationId":"d1",)"
      R"("assignedHub":"h.example.net","deviceId":"d1","status":"assigned","substatus":"initialAssignment",)"
      R"("createdDateTimeUtc":"2020-04-10T03:11:13Z","lastUpdatedDateTimeUtc":"2020-04-10T03:11:14Z",)"
      R"("etag":"e1","payload":{"a":[1,2]}}})");
  CHECK(a.operation_id == "4.abc" && a.status == "assigned" && a.device_id == "d1");
  CHECK(a.assigned_hub == "h.example.net" && a.substatus == "initialAssignment");
  CHECK(a.created_date_time == "2020-04-10T03:11:13Z" && a.etag == "e1");
  CHECK(a.payload_json == std::string(R"({"a":[1,2]})"));
  CHECK(a.registration_state_json &&
        a.registration_state_json->find("\"deviceId\":\"d1\"") != std::string::npos);
  CHECK(a.error_code == 0);

  a = parse_service_answer(
      R"({"errorCode":401002,"trackingId":"t-1","message":"Unauthorized","timestampUtc":"x"})");
  CHECK(a.error_code == 401002 && a.tracking_id == "t-1" && a.error_message == "Unauthorized");
  CHECK(!a.status && !a.registration_state_json);

  // Failed: details inside registrationState; errorCode as a string is accepted.
  a = parse_service_answer(
      R"({"operationId":"o","status":"failed","registrationState":{"status":"failed",)"
      R"("errorCode":"400207","errorMessage":"Custom allocation failed","payload":null}})");
  CHECK(a.status == "failed" && a.error_code == 400207);
  CHECK(a.error_message == "Custom allocation failed" && !a.payload_json);

  // Wrong types are ignored, never trusted.
  a = parse_service_answer(R"({"operationId":5,"status":["assigned"],"errorCode":1e99})");
  CHECK(!a.operation_id && !a.status && a.error_code == 0);

  CHECK_THROWS(parse_service_answer(""), PROV_E_PROTOCOL, "empty");
  CHECK_THROWS(parse_service_answer("{\"status\":"), PROV_E_PROTOCOL, "not valid JSON");
  CHECK_THROWS(parse_service_answer("[1,2]"), PROV_E_PROTOCOL, "not an object");
  CHECK_THROWS(parse_service_answer("{} trailing"), PROV_E_PROTOCOL, "not valid JSON");

  CHECK(prov::json::build_register_body("dev-1", std::nullopt) == R"({"registrationId":"dev-1"})");
  CHECK(prov::json::build_register_body("dev-1", std::string(" {\"modelId\" : \"dtmi:x;1\"} ")) ==
        R"({"registrationId":"dev-1","payload":{"modelId":"dtmi:x;1"}})");
}

void test_retry_policy() {
  using prov::core::Millis;
  using prov::core::RetryPolicy;
  CHECK(RetryPolicy::is_transient(429) && RetryPolicy::is_transient(500) &&
        RetryPolicy::is_transient(503));
  CHECK(!RetryPolicy::is_transient(401) && !RetryPolicy::is_transient(404) &&
        !RetryPolicy::is_transient(202));

  RetryPolicy policy;
  // retry-after as given: no clamping, no flooring.
  CHECK(policy.next_delay(1, 7) == Millis(7000));
  CHECK(policy.next_delay(1, 0) == Millis(0));
  CHECK(policy.next_delay(3, 400) == Millis(400000));
  // Full jitter within the doubling ceiling, capped at 30 s.
  for (uint32_t attempt = 1; attempt <= 10; ++attempt) {
    int64_t ceiling = std::min<int64_t>(30000, 1000LL << (attempt - 1));
    for (int i = 0; i < 50; ++i) {
      auto d = policy.next_delay(attempt, std::nullopt);
      CHECK(d && d->count() >= 0 && d->count() <= ceiling);
    }
  }
  RetryPolicy::Settings limited;
  limited.max_retries = 2;
  RetryPolicy two(limited);
  CHECK(two.next_delay(2, 1).has_value());
  CHECK(!two.next_delay(3, 1).has_value());
}

void test_parsers() {
  using prov::core::parse_host_port;
  auto hp = parse_host_port("[::1]:8883", "h");
  CHECK(hp.host == "::1" && hp.port == 8883 && hp.is_ipv6_literal);
  hp = parse_host_port("[fe80::1]", "h");
  CHECK(hp.host == "fe80::1" && hp.port == 0);
  hp = parse_host_port("global.azure-devices-provisioning.net", "h");
  CHECK(hp.port == 0 && !hp.is_ipv6_literal);
  CHECK_THROWS(parse_host_port("[::1]x", "h"), PROV_E_INVALID_ARG, "expected ':port' after ']'");
  CHECK_THROWS(parse_host_port("[]:1", "h"), PROV_E_INVALID_ARG, "empty IPv6 address");
  CHECK_THROWS(parse_host_port("[::g]:1", "h"), PROV_E_INVALID_ARG, "'g' is not valid in an IPv6");

  CHECK(prov::auth::url_encode("0ne/registrations/a:b_c.d-e~f g") ==
        "0ne%2Fregistrations%2Fa%3Ab_c.d-e~f%20g");
  CHECK(!prov::auth::base64_problem("QUJD").has_value());
  CHECK(prov::auth::base64_problem("QUJ").has_value());
  CHECK(prov::auth::base64_problem("QU=D").has_value());
  CHECK(prov::auth::base64_problem("QUJD\n").has_value());

  CHECK(prov::transport::mqtt_username("0ne00000A0A", "dev-1") ==
        "0ne00000A0A/registrations/dev-1/api-version=2019-03-31&ClientVersion=libprov%2F1.0.0");
}

// ---- RegistrationFlow over a scripted transport ----------------------------

class ScriptedTransport : public prov::core::RegistrationTransport {
 public:
  std::deque<prov::core::ServiceResponse> answers;
  std::vector<std::string> requests;  // "register" or the polled operation id
  prov::core::Millis idled{0};

  void connect(const prov::core::WaitBudget &) override {}
  prov::core::ServiceResponse request_register(const std::string &,
                                               const prov::core::WaitBudget &) override {
    requests.push_back("register");
    return next();
  }
  prov::core::ServiceResponse request_operation_status(const std::string &id,
                                                       const prov::core::WaitBudget &) override {
    requests.push_back(id);
    return next();
  }
  void idle(prov::core::Millis d, const prov::core::WaitBudget &) override { idled += d; }
  void close() noexcept override {}

 private:
  prov::core::ServiceResponse next() {
    if (answers.empty()) throw prov::core::Error(PROV_E_TIMEOUT, "script ran out");
    auto a = answers.front();
    answers.pop_front();
    return a;
  }
};

prov::core::ServiceResponse answer(int status, std::optional<int64_t> retry_after,
                                   std::string body) {
  prov::core::ServiceResponse r;
  r.status = status;
  r.retry_after_s = retry_after;
  r.body = std::move(body);
  return r;
}

std::shared_ptr<prov::core::Result> run_flow(ScriptedTransport &t, uint32_t deadline_ms = 60000) {
  prov::core::RegistrationFlow flow(t, prov::core::RetryPolicy());
  prov::core::FlowRequest request;
  request.register_body = "{}";
  prov::core::WaitBudget budget(deadline_ms, 30000);
  return flow.run(request, budget);
}

void test_flow() {
  const std::string assigning = R"({"operationId":"op-1","status":"assigning"})";
  const std::string assigned =
      R"({"operationId":"op-1","status":"assigned","registrationState":{"assignedHub":"h","deviceId":"d"}})";
  {
    ScriptedTransport t;
    t.answers = {answer(202, 3, assigning), answer(202, std::nullopt, assigning),
                 answer(200, std::nullopt, assigned)};
    auto result = run_flow(t);
    CHECK(result && result->answer().assigned_hub == "h");
    CHECK((t.requests == std::vector<std::string>{"register", "op-1", "op-1"}));
    // retry-after 3 s, then the 2 s default when none is given.
    CHECK(t.idled == prov::core::Millis(5000));
  }
  {
    // 429 then 503 with retry-after: the same request is re-sent after exactly that delay.
    ScriptedTransport t;
    t.answers = {answer(429, 4, R"({"errorCode":429001})"),
                 answer(503, 1, R"({"errorCode":503001})"), answer(200, std::nullopt, assigned)};
    run_flow(t);
    CHECK((t.requests == std::vector<std::string>{"register", "register", "register"}));
    CHECK(t.idled == prov::core::Millis(5000));
  }
  {
    ScriptedTransport t;
    t.answers = {answer(202, std::nullopt, R"({"status":"assigning"})")};
    CHECK_THROWS(run_flow(t), PROV_E_PROTOCOL, "without an operationId");
  }
  {
    ScriptedTransport t;
    t.answers = {answer(200, std::nullopt, R"({"operationId":"o","status":"weird"})")};
    CHECK_THROWS(run_flow(t), PROV_E_PROTOCOL, "unknown registration status \"weird\"");
  }
  {
    ScriptedTransport t;
    t.answers = {answer(200, std::nullopt, R"({"operationId":"o"})")};
    CHECK_THROWS(run_flow(t), PROV_E_PROTOCOL, "no \"status\"");
  }
  {
    // A retry-after past the deadline ends the registration at once, naming both.
    ScriptedTransport t;
    t.answers = {answer(202, 120, assigning)};
    CHECK_THROWS(run_flow(t, 5000), PROV_E_TIMEOUT,
                 "poll again in 120.0 s, past the registration deadline of 5000 ms");
  }
  {
    ScriptedTransport t;
    t.answers = {
        answer(429, 120, R"({"errorCode":429001,"message":"slow down","trackingId":"x"})")};
    try {
      run_flow(t, 5000);
      CHECK(false);
    } catch (const prov::core::Error &e) {
      CHECK(e.status() == PROV_E_SERVICE);
      CHECK(e.result() && e.result()->http_status() == 429 &&
            e.result()->answer().error_code == 429001);
      CHECK(std::string(e.what()).find("429001 slow down (trackingId x)") != std::string::npos);
    }
  }
  {
    ScriptedTransport t;
    t.answers = {answer(404, std::nullopt, R"({"errorCode":404201,"message":"not found"})")};
    CHECK_THROWS(run_flow(t), PROV_E_SERVICE,
                 "service answered 404 to the register request: 404201 not found");
  }
  {
    ScriptedTransport t;
    t.answers = {answer(200, std::nullopt,
                        R"({"operationId":"o","status":"failed","registrationState":)"
                        R"({"errorCode":400207,"errorMessage":"Custom allocation failed"}})")};
    CHECK_THROWS(run_flow(t), PROV_E_SERVICE, "status \"failed\": 400207 Custom allocation failed");
  }
  {
    ScriptedTransport t;
    t.answers = {answer(202, 0, "not json")};
    CHECK_THROWS(run_flow(t), PROV_E_PROTOCOL,
                 "unusable body in the register response (status 202)");
  }
}

// The exception firewall maps every exception to a status and a message; nothing escapes.
void test_firewall() {
  using prov::api::guarded;
  prov::api::clear_last_error();
  CHECK(guarded("f", [] { return PROV_OK; }) == PROV_OK);
  CHECK(std::string(prov::api::last_error()).empty());

  CHECK(guarded("f", []() -> int { throw prov::core::Error(PROV_E_BUSY, "busy now"); }) ==
        PROV_E_BUSY);
  CHECK(std::string(prov::api::last_error()) == "busy now");

  CHECK(guarded("f", []() -> int { throw std::bad_alloc(); }) == PROV_E_NOMEM);
  CHECK(std::string(prov::api::last_error()) == "out of memory");

  CHECK(guarded("prov_x", []() -> int { throw std::out_of_range("index 7"); }) == PROV_E_INTERNAL);
  CHECK(std::string(prov::api::last_error()) == "internal error in prov_x: index 7");

  CHECK(guarded("prov_y", []() -> int { throw 42; }) == PROV_E_INTERNAL);
  CHECK(std::string(prov::api::last_error()) == "internal error in prov_y: unknown exception");

  // A message longer than the buffer is truncated, never overflowed.
  std::string huge(10000, 'm');
  CHECK(guarded("f", [&]() -> int { throw prov::core::Error(PROV_E_SERVICE, huge); }) ==
        PROV_E_SERVICE);
  CHECK(std::string(prov::api::last_error()).size() == 2047);
}

// The fiber: runs on its own stack, yields back to resume()'s caller, and
// "who is running" is the fiber while it runs, the thread otherwise.
struct FiberProbe {
  std::vector<int> steps;
  const void *identity_inside = nullptr;
  prov::core::Fiber *current_inside = nullptr;
};

void probe_entry(void *argument) noexcept {
  auto *probe = static_cast<FiberProbe *>(argument);
  probe->steps.push_back(1);
  probe->identity_inside = prov::core::Fiber::context_identity();
  probe->current_inside = prov::core::Fiber::current();
  prov::core::Fiber::yield();
  probe->steps.push_back(3);
}

void test_fiber() {
  using prov::core::Fiber;
  FiberProbe probe;
  Fiber fiber(&probe_entry, &probe, Fiber::default_stack_size());
  const void *thread_identity = Fiber::context_identity();
  CHECK(Fiber::current() == nullptr);
  fiber.resume();
  probe.steps.push_back(2);
  CHECK(!fiber.finished());
  fiber.resume();
  CHECK(fiber.finished());
  CHECK((probe.steps == std::vector<int>{1, 2, 3}));
  CHECK(probe.current_inside == &fiber);
  CHECK(probe.identity_inside == &fiber && probe.identity_inside != thread_identity);
  CHECK(Fiber::current() == nullptr && Fiber::context_identity() == thread_identity);
}

// The wake signal: no descriptor until a blocking waiter asks; a listener
// hears the raise once; a raise from another thread ends a blocking wait.
struct CountingListener final : prov::core::WakeSignal::Listener {
  int raised = 0;
  void on_raised() noexcept override { ++raised; }
};

void test_wake_signal() {
  using namespace prov::core;
  {
    CancelSignal signal;
    CountingListener listener;
    CHECK(signal.listen(&listener));
    signal.cancel();
    signal.cancel();
    CHECK(listener.raised == 1 && signal.cancelled());
    CountingListener late;
    CHECK(!signal.listen(&late));  // already raised: not kept
    CHECK(signal.fd() >= 0);       // made on demand, readable at once
    CHECK(wait_for_signal(Deadline::after(Millis(5000)), &signal) == Wake::Signalled);
  }
  {
    CancelSignal signal;
    CountingListener listener;
    CHECK(signal.listen(&listener));
    signal.unlisten(&listener);
    signal.cancel();
    CHECK(listener.raised == 0);
  }
  {
    // A blocking waiter is woken by a raise from another thread at once.
    CancelSignal signal;
    const auto started = Clock::now();
    std::thread raiser([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(30));
      signal.cancel();
    });
    const Wake why = wait_for_signal(Deadline::after(Millis(10000)), &signal);
    raiser.join();
    CHECK(why == Wake::Signalled);
    CHECK(Clock::now() - started < std::chrono::seconds(5));
    // And the deadline alone ends a wait.
    CHECK(wait_for_signal(Deadline::after(Millis(20)), nullptr) == Wake::Timeout);
  }
}

// The event loop: bodies run on fibers (EventLoop::current() set there, not
// here); two fibers sleeping at once overlap instead of running in turn; a
// raise from this thread wakes a fiber's wait.
void test_event_loop() {
  using namespace prov::core;
  CHECK(EventLoop::current() == nullptr);
  std::atomic<int> finished{0};
  std::atomic<bool> on_loop{true};
  const auto started = Clock::now();
  for (int i = 0; i < 8; ++i) {
    EventLoop::spawn(
        [&] {
          if (EventLoop::current() == nullptr || Fiber::current() == nullptr) on_loop = false;
          wait_for_signal(Deadline::after(Millis(300)), nullptr);
          finished.fetch_add(1);
        },
        nullptr);
  }
  auto signal = std::make_shared<CancelSignal>();
  std::atomic<int> signalled{0};
  EventLoop::spawn(
      [&, signal] {
        if (wait_for_signal(Deadline::after(Millis(60000)), signal.get()) == Wake::Signalled) {
          signalled = 1;
        }
        finished.fetch_add(1);
      },
      nullptr);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  signal->cancel();
  while (finished.load() < 9 && Clock::now() - started < std::chrono::seconds(30)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  CHECK(finished.load() == 9);
  CHECK(on_loop.load());
  CHECK(signalled.load() == 1);
  // 8 sleeps of 300 ms on at most 4 threads: concurrent, not 2.4 s in turn.
  CHECK(Clock::now() - started < std::chrono::milliseconds(2000));
  CHECK(EventLoop::threads_running() >= 1 && EventLoop::threads_running() <= 4);
  while (EventLoop::fibers_alive() != 0 && Clock::now() - started < std::chrono::seconds(30)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  CHECK(EventLoop::fibers_alive() == 0);
}

}  // namespace

int main() {
  test_firewall();
  test_response_topics();
  test_service_answers();
  test_retry_policy();
  test_parsers();
  test_flow();
  test_fiber();
  test_wake_signal();
  test_event_loop();
  if (g_failures != 0) {
    std::fprintf(stderr, "%d check(s) failed\n", g_failures);
    return 1;
  }
  std::printf("all core unit checks passed\n");
  return 0;
}
