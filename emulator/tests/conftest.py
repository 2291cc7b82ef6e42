"""Shared fixtures for the emulator's Python test suites."""

import os
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

import dps_client  # noqa: E402

SCOPE = "0ne00000A0A"
KEY_1 = "ZGV2aWNlLW9uZS1wcmltYXJ5LWtleS10ZXN0LW9ubHktMDE="
KEY_1B = "ZGV2aWNlLW9uZS1zZWNvbmRhcnkta2V5LXRlc3Qtb25seQ=="
GROUP_KEY = "ZmFrZS1ncm91cC1rZXktZm9yLXRlc3RzLW9ubHktMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMA=="


@pytest.fixture(scope="session")
def emulator_bin():
    path = os.environ.get("DPS_EMULATOR")
    assert path and os.access(path, os.X_OK), "set DPS_EMULATOR to the dps-emulator binary"
    return path


def make_cert(emulator_bin, *args):
    subprocess.run([emulator_bin, "make-cert", *args], check=True, capture_output=True)


def base_config(**extra):
    config = {
        "idScope": SCOPE,
        "iotHubs": ["hub-1.example.net", "hub-2.example.net", "hub-3.example.net"],
        "enrollments": [
            {"registrationId": "dev-1", "deviceId": "device-one",
             "attestation": {"type": "symmetricKey", "primaryKey": KEY_1, "secondaryKey": KEY_1B},
             "initialPayload": {"greeting": "hi"}},
            {"registrationId": "dev-disabled", "enabled": False,
             "attestation": {"type": "symmetricKey", "primaryKey": KEY_1}},
            {"registrationId": "dev-slow", "assignmentDelayMs": 300, "retryAfterSeconds": 1,
             "attestation": {"type": "symmetricKey", "primaryKey": KEY_1}},
            {"registrationId": "dev-throttled",
             "attestation": {"type": "symmetricKey", "primaryKey": KEY_1},
             "faults": [{"type": "throttle", "every": 2, "retryAfterSeconds": 7}]},
            {"registrationId": "dev-sticky", "iotHubs": ["only-hub.example.net"],
             "reprovisionPolicy": {"updateHubAssignment": False, "migrateDeviceData": False},
             "attestation": {"type": "symmetricKey", "primaryKey": KEY_1}},
        ],
        "enrollmentGroups": [
            {"enrollmentGroupId": "group-sym", "echoPayload": True,
             "attestation": {"type": "symmetricKey", "primaryKey": GROUP_KEY}},
        ],
    }
    config.update(extra)
    return config


@pytest.fixture
def emulator_factory(emulator_bin):
    started = []

    def factory(config=None, **kwargs):
        emu = dps_client.EmulatorProcess(emulator_bin, config, **kwargs)
        started.append(emu)
        return emu.start()

    yield factory
    for emu in started:
        emu.cleanup()
