package org.libprov;

/**
 * A registration failed (the Python SDK's {@code ProvisioningError} family). Subclasses name the
 * kind of failure; when the service answered with an error, {@link #getErrorCode()}, {@link
 * #getHttpStatus()}, {@link #getTrackingId()} and {@link #getServiceMessage()} carry its details.
 * Keys and SAS tokens never appear in messages.
 */
public class ProvisioningException extends Exception {
  private static final long serialVersionUID = 1L;

  private final int status;
  private final String statusName;
  private final int errorCode;
  private final int httpStatus;
  private final String trackingId;
  private final String serviceMessage;
  private final String registrationStatus;

  ProvisioningException(NativeError error) {
    super(error.describe());
    this.status = error.status;
    this.statusName = error.statusName;
    this.errorCode = error.errorCode;
    this.httpStatus = error.httpStatus;
    this.trackingId = error.trackingId;
    this.serviceMessage = error.serviceMessage;
    this.registrationStatus = error.registrationStatus;
  }

  /** libprov's status code ({@code prov_status} in prov.h), e.g. 3 for PROV_E_CREDENTIAL. */
  public int getStatus() {
    return status;
  }

  /** The status code's name, e.g. "PROV_E_CREDENTIAL". */
  public String getStatusName() {
    return statusName;
  }

  /** The service's 6-digit error code (e.g. 401002), or 0 when it sent none. */
  public int getErrorCode() {
    return errorCode;
  }

  /** The HTTP-like status of the service's last response (e.g. 401), or 0 when there was none. */
  public int getHttpStatus() {
    return httpStatus;
  }

  /** The service's tracking id for support cases, or null. */
  public String getTrackingId() {
    return trackingId;
  }

  /** The service's own error message, or null. */
  public String getServiceMessage() {
    return serviceMessage;
  }

  /** The registration's status when it ended as "failed" or "disabled", else null. */
  public String getRegistrationStatus() {
    return registrationStatus;
  }
}
