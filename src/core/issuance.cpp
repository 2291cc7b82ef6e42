#include "core/issuance.h"


#include "auth/crypto.h"
#include "auth/csr.h"
#include "auth/x509_identity.h"
#include "core/ascii.h"
#include "core/error.h"
#include "transport/mqtt_transport.h"

namespace prov::core {
namespace {}  // namespace

PreparedCsr prepare_csr(const Options &options, const std::string &registration_id) {
  PreparedCsr prepared;
  if (options.csr_source == Options::CsrSource::None) return prepared;
  prepared.active = true;
  prepared.api = options.csr_api;

  std::vector<uint8_t> der;
  if (options.csr_source == Options::CsrSource::Generate) {
    auth::GeneratedCsr generated =
        auth::generate_csr(options.csr_key_type == PROV_KEY_RSA_2048 ? auth::CsrKeyType::Rsa2048
                                                                     : auth::CsrKeyType::EcP256,
                           registration_id);
    der = std::move(generated.der);
    prepared.generated_key_pem = std::move(generated.private_key_pem);
  } else {
    // The service treats registration ids case-insensitively, the CSR's CN
    // included (dps-protocol.md section 6), and so does the emulator.
    if (!ascii_iequals(options.csr_common_name, registration_id)) {
      throw Error(PROV_E_CERTIFICATE,
                  "the CSR set with prov_client_set_csr_pem/_der has subject CN \"" +
                      options.csr_common_name + "\", but the registration id is \"" +
                      registration_id +
                      "\"; DPS issues certificates only for CN = registration id");
    }
    der = options.csr_der;
  }

  if (prepared.api == PROV_CSR_API_2021_11_01_PREVIEW) {
    prepared.api_version = transport::kDpsApiVersionCsr2021;
    prepared.fields.client_certificate_csr_pem = auth::der_to_pem(der, "CERTIFICATE REQUEST");
  } else {
    prepared.api_version = transport::kDpsApiVersionCsr2025;
    prepared.fields.csr_base64_der = auth::base64_encode(der.data(), der.size());
  }
  return prepared;
}

void attach_issued(const std::shared_ptr<Result> &result, const PreparedCsr &csr) {
  if (!csr.active || !result) return;
  const json::ServiceAnswer &said = result->answer();
  Result::Issued issued;
  issued.generated_key_pem = csr.generated_key_pem;
  std::string chain_pem;
  if (csr.api == PROV_CSR_API_2021_11_01_PREVIEW) {
    if (!said.issued_client_certificate_pem) {
      throw Error(PROV_E_PROTOCOL,
                  "the service assigned the device but sent no \"issuedClientCertificate\" "
                  "although the request carried a CSR (clientCertificateCsr)",
                  result);
    }
    std::vector<std::string> blocks =
        auth::pem_blocks(*said.issued_client_certificate_pem, "CERTIFICATE");
    if (blocks.empty()) {
      throw Error(PROV_E_PROTOCOL,
                  "the service's \"issuedClientCertificate\" holds no PEM certificate", result);
    }
    for (size_t i = 0; i < blocks.size(); ++i) {
      issued.chain_der.push_back(
          auth::certificate_pem_to_der(blocks[i], PROV_E_PROTOCOL,
                                       "certificate " + std::to_string(i + 1) +
                                           " of the service's \"issuedClientCertificate\""));
      chain_pem += auth::der_to_pem(issued.chain_der.back(), "CERTIFICATE");
    }
  } else {
    if (said.issued_certificate_chain_base64.empty()) {
      throw Error(PROV_E_PROTOCOL,
                  "the service assigned the device but sent no \"issuedCertificateChain\" "
                  "although the request carried a CSR",
                  result);
    }
    const auto &entries = said.issued_certificate_chain_base64;
    for (size_t i = 0; i < entries.size(); ++i) {
      if (auto problem = auth::base64_problem(entries[i])) {
        throw Error(PROV_E_PROTOCOL,
                    "entry " + std::to_string(i + 1) +
                        " of the service's \"issuedCertificateChain\" is not "
                        "Base64: " +
                        *problem,
                    result);
      }
      issued.chain_der.push_back(auth::base64_decode(entries[i]));
      if (!auth::is_certificate_der(issued.chain_der.back())) {
        throw Error(PROV_E_PROTOCOL,
                    "entry " + std::to_string(i + 1) +
                        " of the service's \"issuedCertificateChain\" is not a DER X.509 "
                        "certificate",
                    result);
      }
      chain_pem += auth::der_to_pem(issued.chain_der.back(), "CERTIFICATE");
    }
  }
  issued.chain_pem = std::move(chain_pem);
  result->set_issued(std::move(issued));
}

}  // namespace prov::core
