"""Paho MQTT C (Debian libpaho-mqtt-dev), an independent MQTT client, completes the DPS exchange
against the emulator over TLS and over WebSockets, with a symmetric key and with X.509."""

import os
import subprocess

import pytest

import dps_client as dc
from conftest import GROUP_KEY, KEY_1, SCOPE, base_config, make_cert


@pytest.fixture(scope="module")
def paho():
    path = os.environ.get("PAHO_DPS_CLIENT")
    assert path and os.access(path, os.X_OK), "PAHO_DPS_CLIENT not built (libpaho-mqtt-dev)"
    return path


@pytest.fixture(scope="module")
def emu(emulator_bin, tmp_path_factory):
    d = tmp_path_factory.mktemp("paho")
    make_cert(emulator_bin, "device", "--cn", "paho-x509", "--out-cert", str(d / "c.pem"),
              "--out-key", str(d / "c.key"))
    thumb = subprocess.run([emulator_bin, "make-cert", "thumbprint", "--cert", str(d / "c.pem")],
                           capture_output=True, text=True, check=True).stdout.strip()
    config = base_config()
    config["enrollments"].append({"registrationId": "paho-x509",
                                  "attestation": {"type": "x509", "thumbprint": thumb}})
    e = dc.EmulatorProcess(emulator_bin, config).start()
    e.cert_dir = d
    yield e
    e.cleanup()


def run(paho, uri, ca, reg, sas, *cert):
    out = subprocess.run([paho, uri, ca, SCOPE, reg, sas, *cert], capture_output=True, text=True,
                         timeout=60)
    return out.returncode, out.stdout, out.stderr


@pytest.mark.parametrize("websocket", [False, True])
def test_paho_symmetric_key(paho, emu, websocket):
    uri = (f"wss://127.0.0.1:{emu.ports['https']}/$iothub/websocket" if websocket
           else f"ssl://127.0.0.1:{emu.ports['mqtt']}")
    rc, out, err = run(paho, uri, emu.ca_path, "dev-1", dc.sas_token(SCOPE, "dev-1", KEY_1))
    assert rc == 0, (out, err, emu.log_text()[-2000:])
    assert '"status":"assigned"' in out and '"deviceId":"device-one"' in out


def test_paho_polling(paho, emu):
    rc, out, err = run(paho, f"ssl://127.0.0.1:{emu.ports['mqtt']}", emu.ca_path, "dev-slow",
                       dc.sas_token(SCOPE, "dev-slow", KEY_1))
    assert rc == 0, (out, err)


def test_paho_group_key_and_echo(paho, emu):
    key = dc.derive_device_key(GROUP_KEY, "paho-group-1")
    rc, out, err = run(paho, f"wss://127.0.0.1:{emu.ports['https']}/", emu.ca_path,
                       "paho-group-1", dc.sas_token(SCOPE, "paho-group-1", key, sr_style="lower"))
    assert rc == 0, (out, err)
    assert '"payload":{"client":"paho"}' in out


def test_paho_x509(paho, emu):
    d = emu.cert_dir
    rc, out, err = run(paho, f"ssl://127.0.0.1:{emu.ports['mqtt']}", emu.ca_path, "paho-x509",
                       "-", str(d / "c.pem"), str(d / "c.key"))
    assert rc == 0, (out, err)


def test_paho_sees_401(paho, emu):
    rc, out, err = run(paho, f"ssl://127.0.0.1:{emu.ports['mqtt']}", emu.ca_path, "dev-1",
                       dc.sas_token(SCOPE, "dev-1", "d3Jvbmcta2V5LXdyb25nLWtleQ=="))
    assert rc == 3, (out, err)
    assert "res/401/?$rid=1" in out and "401002" in out
