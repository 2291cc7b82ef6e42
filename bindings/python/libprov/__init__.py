"""libprov for Python: the Azure IoT DPS device client of the Python SDK
(``azure.iot.device``), on the libprov C library.

Code written for the SDK's provisioning client runs with only its import
changed::

    from libprov import ProvisioningDeviceClient      # was: from azure.iot.device import ...
    from libprov.aio import ProvisioningDeviceClient  # was: from azure.iot.device.aio import ...
"""

from . import exceptions
from . import native as _native
from .abstract_provisioning_device_client import _call_native
from .models import ProxyOptions, RegistrationProgress, RegistrationResult, RegistrationState, X509
from .provisioning_device_client import ProvisioningDeviceClient

__all__ = [
    "ProvisioningDeviceClient",
    "X509",
    "ProxyOptions",
    "RegistrationResult",
    "RegistrationState",
    "RegistrationProgress",
    "exceptions",
    "derive_device_key",
    "generate_sas_token",
    "library_version",
]

__version__ = "1.0.0"


def derive_device_key(group_key, registration_id):
    """The device key for a symmetric-key group enrollment:
    base64(HMAC-SHA256(base64decode(group_key), registration_id))."""
    return _call_native(_native.derive_device_key, group_key, registration_id)


def generate_sas_token(id_scope, registration_id, symmetric_key, expiry):
    """The SAS token a device presents, valid until ``expiry`` (Unix seconds)."""
    return _call_native(
        _native.generate_sas_token, id_scope, registration_id, symmetric_key, int(expiry)
    )


def library_version():
    """The version of the libprov shared library in use, e.g. "1.0.0"."""
    return _native.version_string()
