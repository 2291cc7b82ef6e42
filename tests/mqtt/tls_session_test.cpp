// TLS session resumption across connections of one process (issue 9),
// against the real dps-emulator. Connections are set up exactly as libprov's
// (configure_tls_and_proxy on a CONNECT_ONLY libcurl handle); after each
// handshake OpenSSL says whether it resumed (SSL_session_reused on the SSL of
// CURLINFO_TLS_SSL_PTR). A registration through the real transport leaves a
// session the next connection resumes; connections with a client certificate
// (X.509 identities) never resume, and connections trusting other roots
// never resume a session verified against these.
#include <curl/curl.h>
#include <openssl/ssl.h>
#include <poll.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "auth/sas.h"
#include "check.h"
#include "core/error.h"
#include "emulator_fixture.h"
#include "transport/connection.h"
#include "transport/mqtt/codec.h"
#include "transport/mqtt_transport.h"

using namespace prov;

namespace {

constexpr const char *kScope = "0ne0000SESS";
constexpr const char *kKey = "bGlicHJvdi10bHMtc2Vzc2lvbi10ZXN0LWtleSoqKio=";

emu_fixture *emulator() {
  static emu_fixture *running = [] {
    const std::string config = std::string(R"({"idScope": ")") + kScope +
                               R"(", "iotHubs": ["hub-1.example.net"], "enrollments": [
          {"registrationId": "dev-session", "attestation": {"type": "symmetricKey",
           "primaryKey": ")" + kKey +
                               R"("}}]})";
    emu_fixture *e = emu_start(config.c_str());
    if (e == nullptr) {
      std::fprintf(stderr, "dps-emulator did not start\n");
      std::exit(1);
    }
    return e;
  }();
  return running;
}

std::string read_file(const std::string &path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

transport::ConnectionSettings settings_with(const std::string &ca_pem) {
  transport::ConnectionSettings settings;
  settings.host = "127.0.0.1";
  settings.port = emu_mqtt_port(emulator());
  settings.ca_pem = ca_pem;
  return settings;
}

std::string emulator_ca() {
  return emu_ca_pem(emulator());
}

// A client credential for the TLS layer (the emulator requests one and
// accepts any there): its issuing CA's certificate and key.
transport::ConnectionSettings with_client_certificate(transport::ConnectionSettings settings) {
  const std::string pki = std::string(emu_data_dir(emulator())) + "/pki/";
  settings.client_cert_chain_pem = read_file(pki + "issuing-ca.pem");
  settings.client_key_pem = auth::SecretString(read_file(pki + "issuing-ca.key.pem"));
  return settings;
}

// Waits until `fd` is readable, at most `ms`.
void wait_readable(curl_socket_t fd, int ms) {
  pollfd p{};
  p.fd = fd;
  p.events = POLLIN;
  ::poll(&p, 1, ms);
}

enum class Handshake { Failed, Full, Resumed };

// One connection set up as libprov sets up its own: handshake, then an MQTT
// CONNECT answered by CONNACK (reading it also takes in the session tickets
// the server sent after the handshake), then close.
Handshake connect_once(const transport::ConnectionSettings &settings) {
  transport::ensure_curl_initialized();
  CURL *easy = curl_easy_init();
  transport::TlsContextHook hook;
  const std::string url = "https://127.0.0.1:" + std::to_string(settings.port) + "/";
  curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
  curl_easy_setopt(easy, CURLOPT_CONNECT_ONLY, 1L);
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, 10000L);
  transport::configure_tls_and_proxy(easy, settings, /*tunnel=*/true, hook);
  Handshake outcome = Handshake::Failed;
  const CURLcode performed = curl_easy_perform(easy);
  if (performed != CURLE_OK) {
    std::fprintf(stderr, "  handshake failed: %s\n", curl_easy_strerror(performed));
  } else {
    mqtt::ConnectPacket connect;
    connect.client_id = "dev-session";
    connect.username = transport::mqtt_username(kScope, "dev-session");
    connect.keep_alive = 30;
    const std::vector<uint8_t> bytes = mqtt::encode_connect(connect);
    size_t sent = 0;
    curl_socket_t fd = CURL_SOCKET_BAD;
    curl_easy_getinfo(easy, CURLINFO_ACTIVESOCKET, &fd);
    for (int tries = 0; sent < bytes.size() && tries < 100; ++tries) {
      size_t n = 0;
      if (curl_easy_send(easy, bytes.data() + sent, bytes.size() - sent, &n) == CURLE_OK) sent += n;
    }
    // (libcurl hands out the SSL of a CONNECT_ONLY connection once
    // curl_easy_send/recv have attached the connection to the handle again.)
    const curl_tlssessioninfo *info = nullptr;
    if (curl_easy_getinfo(easy, CURLINFO_TLS_SSL_PTR, &info) == CURLE_OK && info != nullptr &&
        info->backend == CURLSSLBACKEND_OPENSSL && info->internals != nullptr) {
      SSL *ssl = static_cast<SSL *>(info->internals);
      outcome = SSL_session_reused(ssl) == 1 ? Handshake::Resumed : Handshake::Full;
    } else {
      std::fprintf(stderr, "  no OpenSSL handle from CURLINFO_TLS_SSL_PTR (backend %d)\n",
                   info != nullptr ? static_cast<int>(info->backend) : -1);
    }
    mqtt::Decoder decoder;
    bool connack = false;
    for (int tries = 0; !connack && tries < 100; ++tries) {
      uint8_t buffer[1024];
      size_t n = 0;
      const CURLcode rc = curl_easy_recv(easy, buffer, sizeof buffer, &n);
      if (rc == CURLE_AGAIN) {
        wait_readable(fd, 100);
        continue;
      }
      if (rc != CURLE_OK || n == 0) break;
      decoder.feed(buffer, n);
      while (auto packet = decoder.next()) {
        if (packet->type == mqtt::PacketType::ConnAck) connack = true;
      }
    }
    if (!connack) {
      std::fprintf(stderr, "  no CONNACK (sent %zu of %zu bytes)\n", sent, bytes.size());
      outcome = Handshake::Failed;
    }
  }
  curl_easy_cleanup(easy);
  return outcome;
}

const char *name(Handshake h) {
  return h == Handshake::Failed ? "failed" : h == Handshake::Full ? "full" : "resumed";
}

#define CHECK_HANDSHAKE(actual, expected)                                                    \
  do {                                                                                       \
    const Handshake got_ = (actual);                                                         \
    if (got_ != (expected))                                                                  \
      std::fprintf(stderr, "  handshake was %s, expected %s\n", name(got_), name(expected)); \
    CHECK(got_ == (expected));                                                               \
  } while (0)

// Registers dev-session through the real transport (CurlConnection +
// MqttTransport, as prov_client_register does).
int register_through_transport(const transport::ConnectionSettings &settings) {
  transport::MqttSettings mqtt;
  mqtt.registration_id = "dev-session";
  mqtt.id_scope = kScope;
  mqtt.password = auth::make_sas_token(kScope, "dev-session", auth::SecretString(kKey),
                                       static_cast<int64_t>(time(nullptr)) + 3600);
  transport::MqttTransport transport(std::move(mqtt),
                                     std::make_unique<transport::CurlConnection>(settings));
  core::WaitBudget budget(20000, 10000);
  transport.connect(budget);
  const int status =
      transport.request_register(R"({"registrationId": "dev-session"})", budget).status;
  transport.close();
  return status;
}

}  // namespace

TEST(a_registration_leaves_a_session_the_next_connection_resumes) {
  const auto settings = settings_with(emulator_ca());
  CHECK_EQ(register_through_transport(settings), 200);
  CHECK_HANDSHAKE(connect_once(settings), Handshake::Resumed);
  CHECK_HANDSHAKE(connect_once(settings), Handshake::Resumed);
  // And the other way round: the transport's next connection resumes too
  // (its registration still succeeds on a resumed session).
  CHECK_EQ(register_through_transport(settings), 200);
}

TEST(client_certificate_connections_never_resume) {
  const auto plain = settings_with(emulator_ca());
  CHECK(connect_once(plain) != Handshake::Failed);  // the shared cache holds a session now
  const auto x509 = with_client_certificate(plain);
  CHECK_HANDSHAKE(connect_once(x509), Handshake::Full);
  CHECK_HANDSHAKE(connect_once(x509), Handshake::Full);
  // Nor did an X.509 handshake leave a session for others.
  CHECK_HANDSHAKE(connect_once(plain), Handshake::Resumed);
}

TEST(other_trusted_roots_do_not_resume) {
  CHECK(connect_once(settings_with(emulator_ca())) != Handshake::Failed);
  // The same root, as different PEM text: another trust configuration as far
  // as the cache knows; it starts with a full handshake, then resumes its own.
  const auto other = settings_with(emulator_ca() + "\n");
  CHECK_HANDSHAKE(connect_once(other), Handshake::Full);
  CHECK_HANDSHAKE(connect_once(other), Handshake::Resumed);
}

int main(int argc, char **argv) {
  const int rc = check::run_all(argc, argv);
  emu_stop(emulator());
  return rc;
}
