"""Value types of the Python SDK's public surface: RegistrationResult,
RegistrationState, X509 and ProxyOptions (same constructors, properties and
string forms as ``azure.iot.device``)."""

import collections
import json

__all__ = ["RegistrationResult", "RegistrationState", "RegistrationProgress", "X509",
           "ProxyOptions"]

# libprov addition: what on_registration_progress handlers receive.
#   state        "connecting", "connected", "registering", "assigning",
#                "retrying", "assigned" or "failed"
#   detail       "host:port transport", the operation id, the retry reason,
#                the assigned hub or "PROV_E_...: message" (never a secret)
#   retry_after  seconds before the next poll or retry (0.0 otherwise)
RegistrationProgress = collections.namedtuple("RegistrationProgress",
                                              ["state", "detail", "retry_after"])


class RegistrationResult(object):
    """The final result of a registration: ``operation_id``, ``status``
    (``"assigned"`` for a successful registration) and ``registration_state``."""

    def __init__(self, operation_id, status, registration_state=None):
        self._operation_id = operation_id
        self._status = status
        self._registration_state = registration_state

    @property
    def operation_id(self):
        return self._operation_id

    @property
    def status(self):
        return self._status

    @property
    def registration_state(self):
        return self._registration_state

    def __str__(self):
        return "\n".join([str(self.registration_state), self.status])


class RegistrationState(object):
    """Details of a registration as returned by the service."""

    def __init__(
        self,
        device_id=None,
        assigned_hub=None,
        sub_status=None,
        created_date_time=None,
        last_update_date_time=None,
        etag=None,
        payload=None,
        **libprov_details
    ):
        self._device_id = device_id
        self._assigned_hub = assigned_hub
        self._sub_status = sub_status
        self._created_date_time = created_date_time
        self._last_update_date_time = last_update_date_time
        self._etag = etag
        self._response_payload = payload
        for name in libprov_details:
            if name not in _LIBPROV_STATE_DETAILS:
                raise TypeError("Unsupported registration state detail '{}'".format(name))
        self._libprov_details = libprov_details

    @property
    def device_id(self):
        return self._device_id

    @property
    def assigned_hub(self):
        return self._assigned_hub

    @property
    def sub_status(self):
        return self._sub_status

    @property
    def created_date_time(self):
        return self._created_date_time

    @property
    def last_update_date_time(self):
        return self._last_update_date_time

    @property
    def etag(self):
        return self._etag

    @property
    def response_payload(self):
        """The payload the service returned, as a JSON string ("null" when none)."""
        return json.dumps(self._response_payload, default=lambda o: o.__dict__, sort_keys=True)

    # libprov additions (None, or an empty list, when the service did not
    # send them): X.509 and group details, and certificate issuance.

    @property
    def enrollment_group_id(self):
        """The enrollment group the device registered through, or None."""
        return self._libprov_details.get("enrollment_group_id")

    @property
    def x509(self):
        """registrationState.x509 as a dict (certificateInfo,
        signingCertificateInfo, enrollmentGroupId), or None."""
        return self._libprov_details.get("x509")

    @property
    def x509_certificate_info(self):
        """registrationState.x509.certificateInfo as a dict (subjectName,
        sha1Thumbprint, sha256Thumbprint, issuerName, notBeforeUtc,
        notAfterUtc, ...), or None."""
        return self._libprov_details.get("x509_certificate_info")

    @property
    def issued_certificate_chain(self):
        """The certificate chain the service issued for the CSR, as PEM text
        (leaf first), or None when nothing was issued."""
        return self._libprov_details.get("issued_certificate_chain")

    @property
    def issued_certificates(self):
        """The issued chain as a list of DER ``bytes`` (leaf first)."""
        return list(self._libprov_details.get("issued_certificates") or [])

    @property
    def generated_private_key(self):
        """The PEM private key libprov generated for the CSR (``csr_key_type``),
        matching the issued leaf certificate; None otherwise. A secret: store
        it safely. Never part of str()."""
        return self._libprov_details.get("generated_private_key")

    @property
    def trust_bundle(self):
        """The trust bundle (csr_api "2021-11-01-preview") as PEM text, or None."""
        return self._libprov_details.get("trust_bundle")

    def __str__(self):
        return "\n".join(
            [str(self.device_id), str(self.assigned_hub), str(self.sub_status), self.response_payload]
        )


_LIBPROV_STATE_DETAILS = (
    "enrollment_group_id",
    "x509",
    "x509_certificate_info",
    "issued_certificate_chain",
    "issued_certificates",
    "generated_private_key",
    "trust_bundle",
)


class X509(object):
    """An X.509 identity: certificate (chain) file, key file, optional pass phrase."""

    def __init__(self, cert_file, key_file, pass_phrase=None):
        self._cert_file = cert_file
        self._key_file = key_file
        self._pass_phrase = pass_phrase

    @property
    def certificate_file(self):
        return self._cert_file

    @property
    def key_file(self):
        return self._key_file

    @property
    def pass_phrase(self):
        return self._pass_phrase


# PySocks' constants, still accepted by the SDK for backwards compatibility.
_SOCKS_CONSTANT_FOR_TYPE = {"SOCKS4": 1, "SOCKS5": 2, "HTTP": 3}
_TYPE_FOR_SOCKS_CONSTANT = {value: name for name, value in _SOCKS_CONSTANT_FOR_TYPE.items()}


def _proxy_type_pair(proxy_type):
    if isinstance(proxy_type, str) and proxy_type in _SOCKS_CONSTANT_FOR_TYPE:
        return proxy_type, _SOCKS_CONSTANT_FOR_TYPE[proxy_type]
    if isinstance(proxy_type, int) and proxy_type in _TYPE_FOR_SOCKS_CONSTANT:
        return _TYPE_FOR_SOCKS_CONSTANT[proxy_type], proxy_type
    raise ValueError("Invalid Proxy Type")


class ProxyOptions(object):
    """Proxy settings: type ("HTTP", "SOCKS4" or "SOCKS5"), address, port and
    optional credentials (never shown by repr/str)."""

    def __init__(
        self, proxy_type, proxy_addr, proxy_port, proxy_username=None, proxy_password=None
    ):
        self._proxy_type, self._proxy_type_socks = _proxy_type_pair(proxy_type)
        self._proxy_addr = proxy_addr
        self._proxy_port = int(proxy_port)
        self._proxy_username = proxy_username
        self._proxy_password = proxy_password

    @property
    def proxy_type(self):
        return self._proxy_type

    @property
    def proxy_type_socks(self):
        return self._proxy_type_socks

    @property
    def proxy_address(self):
        return self._proxy_addr

    @property
    def proxy_port(self):
        return self._proxy_port

    @property
    def proxy_username(self):
        return self._proxy_username

    @property
    def proxy_password(self):
        return self._proxy_password
