package org.libprov;

import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * The setup the emulator-backed test classes share: one real dps-emulator per test class (started
 * before its first test, stopped after its last) and a symmetric-key client that trusts it. The
 * field is static in this base class, so the classes must not run in parallel (Surefire runs them
 * one after another).
 */
abstract class EmulatorTestBase {
  static TestEmulator emulator;

  @BeforeAll
  static void startEmulator() throws Exception {
    emulator = new TestEmulator();
  }

  @AfterAll
  static void stopEmulator() {
    if (emulator != null) {
      emulator.close();
      emulator = null;
    }
  }

  /** An individual-enrollment client against the emulator, trusting its root, 20 s to register. */
  static ProvisioningDeviceClient client(String registrationId, String key) {
    return ProvisioningDeviceClient.createFromSymmetricKey(
            emulator.mqttHost, registrationId, TestEmulator.ID_SCOPE, key)
        .setServerVerificationCert(emulator.caPem)
        .setRegisterTimeout(Duration.ofSeconds(20));
  }
}
