"""Exceptions raised by libprov, mirroring ``azure.iot.device.exceptions``.

The class names, their base classes and their ``(message=None, cause=None)``
constructors are those of the Python SDK, so ``except CredentialError:`` code
written for the SDK keeps working. libprov adds details the SDK does not
give (all ``None`` when not applicable):

``error_code``       the 6-digit DPS error code (e.g. ``401002``)
``tracking_id``      the service's tracking id, for support cases
``http_status``      the HTTP-like status of the service's last response
``service_message``  the service's own error message
``registration_status``  ``"failed"`` / ``"disabled"`` when the registration
                     ended in that terminal status
``status``           the libprov status name (e.g. ``"PROV_E_CREDENTIAL"``)
"""

__all__ = [
    "ChainableException",
    "ClientError",
    "ConnectionFailedError",
    "ConnectionDroppedError",
    "NoConnectionError",
    "CredentialError",
    "CertificateError",
    "OperationTimeout",
    "OperationCancelled",
    "ServiceError",
]


class ChainableException(Exception):
    """Base of all libprov exceptions: an optional cause, shown by ``str()``."""

    error_code = None
    tracking_id = None
    http_status = None
    service_message = None
    registration_status = None
    status = None

    def __init__(self, message=None, cause=None, **details):
        super().__init__(message)
        self.__cause__ = cause
        for name, value in details.items():
            if not hasattr(ChainableException, name):
                raise TypeError("Unsupported detail '{}'".format(name))
            setattr(self, name, value)

    def __str__(self):
        text = super().__str__()
        if self.__cause__ is not None:
            return "{} caused by {}".format(text, repr(self.__cause__))
        return text


class OperationCancelled(ChainableException):
    """An operation was cancelled."""


class OperationTimeout(ChainableException):
    """An operation timed out."""


class ClientError(ChainableException):
    """Generic error for a client."""


class ConnectionFailedError(ClientError):
    """Failed to establish a connection (DNS, TCP, proxy, TLS)."""


class ConnectionDroppedError(ClientError):
    """Lost an established connection."""


class NoConnectionError(ClientError):
    """There is no connection."""


class CredentialError(ClientError):
    """The service rejected the credential, or the credential cannot be used."""


class CertificateError(CredentialError, ValueError):
    """libprov addition: a local X.509 credential or CSR cannot be used (a
    certificate or key file is missing, unreadable or does not parse, the
    pass phrase is wrong, the key does not match the certificate, a
    certificate is expired or not yet valid, the subject CN is not the
    registration id, the chain is out of order). libprov checks this when the
    client is created (and validity again at each register()), before
    connecting; the message names the file, the certificate and the problem.

    The SDK finds such problems only when it connects (``ssl.load_cert_chain``
    raising ``OSError``/``ssl.SSLError``). This class is both a
    ``CredentialError`` (the credential cannot be used) and a ``ValueError``
    (a bad argument), so either ``except`` clause catches it."""


class ServiceError(ChainableException):
    """The service answered with an error; carries its details."""
