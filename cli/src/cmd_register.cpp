#include <prov/prov.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <limits>
#include <utility>

#include "args.h"
#include "batch_runner.h"
#include "commands.h"
#include "credentials.h"
#include "errors.h"
#include "exit_codes.h"
#include "interrupts.h"
#include "issued_files.h"
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
    {"csr-key-type", true},
    {"csr-file", true},
    {"csr-api", true},
    {"issued-cert-out", true},
    {"issued-key-out", true},
    {"issued-dir", true},
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
    {"retries", true},
    {"verbose", false},
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

// The value of a choice option (--transport mqtt, ...); a usage error lists the choices.
int parse_choice(const std::string &option, const std::string &text,
                 std::initializer_list<std::pair<const char *, int>> choices) {
  std::string names;
  size_t index = 0;
  for (const auto &[name, value] : choices) {
    if (text == name) return value;
    names += index == 0 ? "" : index + 1 == choices.size() ? " or " : ", ";
    names += name;
    ++index;
  }
  throw UsageError("--" + option + " must be " + names);
}

RegistrationSettings settings_from_args(const ParsedArgs &args) {
  RegistrationSettings settings;
  settings.host = required(args, "host");
  settings.id_scope = required(args, "id-scope");
  if (auto path = args.value("ca-file")) settings.ca_pem = read_text_file(*path, "--ca-file");
  settings.gateway_host = args.value("gateway-host");
  settings.cipher = args.value("cipher");
  if (auto name = args.value("transport")) {
    settings.transport = parse_choice("transport", *name,
                                      {{"mqtt", PROV_TRANSPORT_MQTT},
                                       {"mqtt-ws", PROV_TRANSPORT_MQTT_WS},
                                       {"https", PROV_TRANSPORT_HTTPS}});
  }
  settings.proxy_url = args.value("proxy");
  // The environment keeps a proxy password out of the process list.
  if (!settings.proxy_url) {
    if (const char *from_env = std::getenv("PROV_PROXY_URL"); from_env && *from_env) {
      settings.proxy_url = std::string(from_env);
    }
  }
  if (auto path = args.value("proxy-ca-file")) {
    settings.proxy_ca_pem = read_text_file(*path, "--proxy-ca-file");
  }
  if (auto type = args.value("csr-key-type")) {
    settings.csr_key_type =
        parse_choice("csr-key-type", *type, {{"ec", PROV_KEY_EC_P256}, {"rsa", PROV_KEY_RSA_2048}});
  }
  if (auto path = args.value("csr-file")) {
    if (settings.csr_key_type)
      throw UsageError("use either --csr-key-type or --csr-file, not both");
    settings.csr = read_text_file(*path, "--csr-file");
  }
  if (auto api = args.value("csr-api")) {
    settings.csr_api = parse_choice("csr-api", *api,
                                    {{"2025-07-01-preview", PROV_CSR_API_2025_07_01_PREVIEW},
                                     {"2021-11-01-preview", PROV_CSR_API_2021_11_01_PREVIEW}});
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
  if (auto text = args.value("retries")) {
    settings.max_retries = static_cast<uint32_t>(parse_integer_option("retries", *text, 0, 1000));
  }
  settings.verbose = args.has("verbose");
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

// Ctrl-C or SIGTERM cancels the registration (prov_client_cancel; it ends
// within about 100 ms with PROV_E_CANCELLED, exit code 8); a second one
// quits at once, for the rare case where the cancel cannot land (a TLS
// handshake computation, a stuck write to the terminal).
Outcome register_with_interrupts(const RegistrationSettings &settings,
                                 const std::string &registration_id, const Credential &credential) {
  InterruptSignals signals;  // before any thread (the watcher's, libprov's) starts
  InFlightClients in_flight;
  InterruptWatcher watcher(
      signals, in_flight,
      [] {
        std::fputs(
            "prov: interrupted; cancelling the registration (interrupt again to quit at once)\n",
            stderr);
      },
      [] {
        std::fputs("prov: interrupted again; quitting\n", stderr);
        std::fflush(stderr);
        std::_Exit(kExitCancelled);
      });
  return register_device(settings, registration_id, credential, &in_flight);
}

int run_single(const ParsedArgs &args) {
  for (const char *batch_only : {"concurrency", "output", "progress"}) {
    if (args.has(batch_only)) {
      throw UsageError(std::string("--") + batch_only + " is only valid with --batch");
    }
  }
  if (args.has("issued-dir")) throw UsageError("--issued-dir is only valid with --batch");
  RegistrationSettings settings = settings_from_args(args);
  IssuedFilePaths issued_paths;
  issued_paths.certificate = args.value("issued-cert-out");
  issued_paths.private_key = args.value("issued-key-out");
  if (settings.csr_key_type && !issued_paths.private_key) {
    throw UsageError(
        "--csr-key-type needs --issued-key-out FILE (the generated key exists only "
        "in this process)");
  }
  if (issued_paths.private_key && !settings.csr_key_type) {
    throw UsageError("--issued-key-out needs --csr-key-type (with --csr-file the key is yours)");
  }
  if (issued_paths.certificate && !settings.csr_key_type && !settings.csr) {
    throw UsageError("--issued-cert-out needs --csr-key-type or --csr-file");
  }
  std::string registration_id = required(args, "registration-id");
  Credential credential = credential_from_args(args);

  Outcome outcome = register_with_interrupts(settings, registration_id, credential);
  if (outcome.status == PROV_OK) save_issued_files(outcome, issued_paths);
  bool files_failed = outcome.issued_files && !outcome.issued_files->error.empty();
  if (args.has("json")) {
    std::string line = outcome_to_json(outcome) + "\n";
    std::fputs(line.c_str(), stdout);
  } else if (outcome.status == PROV_OK) {
    std::fputs(outcome_to_human(outcome).c_str(), stdout);
  } else {
    std::fputs(outcome_error_to_human(outcome).c_str(), stderr);
  }
  if (files_failed) {
    std::string message = "prov: error: " + outcome.issued_files->error + "\n";
    std::fputs(message.c_str(), stderr);
    return kExitOther;
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
  for (const char *single_only : {"issued-cert-out", "issued-key-out", "csr-file"}) {
    if (args.has(single_only)) {
      throw UsageError(std::string("--") + single_only +
                       " cannot be used with --batch (use --csr-key-type with --issued-dir)");
    }
  }
  BatchOptions options;
  options.input_path = required(args, "batch");
  options.issued_dir = args.value("issued-dir");
  if (args.has("csr-key-type") != options.issued_dir.has_value()) {
    throw UsageError("in batch mode --csr-key-type and --issued-dir go together");
  }
  struct stat info {};
  if (options.issued_dir &&
      (stat(options.issued_dir->c_str(), &info) != 0 || !S_ISDIR(info.st_mode))) {
    throw UsageError("--issued-dir '" + *options.issued_dir + "' is not a directory");
  }
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
