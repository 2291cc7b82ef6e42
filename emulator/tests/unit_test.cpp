// Unit tests of the emulator's pure parts: MQTT codec, SAS verification (against the shared
// known-answer vectors), config parsing, MQTT username/topic parsing, fault counters.
// Usage: emulator_unit_test PATH/TO/sas.json
#include <cstdio>
#include <cstring>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "config.h"
#include "faults.h"
#include "mqtt_codec.h"
#include "mqtt_topics.h"
#include "sas.h"
#include "util.h"

using namespace dpsemu;
using nlohmann::json;

static int g_failures = 0;
static int g_checks = 0;
#define CHECK(cond)                                                                 \
  do {                                                                              \
    ++g_checks;                                                                     \
    if (!(cond)) {                                                                  \
      ++g_failures;                                                                 \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
    }                                                                               \
  } while (0)

static std::vector<uint8_t> bytes(std::initializer_list<int> list) {
  std::vector<uint8_t> out;
  for (int b : list) out.push_back(static_cast<uint8_t>(b));
  return out;
}
static void append_str(std::vector<uint8_t> &out, const std::string &s) {
  out.push_back(static_cast<uint8_t>(s.size() >> 8));
  out.push_back(static_cast<uint8_t>(s.size() & 0xff));
  out.insert(out.end(), s.begin(), s.end());
}
static std::vector<uint8_t> frame(uint8_t type_flags, const std::vector<uint8_t> &body) {
  std::vector<uint8_t> out{type_flags};
  mqtt::append_remaining_length(out, body.size());
  out.insert(out.end(), body.begin(), body.end());
  return out;
}
static std::vector<uint8_t> connect_packet(const std::string &client_id, const char *user,
                                           const char *password, uint8_t level = 4) {
  std::vector<uint8_t> body;
  append_str(body, "MQTT");
  uint8_t flags = 0x02 | (user ? 0x80 : 0) | (password ? 0x40 : 0);
  body.push_back(level);
  body.push_back(flags);
  body.push_back(0);
  body.push_back(60);
  append_str(body, client_id);
  if (user) append_str(body, user);
  if (password) append_str(body, password);
  return frame(0x10, body);
}
static mqtt::ParseResult parse(const std::vector<uint8_t> &data,
                               size_t limit = mqtt::kDefaultMaxPacketSize) {
  return mqtt::parse_packet(data.data(), data.size(), limit);
}

static void test_mqtt_connect() {
  auto p = connect_packet("dev-1", "0ne/registrations/dev-1/api-version=2019-03-31", "SAS");
  auto r = parse(p);
  CHECK(r.status == mqtt::ParseStatus::kOk);
  CHECK(r.consumed == p.size());
  auto &c = std::get<mqtt::Connect>(r.packet);
  CHECK(c.client_id == "dev-1");
  CHECK(c.username && *c.username == "0ne/registrations/dev-1/api-version=2019-03-31");
  CHECK(c.password && *c.password == "SAS");
  CHECK(c.protocol_level == 4);
  CHECK(c.clean_session);
  CHECK(c.keep_alive_seconds == 60);
  // Every truncation of a valid packet asks for more, never errors or reads past the end.
  for (size_t n = 0; n < p.size(); ++n) {
    auto partial = mqtt::parse_packet(p.data(), n);
    CHECK(partial.status == mqtt::ParseStatus::kNeedMore);
  }
  // A remaining length that cuts a field short is malformed.
  auto short_body = p;
  short_body[1] = static_cast<uint8_t>(short_body[1] - 3);
  short_body.resize(short_body.size() - 3);
  CHECK(parse(short_body).status == mqtt::ParseStatus::kError);
  // Bad protocol name, reserved flag, will flags without will.
  auto bad_name = p;
  bad_name[4] = 'X';
  CHECK(parse(bad_name).status == mqtt::ParseStatus::kError);
  auto reserved = p;
  reserved[9] |= 0x01;
  CHECK(parse(reserved).status == mqtt::ParseStatus::kError);
  auto will_qos = p;
  will_qos[9] |= 0x08;
  CHECK(parse(will_qos).status == mqtt::ParseStatus::kError);
  auto flags = p;
  flags[0] = 0x11;
  CHECK(parse(flags).status == mqtt::ParseStatus::kError);
  // Trailing bytes in a CONNECT.
  auto trailing_body = std::vector<uint8_t>(p.begin() + 2, p.end());
  trailing_body.push_back(0);
  CHECK(parse(frame(0x10, trailing_body)).status == mqtt::ParseStatus::kError);
  // Level 3 parses (the session refuses it with CONNACK 1).
  auto v31 = parse(connect_packet("x", nullptr, nullptr, 3));
  CHECK(v31.status == mqtt::ParseStatus::kOk);
}

static void test_mqtt_publish_subscribe() {
  std::vector<uint8_t> body;
  append_str(body, "$dps/registrations/PUT/iotdps-register/?$rid=1");
  body.push_back(0);
  body.push_back(7);
  std::string payload = "{\"registrationId\":\"x\"}";
  body.insert(body.end(), payload.begin(), payload.end());
  auto r = parse(frame(0x32, body));
  CHECK(r.status == mqtt::ParseStatus::kOk);
  auto &pub = std::get<mqtt::Publish>(r.packet);
  CHECK(pub.qos == 1 && pub.packet_id == 7 && pub.payload == payload);
  // QoS 0 publish has no packet id.
  std::vector<uint8_t> q0;
  append_str(q0, "a/b");
  q0.push_back('x');
  auto r0 = parse(frame(0x30, q0));
  CHECK(r0.status == mqtt::ParseStatus::kOk && std::get<mqtt::Publish>(r0.packet).payload == "x");
  CHECK(parse(frame(0x34, body)).status == mqtt::ParseStatus::kError);  // QoS 2
  CHECK(parse(frame(0x36, body)).status == mqtt::ParseStatus::kError);  // QoS 3
  std::vector<uint8_t> zero_id;
  append_str(zero_id, "t");
  zero_id.push_back(0);
  zero_id.push_back(0);
  CHECK(parse(frame(0x32, zero_id)).status == mqtt::ParseStatus::kError);
  std::vector<uint8_t> wildcard;
  append_str(wildcard, "a/#");
  CHECK(parse(frame(0x30, wildcard)).status == mqtt::ParseStatus::kError);

  std::vector<uint8_t> sub{0, 5};
  append_str(sub, "$dps/registrations/res/#");
  sub.push_back(1);
  auto rs = parse(frame(0x82, sub));
  CHECK(rs.status == mqtt::ParseStatus::kOk);
  auto &s = std::get<mqtt::Subscribe>(rs.packet);
  CHECK(s.packet_id == 5 && s.filters.size() == 1 && s.filters[0].second == 1);
  CHECK(parse(frame(0x80, sub)).status == mqtt::ParseStatus::kError);     // wrong flags
  CHECK(parse(frame(0x82, {0, 5})).status == mqtt::ParseStatus::kError);  // no filters
  auto bad_qos = sub;
  bad_qos.back() = 3;
  CHECK(parse(frame(0x82, bad_qos)).status == mqtt::ParseStatus::kError);

  std::vector<uint8_t> unsub{0, 6};
  append_str(unsub, "x");
  auto ru = parse(frame(0xa2, unsub));
  CHECK(ru.status == mqtt::ParseStatus::kOk &&
        std::get<mqtt::Unsubscribe>(ru.packet).packet_id == 6);

  auto puback = parse(bytes({0x40, 0x02, 0x00, 0x00}));  // packet id 0 (.NET) is tolerated
  CHECK(puback.status == mqtt::ParseStatus::kOk);
  CHECK(parse(bytes({0x40, 0x03, 0, 0, 0})).status == mqtt::ParseStatus::kError);
  CHECK(parse(bytes({0xc0, 0x00})).status == mqtt::ParseStatus::kOk);
  CHECK(std::holds_alternative<mqtt::Pingreq>(parse(bytes({0xc0, 0x00})).packet));
  CHECK(parse(bytes({0xc0, 0x01, 0x00})).status == mqtt::ParseStatus::kError);
  CHECK(std::holds_alternative<mqtt::Disconnect>(parse(bytes({0xe0, 0x00})).packet));
  // Server-to-client and QoS 2 packet types from a client are errors.
  for (int type : {0x20, 0x50, 0x62, 0x70, 0x90, 0xb0, 0xd0, 0xf0, 0x00}) {
    CHECK(parse(bytes({type, 0x02, 0x00, 0x01})).status == mqtt::ParseStatus::kError);
  }
}

static void test_mqtt_remaining_length() {
  // Encoder edge values.
  struct Case {
    size_t value;
    std::vector<uint8_t> encoded;
  };
  std::vector<Case> cases = {{0, {0x00}},
                             {127, {0x7f}},
                             {128, {0x80, 0x01}},
                             {16383, {0xff, 0x7f}},
                             {16384, {0x80, 0x80, 0x01}},
                             {2097151, {0xff, 0xff, 0x7f}},
                             {2097152, {0x80, 0x80, 0x80, 0x01}},
                             {268435455, {0xff, 0xff, 0xff, 0x7f}}};
  for (const auto &c : cases) {
    std::vector<uint8_t> out;
    mqtt::append_remaining_length(out, c.value);
    CHECK(out == c.encoded);
  }
  // A fifth length byte is malformed.
  CHECK(parse(bytes({0x30, 0xff, 0xff, 0xff, 0xff, 0x01})).status == mqtt::ParseStatus::kError);
  // Over the 96 KB limit: rejected as soon as the length is known, before the body arrives.
  std::vector<uint8_t> big{0x30};
  mqtt::append_remaining_length(big, 96 * 1024 + 1);
  auto r = parse(big);
  CHECK(r.status == mqtt::ParseStatus::kError);
  CHECK(r.error.find("exceeds") != std::string::npos);
  std::vector<uint8_t> at_limit{0x30};
  mqtt::append_remaining_length(at_limit, 96 * 1024);
  CHECK(parse(at_limit).status == mqtt::ParseStatus::kNeedMore);
  // Incomplete length bytes need more.
  CHECK(parse(bytes({0x30, 0x80})).status == mqtt::ParseStatus::kNeedMore);
  CHECK(parse(bytes({0x30})).status == mqtt::ParseStatus::kNeedMore);
  // Two packets back to back: the first is consumed exactly.
  auto two = bytes({0xc0, 0x00, 0xe0, 0x00});
  auto first = parse(two);
  CHECK(first.status == mqtt::ParseStatus::kOk && first.consumed == 2);
}

static void test_mqtt_encoders() {
  CHECK(mqtt::encode_connack(false, 0) == bytes({0x20, 0x02, 0x00, 0x00}));
  CHECK(mqtt::encode_puback(0x1234) == bytes({0x40, 0x02, 0x12, 0x34}));
  CHECK(mqtt::encode_suback(9, {1}) == bytes({0x90, 0x03, 0x00, 0x09, 0x01}));
  CHECK(mqtt::encode_pingresp() == bytes({0xd0, 0x00}));
  auto pub = mqtt::encode_publish("t", std::string(200, 'x'), 0, 0);
  CHECK(pub[0] == 0x30 && pub[1] == 0x80 + ((203) & 0x7f) && pub[2] == 1);
  CHECK(pub.size() == 3 + 203);
}

static void test_topics_and_username() {
  auto u = parse_mqtt_username(
      "0ne00000A0A/registrations/dev-1/api-version=2019-03-31&ClientVersion=x%2F1");
  CHECK(u && u->id_scope == "0ne00000A0A" && u->registration_id == "dev-1" &&
        u->api_version == "2019-03-31");
  auto bare = parse_mqtt_username("0ne/registrations/dev-1/api-version=2021-06-01");
  CHECK(bare && bare->api_version == "2021-06-01");
  CHECK(!parse_mqtt_username("0ne/devices/dev-1/api-version=1"));
  CHECK(!parse_mqtt_username("/registrations/dev-1/"));
  CHECK(!parse_mqtt_username("garbage"));

  auto reg = parse_dps_topic("$dps/registrations/PUT/iotdps-register/?$rid=abc%2D1");
  CHECK(reg && reg->kind == DpsTopic::Kind::kRegister && reg->rid == "abc%2D1");
  auto q = parse_dps_topic(
      "$dps/registrations/GET/iotdps-get-operationstatus/?$rid=7&operationId=4.ab.c-d");
  CHECK(q && q->kind == DpsTopic::Kind::kOperationStatus && q->operation_id == "4.ab.c-d" &&
        q->rid == "7");
  CHECK(!parse_dps_topic("$dps/registrations/GET/iotdps-get-operationstatus/?$rid=7"));
  CHECK(!parse_dps_topic("$dps/registrations/PUT/iotdps-register/?foo=1"));
  CHECK(!parse_dps_topic("devices/x/messages/events/"));
}

static void test_sas_vectors(const std::string &vectors_path) {
  json vectors = json::parse(read_file(vectors_path));
  int checked = 0;
  for (const auto &v : vectors["sas"]) {
    std::string key = v["device_key"], scope = v["id_scope"], id = v["registration_id"];
    std::string message = v["string_to_sign"];
    auto raw_key = base64_decode(key);
    CHECK(raw_key.has_value());
    CHECK(sas::hmac_sha256_base64(*raw_key, message) == v["signature_base64"].get<std::string>());
    int64_t expiry = v["expiry"];
    // The vector's token verifies one second before expiry and fails at expiry.
    auto ok = sas::verify_token(v["token"].get<std::string>(), scope, id, {key}, expiry - 1);
    CHECK(ok.ok);
    auto expired = sas::verify_token(v["token"].get<std::string>(), scope, id, {key}, expiry);
    CHECK(!expired.ok && expired.reason.find("expired") != std::string::npos);
    // Wrong key, wrong registration id, wrong scope.
    CHECK(!sas::verify_token(v["token"].get<std::string>(), scope, id,
                             {"d3Jvbmcta2V5LXdyb25nLWtleQ=="}, expiry - 1)
               .ok);
    CHECK(!sas::verify_token(v["token"].get<std::string>(), scope, id + "x", {key}, expiry - 1).ok);
    CHECK(!sas::verify_token(v["token"].get<std::string>(), "0neOTHER", id, {key}, expiry - 1).ok);
    // The secondary key slot works too.
    CHECK(sas::verify_token(v["token"].get<std::string>(), scope, id,
                            {"d3Jvbmcta2V5LXdyb25nLWtleQ==", key}, expiry - 1)
              .ok);
    ++checked;
  }
  CHECK(checked >= 3);
  for (const auto &v : vectors["derived_keys"]) {
    auto derived = sas::derive_device_key(v["group_key"], v["registration_id"].get<std::string>());
    CHECK(derived && *derived == v["device_key"].get<std::string>());
  }
}

// Builds a token the way each SDK family does: sign exactly the sr text that is sent.
static std::string make_token(const std::string &sr, const std::string &key_b64, int64_t se,
                              bool with_skn, const std::string &order = "sr,sig,se,skn") {
  std::string sig =
      sas::hmac_sha256_base64(*base64_decode(key_b64), sr + "\n" + std::to_string(se));
  std::string encoded_sig;
  for (char c : sig) {
    if (c == '+')
      encoded_sig += "%2B";
    else if (c == '/')
      encoded_sig += "%2F";
    else if (c == '=')
      encoded_sig += "%3D";
    else
      encoded_sig += c;
  }
  std::vector<std::pair<std::string, std::string>> fields = {
      {"sr", sr}, {"sig", encoded_sig}, {"se", std::to_string(se)}};
  if (with_skn) fields.emplace_back("skn", "registration");
  std::string out = "SharedAccessSignature ";
  bool first = true;
  // Order the fields as requested.
  size_t pos = 0;
  while (pos <= order.size()) {
    size_t comma = order.find(',', pos);
    std::string name =
        order.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    for (const auto &f : fields) {
      if (f.first == name) {
        out += (first ? "" : "&") + f.first + "=" + f.second;
        first = false;
      }
    }
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return out;
}

static void test_sas_sr_encodings() {
  const std::string key = "ZmFrZS1kZXZpY2Uta2V5LWZvci10ZXN0cy1vbmx5LTAwMDE=";
  const std::string scope = "0ne00000A0A", id = "my-device-001";
  const int64_t now = 1700000000, se = now + 3600;
  const std::vector<std::string> srs = {
      "0ne00000A0A/registrations/my-device-001",      // Node: raw
      "0ne00000A0A%2fregistrations%2fmy-device-001",  // C SDK: lower-case hex
      "0ne00000A0A%2Fregistrations%2Fmy-device-001",  // Python / .NET: upper-case hex
      "0ne00000A0A%2fregistrations%2Fmy-device-001",  // mixed
  };
  for (const auto &sr : srs) {
    CHECK(sas::verify_token(make_token(sr, key, se, true), scope, id, {key}, now).ok);
    CHECK(sas::verify_token(make_token(sr, key, se, false), scope, id, {key}, now).ok);  // no skn
    CHECK(sas::verify_token(make_token(sr, key, se, true, "sr,skn,sig,se"), scope, id, {key}, now)
              .ok);
    CHECK(sas::verify_token(make_token(sr, key, se, true, "se,skn,sig,sr"), scope, id, {key}, now)
              .ok);
    // Registration id compared case-insensitively.
    CHECK(sas::verify_token(make_token(sr, key, se, true), scope, "MY-DEVICE-001", {key}, now).ok);
  }
  // Tampered and malformed tokens.
  std::string good = make_token(srs[0], key, se, true);
  std::string tampered = good;
  tampered[tampered.find("sig=") + 5] ^= 1;
  CHECK(!sas::verify_token(tampered, scope, id, {key}, now).ok);
  std::string error;
  CHECK(!sas::parse_token("sr=a&sig=b&se=1", error));
  CHECK(!sas::parse_token("SharedAccessSignature sig=b&se=1", error) &&
        error.find("sr") != std::string::npos);
  CHECK(!sas::parse_token("SharedAccessSignature sr=a&se=1", error) &&
        error.find("sig") != std::string::npos);
  CHECK(!sas::parse_token("SharedAccessSignature sr=a&sig=b", error) &&
        error.find("se") != std::string::npos);
  CHECK(!sas::parse_token("SharedAccessSignature sr=a&sig=%zz&se=1", error));
  CHECK(!sas::parse_token("SharedAccessSignature garbage", error));
  // A changed expiry invalidates the signature.
  std::string moved_expiry = good;
  moved_expiry.replace(moved_expiry.find("se=") + 3, std::to_string(se).size(),
                       std::to_string(se + 1));
  CHECK(!sas::verify_token(moved_expiry, scope, id, {key}, now).ok);
  auto not_int =
      sas::verify_token("SharedAccessSignature sr=a&sig=b&se=12x", scope, id, {key}, now);
  CHECK(!not_int.ok && not_int.reason.find("integer") != std::string::npos);
  // The reason never echoes the signature.
  auto wrong = sas::verify_token(good, scope, id, {"d3Jvbmcta2V5"}, now);
  CHECK(!wrong.ok && wrong.reason.find("sig=") == std::string::npos);
}

static void expect_config_error(const std::string &text, const std::string &fragment) {
  try {
    parse_config(text, ".");
    std::fprintf(stderr, "expected a config error containing '%s'\n", fragment.c_str());
    CHECK(false);
  } catch (const ConfigError &e) {
    bool has = std::string(e.what()).find(fragment) != std::string::npos;
    if (!has) std::fprintf(stderr, "config error '%s' lacks '%s'\n", e.what(), fragment.c_str());
    CHECK(has);
  }
}

static void test_config() {
  Config c = parse_config(R"({
    // comment
    "idScope": "0ne00000A0A", "iotHubs": ["a.example", "b.example"], "assignmentDelayMs": 5,
    "enrollments": [{"registrationId": "dev-1", "deviceId": "d1",
       "attestation": {"type": "symmetricKey", "primaryKey": "a2V5", "secondaryKey": "a2V5Mg=="},
       "faults": [{"type": "throttle", "every": 2, "retryAfterSeconds": 3}]}],
    "enrollmentGroups": [{"enrollmentGroupId": "g", "enabled": false,
       "attestation": {"type": "symmetricKey", "primaryKey": "Z3JvdXA="}}],
    "faults": [{"type": "drop", "after": "connect", "count": 1, "registrationId": "dev-1"}]
  })",
                          ".");
  CHECK(c.id_scope == "0ne00000A0A" && c.iot_hubs.size() == 2 && c.assignment_delay_ms == 5);
  CHECK(c.enrollments.size() == 1 && c.enrollments[0].device_id == "d1");
  CHECK(c.enrollments[0].faults.size() == 1 && c.enrollments[0].faults[0].every == 2);
  CHECK(c.enrollment_groups.size() == 1 && !c.enrollment_groups[0].enabled);
  CHECK(c.faults.size() == 1 && c.faults[0].drop_after == "connect" && c.faults[0].count == 1);

  expect_config_error("{", "not valid JSON");
  expect_config_error("[]", "must be a JSON object");
  expect_config_error("{}", "idScope");
  expect_config_error(R"({"idScope": 5})", "idScope: must be a string");
  expect_config_error(R"({"idScope": "x", "iotHubs": []})", "iotHubs");
  expect_config_error(R"({"idScope": "x", "bogus": 1})", "unknown key 'bogus'");
  expect_config_error(R"({"idScope": "x", "enrollments": [{"registrationId": "a"}]})",
                      "enrollments[0]: missing required key 'attestation'");
  expect_config_error(
      R"({"idScope": "x", "enrollments": [{"registrationId": "a", "attestation": {"type": "symmetricKey", "primaryKey": "!!"}}]})",
      "enrollments[0].attestation.primaryKey: is not valid base64");
  expect_config_error(
      R"({"idScope": "x", "enrollments": [{"registrationId": "bad id", "attestation": {"type": "symmetricKey", "primaryKey": "a2V5"}}]})",
      "invalid character");
  expect_config_error(
      R"({"idScope": "x", "enrollments": [{"registrationId": "a", "attestation": {"type": "tpm"}}]})",
      "must be 'symmetricKey' or 'x509'");
  expect_config_error(
      R"({"idScope": "x", "enrollments": [{"registrationId": "a", "attestation": {"type": "x509"}}]})",
      "exactly one of 'thumbprint' or 'caCertificates'");
  expect_config_error(
      R"({"idScope": "x", "enrollments": [{"registrationId": "a", "attestation": {"type": "x509", "caCertificates": ["/nonexistent/ca.pem"]}}]})",
      "cannot read CA certificate file");
  expect_config_error(
      R"({"idScope": "x", "enrollmentGroups": [{"enrollmentGroupId": "g", "attestation": {"type": "x509", "thumbprint": "ab"}}]})",
      "needs 'caCertificates'");
  expect_config_error(
      R"({"idScope": "x", "enrollments": [{"registrationId": "a", "attestation": {"type": "symmetricKey", "primaryKey": "a2V5"}}, {"registrationId": "A", "attestation": {"type": "symmetricKey", "primaryKey": "a2V5"}}]})",
      "duplicate registration id");
  expect_config_error(R"({"idScope": "x", "faults": [{"type": "explode"}]})",
                      "unknown fault type 'explode'");
  expect_config_error(R"({"idScope": "x", "faults": [{"type": "throttle"}]})",
                      "exactly one of 'every' or 'perMinute'");
  expect_config_error(R"({"idScope": "x", "faults": [{"type": "error", "status": 404}]})",
                      "must be 500 or 503");
  expect_config_error(R"({"idScope": "x", "faults": [{"type": "drop", "after": "later"}]})",
                      "'connect' or 'register'");
  expect_config_error(R"({"idScope": "x", "retryAfterSeconds": 0})", "between 1 and 300");
  expect_config_error(R"({"idScope": "x", "assignmentDelayMs": "5"})", "must be an integer");
}

static void test_faults() {
  FaultSpec every3;
  every3.type = FaultSpec::Type::kThrottle;
  every3.every = 3;
  FaultList list({every3}, "global");
  std::vector<bool> fired;
  for (int i = 0; i < 9; ++i)
    fired.push_back(list.evaluate(FaultPhase::kRequest, "d", true, i).has_value());
  CHECK((fired == std::vector<bool>{false, false, true, false, false, true, false, false, true}));

  FaultSpec quota;
  quota.type = FaultSpec::Type::kThrottle;
  quota.per_minute = 2;
  FaultList per_minute({quota}, "global");
  CHECK(!per_minute.evaluate(FaultPhase::kRequest, "d", true, 0));
  CHECK(!per_minute.evaluate(FaultPhase::kRequest, "d", true, 1000));
  CHECK(per_minute.evaluate(FaultPhase::kRequest, "d", true, 2000));
  CHECK(!per_minute.evaluate(FaultPhase::kRequest, "d", true, 60001));  // window slid

  FaultSpec drop_once;
  drop_once.type = FaultSpec::Type::kDrop;
  drop_once.drop_after = "connect";
  drop_once.count = 1;
  drop_once.registration_id = "Dev-A";
  FaultList drops({drop_once}, "global");
  CHECK(!drops.evaluate(FaultPhase::kRequest, "dev-a", true, 0));   // wrong phase
  CHECK(!drops.evaluate(FaultPhase::kConnect, "dev-b", false, 0));  // other device
  CHECK(drops.evaluate(FaultPhase::kConnect, "dev-a", false, 0));   // case-insensitive match
  CHECK(!drops.evaluate(FaultPhase::kConnect, "dev-a", false, 0));  // count exhausted

  FaultSpec drop_register;
  drop_register.type = FaultSpec::Type::kDrop;
  drop_register.drop_after = "register";
  FaultList reg({drop_register}, "global");
  CHECK(!reg.evaluate(FaultPhase::kRequest, "d", false, 0));  // a status query
  CHECK(reg.evaluate(FaultPhase::kRequest, "d", true, 0));
}

static void test_util() {
  CHECK(base64_encode(std::string("foobar")) == "Zm9vYmFy");
  CHECK(base64_encode(std::string("fo")) == "Zm8=");
  CHECK(base64_decode("Zm9vYg==") == std::optional<std::string>("foob"));
  CHECK(!base64_decode("Zm9vYg="));
  CHECK(!base64_decode("Zm9v*g=="));
  CHECK(!base64_decode("Zg==Zg=="));
  CHECK(percent_decode("a%2Fb%2fc") == std::optional<std::string>("a/b/c"));
  CHECK(!percent_decode("a%2"));
  CHECK(!percent_decode("%g0"));
  CHECK(registration_id_problem("dev-1.a_b:c").empty());
  CHECK(!registration_id_problem("-dev").empty());
  CHECK(!registration_id_problem("dev.").empty());
  CHECK(!registration_id_problem(std::string(129, 'a')).empty());
  std::string op = new_operation_id();
  CHECK(op.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") ==
        std::string::npos);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s PATH/TO/sas.json\n", argv[0]);
    return 2;
  }
  test_mqtt_connect();
  test_mqtt_publish_subscribe();
  test_mqtt_remaining_length();
  test_mqtt_encoders();
  test_topics_and_username();
  test_sas_vectors(argv[1]);
  test_sas_sr_encodings();
  test_config();
  test_faults();
  test_util();
  std::printf("%d checks, %d failures\n", g_checks, g_failures);
  return g_failures == 0 ? 0 : 1;
}
