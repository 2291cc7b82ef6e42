using Libprov.Internal;

namespace Libprov
{
    /// <summary>
    /// A device's assignment, copied out of libprov (it holds nothing native). Fields the service
    /// did not send are null. Mirrors the Python SDK's RegistrationResult and its
    /// registration_state, flattened.
    /// </summary>
    public sealed class RegistrationResult
    {
        internal RegistrationResult(ProvResult result)
        {
            OperationId = result.operation_id();
            Status = result.status();
            RegistrationId = result.registration_id();
            DeviceId = result.device_id();
            AssignedHub = result.assigned_hub();
            Substatus = result.substatus();
            CreatedDateTime = result.created_date_time();
            LastUpdateDateTime = result.last_update_date_time();
            Etag = result.etag();
            Payload = result.payload();
            RegistrationStateJson = result.registration_state_json();
            HttpStatus = result.http_status();
            EnrollmentGroupId = result.enrollment_group_id();
            X509Json = result.x509_json();
            X509CertificateInfoJson = result.x509_certificate_info_json();
            IssuedCertificateChainPem = result.issued_certificate_chain_pem();
            IssuedCertificateCount = result.issued_certificate_count();
            issuedCertificatesDer = new byte[IssuedCertificateCount][];
            for (int index = 0; index < IssuedCertificateCount; index++)
                issuedCertificatesDer[index] = result.issued_certificate_der((uint)index);
            GeneratedPrivateKeyPem = result.generated_private_key_pem();
            TrustBundlePem = result.trust_bundle_pem();
        }

        private readonly byte[][] issuedCertificatesDer;

        /// <summary>
        /// Certificate index (0 = the leaf) of the issued chain as DER bytes (a copy), or null when
        /// index is out of range.
        /// </summary>
        public byte[] GetIssuedCertificateDer(int index)
        {
            if (index < 0 || index >= issuedCertificatesDer.Length) return null;
            return (byte[])issuedCertificatesDer[index].Clone();
        }

        /// <summary>The registration operation's id.</summary>
        public string OperationId { get; private set; }
        /// <summary>"assigned".</summary>
        public string Status { get; private set; }
        public string RegistrationId { get; private set; }
        public string DeviceId { get; private set; }
        /// <summary>Host name of the IoT hub the device was assigned to.</summary>
        public string AssignedHub { get; private set; }
        /// <summary>e.g. "initialAssignment".</summary>
        public string Substatus { get; private set; }
        /// <summary>ISO-8601, as the service sent it.</summary>
        public string CreatedDateTime { get; private set; }
        /// <summary>ISO-8601, as the service sent it.</summary>
        public string LastUpdateDateTime { get; private set; }
        public string Etag { get; private set; }
        /// <summary>Data the service returned to the device (registrationState.payload) as JSON text, or null.</summary>
        public string Payload { get; private set; }
        /// <summary>The whole registrationState object as JSON text.</summary>
        public string RegistrationStateJson { get; private set; }
        /// <summary>HTTP-like status of the last response (200).</summary>
        public int HttpStatus { get; private set; }

        /// <summary>The enrollment group the device registered through, or null.</summary>
        public string EnrollmentGroupId { get; private set; }
        /// <summary>registrationState.x509 as JSON text (X.509 registrations), or null.</summary>
        public string X509Json { get; private set; }
        /// <summary>registrationState.x509.certificateInfo as JSON text, or null when not sent.</summary>
        public string X509CertificateInfoJson { get; private set; }
        /// <summary>The certificate chain the service issued for a CSR (PEM, leaf first), or null.</summary>
        public string IssuedCertificateChainPem { get; private set; }
        /// <summary>The number of certificates in the issued chain.</summary>
        public int IssuedCertificateCount { get; private set; }
        /// <summary>The private key generated for CsrKeyType (secret: store it safely), or null.</summary>
        public string GeneratedPrivateKeyPem { get; private set; }
        /// <summary>The trust bundle (2021-11-01-preview issuance) as PEM, or null.</summary>
        public string TrustBundlePem { get; private set; }

        public override string ToString()
        {
            return string.Format("RegistrationResult(Status={0}, RegistrationId={1}, DeviceId={2}, AssignedHub={3}, Substatus={4})",
                Status, RegistrationId, DeviceId, AssignedHub, Substatus);
        }
    }
}
