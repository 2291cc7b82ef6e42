package org.libprov;

/** An established connection was lost. The Python SDK's {@code ConnectionDroppedError}. */
public class ConnectionDroppedException extends ProvisioningException {
  private static final long serialVersionUID = 1L;

  ConnectionDroppedException(NativeError error) {
    super(error);
  }
}
