package org.libprov;

/**
 * The service answered with an error, or the registration ended as "failed" or "disabled"; {@link
 * #getErrorCode()} and {@link #getTrackingId()} say which. The Python SDK's {@code ClientError}
 * with the service's details.
 */
public class ServiceException extends ProvisioningException {
  private static final long serialVersionUID = 1L;

  ServiceException(NativeError error) {
    super(error);
  }
}
