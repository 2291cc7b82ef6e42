// Where keys and other inputs come from: options, files, environment.
#ifndef PROV_CLI_CREDENTIALS_H
#define PROV_CLI_CREDENTIALS_H

#include <optional>
#include <string>

#include "args.h"
#include "registration.h"
#include "secret.h"

namespace prov_cli {

// Environment variables read when no key option is given.
inline constexpr const char *kDeviceKeyEnv = "PROV_SYMMETRIC_KEY";
inline constexpr const char *kGroupKeyEnv = "PROV_GROUP_KEY";
inline constexpr const char *kPassPhraseEnv = "PROV_PASS_PHRASE";

// Reads a whole file ("-" = standard input); throws UsageError
// "cannot read OPTION file 'PATH': reason".
std::string read_text_file(const std::string &path, const std::string &option);

// Reads a key file (surrounding whitespace removed); the file's contents
// never appear in errors. Throws UsageError when unreadable or empty.
SecretString read_secret_file(const std::string &path, const std::string &option);

// The credential of a single registration, from --key / --key-file /
// PROV_SYMMETRIC_KEY (device key), --group-key / --group-key-file /
// PROV_GROUP_KEY (group key), or --cert-file with --cert-key-file (X.509,
// pass phrase from --pass-phrase-file / PROV_PASS_PHRASE). Options win over
// the environment. Throws UsageError when two sources are given or none.
Credential credential_from_args(const ParsedArgs &args);

// The group key of `prov derive-key` (--group-key, --group-key-file,
// PROV_GROUP_KEY).
SecretString group_key_from_args(const ParsedArgs &args);

// The pass phrase of an encrypted X.509 key: the first line of
// --pass-phrase-file, else PROV_PASS_PHRASE, else empty.
SecretString pass_phrase_from_args(const ParsedArgs &args);

// True when any per-device credential option is present (batch mode
// rejects them; --pass-phrase-file is allowed there as a default).
bool has_key_option(const ParsedArgs &args);

}  // namespace prov_cli

#endif
