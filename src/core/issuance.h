// Certificate issuance around one registration: builds the CSR fields of the
// register request from the options (generating a key pair and CSR when
// asked), and decodes what the service issued into the result.
#ifndef PROV_CORE_ISSUANCE_H
#define PROV_CORE_ISSUANCE_H

#include <memory>
#include <optional>
#include <string>

#include "auth/secret.h"
#include "core/options.h"
#include "core/result.h"
#include "json/json.h"

namespace prov::core {

struct PreparedCsr {
  bool active = false;      // a CSR goes with this registration
  int api = 0;              // PROV_CSR_API_*
  std::string api_version;  // the api-version the request must name
  json::CsrFields fields;
  std::optional<auth::SecretString> generated_key_pem;
};

// Throws Error(PROV_E_CERTIFICATE) when a provided CSR's CN is not the
// registration id, or when a CSR cannot be generated for it.
PreparedCsr prepare_csr(const Options &options, const std::string &registration_id);

// Decodes the issued chain (2025: issuedCertificateChain; 2021:
// issuedClientCertificate) into result. Throws Error(PROV_E_PROTOCOL) when
// the service assigned the device without issuing a certificate or sent one
// that does not decode.
void attach_issued(const std::shared_ptr<Result> &result, const PreparedCsr &csr);

}  // namespace prov::core

#endif  // PROV_CORE_ISSUANCE_H
