// White-box tests of the X.509 and issuance code (linked against
// prov_internal): CSR generation and checking, the register body's CSR
// fields, and service answers about issuance that the emulator cannot be
// made to send (a damaged or missing issued chain, several trust-bundle
// certificates).
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "auth/crypto.h"
#include "auth/csr.h"
#include "auth/x509_identity.h"
#include "core/error.h"
#include "core/issuance.h"
#include "core/options.h"
#include "core/result.h"
#include "internal_checks.h"
#include "json/json.h"

namespace {

using prov::auth::CsrKeyType;

void generated_csr_round_trip() {
  for (CsrKeyType type : {CsrKeyType::EcP256, CsrKeyType::Rsa2048}) {
    prov::auth::GeneratedCsr csr = prov::auth::generate_csr(type, "device-42");
    CHECK(!csr.der.empty());
    prov::auth::CheckedCsr checked = prov::auth::check_csr_der(csr.der, "generated");
    CHECK(checked.common_name == "device-42");
    const std::string &key = csr.private_key_pem.str();
    CHECK(key.find(type == CsrKeyType::EcP256 ? "-----BEGIN EC PRIVATE KEY-----"
                                              : "-----BEGIN RSA PRIVATE KEY-----") == 0);
    // The PEM form parses back to the same request.
    std::string pem = prov::auth::der_to_pem(csr.der, "CERTIFICATE REQUEST");
    CHECK(prov::auth::check_csr_pem(pem, "pem").der == csr.der);
  }
  // Two generations give two different keys.
  auto a = prov::auth::generate_csr(CsrKeyType::EcP256, "d");
  auto b = prov::auth::generate_csr(CsrKeyType::EcP256, "d");
  CHECK(a.private_key_pem.str() != b.private_key_pem.str());
}

void csr_limits_and_damage() {
  CHECK_THROWS(prov::auth::generate_csr(CsrKeyType::EcP256, std::string(64, 'a')),
               PROV_E_CERTIFICATE, "at most 63 characters");
  auto csr = prov::auth::generate_csr(CsrKeyType::EcP256, "dev");
  std::vector<uint8_t> damaged = csr.der;
  damaged[damaged.size() - 3] ^= 0x55;  // inside the signature
  CHECK_THROWS(prov::auth::check_csr_der(damaged, "csr der"), PROV_E_CERTIFICATE, "csr der");
  CHECK_THROWS(prov::auth::check_csr_der({}, "csr der"), PROV_E_CERTIFICATE, "empty");
  CHECK_THROWS(prov::auth::check_csr_pem("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n", "csr_pem"),
               PROV_E_CERTIFICATE, "csr_pem");
}

void register_body_fields() {
  prov::json::CsrFields fields;
  fields.csr_base64_der = "MIIB";
  std::string body = prov::json::build_register_body("dev", std::nullopt, fields);
  CHECK(body == "{\"registrationId\":\"dev\",\"csr\":\"MIIB\"}");
  prov::json::CsrFields pem;
  pem.client_certificate_csr_pem = "-----BEGIN CERTIFICATE REQUEST-----\n";
  body = prov::json::build_register_body("dev", std::string("{\"a\":1}"), pem);
  CHECK(body.find("\"clientCertificateCsr\":\"-----BEGIN CERTIFICATE REQUEST-----\\n\"") !=
        std::string::npos);
  CHECK(body.find("\"payload\":{\"a\":1}") != std::string::npos);
}

// An assigned answer carrying `state_extra` inside registrationState.
std::shared_ptr<prov::core::Result> answer_with(const std::string &state_extra) {
  std::string body =
      "{\"operationId\":\"op\",\"status\":\"assigned\",\"registrationState\":{"
      "\"registrationId\":\"dev\",\"status\":\"assigned\"" +
      state_extra + "}}";
  return std::make_shared<prov::core::Result>(prov::json::parse_service_answer(body), 200);
}

void issued_chain_decoding() {
  prov::core::Options options;
  options.csr_source = prov::core::Options::CsrSource::Generate;
  options.csr_key_type = PROV_KEY_EC_P256;
  prov::core::PreparedCsr prepared = prov::core::prepare_csr(options, "dev");
  CHECK(prepared.active);
  CHECK(prepared.api_version == "2025-07-01-preview");
  CHECK(prepared.fields.csr_base64_der.has_value());
  CHECK(!prepared.fields.client_certificate_csr_pem.has_value());

  CHECK_THROWS(prov::core::attach_issued(answer_with(""), prepared), PROV_E_PROTOCOL,
               "sent no \"issuedCertificateChain\"");
  CHECK_THROWS(
      prov::core::attach_issued(answer_with(",\"issuedCertificateChain\":[\"!!\"]"), prepared),
      PROV_E_PROTOCOL, "entry 1");
  CHECK_THROWS(
      prov::core::attach_issued(answer_with(",\"issuedCertificateChain\":[\"AAAA\"]"), prepared),
      PROV_E_PROTOCOL, "not a DER X.509 certificate");

  // A provided CSR for another name is refused before anything is sent.
  prov::core::Options provided;
  provided.csr_source = prov::core::Options::CsrSource::Provided;
  provided.csr_common_name = "other";
  CHECK_THROWS(prov::core::prepare_csr(provided, "dev"), PROV_E_CERTIFICATE, "\"other\"");
  provided.csr_common_name = "de";  // a prefix is not the registration id
  CHECK_THROWS(prov::core::prepare_csr(provided, "dev"), PROV_E_CERTIFICATE, "\"de\"");
  provided.csr_common_name = "DEV";  // registration ids compare ignoring case, as at the service
  provided.csr_der = prepared.fields.csr_base64_der
                         ? prov::auth::base64_decode(*prepared.fields.csr_base64_der)
                         : std::vector<uint8_t>();
  provided.csr_api = PROV_CSR_API_2021_11_01_PREVIEW;
  prov::core::PreparedCsr pem_form = prov::core::prepare_csr(provided, "dev");
  CHECK(pem_form.api_version == "2021-11-01-preview");
  CHECK(pem_form.fields.client_certificate_csr_pem &&
        pem_form.fields.client_certificate_csr_pem->find("BEGIN CERTIFICATE REQUEST") !=
            std::string::npos);
  CHECK(!pem_form.generated_key_pem.has_value());
  CHECK_THROWS(prov::core::attach_issued(answer_with(""), pem_form), PROV_E_PROTOCOL,
               "issuedClientCertificate");
  CHECK_THROWS(
      prov::core::attach_issued(answer_with(",\"issuedClientCertificate\":\"junk\""), pem_form),
      PROV_E_PROTOCOL, "holds no PEM certificate");
}

void answer_fields() {
  auto result = answer_with(
      ",\"x509\":{\"enrollmentGroupId\":\"g1\",\"certificateInfo\":{\"subjectName\":\"CN=dev\"}}"
      ",\"trustBundle\":{\"certificates\":[{\"certificate\":\"A\"},{\"certificate\":\"B\\n\"},"
      "{\"nope\":1},7]}");
  const prov::json::ServiceAnswer &said = result->answer();
  CHECK(said.enrollment_group_id && *said.enrollment_group_id == "g1");
  CHECK(said.x509_certificate_info_json &&
        *said.x509_certificate_info_json == "{\"subjectName\":\"CN=dev\"}");
  CHECK(said.trust_bundle_pem && *said.trust_bundle_pem == "A\nB\n");
  auto symmetric = answer_with(",\"symmetricKey\":{\"enrollmentGroupId\":\"g2\"}");
  CHECK(symmetric->answer().enrollment_group_id == std::optional<std::string>("g2"));
  CHECK(!symmetric->answer().x509_json);
  // Wrong JSON types are skipped, not trusted.
  auto odd = answer_with(",\"issuedCertificateChain\":[1,null,\"QQ==\"],\"x509\":7");
  CHECK(odd->answer().issued_certificate_chain_base64.size() == 1);
  CHECK(!odd->answer().x509_json);
}

void pem_helpers_and_identity() {
  auto blocks = prov::auth::pem_blocks(
      "junk\n-----BEGIN CERTIFICATE-----\nAA\n-----END CERTIFICATE-----\n"
      "-----BEGIN CERTIFICATE-----\nBB\n",
      "CERTIFICATE");
  CHECK(blocks.size() == 2);
  CHECK(blocks[0] == "-----BEGIN CERTIFICATE-----\nAA\n-----END CERTIFICATE-----\n");
  CHECK_THROWS(
      prov::auth::X509Identity::from_pem(blocks[1], prov::auth::SecretString("k"), std::nullopt),
      PROV_E_CERTIFICATE, "first certificate in cert_pem");
  CHECK_THROWS(prov::auth::X509Identity::from_files("/nonexistent/dir/c.pem", "/nonexistent/k",
                                                    std::nullopt),
               PROV_E_CERTIFICATE, "certificate file \"/nonexistent/dir/c.pem\" cannot be read");
  CHECK(prov::auth::format_utc(0) == "1970-01-01T00:00:00Z");
}

}  // namespace

int main() {
  generated_csr_round_trip();
  csr_limits_and_damage();
  register_body_fields();
  issued_chain_decoding();
  answer_fields();
  pem_helpers_and_identity();
  if (g_failures != 0) {
    std::fprintf(stderr, "%d check(s) failed\n", g_failures);
    return 1;
  }
  std::puts("x509 unit: all checks passed");
  return 0;
}
