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
  private final String enrollmentGroupId;
  private final String x509Json;
  private final String x509CertificateInfoJson;
  private final String issuedCertificateChainPem;
  private final int issuedCertificateCount;
  private final byte[][] issuedCertificatesDer;
  private final String generatedPrivateKeyPem;
  private final String trustBundlePem;

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
    enrollmentGroupId = result.enrollment_group_id();
    x509Json = result.x509_json();
    x509CertificateInfoJson = result.x509_certificate_info_json();
    issuedCertificateChainPem = result.issued_certificate_chain_pem();
    issuedCertificateCount = result.issued_certificate_count();
    issuedCertificatesDer = new byte[issuedCertificateCount][];
    for (int index = 0; index < issuedCertificateCount; index++) {
      issuedCertificatesDer[index] = result.issued_certificate_der(index);
    }
    generatedPrivateKeyPem = result.generated_private_key_pem();
    trustBundlePem = result.trust_bundle_pem();
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

  /** The enrollment group the device registered through, or null. */
  public String getEnrollmentGroupId() {
    return enrollmentGroupId;
  }

  /** registrationState.x509 as JSON text (X.509 registrations), or null. */
  public String getX509Json() {
    return x509Json;
  }

  /** registrationState.x509.certificateInfo as JSON text, or null when not sent. */
  public String getX509CertificateInfoJson() {
    return x509CertificateInfoJson;
  }

  /** The certificate chain the service issued for a CSR (PEM, leaf first), or null. */
  public String getIssuedCertificateChainPem() {
    return issuedCertificateChainPem;
  }

  /**
   * Certificate {@code index} (0 = the leaf) of the issued chain as DER bytes (a copy), or null
   * when index is out of range.
   */
  public byte[] getIssuedCertificateDer(int index) {
    if (index < 0 || index >= issuedCertificatesDer.length) {
      return null;
    }
    return issuedCertificatesDer[index].clone();
  }

  /** The number of certificates in the issued chain. */
  public int getIssuedCertificateCount() {
    return issuedCertificateCount;
  }

  /** The private key generated for {@code setCsrAuto} (secret: store it safely), or null. */
  public String getGeneratedPrivateKeyPem() {
    return generatedPrivateKeyPem;
  }

  /** The trust bundle (2021-11-01-preview issuance) as PEM, or null. */
  public String getTrustBundlePem() {
    return trustBundlePem;
  }

  @Override
  public String toString() {
    return "RegistrationResult{status=" + status + ", registrationId=" + registrationId
        + ", deviceId=" + deviceId + ", assignedHub=" + assignedHub + ", substatus=" + substatus
        + ", operationId=" + operationId + "}";
  }
}
