package org.libprov;

import java.time.Instant;
import org.libprov.internal.ProvNative;

/** Library-wide helpers: derived keys, SAS tokens, the library version. Thread-safe. */
public final class Provisioning {
  private Provisioning() {}

  /**
   * Derives a device's key for a symmetric-key group enrollment:
   * base64(HMAC-SHA256(base64decode(groupKey), registrationId)).
   *
   * @throws IllegalArgumentException when groupKey is not Base64 or registrationId is invalid
   */
  public static String deriveDeviceKey(String groupKey, String registrationId) {
    String key = ProvNative.derive_device_key(groupKey, registrationId);
    NativeError.throwIfPendingUnchecked("derive device key");
    return key;
  }

  /**
   * The SAS token a device presents for registrationId in idScope, valid until expiry. The client
   * builds its own tokens; this is for diagnostics and custom transports.
   */
  public static String generateSasToken(
      String idScope, String registrationId, String symmetricKey, Instant expiry) {
    String token =
        ProvNative.generate_sas_token(idScope, registrationId, symmetricKey, expiry.getEpochSecond());
    NativeError.throwIfPendingUnchecked("generate SAS token");
    return token;
  }

  /** The version of the libprov library in use, e.g. "1.0.0". */
  public static String version() {
    return ProvNative.version_string();
  }
}
