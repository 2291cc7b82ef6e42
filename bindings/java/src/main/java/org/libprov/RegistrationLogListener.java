package org.libprov;

/**
 * Receives libprov's log lines of the registrations started with {@link
 * ProvisioningDeviceClient#registerAsync()} (set with {@link
 * ProvisioningDeviceClient#setLogListener}), in order, on the binding's dispatcher thread: it must
 * return promptly. Lines never contain a secret (keys, SAS tokens, passwords are redacted).
 */
@FunctionalInterface
public interface RegistrationLogListener {
  /** Log levels (prov_log_level). */
  enum Level {
    DEBUG(0),
    INFO(1),
    WARNING(2),
    ERROR(3);

    final int nativeValue;

    Level(int nativeValue) {
      this.nativeValue = nativeValue;
    }

    static Level of(int nativeValue) {
      for (Level level : values()) {
        if (level.nativeValue == nativeValue) {
          return level;
        }
      }
      return ERROR;
    }
  }

  void onLog(Level level, String message);
}
