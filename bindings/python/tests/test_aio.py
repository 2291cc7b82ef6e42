"""The asyncio client (libprov.aio), as azure.iot.device.aio."""

import asyncio
import json
import time

import pytest

from libprov import exceptions
from libprov.aio import ProvisioningDeviceClient

from conftest import DEVICE_KEY, HUBS, ID_SCOPE, WRONG_KEY


def client_for(emulator, registration_id, key=DEVICE_KEY, **kwargs):
    options = {"server_verification_cert": emulator.ca_pem, "register_timeout": 20}
    options.update(kwargs)
    return ProvisioningDeviceClient.create_from_symmetric_key(
        emulator.mqtt_host, registration_id, ID_SCOPE, key, **options)


def test_async_registration_with_payload(emulator):
    async def scenario():
        async with client_for(emulator, "py-echo") as client:
            client.provisioning_payload = {"from": "asyncio"}
            return await client.register()
    result = asyncio.run(scenario())
    assert result.status == "assigned"
    assert result.registration_state.assigned_hub in HUBS
    assert result.registration_state.response_payload == json.dumps({"from": "asyncio"})


def test_async_registrations_run_concurrently(emulator):
    async def scenario():
        clients = [client_for(emulator, "py-dev-1") for _ in range(3)]
        results = await asyncio.gather(*(client.register() for client in clients))
        for client in clients:
            await client.shutdown()
        return results
    results = asyncio.run(scenario())
    assert [result.status for result in results] == ["assigned"] * 3


def test_async_wrong_key(emulator):
    async def scenario():
        async with client_for(emulator, "py-dev-1", key=WRONG_KEY) as client:
            await client.register()
    with pytest.raises(exceptions.CredentialError) as failure:
        asyncio.run(scenario())
    assert 401000 <= failure.value.error_code <= 401999


def test_loop_stays_responsive_during_a_timeout(emulator):
    async def scenario():
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.01)

        ticking = asyncio.ensure_future(ticker())
        started = time.monotonic()
        async with client_for(emulator, "py-silent", register_timeout=2) as client:
            with pytest.raises(exceptions.OperationTimeout):
                await client.register()
        ticking.cancel()
        return ticks, time.monotonic() - started

    ticks, elapsed = asyncio.run(scenario())
    assert elapsed < 10
    assert ticks > 50, ticks


def test_cancelling_the_awaiting_task_returns_at_once(emulator):
    async def scenario():
        client = client_for(emulator, "py-silent", register_timeout=3)
        started = time.monotonic()
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(client.register(), timeout=0.5)
        waited = time.monotonic() - started
        # The task's cancellation cancelled the native registration too and
        # waited for it: nothing is in flight, shutdown succeeds at once.
        await client.shutdown()
        assert client._native_client is None
        return waited

    assert asyncio.run(scenario()) < 1.5
