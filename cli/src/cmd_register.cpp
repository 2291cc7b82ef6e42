#include <prov/prov.h>

#include <cstdio>
#include <limits>

#include "args.h"
#include "batch_runner.h"
#include "commands.h"
#include "credentials.h"
#include "errors.h"
#include "exit_codes.h"
#include "output.h"
#include "registration.h"
#include "usage.h"

namespace prov_cli {
namespace {

const std::vector<OptionSpec> kRegisterOptions = {
    {"host", true},
    {"id-scope", true},
    {"registration-id", true},
    {"key", true},
    {"key-file", true},
    {"group-key", true},
    {"group-key-file", true},
    {"cert-file", true},
    {"cert-key-file", true},
    {"pass-phrase-file", true},
    {"payload", true},
    {"payload-file", true},
    {"ca-file", true},
    {"gateway-host", true},
    {"cipher", true},
    {"keep-alive", true},
    {"transport", true},
    {"proxy", true},
    {"proxy-ca-file", true},
    {"sas-ttl", true},
    {"timeout", true},
    {"response-timeout", true},
    {"json", false},
    {"batch", true},
    {"concurrency", true},
    {"output", true},
    {"progress", true},
    {"help", false},
};

constexpr int kMaxConcurrency = 4096;
constexpr int64_t kInt32Max = std::numeric_limits<int32_t>::max();

std::string required(const ParsedArgs &args, const std::string &name) {
  std::optional<std::string> value = args.value(name);
  if (!value) throw UsageError("missing required option --" + name);
  if (value->empty()) throw UsageError("--" + name + " is empty");
  return *value;
}

RegistrationSettings settings_from_args(const ParsedArgs &args) {
  RegistrationSettings settings;
  settings.host = required(args, "host");
  settings.id_scope = required(args, "id-scope");
  if (auto path = args.value("ca-file")) settings.ca_pem = read_text_file(*path, "--ca-file");
  settings.gateway_host = args.value("gateway-host");
  settings.cipher = args.value("cipher");
  if (auto name = args.value("transport")) {
    if (*name == "mqtt") {
      settings.transport = PROV_TRANSPORT_MQTT;
    } else if (*name == "mqtt-ws") {
      settings.transport = PROV_TRANSPORT_MQTT_WS;
    } else if (*name == "https") {
      settings.transport = PROV_TRANSPORT_HTTPS;
    } else {
      throw UsageError("--transport must be mqtt, mqtt-ws or https");
    }
  }
  settings.proxy_url = args.value("proxy");
  if (auto path = args.value("proxy-ca-file")) {
    settings.proxy_ca_pem = read_text_file(*path, "--proxy-ca-file");
  }
  if (args.has("payload") && args.has("payload-file")) {
    throw UsageError("use either --payload or --payload-file, not both");
  }
  settings.payload_json = args.value("payload");
  if (auto path = args.value("payload-file")) {
    settings.payload_json = read_text_file(*path, "--payload-file");
  }
  // Ranges are left to libprov (which names the limits); here only "is it a number".
  if (auto text = args.value("keep-alive")) {
    settings.keep_alive_seconds =
        static_cast<int32_t>(parse_integer_option("keep-alive", *text, 0, kInt32Max));
  }
  if (auto text = args.value("sas-ttl")) {
    settings.sas_ttl_seconds =
        static_cast<int32_t>(parse_integer_option("sas-ttl", *text, 0, kInt32Max));
  }
  if (auto text = args.value("timeout")) {
    settings.register_timeout_ms = parse_seconds_option_ms("timeout", *text, 86400000u);
  }
  if (auto text = args.value("response-timeout")) {
    settings.response_timeout_ms = parse_seconds_option_ms("response-timeout", *text, 3600000u);
  }
  return settings;
}

// Before a batch starts, the shared options are tried once on a throwaway
// client, so a bad --host or --cipher is one usage error, not N error lines.
void check_settings_for_batch(const RegistrationSettings &settings) {
  Credential probe;
  probe.kind = KeyKind::kDevice;
  probe.key = SecretString("AAAAAAAAAAAAAAAAAAAAAA==");  // 16 zero bytes: a well-formed key
  prov_client *client = nullptr;
  int status = prov_client_create_symkey(&client, settings.host.c_str(), "settings-check",
                                         settings.id_scope.c_str(), probe.key.c_str());
  if (status != PROV_OK) {
    throw UsageError(std::string("--host/--id-scope rejected: ") + prov_last_error_message());
  }
  prov_client_free(client);
}

int run_single(const ParsedArgs &args) {
  for (const char *batch_only : {"concurrency", "output", "progress"}) {
    if (args.has(batch_only)) {
      throw UsageError(std::string("--") + batch_only + " is only valid with --batch");
    }
  }
  RegistrationSettings settings = settings_from_args(args);
  std::string registration_id = required(args, "registration-id");
  Credential credential = credential_from_args(args);

  Outcome outcome = register_device(settings, registration_id, credential);
  if (args.has("json")) {
    std::string line = outcome_to_json(outcome) + "\n";
    std::fputs(line.c_str(), stdout);
  } else if (outcome.status == PROV_OK) {
    std::fputs(outcome_to_human(outcome).c_str(), stdout);
  } else {
    std::fputs(outcome_error_to_human(outcome).c_str(), stderr);
  }
  return exit_code_for_status(outcome.status);
}

ProgressMode parse_progress(const std::string &text) {
  if (text == "auto") return ProgressMode::kAuto;
  if (text == "always") return ProgressMode::kAlways;
  if (text == "never") return ProgressMode::kNever;
  throw UsageError("--progress must be auto, always or never (got '" + text + "')");
}

int run_batch_command(const ParsedArgs &args) {
  if (args.has("registration-id")) {
    throw UsageError("--registration-id cannot be used with --batch; ids come from the batch file");
  }
  if (has_key_option(args)) {
    throw UsageError("key options cannot be used with --batch; keys come from the batch file");
  }
  BatchOptions options;
  options.input_path = required(args, "batch");
  if (auto text = args.value("concurrency")) {
    options.concurrency =
        static_cast<int>(parse_integer_option("concurrency", *text, 1, kMaxConcurrency));
  }
  options.output_path = args.value("output");
  options.default_pass_phrase = pass_phrase_from_args(args);
  if (auto text = args.value("progress")) options.progress = parse_progress(*text);

  RegistrationSettings settings = settings_from_args(args);
  check_settings_for_batch(settings);
  return run_batch(settings, options);
}

}  // namespace

int command_register(const std::vector<std::string> &args) {
  ParsedArgs parsed = parse_args(args, kRegisterOptions, "register");
  if (parsed.has("help")) {
    std::fputs(kRegisterUsage, stdout);
    return kExitAssigned;
  }
  return parsed.has("batch") ? run_batch_command(parsed) : run_single(parsed);
}

}  // namespace prov_cli
