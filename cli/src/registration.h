// One device registration through the public C API, with every output copied
// into plain C++ values (so the prov_result can be freed at once) and every
// message scrubbed of the keys involved.
#ifndef PROV_CLI_REGISTRATION_H
#define PROV_CLI_REGISTRATION_H

#include <prov/prov.h>
#include <stdint.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "secret.h"

namespace prov_cli {

class InFlightClients;

// Options shared by every device of a run (single or batch).
struct RegistrationSettings {
  std::string host;  // provisioning host, optionally host:port
  std::string id_scope;
  std::optional<std::string> ca_pem;  // trusted roots, PEM text
  std::optional<std::string> gateway_host;
  std::optional<std::string> cipher;
  std::optional<int> transport;             // prov_transport
  std::optional<std::string> proxy_url;     // scheme://[user[:password]@]host[:port]
  std::optional<std::string> proxy_ca_pem;  // roots for an HTTPS proxy, PEM text
  std::optional<std::string> payload_json;
  std::optional<int32_t> keep_alive_seconds;
  std::optional<int32_t> sas_ttl_seconds;
  std::optional<uint32_t> register_timeout_ms;
  std::optional<uint32_t> response_timeout_ms;
  std::optional<uint32_t> max_retries;  // transient failures retried (default: libprov's)
  bool verbose = false;                 // libprov's log lines (debug and up) on stderr
  // Certificate issuance: generate a key pair of this PROV_KEY_* type, or
  // send this CSR (PEM text or DER bytes), with this PROV_CSR_API_* shape.
  std::optional<int> csr_key_type;
  std::optional<std::string> csr;
  std::optional<int> csr_api;
};

enum class KeyKind { kDevice, kGroup, kX509 };

struct Credential {
  KeyKind kind = KeyKind::kDevice;
  SecretString key;           // kDevice, kGroup
  std::string cert_file;      // kX509: device certificate (+ intermediates), PEM
  std::string cert_key_file;  // kX509: its private key, PEM
  SecretString pass_phrase;   // kX509: for an encrypted key; empty = none
};

// What the service answered (copied out of prov_result). Absent fields stay
// empty optionals and print as JSON null.
struct ResultFields {
  std::optional<std::string> operation_id, status, registration_id, device_id, assigned_hub,
      substatus, created_date_time, last_update_date_time, etag, payload, registration_state,
      tracking_id, error_message, enrollment_group_id, x509_certificate_info;
  std::optional<std::string> issued_certificate_chain, trust_bundle;
  SecretString generated_private_key;  // never printed; only written to a 0600 file
  int32_t error_code = 0;
  int32_t http_status = 0;
};

// The files `prov` wrote from a certificate issuance (see issued_files.h).
struct IssuedFiles {
  std::optional<std::string> certificate, private_key;  // paths written
  std::string error;                                    // "" = all requested files written
};

struct Outcome {
  std::string registration_id;         // as requested
  int status = 0;                      // prov_status; 0 = assigned
  std::string message;                 // libprov's explanation on failure (secrets removed)
  std::string step;                    // which step failed: "derive device key", "create client",
                                       // "--keep-alive", ..., "register"
  std::optional<ResultFields> result;  // present whenever the service answered
  double latency_ms = 0.0;             // wall time of the whole registration
  std::optional<IssuedFiles> issued_files;  // when issued files were requested
};

// What the --verbose log callback needs: whose line it is, and the secrets
// to scrub from it.
struct RegistrationLogContext {
  const std::string *registration_id = nullptr;
  const std::vector<const std::string *> *secrets = nullptr;
};

// One registration from client creation to its Outcome, split in steps so
// that a batch can run many with prov_client_register_async on libprov's
// event-loop threads: prepare() creates the client and applies the settings,
// the caller registers client() (blocking or asynchronously), and finish()
// frees the client and turns libprov's answer into the Outcome (copied,
// secrets removed). Everything the client's log callback points to lives in
// this object, so it must outlive the client (finish() frees it first).
class PendingRegistration {
 public:
  // Never throws for a libprov failure: then failed() is true and finish()
  // returns that failure (the client was not created or an option was refused).
  PendingRegistration(const RegistrationSettings &settings, std::string registration_id,
                      const Credential &credential);
  ~PendingRegistration();
  PendingRegistration(const PendingRegistration &) = delete;
  PendingRegistration &operator=(const PendingRegistration &) = delete;

  bool failed() const { return client_ == nullptr; }
  prov_client *client() const { return client_; }
  const std::string &registration_id() const { return outcome_.registration_id; }

  // Frees the client and returns the outcome of the registration, which
  // ended with `status` (a prov_status) and `result` (taken over; may be
  // NULL), and `message` (prov_last_error_message() of that thread). With
  // status PROV_OK and no result, the outcome is "not started" as prepared.
  Outcome finish(int status, prov_result *result, const std::string &message);
  // The outcome of a registration that was refused before it started.
  Outcome finish_cancelled_before_start();

 private:
  void prepare(const RegistrationSettings &settings, const Credential &credential);
  Outcome complete();

  Outcome outcome_;
  std::chrono::steady_clock::time_point started_;
  std::vector<const std::string *> secrets_;
  std::string proxy_password_;
  SecretString derived_key_;
  RegistrationLogContext log_context_;
  prov_client *client_ = nullptr;
};

// Creates a client for `registration_id`, applies `settings`, registers, and
// frees everything. Never throws for a failed registration: the failure is
// in the Outcome. Safe to call from many threads at once (one client each).
// With `in_flight`, the client is recorded there while it registers, so an
// interrupt can cancel it (the outcome is then PROV_E_CANCELLED).
Outcome register_device(const RegistrationSettings &settings, const std::string &registration_id,
                        const Credential &credential, InFlightClients *in_flight = nullptr);

}  // namespace prov_cli

#endif
