// Networking types shared by the front ends (Boost.Asio / Boost.Beast over OpenSSL).
#pragma once

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace dpsemu {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;
using WsStream = websocket::stream<TlsStream>;

constexpr std::chrono::seconds kHandshakeTimeout{10};
constexpr std::chrono::seconds kFirstPacketTimeout{10};
constexpr std::chrono::seconds kHttpIdleTimeout{60};
constexpr size_t kMaxMessageBytes = 96 * 1024;

// The certificates the client presented in the TLS handshake, as PEM, leaf first.
std::vector<std::string> peer_chain_pem(SSL *ssl);

// Turns off Nagle: every exchange would otherwise wait ~40 ms on delayed ACKs.
void set_no_delay(tcp::socket &socket);

// A byte pipe the MQTT session runs over: TLS directly, or WebSocket binary messages over TLS.
class MqttTransport {
 public:
  using ReadHandler = std::function<void(beast::error_code, const uint8_t *, size_t)>;
  using WriteHandler = std::function<void(beast::error_code)>;
  virtual ~MqttTransport() = default;
  virtual void async_read(ReadHandler handler) = 0;
  virtual void async_write(std::shared_ptr<const std::vector<uint8_t>> bytes,
                           WriteHandler handler) = 0;
  virtual void close() = 0;  // abrupt, idempotent
  virtual const char *name() const = 0;
  virtual std::string remote() const = 0;
  virtual std::vector<std::string> peer_chain() = 0;
  virtual asio::any_io_executor executor() = 0;
};

std::shared_ptr<MqttTransport> make_tls_transport(std::shared_ptr<TlsStream> stream);
std::shared_ptr<MqttTransport> make_ws_transport(std::shared_ptr<WsStream> stream);

}  // namespace dpsemu
