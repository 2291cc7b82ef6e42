#include "cli.h"

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "log.h"
#include "pki.h"
#include "sas.h"
#include "server.h"
#include "store.h"

namespace dpsemu {

namespace {

constexpr const char *kMainUsage =
    R"(dps-emulator - a local Azure IoT Hub Device Provisioning Service

Usage: dps-emulator <command> [options]

Commands:
  serve        run the emulator (MQTT over TLS, HTTPS + WebSockets, admin endpoint)
  ca-path      print the path of the development root CA certificate to trust
  list         list the registration records in the data directory
  derive-key   derive a group-enrollment device key for a registration id
  make-cert    make X.509 test credentials (CAs, device certificates, thumbprints)

Run 'dps-emulator <command> --help' for the options of a command.
)";

constexpr const char *kServeUsage = R"(Usage: dps-emulator serve --data-dir DIR [options]

Runs the emulator until SIGINT or SIGTERM (then exits 0).

Options:
  --data-dir DIR        where the dev PKI (DIR/pki/) and DIR/registrations.sqlite3 live (required)
  --config FILE         enrollments, hubs and faults (JSON, // comments allowed); without it the
                        emulator serves id scope 0ne00000A0A with no enrollments
  --bind ADDR           address of the MQTT and HTTPS listeners (default 127.0.0.1)
  --mqtt-port N         MQTT over TLS port (default 8883; 0 = pick a free port)
  --https-port N        HTTPS / WebSocket port (default 443; 0 = pick a free port)
  --admin-port N        admin HTTP port on 127.0.0.1 (default 0 = pick a free port)
  --ports-file FILE     once all listeners accept, write {"mqtt":..,"https":..,"admin":..,"pid":..}
  --host-name NAME      extra DNS name or IP for the server certificate (repeatable)
  --log-level LEVEL     info (default) or debug
  --help                show this help
)";

constexpr const char *kCaPathUsage =
    R"(Usage: dps-emulator ca-path --data-dir DIR [--host-name NAME]...

Prints the absolute path of the development root CA (PEM) that clients must trust, creating the
PKI in DIR/pki/ first if needed.
)";

constexpr const char *kListUsage = R"(Usage: dps-emulator list --data-dir DIR [--json]

Lists the registration records stored in DIR/registrations.sqlite3 (also while the emulator runs).
  --json   print a JSON array instead of a table
)";

constexpr const char *kDeriveKeyUsage =
    R"(Usage: dps-emulator derive-key --group-key KEY --registration-id ID

Prints the device key of ID in a symmetric-key enrollment group:
base64(HMAC-SHA256(base64decode(KEY), ID)).
)";

// Minimal "--name value" / "--flag" parser with clear errors.
class Args {
 public:
  Args(int argc, char **argv, int first) {
    for (int i = first; i < argc; ++i) items_.emplace_back(argv[i]);
  }
  bool has_flag(const std::string &name) {
    for (size_t i = 0; i < items_.size(); ++i) {
      if (items_[i] == name) {
        used_.push_back(i);
        return true;
      }
    }
    return false;
  }
  // All values of a (possibly repeated) option. Throws on a missing value.
  std::vector<std::string> values(const std::string &name) {
    std::vector<std::string> out;
    for (size_t i = 0; i < items_.size(); ++i) {
      std::string value;
      if (items_[i] == name) {
        if (i + 1 >= items_.size()) throw std::invalid_argument(name + " needs a value");
        used_.push_back(i);
        used_.push_back(i + 1);
        out.push_back(items_[++i]);
      } else if (items_[i].rfind(name + "=", 0) == 0) {
        used_.push_back(i);
        out.push_back(items_[i].substr(name.size() + 1));
      }
    }
    return out;
  }
  std::string value(const std::string &name, const std::string &fallback = {}) {
    auto all = values(name);
    if (all.size() > 1) throw std::invalid_argument(name + " given more than once");
    return all.empty() ? fallback : all.front();
  }
  std::string required(const std::string &name) {
    std::string v = value(name);
    if (v.empty()) throw std::invalid_argument("missing required option " + name);
    return v;
  }
  int port(const std::string &name, int fallback) {
    std::string text = value(name);
    if (text.empty()) return fallback;
    char *end = nullptr;
    long v = std::strtol(text.c_str(), &end, 10);
    if (*end != '\0' || v < 0 || v > 65535) {
      throw std::invalid_argument(name + " must be a port number 0-65535 (got '" + text + "')");
    }
    return static_cast<int>(v);
  }
  // Call after reading every option: anything left over is an error.
  void reject_unknown() const {
    for (size_t i = 0; i < items_.size(); ++i) {
      bool used = false;
      for (size_t u : used_) used = used || u == i;
      if (!used) throw std::invalid_argument("unknown argument '" + items_[i] + "'");
    }
  }

 private:
  std::vector<std::string> items_;
  std::vector<size_t> used_;
};

bool wants_help(int argc, char **argv) {
  for (int i = 2; i < argc; ++i) {
    if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) return true;
  }
  return false;
}

int cmd_serve(Args &args) {
  ServeOptions o;
  o.data_dir = args.required("--data-dir");
  o.config_path = args.value("--config");
  o.bind_address = args.value("--bind", "127.0.0.1");
  o.mqtt_port = args.port("--mqtt-port", 8883);
  o.https_port = args.port("--https-port", 443);
  o.admin_port = args.port("--admin-port", 0);
  o.ports_file = args.value("--ports-file");
  o.host_names = args.values("--host-name");
  std::string level = args.value("--log-level", "info");
  if (level == "debug") {
    log::set_level(log::Level::kDebug);
  } else if (level != "info") {
    throw std::invalid_argument("--log-level must be info or debug");
  }
  args.reject_unknown();
  return run_server(o);
}

int cmd_ca_path(Args &args) {
  std::string data_dir = args.required("--data-dir");
  auto hosts = args.values("--host-name");
  args.reject_unknown();
  std::filesystem::create_directories(data_dir);
  auto paths = pki::ensure_dev_pki(data_dir, hosts);
  std::cout << std::filesystem::absolute(paths.root_ca_cert).lexically_normal().string() << "\n";
  return 0;
}

int cmd_list(Args &args) {
  std::string data_dir = args.required("--data-dir");
  bool as_json = args.has_flag("--json");
  args.reject_unknown();
  std::string path = data_dir + "/registrations.sqlite3";
  std::vector<RegistrationRecord> records;
  if (std::filesystem::exists(path)) {
    Store store(path);
    records = store.list();
  }
  if (as_json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto &r : records) out.push_back(r.to_json());
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  std::printf("%-40s %-30s %-10s %-40s %s\n", "REGISTRATION ID", "DEVICE ID", "STATUS",
              "ASSIGNED HUB", "LAST UPDATED");
  for (const auto &r : records) {
    std::printf("%-40s %-30s %-10s %-40s %s\n", r.registration_id.c_str(), r.device_id.c_str(),
                r.status.c_str(), r.assigned_hub.c_str(), r.last_updated_utc.c_str());
  }
  std::printf("%zu registration(s)\n", records.size());
  return 0;
}

int cmd_derive_key(Args &args) {
  std::string group_key = args.required("--group-key");
  std::string registration_id = args.required("--registration-id");
  args.reject_unknown();
  auto key = sas::derive_device_key(group_key, registration_id);
  if (!key) throw std::invalid_argument("--group-key is not valid base64");
  std::cout << *key << "\n";
  return 0;
}

}  // namespace

int cli_main(int argc, char **argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0 ||
      std::strcmp(argv[1], "help") == 0) {
    std::fputs(kMainUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  std::string command = argv[1];
  if (command == "make-cert") return pki::make_cert_main(argc - 1, argv + 1);

  struct Command {
    const char *name;
    const char *usage;
    int (*run)(Args &);
  };
  static const Command commands[] = {{"serve", kServeUsage, cmd_serve},
                                     {"ca-path", kCaPathUsage, cmd_ca_path},
                                     {"list", kListUsage, cmd_list},
                                     {"derive-key", kDeriveKeyUsage, cmd_derive_key}};
  for (const auto &c : commands) {
    if (command != c.name) continue;
    if (wants_help(argc, argv)) {
      std::fputs(c.usage, stdout);
      return 0;
    }
    try {
      Args args(argc, argv, 2);
      return c.run(args);
    } catch (const std::invalid_argument &e) {
      std::fprintf(stderr, "dps-emulator %s: %s\n\n%s", c.name, e.what(), c.usage);
      return 2;
    } catch (const std::exception &e) {
      std::fprintf(stderr, "dps-emulator %s: %s\n", c.name, e.what());
      return 1;
    }
  }
  std::fprintf(stderr, "dps-emulator: unknown command '%s'\n\n%s", command.c_str(), kMainUsage);
  return 2;
}

}  // namespace dpsemu
