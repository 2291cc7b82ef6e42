package org.libprov;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * 10,000 create/free cycles with bounded RSS. The JVM runs with a fixed, pre-touched heap (see
 * pom.xml), so RSS growth is native memory.
 */
class StressTest {
  /** A leak of 200 bytes per cycle would exceed this over 10,000 cycles. */
  private static final long MAX_GROWTH_KB = 2048;

  private static long rssKb() throws IOException {
    for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
      if (line.startsWith("VmRSS:")) {
        return Long.parseLong(line.replaceAll("[^0-9]", ""));
      }
    }
    throw new IllegalStateException("no VmRSS");
  }

  private static ProvisioningDeviceClient newClient() {
    return ProvisioningDeviceClient.createFromSymmetricKey(
            "localhost:8883", "java-stress", TestEmulator.ID_SCOPE, TestEmulator.DEVICE_KEY)
        .setKeepAlive(Duration.ofSeconds(30))
        .setCipher("ECDHE-RSA-AES128-GCM-SHA256")
        .setProvisioningPayload("{\"n\":1}");
  }

  /** Lets the collector and the Cleaner's thread free what is unreachable. */
  private static void settle() throws InterruptedException {
    for (int i = 0; i < 5; i++) {
      System.gc();
      Thread.sleep(50);
    }
  }

  /**
   * RSS growth over 10,000 cycles after as many for warm-up: unclosed clients stay alive until a
   * collection, and glibc keeps that high-water mark; a leak grows again in the second round.
   */
  private static long growthKb(Runnable cycle) throws Exception {
    for (int i = 0; i < 10_000; i++) {
      cycle.run();
    }
    settle();
    long before = rssKb();
    for (int i = 0; i < 10_000; i++) {
      cycle.run();
    }
    settle();
    return rssKb() - before;
  }

  @Test
  void createClose() throws Exception {
    long growth = growthKb(() -> newClient().close());
    System.out.println("RSS growth over 10,000 create/close cycles: " + growth + " kB");
    assertTrue(growth < MAX_GROWTH_KB, "RSS grew by " + growth + " kB");
  }

  @Test
  void tryWithResources() throws Exception {
    long growth =
        growthKb(
            () -> {
              try (ProvisioningDeviceClient client = newClient()) {
                client.isClosed();
              }
            });
    assertTrue(growth < MAX_GROWTH_KB, "RSS grew by " + growth + " kB");
  }

  @Test
  void clientsLeftToTheCleaner() throws Exception {
    long growth = growthKb(StressTest::newClient);
    System.out.println("RSS growth over 10,000 clients left to the Cleaner: " + growth + " kB");
    assertTrue(growth < MAX_GROWTH_KB, "RSS grew by " + growth + " kB");
  }
}
