package org.libprov;

/**
 * DNS, TCP connect, proxy, TLS handshake or server certificate verification failed. The Python
 * SDK's {@code ConnectionFailedError}.
 */
public class ConnectionFailedException extends ProvisioningException {
  private static final long serialVersionUID = 1L;

  ConnectionFailedException(NativeError error) {
    super(error);
  }
}
