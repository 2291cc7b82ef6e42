"""Interop: the official Python SDK (azure-iot-device from PyPI), unmodified,
registers against dps-emulator over MQTT and MQTT over WebSockets.

Run by netns-run.sh (private network namespace, emulator on localhost:8883/443):
    INTEROP_PY_TRANSPORT=mqtt|ws  python -m pytest test_provisioning.py
"""
import ast
import asyncio
import hashlib
import hmac
import json
import logging
import os
import secrets
import socket
import subprocess
import base64
import threading
import time
import urllib.request
from importlib.metadata import version

import pytest
from azure.iot.device import ProvisioningDeviceClient, ProxyOptions, X509, exceptions
from azure.iot.device.aio import ProvisioningDeviceClient as AioProvisioningDeviceClient


def _require_env(name):
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"{name} is not set: run this file through tests/interop/netns-run.sh")
    return value


TRANSPORT = _require_env("INTEROP_PY_TRANSPORT")
if TRANSPORT not in ("mqtt", "ws"):
    raise RuntimeError(f"INTEROP_PY_TRANSPORT must be 'mqtt' or 'ws', not {TRANSPORT!r}")
WEBSOCKETS = TRANSPORT == "ws"
with open(_require_env("INTEROP_FIXTURE"), encoding="utf-8") as _f:
    FIXTURE = json.load(_f)
HOST = _require_env("INTEROP_PROVISIONING_HOST")
ADMIN_PORT = int(_require_env("INTEROP_ADMIN_PORT"))
with open(_require_env("INTEROP_CA_PEM_PATH"), encoding="ascii") as _f:
    # The SDK takes the PEM text itself, not a path.
    ROOT_CA_PEM = _f.read()

# The SDK logs the service's response body at DEBUG before raising a generic
# ClientError; the tests read the 6-digit errorCode from there.
PIPELINE_LOGGER = "azure.iot.device.provisioning.pipeline.pipeline_stages_provisioning"
VALID_SUBSTATUS = {"initialAssignment", "deviceDataMigrated", "deviceDataReset", "reprovisionedToInitialAssignment"}


def device(registration_id):
    return FIXTURE["devices"][registration_id]


def random_key():
    return base64.b64encode(secrets.token_bytes(64)).decode()


def client_with_key(registration_id, key):
    return ProvisioningDeviceClient.create_from_symmetric_key(
        provisioning_host=HOST,
        registration_id=registration_id,
        id_scope=FIXTURE["idScope"],
        symmetric_key=key,
        server_verification_cert=ROOT_CA_PEM,
        websockets=WEBSOCKETS,
    )


def client_with_cert(registration_id, cert_file, key_file, pass_phrase=None):
    return ProvisioningDeviceClient.create_from_x509_certificate(
        provisioning_host=HOST,
        registration_id=registration_id,
        id_scope=FIXTURE["idScope"],
        x509=X509(cert_file=cert_file, key_file=key_file, pass_phrase=pass_phrase),
        server_verification_cert=ROOT_CA_PEM,
        websockets=WEBSOCKETS,
    )


def expect_failure(client):
    """register() must raise; returns the exception. Shuts the client down,
    since the SDK only does so itself after a successful registration."""
    try:
        with pytest.raises(exceptions.ClientError) as info:
            client.register()
        return info.value
    finally:
        _shut_down(client)


def _shut_down(client):
    # The public API has no shutdown(); without this, a failed client keeps its
    # MQTT connection and threads until the process exits.
    done = threading.Event()
    client._pipeline.shutdown(callback=lambda error=None: done.set())
    assert done.wait(10), "the SDK pipeline did not shut down within 10 s"


def logged_error_bodies(caplog):
    """Service error bodies the SDK logged ("Response body: {...}")."""
    bodies = []
    for record in caplog.records:
        message = record.getMessage()
        marker = "Response body: "
        if record.name == PIPELINE_LOGGER and marker in message:
            raw = message.split(marker, 1)[1].strip()
            if raw.startswith(("b'", 'b"')):
                # The SDK formats the raw bytes: b'{...}'
                raw = ast.literal_eval(raw).decode("utf-8")
            bodies.append(json.loads(raw))
    return bodies


def assert_assigned(result, expected_device_id, first_registration=True):
    assert result.status == "assigned"
    state = result.registration_state
    assert state.device_id == expected_device_id
    assert state.assigned_hub in FIXTURE["iotHubs"]
    if first_registration:
        assert state.sub_status == "initialAssignment"
    else:
        assert state.sub_status in VALID_SUBSTATUS
    assert state.created_date_time and state.last_update_date_time
    assert state.etag
    assert result.operation_id


def assert_unauthorized(err, caplog):
    # register request -> res/401 -> ServiceError -> ClientError("Unexpected failure")
    assert type(err) is exceptions.ClientError, repr(err)
    cause = err.__cause__
    assert cause is not None and type(cause).__name__ == "ServiceError", repr(cause)
    assert "status code 401" in str(cause), str(cause)
    bodies = logged_error_bodies(caplog)
    assert bodies, "the SDK logged the service's error body"
    assert bodies[-1]["errorCode"] in (401002, 401000), bodies[-1]
    assert bodies[-1]["trackingId"] and bodies[-1]["message"] and bodies[-1]["timestampUtc"]


def admin_registrations():
    with urllib.request.urlopen(f"http://127.0.0.1:{ADMIN_PORT}/registrations", timeout=10) as response:
        return json.load(response)


def find_record(doc, registration_id):
    stack = [doc]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            rid = node.get("registrationId")
            if isinstance(rid, str) and rid.lower() == registration_id.lower():
                return node
            stack.extend(node.values())
    return None


@pytest.fixture(autouse=True)
def _debug_logs(caplog):
    caplog.set_level(logging.DEBUG, logger=PIPELINE_LOGGER)


def test_sdk_version_recorded():
    print(f"azure-iot-device {version('azure-iot-device')}, paho-mqtt {version('paho-mqtt')}, transport {TRANSPORT}")
    assert version("azure-iot-device") == "2.14.0"


def test_symmetric_key_individual():
    d = device("sym-dev-1")
    result = client_with_key(d["registrationId"], d["symmetricKey"]).register()
    assert_assigned(result, "sym-dev-1-as-device")
    record = find_record(admin_registrations(), d["registrationId"])
    assert record is not None, "the emulator stored a registration record"
    assert record["assignedHub"] == result.registration_state.assigned_hub


def test_symmetric_key_reregistration_with_secondary_key_keeps_identity():
    d = device("sym-dev-1")
    first = client_with_key(d["registrationId"], d["symmetricKey"]).register()
    second = client_with_key(d["registrationId"], d["secondaryKey"]).register()
    assert_assigned(second, "sym-dev-1-as-device", first_registration=False)
    assert second.registration_state.assigned_hub == first.registration_state.assigned_hub
    assert second.registration_state.created_date_time == first.registration_state.created_date_time
    assert second.registration_state.etag != first.registration_state.etag


@pytest.mark.parametrize("registration_id", ["group-dev-a", "group-dev-b"])
def test_symmetric_key_group_derived_key(registration_id):
    d = device(registration_id)
    result = client_with_key(d["registrationId"], d["symmetricKey"]).register()
    assert_assigned(result, registration_id)


def test_payload_round_trip_echo():
    d = device("sym-echo-1")
    client = client_with_key(d["registrationId"], d["symmetricKey"])
    payload = {"modelId": "dtmi:interop:thermostat;1", "firmware": {"version": "1.2.3"}, "n": 7}
    client.provisioning_payload = payload
    result = client.register()
    assert_assigned(result, d["registrationId"])
    # response_payload is the payload re-serialized with sorted keys.
    assert json.loads(result.registration_state.response_payload) == payload


def test_enrollment_initial_payload():
    d = device("sym-payload-1")
    result = client_with_key(d["registrationId"], d["symmetricKey"]).register()
    assert_assigned(result, d["registrationId"])
    assert json.loads(result.registration_state.response_payload) == {
        "color": "blue",
        "answer": 42,
        "nested": {"ok": True},
    }


def test_slow_assignment_polls_until_assigned():
    d = device("sym-slow-1")
    started = time.monotonic()
    result = client_with_key(d["registrationId"], d["symmetricKey"]).register()
    elapsed = time.monotonic() - started
    assert_assigned(result, d["registrationId"])
    # The SDK's first poll always waits 2 s; an instant result means no 202 happened.
    assert elapsed >= 1.8, f"registration took {elapsed:.2f} s: no 202 assigning / poll happened"
    assert elapsed < 15


def test_x509_individual_thumbprint():
    d = device("x509-self-1")
    result = client_with_cert(d["registrationId"], d["cert"], d["key"]).register()
    assert_assigned(result, d["registrationId"])


@pytest.mark.parametrize("registration_id", ["x509-grp-dev-1", "x509-grp-dev-2"])
def test_x509_ca_group_with_intermediate(registration_id):
    d = device(registration_id)
    result = client_with_cert(d["registrationId"], d["cert"], d["key"]).register()
    assert_assigned(result, registration_id)


def test_x509_encrypted_private_key():
    d = device("x509-enckey-1")
    result = client_with_cert(d["registrationId"], d["cert"], d["key"], pass_phrase=d["passPhrase"]).register()
    assert_assigned(result, d["registrationId"])


def test_x509_group_enrolled_intermediate():
    d = device("x509-igrp-dev-1")
    result = client_with_cert(d["registrationId"], d["cert"], d["key"]).register()
    assert_assigned(result, d["registrationId"])


def test_async_client_concurrent_group_devices():
    """The asyncio client (azure.iot.device.aio), ten devices at once."""
    with open(os.path.join(_require_env("INTEROP_WORKDIR"), "config.json"), encoding="utf-8") as f:
        config = json.load(f)
    group_key = next(
        g["attestation"]["primaryKey"] for g in config["enrollmentGroups"] if g["enrollmentGroupId"] == "interop-sym-group"
    )
    ids = [f"aio-{TRANSPORT}-{i:02d}" for i in range(10)]

    async def register(registration_id):
        derived = base64.b64encode(
            hmac.new(base64.b64decode(group_key), registration_id.encode(), hashlib.sha256).digest()
        ).decode()
        client = AioProvisioningDeviceClient.create_from_symmetric_key(
            provisioning_host=HOST,
            registration_id=registration_id,
            id_scope=FIXTURE["idScope"],
            symmetric_key=derived,
            server_verification_cert=ROOT_CA_PEM,
            websockets=WEBSOCKETS,
        )
        return await asyncio.wait_for(client.register(), timeout=40)

    async def register_all():
        return await asyncio.gather(*(register(i) for i in ids))

    results = asyncio.run(register_all())
    for registration_id, result in zip(ids, results):
        assert_assigned(result, registration_id)
    records = admin_registrations()
    for registration_id in ids:
        assert find_record(records, registration_id) is not None, registration_id


def test_throttled_twice_then_assigned():
    d = device("sym-throttled-1")
    started = time.monotonic()
    result = client_with_key(d["registrationId"], d["symmetricKey"]).register()
    elapsed = time.monotonic() - started
    assert_assigned(result, d["registrationId"])
    # Python retries status >= 429 after retry-after (1 s here), twice.
    assert elapsed >= 1.9, f"registration took {elapsed:.2f} s; expected two 1 s retry-after waits"
    assert elapsed < 20


def test_wrong_key_is_unauthorized(caplog):
    d = device("sym-dev-1")
    assert_unauthorized(expect_failure(client_with_key(d["registrationId"], random_key())), caplog)


def test_unknown_registration_is_unauthorized(caplog):
    err = expect_failure(client_with_key("no-such-device-in-any-enrollment", random_key()))
    assert_unauthorized(err, caplog)


def test_group_key_for_another_device_is_unauthorized(caplog):
    a, b = device("group-dev-a"), device("group-dev-b")
    assert_unauthorized(expect_failure(client_with_key(b["registrationId"], a["symmetricKey"])), caplog)


def test_x509_from_untrusted_ca_is_unauthorized(caplog):
    d = device("x509-rogue-1")
    assert_unauthorized(expect_failure(client_with_cert(d["registrationId"], d["cert"], d["key"])), caplog)


def test_x509_registration_id_not_matching_certificate_cn_is_unauthorized(caplog):
    d = device("x509-grp-dev-2")
    err = expect_failure(client_with_cert("x509-grp-dev-impostor", d["cert"], d["key"]))
    assert_unauthorized(err, caplog)


def test_disabled_enrollment():
    d = device("sym-disabled-1")
    err = expect_failure(client_with_key(d["registrationId"], d["symmetricKey"]))
    # 200 with status "disabled": the SDK raises ClientError caused by ServiceError.
    assert type(err) is exceptions.ClientError, repr(err)
    cause = err.__cause__
    assert type(cause).__name__ == "ServiceError", repr(cause)
    assert "invalid registration status disabled" in str(cause), str(cause)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_listening(port, process, what):
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        assert process.poll() is None, f"{what} exited early with status {process.returncode}"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"{what} did not listen on 127.0.0.1:{port} within 10 s")


@pytest.fixture
def socks5_proxy(tmp_path):
    """A real SOCKS5 proxy (microsocks) with user/password authentication."""
    port = _free_port()
    log_path = tmp_path / "microsocks.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            ["microsocks", "-i", "127.0.0.1", "-p", str(port), "-u", "interop", "-P", "proxy-secret"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_listening(port, process, "microsocks")
        yield port, log_path
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture
def http_proxy(tmp_path):
    """A real HTTP CONNECT proxy (tinyproxy) that allows any target port."""
    port = _free_port()
    log_path = tmp_path / "tinyproxy.log"
    conf = tmp_path / "tinyproxy.conf"
    conf.write_text(
        f"Port {port}\nListen 127.0.0.1\nTimeout 60\nLogFile \"{log_path}\"\nLogLevel Connect\n"
        "MaxClients 20\nAllow 127.0.0.1\n"
    )
    process = subprocess.Popen(["tinyproxy", "-d", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        _wait_listening(port, process, "tinyproxy")
        yield port, log_path
    finally:
        process.terminate()
        process.wait(10)


SERVICE_PORT = "443" if WEBSOCKETS else "8883"


def test_through_socks5_proxy_with_authentication(socks5_proxy):
    port, log_path = socks5_proxy
    d = device("group-dev-a")
    client = ProvisioningDeviceClient.create_from_symmetric_key(
        provisioning_host=HOST,
        registration_id=d["registrationId"],
        id_scope=FIXTURE["idScope"],
        symmetric_key=d["symmetricKey"],
        server_verification_cert=ROOT_CA_PEM,
        websockets=WEBSOCKETS,
        proxy_options=ProxyOptions("SOCKS5", "127.0.0.1", port, "interop", "proxy-secret"),
    )
    assert_assigned(client.register(), d["registrationId"], first_registration=False)
    log = log_path.read_text(errors="replace")
    assert f"connected to {HOST}:{SERVICE_PORT}" in log, f"microsocks did not carry the connection: {log!r}"


def test_through_http_connect_proxy(http_proxy):
    port, log_path = http_proxy
    d = device("x509-grp-dev-1")
    client = ProvisioningDeviceClient.create_from_x509_certificate(
        provisioning_host=HOST,
        registration_id=d["registrationId"],
        id_scope=FIXTURE["idScope"],
        x509=X509(cert_file=d["cert"], key_file=d["key"]),
        server_verification_cert=ROOT_CA_PEM,
        websockets=WEBSOCKETS,
        proxy_options=ProxyOptions("HTTP", "127.0.0.1", port),
    )
    assert_assigned(client.register(), d["registrationId"], first_registration=False)
    log = log_path.read_text(errors="replace")
    assert f"CONNECT {HOST}:{SERVICE_PORT} HTTP/1.1" in log, f"tinyproxy did not carry the connection: {log!r}"


def admin_request(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{ADMIN_PORT}{path}", data=data, method=method)
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def test_service_error_503_once_is_retried():
    d = device("group-dev-b")
    fault = {"type": "error", "status": 503, "every": 1, "count": 1, "retryAfterSeconds": 1,
             "registrationId": d["registrationId"]}
    admin_request("PUT", "/faults", {"faults": [fault]})
    try:
        # The SDK retries any status >= 429 after retry-after.
        result = client_with_key(d["registrationId"], d["symmetricKey"]).register()
        assert_assigned(result, d["registrationId"], first_registration=False)
    finally:
        admin_request("DELETE", "/faults")


def test_zz_emulator_counters_confirm_transport():
    """Runs last (file order): the emulator's counters show which transport
    carried the requests and that throttling was really injected."""
    expected = "mqtt-ws" if WEBSOCKETS else "mqtt"
    with urllib.request.urlopen(f"http://127.0.0.1:{ADMIN_PORT}/stats", timeout=10) as response:
        stats = json.load(response)
    by_transport = stats.get("requestsByTransport", {})
    assert list(by_transport) == [expected], by_transport
    assert by_transport[expected] >= 15, by_transport
    assert stats.get("faultsInjected", {}).get("throttle") == 2, stats.get("faultsInjected")
    assert stats.get("faultsInjected", {}).get("error") == 1, stats.get("faultsInjected")
