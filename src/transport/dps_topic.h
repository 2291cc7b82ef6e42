// Parsing of DPS response topics:
//   $dps/registrations/res/{status}/?$rid={rid}[&retry-after={seconds}]
// Every byte comes from the network: parsing is defensive and never throws.
#ifndef PROV_TRANSPORT_DPS_TOPIC_H
#define PROV_TRANSPORT_DPS_TOPIC_H

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace prov::transport {

inline constexpr std::string_view kResponseTopicPrefix = "$dps/registrations/res/";

struct ResponseTopic {
  int status = 0;
  std::string rid;
  std::optional<int64_t> retry_after_s;
};

struct TopicParse {
  std::optional<ResponseTopic> topic;  // set when the topic is a valid response topic
  bool is_response = false;            // starts with the response prefix
  std::string problem;                 // why a response topic was rejected
};

TopicParse parse_response_topic(std::string_view topic);

}  // namespace prov::transport

#endif  // PROV_TRANSPORT_DPS_TOPIC_H
