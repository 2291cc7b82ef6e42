"""`prov register` with X.509 credentials (made by `dps-emulator make-cert`)."""

import json
import subprocess

import pytest

from conftest import HUBS, ID_SCOPE, Emulator

PASS_PHRASE = "cli-test-pass-phrase-4711"


def make_cert(emulator_bin, *args):
    result = subprocess.run([emulator_bin, "make-cert", *map(str, args)], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr


@pytest.fixture(scope="module")
def pki(emulator_bin, tmp_path_factory):
    """A root CA with group devices, a self-signed device, an encrypted key, a stranger."""
    folder = tmp_path_factory.mktemp("pki")
    files = {}

    def path(name):
        files[name] = folder / name
        return files[name]

    make_cert(emulator_bin, "ca", "--out-cert", path("ca.pem"), "--out-key", path("ca.key"),
              "--cn", "CLI Test Root")
    make_cert(emulator_bin, "ca", "--out-cert", path("other-ca.pem"), "--out-key",
              path("other-ca.key"), "--cn", "Unenrolled Root")
    for n in range(4):
        make_cert(emulator_bin, "device", "--cn", f"x509-member-{n}", "--out-cert",
                  path(f"member-{n}.pem"), "--out-key", path(f"member-{n}.key"),
                  "--issuer-cert", files["ca.pem"], "--issuer-key", files["ca.key"])
    make_cert(emulator_bin, "device", "--cn", "x509-self", "--out-cert", path("self.pem"),
              "--out-key", path("self.key"))
    path("pass.txt").write_text(PASS_PHRASE + "\n")
    make_cert(emulator_bin, "device", "--cn", "x509-encrypted", "--out-cert",
              path("encrypted.pem"), "--out-key", path("encrypted.key"), "--issuer-cert",
              files["ca.pem"], "--issuer-key", files["ca.key"], "--pass-phrase-file",
              files["pass.txt"])
    make_cert(emulator_bin, "device", "--cn", "x509-stranger", "--out-cert", path("stranger.pem"),
              "--out-key", path("stranger.key"), "--issuer-cert", files["other-ca.pem"],
              "--issuer-key", files["other-ca.key"])
    thumbprint = subprocess.run([emulator_bin, "make-cert", "thumbprint", "--cert",
                                 str(files["self.pem"])], capture_output=True, text=True,
                                timeout=60).stdout.strip()
    assert len(thumbprint) == 64, thumbprint
    files["thumbprint"] = thumbprint
    return files


@pytest.fixture(scope="module")
def emulator(emulator_bin, tmp_path_factory, pki):
    config = {
        "idScope": ID_SCOPE,
        "iotHubs": HUBS,
        "enrollments": [{"registrationId": "x509-self",
                         "attestation": {"type": "x509", "thumbprint": pki["thumbprint"]}}],
        "enrollmentGroups": [{"enrollmentGroupId": "x509-group", "attestation": {
            "type": "x509", "caCertificates": [str(pki["ca.pem"])]}}],
    }
    instance = Emulator(emulator_bin, tmp_path_factory.mktemp("emulator"), config).start()
    yield instance
    instance.stop()


def register_x509(prov, emulator, registration_id, cert, key, *extra, env=None):
    return prov("register", *emulator.common_args(), "--registration-id", registration_id,
                "--cert-file", cert, "--cert-key-file", key, *extra, env=env,
                secrets=[PASS_PHRASE])


def test_group_member_is_assigned_with_group_details(prov, emulator, pki):
    result = register_x509(prov, emulator, "x509-member-0", pki["member-0.pem"],
                           pki["member-0.key"], "--json")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["status"] == "assigned"
    assert out["registrationId"] == "x509-member-0"
    assert out["assignedHub"] in HUBS
    assert out["enrollmentGroupId"] == "x509-group"
    assert out["registrationState"]["x509"]["enrollmentGroupId"] == "x509-group"


def test_individual_thumbprint_enrollment(prov, emulator, pki):
    result = register_x509(prov, emulator, "x509-self", pki["self.pem"], pki["self.key"])
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("assigned: device x509-self on hub ")


@pytest.mark.parametrize("transport, port_name", [("mqtt-ws", "https"), ("https", "https")])
def test_x509_over_other_transports(prov, emulator, pki, transport, port_name):
    result = prov("register", "--host", f"localhost:{emulator.ports[port_name]}", "--id-scope",
                  ID_SCOPE, "--ca-file", emulator.ca_file, "--transport", transport,
                  "--registration-id", "x509-member-1", "--cert-file", pki["member-1.pem"],
                  "--cert-key-file", pki["member-1.key"], "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["enrollmentGroupId"] == "x509-group"


def test_encrypted_key_with_pass_phrase_file_and_env(prov, emulator, pki):
    from_file = register_x509(prov, emulator, "x509-encrypted", pki["encrypted.pem"],
                              pki["encrypted.key"], "--pass-phrase-file", pki["pass.txt"])
    assert from_file.returncode == 0, from_file.stderr
    from_env = register_x509(prov, emulator, "x509-encrypted", pki["encrypted.pem"],
                             pki["encrypted.key"], env={"PROV_PASS_PHRASE": PASS_PHRASE})
    assert from_env.returncode == 0, from_env.stderr


def test_local_certificate_problems_exit_3(prov, emulator, pki):
    no_pass = register_x509(prov, emulator, "x509-encrypted", pki["encrypted.pem"],
                            pki["encrypted.key"], "--json")
    assert no_pass.returncode == 3, no_pass.stdout
    error = json.loads(no_pass.stdout)["error"]
    assert error["status"] == "PROV_E_CERTIFICATE"
    assert error["step"] == "create client"
    assert "pass phrase" in error["message"]

    wrong_pass = register_x509(prov, emulator, "x509-encrypted", pki["encrypted.pem"],
                               pki["encrypted.key"], env={"PROV_PASS_PHRASE": "not-the-pass"},
                               )
    assert wrong_pass.returncode == 3
    assert "PROV_E_CERTIFICATE" in wrong_pass.stderr
    assert "not-the-pass" not in wrong_pass.stderr

    wrong_cn = register_x509(prov, emulator, "x509-someone-else", pki["member-2.pem"],
                             pki["member-2.key"])
    assert wrong_cn.returncode == 3
    assert "PROV_E_CERTIFICATE" in wrong_cn.stderr and "x509-member-2" in wrong_cn.stderr

    mismatched_key = register_x509(prov, emulator, "x509-member-2", pki["member-2.pem"],
                                   pki["member-3.key"])
    assert mismatched_key.returncode == 3
    assert "PROV_E_CERTIFICATE" in mismatched_key.stderr


def test_unenrolled_ca_is_rejected_by_the_service_exit_3(prov, emulator, pki):
    result = register_x509(prov, emulator, "x509-stranger", pki["stranger.pem"],
                           pki["stranger.key"], "--json")
    assert result.returncode == 3, result.stdout
    error = json.loads(result.stdout)["error"]
    assert error["status"] == "PROV_E_CREDENTIAL"
    assert error["httpStatus"] == 401


@pytest.mark.parametrize("args, message", [
    (["--cert-file", "a.pem"], "needs both --cert-file and --cert-key-file"),
    (["--cert-key-file", "a.key"], "needs both --cert-file and --cert-key-file"),
    (["--cert-file", "a.pem", "--cert-key-file", "a.key", "--key", "QUFBQUFBQUFBQUFBQUFBQQ=="],
     "not both"),
    (["--key", "QUFBQUFBQUFBQUFBQUFBQQ==", "--pass-phrase-file", "p"], "--pass-phrase-file is for"),
])
def test_x509_usage_errors_exit_2(prov, args, message):
    result = prov("register", "--host", "127.0.0.1:1", "--id-scope", ID_SCOPE,
                  "--registration-id", "x509-self", *args)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr


def test_missing_certificate_file_exit_3(prov, tmp_path):
    result = prov("register", "--host", "127.0.0.1:1", "--id-scope", ID_SCOPE,
                  "--registration-id", "x509-self", "--cert-file", tmp_path / "missing.pem",
                  "--cert-key-file", tmp_path / "missing.key")
    assert result.returncode == 3, result.stderr
    assert "PROV_E_CERTIFICATE" in result.stderr and "missing.pem" in result.stderr


def test_batch_with_certificates(prov, emulator, pki, tmp_path):
    lines = [{"registrationId": f"x509-member-{n}", "certFile": str(pki[f"member-{n}.pem"]),
              "certKeyFile": str(pki[f"member-{n}.key"])} for n in range(4)]
    lines.append({"registrationId": "x509-encrypted", "certFile": str(pki["encrypted.pem"]),
                  "certKeyFile": str(pki["encrypted.key"]), "passPhrase": PASS_PHRASE})
    lines.append({"registrationId": "x509-stranger", "certFile": str(pki["stranger.pem"]),
                  "certKeyFile": str(pki["stranger.key"])})
    lines.append({"registrationId": "x509-half", "certFile": str(pki["self.pem"])})
    batch = tmp_path / "certs.jsonl"
    batch.write_text("".join(json.dumps(line) + "\n" for line in lines))
    result = prov("register", "--batch", batch, *emulator.common_args(), "--concurrency", "3",
                  "--progress", "never", secrets=[PASS_PHRASE], timeout=120)
    assert result.returncode == 1, result.stderr
    by_id = {line["registrationId"]: line for line in map(json.loads, result.stdout.splitlines())}
    assert len(by_id) == 7
    for n in range(4):
        assert by_id[f"x509-member-{n}"]["status"] == "assigned"
        assert by_id[f"x509-member-{n}"]["enrollmentGroupId"] == "x509-group"
    assert by_id["x509-encrypted"]["status"] == "assigned"
    assert by_id["x509-stranger"]["error"]["status"] == "PROV_E_CREDENTIAL"
    assert "needs both" in by_id["x509-half"]["error"]["message"]

    # CSV, with the encrypted key's pass phrase from --pass-phrase-file.
    csv = tmp_path / "certs.csv"
    csv.write_text("registration_id,cert_file,cert_key_file\n"
                   f"x509-encrypted,{pki['encrypted.pem']},{pki['encrypted.key']}\n"
                   f"x509-self,{pki['self.pem']},{pki['self.key']}\n")
    result = prov("register", "--batch", csv, *emulator.common_args(), "--pass-phrase-file",
                  pki["pass.txt"], "--progress", "never", secrets=[PASS_PHRASE])
    assert result.returncode == 0, result.stdout + result.stderr
    assert [json.loads(line)["status"] for line in result.stdout.splitlines()] == ["assigned"] * 2
