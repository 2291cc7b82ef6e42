"""Runs an example program against a fresh dps-emulator and checks that it
printed the assigned hub and the device id.

Usage: run_example.py EXAMPLE.py            (symmetric key: register.py)
       run_example.py --x509 EXAMPLE.py     (X.509: register_x509.py; the
                                             credentials come from
                                             `dps-emulator make-cert`)"""

import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import conftest  # noqa: E402  (the Emulator helper; no pytest run here)

X509_DEVICE = "py-example-x509"
PASS_PHRASE = "example-pass"


def x509_credentials(work):
    """A root CA and a device certificate it signed, with an encrypted key;
    returns (emulator config, environment for the example)."""
    binary = conftest.emulator_binary()

    def make_cert(*arguments):
        subprocess.run([binary, "make-cert", *arguments], cwd=work, check=True,
                       capture_output=True, timeout=60)

    make_cert("ca", "--cn", "example root", "--out-cert", "root.pem", "--out-key", "root.key")
    make_cert("device", "--cn", X509_DEVICE, "--issuer-cert", "root.pem", "--issuer-key",
              "root.key", "--pass-phrase", PASS_PHRASE, "--out-cert", "device.pem",
              "--out-key", "device.key")
    config = conftest.default_config()
    config["enrollments"].append(
        {"registrationId": X509_DEVICE, "deviceId": "py-device-x509",
         "attestation": {"type": "x509", "caCertificates": [os.path.join(work, "root.pem")]}})
    environment = {
        "DPS_X509_REGISTRATION_ID": X509_DEVICE,
        "X509_CERT_FILE": os.path.join(work, "device.pem"),
        "X509_KEY_FILE": os.path.join(work, "device.key"),
        "PASS_PHRASE": PASS_PHRASE,
    }
    return config, environment, "py-device-x509"


def main(arguments):
    use_x509 = arguments[0] == "--x509"
    example = arguments[-1]
    work = tempfile.mkdtemp(prefix="prov-py-example-")
    try:
        if use_x509:
            config, environment, device_id = x509_credentials(work)
        else:
            config = conftest.default_config()
            environment = {"PROVISIONING_REGISTRATION_ID": "py-dev-1",
                           "PROVISIONING_SYMMETRIC_KEY": conftest.DEVICE_KEY}
            device_id = "py-device-one"
        emulator = conftest.Emulator(config)
        try:
            ca_path = os.path.join(work, "ca.pem")
            with open(ca_path, "w") as ca_file:
                ca_file.write(emulator.ca_pem)
            environment = dict(os.environ, PROVISIONING_HOST=emulator.mqtt_host,
                               PROVISIONING_IDSCOPE=conftest.ID_SCOPE,
                               PROVISIONING_SERVER_CERT=ca_path, **environment)
            run = subprocess.run([sys.executable, example], env=environment,
                                 capture_output=True, text=True, timeout=60)
        finally:
            emulator.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    sys.stdout.write(run.stdout)
    sys.stderr.write(run.stderr)
    assert run.returncode == 0, "example exited with %d" % run.returncode
    hub_lines = [line for line in run.stdout.splitlines() if line.startswith("assigned hub: ")]
    assert hub_lines and hub_lines[0][len("assigned hub: "):] in conftest.HUBS, run.stdout
    assert "device id: " + device_id in run.stdout, run.stdout
    print("example OK")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
