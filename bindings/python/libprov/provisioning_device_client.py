"""The synchronous ProvisioningDeviceClient (as ``azure.iot.device``)."""

import logging

from .abstract_provisioning_device_client import AbstractProvisioningDeviceClient

logger = logging.getLogger(__name__)


class ProvisioningDeviceClient(AbstractProvisioningDeviceClient):
    """Registers a device with the Device Provisioning Service.

    >>> client = ProvisioningDeviceClient.create_from_symmetric_key(
    ...     provisioning_host="global.azure-devices-provisioning.net",
    ...     registration_id="my-device", id_scope="0ne00000A0A", symmetric_key=key)
    >>> result = client.register()
    >>> result.registration_state.assigned_hub
    """

    def register(self):
        """Registers the device (connect, register, poll until a terminal
        status, disconnect) and returns the RegistrationResult.

        Raises CredentialError, ConnectionFailedError, ConnectionDroppedError,
        OperationTimeout, OperationCancelled (cancel() from another thread)
        or ClientError (caused by a ServiceError with the service's error
        code, tracking id and message). on_registration_progress, when set,
        is called on this thread as the registration goes on.
        """
        logger.info("Registering with Provisioning Service...")
        result = self._register_blocking(self._on_registration_progress)
        logger.info("Successfully registered with Provisioning Service")
        return result

    def cancel(self):
        """libprov addition: stops a register() running on another thread;
        it raises OperationCancelled within about 100 ms. Does nothing when
        no registration is in flight."""
        self._cancel_native()

    def shutdown(self):
        """Releases the native client now (libprov addition; also done by
        the garbage collector and by ``with``)."""
        self._shutdown_native()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.shutdown()
