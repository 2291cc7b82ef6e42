// MqttTransport's pipelined handshake (issue 9) against the real dps-emulator:
// the first request goes out in the same write as CONNECT and SUBSCRIBE, and
// CONNACK, SUBACK and the response are read back from one wait. A recording
// ByteStream between the transport and the real TLS connection shows every
// write and read in order. Refusals, drops and silence before CONNACK keep
// their statuses and name the CONNACK as before.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "auth/sas.h"
#include "check.h"
#include "core/error.h"
#include "emulator_fixture.h"
#include "transport/connection.h"
#include "transport/mqtt_transport.h"

using namespace prov;

namespace {

constexpr const char *kScope = "0ne0000PIPE";
constexpr const char *kKey = "bGlicHJvdi1waXBlbGluZS10ZXN0LWtleSoqKioqKio=";

std::string config() {
  const std::string symmetric =
      std::string(R"("attestation": {"type": "symmetricKey", "primaryKey": ")") + kKey + "\"}";
  return std::string(R"({"idScope": ")") + kScope + R"(", "iotHubs": ["hub-1.example.net"],
    "assignmentDelayMs": 0, "retryAfterSeconds": 1, "enrollments": [
      {"registrationId": "dev-pipe", )" +
         symmetric + R"(},
      {"registrationId": "dev-slow", "assignmentDelayMs": 800, )" +
         symmetric + R"(},
      {"registrationId": "dev-drop", "faults": [{"type": "drop", "after": "connect"}], )" +
         symmetric + R"(},
      {"registrationId": "dev-drop-once",
       "faults": [{"type": "drop", "after": "connect", "count": 1}], )" +
         symmetric + R"(}]})";
}

emu_fixture *emulator() {
  static emu_fixture *running = [] {
    emu_fixture *e = emu_start(config().c_str());
    if (e == nullptr) {
      std::fprintf(stderr, "dps-emulator did not start\n");
      std::exit(1);
    }
    return e;
  }();
  return running;
}

// One write or one read of the connection, in order.
struct Event {
  bool sent;
  std::vector<uint8_t> bytes;
};

class RecordingStream final : public transport::ByteStream {
 public:
  RecordingStream(std::unique_ptr<ByteStream> inner, std::vector<Event> &events)
      : inner_(std::move(inner)), events_(events) {}
  void open(const core::WaitBudget &budget) override { inner_->open(budget); }
  void send_all(const uint8_t *data, size_t len, const core::Deadline &until,
                const core::WaitBudget &budget) override {
    events_.push_back({true, std::vector<uint8_t>(data, data + len)});
    inner_->send_all(data, len, until, budget);
  }
  Received receive(uint8_t *buffer, size_t capacity, const core::Deadline &until) override {
    Received got = inner_->receive(buffer, capacity, until);
    if (got.status == ReceiveStatus::Data) {
      events_.push_back({false, std::vector<uint8_t>(buffer, buffer + got.size)});
    }
    return got;
  }
  void close() noexcept override { inner_->close(); }
  const std::string &peer() const override { return inner_->peer(); }

 private:
  std::unique_ptr<ByteStream> inner_;
  std::vector<Event> &events_;
};

// MQTT control packet types in a byte run (1 CONNECT, 2 CONNACK, 3 PUBLISH,
// 4 PUBACK, 8 SUBSCRIBE, 9 SUBACK, ...), from the fixed headers.
std::vector<int> packet_types(const std::vector<uint8_t> &bytes) {
  std::vector<int> types;
  size_t at = 0;
  while (at < bytes.size()) {
    types.push_back(bytes[at] >> 4);
    size_t length = 0;
    size_t shift = 0;
    size_t i = at + 1;
    while (i < bytes.size()) {
      length |= static_cast<size_t>(bytes[i] & 0x7f) << shift;
      shift += 7;
      if ((bytes[i++] & 0x80) == 0) break;
    }
    at = i + length;
  }
  return types;
}

std::vector<int> types_of(const std::vector<Event> &events, bool sent) {
  std::vector<uint8_t> all;
  for (const Event &e : events) {
    if (e.sent == sent) all.insert(all.end(), e.bytes.begin(), e.bytes.end());
  }
  return packet_types(all);
}

size_t count_sent(const std::vector<Event> &events) {
  size_t n = 0;
  for (const Event &e : events) n += e.sent ? 1 : 0;
  return n;
}

transport::ConnectionSettings connection_to(int port) {
  transport::ConnectionSettings settings;
  settings.host = "127.0.0.1";
  settings.port = port;
  settings.ca_pem = std::string(emu_ca_pem(emulator()));
  return settings;
}

std::unique_ptr<transport::MqttTransport> transport_for(const std::string &registration_id,
                                                        std::vector<Event> &events,
                                                        const std::string &scope = kScope,
                                                        int port = 0) {
  transport::MqttSettings mqtt;
  mqtt.registration_id = registration_id;
  mqtt.id_scope = scope;
  mqtt.password = auth::make_sas_token(scope, registration_id, auth::SecretString(kKey),
                                       static_cast<int64_t>(time(nullptr)) + 3600);
  auto stream = std::make_unique<RecordingStream>(
      std::make_unique<transport::CurlConnection>(
          connection_to(port != 0 ? port : emu_mqtt_port(emulator()))),
      events);
  return std::make_unique<transport::MqttTransport>(std::move(mqtt), std::move(stream));
}

std::string register_body(const std::string &registration_id) {
  return R"({"registrationId": ")" + registration_id + "\"}";
}

// The status and message of the core::Error `action` throws (status 0: none).
template <typename Action>
std::pair<prov_status, std::string> failure_of(Action action) {
  try {
    action();
  } catch (const core::Error &failure) {
    return {failure.status(), failure.what()};
  }
  return {PROV_OK, ""};
}

bool contains(const std::string &text, const std::string &needle) {
  if (text.find(needle) != std::string::npos) return true;
  std::fprintf(stderr, "  \"%s\" does not contain \"%s\"\n", text.c_str(), needle.c_str());
  return false;
}

const std::vector<int> kConnectSubscribePublish = {1, 8, 3};

}  // namespace

TEST(first_request_goes_out_with_connect_and_subscribe) {
  std::vector<Event> events;
  auto mqtt = transport_for("dev-pipe", events);
  core::WaitBudget budget(20000, 10000);
  mqtt->connect(budget);
  // connect() opened TLS and prepared the handshake; nothing sent yet.
  CHECK_EQ(count_sent(events), 0u);
  core::ServiceResponse response = mqtt->request_register(register_body("dev-pipe"), budget);
  CHECK_EQ(response.status, 200);
  CHECK(contains(response.body, "hub-1.example.net"));
  // One write, before anything was read: CONNECT + SUBSCRIBE + PUBLISH.
  CHECK(!events.empty() && events.front().sent);
  CHECK(!events.empty() && packet_types(events.front().bytes) == kConnectSubscribePublish);
  CHECK_EQ(count_sent(events), 1u);
  // Read back: CONNACK, SUBACK, PUBACK, then the response PUBLISH.
  CHECK(types_of(events, false) == (std::vector<int>{2, 9, 4, 3}));
  mqtt->close();
}

TEST(later_requests_are_single_publishes) {
  std::vector<Event> events;
  auto mqtt = transport_for("dev-slow", events);
  core::WaitBudget budget(20000, 10000);
  mqtt->connect(budget);
  core::ServiceResponse first = mqtt->request_register(register_body("dev-slow"), budget);
  CHECK_EQ(first.status, 202);
  const std::string marker = "\"operationId\":\"";
  const size_t at = first.body.find(marker);
  CHECK(at != std::string::npos);
  if (at == std::string::npos) return;
  const size_t start = at + marker.size();
  const std::string operation = first.body.substr(start, first.body.find('"', start) - start);
  const size_t sent_before = events.size();
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  core::ServiceResponse second = mqtt->request_operation_status(operation, budget);
  CHECK_EQ(second.status, 200);
  CHECK(events.size() > sent_before && events[sent_before].sent);
  if (events.size() > sent_before) {
    CHECK(packet_types(events[sent_before].bytes) == std::vector<int>{3});
  }
  CHECK_EQ(count_sent(events), 2u);
  mqtt->close();
}

TEST(idle_before_the_first_request_completes_the_handshake) {
  std::vector<Event> events;
  auto mqtt = transport_for("dev-pipe", events);
  core::WaitBudget budget(20000, 10000);
  mqtt->connect(budget);
  mqtt->idle(core::Millis(200), budget);
  // CONNECT + SUBSCRIBE went out and both were answered before the wait.
  CHECK(!events.empty() && packet_types(events.front().bytes) == (std::vector<int>{1, 8}));
  CHECK(types_of(events, false) == (std::vector<int>{2, 9}));
  core::ServiceResponse response = mqtt->request_register(register_body("dev-pipe"), budget);
  CHECK_EQ(response.status, 200);
  CHECK_EQ(count_sent(events), 2u);
  std::vector<uint8_t> last_sent;
  for (const Event &e : events) {
    if (e.sent) last_sent = e.bytes;
  }
  CHECK(packet_types(last_sent) == std::vector<int>{3});
  mqtt->close();
}

TEST(refused_connect_is_reported_from_its_connack) {
  // An empty id scope makes the user name unusable: CONNACK 4 (bad user name
  // or password) -> PROV_E_CREDENTIAL, as when the transport waited for it.
  {
    std::vector<Event> events;
    auto mqtt = transport_for("dev-pipe", events, "");
    core::WaitBudget budget(20000, 10000);
    mqtt->connect(budget);
    std::shared_ptr<core::Result> result;
    auto [status, message] = failure_of([&] {
      try {
        mqtt->request_register(register_body("dev-pipe"), budget);
      } catch (const core::Error &failure) {
        result = failure.result();
        throw;
      }
    });
    CHECK_EQ(status, PROV_E_CREDENTIAL);
    CHECK(contains(message, "MQTT CONNACK refused: bad user name or password (4)"));
    CHECK(result != nullptr);  // the service's refusal travels as a result
    CHECK(message.find("SharedAccessSignature") == std::string::npos);
  }
  // A client id that differs from the user name's id: CONNACK 2.
  {
    std::vector<Event> events;
    auto mqtt = transport_for("dev-pipe/x", events);
    core::WaitBudget budget(20000, 10000);
    mqtt->connect(budget);
    auto [status, message] =
        failure_of([&] { mqtt->request_register(register_body("dev-pipe/x"), budget); });
    CHECK_EQ(status, PROV_E_CONNECTION_FAILED);
    CHECK(contains(message, "MQTT CONNACK refused: "));
  }
}

TEST(drop_after_connect_names_the_connack) {
  std::vector<Event> events;
  auto mqtt = transport_for("dev-drop", events);
  core::WaitBudget budget(20000, 10000);
  mqtt->connect(budget);
  auto [status, message] =
      failure_of([&] { mqtt->request_register(register_body("dev-drop"), budget); });
  // The write may still succeed (then the read sees the close) or fail.
  CHECK_EQ(status, PROV_E_CONNECTION_DROPPED);
  CHECK(message.find("MQTT CONNACK") != std::string::npos ||
        message.find("sending the MQTT CONNECT") != std::string::npos);
  CHECK(!events.empty() && packet_types(events.front().bytes) == kConnectSubscribePublish);

  // A server that drops a pipelined connection before CONNACK may refuse
  // packets ahead of CONNACK: the transport's next connection waits for
  // CONNACK before its first request (this server drops that one too).
  events.clear();
  auto [again, again_message] = failure_of([&] { mqtt->connect(budget); });
  CHECK_EQ(again, PROV_E_CONNECTION_DROPPED);
  CHECK(contains(again_message, "while waiting for the MQTT CONNACK"));
  CHECK_EQ(count_sent(events), 1u);
  CHECK(!events.empty() && packet_types(events.front().bytes) == (std::vector<int>{1, 8}));
}

TEST(after_an_early_drop_the_next_connection_waits_for_connack) {
  // The drop fault fires once: the retry's connection completes its handshake
  // in connect() and sends the request on its own.
  std::vector<Event> events;
  auto mqtt = transport_for("dev-drop-once", events);
  core::WaitBudget budget(20000, 10000);
  mqtt->connect(budget);
  auto [status, message] =
      failure_of([&] { mqtt->request_register(register_body("dev-drop-once"), budget); });
  CHECK_EQ(status, PROV_E_CONNECTION_DROPPED);
  mqtt->close();
  events.clear();
  mqtt->connect(budget);
  CHECK(!events.empty() && packet_types(events.front().bytes) == (std::vector<int>{1, 8}));
  CHECK(types_of(events, false) == (std::vector<int>{2, 9}));
  core::ServiceResponse response = mqtt->request_register(register_body("dev-drop-once"), budget);
  CHECK_EQ(response.status, 200);
  CHECK_EQ(count_sent(events), 2u);
  mqtt->close();
}

// A TLS server (the emulator's certificate) that accepts one connection and
// never answers: a server that swallows CONNECT.
class SilentTlsServer {
 public:
  SilentTlsServer() {
    ctx_ = SSL_CTX_new(TLS_server_method());
    const std::string pki = std::string(emu_data_dir(emulator())) + "/pki/";
    ok_ =
        ctx_ != nullptr &&
        SSL_CTX_use_certificate_chain_file(ctx_, (pki + "server-chain.pem").c_str()) == 1 &&
        SSL_CTX_use_PrivateKey_file(ctx_, (pki + "server.key.pem").c_str(), SSL_FILETYPE_PEM) == 1;
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    ok_ = ok_ && ::bind(listener_, reinterpret_cast<sockaddr *>(&address), length) == 0 &&
          ::listen(listener_, 4) == 0 &&
          ::getsockname(listener_, reinterpret_cast<sockaddr *>(&address), &length) == 0;
    port_ = ntohs(address.sin_port);
    if (ok_) thread_ = std::thread([this] { serve(); });
  }
  ~SilentTlsServer() {
    stop_ = true;
    ::shutdown(listener_, SHUT_RDWR);
    if (thread_.joinable()) thread_.join();
    ::close(listener_);
    SSL_CTX_free(ctx_);
  }
  bool ok() const { return ok_; }
  int port() const { return port_; }

 private:
  void serve() {
    int fd = ::accept(listener_, nullptr, nullptr);
    if (fd < 0) return;
    SSL *ssl = SSL_new(ctx_);
    SSL_set_fd(ssl, fd);
    if (SSL_accept(ssl) == 1) {
      char sink[4096];
      while (!stop_ && SSL_read(ssl, sink, sizeof sink) > 0) {
      }
    }
    SSL_free(ssl);
    ::close(fd);
  }

  SSL_CTX *ctx_ = nullptr;
  int listener_ = -1;
  int port_ = 0;
  bool ok_ = false;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

TEST(silence_after_connect_times_out_naming_the_connack) {
  SilentTlsServer silent;
  CHECK(silent.ok());
  if (!silent.ok()) return;
  std::vector<Event> events;
  auto mqtt = transport_for("dev-pipe", events, kScope, silent.port());
  // The TLS handshake gets the usual step time (sanitizer builds are slow);
  // the request a short one.
  core::WaitBudget connect_budget(20000, 10000);
  mqtt->connect(connect_budget);
  core::WaitBudget budget(20000, 700);
  auto [status, message] =
      failure_of([&] { mqtt->request_register(register_body("dev-pipe"), budget); });
  CHECK_EQ(status, PROV_E_TIMEOUT);
  CHECK(contains(message, "timed out after 700 ms waiting for the MQTT CONNACK"));
  mqtt->close();  // the client closes first, so the server's read ends
}

int main(int argc, char **argv) {
  const int rc = check::run_all(argc, argv);
  emu_stop(emulator());
  return rc;
}
