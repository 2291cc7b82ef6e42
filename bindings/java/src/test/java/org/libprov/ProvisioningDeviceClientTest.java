package org.libprov;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** The Java binding against a real dps-emulator. */
class ProvisioningDeviceClientTest extends EmulatorTestBase {
  private static final Set<String> HUBS = Set.of("hub-1.example.net", "hub-2.example.net");

  @Test
  void symmetricKeyRegistration() throws Exception {
    try (ProvisioningDeviceClient client = client("java-dev-1", TestEmulator.DEVICE_KEY)) {
      RegistrationResult result = client.register();
      assertEquals("assigned", result.getStatus());
      assertEquals("java-device-one", result.getDeviceId());
      assertEquals("java-dev-1", result.getRegistrationId());
      assertTrue(HUBS.contains(result.getAssignedHub()), result.getAssignedHub());
      assertEquals("initialAssignment", result.getSubstatus());
      assertFalse(result.getOperationId().isEmpty());
      assertNotNull(result.getEtag());
      assertNotNull(result.getCreatedDateTime());
      assertNotNull(result.getLastUpdateDateTime());
      assertNull(result.getPayload());
      assertEquals(200, result.getHttpStatus());
      assertTrue(result.getRegistrationStateJson().contains("\"assignedHub\""));
    }
  }

  @Test
  void groupEnrollmentWithDerivedKey() throws Exception {
    String key = Provisioning.deriveDeviceKey(TestEmulator.GROUP_KEY, "java-member-5");
    try (ProvisioningDeviceClient client = client("java-member-5", key)) {
      assertEquals("java-member-5", client.register().getDeviceId());
    }
  }

  @Test
  void symmetricKeyGroupClient() throws Exception {
    try (ProvisioningDeviceClient client =
        ProvisioningDeviceClient.createFromSymmetricKeyGroup(
                emulator.mqttHost, "java-member-8", TestEmulator.ID_SCOPE, TestEmulator.GROUP_KEY)
            .setServerVerificationCert(emulator.caPem)) {
      RegistrationResult result = client.register();
      assertEquals("java-member-8", result.getDeviceId());
      assertEquals("java-group", result.getEnrollmentGroupId());
    }
  }

  @Test
  void x509Registration() throws Exception {
    try (ProvisioningDeviceClient client =
        ProvisioningDeviceClient.createFromX509Certificate(
                emulator.mqttHost, TestEmulator.X509_REGISTRATION_ID, TestEmulator.ID_SCOPE,
                emulator.deviceCert.toString(), emulator.deviceKey.toString(), null)
            .setServerVerificationCert(emulator.caPem)) {
      RegistrationResult result = client.register();
      assertEquals(TestEmulator.X509_REGISTRATION_ID, result.getDeviceId());
      assertEquals("java-x509-group", result.getEnrollmentGroupId());
      assertTrue(HUBS.contains(result.getAssignedHub()), result.getAssignedHub());
      assertTrue(result.getX509Json().contains("\"enrollmentGroupId\""), result.getX509Json());
    }
  }

  @Test
  void x509FromPemOverHttps() throws Exception {
    try (ProvisioningDeviceClient client =
        ProvisioningDeviceClient.createFromX509Pem(
                emulator.httpsHost, TestEmulator.X509_REGISTRATION_ID, TestEmulator.ID_SCOPE,
                Files.readString(emulator.deviceCert), Files.readString(emulator.deviceKey), null)
            .setServerVerificationCert(emulator.caPem)
            .setTransport(Transport.HTTPS)) {
      assertEquals(TestEmulator.X509_REGISTRATION_ID, client.register().getDeviceId());
    }
  }

  @Test
  void x509CredentialProblemsAreInvalidCertificateException() {
    InvalidCertificateException e =
        assertThrows(
            InvalidCertificateException.class,
            () -> ProvisioningDeviceClient.createFromX509Certificate(
                emulator.mqttHost, TestEmulator.X509_REGISTRATION_ID, TestEmulator.ID_SCOPE,
                emulator.dir.resolve("missing.pem").toString(), emulator.deviceKey.toString(), null));
    assertTrue(e.getMessage().contains("missing.pem"), e.getMessage());
    assertThrows(
        InvalidCertificateException.class,
        () -> ProvisioningDeviceClient.createFromX509Certificate(
            emulator.mqttHost, TestEmulator.X509_REGISTRATION_ID, TestEmulator.ID_SCOPE,
            emulator.deviceCert.toString(), emulator.caKey.toString(), null));
  }

  @Test
  void everyTransport() throws Exception {
    for (Transport transport : Transport.values()) {
      String host = transport == Transport.MQTT ? emulator.mqttHost : emulator.httpsHost;
      try (ProvisioningDeviceClient client =
          ProvisioningDeviceClient.createFromSymmetricKey(
                  host, "java-dev-1", TestEmulator.ID_SCOPE, TestEmulator.DEVICE_KEY)
              .setServerVerificationCert(emulator.caPem)
              .setTransport(transport)) {
        assertEquals("java-device-one", client.register().getDeviceId(), transport.name());
      }
    }
  }

  @Test
  void certificateIssuance() throws Exception {
    try (ProvisioningDeviceClient client =
        client("java-dev-1", TestEmulator.DEVICE_KEY).setCsrAuto(KeyType.EC_P256)) {
      RegistrationResult result = client.register();
      assertTrue(result.getIssuedCertificateCount() >= 1, "issued " + result.getIssuedCertificateCount());
      assertTrue(result.getIssuedCertificateChainPem().startsWith("-----BEGIN CERTIFICATE-----"));
      assertTrue(result.getGeneratedPrivateKeyPem().contains("PRIVATE KEY-----"));
    }
  }

  @Test
  void unreachableProxyIsConnectionFailed() {
    try (ProvisioningDeviceClient client =
        client("java-dev-1", TestEmulator.DEVICE_KEY)
            .setProxy(ProxyType.SOCKS5, "127.0.0.1", 1, "user", "secret-password")
            // No retries: a refused connection is transient, and retrying only slows the test.
            .setRetryPolicy(0, Duration.ofSeconds(1), Duration.ofSeconds(1))) {
      ConnectionFailedException e = assertThrows(ConnectionFailedException.class, client::register);
      assertTrue(e.getMessage().contains("127.0.0.1:1"), e.getMessage());
      assertFalse(e.getMessage().contains("secret-password"), "the proxy password leaked");
      assertThrows(IllegalArgumentException.class, () -> client.setProxyUrl("gopher://p:1"));
    }
  }

  @Test
  void payloadRoundTrip() throws Exception {
    String payload = "{\"a\":[1,2,{\"b\":null}],\"modelId\":\"dtmi:x;1\"}";
    try (ProvisioningDeviceClient client =
        client("java-echo", TestEmulator.DEVICE_KEY).setProvisioningPayload(payload)) {
      assertEquals(payload, client.register().getPayload().replaceAll("\\s", ""));
      client.setProvisioningPayload(null);
      assertNull(client.register().getPayload());
      IllegalArgumentException invalid =
          assertThrows(IllegalArgumentException.class, () -> client.setProvisioningPayload("{x"));
      assertTrue(invalid.getMessage().contains("payload"), invalid.getMessage());
    }
  }

  @Test
  void wrongKeyIsCredentialExceptionWithServiceDetails() {
    try (ProvisioningDeviceClient client = client("java-dev-1", TestEmulator.WRONG_KEY)) {
      CredentialException e = assertThrows(CredentialException.class, client::register);
      assertTrue(e.getErrorCode() >= 401000 && e.getErrorCode() <= 401999, "code " + e.getErrorCode());
      assertEquals(401, e.getHttpStatus());
      assertNotNull(e.getTrackingId());
      assertEquals("PROV_E_CREDENTIAL", e.getStatusName());
      assertTrue(e.getMessage().contains(Integer.toString(e.getErrorCode())), e.getMessage());
      assertFalse(e.getMessage().contains(TestEmulator.WRONG_KEY), "the key leaked into the message");
    }
  }

  @Test
  void silentServiceTimesOut() {
    try (ProvisioningDeviceClient client =
        client("java-silent", TestEmulator.DEVICE_KEY).setRegisterTimeout(Duration.ofSeconds(2))) {
      long started = System.nanoTime();
      OperationTimeoutException e = assertThrows(OperationTimeoutException.class, client::register);
      long elapsedMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
      assertTrue(elapsedMs >= 1500 && elapsedMs <= 10000, "gave up after " + elapsedMs + " ms");
      assertEquals(0, e.getErrorCode());
    }
  }

  @Test
  void cancelStopsRegistration() throws Exception {
    try (ProvisioningDeviceClient client = client("java-silent", TestEmulator.DEVICE_KEY)) {
      CompletableFuture<RegistrationResult> running = client.registerAsync();
      Thread.sleep(300);
      long started = System.nanoTime();
      client.cancel();
      ExecutionException e =
          assertThrows(ExecutionException.class, () -> running.get(10, TimeUnit.SECONDS));
      assertInstanceOf(OperationCancelledException.class, e.getCause());
      long elapsedMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
      assertTrue(elapsedMs < 2000, "cancelled after " + elapsedMs + " ms");
      // Cancelling the future cancels the registration too; the client registers again.
      CompletableFuture<RegistrationResult> second = client.registerAsync();
      Thread.sleep(300);
      assertTrue(second.cancel(true));
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (true) {
        try {
          client.setRegisterTimeout(Duration.ofSeconds(20)); // refused while still registering
          break;
        } catch (IllegalStateException stillRunning) {
          assertTrue(System.nanoTime() < deadline, "the registration did not stop");
          Thread.sleep(20);
        }
      }
    }
  }

  /** Futures cancelled right away, whichever step the cancel meets, free the client at once. */
  @Test
  void earlyFutureCancellation() throws Exception {
    try (ProvisioningDeviceClient client = client("java-silent", TestEmulator.DEVICE_KEY)) {
      for (int attempt = 0; attempt < 20; attempt++) {
        long started = System.nanoTime();
        assertTrue(client.registerAsync().cancel(true));
        while (true) {
          try {
            client.setRegisterTimeout(Duration.ofSeconds(20)); // refused while registering
            break;
          } catch (IllegalStateException stillRunning) {
            long elapsedMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
            assertTrue(elapsedMs < 3000, "attempt " + attempt + ": still registering after " + elapsedMs + " ms");
            Thread.sleep(5);
          }
        }
      }
    }
  }

  @Test
  void retryPolicyOption() throws Exception {
    try (ProvisioningDeviceClient client =
        client("java-dev-1", TestEmulator.DEVICE_KEY)
            .setRetryPolicy(3, Duration.ofMillis(100), Duration.ofSeconds(1))) {
      assertEquals("java-device-one", client.register().getDeviceId());
      assertThrows(
          IllegalArgumentException.class,
          () -> client.setRetryPolicy(3, Duration.ofSeconds(2), Duration.ofSeconds(1)));
    }
  }

  @Test
  void untrustedServerIsConnectionFailed() {
    try (ProvisioningDeviceClient client =
        ProvisioningDeviceClient.createFromSymmetricKey(
            emulator.mqttHost, "java-dev-1", TestEmulator.ID_SCOPE, TestEmulator.DEVICE_KEY)) {
      assertThrows(ConnectionFailedException.class, client::register);
    }
  }

  @Test
  void registerAsyncCompletesAndFailsLikeRegister() throws Exception {
    try (ProvisioningDeviceClient good = client("java-dev-1", TestEmulator.DEVICE_KEY);
        ProvisioningDeviceClient bad = client("java-dev-1", TestEmulator.WRONG_KEY)) {
      CompletableFuture<RegistrationResult> assigned = good.registerAsync();
      CompletableFuture<RegistrationResult> rejected = bad.registerAsync();
      assertEquals("java-device-one", assigned.get(30, TimeUnit.SECONDS).getDeviceId());
      ExecutionException e =
          assertThrows(ExecutionException.class, () -> rejected.get(30, TimeUnit.SECONDS));
      assertInstanceOf(CredentialException.class, e.getCause());
    }
  }

  @Test
  void busyClientAndCloseDuringRegistration() throws Exception {
    ProvisioningDeviceClient client =
        client("java-silent", TestEmulator.DEVICE_KEY).setRegisterTimeout(Duration.ofSeconds(2));
    CompletableFuture<RegistrationResult> first = client.registerAsync();
    Thread.sleep(300);
    assertThrows(IllegalStateException.class, client::register);
    client.close(); // deferred until the registration ends
    assertTrue(client.isClosed());
    ExecutionException e = assertThrows(ExecutionException.class, () -> first.get(30, TimeUnit.SECONDS));
    assertInstanceOf(OperationTimeoutException.class, e.getCause());
    IllegalStateException closed = assertThrows(IllegalStateException.class, client::register);
    assertTrue(closed.getMessage().contains("closed"), closed.getMessage());
  }

  /** Errors are recorded per thread in C: many threads mixing outcomes each see their own. */
  @Test
  void concurrentClientsSeeTheirOwnOutcome() throws Exception {
    List<CompletableFuture<String>> outcomes = new ArrayList<>();
    List<ProvisioningDeviceClient> clients = new ArrayList<>();
    for (int worker = 0; worker < 16; worker++) {
      ProvisioningDeviceClient client =
          client("java-dev-1", worker % 2 == 0 ? TestEmulator.DEVICE_KEY : TestEmulator.WRONG_KEY);
      clients.add(client);
      outcomes.add(
          client
              .registerAsync()
              .handle((result, failure) -> failure == null ? result.getDeviceId() : failure.getClass().getSimpleName()));
    }
    for (int worker = 0; worker < 16; worker++) {
      String expected = worker % 2 == 0 ? "java-device-one" : "CredentialException";
      assertEquals(expected, outcomes.get(worker).get(60, TimeUnit.SECONDS), "worker " + worker);
      clients.get(worker).close();
    }
  }

  @Test
  void invalidArgumentsNameTheProblem() {
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> ProvisioningDeviceClient.createFromSymmetricKey(
                "h", "bad id", TestEmulator.ID_SCOPE, TestEmulator.DEVICE_KEY));
    assertTrue(e.getMessage().contains("registration_id"), e.getMessage());
    e =
        assertThrows(
            IllegalArgumentException.class,
            () -> ProvisioningDeviceClient.createFromSymmetricKey(
                "h", "dev", TestEmulator.ID_SCOPE, "not base64"));
    assertTrue(e.getMessage().contains("symmetric_key"), e.getMessage());
    try (ProvisioningDeviceClient client =
        ProvisioningDeviceClient.createFromSymmetricKey(
            "h", "dev", TestEmulator.ID_SCOPE, TestEmulator.DEVICE_KEY)) {
      assertThrows(IllegalArgumentException.class, () -> client.setKeepAlive(Duration.ofSeconds(5000)));
      e = assertThrows(IllegalArgumentException.class, () -> client.setKeepAlive(Duration.ofMillis(1500)));
      assertTrue(e.getMessage().contains("whole seconds"), e.getMessage());
      assertThrows(IllegalArgumentException.class, () -> client.setRegisterTimeout(Duration.ZERO));
    }
    assertThrows(IllegalArgumentException.class, () -> Provisioning.deriveDeviceKey("***", "dev"));
  }

  @Test
  void closeIsIdempotentAndUseAfterCloseFails() {
    ProvisioningDeviceClient client = client("java-dev-1", TestEmulator.DEVICE_KEY);
    client.close();
    client.close();
    assertTrue(client.isClosed());
    assertThrows(IllegalStateException.class, client::register);
    assertThrows(IllegalStateException.class, () -> client.setCipher(null));
  }

  @Test
  void knownAnswerVectors() throws IOException {
    String vectors = Files.readString(Path.of(System.getenv("PROV_TEST_VECTORS")));
    Matcher derived =
        Pattern.compile(
                "\\{\\s*\"group_key\":\\s*\"([^\"]+)\",\\s*\"registration_id\":\\s*\"([^\"]+)\",\\s*\"device_key\":\\s*\"([^\"]+)\"")
            .matcher(vectors);
    int checked = 0;
    while (derived.find()) {
      assertEquals(derived.group(3), Provisioning.deriveDeviceKey(derived.group(1), derived.group(2)));
      checked++;
    }
    assertTrue(checked > 0, "no derived-key vectors found");
    Matcher sas =
        Pattern.compile(
                "\"id_scope\":\\s*\"([^\"]+)\",\\s*\"registration_id\":\\s*\"([^\"]+)\",\\s*\"device_key\":\\s*\"([^\"]+)\",\\s*\"expiry\":\\s*(\\d+)[^}]*\"token\":\\s*\"([^\"]+)\"")
            .matcher(vectors);
    checked = 0;
    while (sas.find()) {
      assertEquals(
          sas.group(5),
          Provisioning.generateSasToken(
              sas.group(1), sas.group(2), sas.group(3), Instant.ofEpochSecond(Long.parseLong(sas.group(4)))));
      checked++;
    }
    assertTrue(checked > 0, "no SAS vectors found");
  }

  @Test
  void examplePrintsHubAndDeviceId() throws Exception {
    Path example = Path.of(System.getProperty("prov.example.dir"), "Register.java");
    List<String> command = new ArrayList<>();
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    command.add("-cp");
    command.add(System.getProperty("java.class.path"));
    command.add("-Dorg.libprov.native.path=" + System.getProperty("org.libprov.native.path"));
    command.add(example.toString());
    ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
    builder.environment().put("PROVISIONING_HOST", emulator.mqttHost);
    builder.environment().put("PROVISIONING_IDSCOPE", TestEmulator.ID_SCOPE);
    builder.environment().put("PROVISIONING_REGISTRATION_ID", "java-dev-1");
    builder.environment().put("PROVISIONING_SYMMETRIC_KEY", TestEmulator.DEVICE_KEY);
    builder.environment().put("PROVISIONING_SERVER_CERT", emulator.caPath.toString());
    Process process = builder.start();
    String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(process.waitFor(60, TimeUnit.SECONDS));
    assertEquals(0, process.exitValue(), output);
    assertTrue(output.contains("device id: java-device-one"), output);
    assertTrue(
        output.contains("assigned hub: hub-1.example.net")
            || output.contains("assigned hub: hub-2.example.net"),
        output);
  }
}
