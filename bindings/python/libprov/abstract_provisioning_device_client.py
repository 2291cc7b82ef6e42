"""The parts shared by the sync and asyncio clients: the factories with the
Python SDK's keyword arguments and checks, the payload property, and one
blocking registration on the native client."""

import json
import math
import numbers

from . import _errors
from . import native as _native
from .models import RegistrationResult, RegistrationState, X509

# The Python SDK's keyword arguments, in its order.
_SDK_KWARGS = (
    "server_verification_cert",
    "gateway_hostname",
    "websockets",
    "cipher",
    "proxy_options",
    "sastoken_ttl",
    "keep_alive",
)
# Additive libprov options: deadlines in seconds (int or float).
#   register_timeout  the whole register() call (default 90 s)
#   response_timeout  each single network step (default 30 s, as the SDK)
_LIBPROV_KWARGS = ("register_timeout", "response_timeout")

_MAX_KEEP_ALIVE_SECS = 1740


def _validate_kwargs(exclude=(), **kwargs):
    """TypeError for any keyword argument the factory does not take."""
    for name in kwargs:
        if name not in _SDK_KWARGS + _LIBPROV_KWARGS or name in exclude:
            raise TypeError("Unsupported keyword argument '{}'".format(name))


def _sanitize_cipher(cipher):
    """As the SDK: a list is joined with ':'; upper-cased, '_' -> '-'."""
    if isinstance(cipher, list):
        cipher = ":".join(cipher)
    if not isinstance(cipher, str):
        raise TypeError("Invalid type for 'cipher'")
    return cipher.upper().replace("_", "-")


def _validate_keep_alive(keep_alive):
    try:
        keep_alive = int(keep_alive)
    except (ValueError, TypeError):
        raise TypeError("Invalid type for 'keep alive'. Permissible types are integer.")
    if keep_alive <= 0 or keep_alive > _MAX_KEEP_ALIVE_SECS:
        raise ValueError(
            "'keep_alive' must be greater than 0 and less than or equal to 1740 seconds"
        )
    return keep_alive


def _validate_sastoken_ttl(sastoken_ttl):
    # The SDK does arithmetic with it, so any real number works there.
    if isinstance(sastoken_ttl, bool) or not isinstance(sastoken_ttl, numbers.Real):
        raise TypeError("Invalid type for 'sastoken_ttl'. Permissible types are integer.")
    if not math.isfinite(sastoken_ttl) or not -2**31 <= sastoken_ttl < 2**31:
        raise ValueError("'sastoken_ttl' is out of range: {}".format(sastoken_ttl))
    return int(sastoken_ttl)


def _timeout_milliseconds(name, seconds):
    if isinstance(seconds, bool) or not isinstance(seconds, numbers.Real):
        raise TypeError("Invalid type for '{}': seconds as int or float".format(name))
    if not seconds > 0 or math.isinf(seconds):
        raise ValueError("'{}' must be a positive number of seconds".format(name))
    milliseconds = int(math.ceil(seconds * 1000))
    if milliseconds > 0xFFFFFFFF:
        raise ValueError("'{}' is too long: {} s".format(name, seconds))
    return milliseconds  # libprov checks its own range and names it


def _text(name, value, optional=False):
    """The SDK takes str; bytes (e.g. a key read from a file) are accepted too."""
    if value is None and optional:
        return None
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError("'{}' is not valid UTF-8".format(name))
    if not isinstance(value, str):
        raise TypeError("'{}' must be a str, not {}".format(name, type(value).__name__))
    return value


def _not_supported(what):
    return ValueError("{} is not supported by this libprov version".format(what))


def _call_native(function, *arguments):
    """Calls a native wrapper, raising the SDK-style exception on failure."""
    try:
        return function(*arguments)
    except _errors.NativeError as native_error:
        failure = _errors.translate(native_error)
    # Raised outside the except block so the NativeError is not chained as
    # "During handling of the above exception...".
    raise failure


def _new_native_client(provisioning_host, registration_id, id_scope, symmetric_key, kwargs):
    """Validates everything as the SDK does and returns a configured native client."""
    provisioning_host = _text("provisioning_host", provisioning_host)
    registration_id = _text("registration_id", registration_id)
    id_scope = _text("id_scope", id_scope)
    symmetric_key = _text("symmetric_key", symmetric_key)

    keep_alive = _validate_keep_alive(kwargs.get("keep_alive", 60))
    cipher = _sanitize_cipher(kwargs.get("cipher", ""))
    server_verification_cert = _text(
        "server_verification_cert", kwargs.get("server_verification_cert"), optional=True
    )
    gateway_hostname = _text("gateway_hostname", kwargs.get("gateway_hostname"), optional=True)
    sastoken_ttl = _validate_sastoken_ttl(kwargs.get("sastoken_ttl", 3600))
    timeouts = {
        name: _timeout_milliseconds(name, kwargs[name])
        for name in _LIBPROV_KWARGS
        if kwargs.get(name) is not None
    }
    if kwargs.get("websockets", False):
        raise _not_supported("websockets=True (MQTT over WebSockets)")
    if kwargs.get("proxy_options") is not None:
        raise _not_supported("proxy_options")

    try:
        native_client = _call_native(
            _native.ProvClient, provisioning_host, registration_id, id_scope, symmetric_key
        )
    except ValueError as error:
        # The SDK's wording for a key it cannot use, plus libprov's reason.
        reason = str(error)
        if "symmetric_key" in reason or "symmetric key" in reason:
            raise ValueError(
                "Could not create a SasToken using the provided values: " + reason
            ) from None
        raise
    try:
        _call_native(native_client.set_keep_alive, keep_alive)
        _call_native(native_client.set_sastoken_ttl, sastoken_ttl)
        _call_native(native_client.set_cipher, cipher)
        if server_verification_cert is not None:
            _call_native(native_client.set_server_verification_cert, server_verification_cert)
        if gateway_hostname is not None:
            _call_native(native_client.set_gateway_hostname, gateway_hostname)
        if "register_timeout" in timeouts:
            _call_native(native_client.set_register_timeout, timeouts["register_timeout"])
        if "response_timeout" in timeouts:
            _call_native(native_client.set_response_timeout, timeouts["response_timeout"])
    except BaseException:
        native_client.close()
        raise
    return native_client


def _payload_json(payload):
    """The SDK sends the payload as JSON (dict, str, int, or an object's __dict__)."""
    if payload is None:
        return None

    def object_fields(value):
        try:
            return value.__dict__
        except AttributeError:
            raise TypeError(
                "provisioning_payload contains a {} that is not JSON serializable".format(
                    type(value).__name__
                )
            ) from None

    return json.dumps(payload, default=object_fields)


def _registration_result(native_result):
    payload_text = native_result.payload()
    payload = json.loads(payload_text) if payload_text is not None else None
    state = RegistrationState(
        device_id=native_result.device_id(),
        assigned_hub=native_result.assigned_hub(),
        sub_status=native_result.substatus(),
        created_date_time=native_result.created_date_time(),
        last_update_date_time=native_result.last_update_date_time(),
        etag=native_result.etag(),
        payload=payload,
    )
    return RegistrationResult(native_result.operation_id(), native_result.status(), state)


class AbstractProvisioningDeviceClient(object):
    """Base of the sync and asyncio ProvisioningDeviceClient.

    Create clients with the ``create_from_*`` class methods, not directly.
    """

    def __init__(self, native_client):
        self._native_client = native_client
        self._provisioning_payload = None

    @classmethod
    def create_from_symmetric_key(
        cls, provisioning_host, registration_id, id_scope, symmetric_key, **kwargs
    ):
        """A client that registers with a symmetric key (individual enrollment,
        or a device key derived from a group key with ``derive_device_key``).

        Keyword arguments as the Python SDK: server_verification_cert (PEM
        text), gateway_hostname, websockets, cipher (str or list of str),
        proxy_options, sastoken_ttl (seconds), keep_alive (seconds). libprov
        adds register_timeout and response_timeout (seconds).
        Raises TypeError for any other keyword argument, ValueError for
        invalid values.
        """
        _validate_kwargs(**kwargs)
        return cls(
            _new_native_client(provisioning_host, registration_id, id_scope, symmetric_key, kwargs)
        )

    @classmethod
    def create_from_x509_certificate(
        cls, provisioning_host, registration_id, id_scope, x509, **kwargs
    ):
        """A client that registers with an X.509 certificate (``X509``).

        Same keyword arguments as create_from_symmetric_key except
        sastoken_ttl (TypeError). X.509 attestation is not in this libprov
        version's C API yet: valid arguments raise ValueError saying so.
        """
        _validate_kwargs(exclude=("sastoken_ttl",), **kwargs)
        if not isinstance(x509, X509):
            raise TypeError("'x509' must be an X509 object")
        _validate_keep_alive(kwargs.get("keep_alive", 60))
        _sanitize_cipher(kwargs.get("cipher", ""))
        raise _not_supported("X.509 attestation (create_from_x509_certificate)")

    @property
    def provisioning_payload(self):
        return self._provisioning_payload

    @provisioning_payload.setter
    def provisioning_payload(self, provisioning_payload):
        """Data sent with the registration request (dict, str, int; JSON)."""
        self._provisioning_payload = provisioning_payload

    def _register_blocking(self):
        native_client = self._native_client
        if native_client is None:
            raise _errors.exceptions.ClientError("Client has already been shut down")
        _call_native(
            native_client.set_provisioning_payload, _payload_json(self._provisioning_payload)
        )
        # The GIL is released inside (prov.i), so other threads and the
        # asyncio loop keep running while this waits for the service.
        native_result = _call_native(native_client.register)
        try:
            return _registration_result(native_result)
        finally:
            native_result.close()

    def _shutdown_native(self):
        native_client, self._native_client = self._native_client, None
        if native_client is not None:
            try:
                _call_native(native_client.close)
            except BaseException:
                self._native_client = native_client
                raise
