// `dps-emulator serve`: the listeners, the dev PKI, the store and the service, on one io_context.
#pragma once

#include <string>
#include <vector>

namespace dpsemu {

struct ServeOptions {
  std::string data_dir;
  std::string config_path;  // empty = built-in defaults (no enrollments)
  std::string bind_address = "127.0.0.1";
  int mqtt_port = 8883;
  int https_port = 443;
  int admin_port = 0;
  std::string ports_file;
  std::vector<std::string> host_names;
};

// Runs until SIGINT/SIGTERM; returns the process exit code.
int run_server(const ServeOptions &options);

}  // namespace dpsemu
