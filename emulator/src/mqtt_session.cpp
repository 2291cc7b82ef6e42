#include "mqtt_session.h"

#include "log.h"
#include "util.h"

namespace dpsemu {

namespace {
constexpr std::string_view kResponseFilter = "$dps/registrations/res/#";

// CONNACK return codes (MQTT 3.1.1 section 3.2.2.3).
constexpr uint8_t kConnackAccepted = 0;
constexpr uint8_t kConnackBadProtocol = 1;
constexpr uint8_t kConnackIdentifierRejected = 2;
constexpr uint8_t kConnackBadUsernameOrPassword = 4;

double elapsed_ms(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - since)
      .count();
}

// The $rid a fault-injected reply uses instead of the client's.
std::string wrong_rid(const std::string &rid) {
  bool numeric =
      !rid.empty() && rid.size() < 9 && rid.find_first_not_of("0123456789") == std::string::npos;
  if (numeric) return std::to_string(std::stol(rid) + 1);
  return "wrong-" + rid;
}
}  // namespace

MqttSession::MqttSession(std::shared_ptr<MqttTransport> transport, RegistrationService &service)
    : transport_(std::move(transport)),
      service_(service),
      idle_timer_(transport_->executor()),
      idle_timeout_(kFirstPacketTimeout) {}

void MqttSession::start() {
  service_.count_connection(transport_->name());
  context_.transport = transport_->name();
  context_.peer_chain_pem = transport_->peer_chain();
  arm_idle_timer(kFirstPacketTimeout);
  read_more();
}

void MqttSession::arm_idle_timer(std::chrono::steady_clock::duration timeout) {
  idle_timeout_ = timeout;
  idle_timer_.expires_after(timeout);
  idle_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
    if (ec) return;  // re-armed or closed
    self->close(self->connected_ ? "keep-alive expired" : "no CONNECT in time");
  });
}

void MqttSession::read_more() {
  if (closed_) return;
  transport_->async_read(
      [self = shared_from_this()](beast::error_code ec, const uint8_t *data, size_t size) {
        if (ec) {
          self->close(ec == asio::error::eof || ec == websocket::error::closed
                          ? "peer closed"
                          : "read error: " + ec.message());
          return;
        }
        self->on_bytes(data, size);
        self->read_more();
      });
}

void MqttSession::on_bytes(const uint8_t *data, size_t size) {
  if (closed_) return;
  inbox_.insert(inbox_.end(), data, data + size);
  if (!connected_ && !inbox_.empty() &&
      static_cast<mqtt::PacketType>(inbox_[0] >> 4) != mqtt::PacketType::kConnect) {
    close("packet before CONNECT");
    return;
  }
  size_t offset = 0;
  while (!closed_) {
    auto result = mqtt::parse_packet(inbox_.data() + offset, inbox_.size() - offset);
    if (result.status == mqtt::ParseStatus::kNeedMore) break;
    if (result.status == mqtt::ParseStatus::kError) {
      close("malformed packet: " + result.error);
      return;
    }
    offset += result.consumed;
    if (connected_) arm_idle_timer(idle_timeout_);
    bool keep_open = std::visit(
        [this](auto &packet) -> bool {
          using T = std::decay_t<decltype(packet)>;
          if constexpr (std::is_same_v<T, mqtt::Connect>) {
            return handle(packet);
          } else {
            if (!connected_) {
              close("packet before CONNECT");
              return false;
            }
            if constexpr (std::is_same_v<T, mqtt::Publish>) {
              return handle(packet);
            } else if constexpr (std::is_same_v<T, mqtt::Subscribe>) {
              return handle(packet);
            } else if constexpr (std::is_same_v<T, mqtt::Unsubscribe>) {
              send(mqtt::encode_unsuback(packet.packet_id));
              return true;
            } else if constexpr (std::is_same_v<T, mqtt::Puback>) {
              return true;  // .NET acknowledges even QoS 0 responses (packet id 0): ignore
            } else if constexpr (std::is_same_v<T, mqtt::Pingreq>) {
              send(mqtt::encode_pingresp());
              return true;
            } else {
              close("client disconnected");
              return false;
            }
          }
        },
        result.packet);
    if (!keep_open) return;
  }
  inbox_.erase(inbox_.begin(), inbox_.begin() + static_cast<std::ptrdiff_t>(offset));
}

bool MqttSession::handle(mqtt::Connect &packet) {
  if (connected_) {
    close("second CONNECT");
    return false;
  }
  auto started = std::chrono::steady_clock::now();
  auto refuse = [&](uint8_t code, const std::string &why) {
    send(mqtt::encode_connack(false, code));
    log::request(context_.transport, packet.client_id, "connect", 0,
                 "refused-" + std::to_string(code), elapsed_ms(started), {{"reason", why}});
    close("CONNECT refused: " + why);
    return false;
  };
  if (packet.protocol_level != 4) return refuse(kConnackBadProtocol, "MQTT 3.1.1 only");
  if (!packet.username) return refuse(kConnackBadUsernameOrPassword, "no username");
  auto username = parse_mqtt_username(*packet.username);
  if (!username) {
    return refuse(kConnackBadUsernameOrPassword,
                  "username is not {idScope}/registrations/{registrationId}/api-version=...");
  }
  if (!iequals(packet.client_id, username->registration_id)) {
    return refuse(kConnackIdentifierRejected, "client id differs from the username's id");
  }
  context_.id_scope = username->id_scope;
  context_.registration_id = username->registration_id;
  if (packet.password) context_.sas_token = *packet.password;

  if (service_.drop_on_connect(context_.transport, context_.registration_id)) {
    close("fault: drop after connect");
    return false;
  }
  connected_ = true;
  // Authentication happens per request: real DPS accepts the CONNECT and answers res/401.
  send(mqtt::encode_connack(false, kConnackAccepted));
  int keep_alive = packet.keep_alive_seconds;
  arm_idle_timer(keep_alive > 0 ? std::chrono::milliseconds(keep_alive * 1500)
                                : std::chrono::milliseconds(30 * 60 * 1000));
  log::request(context_.transport, context_.registration_id, "connect", 0, "accepted",
               elapsed_ms(started), {{"apiVersion", username->api_version}});
  return true;
}

bool MqttSession::handle(mqtt::Subscribe &packet) {
  std::vector<uint8_t> granted;
  for (const auto &[filter, qos] : packet.filters) {
    if (filter != kResponseFilter) {
      close("subscription to unsupported filter '" + filter + "'");
      return false;
    }
    granted.push_back(std::min<uint8_t>(qos, 1));
  }
  send(mqtt::encode_suback(packet.packet_id, granted));
  return true;
}

bool MqttSession::handle(mqtt::Publish &packet) {
  auto started = std::chrono::steady_clock::now();
  auto topic = parse_dps_topic(packet.topic);
  if (!topic) {
    close("publish to unsupported topic '" + packet.topic.substr(0, 200) + "'");
    return false;
  }
  bool is_register = topic->kind == DpsTopic::Kind::kRegister;
  ServiceReply reply = is_register ? service_.register_device(context_, packet.payload)
                                   : service_.operation_status(context_, topic->operation_id);
  std::string op = is_register ? "register" : "query";
  if (reply.delivery == Delivery::kDropConnection) {
    log::request(context_.transport, context_.registration_id, op, 0, reply.result,
                 elapsed_ms(started));
    close("fault: drop after " + op);
    return false;
  }
  // PUBACK strictly before the response publish: .NET fails otherwise.
  if (packet.qos == 1 && reply.delivery != Delivery::kSilentNoPuback) {
    send(mqtt::encode_puback(packet.packet_id));
  }
  if (reply.delivery == Delivery::kSilent || reply.delivery == Delivery::kSilentNoPuback) {
    log::request(context_.transport, context_.registration_id, op, 0, reply.result,
                 elapsed_ms(started));
    return true;
  }
  std::string rid = reply.wrong_rid ? wrong_rid(topic->rid) : topic->rid;
  std::string response_topic =
      "$dps/registrations/res/" + std::to_string(reply.status) + "/?$rid=" + rid;
  if (reply.retry_after_seconds) {
    response_topic += "&retry-after=" + std::to_string(*reply.retry_after_seconds);
  }
  send(mqtt::encode_publish(response_topic, reply.wire_body(), 0, 0));
  log::request(context_.transport, context_.registration_id, op, reply.status, reply.result,
               elapsed_ms(started), {{"trackingId", reply.tracking_id}});
  return true;
}

void MqttSession::send(std::vector<uint8_t> bytes) {
  if (closed_) return;
  outbox_.push_back(std::make_shared<const std::vector<uint8_t>>(std::move(bytes)));
  if (!writing_) write_next();
}

void MqttSession::write_next() {
  if (outbox_.empty()) {
    writing_ = false;
    if (closed_) transport_->close();  // flushed what was queued before the close
    return;
  }
  writing_ = true;
  auto bytes = outbox_.front();
  transport_->async_write(bytes, [self = shared_from_this()](beast::error_code ec) {
    if (ec) {
      self->outbox_.clear();
      self->writing_ = false;
      self->close("write error: " + ec.message());
      self->transport_->close();
      return;
    }
    self->outbox_.pop_front();
    self->write_next();
  });
}

void MqttSession::close(const std::string &reason) {
  if (closed_) return;
  closed_ = true;
  log::debug("connection-closed", {{"transport", context_.transport},
                                   {"registrationId", context_.registration_id},
                                   {"remote", transport_->remote()},
                                   {"reason", reason}});
  bool violation = reason.rfind("malformed", 0) == 0 || reason.rfind("subscription", 0) == 0 ||
                   reason.rfind("publish to", 0) == 0 || reason.rfind("packet before", 0) == 0 ||
                   reason.rfind("second", 0) == 0 || reason.rfind("no CONNECT", 0) == 0;
  if (violation) {
    log::warn("connection-dropped", {{"transport", context_.transport},
                                     {"registrationId", context_.registration_id},
                                     {"remote", transport_->remote()},
                                     {"reason", reason}});
  }
  if (writing_ || !outbox_.empty()) {
    // Let queued packets (a CONNACK refusal, say) reach the client, but never wait long on a
    // client that does not read.
    idle_timer_.expires_after(std::chrono::seconds(5));
    idle_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (!ec) self->transport_->close();
    });
    if (!writing_) write_next();
    return;
  }
  idle_timer_.cancel();
  transport_->close();
}

}  // namespace dpsemu
