"""The `prov` CLI's network flags (--transport, --proxy, --proxy-ca-file,
--keep-alive) against a real dps-emulator and a real SOCKS5 proxy
(microsocks, with username/password), all on free loopback ports.

Run by ctest (PROV_CLI and PROV_TEST_EMULATOR name the binaries); a missing
binary is a failure, never a skip.
"""

import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

ID_SCOPE = "0ne00000A0A"
DEVICE = "dev-cli-net"
KEY = "bGlicHJvdi10cmFuc3BvcnRzLWtleSoqKioqKioqKio="
PROXY_USER = "cli-user"
PROXY_PASSWORD = "cli-proxy-secret"


def _binary(variable):
    path = os.environ.get(variable, "")
    if not path or not os.access(path, os.X_OK):
        pytest.fail(f"{variable} must name an executable (got {path!r}); run via ctest")
    return path


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_listening(port, process, what):
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{what} exited with {process.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    pytest.fail(f"{what} did not listen on {port}")


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    work = tmp_path_factory.mktemp("emu")
    config = {
        "idScope": ID_SCOPE,
        "iotHubs": ["hub-1.example.net", "hub-2.example.net"],
        "enrollments": [{"registrationId": DEVICE, "deviceId": "cli-net-device",
                         "attestation": {"type": "symmetricKey", "primaryKey": KEY}}],
    }
    (work / "config.json").write_text(json.dumps(config))
    ports_file = work / "ports.json"
    log = open(work / "emulator.log", "w")
    process = subprocess.Popen(
        [_binary("PROV_TEST_EMULATOR"), "serve", "--data-dir", str(work / "data"),
         "--config", str(work / "config.json"), "--mqtt-port", "0", "--https-port", "0",
         "--admin-port", "0", "--ports-file", str(ports_file)],
        stdout=log, stderr=log)
    deadline = time.monotonic() + 30
    ports = None
    while time.monotonic() < deadline and ports is None:
        if process.poll() is not None:
            pytest.fail(f"dps-emulator exited with {process.returncode}")
        if ports_file.exists():
            ports = json.loads(ports_file.read_text())
        else:
            time.sleep(0.05)
    if ports is None:
        process.kill()
        pytest.fail("dps-emulator did not write its ports file")
    ca_file = work / "data" / "pki" / "root-ca.pem"
    yield {"ports": ports, "ca_file": str(ca_file), "work": work}
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=10)
    log.close()


@pytest.fixture
def socks_proxy(tmp_path):
    port = _free_port()
    log_path = tmp_path / "microsocks.log"
    log = open(log_path, "w")
    process = subprocess.Popen(
        ["microsocks", "-i", "127.0.0.1", "-p", str(port), "-u", PROXY_USER, "-P", PROXY_PASSWORD],
        stdout=log, stderr=log)
    _wait_listening(port, process, "microsocks")
    yield {"port": port, "log": log_path}
    process.terminate()
    process.wait(timeout=5)
    log.close()


def run_cli(emulator, transport, *extra):
    port = emulator["ports"]["mqtt" if transport == "mqtt" else "https"]
    command = [_binary("PROV_CLI"), "register", "--host", f"127.0.0.1:{port}",
               "--id-scope", ID_SCOPE, "--registration-id", DEVICE,
               "--ca-file", emulator["ca_file"], "--transport", transport, "--timeout", "20",
               *extra]
    env = dict(os.environ, PROV_SYMMETRIC_KEY=KEY)
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=60), port


@pytest.mark.parametrize("transport", ["mqtt", "mqtt-ws", "https"])
def test_register_through_socks5_with_auth(emulator, socks_proxy, transport):
    url = f"socks5h://{PROXY_USER}:{PROXY_PASSWORD}@127.0.0.1:{socks_proxy['port']}"
    done, port = run_cli(emulator, transport, "--proxy", url, "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "assigned"
    assert result["deviceId"] == "cli-net-device"
    assert result["registrationId"] == DEVICE
    assert f"connected to 127.0.0.1:{port}" in socks_proxy["log"].read_text()


@pytest.mark.parametrize("transport", ["mqtt", "mqtt-ws", "https"])
def test_wrong_proxy_password_names_the_proxy_not_the_password(emulator, socks_proxy, transport):
    url = f"socks5://{PROXY_USER}:wrong-{PROXY_PASSWORD}@127.0.0.1:{socks_proxy['port']}"
    done, _ = run_cli(emulator, transport, "--proxy", url)
    assert done.returncode == 4, done.stderr  # connection failed
    assert f"proxy socks5://127.0.0.1:{socks_proxy['port']}" in done.stderr
    assert "rejected the proxy credentials" in done.stderr
    assert PROXY_PASSWORD not in done.stderr + done.stdout


def test_proxy_from_the_environment(emulator, socks_proxy):
    url = f"socks5h://{PROXY_USER}:{PROXY_PASSWORD}@127.0.0.1:{socks_proxy['port']}"
    port = emulator["ports"]["https"]
    command = [_binary("PROV_CLI"), "register", "--host", f"127.0.0.1:{port}",
               "--id-scope", ID_SCOPE, "--registration-id", DEVICE,
               "--ca-file", emulator["ca_file"], "--transport", "https"]
    env = dict(os.environ, PROV_SYMMETRIC_KEY=KEY, PROV_PROXY_URL=url)
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert f"connected to 127.0.0.1:{port}" in socks_proxy["log"].read_text()


def test_keep_alive_does_not_apply_to_https(emulator):
    done, _ = run_cli(emulator, "https", "--keep-alive", "30")
    assert done.returncode == 2, done.stderr
    assert "keep_alive" in done.stderr and "HTTPS" in done.stderr


def test_unknown_transport_and_bad_proxy_url_are_usage_errors(emulator):
    done, _ = run_cli(emulator, "carrier-pigeon")
    assert done.returncode == 2
    assert "--transport" in done.stderr
    done, _ = run_cli(emulator, "mqtt", "--proxy", "gopher://u:hidden-pw@h:70")
    assert done.returncode == 2
    assert "--proxy" in done.stderr or "proxy" in done.stderr
    assert "hidden-pw" not in done.stderr + done.stdout


def test_same_result_fields_on_every_transport(emulator):
    results = []
    for transport in ["mqtt", "mqtt-ws", "https"]:
        done, _ = run_cli(emulator, transport, "--json")
        assert done.returncode == 0, done.stderr
        results.append(json.loads(done.stdout))
    keys = [sorted(r.keys()) for r in results]
    assert keys[0] == keys[1] == keys[2]
    for field in ("status", "registrationId", "assignedHub", "deviceId", "substatus"):
        assert results[0][field] is not None, field
        assert results[0][field] == results[1][field] == results[2][field], field
