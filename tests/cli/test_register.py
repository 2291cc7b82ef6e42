"""`prov register` (one device) against a real dps-emulator process."""

import json
import re
import signal
import socket
import subprocess
import time

import pytest

from conftest import HUBS, ID_SCOPE, derive_device_key, free_closed_port, make_key

DEVICE_KEY = make_key("register-device")
SECOND_KEY = make_key("register-device-secondary")
ECHO_KEY = make_key("register-echo")
DISABLED_KEY = make_key("register-disabled")
GROUP_KEY = make_key("register-group")
WRONG_KEY = make_key("register-wrong")
SLOW_KEY = make_key("register-slow")
ALL_SECRETS = [DEVICE_KEY, SECOND_KEY, ECHO_KEY, DISABLED_KEY, GROUP_KEY, WRONG_KEY, SLOW_KEY]
INITIAL_PAYLOAD = {"greeting": "hello", "n": 3}
PROXY_PASSWORD = "proxy-secret-0815"
WRONG_PROXY_PASSWORD = "proxy-wrong-4711"


def symmetric(primary, secondary=None):
    return {"type": "symmetricKey", "primaryKey": primary, "secondaryKey": secondary or primary}


CONFIG = {
    "idScope": ID_SCOPE,
    "iotHubs": HUBS,
    "assignmentDelayMs": 0,
    "retryAfterSeconds": 1,
    "enrollments": [
        {"registrationId": "cli-device-1", "attestation": symmetric(DEVICE_KEY, SECOND_KEY),
         "deviceId": "cli-device-1-id", "initialPayload": INITIAL_PAYLOAD},
        {"registrationId": "cli-echo", "attestation": symmetric(ECHO_KEY), "echoPayload": True},
        {"registrationId": "cli-disabled", "attestation": symmetric(DISABLED_KEY),
         "enabled": False},
        # Stays "assigning" for a minute: a registration that is in flight when interrupted.
        {"registrationId": "cli-slow", "attestation": symmetric(SLOW_KEY),
         "assignmentDelayMs": 60000, "retryAfterSeconds": 1},
    ],
    "enrollmentGroups": [
        {"enrollmentGroupId": "cli-group", "attestation": symmetric(GROUP_KEY)},
    ],
}


@pytest.fixture(scope="module")
def emulator(emulator_bin, tmp_path_factory):
    from conftest import Emulator
    instance = Emulator(emulator_bin, tmp_path_factory.mktemp("emulator"), CONFIG).start()
    yield instance
    instance.stop()


def register(prov, emulator, registration_id, *extra, env=None, timeout=60):
    return prov("register", *emulator.common_args(), "--registration-id", registration_id, *extra,
                secrets=ALL_SECRETS + [derive_device_key(GROUP_KEY, registration_id)], env=env,
                timeout=timeout)


HUMAN_LINE = re.compile(
    r"assigned: device (?P<device>\S+) on hub (?P<hub>\S+) "
    r"\(substatus (?P<substatus>\w+), operation (?P<operation>\S+)\)")


def test_human_output(prov, emulator):
    result = register(prov, emulator, "cli-device-1", "--key", DEVICE_KEY)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    match = HUMAN_LINE.fullmatch(lines[0])
    assert match, result.stdout
    assert match["device"] == "cli-device-1-id"
    assert match["hub"] in HUBS
    assert match["substatus"] in ("initialAssignment", "deviceDataMigrated", "deviceDataReset",
                                  "reprovisionedToInitialAssignment")
    assert match["operation"] != "(none)"
    assert json.loads(lines[1].removeprefix("payload: ")) == INITIAL_PAYLOAD
    assert result.stderr == ""


def test_json_output_field_by_field(prov, emulator):
    before = time.time()
    result = register(prov, emulator, "cli-device-1", "--key", DEVICE_KEY, "--json")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("\n") == 1
    out = json.loads(result.stdout)
    assert out["registrationId"] == "cli-device-1"
    assert out["status"] == "assigned"
    assert out["deviceId"] == "cli-device-1-id"
    assert out["assignedHub"] in HUBS
    assert out["substatus"] in ("initialAssignment", "deviceDataMigrated", "deviceDataReset",
                                "reprovisionedToInitialAssignment")
    assert isinstance(out["operationId"], str) and out["operationId"]
    for field in ("createdDateTimeUtc", "lastUpdatedDateTimeUtc"):
        assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", out[field]), out[field]
    assert "etag" in out
    assert out["payload"] == INITIAL_PAYLOAD
    state = out["registrationState"]
    assert state["registrationId"] == "cli-device-1"
    assert state["assignedHub"] == out["assignedHub"]
    assert state["deviceId"] == out["deviceId"]
    assert state["status"] == "assigned"
    assert "error" not in out
    assert time.time() - before < 30

    # The emulator's own record agrees with what the CLI printed.
    records = emulator.list_records()
    text = json.dumps(records)
    assert "cli-device-1" in text and out["assignedHub"] in text


def test_group_key_registration_derives_the_device_key(prov, emulator):
    result = register(prov, emulator, "cli-group-member-7", "--group-key", GROUP_KEY, "--json")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["status"] == "assigned"
    assert out["registrationId"] == "cli-group-member-7"
    assert out["assignedHub"] in HUBS
    # The derived key works as an individual device key too.
    derived = derive_device_key(GROUP_KEY, "cli-group-member-7")
    again = prov("register", *emulator.common_args(), "--registration-id", "cli-group-member-7",
                 "--key", derived, secrets=[derived, GROUP_KEY])
    assert again.returncode == 0, again.stderr


def test_key_from_environment(prov, emulator):
    device = register(prov, emulator, "cli-device-1", env={"PROV_SYMMETRIC_KEY": DEVICE_KEY})
    assert device.returncode == 0, device.stderr
    assert device.stdout.startswith("assigned: device cli-device-1-id")
    group = register(prov, emulator, "cli-group-env", env={"PROV_GROUP_KEY": GROUP_KEY})
    assert group.returncode == 0, group.stderr
    # An option wins over the environment.
    wrong_env = register(prov, emulator, "cli-device-1", "--key", DEVICE_KEY,
                         env={"PROV_SYMMETRIC_KEY": WRONG_KEY})
    assert wrong_env.returncode == 0, wrong_env.stderr
    both = register(prov, emulator, "cli-device-1",
                    env={"PROV_SYMMETRIC_KEY": DEVICE_KEY, "PROV_GROUP_KEY": GROUP_KEY})
    assert both.returncode == 2
    assert "both PROV_SYMMETRIC_KEY and PROV_GROUP_KEY" in both.stderr


def test_key_from_file(prov, emulator, tmp_path):
    key_file = tmp_path / "device.key"
    key_file.write_text(DEVICE_KEY + "\n")
    device = register(prov, emulator, "cli-device-1", "--key-file", key_file)
    assert device.returncode == 0, device.stderr
    group_file = tmp_path / "group.key"
    group_file.write_text(GROUP_KEY + "\r\n")
    group = register(prov, emulator, "cli-group-file", "--group-key-file", group_file, "--json")
    assert group.returncode == 0, group.stderr
    assert json.loads(group.stdout)["status"] == "assigned"


def test_secondary_key_works(prov, emulator):
    result = register(prov, emulator, "cli-device-1", "--key", SECOND_KEY)
    assert result.returncode == 0, result.stderr


def test_payload_option_and_file_are_sent(prov, emulator, tmp_path):
    payload = {"modelId": "dtmi:libprov:cli;1", "tags": ["a", "b"]}
    inline = register(prov, emulator, "cli-echo", "--key", ECHO_KEY, "--json",
                      "--payload", json.dumps(payload))
    assert inline.returncode == 0, inline.stderr
    assert json.loads(inline.stdout)["payload"] == payload
    payload_file = tmp_path / "payload.json"
    payload_file.write_text(json.dumps({"fromFile": True}))
    from_file = register(prov, emulator, "cli-echo", "--key", ECHO_KEY, "--json",
                         "--payload-file", payload_file)
    assert from_file.returncode == 0, from_file.stderr
    assert json.loads(from_file.stdout)["payload"] == {"fromFile": True}


def test_options_are_accepted(prov, emulator):
    result = register(prov, emulator, "cli-device-1", "--key", DEVICE_KEY, "--keep-alive", "30",
                      "--sas-ttl", "600", "--timeout", "20", "--response-timeout", "5.5",
                      "--cipher", "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-GCM-SHA256")
    assert result.returncode == 0, result.stderr


def test_gateway_host_is_where_the_connection_goes(prov, emulator):
    # The provisioning host does not exist; the gateway (the emulator) does.
    result = prov("register", "--host", "global.azure-devices-provisioning.net", "--gateway-host",
                  emulator.host, "--id-scope", ID_SCOPE, "--ca-file", emulator.ca_file,
                  "--registration-id", "cli-device-1", "--key", DEVICE_KEY, "--json",
                  secrets=ALL_SECRETS)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["status"] == "assigned"


@pytest.mark.parametrize("transport, port_name", [
    ("mqtt", "mqtt"), ("mqtt-ws", "https"), ("https", "https")])
def test_every_transport(prov, emulator, transport, port_name):
    result = prov("register", "--host", f"localhost:{emulator.ports[port_name]}", "--id-scope",
                  ID_SCOPE, "--ca-file", emulator.ca_file, "--transport", transport,
                  "--registration-id", "cli-device-1", "--key", DEVICE_KEY, "--json",
                  secrets=ALL_SECRETS)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["status"] == "assigned"
    assert out["deviceId"] == "cli-device-1-id"
    assert out["payload"] == INITIAL_PAYLOAD


def test_keep_alive_with_https_is_refused(prov, emulator):
    result = prov("register", "--host", f"localhost:{emulator.ports['https']}", "--id-scope",
                  ID_SCOPE, "--ca-file", emulator.ca_file, "--transport", "https",
                  "--keep-alive", "30", "--registration-id", "cli-device-1", "--key", DEVICE_KEY,
                  secrets=ALL_SECRETS)
    assert result.returncode == 2, result.stderr
    assert "keep" in result.stderr.lower()


@pytest.fixture
def socks_proxy():
    """A real SOCKS5 proxy (microsocks) with a user name and password, on loopback."""
    for _ in range(5):
        port = free_closed_port()
        process = subprocess.Popen(["microsocks", "-i", "127.0.0.1", "-p", str(port), "-u",
                                    "cli-user", "-P", PROXY_PASSWORD],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and process.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        if process.poll() is None:
            break
    else:
        pytest.fail("microsocks did not start")
    yield port
    process.terminate()
    process.wait(timeout=10)


def test_socks5_proxy_with_credentials(prov, emulator, socks_proxy):
    args = [*emulator.common_args(), "--registration-id", "cli-device-1", "--key", DEVICE_KEY]
    through = prov("register", *args, "--json", "--proxy",
                   f"socks5://cli-user:{PROXY_PASSWORD}@127.0.0.1:{socks_proxy}",
                   secrets=ALL_SECRETS + [PROXY_PASSWORD])
    assert through.returncode == 0, through.stderr
    assert json.loads(through.stdout)["status"] == "assigned"

    wrong = prov("register", *args, "--proxy",
                 f"socks5://cli-user:{WRONG_PROXY_PASSWORD}@127.0.0.1:{socks_proxy}",
                 secrets=ALL_SECRETS + [PROXY_PASSWORD, WRONG_PROXY_PASSWORD])
    assert wrong.returncode == 4, (wrong.stdout, wrong.stderr)
    assert "PROV_E_CONNECTION_FAILED" in wrong.stderr
    assert f"127.0.0.1:{socks_proxy}" in wrong.stderr


def test_verbose_logs_to_stderr_without_secrets(prov, emulator):
    result = register(prov, emulator, "cli-verbose-1", "--group-key", GROUP_KEY, "--verbose")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("assigned: device cli-verbose-1 ")
    log_lines = result.stderr.splitlines()
    assert log_lines, "--verbose printed nothing"
    assert all(re.match(r"prov: (debug|info|warning|error): cli-verbose-1: ", line)
               for line in log_lines), log_lines[:5]


def test_wrong_key_exits_3(prov, emulator):
    human = register(prov, emulator, "cli-device-1", "--key", WRONG_KEY)
    assert human.returncode == 3, (human.stdout, human.stderr)
    assert human.stdout == ""
    assert "PROV_E_CREDENTIAL" in human.stderr
    assert "cli-device-1" in human.stderr
    assert re.search(r"errorCode 401\d{3}", human.stderr), human.stderr

    result = register(prov, emulator, "cli-device-1", "--key", WRONG_KEY, "--json")
    assert result.returncode == 3
    out = json.loads(result.stdout)
    assert out["registrationId"] == "cli-device-1"
    assert out["status"] != "assigned"
    error = out["error"]
    assert error["status"] == "PROV_E_CREDENTIAL"
    assert error["message"]
    assert 401000 <= error["errorCode"] <= 401999
    assert error["httpStatus"] == 401
    assert isinstance(error["trackingId"], str) and error["trackingId"]


def test_unknown_registration_exits_3(prov, emulator):
    result = register(prov, emulator, "cli-nobody", "--key", DEVICE_KEY, "--json")
    assert result.returncode == 3, result.stdout
    assert json.loads(result.stdout)["error"]["status"] == "PROV_E_CREDENTIAL"


def test_disabled_enrollment_exits_6(prov, emulator):
    human = register(prov, emulator, "cli-disabled", "--key", DISABLED_KEY)
    assert human.returncode == 6, (human.stdout, human.stderr)
    assert "PROV_E_SERVICE" in human.stderr and "disabled" in human.stderr
    result = register(prov, emulator, "cli-disabled", "--key", DISABLED_KEY, "--json")
    assert result.returncode == 6
    out = json.loads(result.stdout)
    assert out["status"] == "disabled"
    assert out["error"]["status"] == "PROV_E_SERVICE"
    assert out["assignedHub"] is None


def test_closed_port_exits_4(prov, emulator):
    port = free_closed_port()
    result = prov("register", "--host", f"127.0.0.1:{port}", "--id-scope", ID_SCOPE,
                  "--registration-id", "cli-device-1", "--key", DEVICE_KEY, "--ca-file",
                  emulator.ca_file, "--json", "--timeout", "20", secrets=ALL_SECRETS)
    assert result.returncode == 4, (result.stdout, result.stderr)
    out = json.loads(result.stdout)
    assert out["status"] == "error"
    assert out["error"]["status"] == "PROV_E_CONNECTION_FAILED"
    assert out["error"]["httpStatus"] is None


def test_unknown_host_exits_4(prov, emulator):
    started = time.monotonic()
    result = prov("register", "--host", "no-such-host.invalid:8883", "--id-scope", ID_SCOPE,
                  "--registration-id", "cli-device-1", "--key", DEVICE_KEY, "--timeout", "20",
                  secrets=ALL_SECRETS, timeout=60)
    assert result.returncode == 4, (result.stdout, result.stderr)
    assert "PROV_E_CONNECTION_FAILED" in result.stderr
    assert time.monotonic() - started < 30


def test_untrusted_server_exits_4(prov, emulator):
    # Without --ca-file the system store is used, which does not trust the emulator's CA.
    result = prov("register", "--host", emulator.host, "--id-scope", ID_SCOPE,
                  "--registration-id", "cli-device-1", "--key", DEVICE_KEY, "--timeout", "20",
                  secrets=ALL_SECRETS)
    assert result.returncode == 4, (result.stdout, result.stderr)
    assert "PROV_E_CONNECTION_FAILED" in result.stderr


def test_silent_service_times_out_with_exit_5(prov, start_emulator):
    config = dict(CONFIG, faults=[{"type": "silent"}])
    silent = start_emulator(config)
    started = time.monotonic()
    result = prov("register", *silent.common_args(), "--registration-id", "cli-device-1",
                  "--key", DEVICE_KEY, "--timeout", "2", "--json", secrets=ALL_SECRETS, timeout=60)
    elapsed = time.monotonic() - started
    assert result.returncode == 5, (result.stdout, result.stderr)
    out = json.loads(result.stdout)
    assert out["error"]["status"] == "PROV_E_TIMEOUT"
    assert out["error"]["message"]
    assert 1.5 <= elapsed < 10, elapsed


# Failures are mapped with retries off, so the outcome is the fault itself and not
# wherever the deadline happens to fall among the retries (which depends on the
# machine's speed, e.g. under ASan); the throttle case shows a retry succeeding.
@pytest.mark.parametrize("fault, exit_code, status, retries", [
    ({"type": "drop", "after": "connect"}, 4, "PROV_E_CONNECTION_DROPPED", "0"),
    ({"type": "drop", "after": "register"}, 4, "PROV_E_CONNECTION_DROPPED", "0"),
    ({"type": "malformed", "every": 1}, 7, "PROV_E_PROTOCOL", "0"),
    ({"type": "error", "status": 500, "every": 1}, 6, "PROV_E_SERVICE", "0"),
    ({"type": "throttle", "every": 1, "retryAfterSeconds": 1, "count": 1}, 0, None, "3"),
])
def test_service_faults_map_to_exit_codes(prov, start_emulator, fault, exit_code, status,
                                          retries):
    faulty = start_emulator(dict(CONFIG, faults=[fault]))
    result = prov("register", *faulty.common_args(), "--registration-id", "cli-device-1",
                  "--key", DEVICE_KEY, "--timeout", "5", "--retries", retries, "--json",
                  secrets=ALL_SECRETS, timeout=60)
    assert result.returncode == exit_code, (result.stdout, result.stderr)
    out = json.loads(result.stdout)
    if status is None:
        assert out["status"] == "assigned"
        assert "error" not in out
    else:
        assert out["error"]["status"] == status
        assert out["error"]["message"]


def openssl(*args, input_text=None):
    result = subprocess.run(["openssl", *map(str, args)], capture_output=True, text=True,
                            input=input_text, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("key_type, api", [("ec", "2025-07-01-preview"),
                                           ("rsa", "2021-11-01-preview")])
def test_certificate_issuance_writes_chain_and_private_key(prov, emulator, tmp_path, key_type, api):
    cert_path, key_path = tmp_path / "issued.pem", tmp_path / "issued.key"
    result = register(prov, emulator, "cli-device-1", "--key", DEVICE_KEY, "--json",
                      "--csr-key-type", key_type, "--csr-api", api, "--issued-cert-out", cert_path,
                      "--issued-key-out", key_path)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["issuedFiles"] == {"certificate": str(cert_path), "privateKey": str(key_path)}
    assert out["issuedCertificateChain"].startswith("-----BEGIN CERTIFICATE-----")
    assert (out["trustBundle"] is not None) == (api == "2021-11-01-preview")
    key_text = key_path.read_text()
    assert "PRIVATE KEY" in key_text
    assert key_text not in result.stdout and key_text not in result.stderr
    assert oct(key_path.stat().st_mode & 0o777) == "0o600"
    assert cert_path.read_text() == out["issuedCertificateChain"]
    assert "CN = cli-device-1" in openssl("x509", "-in", cert_path, "-noout", "-subject")
    # The key written is the one the issued certificate certifies.
    assert openssl("pkey", "-in", key_path, "-pubout") == \
        openssl("x509", "-in", cert_path, "-noout", "-pubkey")


def test_certificate_issuance_from_own_csr(prov, emulator, tmp_path):
    key_path, csr_path = tmp_path / "own.key", tmp_path / "own.csr"
    openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", key_path, "-out", csr_path, "-subj", "/CN=cli-device-1")
    cert_path = tmp_path / "own.pem"
    result = register(prov, emulator, "cli-device-1", "--key", DEVICE_KEY, "--csr-file", csr_path,
                      "--issued-cert-out", cert_path)
    assert result.returncode == 0, result.stderr
    assert f"issued certificate chain written to {cert_path}" in result.stdout
    assert openssl("pkey", "-in", key_path, "-pubout") == \
        openssl("x509", "-in", cert_path, "-noout", "-pubkey")


@pytest.mark.parametrize("args, message", [
    (["--csr-key-type", "ec"], "needs --issued-key-out"),
    (["--issued-key-out", "k.pem"], "needs --csr-key-type"),
    (["--issued-cert-out", "c.pem"], "needs --csr-key-type or --csr-file"),
    (["--csr-key-type", "dsa", "--issued-key-out", "k"], "--csr-key-type must be ec or rsa"),
    (["--csr-api", "2019", "--csr-key-type", "ec", "--issued-key-out", "k"], "--csr-api must be"),
    (["--issued-dir", "."], "only valid with --batch"),
])
def test_certificate_issuance_usage_errors(prov, args, message):
    result = prov("register", "--host", "127.0.0.1:1", "--id-scope", ID_SCOPE,
                  "--registration-id", "cli-device-1", "--key", DEVICE_KEY, *args,
                  secrets=ALL_SECRETS)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr


def test_batch_certificate_issuance_into_a_directory(prov, emulator, tmp_path):
    ids = [f"cli-csr-{n}" for n in range(4)]
    batch = tmp_path / "csr.csv"
    batch.write_text("registration_id,group_key\n" + "".join(f"{rid},{GROUP_KEY}\n" for rid in ids))
    issued = tmp_path / "issued"
    missing = prov("register", "--batch", batch, *emulator.common_args(), "--csr-key-type", "ec",
                   "--issued-dir", issued, secrets=ALL_SECRETS)
    assert missing.returncode == 2 and "is not a directory" in missing.stderr
    issued.mkdir()
    result = prov("register", "--batch", batch, *emulator.common_args(), "--csr-key-type", "ec",
                  "--issued-dir", issued, "--progress", "never", secrets=ALL_SECRETS)
    assert result.returncode == 0, result.stderr
    for line in map(json.loads, result.stdout.splitlines()):
        rid = line["registrationId"]
        assert line["issuedFiles"] == {"certificate": f"{issued}/{rid}.pem",
                                       "privateKey": f"{issued}/{rid}.key"}
        assert f"CN = {rid}" in openssl("x509", "-in", issued / f"{rid}.pem", "-noout", "-subject")
        assert oct((issued / f"{rid}.key").stat().st_mode & 0o777) == "0o600"
    assert sorted(path.name for path in issued.iterdir()) == sorted(
        [f"{rid}.pem" for rid in ids] + [f"{rid}.key" for rid in ids])


def test_verbose_logs_each_step_without_secrets(prov, start_emulator):
    # A throttled first answer: the log shows the retry with its reason and delay.
    faulty = start_emulator(dict(CONFIG, faults=[
        {"type": "throttle", "every": 1, "retryAfterSeconds": 1, "count": 1}]))
    result = prov("register", *faulty.common_args(), "--registration-id", "cli-device-1",
                  "--key", DEVICE_KEY, "--timeout", "20", "--verbose", secrets=ALL_SECRETS)
    assert result.returncode == 0, (result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.startswith("prov: ")]
    assert any(": info: cli-device-1: connecting to " in line for line in lines), lines
    assert any(": warning: cli-device-1: retry 1 in 1.0 s: service answered 429" in line
               for line in lines), lines
    assert any("assigned to " in line for line in lines), lines
    # The SAS token's signature never appears, redacted or not.
    assert "SharedAccessSignature" not in result.stderr
    assert all("sig=" not in line or "sig=<redacted>" in line for line in lines)
    # Without --verbose nothing is logged.
    quiet = prov("register", *faulty.common_args(), "--registration-id", "cli-device-1",
                 "--key", DEVICE_KEY, "--timeout", "20", secrets=ALL_SECRETS)
    assert quiet.returncode == 0
    assert "prov: info" not in quiet.stderr


def test_retries_zero_reports_the_first_failure(prov, start_emulator):
    faulty = start_emulator(dict(CONFIG, faults=[{"type": "drop", "after": "connect"}]))
    started = time.monotonic()
    result = prov("register", *faulty.common_args(), "--registration-id", "cli-device-1",
                  "--key", DEVICE_KEY, "--timeout", "20", "--retries", "0", "--json",
                  secrets=ALL_SECRETS)
    assert result.returncode == 4, (result.stdout, result.stderr)
    assert json.loads(result.stdout)["error"]["status"] == "PROV_E_CONNECTION_DROPPED"
    assert time.monotonic() - started < 5
    bad = prov("register", *faulty.common_args(), "--registration-id", "cli-device-1",
               "--key", DEVICE_KEY, "--retries", "many", secrets=ALL_SECRETS)
    assert bad.returncode != 0 and "--retries" in bad.stderr


def register_requests(emulator, registration_id):
    """How many register requests of the device the emulator has logged."""
    needle = f"registrationId={registration_id} op=register"
    return emulator.log_path.read_text(errors="replace").count(needle)


def wait_for_register_request(emulator, registration_id, process, count):
    """Waits until the emulator has logged `count` register requests of the device."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if register_requests(emulator, registration_id) >= count:
            return
        assert process.poll() is None, process.communicate()
        time.sleep(0.02)
    pytest.fail(f"no register request from {registration_id} reached the emulator")


@pytest.mark.parametrize("signals", [[signal.SIGINT], [signal.SIGTERM],
                                     [signal.SIGINT, signal.SIGINT]],
                         ids=["sigint", "sigterm", "sigint-twice"])
@pytest.mark.parametrize("transport, port_name", [
    ("mqtt", "mqtt"), ("mqtt-ws", "https"), ("https", "https")])
def test_interrupt_cancels_the_registration_in_flight(prov_bin, emulator, signals, transport,
                                                      port_name):
    earlier_requests = register_requests(emulator, "cli-slow")  # the emulator is shared
    process = subprocess.Popen(
        [prov_bin, "register", "--host", f"localhost:{emulator.ports[port_name]}", "--id-scope",
         ID_SCOPE, "--ca-file", emulator.ca_file, "--transport", transport,
         "--registration-id", "cli-slow", "--key", SLOW_KEY, "--timeout", "120", "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # The service answered "assigning" and will not assign for a minute.
        wait_for_register_request(emulator, "cli-slow", process, earlier_requests + 1)
        time.sleep(0.2)
        assert process.poll() is None
        interrupted = time.monotonic()
        for signal_number in signals:
            process.send_signal(signal_number)
        stdout, stderr = process.communicate(timeout=30)
        elapsed = time.monotonic() - interrupted
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert SLOW_KEY not in stdout and SLOW_KEY not in stderr
    assert process.returncode == 8, (stdout, stderr)
    assert elapsed < 2.0, elapsed
    assert "interrupted" in stderr
    if len(signals) == 1:
        # Cancelled through libprov: the usual JSON object with the error.
        out = json.loads(stdout)
        assert out["registrationId"] == "cli-slow"
        assert out["status"] == "error"
        assert out["error"]["status"] == "PROV_E_CANCELLED"
        assert out["error"]["step"] == "register"
    else:
        # The second interrupt may quit before the cancelled result is printed;
        # whatever was printed is one complete JSON object.
        if stdout:
            assert json.loads(stdout)["error"]["status"] == "PROV_E_CANCELLED"
