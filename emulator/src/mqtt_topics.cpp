#include "mqtt_topics.h"

#include <string_view>

#include "util.h"

namespace dpsemu {

namespace {
constexpr std::string_view kRegisterPrefix = "$dps/registrations/PUT/iotdps-register/?";
constexpr std::string_view kStatusPrefix = "$dps/registrations/GET/iotdps-get-operationstatus/?";
}  // namespace

std::optional<MqttUsername> parse_mqtt_username(const std::string &username) {
  // Split on the first two '/': scope, "registrations", id, then a query string.
  size_t first = username.find('/');
  if (first == std::string::npos || first == 0) return std::nullopt;
  constexpr std::string_view kMiddle = "registrations/";
  if (username.compare(first + 1, kMiddle.size(), kMiddle) != 0) return std::nullopt;
  size_t id_start = first + 1 + kMiddle.size();
  size_t id_end = username.find('/', id_start);
  MqttUsername out;
  out.id_scope = username.substr(0, first);
  out.registration_id = username.substr(
      id_start, id_end == std::string::npos ? std::string::npos : id_end - id_start);
  if (out.registration_id.empty()) return std::nullopt;
  if (id_end != std::string::npos) {
    std::string_view query(username);
    query.remove_prefix(id_end + 1);
    while (!query.empty()) {
      size_t amp = query.find('&');
      std::string_view pair = query.substr(0, amp);
      query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
      if (pair.rfind("api-version=", 0) == 0) out.api_version = std::string(pair.substr(12));
    }
  }
  return out;
}

std::optional<DpsTopic> parse_dps_topic(const std::string &topic) {
  DpsTopic out;
  std::string_view query;
  if (topic.rfind(kRegisterPrefix, 0) == 0) {
    out.kind = DpsTopic::Kind::kRegister;
    query = std::string_view(topic).substr(kRegisterPrefix.size());
  } else if (topic.rfind(kStatusPrefix, 0) == 0) {
    out.kind = DpsTopic::Kind::kOperationStatus;
    query = std::string_view(topic).substr(kStatusPrefix.size());
  } else {
    return std::nullopt;
  }
  bool have_rid = false;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    size_t eq = pair.find('=');
    std::string_view key = pair.substr(0, eq);
    std::string_view value =
        eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
    if (key == "$rid" || key == "%24rid") {
      out.rid = std::string(value);
      have_rid = true;
    } else if (key == "operationId") {
      auto decoded = percent_decode(value);
      if (!decoded) return std::nullopt;
      out.operation_id = *decoded;
    }
  }
  if (!have_rid || out.rid.empty()) return std::nullopt;
  if (out.kind == DpsTopic::Kind::kOperationStatus && out.operation_id.empty()) return std::nullopt;
  return out;
}

}  // namespace dpsemu
