// Symmetric-key attestation: SAS tokens and group-derived device keys.
#ifndef PROV_AUTH_SAS_H
#define PROV_AUTH_SAS_H

#include <cstdint>
#include <string>

#include "auth/secret.h"

namespace prov::auth {

// "SharedAccessSignature sr=<enc(scope/registrations/id)>&sig=<enc(b64
// hmac)>&se=<expiry>&skn=registration" The key is the Base64 device key. Inputs are assumed
// validated.
SecretString make_sas_token(const std::string &id_scope, const std::string &registration_id,
                            const SecretString &device_key_base64, int64_t expiry_unix_seconds);

// base64(HMAC-SHA256(base64decode(group_key), registration_id)).
SecretString derive_device_key(const SecretString &group_key_base64,
                               const std::string &registration_id);

}  // namespace prov::auth

#endif  // PROV_AUTH_SAS_H
