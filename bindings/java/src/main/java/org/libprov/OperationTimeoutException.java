package org.libprov;

/**
 * The registration's deadline or a response timeout expired; the message names the step that was
 * waiting. The Python SDK's {@code OperationTimeout}.
 */
public class OperationTimeoutException extends ProvisioningException {
  private static final long serialVersionUID = 1L;

  OperationTimeoutException(NativeError error) {
    super(error);
  }
}
