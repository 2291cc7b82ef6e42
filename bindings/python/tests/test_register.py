"""Registrations against a real dps-emulator through the Python SDK's API."""

import json
import threading
import time

import pytest

import libprov
from libprov import ProvisioningDeviceClient, exceptions

from conftest import DEVICE_KEY, GROUP_KEY, HUBS, ID_SCOPE, WRONG_KEY


def client_for(emulator, registration_id, key=DEVICE_KEY, **kwargs):
    options = {"server_verification_cert": emulator.ca_pem, "register_timeout": 20}
    options.update(kwargs)
    return ProvisioningDeviceClient.create_from_symmetric_key(
        provisioning_host=emulator.mqtt_host, registration_id=registration_id,
        id_scope=ID_SCOPE, symmetric_key=key, **options)


def test_symmetric_key_registration(emulator):
    with client_for(emulator, "py-dev-1") as client:
        result = client.register()
    assert result.status == "assigned"
    assert result.operation_id
    state = result.registration_state
    assert state.device_id == "py-device-one"
    assert state.assigned_hub in HUBS
    assert state.sub_status == "initialAssignment"
    assert state.created_date_time and state.last_update_date_time and state.etag
    assert state.response_payload == "null"
    assert str(result) == "\n".join(
        ["py-device-one", state.assigned_hub, "initialAssignment", "null", "assigned"])


def test_register_again_on_the_same_client_keeps_the_hub(emulator):
    client = client_for(emulator, "py-dev-1")
    first = client.register()
    second = client.register()
    assert second.status == "assigned"
    assert second.registration_state.assigned_hub == first.registration_state.assigned_hub
    client.shutdown()


def test_group_enrollment_with_a_derived_key(emulator):
    device_key = libprov.derive_device_key(GROUP_KEY, "py-group-member-7")
    with client_for(emulator, "py-group-member-7", key=device_key) as client:
        result = client.register()
    assert result.status == "assigned"
    assert result.registration_state.device_id == "py-group-member-7"


@pytest.mark.parametrize("payload", [
    {"modelId": "dtmi:com:example:Thermostat;1", "nested": {"z": 1, "a": [True, None, 2.5]}},
    "plain text",
    42,
])
def test_payload_round_trip(emulator, payload):
    with client_for(emulator, "py-echo") as client:
        client.provisioning_payload = payload
        result = client.register()
    assert result.registration_state.response_payload == json.dumps(payload, sort_keys=True)


def test_initial_payload_from_the_enrollment(emulator):
    with client_for(emulator, "py-initial") as client:
        result = client.register()
    assert json.loads(result.registration_state.response_payload) == \
        {"config": {"interval": 5}, "tags": ["a", "b"]}


def test_wrong_key_is_credential_error_with_service_details(emulator):
    with client_for(emulator, "py-dev-1", key=WRONG_KEY) as client:
        with pytest.raises(exceptions.CredentialError) as failure:
            client.register()
    error = failure.value
    assert error.error_code is not None and 401000 <= error.error_code <= 401999
    assert error.http_status == 401
    assert error.status == "PROV_E_CREDENTIAL"
    assert isinstance(error.__cause__, exceptions.ServiceError)
    assert error.__cause__.error_code == error.error_code
    assert WRONG_KEY not in str(error)


def test_disabled_enrollment_is_client_error_caused_by_service_error(emulator):
    with client_for(emulator, "py-disabled") as client:
        with pytest.raises(exceptions.ClientError) as failure:
            client.register()
    assert not isinstance(failure.value, exceptions.CredentialError)
    assert isinstance(failure.value.__cause__, exceptions.ServiceError)
    assert failure.value.registration_status == "disabled" or failure.value.error_code


def test_silent_service_is_operation_timeout(emulator):
    with client_for(emulator, "py-silent", register_timeout=2) as client:
        started = time.monotonic()
        with pytest.raises(exceptions.OperationTimeout) as failure:
            client.register()
        elapsed = time.monotonic() - started
    assert 1.5 <= elapsed < 10, elapsed
    assert failure.value.status == "PROV_E_TIMEOUT"


def test_untrusted_server_is_connection_failed_error(emulator):
    with client_for(emulator, "py-dev-1", server_verification_cert=None) as client:
        with pytest.raises(exceptions.ConnectionFailedError):
            client.register()


def test_registrations_in_threads_run_in_parallel(emulator):
    """register() releases the GIL: four 2-second waits in four threads take
    about 2 s, not 8 s, and the main thread keeps running meanwhile."""
    outcomes = []

    def register_silent():
        with client_for(emulator, "py-silent", register_timeout=2) as client:
            try:
                client.register()
            except exceptions.OperationTimeout as error:
                outcomes.append(error)

    threads = [threading.Thread(target=register_silent) for _ in range(4)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    main_thread_ticks = 0
    while any(thread.is_alive() for thread in threads):
        main_thread_ticks += 1
        time.sleep(0.01)
    elapsed = time.monotonic() - started
    assert len(outcomes) == 4
    assert elapsed < 6, elapsed
    assert main_thread_ticks > 50


def test_concurrent_register_on_one_client_is_refused_not_raced(emulator):
    client = client_for(emulator, "py-silent", register_timeout=2)
    errors = []
    started = threading.Event()
    native_client = client._native_client

    class SignallingNativeClient(object):
        """Forwards to the native client; tells when register was called."""

        def __getattr__(self, name):
            return getattr(native_client, name)

        def register(self):
            started.set()
            return native_client.register()

    client._native_client = SignallingNativeClient()

    def register():
        try:
            client.register()
        except Exception as error:  # collected and checked below
            errors.append(error)

    first = threading.Thread(target=register)
    first.start()
    assert started.wait(10)
    time.sleep(0.2)  # the native call is under way well before this ends
    # While the first registration is in flight: a second is refused at
    # once, and shutdown refuses to free the native client under it.
    with pytest.raises(exceptions.ClientError, match="(?i)busy|in flight|progress"):
        client.register()
    with pytest.raises(exceptions.ClientError, match="in flight"):
        client.shutdown()
    first.join()
    assert len(errors) == 1 and isinstance(errors[0], exceptions.OperationTimeout)
    client.shutdown()
