#include "admin.h"

#include "log.h"

namespace dpsemu {

namespace {

using nlohmann::json;

class AdminSession : public std::enable_shared_from_this<AdminSession> {
 public:
  AdminSession(tcp::socket socket, RegistrationService &service)
      : stream_(std::move(socket)), service_(service) {}

  void read_request() {
    parser_.emplace();
    parser_->body_limit(1024 * 1024);
    stream_.expires_after(kHttpIdleTimeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       if (ec) return self->close();
                       self->on_request();
                     });
  }

 private:
  void on_request() {
    auto &req = parser_->get();
    std::string target(req.target());
    target = target.substr(0, target.find('?'));
    int status = 200;
    json body;
    try {
      if (target == "/faults" && req.method() == http::verb::put) {
        json parsed = json::parse(req.body(), nullptr, false, true);
        if (parsed.is_discarded() || !parsed.is_object() || !parsed.contains("faults")) {
          status = 400;
          body = {{"error", "body must be a JSON object {\"faults\": [...]}"}};
        } else {
          service_.replace_global_faults(parse_faults(parsed["faults"], "faults"));
          body = {{"faults", service_.global_faults_json()}};
          log::info("admin-faults-replaced", {{"faults", body["faults"].dump()}});
        }
      } else if (target == "/faults" && req.method() == http::verb::delete_) {
        service_.replace_global_faults({});
        body = {{"faults", json::array()}};
        log::info("admin-faults-cleared");
      } else if (target == "/faults" && req.method() == http::verb::get) {
        body = {{"faults", service_.global_faults_json()}};
      } else if (target == "/registrations" && req.method() == http::verb::get) {
        body = service_.registrations_json();
      } else if (target == "/stats" && req.method() == http::verb::get) {
        body = service_.stats_json();
      } else {
        status = 404;
        body = {{"error", "unknown admin resource; use /faults, /registrations or /stats"}};
      }
    } catch (const ConfigError &e) {
      status = 400;
      body = {{"error", e.what()}};
    } catch (const std::exception &e) {
      status = 500;
      body = {{"error", e.what()}};
    }
    log::info("admin", {{"method", std::string(req.method_string())},
                        {"target", target},
                        {"status", std::to_string(status)}});
    auto res = std::make_shared<http::response<http::string_body>>();
    res->version(11);
    res->result(static_cast<http::status>(status));
    res->set(http::field::content_type, "application/json");
    res->body() = body.dump();
    res->keep_alive(req.keep_alive());
    res->prepare_payload();
    bool keep_alive = req.keep_alive();
    http::async_write(stream_, *res,
                      [self = shared_from_this(), res, keep_alive](beast::error_code ec, size_t) {
                        if (ec || !keep_alive) return self->close();
                        self->read_request();
                      });
  }

  void close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.close();
  }

  beast::tcp_stream stream_;
  RegistrationService &service_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
};

}  // namespace

void start_admin_connection(tcp::socket socket, RegistrationService &service) {
  std::make_shared<AdminSession>(std::move(socket), service)->read_request();
}

}  // namespace dpsemu
