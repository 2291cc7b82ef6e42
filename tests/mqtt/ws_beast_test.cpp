// Interop: libprov's WebSocket client codec against Boost.Beast's WebSocket
// server, an RFC 6455 implementation we did not write (Debian's libboost-dev;
// the same library dps-emulator serves WebSockets with).
//
// A Beast server on a free loopback port upgrades GET /$iothub/websocket with
// subprotocol mqtt, pings the client, echoes every binary message (fragmenting
// what it sends into 1000-byte frames), and on the message "close-me" starts
// the closing handshake. Other paths: /noproto upgrades without selecting a
// subprotocol, anything else gets 404. The client side uses only prov::ws
// over a plain socket.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "check.h"
#include "transport/websocket/ws_codec.h"

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = boost::asio::ip::tcp;
using namespace prov::ws;

namespace {

// ---- The Beast server ----

class BeastServer {
 public:
  BeastServer() : acceptor_(io_, tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0)) {
    thread_ = std::thread([this] { run(); });
  }
  ~BeastServer() {
    // Wakes the blocking accept() so the thread can end.
    ::shutdown(acceptor_.native_handle(), SHUT_RDWR);
    thread_.join();
  }
  uint16_t port() const { return acceptor_.local_endpoint().port(); }
  bool pong_seen() const { return pong_seen_; }
  std::string errors() {
    std::lock_guard<std::mutex> lock(mutex_);
    return errors_;
  }

 private:
  void run() {
    for (;;) {
      boost::system::error_code error;
      tcp::socket socket(io_);
      acceptor_.accept(socket, error);
      if (error) return;
      // A stuck client must not hang the test: reads time out.
      timeval timeout{10, 0};
      setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
      try {
        serve(std::move(socket));
      } catch (const std::exception &e) {
        std::lock_guard<std::mutex> lock(mutex_);
        errors_ += std::string("server: ") + e.what() + "\n";
      }
    }
  }

  void serve(tcp::socket socket) {
    beast::flat_buffer buffer;
    http::request<http::string_body> request;
    http::read(socket, buffer, request);
    const bool with_protocol = request.target() == "/$iothub/websocket";
    if (!websocket::is_upgrade(request) || (!with_protocol && request.target() != "/noproto")) {
      http::response<http::string_body> response{http::status::not_found, request.version()};
      response.set(http::field::content_type, "text/plain");
      response.body() = "no WebSocket endpoint here";
      response.prepare_payload();
      http::write(socket, response);
      return;
    }
    websocket::stream<tcp::socket> ws(std::move(socket));
    if (with_protocol) {
      ws.set_option(websocket::stream_base::decorator([](websocket::response_type &response) {
        response.set(http::field::sec_websocket_protocol, "mqtt");
      }));
    }
    ws.control_callback([this](websocket::frame_type kind, beast::string_view payload) {
      if (kind == websocket::frame_type::pong && payload == "srv-ping") pong_seen_ = true;
    });
    ws.read_message_max(1024 * 1024);
    ws.accept(request);
    ws.auto_fragment(true);
    ws.write_buffer_bytes(1000);
    ws.binary(true);
    ws.ping("srv-ping");
    for (;;) {
      beast::flat_buffer message;
      boost::system::error_code error;
      ws.read(message, error);
      // Closed: the closing handshake completed. EOF/reset: the client just
      // dropped the socket (some cases do, after their checks).
      if (error == websocket::error::closed || error == boost::asio::error::eof ||
          error == boost::asio::error::connection_reset) {
        return;
      }
      if (error) throw beast::system_error(error);
      if (!ws.got_binary()) throw std::runtime_error("client sent a text message");
      if (beast::buffers_to_string(message.data()) == "close-me") {
        ws.close(websocket::close_reason(websocket::close_code::normal, "bye"));
        return;
      }
      ws.write(message.data());
    }
  }

  boost::asio::io_context io_;
  tcp::acceptor acceptor_;
  std::thread thread_;
  std::atomic<bool> pong_seen_{false};
  std::mutex mutex_;
  std::string errors_;
};

BeastServer *g_server = nullptr;

// ---- The client: a socket + prov::ws ----

class WsClient {
 public:
  explicit WsClient(uint16_t port) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    if (connect(fd_, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0) {
      throw std::runtime_error("cannot connect to the Beast server");
    }
  }
  ~WsClient() { close(fd_); }

  // Sends the upgrade request; returns the parsed response head and keeps
  // any bytes after it for the frame decoder.
  HandshakeResponse handshake(const std::string &path, const KeyNonce &nonce) {
    HandshakeRequest request;
    request.host = "127.0.0.1";
    request.path = path;
    request.key_nonce = nonce;
    send_all(build_handshake_request(request));
    std::string received;
    for (;;) {
      const size_t end = find_handshake_response_end(received);
      if (end > 0) {
        frames_.feed(reinterpret_cast<const uint8_t *>(received.data()) + end,
                     received.size() - end);
        return parse_handshake_response(std::string_view(received).substr(0, end));
      }
      uint8_t buffer[4096];
      const size_t n = read_some(buffer, sizeof buffer);
      if (n == 0) throw std::runtime_error("server closed during the handshake");
      received.append(reinterpret_cast<const char *>(buffer), n);
    }
  }

  void send_all(std::string_view bytes) {
    size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n = send(fd_, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
      if (n <= 0) throw std::runtime_error("send failed");
      done += static_cast<size_t>(n);
    }
  }
  void send_frame(const std::vector<uint8_t> &frame) {
    send_all(std::string_view(reinterpret_cast<const char *>(frame.data()), frame.size()));
  }

  Event next_event() {
    for (;;) {
      if (std::optional<Event> event = frames_.next()) return *event;
      uint8_t buffer[16384];
      const size_t n = read_some(buffer, sizeof buffer);
      if (n == 0) throw std::runtime_error("server closed the connection");
      frames_.feed(buffer, n);
    }
  }

  // Raw bytes received since the last call (to look at frame headers).
  std::vector<uint8_t> take_raw() { return std::exchange(raw_, {}); }

  bool closed_by_peer() {
    uint8_t buffer[64];
    return read_some(buffer, sizeof buffer) == 0;
  }

 private:
  size_t read_some(uint8_t *buffer, size_t size) {
    pollfd pfd{fd_, POLLIN, 0};
    if (poll(&pfd, 1, 10000) <= 0) throw std::runtime_error("timed out waiting for the server");
    const ssize_t n = recv(fd_, buffer, size, 0);
    if (n < 0) throw std::runtime_error("recv failed");
    raw_.insert(raw_.end(), buffer, buffer + n);
    return static_cast<size_t>(n);
  }

  int fd_ = -1;
  FrameDecoder frames_;
  std::vector<uint8_t> raw_;
};

KeyNonce make_nonce(uint8_t seed) {
  KeyNonce nonce{};
  for (size_t i = 0; i < nonce.size(); ++i) nonce[i] = static_cast<uint8_t>(seed * 31 + i * 7);
  return nonce;
}

MaskKey make_mask(size_t n) {
  return {static_cast<uint8_t>(n * 13 + 1), static_cast<uint8_t>(n * 7 + 2),
          static_cast<uint8_t>(n * 5 + 3), static_cast<uint8_t>(n * 3 + 4)};
}

}  // namespace

TEST(upgrade_ping_echo_fragments_and_close) {
  WsClient client(g_server->port());
  const KeyNonce nonce = make_nonce(1);
  const HandshakeResponse response = client.handshake("/$iothub/websocket", nonce);
  CHECK_EQ(response.status_code, 101);
  validate_handshake_response(response, make_key(nonce), "mqtt");

  // The server pings first; answer it as the transport will.
  Event event = client.next_event();
  CHECK(event.type == Event::Type::Ping);
  CHECK(event.payload == check::bytes("srv-ping"));
  client.send_frame(encode_pong(event.payload.data(), event.payload.size(), make_mask(0)));

  // Echo: sizes across the three length forms; the server's copies of the
  // big ones arrive in 1000-byte fragments and must come out reassembled.
  size_t round = 1;
  for (size_t size : {size_t{0}, size_t{2}, size_t{125}, size_t{126}, size_t{999}, size_t{5000},
                      size_t{65535}, size_t{65536}, size_t{200000}}) {
    std::vector<uint8_t> message(size);
    for (size_t i = 0; i < size; ++i) message[i] = static_cast<uint8_t>(i * 11 + round);
    client.take_raw();
    client.send_frame(encode_binary_frame(message, make_mask(round++)));
    event = client.next_event();
    CHECK(event.type == Event::Type::Data);
    CHECK_EQ(event.payload.size(), size);
    CHECK(event.payload == message);
    // Beast's copy came as one frame (binary, FIN) or, over 1000 bytes, as a
    // first fragment (binary, FIN clear) and continuations.
    const std::vector<uint8_t> raw = client.take_raw();
    CHECK(!raw.empty() && raw[0] == (size > 1000 ? 0x02 : 0x82));
  }

  // Our ping gets Beast's pong.
  const std::vector<uint8_t> ping = check::bytes("cli-ping");
  client.send_frame(encode_ping(ping.data(), ping.size(), make_mask(99)));
  event = client.next_event();
  CHECK(event.type == Event::Type::Pong);
  CHECK(event.payload == ping);

  // The server closes; we answer the Close and the server ends the TCP connection.
  client.send_frame(encode_binary_frame(check::bytes("close-me"), make_mask(100)));
  event = client.next_event();
  CHECK(event.type == Event::Type::Close);
  CHECK_EQ(event.close_code, kCloseNormal);
  CHECK(event.payload == check::bytes("bye"));
  client.send_frame(encode_close(kCloseNormal, "", make_mask(101)));
  CHECK(client.closed_by_peer());
  CHECK(g_server->pong_seen());
}

TEST(client_initiated_close) {
  WsClient client(g_server->port());
  const KeyNonce nonce = make_nonce(2);
  validate_handshake_response(client.handshake("/$iothub/websocket", nonce), make_key(nonce),
                              "mqtt");
  Event event = client.next_event();
  CHECK(event.type == Event::Type::Ping);
  client.send_frame(encode_close(kCloseNormal, "done", make_mask(3)));
  event = client.next_event();
  CHECK(event.type == Event::Type::Close);
  CHECK_EQ(event.close_code, kCloseNormal);
  CHECK(client.closed_by_peer());
}

TEST(handshake_refused_with_404) {
  WsClient client(g_server->port());
  const KeyNonce nonce = make_nonce(3);
  const HandshakeResponse response = client.handshake("/wrong/path", nonce);
  CHECK_EQ(response.status_code, 404);
  CHECK_THROWS(validate_handshake_response(response, make_key(nonce), "mqtt"), HandshakeError,
               "the server answered HTTP 404 Not Found instead of 101 Switching Protocols");
}

TEST(subprotocol_not_selected) {
  WsClient client(g_server->port());
  const KeyNonce nonce = make_nonce(4);
  const HandshakeResponse response = client.handshake("/noproto", nonce);
  CHECK_EQ(response.status_code, 101);
  CHECK_THROWS(validate_handshake_response(response, make_key(nonce), "mqtt"), HandshakeError,
               "did not select the subprotocol \"mqtt\"");
  // With another nonce's key the accept check fails first.
  CHECK_THROWS(validate_handshake_response(response, make_key(make_nonce(5)), ""), HandshakeError,
               "does not match the key sent");
}

int main(int argc, char **argv) {
  int result;
  std::string server_errors;
  {
    BeastServer server;
    g_server = &server;
    result = check::run_all(argc, argv);
    g_server = nullptr;
    server_errors = server.errors();
  }
  if (!server_errors.empty()) {
    std::fprintf(stderr, "%s", server_errors.c_str());
    result = 1;
  }
  return result;
}
