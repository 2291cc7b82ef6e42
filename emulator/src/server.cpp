#include "server.h"

#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "admin.h"
#include "config.h"
#include "https_api.h"
#include "log.h"
#include "net.h"
#include "pki.h"
#include "registration_service.h"
#include "store.h"
#include "util.h"

namespace dpsemu {

namespace {

// Accepts connections forever and hands each (with TCP_NODELAY set) to `on_accept`.
class Listener : public std::enable_shared_from_this<Listener> {
 public:
  using OnAccept = std::function<void(tcp::socket)>;
  Listener(asio::io_context &io, const tcp::endpoint &endpoint, const char *name,
           OnAccept on_accept)
      : acceptor_(io), name_(name), on_accept_(std::move(on_accept)) {
    beast::error_code ec;
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      throw std::runtime_error(std::string("cannot listen for ") + name + " on " +
                               endpoint.address().to_string() + ":" +
                               std::to_string(endpoint.port()) + ": " + ec.message());
    }
  }
  int port() const { return acceptor_.local_endpoint().port(); }
  void start() { accept(); }
  void stop() {
    beast::error_code ec;
    acceptor_.close(ec);
  }

 private:
  void accept() {
    acceptor_.async_accept([self = shared_from_this()](beast::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted || !self->acceptor_.is_open()) return;
      if (ec) {
        // Out of file descriptors and the like: log, back off briefly, keep accepting.
        log::warn("accept-failed", {{"listener", self->name_}, {"error", ec.message()}});
        auto timer = std::make_shared<asio::steady_timer>(self->acceptor_.get_executor());
        timer->expires_after(std::chrono::milliseconds(50));
        timer->async_wait([self, timer](beast::error_code) { self->accept(); });
        return;
      }
      set_no_delay(socket);
      self->on_accept_(std::move(socket));
      self->accept();
    });
  }

  tcp::acceptor acceptor_;
  const char *name_;
  OnAccept on_accept_;
};

void raise_fd_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

std::unique_ptr<ssl::context> make_tls_context(const pki::PkiPaths &paths) {
  auto ctx = std::make_unique<ssl::context>(ssl::context::tls_server);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                   ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                   ssl::context::single_dh_use);
  SSL_CTX *native = ctx->native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  SSL_CTX_set_max_proto_version(native, TLS1_3_VERSION);
  ctx->use_certificate_chain_file(paths.server_cert_chain);
  ctx->use_private_key_file(paths.server_key, ssl::context::pem);
  // Request (never require) a client certificate and accept any at the TLS layer: X.509
  // attestation is the registration service's job, with DPS error bodies.
  SSL_CTX_set_verify(native, SSL_VERIFY_PEER, [](int, X509_STORE_CTX *) { return 1; });
  static const unsigned char kSessionContext[] = "dps-emulator";
  SSL_CTX_set_session_id_context(native, kSessionContext, sizeof kSessionContext - 1);
  return ctx;
}

}  // namespace

int run_server(const ServeOptions &options) {
  raise_fd_limit();
  std::error_code fs_error;
  std::filesystem::create_directories(options.data_dir, fs_error);
  if (fs_error) {
    log::error("startup", {{"error", "cannot create data dir '" + options.data_dir +
                                         "': " + fs_error.message()}});
    return 1;
  }
  Config config;
  try {
    if (!options.config_path.empty()) config = load_config_file(options.config_path);
  } catch (const ConfigError &e) {
    log::error("config", {{"error", e.what()}});
    return 2;
  }

  asio::io_context io(1);
  std::shared_ptr<Store> store;
  std::shared_ptr<pki::PkiPaths> pki_paths;
  std::unique_ptr<ssl::context> tls;
  std::vector<std::shared_ptr<Listener>> listeners;
  std::unique_ptr<RegistrationService> service;
  try {
    pki_paths =
        std::make_shared<pki::PkiPaths>(pki::ensure_dev_pki(options.data_dir, options.host_names));
    tls = make_tls_context(*pki_paths);
    store = std::make_shared<Store>(options.data_dir + "/registrations.sqlite3");
    service = std::make_unique<RegistrationService>(config, store, pki_paths);

    auto address = asio::ip::make_address(options.bind_address);
    auto loopback = asio::ip::make_address("127.0.0.1");
    auto &svc = *service;
    auto &tls_ctx = *tls;
    listeners.push_back(std::make_shared<Listener>(
        io, tcp::endpoint(address, static_cast<unsigned short>(options.mqtt_port)), "mqtt",
        [&svc, &tls_ctx](tcp::socket s) {
          start_mqtt_tls_connection(std::move(s), tls_ctx, svc);
        }));
    listeners.push_back(std::make_shared<Listener>(
        io, tcp::endpoint(address, static_cast<unsigned short>(options.https_port)), "https",
        [&svc, &tls_ctx](tcp::socket s) {
          std::make_shared<HttpsSession>(std::move(s), tls_ctx, svc)->start();
        }));
    listeners.push_back(std::make_shared<Listener>(
        io, tcp::endpoint(loopback, static_cast<unsigned short>(options.admin_port)), "admin",
        [&svc](tcp::socket s) { start_admin_connection(std::move(s), svc); }));
  } catch (const std::exception &e) {
    log::error("startup", {{"error", e.what()}});
    return 1;
  }
  // Signals are caught before the ports file tells anyone the emulator is up, so a SIGTERM right
  // after startup is still a clean shutdown.
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](beast::error_code ec, int signal_number) {
    if (ec) return;
    log::info("shutdown", {{"signal", std::to_string(signal_number)}});
    for (auto &l : listeners) l->stop();
    io.stop();
  });
  for (auto &l : listeners) l->start();

  int mqtt_port = listeners[0]->port(), https_port = listeners[1]->port(),
      admin_port = listeners[2]->port();
  if (!options.ports_file.empty()) {
    nlohmann::json ports = {
        {"mqtt", mqtt_port}, {"https", https_port}, {"admin", admin_port}, {"pid", ::getpid()}};
    try {
      write_file_atomically(options.ports_file, ports.dump() + "\n");
    } catch (const std::exception &e) {
      log::error("startup", {{"error", e.what()}});
      return 1;
    }
  }
  log::info("listening", {{"bind", options.bind_address},
                          {"mqtt", std::to_string(mqtt_port)},
                          {"https", std::to_string(https_port)},
                          {"admin", "127.0.0.1:" + std::to_string(admin_port)},
                          {"idScope", config.id_scope},
                          {"enrollments", std::to_string(config.enrollments.size())},
                          {"enrollmentGroups", std::to_string(config.enrollment_groups.size())},
                          {"rootCa", pki_paths->root_ca_cert}});

  io.run();
  log::info("stopped");
  return 0;
}

}  // namespace dpsemu
