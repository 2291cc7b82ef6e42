#include "transport/dps_topic.h"

#include "core/ascii.h"

namespace prov::transport {

namespace {

// Non-negative decimal integer of at most `max_digits` digits.
std::optional<int64_t> parse_decimal(std::string_view text, size_t max_digits) {
  if (text.empty() || text.size() > max_digits) return std::nullopt;
  int64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  return value;
}

}  // namespace

TopicParse parse_response_topic(std::string_view topic) {
  TopicParse out;
  if (topic.substr(0, kResponseTopicPrefix.size()) != kResponseTopicPrefix) return out;
  out.is_response = true;
  std::string_view rest = topic.substr(kResponseTopicPrefix.size());
  size_t slash = rest.find('/');
  if (slash == std::string_view::npos) {
    out.problem = "no '/' after the status";
    return out;
  }
  std::optional<int64_t> status = parse_decimal(rest.substr(0, slash), 3);
  if (!status || *status < 100 || *status > 599) {
    out.problem = "the status is not a number in 100..599";
    return out;
  }
  rest = rest.substr(slash + 1);
  if (rest.empty() || rest.front() != '?') {
    out.problem = "no '?' query after the status";
    return out;
  }
  rest = rest.substr(1);

  ResponseTopic parsed;
  parsed.status = static_cast<int>(*status);
  bool have_rid = false;
  while (!rest.empty()) {
    size_t amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    size_t eq = pair.find('=');
    std::string_view key = pair.substr(0, eq);
    std::string_view value =
        eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    if (key == "$rid") {
      if (have_rid) {
        out.problem = "$rid appears twice";
        return out;
      }
      have_rid = true;
      parsed.rid = std::string(value);
    } else if (core::ascii_iequals(key, "retry-after")) {
      // Integer seconds; anything else is ignored rather than guessed at.
      if (auto seconds = parse_decimal(value, 9)) parsed.retry_after_s = *seconds;
    }
  }
  if (!have_rid) {
    out.problem = "no $rid";
    return out;
  }
  out.topic = std::move(parsed);
  return out;
}

}  // namespace prov::transport
