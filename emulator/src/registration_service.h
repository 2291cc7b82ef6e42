// The DPS device API, independent of transport: authentication (SAS, X.509), the register /
// operation-status state machine, allocation, persistence and fault injection. The MQTT and
// HTTPS front ends translate their requests into these calls and the replies into their framing.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "config.h"
#include "faults.h"
#include "pki.h"
#include "store.h"

namespace dpsemu {

// Who is asking: taken from the connection (MQTT client id / username, URL, TLS), never the body.
struct RequestContext {
  std::string transport;                    // "mqtt", "mqtt-ws" or "https"
  std::string id_scope;                     // from the MQTT username or the URL
  std::string registration_id;              // from the MQTT client id / username or the URL
  std::optional<std::string> sas_token;     // MQTT password or HTTP Authorization header
  std::vector<std::string> peer_chain_pem;  // TLS client certificates, leaf first
};

// How a front end must deliver the reply (faults can alter it).
enum class Delivery {
  kNormal,
  kDropConnection,  // close the connection without answering
  kSilent,          // never answer
  kSilentNoPuback,  // never answer, and MQTT: no PUBACK for a QoS 1 request either
};

struct ServiceReply {
  int status = 200;
  nlohmann::json body;
  std::optional<int> retry_after_seconds;
  std::string tracking_id;
  Delivery delivery = Delivery::kNormal;
  bool malformed_body = false;  // send invalid JSON instead of `body`
  bool wrong_rid = false;       // MQTT: answer on a different $rid
  std::string result;           // short outcome for the log line ("assigned", "401002", ...)
  // allocationFailed fault: the registration ends "failed" with this errorCode/errorMessage.
  std::optional<std::pair<int, std::string>> allocation_failure;

  // The body as sent on the wire (honours malformed_body).
  std::string wire_body() const;
};

class RegistrationService {
 public:
  // `pki` may be null (no CSR issuance, X.509 checks still work).
  RegistrationService(Config config, std::shared_ptr<Store> store,
                      std::shared_ptr<const pki::PkiPaths> pki);

  ServiceReply register_device(const RequestContext &ctx, const std::string &body);
  ServiceReply operation_status(const RequestContext &ctx, const std::string &operation_id);
  ServiceReply status_lookup(const RequestContext &ctx, const std::string &body);

  // True when a drop-after-connect fault fires for this registration id (logged here).
  bool drop_on_connect(const std::string &transport, const std::string &registration_id);

  // A reply for a request that could not even be attributed (bad URL, bad topic...).
  static ServiceReply error_reply(int status, int error_code, const std::string &message);

  // Admin endpoint.
  void replace_global_faults(std::vector<FaultSpec> faults);
  nlohmann::json global_faults_json();
  nlohmann::json stats_json();
  nlohmann::json registrations_json();
  void count_connection(const std::string &transport);

  const Config &config() const { return config_; }

 private:
  struct AuthOutcome {
    const Enrollment *enrollment = nullptr;
    std::optional<ServiceReply> error;  // set when authentication failed
    std::string attestation;            // "symmetricKey" or "x509"
    pki::X509Check x509_check;          // the passing check (x509 attestation only)
  };
  struct Operation {
    std::string operation_id;
    std::string registration_id;
    int64_t ready_at_ms = 0;
    int64_t created_ms = 0;
    bool completed = false;
    RegistrationRecord record;   // what will be (or was) stored
    nlohmann::json extra_state;  // issued certificates, etc. (merged into registrationState)
    int retry_after_seconds = 1;
    // Set by an allocationFailed fault: the operation ends "failed" instead of "assigned".
    std::optional<std::pair<int, std::string>> failure;
  };

  // Runs one request's handler under the lock (an exception becomes a 500) and counts the reply.
  template <typename Handler>
  ServiceReply serve(const RequestContext &ctx, Handler handler);
  // The first step of every request: the individual enrollment's and the global faults.
  // Returns the reply of a fault that ends the request; a fault that only alters the reply is
  // left in `modifier`.
  std::optional<ServiceReply> apply_early_faults(const RequestContext &ctx, bool is_register,
                                                 std::optional<ServiceReply> &modifier);
  // Authenticates into `auth`, then evaluates a group's faults (known only now). Returns the
  // reply that ends the request (authentication failed, a group fault), else nullopt; a group
  // fault that only alters the reply replaces `modifier`.
  std::optional<ServiceReply> authenticate_with_group_faults(const RequestContext &ctx,
                                                             bool is_register, AuthOutcome &auth,
                                                             std::optional<ServiceReply> &modifier);
  AuthOutcome authenticate(const RequestContext &ctx);
  // Evaluates the enrollment's faults (when known), then the global ones (when include_global).
  // A reply with result "modifier" only alters the normal reply (malformed body, wrong $rid).
  std::optional<ServiceReply> apply_request_faults(const RequestContext &ctx, bool is_register,
                                                   const Enrollment *enrollment_hint,
                                                   bool include_global = true);
  const Enrollment *find_individual(const std::string &registration_id) const;
  FaultList &enrollment_faults(const Enrollment &enrollment);
  std::string choose_hub(const Enrollment &enrollment, const std::string &registration_id) const;
  nlohmann::json registration_state(const RegistrationRecord &record,
                                    const nlohmann::json &extra) const;
  // registrationState.x509 for a device that attested with this (passing) check.
  nlohmann::json x509_state(const AuthOutcome &auth, const RequestContext &ctx) const;
  // 202 "assigning" with the operation's retry-after; status queries also get a
  // registrationState (with_state).
  static ServiceReply assigning_reply(const Operation &op, bool with_state);
  // The terminal reply of an operation: "assigned" (stored first) or "failed".
  ServiceReply assigned_reply(Operation &op);
  void prune_operations(int64_t now_ms);
  void count_reply(const RequestContext &ctx, const ServiceReply &reply);

  std::mutex mutex_;  // the front ends may run on several threads
  Config config_;
  std::shared_ptr<Store> store_;
  std::shared_ptr<const pki::PkiPaths> pki_;
  FaultList global_faults_;
  std::map<std::string, FaultList> enrollment_faults_;  // key: "i:<id>" or "g:<id>"
  std::map<std::string, Operation> operations_;
  // Counters for GET /stats.
  std::map<std::string, int64_t> requests_by_transport_, replies_by_status_, faults_by_type_,
      connections_by_transport_;
  int64_t assignments_ = 0;
  int64_t registrations_since_prune_ = 0;
};

}  // namespace dpsemu
