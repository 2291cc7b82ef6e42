#include "transport/mqtt_transport.h"

#include "auth/crypto.h"
#include "core/error.h"
#include "core/result.h"
#include "transport/dps_topic.h"

namespace prov::transport {

using core::Error;

namespace {
constexpr const char *kResponseFilter = "$dps/registrations/res/#";
constexpr const char *kRegisterTopic = "$dps/registrations/PUT/iotdps-register/?$rid=";
constexpr const char *kStatusTopic = "$dps/registrations/GET/iotdps-get-operationstatus/?$rid=";
// DPS caps messages at 96 KB; allow headroom, refuse anything larger.
constexpr size_t kMaxPacketSize = 128 * 1024;
}  // namespace

std::string mqtt_username(const std::string &id_scope, const std::string &registration_id,
                          const std::string &api_version) {
  return id_scope + "/registrations/" + registration_id + "/api-version=" + api_version +
         "&ClientVersion=" + auth::url_encode(std::string("libprov/") + PROV_VERSION_STRING);
}

MqttTransport::MqttTransport(MqttSettings settings, std::unique_ptr<ByteStream> stream)
    : settings_(std::move(settings)), stream_(std::move(stream)), decoder_(kMaxPacketSize) {}

MqttTransport::~MqttTransport() {
  close();
}

uint16_t MqttTransport::next_packet_id() {
  if (++packet_id_ == 0) packet_id_ = 1;  // 0 is not a valid packet id
  return packet_id_;
}

void MqttTransport::send_packet(const std::vector<uint8_t> &bytes, const char *what,
                                const core::WaitBudget &budget) {
  try {
    stream_->send_all(bytes.data(), bytes.size(), budget.step(), budget);
  } catch (const Error &failure) {
    if (failure.status() == PROV_E_CONNECTION_DROPPED) connected_ = false;
    throw Error(failure.status(), std::string(failure.what()) + " (sending the " + what + ")");
  }
  last_sent_ = core::Clock::now();
}

template <typename Predicate>
std::optional<mqtt::Packet> MqttTransport::pump(const core::Deadline &until,
                                                const std::string &waiting_for, Predicate wanted) {
  if (!receive_buffer_) receive_buffer_.reset(new uint8_t[kReceiveChunk]);
  const auto keep_alive = std::chrono::seconds(settings_.keep_alive_s);
  for (;;) {
    // Packets already buffered first.
    for (;;) {
      std::optional<mqtt::Packet> packet;
      try {
        packet = decoder_.next();
      } catch (const mqtt::ProtocolError &bad) {
        throw Error(PROV_E_PROTOCOL, "MQTT: malformed packet from " + stream_->peer() +
                                         " while waiting for " + waiting_for + ": " + bad.what());
      }
      if (!packet) break;
      if (packet->type == mqtt::PacketType::Publish && packet->qos == 1) {
        // Acknowledge server publishes so it does not redeliver them.
        send_packet(mqtt::encode_puback(packet->packet_id), "MQTT PUBACK", *budget_);
      }
      if (wanted(*packet)) return packet;
    }
    if (until.expired()) return std::nullopt;

    // Wake up for keep-alive when connected and idle.
    core::Deadline wake = until;
    if (connected_) {
      wake = wake.earliest(core::Deadline(last_sent_ + keep_alive));
      if (core::Clock::now() >= last_sent_ + keep_alive) {
        send_packet(mqtt::encode_pingreq(), "MQTT PINGREQ", *budget_);
        continue;
      }
    }
    ByteStream::Received got{ByteStream::ReceiveStatus::Timeout, 0};
    try {
      got = stream_->receive(receive_buffer_.get(), kReceiveChunk, wake);
    } catch (const Error &failure) {
      // After a cancel the connection still works: close() says DISCONNECT.
      if (failure.status() != PROV_E_CANCELLED) connected_ = false;
      throw Error(failure.status(),
                  std::string(failure.what()) + " while waiting for " + waiting_for);
    }
    if (got.status == ByteStream::ReceiveStatus::Closed) {
      connected_ = false;
      throw Error(PROV_E_CONNECTION_DROPPED,
                  "connection closed by " + stream_->peer() + " while waiting for " + waiting_for);
    }
    if (got.status == ByteStream::ReceiveStatus::Data)
      decoder_.feed(receive_buffer_.get(), got.size);
  }
}

void MqttTransport::connect(const core::WaitBudget &budget) {
  budget_ = &budget;
  // A reconnect starts from a clean slate: bytes of the old connection are not ours.
  discard_handshake();
  decoder_ = mqtt::Decoder(kMaxPacketSize);
  connected_ = false;
  stream_->open(budget);

  mqtt::ConnectPacket connect;
  connect.client_id = settings_.registration_id;
  connect.username =
      mqtt_username(settings_.id_scope, settings_.registration_id, settings_.api_version);
  if (settings_.password) connect.password = settings_.password->str();
  connect.keep_alive = settings_.keep_alive_s;
  connect.clean_session = true;
  std::vector<uint8_t> connect_bytes = mqtt::encode_connect(connect);
  // The CONNECT packet and its copy of the password hold the SAS token.
  if (connect.password) auth::secure_wipe(connect.password->data(), connect.password->size());
  subscribe_id_ = next_packet_id();
  const std::vector<uint8_t> subscribe = mqtt::encode_subscribe(subscribe_id_, kResponseFilter, 1);
  // Reserved up front: a growing vector would leave copies of the token in
  // freed memory.
  handshake_bytes_.reserve(connect_bytes.size() + subscribe.size());
  handshake_bytes_.assign(connect_bytes.begin(), connect_bytes.end());
  auth::secure_wipe(connect_bytes.data(), connect_bytes.size());
  handshake_bytes_.insert(handshake_bytes_.end(), subscribe.begin(), subscribe.end());
  // Sent with the first request (or by finish_handshake before an idle wait).
  awaiting_connack_ = true;
  awaiting_suback_ = true;
  // After a server dropped a pipelined connection before its CONNACK, this
  // transport's later connections wait for CONNACK and SUBACK before the
  // first request, as MQTT clients commonly do: a server that refuses packets
  // ahead of CONNACK must not fail every retry the same way.
  if (!pipeline_first_request_) finish_handshake(budget);
}

void MqttTransport::discard_handshake() noexcept {
  if (!handshake_bytes_.empty())
    auth::secure_wipe(handshake_bytes_.data(), handshake_bytes_.size());
  handshake_bytes_.clear();
}

void MqttTransport::send_handshake(const std::vector<uint8_t> *first_request, const char *what,
                                   const core::WaitBudget &budget) {
  std::vector<uint8_t> bytes;
  bytes.reserve(handshake_bytes_.size() + (first_request ? first_request->size() : 0));
  bytes.assign(handshake_bytes_.begin(), handshake_bytes_.end());
  discard_handshake();
  if (first_request) bytes.insert(bytes.end(), first_request->begin(), first_request->end());
  try {
    send_packet(bytes, what, budget);
  } catch (...) {
    auth::secure_wipe(bytes.data(), bytes.size());
    throw;
  }
  auth::secure_wipe(bytes.data(), bytes.size());
}

const char *MqttTransport::handshake_missing() const {
  if (awaiting_connack_) return "the MQTT CONNACK";
  if (awaiting_suback_) return "the MQTT SUBACK";
  return "";
}

bool MqttTransport::absorb_handshake_packet(const mqtt::Packet &p) {
  if (awaiting_connack_) {
    // Nothing counts before CONNACK (the server answers in order).
    if (p.type != mqtt::PacketType::ConnAck) return false;
    awaiting_connack_ = false;
    if (p.return_code != mqtt::kConnAccepted) {
      const prov_status status = (p.return_code == mqtt::kConnRefusedBadUsernameOrPassword ||
                                  p.return_code == mqtt::kConnRefusedNotAuthorized)
                                     ? PROV_E_CREDENTIAL
                                     : PROV_E_CONNECTION_FAILED;
      const std::string reason =
          "MQTT CONNACK refused: " + mqtt::connack_code_description(p.return_code);
      // The server answered: the caller gets a result carrying its refusal.
      json::ServiceAnswer answer;
      answer.error_message = reason;
      throw Error(status, reason, std::make_shared<core::Result>(std::move(answer), 0));
    }
    connected_ = true;
    return true;
  }
  if (awaiting_suback_ && p.type == mqtt::PacketType::SubAck && p.packet_id == subscribe_id_) {
    awaiting_suback_ = false;
    if (p.granted_qos.empty() || p.granted_qos[0] == mqtt::kSubAckFailure) {
      throw Error(PROV_E_PROTOCOL,
                  std::string("MQTT SUBACK refused the subscription to ") + kResponseFilter);
    }
    return true;
  }
  return false;
}

void MqttTransport::finish_handshake(const core::WaitBudget &budget) {
  if (!handshake_bytes_.empty()) send_handshake(nullptr, "MQTT CONNECT", budget);
  while (*handshake_missing() != '\0') {
    const std::string waiting_for = handshake_missing();
    auto packet = pump(budget.step(), waiting_for,
                       [&](const mqtt::Packet &p) { return absorb_handshake_packet(p); });
    if (!packet) throw Error(PROV_E_TIMEOUT, budget.timeout_message(waiting_for));
  }
}

core::ServiceResponse MqttTransport::request(const std::string &topic_base,
                                             const std::string &payload,
                                             const std::string &step_name,
                                             const core::WaitBudget &budget) {
  budget_ = &budget;
  const std::string rid = std::to_string(++rid_);
  std::string topic = topic_base;
  topic.insert(topic.find("$rid=") + 5, rid);
  const uint16_t publish_id = next_packet_id();
  const std::vector<uint8_t> publish = mqtt::encode_publish(topic, payload, 1, publish_id);
  const bool pipelined = !handshake_bytes_.empty();
  // A pipelined connection the server dropped before CONNACK: see connect().
  auto note_early_drop = [&](const Error &failure) {
    if (pipelined && awaiting_connack_ && failure.status() == PROV_E_CONNECTION_DROPPED) {
      pipeline_first_request_ = false;
    }
  };
  if (pipelined) {
    // The first request of a connection: CONNECT + SUBSCRIBE + PUBLISH in one write.
    try {
      send_handshake(&publish, "MQTT CONNECT", budget);
    } catch (const Error &failure) {
      note_early_drop(failure);
      throw;
    }
  } else {
    send_packet(publish, (step_name + " request").c_str(), budget);
  }

  const std::string response_name = "the " + step_name + " response";
  // What the wait lacks first, for messages: CONNACK, SUBACK, then the response.
  std::string waiting_for = *handshake_missing() ? handshake_missing() : response_name;
  std::optional<ResponseTopic> matched;
  bool acknowledged = false;  // PUBACK seen: a timeout then lies with the answer, not the request
  std::optional<mqtt::Packet> response;
  try {
    response = pump(budget.step(), waiting_for, [&](const mqtt::Packet &p) {
      if (absorb_handshake_packet(p)) {
        waiting_for = *handshake_missing() ? handshake_missing() : response_name;
        return false;
      }
      if (awaiting_connack_) return false;
      if (p.type == mqtt::PacketType::PubAck && p.packet_id == publish_id) acknowledged = true;
      if (p.type != mqtt::PacketType::Publish) return false;
      TopicParse parsed = parse_response_topic(p.topic);
      if (!parsed.is_response) return false;
      if (!parsed.topic) {
        throw Error(PROV_E_PROTOCOL, "MQTT: unusable response topic while waiting for " +
                                         response_name + ": " + parsed.problem);
      }
      // A response to an earlier request (e.g. one that timed out) is not ours.
      if (parsed.topic->rid != rid) return false;
      matched = std::move(parsed.topic);
      return true;
    });
  } catch (const Error &failure) {
    note_early_drop(failure);
    throw;
  }
  if (!response) {
    if (*handshake_missing())
      throw Error(PROV_E_TIMEOUT, budget.timeout_message(handshake_missing()));
    throw Error(PROV_E_TIMEOUT,
                budget.timeout_message(acknowledged ? response_name
                                                    : "the MQTT PUBACK of the " + step_name +
                                                          " request (and its response)"));
  }
  core::ServiceResponse out;
  out.status = matched->status;
  out.retry_after_s = matched->retry_after_s;
  out.body = std::move(response->payload);
  return out;
}

core::ServiceResponse MqttTransport::request_register(const std::string &body,
                                                      const core::WaitBudget &budget) {
  return request(std::string(kRegisterTopic), body, "register", budget);
}

core::ServiceResponse MqttTransport::request_operation_status(const std::string &operation_id,
                                                              const core::WaitBudget &budget) {
  // Operation ids are [A-Za-z0-9.-] in practice; encode anything else.
  std::string topic = std::string(kStatusTopic) + "&operationId=" + auth::url_encode(operation_id);
  return request(topic, "", "operation status", budget);
}

void MqttTransport::idle(core::Millis duration, const core::WaitBudget &budget) {
  budget_ = &budget;
  // A connection that waits before its first request completes its
  // handshake first (the server expects CONNECT promptly; keep-alive needs it).
  finish_handshake(budget);
  core::Deadline until = core::Deadline::after(duration).earliest(budget.overall());
  pump(until, "the next poll", [](const mqtt::Packet &) { return false; });
  if (budget.overall().expired()) {
    throw Error(PROV_E_TIMEOUT, budget.timeout_message("the next poll"));
  }
}

void MqttTransport::close() noexcept {
  discard_handshake();
  awaiting_connack_ = false;
  awaiting_suback_ = false;
  if (connected_) {
    connected_ = false;
    try {
      std::vector<uint8_t> bye = mqtt::encode_disconnect();
      core::WaitBudget quick(250, 250);  // a courtesy must not hold up the caller
      stream_->send_all(bye.data(), bye.size(), quick.step(), quick);
    } catch (...) {
      // The connection is going away anyway; DISCONNECT is a courtesy.
    }
  }
  if (stream_) stream_->close();
}

}  // namespace prov::transport
