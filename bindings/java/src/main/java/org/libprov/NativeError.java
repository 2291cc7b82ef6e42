package org.libprov;

import org.libprov.internal.ProvNative;

/**
 * The failure the last call into the SWIG layer recorded on this thread (thread-local in C, so it
 * is read right after the call, on the same thread), and its mapping to Java exceptions.
 */
final class NativeError {
  final String operation;
  final int status;
  final String statusName;
  final String message;
  final int errorCode;
  final int httpStatus;
  final String trackingId;
  final String serviceMessage;
  final String registrationStatus;

  private NativeError(String operation, int status) {
    this.operation = operation;
    this.status = status;
    this.statusName = ProvNative.status_name(status);
    this.message = ProvNative.prov_binding_last_message();
    this.errorCode = ProvNative.prov_binding_last_error_code();
    this.httpStatus = ProvNative.prov_binding_last_http_status();
    this.trackingId = emptyToNull(ProvNative.prov_binding_last_tracking_id());
    this.serviceMessage = emptyToNull(ProvNative.prov_binding_last_service_message());
    this.registrationStatus = emptyToNull(ProvNative.prov_binding_last_registration_status());
  }

  private static String emptyToNull(String text) {
    return (text == null || text.isEmpty()) ? null : text;
  }

  /** The pending failure, or null when the last call succeeded. */
  static NativeError pending(String operation) {
    int status = ProvNative.prov_binding_last_status();
    return status == ProvNative.PROV_OK ? null : new NativeError(operation, status);
  }

  String describe() {
    StringBuilder text = new StringBuilder(operation).append(": ").append(statusName);
    if (!message.isEmpty()) {
      text.append(": ").append(message);
    }
    if (errorCode != 0 || httpStatus != 0 || trackingId != null || serviceMessage != null) {
      text.append(" (service error ").append(errorCode);
      if (httpStatus != 0) {
        text.append(", HTTP ").append(httpStatus);
      }
      if (registrationStatus != null) {
        text.append(", status \"").append(registrationStatus).append('"');
      }
      if (trackingId != null) {
        text.append(", tracking id ").append(trackingId);
      }
      if (serviceMessage != null) {
        text.append(": ").append(serviceMessage);
      }
      text.append(')');
    }
    return text.toString();
  }

  /**
   * Unchecked exceptions for programming errors and exhaustion: invalid arguments (the Python
   * SDK's ValueError/TypeError), a busy or closed client, out of memory. Null for the rest.
   */
  RuntimeException uncheckedOrNull() {
    if (status == ProvNative.PROV_E_INVALID_ARG) {
      return message.equals("client is closed")
          ? new IllegalStateException(describe())
          : new IllegalArgumentException(describe());
    }
    if (status == ProvNative.PROV_E_BUSY) {
      return new IllegalStateException(describe());
    }
    if (status == ProvNative.PROV_E_NOMEM) {
      return new IllegalStateException(describe(), new OutOfMemoryError(message));
    }
    return null;
  }

  ProvisioningException checked() {
    if (status == ProvNative.PROV_E_CREDENTIAL) {
      return new CredentialException(this);
    } else if (status == ProvNative.PROV_E_CONNECTION_FAILED) {
      return new ConnectionFailedException(this);
    } else if (status == ProvNative.PROV_E_CONNECTION_DROPPED) {
      return new ConnectionDroppedException(this);
    } else if (status == ProvNative.PROV_E_TIMEOUT) {
      return new OperationTimeoutException(this);
    } else if (status == ProvNative.PROV_E_CANCELLED) {
      return new OperationCancelledException(this);
    } else if (status == ProvNative.PROV_E_SERVICE) {
      return new ServiceException(this);
    } else if (status == ProvNative.PROV_E_CERTIFICATE) {
      return new InvalidCertificateException(this);
    }
    return new ProvisioningException(this); // protocol, internal
  }

  /** Throws the pending failure of an operation that has no checked failures. */
  static void throwIfPendingUnchecked(String operation) {
    NativeError error = pending(operation);
    if (error == null) {
      return;
    }
    RuntimeException unchecked = error.uncheckedOrNull();
    throw unchecked != null ? unchecked : new IllegalStateException(error.describe());
  }

  /** Throws the pending failure: unchecked for programming errors, else checked. */
  static void throwIfPending(String operation) throws ProvisioningException {
    NativeError error = pending(operation);
    if (error == null) {
      return;
    }
    RuntimeException unchecked = error.uncheckedOrNull();
    if (unchecked != null) {
      throw unchecked;
    }
    throw error.checked();
  }
}
