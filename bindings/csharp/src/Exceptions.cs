using System;

namespace Libprov
{
    /// <summary>
    /// A registration failed (the Python SDK's ProvisioningError family). Subclasses name the kind
    /// of failure; when the service answered with an error, <see cref="ErrorCode"/>,
    /// <see cref="HttpStatus"/>, <see cref="TrackingId"/> and <see cref="ServiceMessage"/> carry
    /// its details. Keys and SAS tokens never appear in messages.
    /// </summary>
    public class ProvisioningException : Exception
    {
        internal ProvisioningException(NativeError error) : base(error.Describe())
        {
            Status = error.Status;
            StatusName = error.StatusName;
            ErrorCode = error.ErrorCode;
            HttpStatus = error.HttpStatus;
            TrackingId = error.TrackingId;
            ServiceMessage = error.ServiceMessage;
            RegistrationStatus = error.RegistrationStatus;
        }

        /// <summary>libprov's status code (prov_status in prov.h), e.g. 3 for PROV_E_CREDENTIAL.</summary>
        public int Status { get; private set; }

        /// <summary>The status code's name, e.g. "PROV_E_CREDENTIAL".</summary>
        public string StatusName { get; private set; }

        /// <summary>The service's 6-digit error code (e.g. 401002), or 0 when it sent none.</summary>
        public int ErrorCode { get; private set; }

        /// <summary>The HTTP-like status of the service's last response (e.g. 401), or 0.</summary>
        public int HttpStatus { get; private set; }

        /// <summary>The service's tracking id for support cases, or null.</summary>
        public string TrackingId { get; private set; }

        /// <summary>The service's own error message, or null.</summary>
        public string ServiceMessage { get; private set; }

        /// <summary>The registration's status when it ended as "failed" or "disabled", else null.</summary>
        public string RegistrationStatus { get; private set; }
    }

    /// <summary>The service rejected the credential (a wrong key: error code 401xxx), or the key
    /// cannot be used. The Python SDK's CredentialError.</summary>
    public class CredentialException : ProvisioningException
    {
        internal CredentialException(NativeError error) : base(error) { }
    }

    /// <summary>DNS, TCP connect, proxy, TLS handshake or server certificate verification failed.
    /// The Python SDK's ConnectionFailedError.</summary>
    public class ConnectionFailedException : ProvisioningException
    {
        internal ConnectionFailedException(NativeError error) : base(error) { }
    }

    /// <summary>An established connection was lost. The Python SDK's ConnectionDroppedError.</summary>
    public class ConnectionDroppedException : ProvisioningException
    {
        internal ConnectionDroppedException(NativeError error) : base(error) { }
    }

    /// <summary>The registration's deadline or a response timeout expired; the message names the
    /// step that was waiting. The Python SDK's OperationTimeout.</summary>
    public class OperationTimeoutException : ProvisioningException
    {
        internal OperationTimeoutException(NativeError error) : base(error) { }
    }

    /// <summary>The registration was cancelled. The Python SDK's OperationCancelled.</summary>
    public class OperationCancelledException : ProvisioningException
    {
        internal OperationCancelledException(NativeError error) : base(error) { }
    }

    /// <summary>The service answered with an error, or the registration ended as "failed" or
    /// "disabled". The Python SDK's ClientError with the service's details.</summary>
    public class ServiceException : ProvisioningException
    {
        internal ServiceException(NativeError error) : base(error) { }
    }

    /// <summary>A local X.509 credential or CSR is unusable: a file that cannot be read or parsed,
    /// a wrong pass phrase, a key that does not match the certificate, a chain out of order, a
    /// certificate outside its validity period, or a subject CN that is not the registration id.
    /// The message names the file or certificate and the problem.</summary>
    public class InvalidCertificateException : ProvisioningException
    {
        internal InvalidCertificateException(NativeError error) : base(error) { }
    }
}
