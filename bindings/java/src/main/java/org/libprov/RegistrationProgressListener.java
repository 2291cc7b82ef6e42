package org.libprov;

/**
 * Receives the steps of a registration started with {@link
 * ProvisioningDeviceClient#registerAsync(RegistrationProgressListener, java.util.concurrent.Executor)}, in order. It is called
 * on libprov's thread, which may serve other registrations: it must return promptly (hand the
 * event over, never block). An exception it throws is printed and otherwise ignored.
 */
@FunctionalInterface
public interface RegistrationProgressListener {
  void onProgress(RegistrationProgress progress);
}
