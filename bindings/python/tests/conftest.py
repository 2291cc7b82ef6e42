"""Shared fixtures: a real dps-emulator process per test module, started on
ephemeral loopback ports with its own temporary data directory."""

import base64
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

ID_SCOPE = "0ne00000A0A"
HUBS = ["hub-1.example.net", "hub-2.example.net"]


def make_key(seed):
    """A deterministic 32-byte Base64 key, different per seed."""
    return base64.b64encode(seed.encode("ascii").ljust(32, b"#")[:32]).decode("ascii")


DEVICE_KEY = make_key("device-key")
GROUP_KEY = make_key("group-key")
WRONG_KEY = make_key("not-the-key")


def emulator_binary():
    path = os.environ.get("PROV_TEST_EMULATOR", "")
    if not path or not os.access(path, os.X_OK):
        pytest.fail(
            "PROV_TEST_EMULATOR must name the dps-emulator binary (set by ctest); got %r" % path
        )
    return path


class Emulator(object):
    """One dps-emulator process: serve with ports 0, wait for the ports file."""

    def __init__(self, config):
        self.binary = emulator_binary()
        self.data_dir = tempfile.mkdtemp(prefix="prov-py-emu-")
        config_path = os.path.join(self.data_dir, "config.json")
        with open(config_path, "w") as config_file:
            json.dump(config, config_file)
        self.ports_path = os.path.join(self.data_dir, "ports.json")
        self.log_path = os.path.join(self.data_dir, "emulator.log")
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            [self.binary, "serve", "--data-dir", os.path.join(self.data_dir, "data"),
             "--config", config_path, "--bind", "127.0.0.1", "--mqtt-port", "0",
             "--https-port", "0", "--admin-port", "0", "--ports-file", self.ports_path],
            stdout=self._log, stderr=subprocess.STDOUT)
        self.ports = self._wait_for_ports(timeout=30)
        ca_path = subprocess.run(
            [self.binary, "ca-path", "--data-dir", os.path.join(self.data_dir, "data")],
            check=True, capture_output=True, text=True, timeout=30).stdout.strip()
        with open(ca_path) as ca_file:
            self.ca_pem = ca_file.read()

    def _wait_for_ports(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("dps-emulator exited with %s; log:\n%s"
                                   % (self.process.returncode, self.log()))
            if os.path.exists(self.ports_path):
                with open(self.ports_path) as ports_file:
                    return json.load(ports_file)
            time.sleep(0.02)
        raise RuntimeError("dps-emulator wrote no ports file in %ss; log:\n%s" % (timeout, self.log()))

    @property
    def mqtt_host(self):
        return "localhost:%d" % self.ports["mqtt"]

    def log(self):
        with open(self.log_path, "rb") as log_file:
            return log_file.read().decode("utf-8", "replace")

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        shutil.rmtree(self.data_dir, ignore_errors=True)


def default_config():
    return {
        "idScope": ID_SCOPE,
        "iotHubs": HUBS,
        "enrollments": [
            {"registrationId": "py-dev-1", "deviceId": "py-device-one",
             "attestation": {"type": "symmetricKey", "primaryKey": DEVICE_KEY,
                             "secondaryKey": make_key("secondary")}},
            {"registrationId": "py-echo",
             "attestation": {"type": "symmetricKey", "primaryKey": DEVICE_KEY},
             "echoPayload": True},
            {"registrationId": "py-initial",
             "attestation": {"type": "symmetricKey", "primaryKey": DEVICE_KEY},
             "initialPayload": {"config": {"interval": 5}, "tags": ["a", "b"]}},
            {"registrationId": "py-disabled", "enabled": False,
             "attestation": {"type": "symmetricKey", "primaryKey": DEVICE_KEY}},
            {"registrationId": "py-silent",
             "attestation": {"type": "symmetricKey", "primaryKey": DEVICE_KEY}},
        ],
        "enrollmentGroups": [
            {"enrollmentGroupId": "py-group",
             "attestation": {"type": "symmetricKey", "primaryKey": GROUP_KEY}},
        ],
        "faults": [{"type": "silent", "registrationId": "py-silent"}],
    }


@pytest.fixture(scope="module")
def emulator():
    instance = Emulator(default_config())
    yield instance
    instance.stop()


@pytest.fixture
def sdk_kwargs(emulator):
    """What every test passes: trust the emulator's CA, short deadlines."""
    return {"server_verification_cert": emulator.ca_pem, "register_timeout": 20}
