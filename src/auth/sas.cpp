#include "auth/sas.h"

#include "auth/crypto.h"

namespace prov::auth {

namespace {
SecretString hmac_base64(const SecretString &key_base64, const std::string &message) {
  SecretBytes key(base64_decode(key_base64.str()));
  Sha256Digest mac = hmac_sha256(key.data(), key.size(), message);
  SecretString encoded(base64_encode(mac.data(), mac.size()));
  secure_wipe(mac.data(), mac.size());
  return encoded;
}
}  // namespace

SecretString make_sas_token(const std::string &id_scope, const std::string &registration_id,
                            const SecretString &device_key_base64, int64_t expiry_unix_seconds) {
  const std::string resource = url_encode(id_scope + "/registrations/" + registration_id);
  const std::string expiry = std::to_string(expiry_unix_seconds);
  SecretString signature = hmac_base64(device_key_base64, resource + "\n" + expiry);
  // Built in one buffer so that no temporary copy of the signature is left unwiped.
  std::string token;
  token.reserve(64 + resource.size() + signature.str().size() * 3 + expiry.size());
  token.append("SharedAccessSignature sr=").append(resource).append("&sig=");
  url_encode_append(token, signature.str());
  token.append("&se=").append(expiry).append("&skn=registration");
  return SecretString(std::move(token));
}

SecretString derive_device_key(const SecretString &group_key_base64,
                               const std::string &registration_id) {
  return hmac_base64(group_key_base64, registration_id);
}

}  // namespace prov::auth
