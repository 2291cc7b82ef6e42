#!/usr/bin/env python3
"""Creates the credentials and the dps-emulator config for one interop run.

Writes into WORKDIR:
  config.json   the emulator config (enrollments, per-enrollment faults)
  fixture.json  what the SDK tests need to know: id scope, hubs, and per device
                the registration id, key or certificate paths, expectations
  creds/        X.509 test credentials made with `dps-emulator make-cert`

Symmetric keys are random per run; group-derived keys and certificate
thumbprints are computed here with the Python standard library, independently
of the emulator, so the emulator's own derivation is checked, not trusted.
Only the standard library is used: this runs before any venv exists.
"""
import argparse
import base64
import hashlib
import hmac
import json
import os
import secrets
import ssl
import subprocess
import sys

ID_SCOPE = "0ne00000A0A"
IOT_HUBS = ["hub-1.interop.example.net", "hub-2.interop.example.net"]


def random_key() -> str:
    """A 64-byte key, the size the real service generates."""
    return base64.b64encode(secrets.token_bytes(64)).decode()


def derive_device_key(group_key_b64: str, registration_id: str) -> str:
    """DPS group enrollment key derivation (HMAC-SHA256 of the registration id)."""
    mac = hmac.new(base64.b64decode(group_key_b64), registration_id.encode(), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


def leaf_sha256_thumbprint(cert_path: str) -> str:
    with open(cert_path, encoding="ascii") as f:
        pem = f.read()
    end_marker = "-----END CERTIFICATE-----"
    leaf_pem = pem[: pem.index(end_marker) + len(end_marker)] + "\n"
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(leaf_pem)).hexdigest()


class CertMaker:
    """Runs `dps-emulator make-cert` (the emulator's test-credential subcommand)."""

    def __init__(self, emulator: str, out_dir: str):
        self.emulator = emulator
        self.out_dir = out_dir
        os.makedirs(out_dir, exist_ok=True)

    def _run(self, args):
        cmd = [self.emulator, "make-cert"] + args
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        if proc.returncode != 0:
            sys.exit(
                "make_fixture: `%s` failed (exit %d):\n%s%s"
                % (" ".join(cmd), proc.returncode, proc.stdout, proc.stderr)
            )

    def paths(self, name):
        return (os.path.join(self.out_dir, name + ".cert.pem"), os.path.join(self.out_dir, name + ".key.pem"))

    def ca(self, name, cn, issuer=None):
        cert, key = self.paths(name)
        args = ["ca", "--cn", cn, "--out-cert", cert, "--out-key", key]
        if issuer:
            args += ["--issuer-cert", issuer[0], "--issuer-key", issuer[1]]
        self._run(args)
        return cert, key

    def device(self, registration_id, issuer=None, chain=False, pass_phrase=None):
        cert, key = self.paths(registration_id)
        args = ["device", "--cn", registration_id, "--out-cert", cert, "--out-key", key]
        if issuer:
            args += ["--issuer-cert", issuer[0], "--issuer-key", issuer[1]]
        if chain:
            args.append("--chain")
        if pass_phrase:
            args += ["--pass-phrase", pass_phrase]
        self._run(args)
        return cert, key


def build(emulator: str, workdir: str):
    # Absolute paths: the emulator resolves relative ones against the config file.
    certs = CertMaker(emulator, os.path.join(os.path.abspath(workdir), "creds"))
    enrollments, groups, devices = [], [], {}

    def sym_individual(registration_id, **extra):
        primary, secondary = random_key(), random_key()
        enrollment = {
            "registrationId": registration_id,
            "attestation": {"type": "symmetricKey", "primaryKey": primary, "secondaryKey": secondary},
        }
        enrollment.update(extra)
        enrollments.append(enrollment)
        devices[registration_id] = {
            "registrationId": registration_id,
            "symmetricKey": primary,
            "secondaryKey": secondary,
            "deviceId": extra.get("deviceId", registration_id),
        }

    # Symmetric key, individual: a fixed device id, served from the secondary key too.
    sym_individual("sym-dev-1", deviceId="sym-dev-1-as-device")
    # Device payload echoed back in registrationState.payload.
    sym_individual("sym-echo-1", echoPayload=True)
    # Enrollment initial payload returned to the device.
    sym_individual("sym-payload-1", initialPayload={"color": "blue", "answer": 42, "nested": {"ok": True}})
    # Slow assignment: 202 assigning + retry-after, then polling to 200 assigned.
    sym_individual("sym-slow-1", assignmentDelayMs=1500, retryAfterSeconds=1)
    # Disabled enrollment: the service answers status "disabled".
    sym_individual("sym-disabled-1", enabled=False)
    # Throttled twice (429 + retry-after 1), then served.
    sym_individual(
        "sym-throttled-1", faults=[{"type": "throttle", "every": 1, "count": 2, "retryAfterSeconds": 1}]
    )

    # Symmetric key group: devices use keys derived from the group key.
    group_key = random_key()
    groups.append(
        {
            "enrollmentGroupId": "interop-sym-group",
            "attestation": {"type": "symmetricKey", "primaryKey": group_key},
        }
    )
    for registration_id in ("group-dev-a", "group-dev-b"):
        devices[registration_id] = {
            "registrationId": registration_id,
            "symmetricKey": derive_device_key(group_key, registration_id),
            "deviceId": registration_id,
            "group": "interop-sym-group",
        }

    # X.509 individual enrollment by thumbprint of a self-signed device certificate.
    cert, key = certs.device("x509-self-1")
    enrollments.append(
        {
            "registrationId": "x509-self-1",
            "attestation": {"type": "x509", "thumbprint": leaf_sha256_thumbprint(cert)},
        }
    )
    devices["x509-self-1"] = {"registrationId": "x509-self-1", "cert": cert, "key": key, "deviceId": "x509-self-1"}

    # X.509 individual, self-signed, private key encrypted with a pass phrase.
    pass_phrase = "interop-" + secrets.token_hex(8)
    cert, key = certs.device("x509-enckey-1", pass_phrase=pass_phrase)
    enrollments.append(
        {
            "registrationId": "x509-enckey-1",
            "attestation": {"type": "x509", "thumbprint": leaf_sha256_thumbprint(cert)},
        }
    )
    devices["x509-enckey-1"] = {
        "registrationId": "x509-enckey-1",
        "cert": cert,
        "key": key,
        "passPhrase": pass_phrase,
        "deviceId": "x509-enckey-1",
    }

    # X.509 CA group: root CA enrolled; devices signed by an intermediate and present
    # the chain (leaf + intermediate) from their certificate file.
    root = certs.ca("interop-root-ca", "Interop Test Root CA")
    intermediate = certs.ca("interop-intermediate-ca", "Interop Test Intermediate CA", issuer=root)
    groups.append(
        {
            "enrollmentGroupId": "interop-x509-group",
            "attestation": {"type": "x509", "caCertificates": [root[0]]},
        }
    )
    for registration_id in ("x509-grp-dev-1", "x509-grp-dev-2"):
        cert, key = certs.device(registration_id, issuer=intermediate, chain=True)
        devices[registration_id] = {
            "registrationId": registration_id,
            "cert": cert,
            "key": key,
            "deviceId": registration_id,
            "group": "interop-x509-group",
        }

    # X.509 CA group whose enrolled CA is itself an intermediate (of another
    # root the emulator never sees): the device presents leaf + intermediate.
    other_root = certs.ca("interop-other-root-ca", "Interop Other Root CA")
    enrolled_intermediate = certs.ca("interop-enrolled-intermediate-ca", "Interop Enrolled Intermediate CA", issuer=other_root)
    groups.append(
        {
            "enrollmentGroupId": "interop-x509-intermediate-group",
            "attestation": {"type": "x509", "caCertificates": [enrolled_intermediate[0]]},
        }
    )
    cert, key = certs.device("x509-igrp-dev-1", issuer=enrolled_intermediate, chain=True)
    devices["x509-igrp-dev-1"] = {
        "registrationId": "x509-igrp-dev-1",
        "cert": cert,
        "key": key,
        "deviceId": "x509-igrp-dev-1",
        "group": "interop-x509-intermediate-group",
    }

    # A device certificate from a CA nobody enrolled (negative case).
    rogue_root = certs.ca("rogue-root-ca", "Rogue Root CA")
    cert, key = certs.device("x509-rogue-1", issuer=rogue_root, chain=True)
    devices["x509-rogue-1"] = {"registrationId": "x509-rogue-1", "cert": cert, "key": key}

    config = {
        "idScope": ID_SCOPE,
        "iotHubs": IOT_HUBS,
        "assignmentDelayMs": 0,
        "retryAfterSeconds": 1,
        "enrollments": enrollments,
        "enrollmentGroups": groups,
    }
    fixture = {"idScope": ID_SCOPE, "iotHubs": IOT_HUBS, "devices": devices}
    return config, fixture


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emulator", required=True, help="path of the dps-emulator binary")
    parser.add_argument("--workdir", required=True, help="directory to write config.json, fixture.json, creds/")
    args = parser.parse_args()
    config, fixture = build(args.emulator, args.workdir)
    for name, doc in (("config.json", config), ("fixture.json", fixture)):
        with open(os.path.join(args.workdir, name), "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
