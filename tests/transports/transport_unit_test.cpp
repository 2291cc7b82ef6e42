// White-box unit tests of the network-path pieces that need no network:
// proxy URL/field parsing and redaction, the WebSocket Host header and the
// HTTPS request paths, and WebSocketStream's framing duties (masking, ping
// answers, fragmented messages, Close) over an in-memory byte stream that
// plays a conforming server. The real paths run in transports_test.c.
#include <cstring>
#include <algorithm>
#include <deque>
#include <functional>
#include <string>
#include <vector>

#include "check.h"
#include "core/error.h"
#include "transport/https_transport.h"
#include "transport/proxy.h"
#include "transport/websocket_transport.h"

using prov::core::Error;
using namespace prov::transport;

TEST(proxy_url_full_form) {
  ProxySettings p = parse_proxy_url("socks5h://user:p%40ss%3Aw0rd@proxy.example:1081");
  CHECK(p.type == ProxyType::Socks5h);
  CHECK_EQ(p.host, std::string("proxy.example"));
  CHECK_EQ(p.port, 1081);
  CHECK(p.username && p.username->str() == "user");
  CHECK(p.password && p.password->str() == "p@ss:w0rd");
  CHECK_EQ(p.describe(), std::string("socks5h://proxy.example:1081"));
}

TEST(proxy_url_defaults_and_forms) {
  CHECK_EQ(parse_proxy_url("http://h").port, 80);
  CHECK_EQ(parse_proxy_url("https://h").port, 443);
  CHECK_EQ(parse_proxy_url("socks4://h").port, 1080);
  CHECK_EQ(parse_proxy_url("socks5://h/").port, 1080);
  ProxySettings bare = parse_proxy_url("h:3128");
  CHECK(bare.type == ProxyType::Http);
  CHECK_EQ(bare.port, 3128);
  CHECK(parse_proxy_url("SOCKS4A://h:1").type == ProxyType::Socks4a);
  ProxySettings v6 = parse_proxy_url("http://[::1]:3128");
  CHECK(v6.is_ipv6_literal);
  CHECK_EQ(v6.host, std::string("::1"));
  CHECK_EQ(v6.describe(), std::string("http://[::1]:3128"));
  ProxySettings user_only = parse_proxy_url("socks5://u@h:1");
  CHECK(user_only.username && user_only.username->str() == "u");
  CHECK(!user_only.password);
  // An '@' inside the password, unencoded: the last '@' ends the user info.
  ProxySettings at = parse_proxy_url("http://u:a@b@h:8080");
  CHECK(at.password && at.password->str() == "a@b");
  CHECK_EQ(at.host, std::string("h"));
}

TEST(proxy_url_errors_never_quote_the_password) {
  const char *bad[] = {
      "ftp://u:SECRETPW@h:21",     "http://u:SECRETPW@h:0",    "http://u:SECRETPW@h:65536",
      "http://u:SECRETPW@h:80x",   "http://u:SECRETPW@:80",    "http://u:SECRETPW@h:80/p",
      "http://u:SECRETPW%G1@h:80", "http://:SECRETPW@h:80",    "http://u:SECRETPW@[::1:80",
      "http://u:SECRETPW@[zz]:80", "http://u:SECRETPW@h h:80", "http://u:SECRETPW@h:"};
  for (const char *url : bad) {
    try {
      parse_proxy_url(url);
      check::report(__FILE__, __LINE__, std::string("accepted ") + url);
    } catch (const Error &e) {
      CHECK(e.status() == PROV_E_INVALID_ARG);
      CHECK(std::strstr(e.what(), "SECRETPW") == nullptr);
      CHECK(std::strstr(e.what(), "url") != nullptr);
    }
  }
  CHECK_EQ(redact_proxy_url("http://u:pw@h:1"), std::string("http://***@h:1"));
  CHECK_EQ(redact_proxy_url("http://h:1"), std::string("http://h:1"));
  CHECK_EQ(redact_proxy_url("u:pw@h:1"), std::string("***@h:1"));
}

// Random URLs around a known password: the parser either accepts or throws
// core::Error (nothing else), and an error never quotes the password.
TEST(proxy_url_random_inputs) {
  const char alphabet[] = "ab:@/[]%0129.-_?#hH \x01\x7f\xc3";
  const char *schemes[] = {"", "http://", "https://", "socks5h://", "socks4://", "x://"};
  uint32_t seed = 12345;
  auto next = [&seed] {
    seed = seed * 1103515245u + 12345u;
    return (seed >> 16) & 0x7fff;
  };
  auto random_text = [&](size_t max_len) {
    std::string out;
    for (size_t n = next() % (max_len + 1); n > 0; --n) {
      out += alphabet[next() % (sizeof alphabet - 1)];
    }
    return out;
  };
  int accepted = 0;
  for (int i = 0; i < 20000; ++i) {
    const std::string url = std::string(schemes[next() % 6]) + "u" + random_text(3) + ":PWsecret" +
                            random_text(4) + "@" + random_text(12);
    try {
      ProxySettings p = parse_proxy_url(url);
      ++accepted;
      CHECK(p.describe().find("PWsecret") == std::string::npos);
    } catch (const Error &e) {
      if (std::strstr(e.what(), "PWsecret") != nullptr) {
        check::report(__FILE__, __LINE__, "password quoted for " + url + ": " + e.what());
      }
    } catch (const std::exception &other) {
      check::report(__FILE__, __LINE__, "unexpected exception for " + url + ": " + other.what());
    }
  }
  CHECK(accepted > 0);
}

TEST(proxy_fields) {
  ProxySettings p = make_proxy_settings(5, "[::1]", 1080, "u", "pw");
  CHECK(p.type == ProxyType::Socks5);
  CHECK(p.is_ipv6_literal);
  CHECK_EQ(p.host, std::string("::1"));
  CHECK(!make_proxy_settings(0, nullptr, 0, nullptr, nullptr).enabled());
  CHECK_THROWS(make_proxy_settings(1, "h:80", 80, nullptr, nullptr), Error, "port argument");
  CHECK_THROWS(make_proxy_settings(1, "", 80, nullptr, nullptr), Error, "empty");
  CHECK_THROWS(make_proxy_settings(1, "h", 80, "", nullptr), Error, "username is empty");
  CHECK_THROWS(make_proxy_settings(1, "h", 80, "u\r\nX: y", nullptr), Error, "CR or LF");
  CHECK_THROWS(make_proxy_settings(9, "h", 80, nullptr, nullptr), Error, "prov_proxy_type");
  CHECK_THROWS(make_proxy_settings(0, "h", 80, nullptr, nullptr), Error, "PROV_PROXY_NONE");
}

TEST(scrub_removes_credentials_in_both_forms) {
  ProxySettings p = make_proxy_settings(1, "h", 80, "someuser", "pa ss/w");
  std::string text = scrub_proxy_credentials("a someuser b pa ss/w c pa%20ss%2Fw d", p);
  CHECK(text.find("someuser") == std::string::npos);
  CHECK(text.find("pa ss/w") == std::string::npos);
  CHECK(text.find("pa%20ss%2Fw") == std::string::npos);
  CHECK(text.find("***") != std::string::npos);
}

TEST(websocket_host_header_and_https_paths) {
  CHECK_EQ(websocket_host_header("h", false, 443), std::string("h"));
  CHECK_EQ(websocket_host_header("h", false, 8443), std::string("h:8443"));
  CHECK_EQ(websocket_host_header("::1", true, 443), std::string("[::1]"));
  CHECK_EQ(websocket_host_header("::1", true, 1), std::string("[::1]:1"));
  CHECK_EQ(https_register_path("0ne00000A0A", "dev:1", "2019-03-31"),
           std::string("/0ne00000A0A/registrations/dev%3A1/register?api-version=2019-03-31"));
  CHECK_EQ(https_operation_path("0ne00000A0A", "d", "4.abc.e7-1", "2021-11-01-preview"),
           std::string("/0ne00000A0A/registrations/d/operations/4.abc.e7-1"
                       "?api-version=2021-11-01-preview"));
}

// ---- WebSocketStream over an in-memory server ----

namespace {

// The server side of the test: records what the client sent and answers from
// `respond` (called with all bytes received so far).
class ScriptedServer final : public ByteStream {
 public:
  std::function<void(ScriptedServer &)> respond;
  std::string sent;
  std::deque<uint8_t> inbound;
  bool opened = false;
  bool closed = false;

  void open(const prov::core::WaitBudget &) override { opened = true; }
  void send_all(const uint8_t *data, size_t len, const prov::core::Deadline &,
                const prov::core::WaitBudget &) override {
    sent.append(reinterpret_cast<const char *>(data), len);
    if (respond) respond(*this);
  }
  Received receive(uint8_t *buffer, size_t capacity, const prov::core::Deadline &) override {
    if (inbound.empty()) return {ReceiveStatus::Timeout, 0};
    size_t n = 0;
    while (n < capacity && !inbound.empty()) {
      buffer[n++] = inbound.front();
      inbound.pop_front();
    }
    return {ReceiveStatus::Data, n};
  }
  void close() noexcept override { closed = true; }
  const std::string &peer() const override { return name_; }

  void push(const std::vector<uint8_t> &bytes) {
    inbound.insert(inbound.end(), bytes.begin(), bytes.end());
  }
  void push(const std::string &text) { inbound.insert(inbound.end(), text.begin(), text.end()); }

 private:
  std::string name_ = "scripted:443";
};

std::string accept_for(const std::string &request) {
  const std::string marker = "Sec-WebSocket-Key: ";
  size_t at = request.find(marker);
  if (at == std::string::npos) return "";
  size_t end = request.find("\r\n", at);
  return prov::ws::compute_accept(request.substr(at + marker.size(), end - at - marker.size()));
}

// Unmasked server frame.
std::vector<uint8_t> server_frame(uint8_t first_byte, const std::string &payload) {
  // Sized up front: growing a 2-byte vector by insert() trips a GCC 12
  // -Warray-bounds false positive at -O2.
  std::vector<uint8_t> out(2 + payload.size());
  out[0] = first_byte;
  out[1] = static_cast<uint8_t>(payload.size());
  std::copy(payload.begin(), payload.end(), out.begin() + 2);
  return out;
}

// Decodes one client frame at `offset` of `bytes` (must be masked); returns payload.
std::string client_frame_payload(const std::string &bytes, size_t &offset, uint8_t &opcode) {
  const auto *b = reinterpret_cast<const uint8_t *>(bytes.data()) + offset;
  opcode = b[0] & 0x0F;
  CHECK((b[1] & 0x80) != 0);  // masked
  size_t len = b[1] & 0x7F;
  size_t header = 2;
  if (len == 126) {
    len = (size_t(b[2]) << 8) | b[3];
    header = 4;
  }
  const uint8_t *mask = b + header;
  std::string payload;
  for (size_t i = 0; i < len; ++i) payload += static_cast<char>(b[header + 4 + i] ^ mask[i % 4]);
  offset += header + 4 + len;
  return payload;
}

}  // namespace

TEST(websocket_stream_frames_pings_and_close) {
  auto server_owned = std::make_unique<ScriptedServer>();
  ScriptedServer *server = server_owned.get();
  bool answered = false;
  server->respond = [&answered](ScriptedServer &s) {
    if (answered || s.sent.find("\r\n\r\n") == std::string::npos) return;
    answered = true;
    // The upgrade, immediately followed by a ping and a message in two fragments.
    s.push(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Accept: " +
        accept_for(s.sent) + "\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n");
    s.push(server_frame(0x89, "hi"));   // ping "hi"
    s.push(server_frame(0x02, "abc"));  // binary, not final
    s.push(server_frame(0x80, "def"));  // continuation, final
  };
  WebSocketSettings settings;
  settings.host_header = "dps.example";
  WebSocketStream ws(settings, std::move(server_owned));
  prov::core::WaitBudget budget(5000, 5000);
  ws.open(budget);
  CHECK(server->opened);
  CHECK(server->sent.rfind("GET /$iothub/websocket HTTP/1.1\r\n", 0) == 0);
  CHECK(server->sent.find("Host: dps.example\r\n") != std::string::npos);
  CHECK(server->sent.find("Sec-WebSocket-Protocol: mqtt\r\n") != std::string::npos);
  const size_t handshake_size = server->sent.size();

  uint8_t buffer[4];
  std::string got;
  while (got.size() < 6) {
    auto r = ws.receive(buffer, sizeof buffer, budget.step());
    CHECK(r.status == ByteStream::ReceiveStatus::Data);
    if (r.status != ByteStream::ReceiveStatus::Data) break;
    got.append(reinterpret_cast<char *>(buffer), r.size);
  }
  CHECK_EQ(got, std::string("abcdef"));
  size_t offset = handshake_size;
  uint8_t opcode = 0;
  CHECK_EQ(client_frame_payload(server->sent, offset, opcode), std::string("hi"));
  CHECK_EQ(int(opcode), 0xA);  // pong

  const uint8_t mqtt_bytes[] = {0xC0, 0x00};  // PINGREQ
  ws.send_all(mqtt_bytes, sizeof mqtt_bytes, budget.step(), budget);
  ws.send_all(mqtt_bytes, sizeof mqtt_bytes, budget.step(), budget);
  size_t first = offset;
  CHECK_EQ(client_frame_payload(server->sent, offset, opcode), std::string("\xC0\x00", 2));
  CHECK_EQ(int(opcode), 0x2);
  CHECK_EQ(client_frame_payload(server->sent, offset, opcode), std::string("\xC0\x00", 2));
  // Each frame has its own masking key.
  CHECK(server->sent.compare(first + 2, 4, server->sent, offset - 8, 4) != 0);

  // The server closes: the client answers with a Close and reports Closed.
  server->push(server_frame(0x88, std::string("\x03\xE8", 2)));
  auto r = ws.receive(buffer, sizeof buffer, budget.step());
  CHECK(r.status == ByteStream::ReceiveStatus::Closed);
  CHECK_EQ(client_frame_payload(server->sent, offset, opcode), std::string("\x03\xE8", 2));
  CHECK_EQ(int(opcode), 0x8);
  CHECK(server->closed);
}

TEST(websocket_refused_upgrade_is_connection_failed) {
  auto server_owned = std::make_unique<ScriptedServer>();
  server_owned->respond = [](ScriptedServer &s) {
    if (s.sent.find("\r\n\r\n") != std::string::npos && s.inbound.empty()) {
      s.push("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
    }
  };
  WebSocketSettings settings;
  settings.host_header = "dps.example";
  WebSocketStream ws(settings, std::move(server_owned));
  prov::core::WaitBudget budget(5000, 5000);
  try {
    ws.open(budget);
    check::report(__FILE__, __LINE__, "open succeeded");
  } catch (const Error &e) {
    CHECK(e.status() == PROV_E_CONNECTION_FAILED);
    CHECK(std::strstr(e.what(), "WebSocket handshake") != nullptr);
    CHECK(std::strstr(e.what(), "404") != nullptr);
  }
}

TEST(websocket_busy_gateway_is_transient_refusal_is_not) {
  for (int status : {503, 403}) {
    auto server_owned = std::make_unique<ScriptedServer>();
    server_owned->respond = [status](ScriptedServer &s) {
      if (s.sent.find("\r\n\r\n") != std::string::npos && s.inbound.empty()) {
        s.push("HTTP/1.1 " + std::to_string(status) + " Nope\r\nContent-Length: 0\r\n\r\n");
      }
    };
    WebSocketSettings settings;
    settings.host_header = "dps.example";
    WebSocketStream ws(settings, std::move(server_owned));
    prov::core::WaitBudget budget(5000, 5000);
    try {
      ws.open(budget);
      check::report(__FILE__, __LINE__, "open succeeded");
    } catch (const Error &e) {
      CHECK(e.status() == PROV_E_CONNECTION_FAILED);
      CHECK(std::strstr(e.what(), std::to_string(status).c_str()) != nullptr);
      CHECK_EQ(e.transient(), status == 503);
    }
  }
}

TEST(websocket_masked_server_frame_is_protocol_error) {
  auto server_owned = std::make_unique<ScriptedServer>();
  server_owned->respond = [](ScriptedServer &s) {
    if (s.sent.find("\r\n\r\n") != std::string::npos && s.inbound.empty()) {
      s.push(
          "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          "Sec-WebSocket-Accept: " +
          accept_for(s.sent) + "\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n");
      s.push(std::vector<uint8_t>{0x82, 0x81, 1, 2, 3, 4, 5});  // masked: servers must not
    }
  };
  WebSocketSettings settings;
  settings.host_header = "dps.example";
  WebSocketStream ws(settings, std::move(server_owned));
  prov::core::WaitBudget budget(5000, 5000);
  ws.open(budget);
  uint8_t buffer[8];
  try {
    ws.receive(buffer, sizeof buffer, budget.step());
    check::report(__FILE__, __LINE__, "masked frame accepted");
  } catch (const Error &e) {
    CHECK(e.status() == PROV_E_PROTOCOL);
    CHECK(std::strstr(e.what(), "WebSocket") != nullptr);
  }
}

CHECK_MAIN()
