package org.libprov;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * A real dps-emulator process (PROV_TEST_EMULATOR) with a fresh data directory and ports chosen by
 * the kernel (the shared test contract).
 */
final class TestEmulator implements AutoCloseable {
  static final String ID_SCOPE = "0ne00000A0A";
  static final String DEVICE_KEY = "amF2YS1kZXZpY2Uta2V5LS0tLS0tLS0tLS0tLS0tLS0=";
  static final String GROUP_KEY = "amF2YS1ncm91cC1rZXktLS0tLS0tLS0tLS0tLS0tLS0=";
  static final String WRONG_KEY = "bm90LXRoZS1rZXktLS0tLS0tLS0tLS0tLS0tLS0tLS0=";
  static final String X509_REGISTRATION_ID = "java-x509-device";

  static String config(Path caCert) {
    return String.format(
        "{\"idScope\": \"%s\",\n"
            + " \"iotHubs\": [\"hub-1.example.net\", \"hub-2.example.net\"],\n"
            + " \"enrollments\": [\n"
            + "  {\"registrationId\": \"java-dev-1\", \"deviceId\": \"java-device-one\",\n"
            + "   \"attestation\": {\"type\": \"symmetricKey\", \"primaryKey\": \"%2$s\"}},\n"
            + "  {\"registrationId\": \"java-echo\", \"echoPayload\": true,\n"
            + "   \"attestation\": {\"type\": \"symmetricKey\", \"primaryKey\": \"%2$s\"}},\n"
            + "  {\"registrationId\": \"java-silent\",\n"
            + "   \"attestation\": {\"type\": \"symmetricKey\", \"primaryKey\": \"%2$s\"}}],\n"
            + " \"enrollmentGroups\": [\n"
            + "  {\"enrollmentGroupId\": \"java-group\",\n"
            + "   \"attestation\": {\"type\": \"symmetricKey\", \"primaryKey\": \"%3$s\"}},\n"
            + "  {\"enrollmentGroupId\": \"java-x509-group\",\n"
            + "   \"attestation\": {\"type\": \"x509\", \"caCertificates\": [\"%4$s\"]}}],\n"
            + " \"faults\": [{\"type\": \"silent\", \"registrationId\": \"java-silent\"}]}\n",
        ID_SCOPE, DEVICE_KEY, GROUP_KEY, caCert);
  }

  final Path dir;
  final Path caPath;
  final String caPem;
  final String mqttHost;
  final String httpsHost;
  /** X.509 credentials made with `dps-emulator make-cert`: a root CA enrolled as a group. */
  final Path caCert;
  final Path caKey;
  final Path deviceCert;
  final Path deviceKey;
  private final Process process;

  private static void run(String... command) throws IOException, InterruptedException {
    Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
    String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (process.waitFor() != 0) {
      throw new IllegalStateException(String.join(" ", command) + " failed:\n" + output);
    }
  }

  TestEmulator() throws IOException, InterruptedException {
    String binary = System.getenv("PROV_TEST_EMULATOR");
    if (binary == null || binary.isEmpty()) {
      throw new IllegalStateException("PROV_TEST_EMULATOR must name the dps-emulator binary");
    }
    dir = Files.createTempDirectory("prov-java-emu-");
    caCert = dir.resolve("ca.pem");
    caKey = dir.resolve("ca.key");
    deviceCert = dir.resolve("device.pem");
    deviceKey = dir.resolve("device.key");
    run(binary, "make-cert", "ca", "--cn", "java-test-root", "--out-cert", caCert.toString(),
        "--out-key", caKey.toString());
    run(binary, "make-cert", "device", "--cn", X509_REGISTRATION_ID, "--issuer-cert",
        caCert.toString(), "--issuer-key", caKey.toString(), "--out-cert", deviceCert.toString(),
        "--out-key", deviceKey.toString());
    Path configPath = Files.writeString(dir.resolve("config.json"), config(caCert));
    Path portsPath = dir.resolve("ports.json");
    Path dataDir = dir.resolve("data");
    File log = dir.resolve("emulator.log").toFile();
    process =
        new ProcessBuilder(
                binary, "serve", "--data-dir", dataDir.toString(), "--config",
                configPath.toString(), "--bind", "127.0.0.1", "--mqtt-port", "0", "--https-port",
                "0", "--admin-port", "0", "--ports-file", portsPath.toString())
            .redirectErrorStream(true)
            .redirectOutput(log)
            .start();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    String ports = null;
    while (ports == null) {
      if (Files.exists(portsPath)) {
        ports = Files.readString(portsPath);
      } else if (!process.isAlive()) {
        String output = Files.readString(log.toPath());
        close();
        throw new IllegalStateException("dps-emulator exited; log:\n" + output);
      } else if (System.nanoTime() > deadline) {
        close();
        throw new IllegalStateException("dps-emulator wrote no ports file in 30 s");
      } else {
        Thread.sleep(20);
      }
    }
    Matcher mqtt = Pattern.compile("\"mqtt\"\\s*:\\s*(\\d+)").matcher(ports);
    if (!mqtt.find()) {
      close();
      throw new IllegalStateException("no mqtt port in " + ports);
    }
    mqttHost = "localhost:" + mqtt.group(1);
    Matcher https = Pattern.compile("\"https\"\\s*:\\s*(\\d+)").matcher(ports);
    httpsHost = https.find() ? "localhost:" + https.group(1) : null;
    Process caPathCommand =
        new ProcessBuilder(binary, "ca-path", "--data-dir", dataDir.toString()).start();
    caPath = Path.of(new String(caPathCommand.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim());
    caPathCommand.waitFor();
    caPem = Files.readString(caPath);
  }

  @Override
  public void close() {
    process.destroy(); // SIGTERM
    try {
      if (!process.waitFor(10, TimeUnit.SECONDS)) {
        process.destroyForcibly().waitFor();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    try (Stream<Path> files = Files.walk(dir)) {
      files.sorted(Comparator.reverseOrder()).map(Path::toFile).forEach(File::delete);
    } catch (IOException ignored) {
      // a temp dir left behind is not worth failing the tests for
    }
  }
}
