// Fuzz target: the request/JSON handling. The first byte picks what the rest of the input is:
// a register body (authenticated device, so the body is really parsed, stored and echoed), a
// status-lookup body, a SAS token, a config file, or an admin faults document.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "config.h"
#include "registration_service.h"
#include "sas.h"
#include "store.h"

namespace {

constexpr const char *kScope = "0ne00000F00";
constexpr const char *kDeviceKey = "ZnV6ei1kZXZpY2Uta2V5LTAwMDE=";

struct Harness {
  std::shared_ptr<dpsemu::Store> store = std::make_shared<dpsemu::Store>(":memory:");
  std::unique_ptr<dpsemu::RegistrationService> service;
  dpsemu::RequestContext ctx;

  Harness() {
    dpsemu::Config config =
        dpsemu::parse_config(std::string(R"({"idScope": ")") + kScope +
                                 R"(", "enrollments": [{"registrationId": "fuzz-1",
          "echoPayload": true, "attestation": {"type": "symmetricKey", "primaryKey": ")" +
                                 kDeviceKey + R"("}}]})",
                             ".");
    service = std::make_unique<dpsemu::RegistrationService>(config, store, nullptr);
    ctx.transport = "mqtt";
    ctx.id_scope = kScope;
    ctx.registration_id = "fuzz-1";
    std::string sr = std::string(kScope) + "%2Fregistrations%2Ffuzz-1";
    std::string se = "4102444800";  // 2100-01-01
    std::string sig = dpsemu::sas::hmac_sha256_base64("fuzz-device-key-0001", sr + "\n" + se);
    std::string encoded;
    for (char c : sig)
      encoded += c == '+' ? "%2B" : c == '/' ? "%2F" : c == '=' ? "%3D" : std::string(1, c);
    ctx.sas_token = "SharedAccessSignature sr=" + sr + "&sig=" + encoded + "&se=" + se;
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static Harness harness;
  if (size == 0) return 0;
  std::string text(reinterpret_cast<const char *>(data + 1), size - 1);
  switch (data[0] % 5) {
    case 0: {
      auto reply = harness.service->register_device(harness.ctx, text);
      if (reply.status == 200 && reply.body.value("status", "") != "assigned") __builtin_trap();
      (void)reply.wire_body();
      break;
    }
    case 1:
      (void)harness.service->status_lookup(harness.ctx, text).wire_body();
      break;
    case 2: {
      auto verdict = dpsemu::sas::verify_token(text, kScope, "fuzz-1", {kDeviceKey}, 0);
      (void)verdict;
      break;
    }
    case 3:
      try {
        (void)dpsemu::parse_config(text, "/nonexistent");
      } catch (const dpsemu::ConfigError &) {
      }
      break;
    default:
      try {
        auto doc = nlohmann::json::parse(text, nullptr, false, true);
        if (!doc.is_discarded()) (void)dpsemu::parse_faults(doc, "faults");
      } catch (const dpsemu::ConfigError &) {
      }
      break;
  }
  return 0;
}
