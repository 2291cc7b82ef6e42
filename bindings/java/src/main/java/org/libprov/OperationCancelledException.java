package org.libprov;

/** The registration was cancelled. The Python SDK's {@code OperationCancelled}. */
public class OperationCancelledException extends ProvisioningException {
  private static final long serialVersionUID = 1L;

  OperationCancelledException(NativeError error) {
    super(error);
  }
}
