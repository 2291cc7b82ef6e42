// Fuzz target: what libprov makes of a DPS response it receives — the
// PUBLISH topic (transport/dps_topic.h) and the JSON body (json/json.h).
//
// Input layout: the topic, a '\n', then the body (no '\n': topic only).
// Invariants: parse_response_topic never throws, a parsed topic has a status
// in 100..599 and a rejected response topic says why; the body parsers throw
// nothing but core::Error with PROV_E_PROTOCOL, and a body parse_problem()
// calls invalid is never accepted by parse_service_answer.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.h"
#include "fuzz_check.h"
#include "json/json.h"
#include "transport/dps_topic.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const std::string_view input(reinterpret_cast<const char *>(data), size);
  const size_t newline = input.find('\n');
  const std::string_view topic = input.substr(0, newline);

  const prov::transport::TopicParse parsed = prov::transport::parse_response_topic(topic);
  if (parsed.topic) {
    FUZZ_ASSERT(parsed.is_response);
    FUZZ_ASSERT(parsed.topic->status >= 100 && parsed.topic->status <= 599);
    FUZZ_ASSERT(!parsed.topic->retry_after_s || *parsed.topic->retry_after_s >= 0);
  } else if (parsed.is_response) {
    FUZZ_ASSERT(!parsed.problem.empty());
  }

  if (newline == std::string_view::npos) return 0;
  const std::string body(input.substr(newline + 1));
  const std::optional<std::string> problem = prov::json::parse_problem(body);
  try {
    const prov::json::ServiceAnswer answer = prov::json::parse_service_answer(body);
    FUZZ_ASSERT(!problem.has_value());
    (void)answer;
  } catch (const prov::core::Error &error) {
    FUZZ_ASSERT(error.status() == PROV_E_PROTOCOL);
    FUZZ_ASSERT(error.what()[0] != '\0');
  }
  return 0;
}
