#include "usage.h"

namespace prov_cli {

#define PROV_CLI_EXIT_CODES                                                          \
  "Exit codes:\n"                                                                    \
  "  0    assigned (batch: every device assigned)\n"                                 \
  "  1    other error (out of memory, internal); batch: some devices not assigned\n" \
  "  2    usage error or invalid argument (bad option, unreadable file, bad key)\n"  \
  "  3    credential rejected by the service\n"                                      \
  "  4    connection failed or dropped (DNS, TCP, TLS, certificate)\n"               \
  "  5    timeout\n"                                                                 \
  "  6    service error (status failed or disabled, other service errors)\n"         \
  "  7    protocol error (the service sent something unparseable)\n"                 \
  "  8    cancelled (Ctrl-C or SIGTERM during a single registration)\n"              \
  "  130  batch interrupted by SIGINT/SIGTERM (finished lines are written)\n"

const char *const kMainUsage =
    "Usage: prov <command> [options]\n"
    "\n"
    "A command-line client for the Azure IoT Hub Device Provisioning Service,\n"
    "built on libprov.\n"
    "\n"
    "Commands:\n"
    "  register     register a device (or a batch of devices) and print the assignment\n"
    "  derive-key   derive a device key from a group enrollment key\n"
    "  version      print the versions of prov and libprov\n"
    "  help         show this text\n"
    "\n"
    "Run 'prov <command> --help' for the options of a command.\n"
    "\n" PROV_CLI_EXIT_CODES;

const char *const kRegisterUsage =
    "Usage: prov register --host HOST[:PORT] --id-scope SCOPE --registration-id ID KEY [options]\n"
    "       prov register --batch FILE --host HOST[:PORT] --id-scope SCOPE [options]\n"
    "\n"
    "Registers a device with DPS and prints where it was assigned.\n"
    "\n"
    "KEY (the credential), one of (options win over the environment):\n"
    "  --key KEY               the device's symmetric key (Base64)\n"
    "  --key-file FILE         read the device key from FILE\n"
    "  --group-key KEY         a group enrollment key; the device key is derived from it\n"
    "  --group-key-file FILE   read the group key from FILE\n"
    "  env PROV_SYMMETRIC_KEY  device key; env PROV_GROUP_KEY: group key\n"
    "  --cert-file FILE        X.509: the device certificate (PEM; CN = registration id),\n"
    "                          followed by any intermediate CA certificates\n"
    "  --cert-key-file FILE    X.509: the certificate's private key (PEM)\n"
    "  --pass-phrase-file FILE pass phrase of an encrypted key (first line of FILE;\n"
    "                          or env PROV_PASS_PHRASE)\n"
    "  (keys on the command line are visible to other local users in the process list;\n"
    "   prefer files or the environment)\n"
    "\n"
    "Options:\n"
    "  --host HOST[:PORT]      DPS host, e.g. global.azure-devices-provisioning.net or "
    "localhost:8883\n"
    "  --id-scope SCOPE        the DPS instance's id scope, e.g. 0ne00000A0A\n"
    "  --registration-id ID    the device's registration id\n"
    "  --payload JSON          custom data sent with the request, e.g. "
    "'{\"modelId\":\"dtmi:x;1\"}'\n"
    "  --payload-file FILE     read the payload JSON from FILE\n"
    "  --ca-file PEM_FILE      trust these root certificates instead of the system store\n"
    "  --gateway-host H[:P]    connect to this host instead (e.g. a protocol gateway)\n"
    "  --cipher LIST           OpenSSL cipher list for TLS 1.2\n"
    "  --keep-alive S          MQTT keep-alive in seconds (1..1740, default 60; not with https)\n"
    "  --transport T           mqtt (default, port 8883), mqtt-ws (MQTT over WebSockets, 443)\n"
    "                          or https (the REST API, 443)\n"
    "  --proxy URL             connect through a proxy: http://, https://, socks4://,\n"
    "                          socks4a://, socks5:// or socks5h://[user[:password]@]host[:port]\n"
    "                          (a password on the command line is visible in the process list;\n"
    "                          env PROV_PROXY_URL is used when --proxy is absent)\n"
    "  --proxy-ca-file FILE    trust these roots for an https:// proxy's certificate\n"
    "  --sas-ttl S             lifetime of the SAS token in seconds (60..31536000, default 3600)\n"
    "  --timeout S             overall deadline of the registration (default 90)\n"
    "  --response-timeout S    deadline of each network step (default 30)\n"
    "  --retries N             transient failures (429, 5xx, dropped or refused connections,\n"
    "                          no response) retried with backoff, at most N in a row\n"
    "                          (default 10; 0 = none)\n"
    "  --verbose               log each step of the registration to stderr (secrets redacted)\n"
    "  --json                  print one JSON object with every result field\n"
    "\n"
    "Certificate issuance (the service signs a CSR and returns a certificate):\n"
    "  --csr-key-type ec|rsa   generate a key pair (EC P-256 or RSA 2048) and send its CSR;\n"
    "                          needs --issued-key-out (batch: --issued-dir)\n"
    "  --csr-file FILE         send your own CSR instead (PEM or DER; CN = registration id)\n"
    "  --csr-api V             2025-07-01-preview (default) or 2021-11-01-preview\n"
    "  --issued-cert-out FILE  write the issued certificate chain (PEM, leaf first)\n"
    "  --issued-key-out FILE   write the generated private key (PEM, mode 0600)\n"
    "  --issued-dir DIR        batch: write DIR/ID.pem and DIR/ID.key for each device\n"
    "\n"
    "  -h, --help              show this text\n"
    "\n"
    "Batch mode (--batch FILE) registers every device listed in FILE; the options above\n"
    "(except --registration-id and the credential options) apply to all of them:\n"
    "  --batch FILE            (- = standard input) CSV with a header naming registration_id\n"
    "                          and key, group_key or cert_file + cert_key_file (+ pass_phrase)\n"
    "                          columns, e.g. 'registration_id,key' (one credential filled per\n"
    "                          row), or JSON lines {\"registrationId\":\"..\",\"key\":\"..\"},\n"
    "                          {..,\"groupKey\":\"..\"} or "
    "{..,\"certFile\":\"..\",\"certKeyFile\":\"..\"}\n"
    "                          (optional \"passPhrase\"; else --pass-phrase-file applies).\n"
    "                          Relative certificate paths are relative to the current directory.\n"
    "                          Blank lines and lines starting with # are skipped.\n"
    "  --concurrency N         registrations in flight at once (default 8); no thread each\n"
    "  --output FILE           write the result lines to FILE (default stdout, also -)\n"
    "  --progress auto|always|never\n"
    "                          progress on stderr: auto = live line on a terminal, a plain line\n"
    "                          every 2 s otherwise; always = live line; never = none\n"
    "  Output: one JSON line per device as it finishes (the --json object plus \"line\" and\n"
    "  \"latencyMs\"; unusable input lines give an error line with their line number).\n"
    "  A summary (counts, failures by reason, throughput, latency percentiles) goes to stderr.\n"
    "  Ctrl-C stops starting new devices and waits for those in flight; a second Ctrl-C\n"
    "  cancels those in flight (each gets its line, PROV_E_CANCELLED); a third quits at\n"
    "  once. Every finished line is written either way; the exit code is 130.\n"
    "\n"
    "Human output: 'assigned: device D on hub H (substatus S, operation O)'; errors go to\n"
    "stderr and name the step, the status and the service's error code and tracking id.\n"
    "Keys and SAS tokens are never printed.\n"
    "\n" PROV_CLI_EXIT_CODES;

const char *const kDeriveKeyUsage =
    "Usage: prov derive-key (--group-key KEY | --group-key-file FILE | env PROV_GROUP_KEY)\n"
    "                       --registration-id ID\n"
    "\n"
    "Prints the device key for ID in a symmetric-key group enrollment:\n"
    "base64(HMAC-SHA256(base64decode(group key), ID)).\n"
    "\n"
    "Options:\n"
    "  --group-key KEY         the group enrollment key (Base64)\n"
    "  --group-key-file FILE   read the group key from FILE\n"
    "  --registration-id ID    the device's registration id\n"
    "  -h, --help              show this text\n"
    "\n"
    "Exit codes: 0 printed, 2 usage error or invalid key/registration id, 1 other error.\n";

const char *const kVersionUsage =
    "Usage: prov version\n"
    "\n"
    "Prints the version of prov (the header it was built with) and of the libprov\n"
    "library it runs with, and warns when they differ.\n";

#undef PROV_CLI_EXIT_CODES

}  // namespace prov_cli
