"""The asyncio ProvisioningDeviceClient (as ``azure.iot.device.aio``).

``register()`` starts the registration on libprov's event loop
(``prov_client_register_async``) and awaits a future: no thread of this
process waits for the service. libprov's events reach Python through the
binding's dispatcher thread (bindings/swig/prov.i), which hands them to the
asyncio loop with ``call_soon_threadsafe``. Cancelling the awaiting task
(``task.cancel()``, ``asyncio.wait_for`` timing out) cancels the native
registration too: the task ends once libprov has stopped (within about
100 ms), and the client can register again or be shut down at once.
"""

import asyncio
import logging

from .. import _errors
from ..abstract_provisioning_device_client import (
    _LOG_LEVELS,
    _PROGRESS_STATES,
    AbstractProvisioningDeviceClient,
    _call_native,
    _native_log_level,
    _native_logger,
    _payload_json,
    _registration_result,
)
from ..models import RegistrationProgress

logger = logging.getLogger(__name__)


class _RegistrationSink(object):
    """Receives one asynchronous registration's events on the dispatcher
    thread (with the GIL) and passes them to the asyncio loop."""

    def __init__(self, loop, future, handler):
        self._loop = loop
        self._future = future
        self._handler = handler

    def _post(self, function, *arguments):
        try:
            self._loop.call_soon_threadsafe(function, *arguments)
        except RuntimeError:
            pass  # the loop is closed: nobody awaits this registration any more

    def _run_handler(self, progress):
        try:
            outcome = self._handler(progress)
            if asyncio.iscoroutine(outcome):
                self._loop.create_task(outcome)
        except Exception:  # a handler's bug must not end the registration
            logger.exception("on_registration_progress handler raised")

    def progress(self, state, detail, retry_after_ms):
        if self._handler is not None:
            self._post(self._run_handler, RegistrationProgress(
                _PROGRESS_STATES.get(state, str(state)), detail, retry_after_ms / 1000.0))

    def log(self, level, message):
        for native_level, python_level in _LOG_LEVELS:
            if native_level == level:
                _native_logger.log(python_level, "%s", message)
                return
        _native_logger.error("%s", message)

    def complete(self, completion):
        try:
            native_result = _call_native(completion.take_result)
            try:
                outcome = (True, _registration_result(native_result))
            finally:
                native_result.close()
        except BaseException as failure:  # delivered to the awaiting task
            outcome = (False, failure)
        self._post(self._settle, outcome)

    def _settle(self, outcome):
        if self._future.done():
            return
        succeeded, value = outcome
        if succeeded:
            self._future.set_result(value)
        else:
            self._future.set_exception(value)


class ProvisioningDeviceClient(AbstractProvisioningDeviceClient):
    """Registers a device with the Device Provisioning Service (asyncio)."""

    async def register(self):
        """Registers the device and returns the RegistrationResult; raises
        as the synchronous client does. on_registration_progress, when set,
        is called on the event loop (a coroutine function is scheduled as a
        task)."""
        logger.info("Registering with Provisioning Service...")
        native_client = self._native_client
        if native_client is None:
            raise _errors.exceptions.ClientError("Client has already been shut down")
        loop = asyncio.get_running_loop()
        finished = loop.create_future()
        sink = _RegistrationSink(loop, finished, self._on_registration_progress)
        _call_native(
            native_client.set_provisioning_payload, _payload_json(self._provisioning_payload)
        )
        log_level = _native_log_level()
        _call_native(native_client.set_async_log_level, -1 if log_level is None else log_level)
        _call_native(native_client.start_async, sink)
        try:
            result = await asyncio.shield(finished)
        except asyncio.CancelledError:
            await self._stop_native_registration(finished)
            raise
        logger.info("Successfully registered with Provisioning Service")
        return result

    async def _stop_native_registration(self, finished):
        """The awaiting task was cancelled: cancel the native registration
        (in flight since start_async returned, so one cancel lands) and wait
        for it to end (libprov promises within ~100 ms), so nothing keeps
        running on the network after the task is gone."""
        self._cancel_native()
        while not finished.done():
            try:
                await asyncio.wait({finished})
            except asyncio.CancelledError:
                continue  # cancelled again while waiting: keep waiting
        if not finished.cancelled():
            finished.exception()  # retrieved: no "never retrieved" warning

    async def shutdown(self):
        """Releases the native client now (libprov addition)."""
        self._shutdown_native()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc_info):
        await self.shutdown()
