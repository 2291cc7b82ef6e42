// Interop: libprov's MQTT codec against a real mosquitto broker (Debian's).
//
// Starts mosquitto on free loopback ports with a generated config: a plain
// listener, a TLS listener (certificate made here with the openssl CLI) and a
// plain listener that requires a password. Over plain TCP and over TLS
// (OpenSSL, host name verified), using ONLY prov::mqtt for the framing:
// CONNECT/CONNACK, SUBSCRIBE/SUBACK, PUBLISH QoS 1 to the subscribed topic
// (PUBACK + the message delivered back, which is acknowledged), a 200 KB
// message (3-byte remaining length), PINGREQ/PINGRESP, DISCONNECT (the broker
// closes). On the password listener: a wrong password gives CONNACK code 5,
// the right one code 0.
//
// Usage: mosquitto_test MOSQUITTO OPENSSL MOSQUITTO_PASSWD
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "check.h"
#include "transport/mqtt/codec.h"

namespace fs = std::filesystem;
using namespace prov::mqtt;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kIoTimeout = std::chrono::seconds(10);

struct Paths {
  std::string mosquitto, openssl, mosquitto_passwd;
} g_tools;

[[noreturn]] void fatal(const std::string &message) {
  throw std::runtime_error(message);
}

// Runs a program with arguments (no shell), output to `log`; returns the exit status.
int run(const std::vector<std::string> &argv, const fs::path &log) {
  const pid_t pid = fork();
  if (pid < 0) fatal("fork failed");
  if (pid == 0) {
    const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    std::vector<char *> args;
    for (const std::string &arg : argv) args.push_back(const_cast<char *>(arg.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string read_file(const fs::path &path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A port the kernel says is free right now (the broker binds it a moment later;
// a lost race is retried by Broker::start).
uint16_t free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (bind(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr *>(&addr), &len) != 0) {
    close(fd);
    fatal("cannot find a free loopback port");
  }
  close(fd);
  return ntohs(addr.sin_port);
}

int tcp_connect(uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (connect(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

// A temporary directory with the broker's config, certificate and log.
class Broker {
 public:
  Broker() {
    const char *tmp = std::getenv("TMPDIR");
    const std::string pattern =
        (tmp && *tmp ? std::string(tmp) : std::string("/tmp")) + "/prov-mosquitto-XXXXXX";
    std::vector<char> buffer(pattern.begin(), pattern.end());
    buffer.push_back('\0');
    if (!mkdtemp(buffer.data())) fatal("mkdtemp " + pattern + ": " + std::strerror(errno));
    dir_ = buffer.data();
  }
  ~Broker() {
    stop();
    std::error_code ignored;
    if (!std::getenv("PROV_KEEP_TEST_DIRS")) fs::remove_all(dir_, ignored);
  }

  const fs::path &dir() const { return dir_; }
  fs::path cert() const { return dir_ / "cert.pem"; }
  uint16_t plain_port() const { return plain_port_; }
  uint16_t tls_port() const { return tls_port_; }
  uint16_t auth_port() const { return auth_port_; }
  std::string log() const { return read_file(dir_ / "mosquitto.log"); }

  void prepare_credentials() {
    // A self-signed P-256 certificate for localhost and 127.0.0.1.
    const int status =
        run({g_tools.openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt",
             "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", (dir_ / "key.pem").string(),
             "-out", cert().string(), "-days", "1", "-subj", "/CN=localhost", "-addext",
             "subjectAltName=DNS:localhost,IP:127.0.0.1"},
            dir_ / "openssl.log");
    if (status != 0) fatal("openssl req failed: " + read_file(dir_ / "openssl.log"));
    const fs::path passwords = dir_ / "passwords";
    if (run({g_tools.mosquitto_passwd, "-b", "-c", passwords.string(), "device", "right-pass"},
            dir_ / "passwd.log") != 0) {
      fatal("mosquitto_passwd failed: " + read_file(dir_ / "passwd.log"));
    }
  }

  void start() {
    for (int attempt = 1; attempt <= 5; ++attempt) {
      plain_port_ = free_port();
      tls_port_ = free_port();
      auth_port_ = free_port();
      if (plain_port_ == tls_port_ || tls_port_ == auth_port_ || plain_port_ == auth_port_) {
        continue;
      }
      write_config();
      launch();
      if (wait_ready()) return;
      stop();
    }
    fatal("mosquitto did not start; its log:\n" + log());
  }

  void stop() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      int status = 0;
      waitpid(pid_, &status, 0);
      pid_ = -1;
    }
  }

 private:
  void write_config() {
    std::ofstream config(dir_ / "mosquitto.conf");
    config << "per_listener_settings true\n"
              "persistence false\n"
              "log_dest stderr\n"
              "log_type all\n"
              "connection_messages true\n";
    // As root, mosquitto would switch to the "mosquitto" user, which cannot
    // read this private directory; stay the current user instead.
    if (geteuid() == 0) {
      const passwd *user = getpwuid(geteuid());
      config << "user " << (user ? user->pw_name : "root") << "\n";
    }
    config << "\nlistener " << plain_port_ << " 127.0.0.1\n"
           << "allow_anonymous true\n"
           << "\nlistener " << tls_port_ << " 127.0.0.1\n"
           << "allow_anonymous true\n"
           << "certfile " << cert().string() << "\n"
           << "keyfile " << (dir_ / "key.pem").string() << "\n"
           << "\nlistener " << auth_port_ << " 127.0.0.1\n"
           << "allow_anonymous false\n"
           << "password_file " << (dir_ / "passwords").string() << "\n";
  }

  void launch() {
    const fs::path log_path = dir_ / "mosquitto.log";
    const std::string config = (dir_ / "mosquitto.conf").string();
    pid_ = fork();
    if (pid_ < 0) fatal("fork failed");
    if (pid_ == 0) {
      const int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
      if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
      }
      execl(g_tools.mosquitto.c_str(), g_tools.mosquitto.c_str(), "-c", config.c_str(),
            static_cast<char *>(nullptr));
      _exit(127);
    }
  }

  bool wait_ready() {
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    while (Clock::now() < deadline) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return false;  // exited: most likely a port was taken meanwhile
      }
      bool all = true;
      for (uint16_t port : {plain_port_, tls_port_, auth_port_}) {
        const int fd = tcp_connect(port);
        if (fd < 0) {
          all = false;
          break;
        }
        close(fd);
      }
      if (all) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  fs::path dir_;
  pid_t pid_ = -1;
  uint16_t plain_port_ = 0, tls_port_ = 0, auth_port_ = 0;
};

Broker *g_broker = nullptr;

// A byte stream to the broker: plain TCP, or TLS over it.
class Stream {
 public:
  virtual ~Stream() = default;
  virtual void write_all(const std::vector<uint8_t> &bytes) = 0;
  // Reads what is available, waiting up to `timeout`; 0 means the peer closed.
  virtual size_t read_some(uint8_t *buffer, size_t size, Clock::time_point deadline) = 0;
};

void wait_readable(int fd, Clock::time_point deadline) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  pollfd pfd{fd, POLLIN, 0};
  if (left <= 0 || poll(&pfd, 1, static_cast<int>(left)) <= 0) {
    fatal("timed out waiting for the broker");
  }
}

class TcpStream : public Stream {
 public:
  explicit TcpStream(uint16_t port) : fd_(tcp_connect(port)) {
    if (fd_ < 0) fatal("cannot connect to 127.0.0.1:" + std::to_string(port));
  }
  ~TcpStream() override { close(fd_); }
  void write_all(const std::vector<uint8_t> &bytes) override {
    size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n = send(fd_, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
      if (n <= 0) fatal(std::string("send failed: ") + std::strerror(errno));
      done += static_cast<size_t>(n);
    }
  }
  size_t read_some(uint8_t *buffer, size_t size, Clock::time_point deadline) override {
    wait_readable(fd_, deadline);
    const ssize_t n = recv(fd_, buffer, size, 0);
    if (n < 0) {
      if (errno == ECONNRESET) return 0;
      fatal(std::string("recv failed: ") + std::strerror(errno));
    }
    return static_cast<size_t>(n);
  }

 protected:
  int fd_;
};

std::string openssl_errors() {
  std::string text;
  while (const unsigned long code = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof buf);
    text += std::string(text.empty() ? "" : "; ") + buf;
  }
  return text.empty() ? "no OpenSSL error queued" : text;
}

class TlsStream : public TcpStream {
 public:
  TlsStream(uint16_t port, const fs::path &ca_file) : TcpStream(port) {
    ctx_ = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_min_proto_version(ctx_, TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    if (SSL_CTX_load_verify_locations(ctx_, ca_file.c_str(), nullptr) != 1) {
      fatal("cannot load " + ca_file.string() + ": " + openssl_errors());
    }
    ssl_ = SSL_new(ctx_);
    SSL_set_tlsext_host_name(ssl_, "localhost");
    SSL_set1_host(ssl_, "localhost");
    SSL_set_fd(ssl_, fd_);
    if (SSL_connect(ssl_) != 1) {
      fatal("TLS handshake with mosquitto failed: " + openssl_errors() + " (verify result " +
            X509_verify_cert_error_string(SSL_get_verify_result(ssl_)) + ")");
    }
  }
  ~TlsStream() override {
    SSL_free(ssl_);
    SSL_CTX_free(ctx_);
  }
  void write_all(const std::vector<uint8_t> &bytes) override {
    if (SSL_write(ssl_, bytes.data(), static_cast<int>(bytes.size())) !=
        static_cast<int>(bytes.size())) {
      fatal("SSL_write failed: " + openssl_errors());
    }
  }
  size_t read_some(uint8_t *buffer, size_t size, Clock::time_point deadline) override {
    for (;;) {
      const int n = SSL_read(ssl_, buffer, static_cast<int>(size));
      if (n > 0) return static_cast<size_t>(n);
      const int error = SSL_get_error(ssl_, n);
      if (error == SSL_ERROR_ZERO_RETURN) return 0;
      if (error == SSL_ERROR_SYSCALL) return 0;  // closed without close_notify
      if (error != SSL_ERROR_WANT_READ) fatal("SSL_read failed: " + openssl_errors());
      wait_readable(fd_, deadline);
    }
  }

 private:
  SSL_CTX *ctx_ = nullptr;
  SSL *ssl_ = nullptr;
};

// The MQTT client of the test: the stream plus prov::mqtt::Decoder.
class Client {
 public:
  explicit Client(std::unique_ptr<Stream> stream) : stream_(std::move(stream)) {}

  void send(const std::vector<uint8_t> &packet) { stream_->write_all(packet); }

  Packet receive() {
    const auto deadline = Clock::now() + kIoTimeout;
    for (;;) {
      if (std::optional<Packet> packet = decoder_.next()) return *packet;
      uint8_t buffer[16384];
      const size_t n = stream_->read_some(buffer, sizeof buffer, deadline);
      if (n == 0) fatal("the broker closed the connection while a packet was expected");
      decoder_.feed(buffer, n);
    }
  }

  // True when the broker closes the connection (with nothing left to decode).
  bool closed_by_peer() {
    const auto deadline = Clock::now() + kIoTimeout;
    uint8_t buffer[256];
    const size_t n = stream_->read_some(buffer, sizeof buffer, deadline);
    return n == 0 && decoder_.buffered() == 0;
  }

 private:
  std::unique_ptr<Stream> stream_;
  Decoder decoder_;
};

std::string unique_suffix(const char *name) {
  return std::string(name) + "-" + std::to_string(getpid());
}

// The DPS-shaped conversation; `name` keeps topics apart between runs.
void converse(Client &client, const char *name) {
  ConnectPacket connect;
  connect.client_id = "libprov-codec-" + unique_suffix(name);
  connect.keep_alive = 30;
  client.send(encode_connect(connect));
  Packet packet = client.receive();
  CHECK(packet.type == PacketType::ConnAck);
  CHECK_EQ(packet.return_code, kConnAccepted);
  CHECK(!packet.session_present);

  const std::string base = "libprov/codec-test/" + unique_suffix(name) + "/res/";
  client.send(encode_subscribe(1, base + "#", 1));
  packet = client.receive();
  CHECK(packet.type == PacketType::SubAck);
  CHECK_EQ(packet.packet_id, 1);
  CHECK(packet.granted_qos == std::vector<uint8_t>{1});

  // A DPS-like topic with ?, $, & and = in it, and a JSON payload; then a
  // 200 KB payload whose remaining length needs 3 bytes.
  const std::vector<std::pair<std::string, std::string>> messages = {
      {base + "202/?$rid=1&retry-after=3",
       "{\"operationId\":\"4.0123456789abcdef.01234567-89ab\",\"status\":\"assigning\"}"},
      {base + "200/?$rid=2", std::string(200 * 1000, 'z')},
  };
  uint16_t packet_id = 2;
  for (const auto &[topic, payload] : messages) {
    client.send(encode_publish(topic, payload, 1, packet_id));
    bool got_ack = false, got_message = false;
    for (int i = 0; i < 2; ++i) {
      packet = client.receive();
      if (packet.type == PacketType::PubAck) {
        CHECK_EQ(packet.packet_id, packet_id);
        got_ack = true;
      } else if (packet.type == PacketType::Publish) {
        CHECK_EQ(packet.topic, topic);
        CHECK(packet.payload == payload);
        CHECK_EQ(packet.qos, 1);
        CHECK(packet.packet_id != 0);
        client.send(encode_puback(packet.packet_id));
        got_message = true;
      } else {
        CHECK(false && "unexpected packet type after PUBLISH");
      }
    }
    CHECK(got_ack);
    CHECK(got_message);
    ++packet_id;
  }

  client.send(encode_pingreq());
  packet = client.receive();
  CHECK(packet.type == PacketType::PingResp);

  client.send(encode_disconnect());
  CHECK(client.closed_by_peer());
}

}  // namespace

TEST(plain_tcp_conversation) {
  Client client(std::make_unique<TcpStream>(g_broker->plain_port()));
  converse(client, "plain");
}

TEST(tls_conversation) {
  Client client(std::make_unique<TlsStream>(g_broker->tls_port(), g_broker->cert()));
  converse(client, "tls");
}

TEST(connack_refusal_and_acceptance_with_a_password) {
  ConnectPacket connect;
  connect.client_id = "libprov-codec-" + unique_suffix("auth");
  connect.username = "device";
  connect.password = "wrong-pass";
  {
    Client client(std::make_unique<TcpStream>(g_broker->auth_port()));
    client.send(encode_connect(connect));
    const Packet packet = client.receive();
    CHECK(packet.type == PacketType::ConnAck);
    CHECK_EQ(packet.return_code, kConnRefusedNotAuthorized);
    CHECK(!packet.session_present);
    CHECK(client.closed_by_peer());
  }
  connect.password = "right-pass";
  Client client(std::make_unique<TcpStream>(g_broker->auth_port()));
  client.send(encode_connect(connect));
  const Packet packet = client.receive();
  CHECK(packet.type == PacketType::ConnAck);
  CHECK_EQ(packet.return_code, kConnAccepted);
  client.send(encode_disconnect());
  CHECK(client.closed_by_peer());
}

TEST(protocol_violation_is_answered_by_a_close) {
  // A PUBLISH with QoS 1 but packet id 0 is malformed (MQTT-2.3.1-1): the
  // broker must drop the connection. Hand-made, since the encoder refuses it.
  Client client(std::make_unique<TcpStream>(g_broker->plain_port()));
  ConnectPacket connect;
  connect.client_id = "libprov-codec-" + unique_suffix("bad");
  client.send(encode_connect(connect));
  CHECK(client.receive().type == PacketType::ConnAck);
  client.send(check::bytes({0x32, 0x05, 0x00, 0x01, 't', 0x00, 0x00}));
  CHECK(client.closed_by_peer());
}

int main(int argc, char **argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s MOSQUITTO OPENSSL MOSQUITTO_PASSWD [case filter]\n", argv[0]);
    return 2;
  }
  g_tools = {argv[1], argv[2], argv[3]};
  for (const std::string &tool : {g_tools.mosquitto, g_tools.openssl, g_tools.mosquitto_passwd}) {
    if (access(tool.c_str(), X_OK) != 0) {
      std::fprintf(stderr, "mosquitto_test: required program \"%s\" is not executable\n",
                   tool.c_str());
      return 1;
    }
  }
  signal(SIGPIPE, SIG_IGN);
  int result = 1;
  try {
    Broker broker;
    broker.prepare_credentials();
    broker.start();
    g_broker = &broker;
    std::printf("mosquitto on 127.0.0.1: plain %u, TLS %u, password %u (dir %s)\n",
                broker.plain_port(), broker.tls_port(), broker.auth_port(), broker.dir().c_str());
    // argv[4], if present, filters cases by name.
    char *filter_argv[] = {argv[0], argc > 4 ? argv[4] : nullptr, nullptr};
    result = check::run_all(argc > 4 ? 2 : 1, filter_argv);
    if (result != 0) std::fprintf(stderr, "--- mosquitto log ---\n%s", broker.log().c_str());
    g_broker = nullptr;
  } catch (const std::exception &error) {
    std::fprintf(stderr, "mosquitto_test: %s\n", error.what());
    return 1;
  }
  return result;
}
