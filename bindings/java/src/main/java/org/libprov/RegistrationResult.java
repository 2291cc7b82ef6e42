package org.libprov;

import org.libprov.internal.ProvResult;

/**
 * A device's assignment, copied out of libprov (it holds nothing native). Fields the service did
 * not send are null. Mirrors the Python SDK's {@code RegistrationResult} and its {@code
 * registration_state}, flattened.
 */
public final class RegistrationResult {
  private final String operationId;
  private final String status;
  private final String registrationId;
  private final String deviceId;
  private final String assignedHub;
  private final String substatus;
  private final String createdDateTime;
  private final String lastUpdateDateTime;
  private final String etag;
  private final String payload;
  private final String registrationStateJson;
  private final int httpStatus;

  RegistrationResult(ProvResult result) {
    operationId = result.operation_id();
    status = result.status();
    registrationId = result.registration_id();
    deviceId = result.device_id();
    assignedHub = result.assigned_hub();
    substatus = result.substatus();
    createdDateTime = result.created_date_time();
    lastUpdateDateTime = result.last_update_date_time();
    etag = result.etag();
    payload = result.payload();
    registrationStateJson = result.registration_state_json();
    httpStatus = result.http_status();
  }

  /** The registration operation's id. */
  public String getOperationId() {
    return operationId;
  }

  /** "assigned". */
  public String getStatus() {
    return status;
  }

  public String getRegistrationId() {
    return registrationId;
  }

  public String getDeviceId() {
    return deviceId;
  }

  /** Host name of the IoT hub the device was assigned to. */
  public String getAssignedHub() {
    return assignedHub;
  }

  /** e.g. "initialAssignment". */
  public String getSubstatus() {
    return substatus;
  }

  /** ISO-8601, as the service sent it. */
  public String getCreatedDateTime() {
    return createdDateTime;
  }

  /** ISO-8601, as the service sent it. */
  public String getLastUpdateDateTime() {
    return lastUpdateDateTime;
  }

  public String getEtag() {
    return etag;
  }

  /** Data the service returned to the device (registrationState.payload) as JSON text, or null. */
  public String getPayload() {
    return payload;
  }

  /** The whole registrationState object as JSON text. */
  public String getRegistrationStateJson() {
    return registrationStateJson;
  }

  /** HTTP-like status of the last response (200). */
  public int getHttpStatus() {
    return httpStatus;
  }

  @Override
  public String toString() {
    return "RegistrationResult{status=" + status + ", registrationId=" + registrationId
        + ", deviceId=" + deviceId + ", assignedHub=" + assignedHub + ", substatus=" + substatus
        + ", operationId=" + operationId + "}";
  }
}
