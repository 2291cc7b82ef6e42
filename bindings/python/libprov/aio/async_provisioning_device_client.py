"""The asyncio ProvisioningDeviceClient (as ``azure.iot.device.aio``).

``register()`` runs the blocking native registration in the loop's default
executor; the native call releases the GIL, so the loop keeps serving other
tasks meanwhile. Cancelling the awaiting task stops waiting at once; the
native registration itself ends at its deadline (register_timeout).
"""

import asyncio
import logging

from ..abstract_provisioning_device_client import AbstractProvisioningDeviceClient

logger = logging.getLogger(__name__)


class ProvisioningDeviceClient(AbstractProvisioningDeviceClient):
    """Registers a device with the Device Provisioning Service (asyncio)."""

    async def register(self):
        """Registers the device and returns the RegistrationResult; raises
        as the synchronous client does."""
        logger.info("Registering with Provisioning Service...")
        loop = asyncio.get_running_loop()
        result = await loop.run_in_executor(None, self._register_blocking)
        logger.info("Successfully registered with Provisioning Service")
        return result

    async def shutdown(self):
        """Releases the native client now (libprov addition)."""
        self._shutdown_native()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc_info):
        await self.shutdown()
