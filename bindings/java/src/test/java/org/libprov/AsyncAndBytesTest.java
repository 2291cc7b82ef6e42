package org.libprov;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * registerAsync on libprov's own thread (prov_client_register_async) with a progress listener,
 * and the DER byte buffers (issued certificates, a caller's CSR), against a real dps-emulator.
 */
class AsyncAndBytesTest extends EmulatorTestBase {
  @Test
  void progressListenerSeesEveryStepInOrderOnLibprovsThread() throws Exception {
    List<RegistrationProgress> seen = new ArrayList<>();
    List<String> threads = new ArrayList<>();
    String caller = Thread.currentThread().getName();
    try (ProvisioningDeviceClient client = client("java-dev-1", TestEmulator.DEVICE_KEY)) {
      RegistrationResult result =
          client
              .registerAsync(
                  progress -> {
                    synchronized (seen) {
                      seen.add(progress);
                      threads.add(Thread.currentThread().getName());
                    }
                  },
                  ForkJoinPool.commonPool())
              .get(30, TimeUnit.SECONDS);
      synchronized (seen) {
        assertTrue(seen.size() >= 4, "progress " + seen);
        assertEquals(RegistrationProgress.State.CONNECTING, seen.get(0).getState());
        RegistrationProgress last = seen.get(seen.size() - 1);
        assertEquals(RegistrationProgress.State.ASSIGNED, last.getState());
        assertEquals(result.getAssignedHub(), last.getDetail());
        for (String thread : threads) {
          assertNotEquals(caller, thread, "a listener ran on the caller's thread");
        }
      }
      // The client registers again (synchronously) after the asynchronous registration.
      assertEquals("java-device-one", client.register().getDeviceId());
    }
  }

  @Test
  void logListenerReceivesLinesWithoutSecrets() throws Exception {
    List<String> lines = new ArrayList<>();
    try (ProvisioningDeviceClient client = client("java-dev-1", TestEmulator.DEVICE_KEY)) {
      client.setLogListener(
          RegistrationLogListener.Level.DEBUG,
          (level, message) -> {
            synchronized (lines) {
              lines.add(level + ": " + message);
            }
          });
      client.registerAsync().get(30, TimeUnit.SECONDS);
      synchronized (lines) {
        assertTrue(!lines.isEmpty(), "no log lines at debug level");
        for (String line : lines) {
          assertTrue(!line.contains(TestEmulator.DEVICE_KEY), "the key leaked: " + line);
        }
      }
    }
  }

  @Test
  void manyAsyncRegistrationsInFlightEachCompleteTheirOwnFuture() throws Exception {
    List<ProvisioningDeviceClient> clients = new ArrayList<>();
    List<CompletableFuture<RegistrationResult>> futures = new ArrayList<>();
    try {
      for (int index = 0; index < 24; index++) {
        ProvisioningDeviceClient client =
            client("java-dev-1", index % 4 == 3 ? TestEmulator.WRONG_KEY : TestEmulator.DEVICE_KEY);
        clients.add(client);
        futures.add(client.registerAsync());
      }
      for (int index = 0; index < futures.size(); index++) {
        CompletableFuture<RegistrationResult> future = futures.get(index);
        if (index % 4 == 3) {
          ExecutionException e =
              assertThrows(ExecutionException.class, () -> future.get(60, TimeUnit.SECONDS));
          assertInstanceOf(CredentialException.class, e.getCause());
          assertEquals(401002, ((CredentialException) e.getCause()).getErrorCode());
        } else {
          assertEquals("java-device-one", future.get(60, TimeUnit.SECONDS).getDeviceId());
        }
      }
    } finally {
      for (ProvisioningDeviceClient client : clients) {
        client.close();
      }
    }
  }

  /**
   * Registrations waiting for the service hold no Java thread each: libprov's event loop runs
   * them, and one dispatcher thread serves all of them.
   */
  @Test
  void registrationsInFlightHoldNoThreadEach() throws Exception {
    int count = 100;
    CountDownLatch registering = new CountDownLatch(count);
    List<ProvisioningDeviceClient> clients = new ArrayList<>();
    List<CompletableFuture<RegistrationResult>> futures = new ArrayList<>();
    int before = ManagementFactory.getThreadMXBean().getThreadCount();
    try {
      for (int index = 0; index < count; index++) {
        ProvisioningDeviceClient client =
            client("java-silent", TestEmulator.DEVICE_KEY).setRegisterTimeout(Duration.ofSeconds(60));
        clients.add(client);
        AtomicBoolean sent = new AtomicBoolean();
        futures.add(
            client.registerAsync(
                progress -> {
                  if (progress.getState() == RegistrationProgress.State.REGISTERING
                      && sent.compareAndSet(false, true)) {
                    registering.countDown();
                  }
                },
                ForkJoinPool.commonPool()));
      }
      assertTrue(registering.await(45, TimeUnit.SECONDS), registering.getCount() + " did not send");
      int during = ManagementFactory.getThreadMXBean().getThreadCount();
      // A thread per registration would add 100; the dispatcher adds one.
      assertTrue(during - before <= 20, count + " in flight: " + before + " -> " + during + " threads");
      for (CompletableFuture<RegistrationResult> future : futures) {
        future.cancel(true);
      }
    } finally {
      for (ProvisioningDeviceClient client : clients) {
        client.close(); // deferred until each cancelled registration has ended
      }
    }
  }

  @Test
  void closeRequestedDuringAsyncRegistrationFreesAtTheEnd() throws Exception {
    ProvisioningDeviceClient client =
        client("java-silent", TestEmulator.DEVICE_KEY).setRegisterTimeout(Duration.ofSeconds(20));
    CompletableFuture<RegistrationResult> running = client.registerAsync();
    client.close(); // deferred: the registration is in flight
    assertTrue(client.isClosed());
    Thread.sleep(200);
    assertTrue(running.cancel(true));
    assertThrows(IllegalStateException.class, () -> client.setCipher("DEFAULT"));
    ExecutionException e =
        assertThrows(ExecutionException.class, () -> client.registerAsync().get(5, TimeUnit.SECONDS));
    assertInstanceOf(IllegalStateException.class, e.getCause());
  }

  private static final Pattern PEM_CERTIFICATE =
      Pattern.compile("-----BEGIN CERTIFICATE-----([^-]+)-----END CERTIFICATE-----");

  @Test
  void issuedCertificatesAsDerMatchThePemChain() throws Exception {
    try (ProvisioningDeviceClient client =
        client("java-dev-1", TestEmulator.DEVICE_KEY).setCsrAuto(KeyType.EC_P256)) {
      RegistrationResult result = client.registerAsync().get(30, TimeUnit.SECONDS);
      Matcher pem = PEM_CERTIFICATE.matcher(result.getIssuedCertificateChainPem());
      int index = 0;
      while (pem.find()) {
        byte[] fromPem = Base64.getMimeDecoder().decode(pem.group(1));
        assertArrayEquals(fromPem, result.getIssuedCertificateDer(index), "certificate " + index);
        index++;
      }
      assertEquals(result.getIssuedCertificateCount(), index);
      assertNull(result.getIssuedCertificateDer(index));
      assertNull(result.getIssuedCertificateDer(-1));
    }
  }

  @Test
  void callersCsrAsDerIsCertified() throws Exception {
    Path dir = Files.createTempDirectory("prov-java-csr");
    try {
      Path key = dir.resolve("key.pem");
      Path csr = dir.resolve("csr.der");
      Process openssl =
          new ProcessBuilder(
                  "openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                  "-nodes", "-keyout", key.toString(), "-subj", "/CN=java-dev-1",
                  "-outform", "DER", "-out", csr.toString())
              .redirectErrorStream(true)
              .start();
      String output = new String(openssl.getInputStream().readAllBytes());
      assertEquals(0, openssl.waitFor(), "openssl: " + output);
      byte[] der = Files.readAllBytes(csr);
      try (ProvisioningDeviceClient client =
          client("java-dev-1", TestEmulator.DEVICE_KEY).setCsrDer(der)) {
        RegistrationResult result = client.register();
        assertNull(result.getGeneratedPrivateKeyPem());
        X509Certificate leaf =
            (X509Certificate)
                CertificateFactory.getInstance("X.509")
                    .generateCertificate(new ByteArrayInputStream(result.getIssuedCertificateDer(0)));
        assertTrue(leaf.getSubjectX500Principal().getName().contains("CN=java-dev-1"), leaf.toString());
      }
      try (ProvisioningDeviceClient client = client("java-dev-1", TestEmulator.DEVICE_KEY)) {
        ProvisioningDeviceClient unusable = client;
        RuntimeException e =
            assertThrows(RuntimeException.class, () -> unusable.setCsrDer(new byte[] {0x30, 0x03, 0x02, 0x01, 0x00}));
        assertTrue(e.getMessage().contains("PROV_E_CERTIFICATE") || e.getMessage().contains("CSR"), e.getMessage());
      }
    } finally {
      try (var files = Files.list(dir)) {
        files.forEach(path -> path.toFile().delete());
      }
      Files.deleteIfExists(dir);
    }
  }
}
