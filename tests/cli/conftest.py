"""Shared fixtures of the `prov` CLI tests.

The tests run the real `prov` binary (PROV_CLI) against a real dps-emulator
process (PROV_TEST_EMULATOR), both set by ctest. A missing binary is a
failure, never a skip: a suite that skips itself into green proves nothing.
"""

import base64
import contextlib
import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

ID_SCOPE = "0ne00000A0A"
HUBS = ["hub-1.example.net", "hub-2.example.net"]


def _binary(variable):
    path = os.environ.get(variable, "")
    if not path or not os.access(path, os.X_OK):
        pytest.fail(f"{variable} must name an executable (got {path!r}); run these tests via ctest")
    return path


@pytest.fixture(scope="session")
def prov_bin():
    return _binary("PROV_CLI")


@pytest.fixture(scope="session")
def emulator_bin():
    return _binary("PROV_TEST_EMULATOR")


def make_key(seed):
    """A deterministic, valid 32-byte symmetric key (Base64)."""
    return base64.b64encode(hashlib.sha256(seed.encode()).digest()).decode()


def derive_device_key(group_key, registration_id):
    """The group-enrollment key derivation, done independently of libprov."""
    digest = hmac.new(base64.b64decode(group_key), registration_id.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def free_closed_port():
    """A loopback port on which nothing listens (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Emulator:
    """A dps-emulator process with its own data dir and ports (port 0)."""

    def __init__(self, binary, work_dir, config):
        self.binary = binary
        self.work_dir = Path(work_dir)
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir = self.work_dir / "data"
        self.config_path = self.work_dir / "config.json"
        self.config_path.write_text(json.dumps(config, indent=2))
        self.ports_file = self.work_dir / "ports.json"
        self.log_path = self.work_dir / "emulator.log"
        self.process = None
        self.ports = None

    def start(self):
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            [self.binary, "serve", "--data-dir", str(self.data_dir), "--config",
             str(self.config_path), "--bind", "127.0.0.1", "--mqtt-port", "0", "--https-port", "0",
             "--admin-port", "0", "--ports-file", str(self.ports_file)],
            stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            if self.ports_file.exists():
                with contextlib.suppress(ValueError):
                    self.ports = json.loads(self.ports_file.read_text())
                    break
            time.sleep(0.05)
        if self.ports is None:
            self.stop()
            pytest.fail("dps-emulator did not start; its log:\n" + self.log_path.read_text())
        self.ca_file = subprocess.run(
            [self.binary, "ca-path", "--data-dir", str(self.data_dir)],
            check=True, capture_output=True, text=True, timeout=30).stdout.strip()
        return self

    @property
    def host(self):
        return f"localhost:{self.ports['mqtt']}"

    def common_args(self):
        return ["--host", self.host, "--id-scope", ID_SCOPE, "--ca-file", self.ca_file]

    def list_records(self):
        result = subprocess.run([self.binary, "list", "--data-dir", str(self.data_dir), "--json"],
                                capture_output=True, text=True, timeout=30)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if getattr(self, "_log", None):
            self._log.close()


@pytest.fixture
def start_emulator(emulator_bin, tmp_path_factory):
    """Factory: start_emulator(config) -> running Emulator, stopped at teardown."""
    started = []

    def start(config):
        emulator = Emulator(emulator_bin, tmp_path_factory.mktemp("emulator"), config)
        started.append(emulator)
        return emulator.start()

    yield start
    for emulator in started:
        emulator.stop()


class ProvRunner:
    """Runs `prov` and checks, on every run, that no secret reached its output."""

    def __init__(self, binary):
        self.binary = binary

    def __call__(self, *args, secrets=(), env=None, timeout=60, input_text=None):
        full_env = {k: v for k, v in os.environ.items()
                    if k not in ("PROV_SYMMETRIC_KEY", "PROV_GROUP_KEY")}
        if env:
            full_env.update(env)
        result = subprocess.run([self.binary, *map(str, args)], capture_output=True, text=True,
                                env=full_env, timeout=timeout, input=input_text)
        for secret in secrets:
            assert secret not in result.stdout, "a secret appeared on stdout"
            assert secret not in result.stderr, "a secret appeared on stderr"
        return result


@pytest.fixture(scope="session")
def prov(prov_bin):
    return ProvRunner(prov_bin)
