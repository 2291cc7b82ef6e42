"""Maps libprov's native errors (prov_status + message + service details)
to the Python SDK's exception classes and to ValueError/TypeError/MemoryError."""

from . import exceptions
from . import native as _native_module

# The extension module's exception type: NativeError(status, status_name,
# message, details) raised by every wrapper when a libprov call fails.
NativeError = _native_module._native.NativeError

_EXCEPTION_FOR_STATUS = {
    _native_module.PROV_E_CREDENTIAL: exceptions.CredentialError,
    _native_module.PROV_E_CONNECTION_FAILED: exceptions.ConnectionFailedError,
    _native_module.PROV_E_CONNECTION_DROPPED: exceptions.ConnectionDroppedError,
    _native_module.PROV_E_TIMEOUT: exceptions.OperationTimeout,
    _native_module.PROV_E_CANCELLED: exceptions.OperationCancelled,
    _native_module.PROV_E_SERVICE: exceptions.ClientError,
    _native_module.PROV_E_PROTOCOL: exceptions.ClientError,
    _native_module.PROV_E_BUSY: exceptions.ClientError,
    _native_module.PROV_E_INTERNAL: exceptions.ClientError,
    _native_module.PROV_E_CERTIFICATE: exceptions.CertificateError,
}


def _details_of(native_error):
    status, status_name, message, details = native_error.args
    details = {name: value for name, value in details.items() if value}
    return status, status_name, message, details


def translate(native_error):
    """Returns the exception to raise for a NativeError (does not raise)."""
    status, status_name, message, details = _details_of(native_error)
    if status == _native_module.PROV_E_INVALID_ARG:
        return ValueError(message)
    if status == _native_module.PROV_E_NOMEM:
        return MemoryError(message)
    exception_class = _EXCEPTION_FOR_STATUS.get(status, exceptions.ClientError)
    cause = None
    if status == _native_module.PROV_E_SERVICE or details.get("error_code"):
        # As in the SDK, a service-reported failure surfaces as the client
        # error caused by a ServiceError; both carry the service's details.
        cause = exceptions.ServiceError(
            details.get("service_message") or message, status=status_name, **details
        )
    return exception_class(message, cause, status=status_name, **details)
