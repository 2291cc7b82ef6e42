"""The parts shared by the sync and asyncio clients: the factories with the
Python SDK's keyword arguments and checks, the payload property, and one
blocking registration on the native client."""

import json
import logging
import math
import numbers
import os
import weakref

from . import _errors
from . import native as _native
from .models import RegistrationProgress, RegistrationResult, RegistrationState, X509

logger = logging.getLogger(__name__)

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
# Additive libprov options (documented in create_from_symmetric_key):
_LIBPROV_KWARGS = (
    "register_timeout",
    "response_timeout",
    "transport",
    "proxy_url",
    "proxy_ca_cert",
    "csr_key_type",
    "csr",
    "csr_api",
    "max_retries",
    "initial_backoff",
    "max_backoff",
)

_TRANSPORTS = {
    "mqtt": _native.PROV_TRANSPORT_MQTT,
    "mqtt-ws": _native.PROV_TRANSPORT_MQTT_WS,
    "https": _native.PROV_TRANSPORT_HTTPS,
}
# The SDK hands ProxyOptions to PySocks, which resolves the destination at
# the proxy by default (rdns=True): SOCKS4 is SOCKS4a, SOCKS5 is "socks5h".
_PROXY_TYPES = {
    "HTTP": _native.PROV_PROXY_HTTP,
    "SOCKS4": _native.PROV_PROXY_SOCKS4A,
    "SOCKS5": _native.PROV_PROXY_SOCKS5H,
}
_CSR_KEY_TYPES = {"ec": _native.PROV_KEY_EC_P256, "rsa": _native.PROV_KEY_RSA_2048}
_CSR_APIS = {
    "2025-07-01-preview": _native.PROV_CSR_API_2025_07_01_PREVIEW,
    "2021-11-01-preview": _native.PROV_CSR_API_2021_11_01_PREVIEW,
}
# libprov's retry defaults (prov.h), used for the values not given.
_DEFAULT_RETRY = {"max_retries": 10, "initial_backoff": 1.0, "max_backoff": 30.0}

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


def _choice(name, value, choices):
    if value not in choices:
        raise ValueError(
            "'{}' must be one of {}, not {!r}".format(name, ", ".join(sorted(choices)), value)
        )
    return choices[value]


def _transport(kwargs):
    """websockets=True is the SDK's MQTT over WebSockets; libprov's transport=
    names any transport ("mqtt", "mqtt-ws", "https")."""
    websockets = kwargs.get("websockets", False)
    transport = kwargs.get("transport")
    if transport is None:
        return _native.PROV_TRANSPORT_MQTT_WS if websockets else None
    if not isinstance(transport, str):
        raise TypeError("Invalid type for 'transport': a str")
    value = _choice("transport", transport, _TRANSPORTS)
    if websockets and value != _native.PROV_TRANSPORT_MQTT_WS:
        raise ValueError("websockets=True contradicts transport={!r}".format(transport))
    return value


def _proxy_arguments(proxy_options):
    """set_proxy's arguments from an SDK-style ProxyOptions (libprov's, or any
    object with the same properties, such as the SDK's own)."""
    try:
        proxy_type = proxy_options.proxy_type
        address = proxy_options.proxy_address
        port = proxy_options.proxy_port
        username = proxy_options.proxy_username
        password = proxy_options.proxy_password
    except AttributeError:
        raise TypeError("'proxy_options' must be a ProxyOptions object") from None
    if isinstance(port, bool) or not isinstance(port, int):
        raise TypeError("Invalid type for the proxy port: an int")
    # The SDK drops the credentials of an HTTP proxy; libprov sends them
    # (Basic authentication), which only adds what the SDK cannot do.
    return (
        _choice("proxy_type", proxy_type, _PROXY_TYPES),
        _text("proxy_addr", address),
        port,
        _text("proxy_username", username, optional=True),
        _text("proxy_password", password, optional=True),
    )


def _csr_setting(kwargs):
    """(setter name, argument) for the certificate-issuance kwargs, or None."""
    key_type = kwargs.get("csr_key_type")
    csr = kwargs.get("csr")
    if key_type is not None and csr is not None:
        raise ValueError("use either 'csr_key_type' (libprov makes the key) or 'csr', not both")
    if key_type is not None:
        return "set_csr_auto", _choice("csr_key_type", key_type, _CSR_KEY_TYPES)
    if csr is None:
        return None
    if isinstance(csr, (bytes, bytearray, memoryview)):
        csr = bytes(csr)
        if csr.lstrip().startswith(b"-----BEGIN"):
            return "set_csr_pem", _text("csr", csr)
        return "set_csr_der", csr
    return "set_csr_pem", _text("csr", csr)


def _retry_policy(kwargs):
    """(max_retries, initial_backoff_ms, max_backoff_ms), or None when none of
    the retry kwargs was given (libprov's defaults then apply)."""
    given = {name: kwargs[name] for name in _DEFAULT_RETRY if kwargs.get(name) is not None}
    if not given:
        return None
    values = dict(_DEFAULT_RETRY, **given)
    max_retries = values["max_retries"]
    if isinstance(max_retries, bool) or not isinstance(max_retries, int):
        raise TypeError("Invalid type for 'max_retries': an int")
    if not 0 <= max_retries <= 0xFFFFFFFF:
        raise ValueError("'max_retries' must be 0 or more, not {}".format(max_retries))
    return (
        max_retries,
        _timeout_milliseconds("initial_backoff", values["initial_backoff"]),
        _timeout_milliseconds("max_backoff", values["max_backoff"]),
    )


def _call_native(function, *arguments):
    """Calls a native wrapper, raising the SDK-style exception on failure."""
    try:
        return function(*arguments)
    except _errors.NativeError as native_error:
        failure = _errors.translate(native_error)
    # Raised outside the except block so the NativeError is not chained as
    # "During handling of the above exception...".
    raise failure


def _identity(provisioning_host, registration_id, id_scope):
    return (
        _text("provisioning_host", provisioning_host),
        _text("registration_id", registration_id),
        _text("id_scope", id_scope),
    )


def _symmetric_key_factory(symmetric_key, group=False):
    """create(host, registration_id, id_scope) for a symmetric-key client."""
    name = "group_key" if group else "symmetric_key"
    key = _text(name, symmetric_key)
    constructor = _native.create_symkey_group_client if group else _native.ProvClient

    def create(provisioning_host, registration_id, id_scope):
        try:
            return _call_native(constructor, provisioning_host, registration_id, id_scope, key)
        except ValueError as error:
            # The SDK's wording for a key it cannot use, plus libprov's reason.
            reason = str(error)
            if name in reason or "symmetric key" in reason or "group key" in reason:
                raise ValueError(
                    "Could not create a SasToken using the provided values: " + reason
                ) from None
            raise

    return create


def _x509_factory(x509):
    # libprov's X509, or any object with its properties (e.g. the SDK's own).
    if not isinstance(x509, X509) and not all(
        hasattr(x509, name) for name in ("certificate_file", "key_file", "pass_phrase")
    ):
        raise TypeError("'x509' must be an X509 object")

    def path(name, value):
        if isinstance(value, os.PathLike):
            value = os.fspath(value)
        return _text(name, value)

    cert_file = path("cert_file", x509.certificate_file)
    key_file = path("key_file", x509.key_file)
    pass_phrase = _text("pass_phrase", x509.pass_phrase, optional=True)

    def create(provisioning_host, registration_id, id_scope):
        return _call_native(
            _native.create_x509_client,
            provisioning_host,
            registration_id,
            id_scope,
            cert_file,
            key_file,
            pass_phrase,
        )

    return create


def _new_native_client(provisioning_host, registration_id, id_scope, factory, kwargs, x509=False):
    """Validates everything as the SDK does and returns a configured native client."""
    identity = _identity(provisioning_host, registration_id, id_scope)

    keep_alive = _validate_keep_alive(kwargs.get("keep_alive", 60))
    keep_alive_given = "keep_alive" in kwargs
    cipher = _sanitize_cipher(kwargs.get("cipher", ""))
    server_verification_cert = _text(
        "server_verification_cert", kwargs.get("server_verification_cert"), optional=True
    )
    gateway_hostname = _text("gateway_hostname", kwargs.get("gateway_hostname"), optional=True)
    sastoken_ttl = None if x509 else _validate_sastoken_ttl(kwargs.get("sastoken_ttl", 3600))
    timeouts = {
        name: _timeout_milliseconds(name, kwargs[name])
        for name in ("register_timeout", "response_timeout")
        if kwargs.get(name) is not None
    }
    transport = _transport(kwargs)
    proxy = None
    if kwargs.get("proxy_options") is not None:
        if kwargs.get("proxy_url"):
            raise ValueError("use either 'proxy_options' or 'proxy_url', not both")
        proxy = _proxy_arguments(kwargs["proxy_options"])
    proxy_url = _text("proxy_url", kwargs.get("proxy_url"), optional=True)
    proxy_ca_cert = _text("proxy_ca_cert", kwargs.get("proxy_ca_cert"), optional=True)
    csr = _csr_setting(kwargs)
    csr_api = None
    if kwargs.get("csr_api") is not None:
        csr_api = _choice("csr_api", kwargs["csr_api"], _CSR_APIS)
    retry_policy = _retry_policy(kwargs)

    native_client = factory(*identity)
    try:
        # HTTPS has no keep-alive: libprov refuses an explicit keep_alive
        # with it, so the SDK's default is only passed on when it matters.
        if keep_alive_given or transport != _native.PROV_TRANSPORT_HTTPS:
            _call_native(native_client.set_keep_alive, keep_alive)
        if sastoken_ttl is not None:
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
        if transport is not None:
            _call_native(native_client.set_transport, transport)
        if proxy is not None:
            _call_native(native_client.set_proxy, *proxy)
        if proxy_url:
            _call_native(native_client.set_proxy_url, proxy_url)
        if proxy_ca_cert is not None:
            _call_native(native_client.set_proxy_ca_cert, proxy_ca_cert)
        if csr is not None:
            _call_native(getattr(native_client, csr[0]), csr[1])
        if csr_api is not None:
            _call_native(native_client.set_csr_api, csr_api)
        if retry_policy is not None:
            _call_native(native_client.set_retry_policy, *retry_policy)
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


def _json_or_none(text):
    return json.loads(text) if text is not None else None


def _registration_result(native_result):
    details = {}
    for name, value in (
        ("enrollment_group_id", native_result.enrollment_group_id()),
        ("x509", _json_or_none(native_result.x509_json())),
        ("x509_certificate_info", _json_or_none(native_result.x509_certificate_info_json())),
        ("issued_certificate_chain", native_result.issued_certificate_chain_pem()),
        ("generated_private_key", native_result.generated_private_key_pem()),
        ("trust_bundle", native_result.trust_bundle_pem()),
    ):
        if value is not None:
            details[name] = value
    count = native_result.issued_certificate_count()
    if count:
        details["issued_certificates"] = [
            native_result.issued_certificate_der(index) for index in range(count)
        ]
    state = RegistrationState(
        device_id=native_result.device_id(),
        assigned_hub=native_result.assigned_hub(),
        sub_status=native_result.substatus(),
        created_date_time=native_result.created_date_time(),
        last_update_date_time=native_result.last_update_date_time(),
        etag=native_result.etag(),
        payload=_json_or_none(native_result.payload()),
        **details
    )
    return RegistrationResult(native_result.operation_id(), native_result.status(), state)


# libprov's progress states, as the names RegistrationProgress.state uses.
_PROGRESS_STATES = {
    _native.PROV_PROGRESS_CONNECTING: "connecting",
    _native.PROV_PROGRESS_CONNECTED: "connected",
    _native.PROV_PROGRESS_REGISTERING: "registering",
    _native.PROV_PROGRESS_ASSIGNING: "assigning",
    _native.PROV_PROGRESS_RETRYING: "retrying",
    _native.PROV_PROGRESS_ASSIGNED: "assigned",
    _native.PROV_PROGRESS_FAILED: "failed",
}

# libprov's log levels -> logging levels, and back (the lowest level a
# logger is enabled for decides libprov's min_level).
_LOG_LEVELS = (
    (_native.PROV_LOG_DEBUG, logging.DEBUG),
    (_native.PROV_LOG_INFO, logging.INFO),
    (_native.PROV_LOG_WARNING, logging.WARNING),
    (_native.PROV_LOG_ERROR, logging.ERROR),
)
_native_logger = logging.getLogger("libprov.native")


def _native_log_level():
    """libprov's min_level for the "libprov.native" logger, or None when
    nothing would be shown: logging not configured (no handler on the way to
    the root; Python's last-resort handler would otherwise print libprov's
    warnings on stderr, which the SDK does not) or the logger disabled. Then
    no log callback is installed at all."""
    if not _native_logger.hasHandlers():
        return None
    for native_level, python_level in _LOG_LEVELS:
        if _native_logger.isEnabledFor(python_level):
            return native_level
    return None


def _native_sinks(client):
    """The two callables handed to the native client as its progress and log
    callbacks. They hold the client only weakly (no reference cycle keeps a
    native client alive) and are created once per client, so the native
    client never points at a callable that was released."""
    client_ref = weakref.ref(client)

    def progress_sink(state, detail, retry_after_ms):
        client = client_ref()
        deliver = client._progress_delivery if client is not None else None
        if deliver is None:
            return
        progress = RegistrationProgress(
            _PROGRESS_STATES.get(state, str(state)), detail, retry_after_ms / 1000.0
        )
        try:
            deliver(progress)
        except Exception:  # a handler's bug must not end the registration
            logger.exception("on_registration_progress handler raised")

    def log_sink(level, message):
        for native_level, python_level in _LOG_LEVELS:
            if native_level == level:
                _native_logger.log(python_level, "%s", message)
                return
        _native_logger.error("%s", message)

    return progress_sink, log_sink


class AbstractProvisioningDeviceClient(object):
    """Base of the sync and asyncio ProvisioningDeviceClient.

    Create clients with the ``create_from_*`` class methods, not directly.
    """

    def __init__(self, native_client):
        self._native_client = native_client
        self._provisioning_payload = None
        self._on_registration_progress = None
        self._progress_delivery = None
        self._sinks = _native_sinks(self)

    @classmethod
    def create_from_symmetric_key(
        cls, provisioning_host, registration_id, id_scope, symmetric_key, **kwargs
    ):
        """A client that registers with a symmetric key (individual enrollment,
        or a device key derived from a group key with ``derive_device_key``).

        Keyword arguments as the Python SDK: server_verification_cert (PEM
        text), gateway_hostname, websockets (True: MQTT over WebSockets,
        port 443), cipher (str or list of str), proxy_options (ProxyOptions;
        libprov also sends the credentials of an HTTP proxy, which the SDK
        drops), sastoken_ttl (seconds), keep_alive (seconds).

        libprov adds (all optional):
          register_timeout, response_timeout  deadlines in seconds
          transport        "mqtt" (default), "mqtt-ws" or "https"
          proxy_url        "scheme://[user[:password]@]host[:port]" with scheme
                           http, https, socks4, socks4a, socks5, socks5h
          proxy_ca_cert    PEM roots for an https:// proxy's own certificate
          csr_key_type     "ec" or "rsa": libprov makes a key and a CSR and the
                           result carries the issued certificate and that key
          csr              a CSR of your own (PEM str, or DER bytes)
          csr_api          "2025-07-01-preview" (default) or "2021-11-01-preview"
          max_retries, initial_backoff, max_backoff
                           retry policy for transient failures (seconds for
                           the backoffs; defaults 10, 1.0, 30.0)
        Raises TypeError for any other keyword argument, ValueError for
        invalid values.
        """
        _validate_kwargs(**kwargs)
        factory = _symmetric_key_factory(symmetric_key)
        return cls(
            _new_native_client(provisioning_host, registration_id, id_scope, factory, kwargs)
        )

    @classmethod
    def create_from_symmetric_key_group(
        cls, provisioning_host, registration_id, id_scope, group_key, **kwargs
    ):
        """libprov addition: a client for a device of a symmetric-key GROUP
        enrollment; the device key is derived from ``group_key`` (which is
        not kept). Keyword arguments as create_from_symmetric_key."""
        _validate_kwargs(**kwargs)
        factory = _symmetric_key_factory(group_key, group=True)
        return cls(
            _new_native_client(provisioning_host, registration_id, id_scope, factory, kwargs)
        )

    @classmethod
    def create_from_x509_certificate(
        cls, provisioning_host, registration_id, id_scope, x509, **kwargs
    ):
        """A client that registers with an X.509 certificate: ``X509(cert_file,
        key_file, pass_phrase=None)``, where cert_file holds the device
        certificate optionally followed by its intermediate CAs.

        Same keyword arguments as create_from_symmetric_key except
        sastoken_ttl (TypeError, as the SDK). libprov reads and checks the
        files now (the SDK does at connect time): a certificate, key or pass
        phrase it cannot use raises exceptions.CertificateError (a
        CredentialError and a ValueError) naming the file and the problem.
        """
        _validate_kwargs(exclude=("sastoken_ttl",), **kwargs)
        factory = _x509_factory(x509)
        return cls(
            _new_native_client(provisioning_host, registration_id, id_scope, factory, kwargs,
                               x509=True)
        )

    @classmethod
    def create_from_x509_pem(
        cls, provisioning_host, registration_id, id_scope, cert_pem, key_pem, pass_phrase=None,
        **kwargs
    ):
        """libprov addition: create_from_x509_certificate with the certificate
        chain and the private key as PEM text (str or bytes) instead of files,
        e.g. a certificate issued by a previous registration
        (RegistrationState.issued_certificate_chain / generated_private_key)."""
        _validate_kwargs(exclude=("sastoken_ttl",), **kwargs)
        cert_pem = _text("cert_pem", cert_pem)
        key_pem = _text("key_pem", key_pem)
        pass_phrase = _text("pass_phrase", pass_phrase, optional=True)

        def factory(provisioning_host, registration_id, id_scope):
            return _call_native(_native.create_x509_pem_client, provisioning_host,
                                registration_id, id_scope, cert_pem, key_pem, pass_phrase)

        return cls(
            _new_native_client(provisioning_host, registration_id, id_scope, factory, kwargs,
                               x509=True)
        )

    @property
    def provisioning_payload(self):
        return self._provisioning_payload

    @provisioning_payload.setter
    def provisioning_payload(self, provisioning_payload):
        """Data sent with the registration request (dict, str, int; JSON)."""
        self._provisioning_payload = provisioning_payload

    @property
    def on_registration_progress(self):
        """libprov addition: a handler called with a RegistrationProgress
        (state "connecting", "connected", "registering", "assigning",
        "retrying", "assigned" or "failed"; detail; retry_after seconds) as
        the registration goes on. None (the default) turns it off."""
        return self._on_registration_progress

    @on_registration_progress.setter
    def on_registration_progress(self, handler):
        if handler is not None and not callable(handler):
            raise TypeError("on_registration_progress must be callable or None")
        self._on_registration_progress = handler

    def _register_blocking(self, deliver_progress=None, cancelled=None):
        """One native registration on the calling thread. deliver_progress(p)
        passes each RegistrationProgress on (None: no progress callback);
        cancelled, a threading.Event, set before the native call starts,
        means the caller has given up already."""
        native_client = self._native_client
        if native_client is None:
            raise _errors.exceptions.ClientError("Client has already been shut down")
        if cancelled is not None and cancelled.is_set():
            raise _errors.exceptions.OperationCancelled("registration cancelled before it began")
        _call_native(
            native_client.set_provisioning_payload, _payload_json(self._provisioning_payload)
        )
        progress_sink, log_sink = self._sinks
        self._progress_delivery = deliver_progress
        _call_native(
            native_client.set_progress_callback, progress_sink if deliver_progress else None
        )
        log_level = _native_log_level()
        _call_native(
            native_client.set_log_callback,
            _native.PROV_LOG_ERROR if log_level is None else log_level,
            None if log_level is None else log_sink,
        )
        if cancelled is not None and cancelled.is_set():
            raise _errors.exceptions.OperationCancelled("registration cancelled before it began")
        # The GIL is released inside (prov.i), so other threads and the
        # asyncio loop keep running while this waits for the service.
        native_result = _call_native(native_client.register)
        try:
            return _registration_result(native_result)
        finally:
            native_result.close()

    def _cancel_native(self):
        """Stops the native registration in flight (it then fails with
        OperationCancelled within ~100 ms); nothing happens without one."""
        native_client = self._native_client
        if native_client is None:
            return
        try:
            _call_native(native_client.cancel)
        except ValueError:
            if not native_client.is_closed():
                raise
            # shut down meanwhile (on another thread): nothing to cancel

    def _shutdown_native(self):
        native_client, self._native_client = self._native_client, None
        if native_client is not None:
            try:
                _call_native(native_client.close)
            except BaseException:
                self._native_client = native_client
                raise
