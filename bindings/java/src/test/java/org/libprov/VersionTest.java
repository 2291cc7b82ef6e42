package org.libprov;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/**
 * Needs no emulator: the build runs it (so that Maven resolves the test runner while it may still
 * download, and ctest can run offline), proving the jar loads its native library.
 */
class VersionTest {
  @Test
  void libraryVersionMatchesTheBinding() {
    assertEquals("1.0.0", Provisioning.version());
  }

  @Test
  void argumentErrorsComeFromTheNativeLibrary() {
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> Provisioning.deriveDeviceKey("", "dev"));
    assertEquals(true, e.getMessage().startsWith("derive device key: PROV_E_INVALID_ARG"), e.getMessage());
  }
}
