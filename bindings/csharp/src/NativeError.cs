using System;
using System.Text;
using Libprov.Internal;

namespace Libprov
{
    /// <summary>
    /// The failure the last call into the SWIG layer recorded on this thread (thread-local in C,
    /// so it is read right after the call, on the same thread), and its mapping to exceptions.
    /// </summary>
    internal sealed class NativeError
    {
        internal readonly string Operation;
        internal readonly int Status;
        internal readonly string StatusName;
        internal readonly string Message;
        internal readonly int ErrorCode;
        internal readonly int HttpStatus;
        internal readonly string TrackingId;
        internal readonly string ServiceMessage;
        internal readonly string RegistrationStatus;

        private NativeError(string operation, int status)
        {
            Operation = operation;
            Status = status;
            StatusName = ProvNative.status_name(status);
            Message = ProvNative.prov_binding_last_message() ?? "";
            ErrorCode = ProvNative.prov_binding_last_error_code();
            HttpStatus = ProvNative.prov_binding_last_http_status();
            TrackingId = EmptyToNull(ProvNative.prov_binding_last_tracking_id());
            ServiceMessage = EmptyToNull(ProvNative.prov_binding_last_service_message());
            RegistrationStatus = EmptyToNull(ProvNative.prov_binding_last_registration_status());
        }

        private static string EmptyToNull(string text)
        {
            return string.IsNullOrEmpty(text) ? null : text;
        }

        /// <summary>The pending failure, or null when the last call succeeded.</summary>
        internal static NativeError Pending(string operation)
        {
            int status = ProvNative.prov_binding_last_status();
            return status == ProvNative.PROV_OK ? null : new NativeError(operation, status);
        }

        internal string Describe()
        {
            var text = new StringBuilder(Operation).Append(": ").Append(StatusName);
            if (Message.Length > 0)
            {
                text.Append(": ").Append(Message);
            }
            if (ErrorCode != 0 || HttpStatus != 0 || TrackingId != null || ServiceMessage != null)
            {
                text.Append(" (service error ").Append(ErrorCode);
                if (HttpStatus != 0) text.Append(", HTTP ").Append(HttpStatus);
                if (RegistrationStatus != null) text.Append(", status \"").Append(RegistrationStatus).Append('"');
                if (TrackingId != null) text.Append(", tracking id ").Append(TrackingId);
                if (ServiceMessage != null) text.Append(": ").Append(ServiceMessage);
                text.Append(')');
            }
            return text.ToString();
        }

        /// <summary>
        /// Programming errors and exhaustion as .NET's own exceptions: invalid arguments (the
        /// Python SDK's ValueError/TypeError), a busy client, out of memory. Null for the rest.
        /// </summary>
        private Exception SystemExceptionOrNull()
        {
            if (Status == ProvNative.PROV_E_INVALID_ARG) return new ArgumentException(Describe());
            if (Status == ProvNative.PROV_E_BUSY) return new InvalidOperationException(Describe());
            if (Status == ProvNative.PROV_E_NOMEM) return new OutOfMemoryException(Describe());
            return null;
        }

        private ProvisioningException Provisioning()
        {
            if (Status == ProvNative.PROV_E_CREDENTIAL) return new CredentialException(this);
            if (Status == ProvNative.PROV_E_CONNECTION_FAILED) return new ConnectionFailedException(this);
            if (Status == ProvNative.PROV_E_CONNECTION_DROPPED) return new ConnectionDroppedException(this);
            if (Status == ProvNative.PROV_E_TIMEOUT) return new OperationTimeoutException(this);
            if (Status == ProvNative.PROV_E_CANCELLED) return new OperationCancelledException(this);
            if (Status == ProvNative.PROV_E_SERVICE) return new ServiceException(this);
            if (Status == ProvNative.PROV_E_CERTIFICATE) return new InvalidCertificateException(this);
            return new ProvisioningException(this); // protocol, internal
        }

        /// <summary>Throws the failure the last call recorded, if any.</summary>
        internal static void ThrowIfPending(string operation)
        {
            NativeError error = Pending(operation);
            if (error == null) return;
            throw error.SystemExceptionOrNull() ?? error.Provisioning();
        }
    }
}
