#include "registration_service.h"

#include <openssl/sha.h>

#include <chrono>
#include <utility>

#include "log.h"
#include "sas.h"
#include "util.h"

namespace dpsemu {

using nlohmann::json;

namespace {

constexpr int64_t kOperationLifetimeMs = 30 * 60 * 1000;
constexpr size_t kMaxOperations = 200000;

int64_t now_epoch_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string new_etag() {
  // Same shape as the service's: base64 of a quoted opaque string.
  return base64_encode("\"" + random_uuid() + "\"");
}

// Reasons are logged, but the device only hears the generic DPS message (like the real service).
ServiceReply unauthorized(const std::string &reason) {
  ServiceReply r = RegistrationService::error_reply(401, 401002, "Unauthorized");
  r.result = "401002 " + reason;
  return r;
}

// Runs a request handler; an unexpected exception (the store failing, say) becomes a 500 reply
// instead of tearing down the connection or the process.
template <typename Handler>
ServiceReply guarded(Handler handler) {
  try {
    return handler();
  } catch (const std::exception &e) {
    log::error("internal", {{"what", e.what()}});
    return RegistrationService::error_reply(500, 500001, "Internal error.");
  }
}

// A fault that only alters the reply a request gets (malformed body, wrong $rid).
ServiceReply modified(ServiceReply reply, const std::optional<ServiceReply> &modifier) {
  if (modifier) {
    reply.malformed_body = modifier->malformed_body;
    reply.wrong_rid = modifier->wrong_rid;
  }
  return reply;
}

// Deeply nested JSON would make serialization (which recurses) exhaust the stack; DPS bodies are
// shallow, so anything nested deeper than this is refused before parsing.
constexpr int kMaxJsonDepth = 64;
bool nesting_too_deep(const std::string &text) {
  int depth = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > kMaxJsonDepth) return true;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return false;
}

// Parses a request body: empty or whitespace means {}. nullopt when it is not a JSON object.
std::optional<json> parse_body(const std::string &body) {
  size_t start = body.find_first_not_of(" \t\r\n");
  if (start == std::string::npos) return json::object();
  if (nesting_too_deep(body)) return std::nullopt;
  json parsed =
      json::parse(body.begin() + static_cast<std::ptrdiff_t>(start), body.end(), nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object()) return std::nullopt;
  return parsed;
}

}  // namespace

std::string ServiceReply::wire_body() const {
  if (malformed_body) return "{\"operationId\":\"" + tracking_id + "\",\"status\":";
  return body.dump();
}

ServiceReply RegistrationService::error_reply(int status, int error_code,
                                              const std::string &message) {
  ServiceReply r;
  r.status = status;
  r.tracking_id = random_uuid();
  r.body = {{"errorCode", error_code},
            {"trackingId", r.tracking_id},
            {"message", message},
            {"timestampUtc", utc_timestamp_now()}};
  r.result = std::to_string(error_code);
  return r;
}

RegistrationService::RegistrationService(Config config, std::shared_ptr<Store> store,
                                         std::shared_ptr<const pki::PkiPaths> pki)
    : config_(std::move(config)),
      store_(std::move(store)),
      pki_(std::move(pki)),
      global_faults_(config_.faults, "global") {
  for (const auto &e : config_.enrollments) {
    enrollment_faults_.emplace("i:" + to_lower(e.id), FaultList(e.faults, "enrollment:" + e.id));
  }
  for (const auto &g : config_.enrollment_groups) {
    enrollment_faults_.emplace("g:" + g.id, FaultList(g.faults, "group:" + g.id));
  }
}

const Enrollment *RegistrationService::find_individual(const std::string &registration_id) const {
  for (const auto &e : config_.enrollments) {
    if (iequals(e.id, registration_id)) return &e;
  }
  return nullptr;
}

FaultList &RegistrationService::enrollment_faults(const Enrollment &enrollment) {
  return enrollment_faults_[(enrollment.is_group ? "g:" + enrollment.id
                                                 : "i:" + to_lower(enrollment.id))];
}

void RegistrationService::count_connection(const std::string &transport) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++connections_by_transport_[transport];
}

void RegistrationService::count_reply(const RequestContext &ctx, const ServiceReply &reply) {
  ++requests_by_transport_[ctx.transport];
  std::string key = reply.delivery == Delivery::kNormal           ? std::to_string(reply.status)
                    : reply.delivery == Delivery::kDropConnection ? "dropped"
                                                                  : "silent";
  ++replies_by_status_[key];
}

bool RegistrationService::drop_on_connect(const std::string &transport,
                                          const std::string &registration_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  int64_t now = monotonic_ms();
  std::optional<FaultHit> hit;
  if (const Enrollment *e = find_individual(registration_id)) {
    hit = enrollment_faults(*e).evaluate(FaultPhase::kConnect, registration_id, false, now);
  }
  if (!hit) hit = global_faults_.evaluate(FaultPhase::kConnect, registration_id, false, now);
  if (!hit) return false;
  ++faults_by_type_["drop"];
  log::info("fault", {{"type", "drop"},
                      {"after", "connect"},
                      {"scope", hit->scope},
                      {"transport", transport},
                      {"registrationId", registration_id}});
  return true;
}

std::optional<ServiceReply> RegistrationService::apply_request_faults(
    const RequestContext &ctx, bool is_register, const Enrollment *enrollment_hint,
    bool include_global) {
  int64_t now = monotonic_ms();
  std::optional<FaultHit> hit;
  if (enrollment_hint) {
    hit = enrollment_faults(*enrollment_hint)
              .evaluate(FaultPhase::kRequest, ctx.registration_id, is_register, now);
  }
  if (!hit && include_global) {
    hit = global_faults_.evaluate(FaultPhase::kRequest, ctx.registration_id, is_register, now);
  }
  if (!hit) return std::nullopt;

  const FaultSpec &f = hit->spec;
  ++faults_by_type_[f.type_name()];
  log::info("fault", {{"type", f.type_name()},
                      {"scope", hit->scope},
                      {"transport", ctx.transport},
                      {"registrationId", ctx.registration_id},
                      {"op", is_register ? "register" : "query"}});
  ServiceReply r;
  switch (f.type) {
    case FaultSpec::Type::kThrottle:
      r = error_reply(429, 429001, "Operations are being throttled for this tenant.");
      r.retry_after_seconds = f.retry_after_seconds;
      r.result = "throttled";
      return r;
    case FaultSpec::Type::kError:
      r = f.status == 503 ? error_reply(503, 503001, "Service unavailable (injected fault).")
                          : error_reply(500, 500001, "Internal server error (injected fault).");
      if (f.retry_after_seconds > 0) r.retry_after_seconds = f.retry_after_seconds;
      r.result = "fault-" + std::to_string(f.status);
      return r;
    case FaultSpec::Type::kDrop:
      r.delivery = Delivery::kDropConnection;
      r.result = "fault-drop";
      return r;
    case FaultSpec::Type::kSilent:
      r.delivery = Delivery::kSilent;
      r.result = "fault-silent";
      return r;
    case FaultSpec::Type::kNoPuback:
      r.delivery = Delivery::kSilentNoPuback;
      r.result = "fault-noPuback";
      return r;
    case FaultSpec::Type::kMalformed:
    case FaultSpec::Type::kWrongRid:
    case FaultSpec::Type::kAllocationFailed:
      // These alter the reply the request would otherwise get; the caller proceeds normally
      // (an allocation fails only once the device has authenticated).
      r.malformed_body = f.type == FaultSpec::Type::kMalformed;
      r.wrong_rid = f.type == FaultSpec::Type::kWrongRid;
      if (f.type == FaultSpec::Type::kAllocationFailed) {
        r.allocation_failure = std::make_pair(f.error_code, f.error_message);
      }
      r.result = "modifier";
      return r;
  }
  return std::nullopt;
}

RegistrationService::AuthOutcome RegistrationService::authenticate(const RequestContext &ctx) {
  AuthOutcome out;
  if (!iequals(ctx.id_scope, config_.id_scope)) {
    out.error = unauthorized("unknown id scope");
    return out;
  }
  std::string id_problem = registration_id_problem(ctx.registration_id);
  if (!id_problem.empty()) {
    out.error = error_reply(400, 400004, "Invalid registration id: " + id_problem);
    return out;
  }
  bool has_sas = ctx.sas_token && !ctx.sas_token->empty();
  bool has_cert = !ctx.peer_chain_pem.empty();
  int64_t now = now_epoch_seconds();

  auto check_x509 = [&](const pki::X509Check &check) -> std::optional<std::string> {
    if (!check.ok) return check.message.empty() ? "certificate rejected" : check.message;
    if (!iequals(check.leaf_cn, ctx.registration_id)) {
      return "certificate CN '" + check.leaf_cn + "' is not the registration id";
    }
    return std::nullopt;
  };

  if (const Enrollment *e = find_individual(ctx.registration_id)) {
    out.enrollment = e;
    const Attestation &a = e->attestation;
    if (a.kind == Attestation::Kind::kSymmetricKey) {
      out.attestation = "symmetricKey";
      if (!has_sas) {
        out.error = unauthorized("no SAS token for a symmetric-key enrollment");
        return out;
      }
      std::vector<std::string> keys = {a.primary_key};
      if (!a.secondary_key.empty()) keys.push_back(a.secondary_key);
      auto verdict =
          sas::verify_token(*ctx.sas_token, ctx.id_scope, ctx.registration_id, keys, now);
      if (!verdict.ok) out.error = unauthorized(verdict.reason);
      return out;
    }
    out.attestation = "x509";
    if (!has_cert) {
      out.error = unauthorized("no client certificate for an X.509 enrollment");
      return out;
    }
    auto check = a.kind == Attestation::Kind::kX509Thumbprint
                     ? pki::verify_device_chain_against_thumbprint(ctx.peer_chain_pem, a.thumbprint)
                     : pki::verify_device_chain_against_cas(ctx.peer_chain_pem, a.ca_pems);
    if (auto problem = check_x509(check)) out.error = unauthorized(*problem);
    out.x509_check = std::move(check);
    return out;
  }

  // No individual enrollment: find a group whose credentials this device holds.
  std::string last_problem = "no enrollment for this registration id";
  for (const auto &g : config_.enrollment_groups) {
    const Attestation &a = g.attestation;
    if (a.kind == Attestation::Kind::kSymmetricKey && has_sas) {
      std::vector<std::string> keys;
      for (const auto *group_key : {&a.primary_key, &a.secondary_key}) {
        if (group_key->empty()) continue;
        if (auto derived = sas::derive_device_key(*group_key, ctx.registration_id)) {
          keys.push_back(*derived);
        }
      }
      auto verdict =
          sas::verify_token(*ctx.sas_token, ctx.id_scope, ctx.registration_id, keys, now);
      if (verdict.ok) {
        out.enrollment = &g;
        out.attestation = "symmetricKey";
        return out;
      }
      last_problem = verdict.reason;
    } else if (a.kind == Attestation::Kind::kX509Ca && has_cert) {
      auto check = pki::verify_device_chain_against_cas(ctx.peer_chain_pem, a.ca_pems);
      auto problem = check_x509(check);
      if (!problem) {
        out.enrollment = &g;
        out.attestation = "x509";
        out.x509_check = std::move(check);
        return out;
      }
      last_problem = *problem;
    }
  }
  out.error = unauthorized(last_problem);
  return out;
}

std::string RegistrationService::choose_hub(const Enrollment &enrollment,
                                            const std::string &registration_id) const {
  const auto &hubs = enrollment.iot_hubs.empty() ? config_.iot_hubs : enrollment.iot_hubs;
  // A stable hash of the lower-cased id: the same device lands on the same hub on every run.
  std::string key = to_lower(registration_id);
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char *>(key.data()), key.size(), digest);
  uint32_t value = (uint32_t{digest[0]} << 24) | (uint32_t{digest[1]} << 16) |
                   (uint32_t{digest[2]} << 8) | digest[3];
  return hubs[value % hubs.size()];
}

json RegistrationService::registration_state(const RegistrationRecord &record,
                                             const json &extra) const {
  if (record.status == "failed") {
    // Nothing was assigned: the state says why instead of where.
    return {{"registrationId", record.registration_id},
            {"createdDateTimeUtc", record.created_utc},
            {"status", record.status},
            {"errorCode", record.error_code},
            {"errorMessage", record.error_message},
            {"lastUpdatedDateTimeUtc", record.last_updated_utc},
            {"etag", record.etag}};
  }
  json state = {{"registrationId", record.registration_id},
                {"createdDateTimeUtc", record.created_utc},
                {"assignedHub", record.assigned_hub},
                {"deviceId", record.device_id},
                {"status", record.status},
                {"substatus", record.substatus},
                {"lastUpdatedDateTimeUtc", record.last_updated_utc},
                {"etag", record.etag}};
  json attestation_info = json::object();
  if (!record.enrollment_group_id.empty()) {
    attestation_info["enrollmentGroupId"] = record.enrollment_group_id;
  }
  state[record.attestation == "x509" ? "x509" : "symmetricKey"] = attestation_info;
  if (record.payload) state["payload"] = *record.payload;
  for (auto it = extra.begin(); it != extra.end(); ++it) state[it.key()] = it.value();
  return state;
}

json RegistrationService::x509_state(const AuthOutcome &auth, const RequestContext &ctx) const {
  json x509 = json::object();
  if (auth.attestation != "x509" || ctx.peer_chain_pem.empty()) return x509;
  auto leaf = pki::describe_certificate(ctx.peer_chain_pem.front());
  auto to_json = [](const pki::CertificateInfo &info) {
    return json{
        {"subjectName", info.subject_name},           {"sha1Thumbprint", info.sha1_thumbprint},
        {"sha256Thumbprint", info.sha256_thumbprint}, {"issuerName", info.issuer_name},
        {"notBeforeUtc", info.not_before_utc},        {"notAfterUtc", info.not_after_utc},
        {"serialNumber", info.serial_number},         {"version", info.version}};
  };
  if (leaf.ok) x509["certificateInfo"] = to_json(leaf);
  if (auth.enrollment && auth.enrollment->is_group) {
    x509["enrollmentGroupId"] = auth.enrollment->id;
    if (!auth.x509_check.enrollment_ca_pem.empty()) {
      auto signer = pki::describe_certificate(auth.x509_check.enrollment_ca_pem);
      if (signer.ok) x509["signingCertificateInfo"] = to_json(signer);
    }
  }
  return x509;
}

ServiceReply RegistrationService::assigning_reply(const Operation &op, bool with_state) {
  ServiceReply r;
  r.status = 202;
  r.tracking_id = random_uuid();
  r.retry_after_seconds = op.retry_after_seconds;
  r.body = {{"operationId", op.operation_id}, {"status", "assigning"}};
  if (with_state) {
    r.body["registrationState"] = {{"registrationId", op.record.registration_id},
                                   {"status", "assigning"}};
  }
  r.result = "assigning";
  return r;
}

ServiceReply RegistrationService::assigned_reply(Operation &op) {
  if (!op.completed) {
    if (op.failure) {
      // Like DPS, the registration keeps its failed state (a status lookup returns it); no hub.
      op.record.status = "failed";
      op.record.error_code = op.failure->first;
      op.record.error_message = op.failure->second;
      op.record.assigned_hub.clear();
      op.record.substatus.clear();
      op.record.payload.reset();
      op.extra_state = json::object();
    } else {
      ++assignments_;
    }
    store_->put(op.record);  // durable before the device hears the outcome
    op.completed = true;
  }
  ServiceReply r;
  r.status = 200;
  r.tracking_id = random_uuid();
  r.body = {{"operationId", op.operation_id},
            {"status", op.record.status},
            {"registrationState", registration_state(op.record, op.extra_state)}};
  r.result = op.record.status;
  return r;
}

void RegistrationService::prune_operations(int64_t now_ms) {
  // A full sweep now and then keeps register O(log n) on average.
  if (++registrations_since_prune_ < 1024 && operations_.size() < kMaxOperations) return;
  registrations_since_prune_ = 0;
  for (auto it = operations_.begin(); it != operations_.end();) {
    if (now_ms - it->second.created_ms > kOperationLifetimeMs) {
      it = operations_.erase(it);
    } else {
      ++it;
    }
  }
  while (operations_.size() >= kMaxOperations) operations_.erase(operations_.begin());
}

template <typename Handler>
ServiceReply RegistrationService::serve(const RequestContext &ctx, Handler handler) {
  std::lock_guard<std::mutex> lock(mutex_);
  ServiceReply reply = guarded(handler);
  count_reply(ctx, reply);
  return reply;
}

std::optional<ServiceReply> RegistrationService::apply_early_faults(
    const RequestContext &ctx, bool is_register, std::optional<ServiceReply> &modifier) {
  modifier = apply_request_faults(ctx, is_register, find_individual(ctx.registration_id));
  if (modifier && modifier->result != "modifier") return std::exchange(modifier, std::nullopt);
  return std::nullopt;
}

std::optional<ServiceReply> RegistrationService::authenticate_with_group_faults(
    const RequestContext &ctx, bool is_register, AuthOutcome &auth,
    std::optional<ServiceReply> &modifier) {
  auth = authenticate(ctx);
  if (auth.error) return modified(*auth.error, modifier);
  if (auth.enrollment->is_group) {
    // Which group a device belongs to is only known after authentication; the global faults
    // were evaluated already.
    auto group_modifier = apply_request_faults(ctx, is_register, auth.enrollment, false);
    if (group_modifier && group_modifier->result != "modifier") return group_modifier;
    if (group_modifier) modifier = group_modifier;
  }
  return std::nullopt;
}

ServiceReply RegistrationService::register_device(const RequestContext &ctx,
                                                  const std::string &body) {
  return serve(ctx, [&]() -> ServiceReply {
    std::optional<ServiceReply> modifier;
    if (auto fault = apply_early_faults(ctx, true, modifier)) return *fault;
    auto finish = [&modifier](ServiceReply r) { return modified(std::move(r), modifier); };

    // The body may be empty (.NET), carry payload:null (Python) or omit registrationId.
    auto parsed_body = parse_body(body);
    if (!parsed_body) {
      return finish(error_reply(400, 400004, "The request body is not a JSON object."));
    }
    json request = std::move(*parsed_body);
    if (request.contains("registrationId")) {
      const json &id = request["registrationId"];
      if (!id.is_string() || !iequals(id.get<std::string>(), ctx.registration_id)) {
        return finish(
            error_reply(400, 400004, "registrationId in the body does not match the request."));
      }
    }

    AuthOutcome auth;
    if (auto early = authenticate_with_group_faults(ctx, true, auth, modifier)) return *early;
    const Enrollment &enrollment = *auth.enrollment;

    int64_t now_ms = monotonic_ms();
    prune_operations(now_ms);
    Operation op;
    op.operation_id = new_operation_id();
    op.registration_id = ctx.registration_id;
    op.created_ms = now_ms;
    op.retry_after_seconds = enrollment.retry_after_seconds.value_or(config_.retry_after_seconds);

    if (!enrollment.enabled) {
      ServiceReply r;
      r.status = 200;
      r.tracking_id = random_uuid();
      r.body = {{"operationId", op.operation_id},
                {"status", "disabled"},
                {"registrationState",
                 {{"registrationId", ctx.registration_id},
                  {"status", "disabled"},
                  {"errorCode", 401003},
                  {"errorMessage", "The enrollment is disabled."},
                  {"lastUpdatedDateTimeUtc", utc_timestamp_now()}}}};
      r.result = "disabled";
      return finish(r);
    }

    // Certificate issuance requests (two preview API shapes).
    json extra = json::object();
    if (request.contains("csr") && !request["csr"].is_null()) {
      if (!request["csr"].is_string()) {
        return finish(error_reply(400, 400004, "csr must be a base64 string."));
      }
      if (!pki_) return finish(error_reply(400, 400004, "Certificate issuance is not available."));
      auto issued = pki::issue_from_csr_der_base64(*pki_, request["csr"].get<std::string>(),
                                                   ctx.registration_id);
      if (!issued.ok) return finish(error_reply(400, 400004, "Invalid CSR: " + issued.error));
      extra["issuedCertificateChain"] = issued.chain_der_base64;
    }
    if (request.contains("clientCertificateCsr") && !request["clientCertificateCsr"].is_null()) {
      if (!request["clientCertificateCsr"].is_string()) {
        return finish(error_reply(400, 400004, "clientCertificateCsr must be a PEM string."));
      }
      if (!pki_) return finish(error_reply(400, 400004, "Certificate issuance is not available."));
      auto issued = pki::issue_from_csr_pem(
          *pki_, request["clientCertificateCsr"].get<std::string>(), ctx.registration_id);
      if (!issued.ok) return finish(error_reply(400, 400004, "Invalid CSR: " + issued.error));
      std::string now_text = utc_timestamp_now();
      extra["issuedClientCertificate"] = issued.leaf_pem;
      extra["trustBundle"] = {
          {"id", "dps-emulator-trust-bundle"},
          {"certificates",
           json::array({{{"certificate", issued.trust_bundle_pem}, {"metadata", json::object()}}})},
          {"createdDateTime", now_text},
          {"lastModifiedDateTime", now_text},
          {"etag", new_etag()}};
    }

    // Build the record: re-registration keeps createdDateTimeUtc and the device id.
    auto existing = store_->find(ctx.registration_id);
    RegistrationRecord record;
    std::string now_text = utc_timestamp_now();
    std::string hub = choose_hub(enrollment, ctx.registration_id);
    if (existing) {
      record = *existing;
      if (!enrollment.reprovision.update_hub_assignment && !existing->assigned_hub.empty()) {
        hub = existing->assigned_hub;
      }
      if (!existing->assigned_hub.empty() && hub != existing->assigned_hub) {
        record.substatus =
            enrollment.reprovision.migrate_device_data ? "deviceDataMigrated" : "deviceDataReset";
      } else {
        record.substatus = "initialAssignment";
      }
    } else {
      record.registration_id = ctx.registration_id;
      record.created_utc = now_text;
      record.device_id = (!enrollment.is_group && !enrollment.device_id.empty())
                             ? enrollment.device_id
                             : ctx.registration_id;
      record.substatus = "initialAssignment";
    }
    record.enrollment_group_id = enrollment.is_group ? enrollment.id : "";
    record.attestation = auth.attestation;
    record.assigned_hub = hub;
    record.status = "assigned";
    record.error_code = 0;
    record.error_message.clear();
    record.last_updated_utc = now_text;
    record.etag = new_etag();
    record.registration_count += 1;
    record.payload.reset();
    if (enrollment.echo_payload) {
      if (request.contains("payload") && !request["payload"].is_null()) {
        record.payload = request["payload"];
      }
    } else if (enrollment.initial_payload) {
      record.payload = enrollment.initial_payload;
    }
    op.record = std::move(record);
    if (auth.attestation == "x509") extra["x509"] = x509_state(auth, ctx);
    op.extra_state = std::move(extra);
    if (modifier && modifier->allocation_failure) op.failure = modifier->allocation_failure;

    int delay_ms = enrollment.assignment_delay_ms.value_or(config_.assignment_delay_ms);
    op.ready_at_ms = now_ms + delay_ms;
    auto [it, inserted] = operations_.emplace(op.operation_id, std::move(op));
    (void)inserted;
    if (delay_ms == 0) return finish(assigned_reply(it->second));
    return finish(assigning_reply(it->second, false));
  });
}

ServiceReply RegistrationService::operation_status(const RequestContext &ctx,
                                                   const std::string &operation_id) {
  return serve(ctx, [&]() -> ServiceReply {
    std::optional<ServiceReply> modifier;
    if (auto fault = apply_early_faults(ctx, false, modifier)) return *fault;
    AuthOutcome auth;
    if (auto early = authenticate_with_group_faults(ctx, false, auth, modifier)) return *early;
    auto finish = [&modifier](ServiceReply r) { return modified(std::move(r), modifier); };

    auto it = operations_.find(operation_id);
    if (it == operations_.end() || !iequals(it->second.registration_id, ctx.registration_id)) {
      return finish(error_reply(404, 404201, "Operation not found."));
    }
    Operation &op = it->second;
    if (monotonic_ms() >= op.ready_at_ms) return finish(assigned_reply(op));
    return finish(assigning_reply(op, true));
  });
}

ServiceReply RegistrationService::status_lookup(const RequestContext &ctx,
                                                const std::string &body) {
  return serve(ctx, [&]() -> ServiceReply {
    std::optional<ServiceReply> modifier;
    if (auto fault = apply_early_faults(ctx, false, modifier)) return *fault;
    auto parsed_body = parse_body(body);
    if (!parsed_body) return error_reply(400, 400004, "The request body is not a JSON object.");
    const json &request = *parsed_body;
    if (request.contains("csr")) {
      return error_reply(400, 400004, "csr is not allowed in a registration status lookup.");
    }
    AuthOutcome auth = authenticate(ctx);
    if (auth.error) return *auth.error;
    auto record = store_->find(ctx.registration_id);
    if (!record) return error_reply(404, 404202, "Registration not found.");
    ServiceReply r;
    r.status = 200;
    r.tracking_id = random_uuid();
    json extra = json::object();
    if (auth.attestation == "x509") extra["x509"] = x509_state(auth, ctx);
    r.body = registration_state(*record, extra);
    r.result = record->status;
    if (modifier) r.malformed_body = modifier->malformed_body;
    return r;
  });
}

void RegistrationService::replace_global_faults(std::vector<FaultSpec> faults) {
  std::lock_guard<std::mutex> lock(mutex_);
  global_faults_ = FaultList(std::move(faults), "global");
}

json RegistrationService::global_faults_json() {
  std::lock_guard<std::mutex> lock(mutex_);
  json out = json::array();
  for (const auto &f : global_faults_.specs()) out.push_back(f.to_json());
  return out;
}

json RegistrationService::stats_json() {
  std::lock_guard<std::mutex> lock(mutex_);
  int64_t total = 0;
  for (const auto &[name, count] : requests_by_transport_) total += count;
  return {{"requests", total},
          {"requestsByTransport", requests_by_transport_},
          {"responsesByStatus", replies_by_status_},
          {"faultsInjected", faults_by_type_},
          {"connections", connections_by_transport_},
          {"assignments", assignments_},
          {"pendingOperations", operations_.size()}};
}

json RegistrationService::registrations_json() {
  std::lock_guard<std::mutex> lock(mutex_);
  json out = json::array();
  for (const auto &r : store_->list()) out.push_back(r.to_json());
  return out;
}

}  // namespace dpsemu
