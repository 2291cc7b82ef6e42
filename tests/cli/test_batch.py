"""`prov register --batch` against a real dps-emulator process."""

import contextlib
import json
import math
import os
import pty
import re
import resource
import signal
import subprocess
import time

import pytest

from conftest import HUBS, ID_SCOPE, Emulator, derive_device_key, make_key

GROUP_KEY = make_key("batch-group")
WRONG_KEY = make_key("batch-wrong")
SLOW_GROUP_KEY = make_key("batch-slow-group")


def write_group_batch(path, prefix, count, group_key, width=3):
    """A CSV batch of `count` devices "<prefix>-<n>" (n zero-padded to `width`) of one group."""
    path.write_text("registration_id,group_key\n" +
                    "".join(f"{prefix}-{n:0{width}d},{group_key}\n" for n in range(count)))
    return path


def group_config(group_key, **extra):
    config = {
        "idScope": ID_SCOPE,
        "iotHubs": HUBS,
        "assignmentDelayMs": 0,
        "retryAfterSeconds": 1,
        "enrollmentGroups": [{"enrollmentGroupId": "batch-group", "attestation": {
            "type": "symmetricKey", "primaryKey": group_key, "secondaryKey": group_key}}],
    }
    config.update(extra)
    return config


@pytest.fixture(scope="module")
def emulator(emulator_bin, tmp_path_factory):
    instance = Emulator(emulator_bin, tmp_path_factory.mktemp("emulator"),
                        group_config(GROUP_KEY)).start()
    yield instance
    instance.stop()


def parse_lines(text):
    lines = text.splitlines()
    return [json.loads(line) for line in lines]


def summary_counts(stderr):
    match = re.search(r"batch summary(?: \(interrupted\))?: (\d+) devices, (\d+) assigned, "
                      r"(\d+) failed, (\d+) not started", stderr)
    assert match, stderr
    return tuple(int(group) for group in match.groups())


def test_batch_of_200_with_concurrency_16(prov, emulator, tmp_path):
    ids = [f"batch-dev-{n:03d}" for n in range(200)]
    keys = {rid: derive_device_key(GROUP_KEY, rid) for rid in ids}
    batch = tmp_path / "devices.csv"
    batch.write_text("registration_id,key\n" + "".join(f"{rid},{keys[rid]}\n" for rid in ids))

    result = prov("register", "--batch", batch, *emulator.common_args(), "--concurrency", "16",
                  "--progress", "never", secrets=[GROUP_KEY, *keys.values()], timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = parse_lines(result.stdout)
    assert len(lines) == 200
    assert sorted(line["registrationId"] for line in lines) == ids
    assert sorted(line["line"] for line in lines) == list(range(2, 202))
    for line in lines:
        assert line["status"] == "assigned", line
        assert line["assignedHub"] in HUBS
        assert line["operationId"]
        assert line["latencyMs"] > 0
        assert "error" not in line
        assert line["registrationState"]["registrationId"] == line["registrationId"]

    assert summary_counts(result.stderr) == (200, 200, 0, 0)
    assert "failures: none" in result.stderr
    assert re.search(r"throughput \d+\.\d registrations/s", result.stderr)
    latency = re.search(r"latency ms: p50 ([\d.]+), p90 ([\d.]+), p99 ([\d.]+), max ([\d.]+)",
                        result.stderr)
    assert latency, result.stderr
    p50, p90, p99, peak = map(float, latency.groups())
    assert 0 < p50 <= p90 <= p99 <= peak
    # The summary's percentiles are nearest-rank over the per-line latencies.
    latencies = sorted(line["latencyMs"] for line in lines)
    for fraction, reported in ((0.50, p50), (0.90, p90), (0.99, p99), (1.0, peak)):
        expected = latencies[math.ceil(fraction * len(latencies)) - 1]
        assert abs(expected - reported) <= 0.051, (fraction, expected, reported)
    assert "progress:" not in result.stderr  # --progress never


def test_group_key_column_jsonl_and_bad_lines(prov, emulator, tmp_path):
    good_group = [f"batch-g-{n}" for n in range(6)]
    good_key = [f"batch-k-{n}" for n in range(6)]
    wrong = [f"batch-w-{n}" for n in range(4)]
    records = []
    records += [{"registrationId": rid, "groupKey": GROUP_KEY} for rid in good_group]
    records += [{"registrationId": rid, "key": derive_device_key(GROUP_KEY, rid)} for rid in good_key]
    records += [{"registrationId": rid, "key": WRONG_KEY} for rid in wrong]
    text = "".join(json.dumps(record) + "\n" for record in records)
    # Unusable lines, each reported by its line number (records fill lines 1..16).
    text += '{"registrationId": "batch-broken", "key": \n'      # line 17: not JSON
    text += '{"registrationId": "batch-nokey"}\n'               # line 18: no key
    text += '\n# a comment line\n'                               # lines 19-20: skipped
    text += '{"registrationId": "batch-badb64", "key": "@@@"}\n'  # line 21: rejected by libprov
    text += '{"registrationId": 7, "key": "x"}\n'                # line 22: wrong type
    text += '{"registrationId": "batch-x", "groupkey": "x"}\n'   # line 23: near-miss name
    text += '{"registrationId": "batch-y", "%s": "x"}\n' % WRONG_KEY  # line 24: key as name
    batch = tmp_path / "devices.jsonl"
    batch.write_text(text)
    output = tmp_path / "out.jsonl"

    secrets = [GROUP_KEY, WRONG_KEY] + [derive_device_key(GROUP_KEY, rid) for rid in good_key +
                                        good_group]
    result = prov("register", "--batch", batch, *emulator.common_args(), "--concurrency", "4",
                  "--output", output, secrets=secrets, timeout=120)
    assert result.returncode == 1, result.stderr
    assert result.stdout == ""
    out_text = output.read_text()
    for secret in secrets:
        assert secret not in out_text
    lines = parse_lines(out_text)
    assert len(lines) == 22
    by_line = {line["line"]: line for line in lines}
    assert sorted(by_line) == list(range(1, 19)) + [21, 22, 23, 24]

    for number in range(1, 13):
        assert by_line[number]["status"] == "assigned", by_line[number]
    for number in range(13, 17):
        assert by_line[number]["registrationId"] in wrong
        assert by_line[number]["error"]["status"] == "PROV_E_CREDENTIAL"
        assert by_line[number]["error"]["httpStatus"] == 401
    assert by_line[17]["error"]["status"] == "PROV_E_INVALID_ARG"
    assert "line 17" in by_line[17]["error"]["message"]
    assert "not valid JSON" in by_line[17]["error"]["message"]
    assert by_line[18]["registrationId"] == "batch-nokey"
    assert "no key" in by_line[18]["error"]["message"]
    assert by_line[21]["registrationId"] == "batch-badb64"
    assert by_line[21]["error"]["status"] == "PROV_E_INVALID_ARG"
    assert by_line[21]["error"]["step"] == "create client"
    assert "must be a string" in by_line[22]["error"]["message"]
    assert 'did you mean "groupKey"' in by_line[23]["error"]["message"]
    assert "unknown field" in by_line[24]["error"]["message"]

    assert summary_counts(result.stderr) == (22, 12, 10, 0)
    assert re.search(r"PROV_E_CREDENTIAL \(errorCode 401\d{3}\): 4", result.stderr), result.stderr
    assert re.search(r"input error: 5", result.stderr)
    assert re.search(r"PROV_E_INVALID_ARG: 1", result.stderr)


def test_csv_with_both_key_columns_and_quotes(prov, emulator, tmp_path):
    rid_a, rid_b = "batch-csv-a", "batch-csv-b"
    batch = tmp_path / "devices.csv"
    batch.write_text("group_key,registration_id,key\r\n"
                     f'"{GROUP_KEY}",{rid_a},\r\n'
                     f',"{rid_b}",{derive_device_key(GROUP_KEY, rid_b)}\r\n'
                     f"{GROUP_KEY},batch-csv-c,{derive_device_key(GROUP_KEY, 'batch-csv-c')}\r\n"
                     "too,many,fields,here\r\n")
    result = prov("register", "--batch", batch, *emulator.common_args(), "--progress", "never",
                  secrets=[GROUP_KEY], timeout=60)
    assert result.returncode == 1, result.stderr
    by_line = {line["line"]: line for line in parse_lines(result.stdout)}
    assert by_line[2]["status"] == "assigned" and by_line[2]["registrationId"] == rid_a
    assert by_line[3]["status"] == "assigned" and by_line[3]["registrationId"] == rid_b
    assert "more than one credential" in by_line[4]["error"]["message"]
    assert "expected 3 fields, found 4" in by_line[5]["error"]["message"]


def test_batch_from_stdin_to_stdout(prov, emulator):
    ids = [f"batch-stdin-{n}" for n in range(5)]
    text = "".join(json.dumps({"registrationId": rid, "groupKey": GROUP_KEY}) + "\n" for rid in ids)
    result = prov("register", "--batch", "-", "--output", "-", *emulator.common_args(),
                  "--progress", "never", "--concurrency", "2", input_text=text,
                  secrets=[GROUP_KEY])
    assert result.returncode == 0, result.stderr
    lines = parse_lines(result.stdout)
    assert sorted(line["registrationId"] for line in lines) == ids
    assert all(line["status"] == "assigned" for line in lines)
    assert summary_counts(result.stderr) == (5, 5, 0, 0)


def slow_batch(emulator_bin, tmp_path_factory, tmp_path, count):
    """A slow emulator (each device is 'assigning' for 1.5 s) and a batch file for it."""
    config = group_config(SLOW_GROUP_KEY, assignmentDelayMs=1500, retryAfterSeconds=1)
    emulator = Emulator(emulator_bin, tmp_path_factory.mktemp("slow-emulator"), config).start()
    batch = write_group_batch(tmp_path / "slow.csv", "slow-dev", count, SLOW_GROUP_KEY, width=2)
    return emulator, batch


def test_sigint_stops_new_work_and_keeps_finished_lines(prov_bin, emulator_bin, tmp_path_factory,
                                                         tmp_path):
    emulator, batch = slow_batch(emulator_bin, tmp_path_factory, tmp_path, 40)
    output = tmp_path / "out.jsonl"
    stderr_path = tmp_path / "stderr.txt"
    try:
        with open(stderr_path, "w") as stderr_file:
            process = subprocess.Popen(
                [prov_bin, "register", "--batch", str(batch), *emulator.common_args(),
                 "--concurrency", "4", "--output", str(output), "--progress", "auto"],
                stdout=subprocess.DEVNULL, stderr=stderr_file)
            # Wait until some devices have finished, then interrupt.
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                if output.exists() and output.read_text().count("\n") >= 4:
                    break
                assert process.poll() is None, "batch ended before it could be interrupted"
                time.sleep(0.05)
            time.sleep(1.0)  # > 2 s into the run: a plain progress line is due
            process.send_signal(signal.SIGINT)
            returncode = process.wait(timeout=60)
    finally:
        emulator.stop()
    stderr = stderr_path.read_text()
    assert SLOW_GROUP_KEY not in stderr
    assert returncode == 130, stderr
    text = output.read_text()
    assert text.endswith("\n")
    lines = parse_lines(text)
    assert 4 <= len(lines) < 40
    for line in lines:
        assert line["status"] == "assigned", line
    assert "interrupted" in stderr
    total, assigned, failed, not_started = summary_counts(stderr)
    assert (total, assigned, failed) == (40, len(lines), 0)
    assert not_started == 40 - len(lines)
    # stderr is not a terminal here: progress comes as plain lines every 2 s.
    assert re.search(r"progress: \d+/40 done, \d+ failed, \d+ in flight, [\d.]+/s, ETA", stderr)
    assert "\x1b[K" not in stderr


def test_second_sigint_cancels_those_in_flight(prov_bin, emulator_bin, tmp_path_factory,
                                              tmp_path):
    """Ctrl-C once: no new devices; twice: those in flight are cancelled, each with its line."""
    fast_key, slow_key = make_key("batch-fast"), make_key("batch-slow")

    def enrollment(registration_id, key, delay_ms):
        return {"registrationId": registration_id, "assignmentDelayMs": delay_ms,
                "attestation": {"type": "symmetricKey", "primaryKey": key, "secondaryKey": key}}

    fast = [f"fast-{n}" for n in range(3)]
    slow = [f"slow-{n}" for n in range(4)]  # "assigning" for a minute
    later = [f"later-{n}" for n in range(10)]
    config = {"idScope": ID_SCOPE, "iotHubs": HUBS, "retryAfterSeconds": 1, "enrollments":
              [enrollment(rid, fast_key, 0) for rid in fast + later] +
              [enrollment(rid, slow_key, 60000) for rid in slow]}
    emulator = Emulator(emulator_bin, tmp_path_factory.mktemp("cancel-emulator"), config).start()
    batch = tmp_path / "devices.csv"
    batch.write_text("registration_id,key\n" +
                     "".join(f"{rid},{fast_key}\n" for rid in fast) +
                     "".join(f"{rid},{slow_key}\n" for rid in slow) +
                     "".join(f"{rid},{fast_key}\n" for rid in later))
    output = tmp_path / "out.jsonl"
    stderr_path = tmp_path / "stderr.txt"

    def wait_until(condition, what):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if condition():
                return
            assert process.poll() is None, f"prov ended while waiting for {what}"
            time.sleep(0.02)
        pytest.fail(f"timed out waiting for {what}")

    try:
        with open(stderr_path, "w") as stderr_file:
            process = subprocess.Popen(
                [prov_bin, "register", "--batch", str(batch), *emulator.common_args(),
                 "--concurrency", "4", "--output", str(output), "--progress", "never",
                 "--timeout", "120"], stdout=subprocess.DEVNULL, stderr=stderr_file)
            # Every worker is waiting on a slow device, the fast ones are written.
            wait_until(lambda: output.exists() and output.read_text().count("\n") == 3,
                       "the fast devices' lines")
            wait_until(lambda: emulator.log_path.read_text().count("op=register") >= 7,
                       "the slow devices' register requests")
            process.send_signal(signal.SIGINT)
            wait_until(lambda: "interrupt again to cancel them" in stderr_path.read_text(),
                       "the first interrupt's message")
            time.sleep(0.3)
            assert process.poll() is None, "the first Ctrl-C must wait for those in flight"
            interrupted = time.monotonic()
            process.send_signal(signal.SIGINT)
            returncode = process.wait(timeout=30)
            elapsed = time.monotonic() - interrupted
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        emulator.stop()
    stderr = stderr_path.read_text()
    assert fast_key not in stderr and slow_key not in stderr
    assert returncode == 130, stderr
    assert elapsed < 2.0, elapsed
    assert "cancelling 4 in flight" in stderr
    lines = {line["registrationId"]: line for line in parse_lines(output.read_text())}
    assert sorted(lines) == sorted(fast + slow)
    for rid in fast:
        assert lines[rid]["status"] == "assigned", lines[rid]
    for rid in slow:
        assert lines[rid]["status"] == "error", lines[rid]
        assert lines[rid]["error"]["status"] == "PROV_E_CANCELLED", lines[rid]
    assert summary_counts(stderr) == (17, 3, 4, 10)
    assert "batch summary (interrupted)" in stderr


def test_third_sigint_quits_when_the_output_is_stuck(prov_bin, emulator, tmp_path):
    """Nobody reads the result pipe: the workers block writing, so neither waiting (first
    Ctrl-C) nor cancelling (second) can end the run; the third quits at once, and what reached
    the pipe is whole lines."""
    count = 400  # far more result lines than a pipe holds
    batch = write_group_batch(tmp_path / "many.csv", "stuck", count, GROUP_KEY)
    stderr_path = tmp_path / "stderr.txt"
    read_end, write_end = os.pipe()
    try:
        with open(stderr_path, "w") as stderr_file:
            process = subprocess.Popen(
                [prov_bin, "register", "--batch", str(batch), *emulator.common_args(),
                 "--concurrency", "8", "--progress", "never"],
                stdout=write_end, stderr=stderr_file)
        os.close(write_end)
        write_end = -1

        def blocked_writing():
            """True once a thread of prov sleeps in the kernel's pipe write."""
            tasks = f"/proc/{process.pid}/task"
            for task in os.listdir(tasks):
                with contextlib.suppress(OSError):
                    with open(f"{tasks}/{task}/wchan") as wchan:
                        if "pipe_write" in wchan.read():
                            return True
            return False

        # Once the writer is blocked on the full pipe (holding the line lock), no worker can
        # finish: every one ends up waiting to write its line.
        deadline = time.monotonic() + 60
        while not blocked_writing():
            assert process.poll() is None, "prov ended although nobody read its output"
            assert time.monotonic() < deadline, "prov never blocked on its full output pipe"
            time.sleep(0.05)
        for _ in range(2):
            process.send_signal(signal.SIGINT)
            time.sleep(0.5)
        assert process.poll() is None, "the output is stuck: only the third Ctrl-C can end it"
        interrupted = time.monotonic()
        process.send_signal(signal.SIGINT)
        returncode = process.wait(timeout=30)
        elapsed = time.monotonic() - interrupted
        written = b""
        while chunk := os.read(read_end, 65536):
            written += chunk
    finally:
        if write_end >= 0:
            os.close(write_end)
        os.close(read_end)
        if process.poll() is None:
            process.kill()
            process.wait()
    stderr = stderr_path.read_text()
    assert GROUP_KEY not in stderr
    assert returncode == 130, stderr
    assert elapsed < 2.0, elapsed
    assert "interrupt a third time to quit at once" in stderr
    assert "batch summary (interrupted)" in stderr
    text = written.decode()
    assert text.endswith("\n")
    lines = parse_lines(text)  # whole JSON lines only
    assert 0 < len(lines) < count
    assert all(line["status"] == "assigned" for line in lines)


@pytest.mark.parametrize("stdout_on_terminal", [False, True])
def test_live_progress_bar_on_a_terminal(prov_bin, emulator_bin, tmp_path_factory, tmp_path,
                                         stdout_on_terminal):
    emulator, batch = slow_batch(emulator_bin, tmp_path_factory, tmp_path, 6)
    controller, terminal = pty.openpty()
    try:
        process = subprocess.Popen(
            [prov_bin, "register", "--batch", str(batch), *emulator.common_args(),
             "--concurrency", "3"], stdout=terminal if stdout_on_terminal else subprocess.PIPE,
            stderr=terminal)
        os.close(terminal)
        captured = b""
        while True:
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # EIO: the terminal's other side is closed
                break
            if not chunk:
                break
            captured += chunk
        stdout = b"" if stdout_on_terminal else process.stdout.read()
        returncode = process.wait(timeout=60)
    finally:
        os.close(controller)
        emulator.stop()
    text = captured.decode(errors="replace")
    assert returncode == 0, text
    if stdout_on_terminal:
        # Each result line erases the bar first, so every line is whole JSON.
        pieces = [piece for piece in text.split("\n") if '{"line"' in piece]
        lines = [json.loads(piece[piece.index('{"line"'):].rstrip("\r")) for piece in pieces]
    else:
        lines = parse_lines(stdout.decode())
    assert len(lines) == 6
    assert all(line["status"] == "assigned" for line in lines)
    assert "\r\x1b[K[" in text
    assert re.search(r"\[#+-*\] \d/6 done, 0 failed, \d in flight", text)
    assert "6/6 done" in text
    assert "batch summary: 6 devices, 6 assigned, 0 failed, 0 not started" in text


def test_500_in_flight_on_a_handful_of_threads(prov_bin, emulator_bin, tmp_path_factory,
                                               tmp_path):
    """--concurrency 500 with every device "assigning" for a while, so all 500 are in flight at
    once: all are assigned, and the prov process never runs more than a handful of threads (the
    registrations are fibers on libprov's event loops, not a thread each)."""
    count = 500
    group_key = make_key("batch-500-group")
    # Long enough for all 500 to be started and in flight together on a loaded machine (the
    # 500 TLS handshakes take seconds of CPU under the sanitizers).
    config = group_config(group_key, assignmentDelayMs=20000, retryAfterSeconds=2)
    emulator = Emulator(emulator_bin, tmp_path_factory.mktemp("emulator-500"), config).start()
    batch = write_group_batch(tmp_path / "five-hundred.csv", "fleet", count, group_key)
    output = tmp_path / "out.jsonl"
    stderr_path = tmp_path / "stderr.txt"
    most_threads = 0
    most_in_flight = 0
    try:
        with open(stderr_path, "w") as stderr_file:
            process = subprocess.Popen(
                [prov_bin, "register", "--batch", str(batch), *emulator.common_args(),
                 "--concurrency", str(count), "--output", str(output), "--progress", "never",
                 "--timeout", "240"], stdout=subprocess.DEVNULL, stderr=stderr_file)
            deadline = time.monotonic() + 240
            while process.poll() is None:
                assert time.monotonic() < deadline, "the batch of 500 did not end in time"
                with contextlib.suppress(OSError):
                    with open(f"/proc/{process.pid}/status") as status:
                        threads = re.search(r"^Threads:\s+(\d+)", status.read(), re.M)
                    if threads:
                        most_threads = max(most_threads, int(threads.group(1)))
                    # Connections open at once: proof that the 500 overlap.
                    sockets = sum(1 for fd in os.listdir(f"/proc/{process.pid}/fd")
                                  if os.readlink(f"/proc/{process.pid}/fd/{fd}")
                                  .startswith("socket:"))
                    most_in_flight = max(most_in_flight, sockets)
                time.sleep(0.05)
            returncode = process.wait()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        emulator.stop()
    stderr = stderr_path.read_text()
    assert group_key not in stderr
    assert returncode == 0, stderr
    lines = parse_lines(output.read_text())
    assert len(lines) == count
    assert all(line["status"] == "assigned" for line in lines), \
        [line for line in lines if line["status"] != "assigned"][:3]
    assert sorted(line["registrationId"] for line in lines) == \
        [f"fleet-{n:03d}" for n in range(count)]
    assert summary_counts(stderr) == (count, count, 0, 0)
    print(f"most threads {most_threads}, most sockets {most_in_flight}")
    # All 500 were connected at the same time (one socket each)...
    assert most_in_flight >= count, most_in_flight
    # ...on the coordinator, the line writer and libprov's few event-loop threads.
    assert 0 < most_threads <= 12, most_threads


def _limit_open_files(soft, hard):
    def apply():
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    return apply


def test_concurrency_above_the_hard_open_files_limit_is_refused_clearly(prov_bin, emulator,
                                                                        tmp_path):
    batch = write_group_batch(tmp_path / "many.csv", "limit", 400, GROUP_KEY)
    result = subprocess.run(
        [prov_bin, "register", "--batch", str(batch), *emulator.common_args(),
         "--concurrency", "400", "--progress", "never"],
        capture_output=True, text=True, timeout=60, preexec_fn=_limit_open_files(200, 300))
    assert result.returncode == 2, result.stderr
    assert "--concurrency 400 needs about 464 open files" in result.stderr, result.stderr
    assert "hard limit on open files is 300 (ulimit -Hn)" in result.stderr, result.stderr
    assert "use --concurrency 236 or less" in result.stderr, result.stderr
    assert result.stdout == ""
    assert GROUP_KEY not in result.stderr


def test_soft_open_files_limit_is_raised_to_the_hard_limit(prov_bin, emulator_bin,
                                                           tmp_path_factory, tmp_path):
    """300 in flight at once under a soft limit of 128: prov raises the soft limit to the hard
    one (seen in /proc/PID/limits) and every device is assigned."""
    count = 300
    group_key = make_key("batch-limit-group")
    config = group_config(group_key, assignmentDelayMs=3000, retryAfterSeconds=1)
    emulator = Emulator(emulator_bin, tmp_path_factory.mktemp("emulator-limit"), config).start()
    batch = write_group_batch(tmp_path / "devices.csv", "raise", count, group_key)
    output = tmp_path / "out.jsonl"
    soft_limits_seen = set()
    try:
        process = subprocess.Popen(
            [prov_bin, "register", "--batch", str(batch), *emulator.common_args(),
             "--concurrency", str(count), "--output", str(output), "--progress", "never"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            preexec_fn=_limit_open_files(128, 1024))
        deadline = time.monotonic() + 120
        while process.poll() is None and time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                with open(f"/proc/{process.pid}/limits") as limits:
                    match = re.search(r"^Max open files\s+(\d+)", limits.read(), re.M)
                if match:
                    soft_limits_seen.add(int(match.group(1)))
            time.sleep(0.05)
        _, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        emulator.stop()
    assert process.returncode == 0, stderr
    assert 1024 in soft_limits_seen, soft_limits_seen
    lines = parse_lines(output.read_text())
    assert len(lines) == count
    assert all(line["status"] == "assigned" for line in lines)
