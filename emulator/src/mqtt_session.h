// One device connection speaking MQTT 3.1.1 (over TLS or WebSocket) to the DPS topics.
#pragma once

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mqtt_codec.h"
#include "mqtt_topics.h"
#include "net.h"
#include "registration_service.h"

namespace dpsemu {

class MqttSession : public std::enable_shared_from_this<MqttSession> {
 public:
  MqttSession(std::shared_ptr<MqttTransport> transport, RegistrationService &service);
  void start();

 private:
  void read_more();
  void on_bytes(const uint8_t *data, size_t size);
  // Returns false when the connection must close.
  bool handle(mqtt::Connect &packet);
  bool handle(mqtt::Publish &packet);
  bool handle(mqtt::Subscribe &packet);
  void send(std::vector<uint8_t> bytes);
  void write_next();
  void arm_idle_timer(std::chrono::steady_clock::duration timeout);
  void close(const std::string &reason);

  std::shared_ptr<MqttTransport> transport_;
  RegistrationService &service_;
  asio::steady_timer idle_timer_;
  std::chrono::steady_clock::duration idle_timeout_;
  std::vector<uint8_t> inbox_;
  std::deque<std::shared_ptr<const std::vector<uint8_t>>> outbox_;
  bool writing_ = false;
  bool closed_ = false;
  bool connected_ = false;
  RequestContext context_;
};

}  // namespace dpsemu
