"""The asyncio ProvisioningDeviceClient (as ``azure.iot.device.aio``).

``register()`` runs the blocking native registration in the loop's default
executor; the native call releases the GIL, so the loop keeps serving other
tasks meanwhile. Cancelling the awaiting task (``task.cancel()``,
``asyncio.wait_for`` timing out) cancels the native registration too: the
task ends once libprov has stopped (within about 100 ms), and the client can
register again or be shut down at once.
"""

import asyncio
import logging
import threading

from ..abstract_provisioning_device_client import AbstractProvisioningDeviceClient

logger = logging.getLogger(__name__)

# How often a cancelled task repeats the native cancel while it waits.
_CANCEL_REPEAT_SECONDS = 0.05


class ProvisioningDeviceClient(AbstractProvisioningDeviceClient):
    """Registers a device with the Device Provisioning Service (asyncio)."""

    async def register(self):
        """Registers the device and returns the RegistrationResult; raises
        as the synchronous client does. on_registration_progress, when set,
        is called on the event loop (a coroutine function is scheduled as a
        task)."""
        logger.info("Registering with Provisioning Service...")
        loop = asyncio.get_running_loop()
        deliver_progress = None
        handler = self._on_registration_progress
        if handler is not None:

            def run_handler(progress):
                outcome = handler(progress)
                if asyncio.iscoroutine(outcome):
                    loop.create_task(outcome)

            def deliver_progress(progress):
                loop.call_soon_threadsafe(run_handler, progress)

        cancelled = threading.Event()
        registration = loop.run_in_executor(
            None, self._register_blocking, deliver_progress, cancelled
        )
        try:
            result = await asyncio.shield(registration)
        except asyncio.CancelledError:
            cancelled.set()
            await self._stop_native_registration(registration)
            raise
        logger.info("Successfully registered with Provisioning Service")
        return result

    async def _stop_native_registration(self, registration):
        """The awaiting task was cancelled: cancel the native registration and
        wait for it to end (libprov promises within ~100 ms), so nothing keeps
        running on the network after the task is gone. libprov does not
        remember a cancel that comes before its registration has begun (the
        executor may not have started it yet, and the `cancelled` event only
        covers the time before the native call), so the cancel is repeated
        until the registration has ended."""
        while not registration.done():
            self._cancel_native()
            try:
                await asyncio.wait({registration}, timeout=_CANCEL_REPEAT_SECONDS)
            except asyncio.CancelledError:
                continue  # cancelled again while waiting: keep waiting
        if not registration.cancelled():
            registration.exception()  # retrieved: no "never retrieved" warning

    async def shutdown(self):
        """Releases the native client now (libprov addition)."""
        self._shutdown_native()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc_info):
        await self.shutdown()
