// MqttTransport: the DPS device exchange over MQTT 3.1.1 on a ByteStream,
// framed by prov::mqtt's codec. CONNECT (client id = registration id,
// username with api-version and ClientVersion, SAS password), SUBSCRIBE to
// the response topics, PUBLISH register / operation-status requests with a
// fresh $rid each, and wait for the response carrying that $rid.
//
// Pipelined (issue 9): connect() opens the stream and prepares CONNECT +
// SUBSCRIBE without sending them; the first request sends them together with
// its PUBLISH in one write (MQTT 3.1.1 section 3.1.4 lets a client send
// packets before CONNACK; the server handles a connection's packets in
// order) and then reads CONNACK, SUBACK and the response from one stream, so
// a registration waits for the server once after the TLS handshake instead of
// three times. CONNACK and SUBACK are checked as before, with the same
// statuses and messages; they now surface from the first request.
#ifndef PROV_TRANSPORT_MQTT_TRANSPORT_H
#define PROV_TRANSPORT_MQTT_TRANSPORT_H

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "auth/secret.h"
#include "core/transport.h"
#include "transport/connection.h"
#include "transport/mqtt/codec.h"

namespace prov::transport {

inline constexpr const char *kDpsApiVersion = "2019-03-31";
// Certificate issuance needs a preview api-version (dps-protocol.md 1.7).
inline constexpr const char *kDpsApiVersionCsr2025 = "2025-07-01-preview";
inline constexpr const char *kDpsApiVersionCsr2021 = "2021-11-01-preview";

struct MqttSettings {
  std::string registration_id;
  std::string id_scope;
  std::optional<auth::SecretString> password;  // SAS token; none for X.509
  uint16_t keep_alive_s = 60;
  std::string api_version = kDpsApiVersion;
};

// "{scope}/registrations/{id}/api-version=2019-03-31&ClientVersion=libprov%2F1.0.0"
std::string mqtt_username(const std::string &id_scope, const std::string &registration_id,
                          const std::string &api_version = kDpsApiVersion);

class MqttTransport final : public core::RegistrationTransport {
 public:
  MqttTransport(MqttSettings settings, std::unique_ptr<ByteStream> stream);
  ~MqttTransport() override;

  void connect(const core::WaitBudget &budget) override;
  core::ServiceResponse request_register(const std::string &body,
                                         const core::WaitBudget &budget) override;
  core::ServiceResponse request_operation_status(const std::string &operation_id,
                                                 const core::WaitBudget &budget) override;
  void idle(core::Millis duration, const core::WaitBudget &budget) override;
  void close() noexcept override;

 private:
  // Sends one packet; `what` names it in error messages ("MQTT CONNECT").
  void send_packet(const std::vector<uint8_t> &bytes, const char *what,
                   const core::WaitBudget &budget);
  // Reads and handles packets until `until`; returns the first packet for
  // which `wanted` returns true, or nullopt at `until`.
  template <typename Predicate>
  std::optional<mqtt::Packet> pump(const core::Deadline &until, const std::string &waiting_for,
                                   Predicate wanted);
  core::ServiceResponse request(const std::string &topic_base, const std::string &payload,
                                const std::string &step_name, const core::WaitBudget &budget);
  uint16_t next_packet_id();
  // Sends the prepared CONNECT + SUBSCRIBE (plus `first_request`, a PUBLISH,
  // when given) in one write.
  void send_handshake(const std::vector<uint8_t> *first_request, const char *what,
                      const core::WaitBudget &budget);
  // Handles CONNACK / SUBACK of a handshake in flight (`p` is any packet);
  // throws on a refusal. Returns true when `p` was one of them.
  bool absorb_handshake_packet(const mqtt::Packet &p);
  // What a wait for the handshake still lacks: "the MQTT CONNACK", "the MQTT
  // SUBACK", or "" when both arrived.
  const char *handshake_missing() const;
  // Completes a handshake in flight without a request (sends it if not yet
  // sent, waits for CONNACK and SUBACK), e.g. before idling.
  void finish_handshake(const core::WaitBudget &budget);
  void discard_handshake() noexcept;

  MqttSettings settings_;
  std::unique_ptr<ByteStream> stream_;
  mqtt::Decoder decoder_;
  // Receive buffer, allocated on the first read and reused for the
  // connection's life (it was 16 KB on the stack of every waiting thread;
  // issue 9: memory per in-flight registration). Left uninitialised so its
  // pages are only touched as far as data arrives; 4 KB is plenty, DPS
  // packets are small and the decoder joins reads.
  static constexpr size_t kReceiveChunk = 4096;
  std::unique_ptr<uint8_t[]> receive_buffer_;
  const core::WaitBudget *budget_ = nullptr;  // of the registration in progress
  core::Clock::time_point last_sent_{};
  uint16_t packet_id_ = 0;
  uint64_t rid_ = 0;
  bool connected_ = false;  // CONNACK accepted, DISCONNECT owed on close
  // The handshake of the current connection: CONNECT + SUBSCRIBE bytes
  // prepared by connect() (holding the SAS token: wiped once sent or
  // dropped), and whether CONNACK / SUBACK are still to come.
  std::vector<uint8_t> handshake_bytes_;
  bool awaiting_connack_ = false;
  bool awaiting_suback_ = false;
  uint16_t subscribe_id_ = 0;
  // Cleared when a server dropped a pipelined connection before CONNACK: the
  // next connections then complete the handshake before the first request.
  bool pipeline_first_request_ = true;
};

}  // namespace prov::transport

#endif  // PROV_TRANSPORT_MQTT_TRANSPORT_H
