"""Runs an example program against a fresh dps-emulator and checks that it
printed the assigned hub and the device id. Usage: run_example.py EXAMPLE.py"""

import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import conftest  # noqa: E402  (the Emulator helper; no pytest run here)


def main(example):
    emulator = conftest.Emulator(conftest.default_config())
    try:
        with tempfile.NamedTemporaryFile("w", suffix=".pem", delete=False) as ca_file:
            ca_file.write(emulator.ca_pem)
        environment = dict(os.environ,
                           PROVISIONING_HOST=emulator.mqtt_host,
                           PROVISIONING_IDSCOPE=conftest.ID_SCOPE,
                           PROVISIONING_REGISTRATION_ID="py-dev-1",
                           PROVISIONING_SYMMETRIC_KEY=conftest.DEVICE_KEY,
                           PROVISIONING_SERVER_CERT=ca_file.name)
        run = subprocess.run([sys.executable, example], env=environment, capture_output=True,
                             text=True, timeout=60)
        os.unlink(ca_file.name)
        sys.stdout.write(run.stdout)
        sys.stderr.write(run.stderr)
        assert run.returncode == 0, "example exited with %d" % run.returncode
        hub_lines = [line for line in run.stdout.splitlines() if line.startswith("assigned hub: ")]
        assert hub_lines and hub_lines[0][len("assigned hub: "):] in conftest.HUBS, run.stdout
        assert "device id: py-device-one" in run.stdout, run.stdout
    finally:
        emulator.stop()
    print("example OK")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
