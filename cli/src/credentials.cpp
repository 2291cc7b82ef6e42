#include "credentials.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

#include "errors.h"

namespace prov_cli {
namespace {

std::optional<SecretString> environment_secret(const char *name) {
  const char *value = std::getenv(name);
  if (value == nullptr || *value == '\0') return std::nullopt;
  std::string text(value);
  size_t first = text.find_first_not_of(" \t\r\n");
  size_t last = text.find_last_not_of(" \t\r\n");
  if (first == std::string::npos) return std::nullopt;
  SecretString secret(text.substr(first, last - first + 1));
  wipe_string(text);
  return secret;
}

std::optional<SecretString> option_secret(const ParsedArgs &args, const std::string &key_option,
                                          const std::string &file_option) {
  if (args.has(key_option) && args.has(file_option)) {
    throw UsageError("use either --" + key_option + " or --" + file_option + ", not both");
  }
  if (auto value = args.value(key_option)) {
    if (value->empty()) throw UsageError("--" + key_option + " is empty");
    SecretString secret(*value);
    wipe_string(*value);
    return secret;
  }
  if (auto path = args.value(file_option)) return read_secret_file(*path, "--" + file_option);
  return std::nullopt;
}

}  // namespace

std::string read_text_file(const std::string &path, const std::string &option) {
  if (path == "-") {
    std::ostringstream contents;
    contents << std::cin.rdbuf();
    if (std::cin.bad()) throw UsageError("cannot read " + option + " from standard input");
    return contents.str();
  }
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    throw UsageError("cannot read " + option + " file '" + path + "': " + std::strerror(errno));
  }
  std::ostringstream contents;
  contents << file.rdbuf();
  if (file.bad()) throw UsageError("cannot read " + option + " file '" + path + "': read error");
  return contents.str();
}

SecretString read_secret_file(const std::string &path, const std::string &option) {
  std::string contents = read_text_file(path, option);
  size_t first = contents.find_first_not_of(" \t\r\n");
  size_t last = contents.find_last_not_of(" \t\r\n");
  if (first == std::string::npos) {
    wipe_string(contents);
    throw UsageError(option + " file '" + path + "' is empty");
  }
  SecretString secret(contents.substr(first, last - first + 1));
  wipe_string(contents);
  return secret;
}

SecretString pass_phrase_from_args(const ParsedArgs &args) {
  if (auto path = args.value("pass-phrase-file")) {
    std::string contents = read_text_file(*path, "--pass-phrase-file");
    // The first line, as `openssl -passin file:` reads it.
    std::string first_line = contents.substr(0, contents.find('\n'));
    if (!first_line.empty() && first_line.back() == '\r') first_line.pop_back();
    wipe_string(contents);
    if (first_line.empty()) throw UsageError("--pass-phrase-file file '" + *path + "' is empty");
    SecretString pass_phrase(first_line);
    wipe_string(first_line);
    return pass_phrase;
  }
  const char *value = std::getenv(kPassPhraseEnv);
  if (value != nullptr && *value != '\0') return SecretString(value);
  return SecretString();
}

Credential credential_from_args(const ParsedArgs &args) {
  if (args.has("cert-file") || args.has("cert-key-file")) {
    if (!args.has("cert-file") || !args.has("cert-key-file")) {
      throw UsageError("X.509 needs both --cert-file and --cert-key-file");
    }
    if (args.has("key") || args.has("key-file") || args.has("group-key") ||
        args.has("group-key-file")) {
      throw UsageError("give a symmetric key or an X.509 certificate (--cert-file), not both");
    }
    Credential credential;
    credential.kind = KeyKind::kX509;
    credential.cert_file = *args.value("cert-file");
    credential.cert_key_file = *args.value("cert-key-file");
    if (credential.cert_file.empty() || credential.cert_key_file.empty()) {
      throw UsageError("--cert-file and --cert-key-file must not be empty");
    }
    credential.pass_phrase = pass_phrase_from_args(args);
    return credential;
  }
  if (args.has("pass-phrase-file")) {
    throw UsageError("--pass-phrase-file is for an encrypted --cert-key-file");
  }
  std::optional<SecretString> device_key = option_secret(args, "key", "key-file");
  std::optional<SecretString> group_key = option_secret(args, "group-key", "group-key-file");
  if (device_key && group_key) {
    throw UsageError(
        "give a device key (--key/--key-file) or a group key "
        "(--group-key/--group-key-file), not both");
  }
  if (!device_key && !group_key) {
    device_key = environment_secret(kDeviceKeyEnv);
    group_key = environment_secret(kGroupKeyEnv);
    if (device_key && group_key) {
      throw UsageError(std::string("both ") + kDeviceKeyEnv + " and " + kGroupKeyEnv +
                       " are set; choose one with --key-file or --group-key-file, or unset one");
    }
  }
  Credential credential;
  if (device_key) {
    credential.kind = KeyKind::kDevice;
    credential.key = std::move(*device_key);
  } else if (group_key) {
    credential.kind = KeyKind::kGroup;
    credential.key = std::move(*group_key);
  } else {
    throw UsageError(std::string("no key given: use --key, --key-file or ") + kDeviceKeyEnv +
                     " (device key), --group-key, --group-key-file or " + kGroupKeyEnv +
                     " (group enrollment key), or --cert-file with --cert-key-file (X.509)");
  }
  return credential;
}

SecretString group_key_from_args(const ParsedArgs &args) {
  std::optional<SecretString> group_key = option_secret(args, "group-key", "group-key-file");
  if (!group_key) group_key = environment_secret(kGroupKeyEnv);
  if (!group_key) {
    throw UsageError(std::string("no group key given: use --group-key, --group-key-file or ") +
                     kGroupKeyEnv);
  }
  return std::move(*group_key);
}

bool has_key_option(const ParsedArgs &args) {
  return args.has("key") || args.has("key-file") || args.has("group-key") ||
         args.has("group-key-file") || args.has("cert-file") || args.has("cert-key-file");
}

}  // namespace prov_cli
