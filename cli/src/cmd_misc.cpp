#include <prov/prov.h>

#include <cstdio>
#include <memory>
#include <string>

#include "args.h"
#include "commands.h"
#include "credentials.h"
#include "errors.h"
#include "exit_codes.h"
#include "usage.h"

namespace prov_cli {

int command_derive_key(const std::vector<std::string> &args) {
  ParsedArgs parsed = parse_args(
      args,
      {{"group-key", true}, {"group-key-file", true}, {"registration-id", true}, {"help", false}},
      "derive-key");
  if (parsed.has("help")) {
    std::fputs(kDeriveKeyUsage, stdout);
    return kExitAssigned;
  }
  std::optional<std::string> registration_id = parsed.value("registration-id");
  if (!registration_id) throw UsageError("missing required option --registration-id");
  SecretString group_key = group_key_from_args(parsed);

  char *derived = nullptr;
  int status = prov_derive_device_key(group_key.c_str(), registration_id->c_str(), &derived);
  std::unique_ptr<char, void (*)(char *)> derived_owner(derived, prov_string_free);
  if (status != PROV_OK) {
    if (status == PROV_E_INVALID_ARG) throw UsageError(prov_last_error_message());
    std::string message = std::string("prov derive-key: error: ") + prov_status_str(status) + ": " +
                          prov_last_error_message() + "\n";
    std::fputs(message.c_str(), stderr);
    return exit_code_for_status(status);
  }
  // The derived key is what the user asked for: stdout is its destination.
  std::fputs(derived, stdout);
  std::fputs("\n", stdout);
  return kExitAssigned;
}

int command_version(const std::vector<std::string> &args) {
  ParsedArgs parsed = parse_args(args, {{"help", false}}, "version");
  if (parsed.has("help")) {
    std::fputs(kVersionUsage, stdout);
    return kExitAssigned;
  }
  std::string text =
      std::string("prov ") + PROV_VERSION_STRING + " (libprov " + prov_version_string() + ")\n";
  std::fputs(text.c_str(), stdout);
  if (prov_version_number() != PROV_VERSION_NUMBER) {
    std::fputs("prov: warning: built with libprov " PROV_VERSION_STRING
               " headers but running with a different library version\n",
               stderr);
  }
  return kExitAssigned;
}

}  // namespace prov_cli
