#include "https_api.h"

#include "log.h"
#include "mqtt_session.h"
#include "util.h"

namespace dpsemu {

namespace {

double elapsed_ms(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - since)
      .count();
}

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> segments;
  while (!path.empty()) {
    if (path.front() == '/') {
      path.remove_prefix(1);
      continue;
    }
    size_t slash = path.find('/');
    segments.emplace_back(path.substr(0, slash));
    path = slash == std::string_view::npos ? std::string_view{} : path.substr(slash);
  }
  return segments;
}

}  // namespace

std::optional<RestRoute> match_rest_route(http::verb method, std::string_view target,
                                          std::string &error) {
  size_t question = target.find('?');
  std::string_view path = target.substr(0, question);
  std::string_view query =
      question == std::string_view::npos ? std::string_view{} : target.substr(question + 1);
  RestRoute route;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (pair.rfind("api-version=", 0) == 0) {
      route.api_version = percent_decode(pair.substr(12), true).value_or("");
    }
  }
  std::vector<std::string> segments;
  for (auto &raw : split_path(path)) {
    auto decoded = percent_decode(raw);
    if (!decoded) {
      error = "malformed percent escape in the request path";
      return std::nullopt;
    }
    segments.push_back(*decoded);
  }
  if (segments.size() < 3 || segments[1] != "registrations") {
    error = "no such resource (expected /{idScope}/registrations/{registrationId}/...)";
    return std::nullopt;
  }
  route.id_scope = segments[0];
  route.registration_id = segments[2];
  if (segments.size() == 4 && segments[3] == "register" && method == http::verb::put) {
    route.kind = RestRoute::Kind::kRegister;
  } else if (segments.size() == 5 && segments[3] == "operations" && method == http::verb::get) {
    route.kind = RestRoute::Kind::kOperationStatus;
    route.operation_id = segments[4];
  } else if (segments.size() == 3 && method == http::verb::post) {
    route.kind = RestRoute::Kind::kStatusLookup;
  } else {
    error = "no such operation: " + std::string(http::to_string(method)) + " " +
            std::string(path.substr(0, 200));
    return std::nullopt;
  }
  return route;
}

std::optional<std::string> pick_mqtt_subprotocol(std::string_view offered) {
  while (!offered.empty()) {
    size_t comma = offered.find(',');
    std::string_view token = offered.substr(0, comma);
    offered = comma == std::string_view::npos ? std::string_view{} : offered.substr(comma + 1);
    while (!token.empty() && (token.front() == ' ' || token.front() == '\t'))
      token.remove_prefix(1);
    while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) token.remove_suffix(1);
    if (iequals(token, "mqtt")) return std::string(token);
  }
  return std::nullopt;
}

HttpsSession::HttpsSession(tcp::socket socket, ssl::context &tls, RegistrationService &service)
    : stream_(std::make_shared<TlsStream>(std::move(socket), tls)), service_(service) {}

void HttpsSession::start() {
  auto &lowest = beast::get_lowest_layer(*stream_);
  lowest.expires_after(kHandshakeTimeout);
  stream_->async_handshake(
      ssl::stream_base::server, [self = shared_from_this()](beast::error_code ec) {
        if (ec) {
          log::debug("tls-handshake-failed", {{"transport", "https"}, {"error", ec.message()}});
          return self->close();
        }
        self->peer_chain_ = peer_chain_pem(self->stream_->native_handle());
        self->read_request();
      });
}

void HttpsSession::read_request() {
  parser_.emplace();
  parser_->body_limit(kMaxMessageBytes);
  parser_->header_limit(16 * 1024);
  beast::get_lowest_layer(*stream_).expires_after(kHttpIdleTimeout);
  // Header first: a client that sent "Expect: 100-continue" (curl does for larger bodies) waits
  // for the interim response before sending the body.
  http::async_read_header(
      *stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, size_t) {
        if (ec) return self->on_read_error(ec);
        auto &req = self->parser_->get();
        if (iequals(req[http::field::expect], "100-continue") && !self->parser_->is_done()) {
          return self->send_continue();
        }
        self->read_body();
      });
}

void HttpsSession::send_continue() {
  auto interim = std::make_shared<http::response<http::empty_body>>(http::status::continue_, 11);
  http::async_write(*stream_, *interim,
                    [self = shared_from_this(), interim](beast::error_code ec, size_t) {
                      if (ec) return self->close();
                      self->read_body();
                    });
}

void HttpsSession::read_body() {
  http::async_read(*stream_, buffer_, *parser_,
                   [self = shared_from_this()](beast::error_code ec, size_t) {
                     if (ec) return self->on_read_error(ec);
                     self->on_request();
                   });
}

void HttpsSession::on_read_error(beast::error_code ec) {
  if (ec != http::error::end_of_stream && ec != asio::error::eof && ec != beast::error::timeout &&
      ec != ssl::error::stream_truncated) {
    log::debug("http-read-failed", {{"error", ec.message()}});
    // Tell the client what was wrong when the request itself was bad.
    if (ec == http::error::body_limit || ec == http::error::header_limit) {
      auto reply =
          RegistrationService::error_reply(413, 413002, "Request too large (limit 96 KB).");
      return respond(reply, false);
    }
  }
  close();
}

void HttpsSession::on_request() {
  request_started_ = std::chrono::steady_clock::now();
  auto &req = parser_->get();
  if (websocket::is_upgrade(req)) return upgrade_to_websocket();

  std::string error;
  auto route = match_rest_route(req.method(), req.target(), error);
  bool keep_alive = req.keep_alive();
  if (!route) {
    auto reply = RegistrationService::error_reply(404, 404001, error);
    log::request("https", "", std::string(req.method_string()), 404, "no-route",
                 elapsed_ms(request_started_));
    return respond(reply, keep_alive);
  }
  RequestContext ctx;
  ctx.transport = "https";
  ctx.id_scope = route->id_scope;
  ctx.registration_id = route->registration_id;
  ctx.peer_chain_pem = peer_chain_;
  auto auth = req.find(http::field::authorization);
  if (auth != req.end()) ctx.sas_token = std::string(auth->value());

  const char *op = "register";
  if (route->kind == RestRoute::Kind::kRegister &&
      service_.drop_on_connect("https", ctx.registration_id)) {
    return close();
  }
  ServiceReply reply;
  switch (route->kind) {
    case RestRoute::Kind::kRegister:
      reply = service_.register_device(ctx, req.body());
      break;
    case RestRoute::Kind::kOperationStatus:
      op = "query";
      reply = service_.operation_status(ctx, route->operation_id);
      break;
    case RestRoute::Kind::kStatusLookup:
      op = "lookup";
      reply = service_.status_lookup(ctx, req.body());
      break;
  }
  if (reply.delivery == Delivery::kDropConnection) {
    log::request("https", ctx.registration_id, op, 0, reply.result, elapsed_ms(request_started_));
    return close();
  }
  // HTTP has no PUBACK: noPuback is silence there.
  if (reply.delivery == Delivery::kSilent || reply.delivery == Delivery::kSilentNoPuback) {
    log::request("https", ctx.registration_id, op, 0, reply.result, elapsed_ms(request_started_));
    return read_request();  // never answer this one, keep the connection
  }
  log::request("https", ctx.registration_id, op, reply.status, reply.result,
               elapsed_ms(request_started_), {{"trackingId", reply.tracking_id}});
  respond(reply, keep_alive);
}

void HttpsSession::respond(const ServiceReply &reply, bool keep_alive) {
  auto res = std::make_shared<http::response<http::string_body>>();
  res->version(11);
  res->result(static_cast<http::status>(reply.status));
  res->set("content-type", "application/json; charset=utf-8");
  res->set("x-ms-request-id", reply.tracking_id);
  if (reply.retry_after_seconds)
    res->set("retry-after", std::to_string(*reply.retry_after_seconds));
  if (reply.status >= 400 && reply.body.contains("errorCode")) {
    res->set("x-ms-error-code", reply.body["errorCode"].dump());
  }
  res->body() = reply.wire_body();
  res->keep_alive(keep_alive);
  res->prepare_payload();
  beast::get_lowest_layer(*stream_).expires_after(kHttpIdleTimeout);
  http::async_write(*stream_, *res,
                    [self = shared_from_this(), res, keep_alive](beast::error_code ec, size_t) {
                      if (ec || !keep_alive) return self->close();
                      self->read_request();
                    });
}

void HttpsSession::upgrade_to_websocket() {
  auto &req = parser_->get();
  auto offered = req[http::field::sec_websocket_protocol];
  auto token = pick_mqtt_subprotocol(offered);
  if (!token) {
    auto reply = RegistrationService::error_reply(
        400, 400004, "WebSocket upgrade needs the subprotocol 'mqtt'.");
    log::request("mqtt-ws", "", "upgrade", 400, "no-mqtt-subprotocol",
                 elapsed_ms(request_started_));
    return respond(reply, false);
  }
  beast::get_lowest_layer(*stream_).expires_never();
  auto ws = std::make_shared<WsStream>(std::move(*stream_));
  ws->set_option(websocket::stream_base::decorator([token = *token](websocket::response_type &res) {
    res.set(http::field::sec_websocket_protocol, token);
  }));
  websocket::stream_base::timeout timeouts{};
  timeouts.handshake_timeout = kHandshakeTimeout;
  timeouts.idle_timeout = websocket::stream_base::none();  // the MQTT session keeps its own
  timeouts.keep_alive_pings = false;
  ws->set_option(timeouts);
  auto request = std::make_shared<http::request<http::string_body>>(parser_->release());
  ws->async_accept(*request, [ws, request, &service = service_](beast::error_code ec) {
    if (ec) {
      log::debug("websocket-accept-failed", {{"error", ec.message()}});
      return;
    }
    std::make_shared<MqttSession>(make_ws_transport(ws), service)->start();
  });
}

void HttpsSession::close() {
  auto &lowest = beast::get_lowest_layer(*stream_);
  beast::error_code ec;
  lowest.socket().shutdown(tcp::socket::shutdown_both, ec);
  lowest.close();
}

void start_mqtt_tls_connection(tcp::socket socket, ssl::context &tls,
                               RegistrationService &service) {
  auto stream = std::make_shared<TlsStream>(std::move(socket), tls);
  beast::get_lowest_layer(*stream).expires_after(kHandshakeTimeout);
  stream->async_handshake(ssl::stream_base::server, [stream, &service](beast::error_code ec) {
    if (ec) {
      log::debug("tls-handshake-failed", {{"transport", "mqtt"}, {"error", ec.message()}});
      beast::get_lowest_layer(*stream).close();
      return;
    }
    // The MQTT session runs its own idle timer (no CONNECT in 10 s, then keep-alive).
    beast::get_lowest_layer(*stream).expires_never();
    std::make_shared<MqttSession>(make_tls_transport(stream), service)->start();
  });
}

}  // namespace dpsemu
