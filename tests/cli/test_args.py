"""`prov` without a running service: help, version, derive-key, usage errors."""

import json
import os
import random
import re
import subprocess

import pytest

from conftest import ID_SCOPE, derive_device_key, make_key

KEY = make_key("args-device")
GROUP_KEY = make_key("args-group")
EXIT_CODE_LINES = ["  0 ", "  2 ", "  3 ", "  4 ", "  5 ", "  6 ", "  7 ", "  8 ", "  130"]


def test_main_help_lists_commands_and_exit_codes(prov):
    result = prov("--help")
    assert result.returncode == 0
    for command in ("register", "derive-key", "version"):
        assert command in result.stdout
    for line in EXIT_CODE_LINES:
        assert line in result.stdout


@pytest.mark.parametrize("command", ["register", "derive-key", "version"])
def test_every_command_has_help(prov, command):
    for flag in ("--help", "-h"):
        result = prov(command, flag)
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(f"Usage: prov {command}")


def test_register_help_documents_exit_codes_and_batch(prov):
    text = prov("register", "--help").stdout
    for line in EXIT_CODE_LINES:
        assert line in text
    for option in ("--batch", "--concurrency", "--output", "--progress", "--json", "--key-file",
                   "--group-key-file", "PROV_SYMMETRIC_KEY", "PROV_GROUP_KEY", "--ca-file"):
        assert option in text


def test_version_names_cli_and_library(prov):
    result = prov("version")
    assert result.returncode == 0
    assert re.fullmatch(r"prov \d+\.\d+\.\d+ \(libprov \d+\.\d+\.\d+\)\n", result.stdout)


def test_no_command_and_unknown_command_are_usage_errors(prov):
    assert prov().returncode == 2
    result = prov("frobnicate")
    assert result.returncode == 2
    assert "unknown command 'frobnicate'" in result.stderr


def test_derive_key_matches_known_answer_vectors(prov):
    vectors_path = os.environ.get("PROV_TEST_VECTORS", "")
    assert vectors_path and os.path.exists(vectors_path), "PROV_TEST_VECTORS must name sas.json"
    with open(vectors_path) as vectors_file:
        vectors = json.load(vectors_file)["derived_keys"]
    assert vectors
    for vector in vectors:
        result = prov("derive-key", "--group-key", vector["group_key"], "--registration-id",
                      vector["registration_id"])
        assert result.returncode == 0, result.stderr
        assert result.stdout == vector["device_key"] + "\n"


def test_derive_key_matches_emulator_and_independent_hmac(prov, emulator_bin):
    for registration_id in ("device-1", "sensor-42.floor:3_b", "x"):
        ours = prov("derive-key", "--group-key", GROUP_KEY, "--registration-id", registration_id)
        assert ours.returncode == 0, ours.stderr
        emulator = subprocess.run([emulator_bin, "derive-key", "--group-key", GROUP_KEY,
                                   "--registration-id", registration_id],
                                  capture_output=True, text=True, timeout=30)
        assert emulator.returncode == 0, emulator.stderr
        assert ours.stdout.strip() == emulator.stdout.strip()
        assert ours.stdout.strip() == derive_device_key(GROUP_KEY, registration_id)


def test_derive_key_from_env_and_file(prov, tmp_path):
    expected = derive_device_key(GROUP_KEY, "dev-env") + "\n"
    from_env = prov("derive-key", "--registration-id", "dev-env", env={"PROV_GROUP_KEY": GROUP_KEY})
    assert (from_env.returncode, from_env.stdout) == (0, expected)
    key_file = tmp_path / "group.key"
    key_file.write_text("  " + GROUP_KEY + "\n\n")
    from_file = prov("derive-key", "--registration-id", "dev-env", "--group-key-file", key_file)
    assert (from_file.returncode, from_file.stdout) == (0, expected)


def test_derive_key_errors(prov):
    missing = prov("derive-key", "--registration-id", "dev")
    assert missing.returncode == 2
    assert "no group key" in missing.stderr
    bad = prov("derive-key", "--group-key", "not base64!!", "--registration-id", "dev",
               secrets=["not base64!!"])
    assert bad.returncode == 2
    assert "group" in bad.stderr.lower()
    no_id = prov("derive-key", "--group-key", GROUP_KEY, secrets=[GROUP_KEY])
    assert no_id.returncode == 2
    assert "--registration-id" in no_id.stderr


BASE = ["--host", "127.0.0.1:1", "--id-scope", ID_SCOPE, "--registration-id", "dev-1"]


@pytest.mark.parametrize("args, expected_message", [
    (["--host", "h", "--id-scope", ID_SCOPE, "--key", KEY], "--registration-id"),
    (["--id-scope", ID_SCOPE, "--registration-id", "d", "--key", KEY], "--host"),
    (["--host", "h", "--registration-id", "d", "--key", KEY], "--id-scope"),
    (BASE, "no key given"),
    (BASE + ["--key", KEY, "--group-key", GROUP_KEY], "not both"),
    (BASE + ["--key", KEY, "--key-file", "/nonexistent"], "not both"),
    (BASE + ["--key", KEY, "--bogus"], "unknown option '--bogus'"),
    (BASE + ["--key", KEY, "--bogus=1"], "unknown option '--bogus'"),
    (BASE + ["--key", KEY, "stray"], "unexpected argument"),
    (BASE + ["--key", KEY, "--host", "x"], "more than once"),
    (BASE + ["--key"], "needs a value"),
    (BASE + ["--key", KEY, "--json=yes"], "takes no value"),
    (BASE + ["--key-file", "/nonexistent/key"], "cannot read --key-file file '/nonexistent/key'"),
    (BASE + ["--key", KEY, "--ca-file", "/nonexistent/ca.pem"], "cannot read --ca-file"),
    (BASE + ["--key", KEY, "--timeout", "soon"], "--timeout"),
    (BASE + ["--key", KEY, "--timeout", "0"], "out of range"),
    (BASE + ["--key", KEY, "--keep-alive", "1.5"], "--keep-alive"),
    (BASE + ["--key", KEY, "--payload", "{}", "--payload-file", "x"], "not both"),
    (BASE + ["--key", KEY, "--concurrency", "4"], "only valid with --batch"),
    (BASE + ["--key", KEY, "--progress", "never"], "only valid with --batch"),
    (BASE + ["--key", KEY, "--transport", "amqp"], "--transport must be mqtt, mqtt-ws or https"),
    (BASE + ["--key", KEY, "--csr-key-type", "dsa"], "--csr-key-type must be ec or rsa"),
    (BASE + ["--key", KEY, "--csr-api", "2019-03-31"],
     "--csr-api must be 2025-07-01-preview or 2021-11-01-preview"),
    # Rejected by libprov itself (the message names the argument / option).
    (BASE + ["--key", "%%%not-base64%%%"], "PROV_E_INVALID_ARG"),
    (BASE + ["--key", "c2hvcnQ="], "PROV_E_INVALID_ARG"),
    (BASE + ["--key", KEY, "--keep-alive", "0"], "--keep-alive"),
    (BASE + ["--key", KEY, "--keep-alive", "1741"], "--keep-alive"),
    (BASE + ["--key", KEY, "--sas-ttl", "5"], "--sas-ttl"),
    (BASE + ["--key", KEY, "--payload", "{not json"], "--payload"),
    (BASE + ["--key", KEY, "--cipher", "NOT-A-CIPHER"], "--cipher"),
    (["--host", "h", "--id-scope", ID_SCOPE, "--registration-id", "bad id!", "--key", KEY],
     "PROV_E_INVALID_ARG"),
    (["--host", "h", "--id-scope", ID_SCOPE, "--registration-id", "a" * 129, "--key", KEY],
     "PROV_E_INVALID_ARG"),
])
def test_bad_register_arguments_exit_2(prov, args, expected_message):
    result = prov("register", *args, secrets=[KEY, GROUP_KEY, "%%%not-base64%%%"], timeout=30)
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert expected_message in result.stderr
    assert result.stdout == ""


def test_bad_arguments_with_json_are_json_errors(prov):
    result = prov("register", *BASE, "--key", "c2hvcnQ=", "--json", secrets=["c2hvcnQ="])
    assert result.returncode == 2
    line = json.loads(result.stdout)
    assert line["registrationId"] == "dev-1"
    assert line["status"] == "error"
    assert line["error"]["status"] == "PROV_E_INVALID_ARG"
    assert line["error"]["message"]


@pytest.mark.parametrize("args, expected_message", [
    (["--batch", "/nonexistent/devices.csv"], "cannot read --batch file"),
    (["--batch", "{empty}"], "has no devices"),
    (["--batch", "{bad_header}"], "CSV column 2 of the header is not"),
    (["--batch", "{header_only}"], "no devices"),
    (["--batch", "{no_header}"], "the first line must be a header"),
    (["--batch", "{good}", "--registration-id", "x"], "--registration-id cannot be used"),
    (["--batch", "{good}", "--key", KEY], "key options cannot be used"),
    (["--batch", "{good}", "--concurrency", "0"], "out of range"),
    (["--batch", "{good}", "--progress", "sometimes"], "--progress must be"),
    (["--batch", "{good}", "--output", "/nonexistent/dir/out.jsonl"], "cannot write --output"),
])
def test_bad_batch_arguments_exit_2(prov, tmp_path, args, expected_message):
    files = {
        "empty": "\n# only a comment\n\n",
        "bad_header": "registration_id,secret\ndev-1," + KEY + "\n",
        "header_only": "registration_id,key\n",
        "no_header": "dev-1," + KEY + "\n",
        "good": "registration_id,key\ndev-1," + KEY + "\n",
    }
    paths = {}
    for name, text in files.items():
        paths[name] = tmp_path / f"{name}.csv"
        paths[name].write_text(text)
    args = [str(a).format(**paths) for a in args]
    result = prov("register", "--host", "127.0.0.1:1", "--id-scope", ID_SCOPE, *args,
                  secrets=[KEY], timeout=30)
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert expected_message in result.stderr
    assert result.stdout == ""


def test_garbage_batch_files_never_crash(prov, tmp_path):
    """Random and half-valid batch files: exit 0, 1 or 2, and only valid JSON lines."""
    rng = random.Random(20261126)
    pieces = [b"registration_id", b"key", b"group_key", b",", b"\n", b"\r\n", b'"', b"{", b"}",
              b":", b'"registrationId"', b'"key"', b'"groupKey"', b"dev-1", b"\x00", b"\xff\xfe",
              b"#", b" ", KEY.encode(), b"null", b"[1,2]", b"\\u0000", "\u00e9".encode()]
    batch = tmp_path / "garbage.in"
    for _ in range(60):
        if rng.random() < 0.3:
            data = bytes(rng.randrange(256) for _ in range(rng.randrange(200)))
        else:
            data = b"".join(rng.choice(pieces) for _ in range(rng.randrange(40)))
        batch.write_bytes(data)
        result = subprocess.run(
            [prov.binary, "register", "--batch", str(batch), "--host", "127.0.0.1:1",
             "--id-scope", ID_SCOPE, "--progress", "never", "--timeout", "2"],
            capture_output=True, timeout=30)
        assert result.returncode in (0, 1, 2), (data, result.returncode, result.stderr)
        assert KEY.encode() not in result.stdout + result.stderr
        for line in result.stdout.decode("utf-8").splitlines():
            assert isinstance(json.loads(line), dict)
