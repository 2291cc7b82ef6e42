#!/usr/bin/env python3
"""libprov benchmark harness (issue 9).

Starts one dps-emulator and runs, side by side in one invocation, the same
kind of registrations through every peer:

  c-seq / c-threads   libprov from C, in-process (bench/c/bench_inproc.c)
  cli-proc            the `prov` CLI, one process per registration
  cli-batch           `prov register --batch --concurrency N`
  py-libprov          the libprov Python binding (SDK-compatible API)
  py-sdk              the official Python SDK, azure-iot-device (PyPI)
  node-sdk            the official Node SDK, azure-iot-provisioning-device (npm)
  tls                 plain OpenSSL handshakes against the emulator's MQTT port
                      (the ceiling: a registration needs one handshake)
  scale               one process holding N registrations in flight

The official SDKs dial port 8883 and verify the host name "localhost", so a
full run re-executes itself inside a private network namespace (`unshare -n`,
root) with the emulator on 127.0.0.1:8883/443; nothing else on the machine can
clash with it. `--smoke` (the ctest entry) runs only the libprov peers with
tiny counts on ephemeral ports, without a namespace, and checks that every
number is sane (not how fast it is).

Per peer it reports registrations/second, latency p50/p90/p99/max, CPU
seconds per registration (user+sys of the peer process: measured inside the
peer around the registrations, and for the whole process with wait4), peak
RSS (ru_maxrss), and the emulator's CPU per registration. Outputs in
--out-dir: results.json (everything, raw latencies excluded), RESULTS.md
(tables, ratios, targets) and, unless --no-chart, bench.png.
"""

import argparse
import base64
import datetime
import hashlib
import hmac
import json
import os
import platform
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ID_SCOPE = "0ne00000A0A"
HUBS = ["hub-1.bench.example.net", "hub-2.bench.example.net"]
CLK_TCK = os.sysconf("SC_CLK_TCK")

# Registrations per peer. A peer's count only changes how long it runs, not
# its rate; slow peers get fewer so a full run stays around ten minutes.
FULL_COUNTS = {
    "c-seq": 1500, "c-threads": 3000, "c-async": 3000, "cli-proc": 300, "cli-batch": 1500,
    "py-libprov": 600, "py-sdk": 300, "node-sdk": 300, "node-sdk-conc": 600,
    "tls-seq": 3000, "tls-conc": 6000, "tls-fresh": 1500, "tls-resume": 3000,
    "real": 10, "real-conc": 200, "scale": 1000,
}
SMOKE_COUNTS = {
    "c-seq": 20, "c-threads": 40, "c-async": 40, "cli-proc": 5, "cli-batch": 20, "py-libprov": 20,
    "py-sdk": 0, "node-sdk": 0, "node-sdk-conc": 0,
    "tls-seq": 20, "tls-conc": 40, "tls-fresh": 20, "tls-resume": 20,
    "real": 2, "real-conc": 10, "scale": 20,
}


class BenchError(Exception):
    """A setup problem or an insane measurement: the run fails with this message."""


def log(message):
    print("bench: " + message, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------
# Emulator
# ----------------------------------------------------------------------------


class Emulator:
    def __init__(self, binary, workdir, config, fixed_ports):
        self.binary = binary
        self.workdir = workdir
        # Registration records are fsync'ed (synchronous=FULL). On tmpfs that
        # costs nothing, so the emulator's disk does not set the pace.
        shm = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
        self.data_dir = tempfile.mkdtemp(prefix="prov-bench-data-", dir=shm)
        self.config_path = os.path.join(workdir, "emulator-config.json")
        with open(self.config_path, "w", encoding="utf-8") as f:
            json.dump(config, f, indent=1)
        self.ports_file = os.path.join(workdir, "ports.json")
        self.log_path = os.path.join(workdir, "emulator.log")
        self.fixed_ports = fixed_ports
        self.process = None
        self.ports = None

    def start(self):
        mqtt, https = ("8883", "443") if self.fixed_ports else ("0", "0")
        with open(self.log_path, "wb") as log_file:
            self.process = subprocess.Popen(
                [self.binary, "serve", "--data-dir", self.data_dir, "--config", self.config_path,
                 "--bind", "127.0.0.1", "--mqtt-port", mqtt, "--https-port", https,
                 "--admin-port", "0", "--ports-file", self.ports_file],
                stdout=subprocess.DEVNULL, stderr=log_file)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if os.path.exists(self.ports_file):
                with open(self.ports_file, encoding="utf-8") as f:
                    self.ports = json.load(f)
                break
            if self.process.poll() is not None:
                raise BenchError("dps-emulator exited with %s before listening:\n%s"
                                 % (self.process.returncode, self.log_tail()))
            time.sleep(0.05)
        else:
            self.stop()
            raise BenchError("dps-emulator did not write its ports file within 30 s")
        ca = subprocess.run([self.binary, "ca-path", "--data-dir", self.data_dir],
                            capture_output=True, text=True, check=True)
        self.ca_path = ca.stdout.strip()
        if not os.path.isfile(self.ca_path):
            raise BenchError("dps-emulator ca-path printed %r, not a file" % self.ca_path)

    def cpu_seconds(self):
        with open("/proc/%d/stat" % self.process.pid, encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def log_tail(self, lines=30):
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return "(no emulator log)"

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                raise BenchError("dps-emulator did not exit within 15 s of SIGTERM")
        shutil.rmtree(self.data_dir, ignore_errors=True)
        if self.process and self.process.returncode not in (0, None):
            raise BenchError("dps-emulator exited with %d after SIGTERM" % self.process.returncode)


# ----------------------------------------------------------------------------
# Devices and processes
# ----------------------------------------------------------------------------


def derive_device_key(group_key_b64, registration_id):
    digest = hmac.new(base64.b64decode(group_key_b64), registration_id.encode("utf-8"),
                      hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


class Groups:
    """Enrollment groups, one per scenario, each with its own timing."""

    def __init__(self, smoke):
        scale_delay = 3000 if smoke else 5000
        self.settings = {
            "fast": {"assignmentDelayMs": 0, "retryAfterSeconds": 1},
            "real": {"assignmentDelayMs": 1000, "retryAfterSeconds": 1},
            "scale": {"assignmentDelayMs": scale_delay, "retryAfterSeconds": 2},
            # --stretch: thousands of handshakes take tens of seconds to start,
            # so the delay must outlast them for all to be in flight at once.
            "stretch": {"assignmentDelayMs": 60000, "retryAfterSeconds": 20},
        }
        self.keys = {name: base64.b64encode(secrets.token_bytes(32)).decode("ascii")
                     for name in self.settings}

    def emulator_config(self):
        groups = []
        for name, timing in self.settings.items():
            group = {"enrollmentGroupId": "bench-" + name,
                     "attestation": {"type": "symmetricKey", "primaryKey": self.keys[name]}}
            group.update(timing)
            groups.append(group)
        return {"idScope": ID_SCOPE, "iotHubs": HUBS, "enrollmentGroups": groups}


def write_devices(workdir, groups, group, peer, count):
    """A CSV of fresh devices (the format `prov register --batch` reads)."""
    path = os.path.join(workdir, "devices-%s-%s.csv" % (group, peer))
    stamp = "%x" % int(time.time())
    with open(path, "w", encoding="utf-8") as f:
        f.write("registration_id,key\n")
        for i in range(count):
            rid = "%s-%s-%s-%05d" % (group, peer, stamp, i)
            f.write("%s,%s\n" % (rid, derive_device_key(groups.keys[group], rid)))
    return path


SPAWN = None  # prov-bench-spawn, set in main()


class Usage:
    """CPU and peak RSS of one finished process (or a sum over processes)."""

    def __init__(self, user_s, sys_s, maxrss_kb):
        self.ru_utime, self.ru_stime, self.ru_maxrss = user_s, sys_s, maxrss_kb


def run_measured(cmd, env=None, timeout=900, stdout_path=None, stderr_path=None):
    """Runs cmd to completion through prov-bench-spawn (see bench_spawn.c for
    why); returns (exit code, Usage, wall seconds). On timeout the whole
    process group is killed."""
    report_path = (stdout_path or stderr_path or os.path.join(tempfile.gettempdir(), "prov-bench"))
    report_path += ".usage-%d" % os.getpid()
    out = open(stdout_path, "wb") if stdout_path else subprocess.DEVNULL
    err = open(stderr_path, "wb") if stderr_path else subprocess.DEVNULL
    try:
        process = subprocess.Popen([SPAWN, report_path] + cmd, stdout=out, stderr=err, env=env,
                                   start_new_session=True)
        timer = threading.Timer(timeout, lambda: os.killpg(process.pid, signal.SIGKILL))
        timer.start()
        try:
            process.wait()
        finally:
            timer.cancel()
        with open(report_path, encoding="ascii") as f:
            report = json.load(f)
        os.unlink(report_path)
        usage = Usage(report["user_s"], report["sys_s"], report["maxrss_kb"])
        return report["exit"], usage, report["wall_s"]
    finally:
        if stdout_path:
            out.close()
        if stderr_path:
            err.close()


def percentile(sorted_values, fraction):
    if not sorted_values:
        return None
    index = min(len(sorted_values) - 1, max(0, int(round(fraction * len(sorted_values) + 0.5)) - 1))
    return sorted_values[index]


class Runner:
    def __init__(self, args, workdir, emulator, groups):
        self.args = args
        self.workdir = workdir
        self.emulator = emulator
        self.groups = groups
        self.rows = []
        self.host = "localhost" if emulator.fixed_ports else "localhost:%d" % emulator.ports["mqtt"]

    def bench_bin(self, name):
        path = os.path.join(self.args.bench_bin_dir, name)
        if not os.access(path, os.X_OK):
            raise BenchError("%s is missing (build target %s)" % (path, name))
        return path

    def record(self, peer, scenario, description, count, report, usage, wall, emu_cpu, concurrency):
        """Adds one result row from a peer's JSON report plus wait4's rusage."""
        latencies = sorted(report.get("latencies_ms", []))
        ok = int(report.get("ok", len(latencies)))
        elapsed = float(report.get("elapsed_s", wall))
        cpu = float(report.get("cpu_user_s", 0.0)) + float(report.get("cpu_sys_s", 0.0))
        process_cpu = usage.ru_utime + usage.ru_stime if usage else None
        row = {
            "peer": peer, "scenario": scenario, "description": description,
            "library": report.get("library", ""), "concurrency": concurrency,
            "count": count, "ok": ok, "failures": report.get("failures", {}),
            "first_error": report.get("first_error", ""),
            "elapsed_s": elapsed, "rate_per_s": ok / elapsed if elapsed > 0 else 0.0,
            "p50_ms": percentile(latencies, 0.50), "p90_ms": percentile(latencies, 0.90),
            "p99_ms": percentile(latencies, 0.99), "max_ms": latencies[-1] if latencies else None,
            "cpu_per_reg_ms": 1000.0 * cpu / ok if ok else None,
            "process_cpu_per_reg_ms": 1000.0 * process_cpu / ok if ok and process_cpu is not None else None,
            "peak_rss_kb": usage.ru_maxrss if usage else None,
            "emulator_cpu_per_reg_ms": 1000.0 * emu_cpu / ok if ok else None,
            # raw material for merge_rounds(); dropped before results.json
            "_latencies": latencies, "_cpu_s": cpu, "_process_cpu_s": process_cpu,
            "_emu_cpu_s": emu_cpu, "rounds": 1,
        }
        for key in ("protocol", "cipher", "fresh_context", "resumed", "baseline", "peak", "after",
                    "thread_stack_kb", "fd_limit", "threads_started", "thread_error",
                    "thread_start_s", "stacks_at_full"):
            if key in report:
                row[key] = report[key]
        self.rows.append(row)
        log("%-14s %-5s %5d/%-5d ok  %8.1f/s  p50 %s ms  cpu/reg %s ms  rss %s kB%s" % (
            peer, scenario, ok, count, row["rate_per_s"], fmt(row["p50_ms"]),
            fmt(row["cpu_per_reg_ms"], 3), row["peak_rss_kb"],
            ("  FIRST ERROR: " + row["first_error"]) if ok < count else ""))
        return row

    def merge_rounds(self):
        """Merges rows of the same peer and scenario (one per round) into one:
        rate = all successes / summed loop time, percentiles over all
        latencies, CPU summed, peak RSS the largest."""
        merged, order = {}, []
        for row in self.rows:
            key = (row["peer"], row["scenario"], row["concurrency"])
            if key not in merged:
                merged[key] = row
                order.append(key)
                continue
            into = merged[key]
            into["count"] += row["count"]
            into["ok"] += row["ok"]
            into["elapsed_s"] += row["elapsed_s"]
            into["_latencies"] = sorted(into["_latencies"] + row["_latencies"])
            into["_cpu_s"] += row["_cpu_s"]
            into["_emu_cpu_s"] += row["_emu_cpu_s"]
            if into["_process_cpu_s"] is not None and row["_process_cpu_s"] is not None:
                into["_process_cpu_s"] += row["_process_cpu_s"]
            into["peak_rss_kb"] = max(into["peak_rss_kb"] or 0, row["peak_rss_kb"] or 0)
            for kind, n in row["failures"].items():
                into["failures"][kind] = into["failures"].get(kind, 0) + n
            into["first_error"] = into["first_error"] or row["first_error"]
            if "resumed" in into and "resumed" in row:
                into["resumed"] += row["resumed"]
            into["rounds"] += 1
        for key in order:
            row, ok = merged[key], merged[key]["ok"]
            latencies = row["_latencies"]
            row["rate_per_s"] = ok / row["elapsed_s"] if row["elapsed_s"] > 0 else 0.0
            row["p50_ms"], row["p90_ms"], row["p99_ms"] = (
                percentile(latencies, 0.5), percentile(latencies, 0.9), percentile(latencies, 0.99))
            row["max_ms"] = latencies[-1] if latencies else None
            row["cpu_per_reg_ms"] = 1000.0 * row["_cpu_s"] / ok if ok else None
            row["process_cpu_per_reg_ms"] = (1000.0 * row["_process_cpu_s"] / ok
                                             if ok and row["_process_cpu_s"] is not None else None)
            row["emulator_cpu_per_reg_ms"] = 1000.0 * row["_emu_cpu_s"] / ok if ok else None
        self.rows = [merged[key] for key in order]

    def run_json_peer(self, peer, scenario, description, count, cmd, env=None, concurrency=1,
                      timeout=900):
        stdout_path = os.path.join(self.workdir, "%s-%s.json" % (peer, scenario))
        stderr_path = os.path.join(self.workdir, "%s-%s.stderr" % (peer, scenario))
        emu_before = self.emulator.cpu_seconds()
        rc, usage, wall = run_measured(cmd, env=env, timeout=timeout, stdout_path=stdout_path,
                                       stderr_path=stderr_path)
        emu_cpu = self.emulator.cpu_seconds() - emu_before
        try:
            with open(stdout_path, encoding="utf-8") as f:
                report = json.loads(f.read())
        except (OSError, ValueError):
            with open(stderr_path, encoding="utf-8", errors="replace") as f:
                tail = f.read()[-2000:]
            raise BenchError("%s (%s) exited %d without a JSON report; stderr:\n%s"
                             % (peer, scenario, rc, tail))
        if rc != 0:
            raise BenchError("%s (%s) exited %d" % (peer, scenario, rc))
        return self.record(peer, scenario, description, count, report, usage, wall, emu_cpu,
                           concurrency)

    # --- peers -------------------------------------------------------------

    def c_run(self, peer, scenario, count, threads, use_async=False):
        devices = write_devices(self.workdir, self.groups, scenario, peer, count)
        cmd = [self.bench_bin("prov-bench-inproc"), "run", "--devices", devices, "--host",
               self.host, "--id-scope", ID_SCOPE, "--ca", self.emulator.ca_path, "--threads",
               str(threads)]
        if use_async:
            cmd.append("--async")
            what = "libprov C, prov_client_register_async, %d in flight" % threads
        else:
            what = "libprov C in-process, " + (
                "sequential" if threads == 1 else "%d threads" % threads)
        return self.run_json_peer(peer, scenario, what, count, cmd, concurrency=threads)

    def c_scale(self, count, stack_kb=None, variant=None, group="scale"):
        """variant: None, "arena1" (glibc MALLOC_ARENA_MAX=1), "release-buffers"
        (LD_PRELOAD shim: SSL_MODE_RELEASE_BUFFERS) or "both" — experiments that
        show where the memory per in-flight registration goes."""
        peer = "c-scale" + ("-%dk" % stack_kb if stack_kb else "") + ("-" + variant if variant else "")
        if group != "scale":
            peer += "-" + group
        devices = write_devices(self.workdir, self.groups, group, peer, count + 1)
        cmd = [self.bench_bin("prov-bench-inproc"), "scale", "--devices", devices, "--host",
               self.host, "--id-scope", ID_SCOPE, "--ca", self.emulator.ca_path]
        if stack_kb:
            cmd += ["--stack-kb", str(stack_kb)]
        env = dict(os.environ)
        notes = []
        if variant == "async":
            cmd.append("--async")
            notes.append("prov_client_register_async")
        if variant in ("arena1", "both"):
            env["MALLOC_ARENA_MAX"] = "1"
            notes.append("MALLOC_ARENA_MAX=1")
        if variant in ("release-buffers", "both"):
            env["LD_PRELOAD"] = self.bench_bin("libprov-bench-release-buffers.so")
            notes.append("SSL_MODE_RELEASE_BUFFERS shim")
        if stack_kb:
            notes.append("%d kB stacks" % stack_kb)
        what = "libprov C, %d in flight (%s)" % (
            count, ", ".join(notes) if variant == "async" else
            "thread each" + "".join(", " + n for n in notes))
        if group != "scale":
            what += ", %d s assignment delay" % (self.groups.settings[group]["assignmentDelayMs"] // 1000)
        return self.run_json_peer(peer, "scale", what, count, cmd, env=env, concurrency=count,
                                  timeout=900)

    def tls(self, peer, count, threads, fresh, resume=False):
        cmd = [self.bench_bin("prov-bench-tls"), "--port", str(self.emulator.ports["mqtt"]),
               "--ca", self.emulator.ca_path, "--count", str(count), "--threads", str(threads)]
        if fresh:
            cmd.append("--fresh-context")
        if resume:
            cmd.append("--resume")
        what = "OpenSSL handshakes, %s, %s" % (
            "sequential" if threads == 1 else "%d threads" % threads,
            "new SSL_CTX + CA load each" if fresh else
            "one SSL_CTX, resuming the previous session" if resume else "one SSL_CTX")
        return self.run_json_peer(peer, "fast", what, count, cmd, concurrency=threads)

    def cli_proc(self, scenario, count):
        """One `prov register` process per device; CPU and RSS from wait4 of each."""
        devices = write_devices(self.workdir, self.groups, scenario, "cli-proc", count)
        with open(devices, encoding="utf-8") as f:
            rows = [line.strip().split(",", 1) for line in f.readlines()[1:]]
        latencies, failures, first_error = [], {}, ""
        utime = stime = 0.0
        maxrss = 0
        emu_before = self.emulator.cpu_seconds()
        started = time.perf_counter()
        for registration_id, key in rows:
            env = dict(os.environ, PROV_SYMMETRIC_KEY=key)
            out_path = os.path.join(self.workdir, "cli-proc.out")
            rc, usage, wall = run_measured(
                [self.args.prov_cli, "register", "--host", self.host, "--id-scope", ID_SCOPE,
                 "--registration-id", registration_id, "--ca-file", self.emulator.ca_path,
                 "--json"], env=env, timeout=120, stdout_path=out_path)
            utime += usage.ru_utime
            stime += usage.ru_stime
            maxrss = max(maxrss, usage.ru_maxrss)
            status = None
            try:
                with open(out_path, encoding="utf-8") as f:
                    status = json.loads(f.read()).get("status")
            except (OSError, ValueError):
                pass
            if rc == 0 and status == "assigned":
                latencies.append(wall * 1000.0)
            else:
                kind = "exit %d" % rc
                failures[kind] = failures.get(kind, 0) + 1
                first_error = first_error or "%s: exit %d, status %s" % (registration_id, rc, status)
        elapsed = time.perf_counter() - started
        emu_cpu = self.emulator.cpu_seconds() - emu_before
        report = {"ok": len(latencies), "elapsed_s": elapsed, "cpu_user_s": utime,
                  "cpu_sys_s": stime, "latencies_ms": latencies, "failures": failures,
                  "first_error": first_error, "library": "prov CLI"}
        return self.record("cli-proc", scenario, "prov CLI, one process per registration", count,
                           report, Usage(utime, stime, maxrss), elapsed, emu_cpu, 1)

    def cli_batch(self, scenario, count, concurrency):
        devices = write_devices(self.workdir, self.groups, scenario, "cli-batch", count)
        out_path = os.path.join(self.workdir, "cli-batch-%s.jsonl" % scenario)
        emu_before = self.emulator.cpu_seconds()
        rc, usage, wall = run_measured(
            [self.args.prov_cli, "register", "--batch", devices, "--host", self.host,
             "--id-scope", ID_SCOPE, "--ca-file", self.emulator.ca_path, "--concurrency",
             str(concurrency), "--output", out_path, "--progress", "never"],
            timeout=900, stderr_path=out_path + ".stderr")
        emu_cpu = self.emulator.cpu_seconds() - emu_before
        latencies, failures, first_error = [], {}, ""
        with open(out_path, encoding="utf-8") as f:
            for line in f:
                item = json.loads(line)
                if item.get("status") == "assigned":
                    latencies.append(float(item["latencyMs"]))
                else:
                    kind = (item.get("error") or {}).get("status", item.get("status"))
                    failures[kind] = failures.get(kind, 0) + 1
                    first_error = first_error or json.dumps(item.get("error"))
        if rc not in (0, 1):
            raise BenchError("prov register --batch exited %d" % rc)
        report = {"ok": len(latencies), "elapsed_s": wall, "latencies_ms": latencies,
                  "failures": failures, "first_error": first_error, "library": "prov CLI"}
        # No in-process CPU split for the CLI: the whole process is charged.
        report["cpu_user_s"], report["cpu_sys_s"] = usage.ru_utime, usage.ru_stime
        return self.record("cli-batch", scenario,
                           "prov register --batch, %d workers" % concurrency, count, report, usage,
                           wall, emu_cpu, concurrency)

    def python_peer(self, impl, scenario, count):
        devices = write_devices(self.workdir, self.groups, scenario, "py-" + impl, count)
        if impl == "libprov":
            python = sys.executable
            env = dict(os.environ, PYTHONPATH=self.args.libprov_pythonpath,
                       PYTHONDONTWRITEBYTECODE="1")
            peer, what = "py-libprov", "libprov Python binding, sequential"
        else:
            python = os.path.join(self.args.venv, "bin", "python")
            env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
            peer, what = "py-sdk", "official Python SDK (azure-iot-device), sequential"
        cmd = [python, os.path.join(HERE, "peers", "peer_python.py"), "--impl", impl, "--devices",
               devices, "--host", self.host, "--id-scope", ID_SCOPE, "--ca", self.emulator.ca_path]
        return self.run_json_peer(peer, scenario, what, count, cmd, env=env)

    def node_peer(self, scenario, count, concurrency):
        devices = write_devices(self.workdir, self.groups, scenario, "node-%d" % concurrency, count)
        env = dict(os.environ, NODE_PATH=os.path.join(self.args.node_dir, "node_modules"),
                   NODE_EXTRA_CA_CERTS=self.emulator.ca_path)
        cmd = ["node", os.path.join(HERE, "peers", "peer_node.js"), "--devices", devices,
               "--host", "localhost", "--id-scope", ID_SCOPE, "--concurrency", str(concurrency)]
        peer = "node-sdk" if concurrency == 1 else "node-sdk-conc"
        what = "official Node SDK (MQTT), " + (
            "sequential" if concurrency == 1 else "%d in flight (async)" % concurrency)
        return self.run_json_peer(peer, scenario, what, count, cmd, env=env,
                                  concurrency=concurrency)


def callgrind_totals(path):
    """Total instructions (Ir) of a callgrind output file."""
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith(("summary:", "totals:")):
                return int(line.split()[1])
    raise BenchError("no totals in %s" % path)


# Functions whose inclusive instruction counts explain where a registration's
# CPU goes (the TLS handshake itself, per-connection TLS setup, libprov's own work).
KEY_FUNCTIONS = (
    "PROGRAM TOTALS", ":SSL_connect ", ":SSL_CTX_new ", ":PEM_X509_INFO_read_bio ",
    ":X509_verify_cert ", ":d2i_X509 ", ":OSSL_DECODER_CTX_new_for_pkey ", ":ECDSA_verify ",
    ":EVP_PKEY_keygen ", ":EVP_PKEY_derive ", ":curl_multi_init ", ":curl_easy_init ",
    ":curl_easy_cleanup ", ":curl_multi_cleanup ", ":SSL_CTX_free ", ":SSL_new ", ":SSL_read ",
    ":SSL_write ", "prov::core::Client::register_device", "prov::transport::CurlConnection::open",
    "prov::transport::MqttTransport::connect", "prov::transport::MqttTransport::request(",
    "prov::transport::MqttTransport::close", "prov::json::parse_service_answer",
    "prov::auth::make_sas_token", "prov::core::Client::create_symkey", ":cJSON_Parse",
    "prov_client_free", "prov_result_free")


def profile(runner, out_dir, small=10, large=40):
    """Instruction counts (valgrind callgrind) per registration and per TLS
    handshake: marginal cost = (Ir(large) - Ir(small)) / (large - small), so
    process start-up and one-time setup cancel out. Repeatable where timings
    are not. Writes callgrind-inproc.txt and callgrind-tls.txt (annotated
    profile of the large run) to out_dir."""
    if not shutil.which("valgrind") or not shutil.which("callgrind_annotate"):
        raise BenchError("--profile needs valgrind and callgrind_annotate")
    totals = {}
    for kind in ("inproc", "tls"):
        for n in (small, large):
            out = os.path.join(runner.workdir, "callgrind-%s-%d.out" % (kind, n))
            if kind == "inproc":
                devices = write_devices(runner.workdir, runner.groups, "fast", "prof%d" % n, n)
                cmd = [runner.bench_bin("prov-bench-inproc"), "run", "--devices", devices,
                       "--host", runner.host, "--id-scope", ID_SCOPE, "--ca",
                       runner.emulator.ca_path, "--threads", "1"]
            else:
                cmd = [runner.bench_bin("prov-bench-tls"), "--port",
                       str(runner.emulator.ports["mqtt"]), "--ca", runner.emulator.ca_path,
                       "--count", str(n)]
            rc, _, _ = run_measured(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out]
                                    + cmd, timeout=600,
                                    stdout_path=out + ".json", stderr_path=out + ".stderr")
            with open(out + ".json", encoding="utf-8") as f:
                report = json.load(f)
            if rc != 0 or report["ok"] != n:
                raise BenchError("profile run %s x%d failed: %s" % (kind, n, report.get("first_error")))
            totals[(kind, n)] = callgrind_totals(out)
            if n == large:
                annotated = subprocess.run(
                    ["callgrind_annotate", "--inclusive=yes", "--threshold=99", out],
                    capture_output=True, text=True, check=True).stdout
                exclusive = subprocess.run(
                    ["callgrind_annotate", "--threshold=95", out],
                    capture_output=True, text=True, check=True).stdout
                everything = subprocess.run(
                    ["callgrind_annotate", "--inclusive=yes", "--threshold=100", out],
                    capture_output=True, text=True, check=True).stdout
                key = [line for line in everything.splitlines() if any(
                    name in line for name in KEY_FUNCTIONS)]
                with open(os.path.join(out_dir, "callgrind-%s.txt" % kind), "w",
                          encoding="utf-8") as f:
                    f.write("# ---- key functions, inclusive (divide by %d for one %s) ----\n"
                            % (n, "registration" if kind == "inproc" else "handshake"))
                    f.write("\n".join(key) + "\n")
                    f.write("# valgrind --tool=callgrind, %s, %d %s\n" % (
                        " ".join(os.path.basename(c) for c in cmd[:2]), n,
                        "registrations" if kind == "inproc" else "handshakes"))
                    f.write("# ---- inclusive ----\n")
                    f.write("\n".join(annotated.splitlines()[:120]) + "\n")
                    f.write("# ---- exclusive (self) ----\n")
                    f.write("\n".join(exclusive.splitlines()[:80]) + "\n")
    per = {kind: (totals[(kind, large)] - totals[(kind, small)]) / (large - small)
           for kind in ("inproc", "tls")}
    result = {"instructions_per_registration": per["inproc"],
              "instructions_per_handshake": per["tls"],
              "ratio": per["inproc"] / per["tls"], "runs": [small, large],
              "totals": {"%s-%d" % k: v for k, v in totals.items()}}
    log("callgrind: %.2f M instructions per registration, %.2f M per TLS handshake (%.2fx)"
        % (per["inproc"] / 1e6, per["tls"] / 1e6, result["ratio"]))
    return result


def fmt(value, digits=1):
    if value is None:
        return "-"
    return ("%." + str(digits) + "f") % value


# ----------------------------------------------------------------------------
# Sanity checks (the smoke test's assertions) and the report
# ----------------------------------------------------------------------------


def check_sane(rows):
    problems = []
    for row in rows:
        name = "%s/%s" % (row["peer"], row["scenario"])
        if row["ok"] != row["count"]:
            problems.append("%s: %d of %d registrations succeeded (failures %s; first: %s)"
                            % (name, row["ok"], row["count"], row["failures"], row["first_error"]))
            continue
        if not row["rate_per_s"] > 0:
            problems.append("%s: rate %r is not positive" % (name, row["rate_per_s"]))
        ordered = [row["p50_ms"], row["p90_ms"], row["p99_ms"], row["max_ms"]]
        if None in ordered or ordered != sorted(ordered) or ordered[0] <= 0:
            problems.append("%s: latency percentiles not ordered/positive: %s" % (name, ordered))
        if row["cpu_per_reg_ms"] is None or row["cpu_per_reg_ms"] <= 0:
            problems.append("%s: CPU per registration %r is not positive"
                            % (name, row["cpu_per_reg_ms"]))
        if not row["peak_rss_kb"] or row["peak_rss_kb"] <= 0:
            problems.append("%s: peak RSS %r is not positive" % (name, row["peak_rss_kb"]))
        if row["scenario"] == "real" and row["p50_ms"] < 900:
            problems.append("%s: p50 %.1f ms is below the 1 s assignment delay" % (name, row["p50_ms"]))
        if row["peer"].startswith("c-scale"):
            peak = row.get("peak", {})
            if peak.get("in_flight", 0) < row["count"] * 0.9:
                problems.append("%s: only %s of %d registrations were in flight at once"
                                % (name, peak.get("in_flight"), row["count"]))
            if not peak.get("rss_at_peak_in_flight_kb", 0) > row["baseline"]["rss_kb"]:
                problems.append("%s: RSS did not grow with registrations in flight" % name)
    return problems


def find(rows, peer, scenario="fast"):
    for row in rows:
        if row["peer"] == peer and row["scenario"] == scenario:
            return row
    return None


def machine_facts():
    model = "unknown"
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_kb = 0
    with open("/proc/meminfo", encoding="ascii") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    ssl_version = subprocess.run(["openssl", "version"], capture_output=True, text=True).stdout.strip()
    return {"nproc": os.cpu_count(), "cpu_model": model, "mem_gb": round(mem_kb / 1048576, 1),
            "kernel": platform.release(), "openssl": ssl_version,
            "loadavg_at_start": os.getloadavg()}


def scale_summary(row):
    base, peak = row["baseline"], row["peak"]
    in_flight = max(1, peak["in_flight"])
    return {
        "in_flight": peak["in_flight"],
        "rss_per_inflight_kb": (peak["rss_at_peak_in_flight_kb"] - base["rss_kb"]) / in_flight,
        "threads_per_inflight": (peak["threads"] - base["threads"]) / in_flight,
        "fds_per_inflight": (peak["fds"] - base["fds"]) / in_flight,
        "stack_rss_per_inflight_kb": (row.get("stacks_at_full", {}).get("rss_kb", -1) / in_flight
                                      if row.get("stacks_at_full", {}).get("rss_kb", -1) >= 0
                                      else None),
    }


def targets(rows):
    """The issue's targets as (name, measured text, holds) tuples."""
    out = []
    c_seq, py, node = find(rows, "c-seq"), find(rows, "py-sdk"), find(rows, "node-sdk")
    if c_seq and py:
        ratio = c_seq["rate_per_s"] / py["rate_per_s"]
        out.append(("sequential libprov >= 20x Python SDK rate",
                    "%.1fx (%.1f/s vs %.2f/s)" % (ratio, c_seq["rate_per_s"], py["rate_per_s"]),
                    ratio >= 20))
    if c_seq and node:
        ratio = c_seq["rate_per_s"] / node["rate_per_s"]
        out.append(("sequential libprov >= 5x Node SDK rate",
                    "%.1fx (%.1f/s vs %.2f/s)" % (ratio, c_seq["rate_per_s"], node["rate_per_s"]),
                    ratio >= 5))
    tls_conc = find(rows, "tls-conc")
    for c_conc in (find(rows, "c-threads"), find(rows, "c-async")):
        if not (c_conc and tls_conc):
            continue
        frac = c_conc["rate_per_s"] / tls_conc["rate_per_s"]
        out.append(("concurrent libprov (%s) >= 50%% of the TLS handshake ceiling"
                    % c_conc["description"],
                    "%.0f%% (%.1f/s vs %.1f handshakes/s)" % (100 * frac, c_conc["rate_per_s"],
                                                             tls_conc["rate_per_s"]), frac >= 0.5))
    tls_seq = find(rows, "tls-seq")
    if c_seq and tls_seq:
        ratio = c_seq["cpu_per_reg_ms"] / tls_seq["cpu_per_reg_ms"]
        out.append(("CPU per registration <= 2x one TLS handshake",
                    "%.2fx (%.3f ms vs %.3f ms)" % (ratio, c_seq["cpu_per_reg_ms"],
                                                    tls_seq["cpu_per_reg_ms"]), ratio <= 2))
    for row in rows:
        if row["peer"].startswith("c-scale"):
            s = scale_summary(row)
            out.append(("<= 100 KB RSS per in-flight registration (%s)" % row["description"],
                        "%.1f kB at %d in flight" % (s["rss_per_inflight_kb"], s["in_flight"]),
                        s["rss_per_inflight_kb"] <= 100))
    return out


def markdown(results):
    rows = results["rows"]
    lines = []
    add = lines.append
    m = results["machine"]
    add("## Run of %s" % results["date"])
    add("")
    add("- machine: %d CPUs (`nproc`), %s, %.1f GB RAM, Linux %s, %s; load average %s at start, "
        "%s at end (other work shares the machine)"
        % (m["nproc"], m["cpu_model"], m["mem_gb"], m["kernel"], m["openssl"],
           " ".join("%.2f" % x for x in m["loadavg_at_start"]),
           " ".join("%.2f" % x for x in m["loadavg_at_end"])))
    add("- command: `%s`" % results["command"])
    add("- emulator: dps-emulator on 127.0.0.1 (%s), records on tmpfs; the emulator shares the "
        "machine's CPUs with the peer it serves" % results["ports"])
    add("")
    for scenario, title in (("fast", "Assignment delay 0 (registration answered at once)"),
                            ("real", "Realistic: assignment delay 1 s, retry-after 1 s"),
                            ("scale", "Scale: registrations held in flight at once")):
        subset = [r for r in rows if r["scenario"] == scenario]
        if not subset:
            continue
        add("### " + title)
        add("")
        add("| peer | what | in flight | ok/count | reg/s | p50 ms | p90 ms | p99 ms | max ms "
            "| CPU ms/reg (measured part) | CPU ms/reg (whole process) | peak RSS kB "
            "| emulator CPU ms/reg |")
        add("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in subset:
            add("| %s | %s | %d | %d/%d | %.1f | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                r["peer"], r["description"], r["concurrency"], r["ok"], r["count"],
                r["rate_per_s"], fmt(r["p50_ms"]), fmt(r["p90_ms"]), fmt(r["p99_ms"]),
                fmt(r["max_ms"]), fmt(r["cpu_per_reg_ms"], 3),
                fmt(r["process_cpu_per_reg_ms"], 3), r["peak_rss_kb"],
                fmt(r["emulator_cpu_per_reg_ms"], 3)))
        add("")
    tls_rows = [r for r in rows if r["peer"].startswith("tls")]
    if tls_rows:
        add("TLS: %s, %s (no session resumption, except `tls-resume`)." % (
            tls_rows[0].get("protocol"), tls_rows[0].get("cipher")))
        resume_row = find(rows, "tls-resume")
        if resume_row and "resumed" in resume_row:
            add("`tls-resume`: %d of %d handshakes resumed the previous session."
                % (resume_row["resumed"], resume_row["ok"]))
        add("")
    c_seq = find(rows, "c-seq")
    if c_seq:
        add("### Ratios (libprov C sequential : peer, same scenario)")
        add("")
        add("| peer | rate ratio | CPU per registration ratio (peer / libprov) |")
        add("|---|---:|---:|")
        for r in rows:
            if r["scenario"] != "fast" or r is c_seq or not r["ok"] or r["peer"].startswith("tls"):
                continue
            add("| %s | %.2f : 1 | %.2f |" % (
                r["peer"], c_seq["rate_per_s"] / r["rate_per_s"],
                r["cpu_per_reg_ms"] / c_seq["cpu_per_reg_ms"]))
        add("")
    ceiling = [(find(rows, "c-seq"), find(rows, "tls-seq")),
               (find(rows, "c-seq"), find(rows, "tls-resume")),
               (find(rows, "c-threads"), find(rows, "tls-conc")),
               (find(rows, "c-async"), find(rows, "tls-conc"))]
    ceiling = [(a, b) for a, b in ceiling if a and b]
    if ceiling:
        add("### libprov against the TLS handshake ceiling (same emulator, same OpenSSL)")
        add("")
        add("| libprov | its rate | handshakes | handshakes/s | fraction "
            "| CPU per registration / CPU per handshake |")
        add("|---|---:|---|---:|---:|---:|")
        for reg, tls in ceiling:
            add("| %s | %.1f/s | %s | %.1f/s | %.0f%% | %.2fx |" % (
                reg["description"], reg["rate_per_s"], tls["peer"], tls["rate_per_s"],
                100 * reg["rate_per_s"] / tls["rate_per_s"],
                reg["cpu_per_reg_ms"] / tls["cpu_per_reg_ms"]))
        add("")
    scale_rows = [r for r in rows if r["peer"].startswith("c-scale")]
    if scale_rows:
        add("### Cost of in-flight registrations (caller threads, or the library's threads "
            "behind prov_client_register_async)")
        add("")
        add("| run | in flight (peak) | threads started | baseline RSS kB | RSS at peak kB "
            "| RSS per in-flight kB | of which thread stack kB | threads per in-flight "
            "| fds per in-flight | peak fds | fd limit | stack size kB |")
        add("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in scale_rows:
            s = scale_summary(r)
            add("| %s | %d | %d | %d | %d | %.1f | %s | %.2f | %.2f | %d | %d | %d |" % (
                r["description"], s["in_flight"], r["threads_started"], r["baseline"]["rss_kb"],
                r["peak"]["rss_at_peak_in_flight_kb"], s["rss_per_inflight_kb"],
                fmt(s["stack_rss_per_inflight_kb"]), s["threads_per_inflight"],
                s["fds_per_inflight"], r["peak"]["fds"], r["fd_limit"], r["thread_stack_kb"]))
        add("")
    checks = targets(rows)
    if checks:
        add("### Targets (issue 9)")
        add("")
        add("| target | measured | holds |")
        add("|---|---|---|")
        for name, measured, holds in checks:
            add("| %s | %s | %s |" % (name, measured, "yes" if holds else "**no**"))
        add("")
    prof = results.get("profile")
    if prof:
        add("### Instruction counts (valgrind callgrind, marginal per item over runs of %d and %d)"
            % tuple(prof["runs"]))
        add("")
        add("| per libprov registration (C, sequential) | per TLS handshake (OpenSSL, one SSL_CTX) "
            "| ratio |")
        add("|---:|---:|---:|")
        add("| %.2f M | %.2f M | %.2fx |" % (prof["instructions_per_registration"] / 1e6,
                                           prof["instructions_per_handshake"] / 1e6,
                                           prof["ratio"]))
        add("")
    libraries = sorted({r["library"] for r in rows if r["library"]})
    add("Peers: " + "; ".join(libraries) + ".")
    add("")
    return "\n".join(lines)


# ----------------------------------------------------------------------------
# Main
# ----------------------------------------------------------------------------


def parse_args(argv):
    p = argparse.ArgumentParser(description="libprov benchmark harness (issue 9)")
    p.add_argument("--emulator", required=True, help="dps-emulator binary")
    p.add_argument("--bench-bin-dir", required=True,
                   help="directory of prov-bench-inproc and prov-bench-tls")
    p.add_argument("--prov-cli", help="the prov binary (CLI peers)")
    p.add_argument("--libprov-pythonpath", help="PYTHONPATH of the libprov Python binding")
    p.add_argument("--venv", help="venv with azure-iot-device (official Python SDK) and matplotlib")
    p.add_argument("--node-dir", help="directory whose node_modules holds the official Node SDK")
    p.add_argument("--out-dir", required=True)
    p.add_argument("--smoke", action="store_true",
                   help="tiny counts, libprov peers only, ephemeral ports, no namespace, no chart")
    p.add_argument("--no-netns", action="store_true",
                   help="do not enter a private network namespace (official SDK peers need one)")
    p.add_argument("--scale", type=int, help="registrations held in flight in the scale run")
    p.add_argument("--stretch", type=int, default=0,
                   help="also a scale run with this many in flight (60 s assignment delay; "
                        "needs 4 fds each within the hard fd limit)")
    p.add_argument("--scale-variants", action="store_true",
                   help="repeat the scale run with MALLOC_ARENA_MAX=1 and/or an "
                        "SSL_MODE_RELEASE_BUFFERS LD_PRELOAD shim (memory diagnosis)")
    p.add_argument("--rounds", type=int,
                   help="round-robin rounds of the assignment-delay-0 peers (default 3; smoke 1)")
    p.add_argument("--threads", type=int, default=16, help="workers of the concurrent peers")
    p.add_argument("--count-factor", type=float, default=1.0, help="scales every count")
    p.add_argument("--only", help="comma-separated peers to run (default: all available)")
    p.add_argument("--no-chart", action="store_true")
    p.add_argument("--profile", action="store_true",
                   help="also count instructions per registration and per handshake (callgrind)")
    p.add_argument("--inside-netns", action="store_true", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def enter_netns_if_needed(args, argv):
    if args.smoke or args.no_netns or args.inside_netns:
        return
    if os.geteuid() != 0:
        raise BenchError("a full run needs root to create a private network namespace "
                         "(unshare -n); the official SDKs dial port 8883 of localhost. "
                         "Run as root, or pass --no-netns (then ports 8883/443 must be free)")
    cmd = ["unshare", "-n", "--", sys.executable, os.path.abspath(__file__), "--inside-netns"] + argv
    os.execvp("unshare", cmd)


def main(argv):
    args = parse_args(argv)
    enter_netns_if_needed(args, argv)
    global SPAWN
    SPAWN = os.path.join(args.bench_bin_dir, "prov-bench-spawn")
    if not os.access(SPAWN, os.X_OK):
        raise BenchError("%s is missing (build target prov-bench-spawn)" % SPAWN)
    if args.inside_netns:
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    # Many in-flight registrations need many descriptors; children inherit this.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    fd_limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]

    counts = dict(SMOKE_COUNTS if args.smoke else FULL_COUNTS)
    if args.rounds is None:
        args.rounds = 1 if args.smoke else 3
    for key in counts:
        if key not in ("real", "scale"):
            counts[key] = max(1 if counts[key] else 0, int(counts[key] * args.count_factor))
    if args.scale:
        counts["scale"] = args.scale
    only = set(args.only.split(",")) if args.only else None

    def wanted(peer):
        return (only is None or peer in only) and counts.get(peer, 1) != 0

    os.makedirs(args.out_dir, exist_ok=True)
    workdir = tempfile.mkdtemp(prefix="prov-bench-")
    groups = Groups(args.smoke)
    emulator = Emulator(args.emulator, workdir, groups.emulator_config(),
                        fixed_ports=not (args.smoke or args.no_netns))
    if not args.smoke and args.no_netns:
        emulator.fixed_ports = True
    started = datetime.datetime.now(datetime.timezone.utc)
    facts = machine_facts()
    log("work directory %s; fd limit %d" % (workdir, fd_limit))
    emulator.start()
    log("dps-emulator pid %d, ports %s" % (emulator.process.pid, emulator.ports))
    runner = Runner(args, workdir, emulator, groups)
    have_cli = bool(args.prov_cli)
    have_pybind = bool(args.libprov_pythonpath)
    have_pysdk = bool(args.venv) and os.path.exists(os.path.join(args.venv, "bin", "python"))
    have_node = bool(args.node_dir) and os.path.isdir(os.path.join(args.node_dir, "node_modules"))
    if have_node and not emulator.fixed_ports:
        raise BenchError("the Node SDK peer needs the emulator on port 8883 (full run)")
    if have_pysdk and not emulator.fixed_ports:
        have_pysdk = False
        log("official Python SDK skipped: it needs port 8883 (full run)")
    threads = args.threads
    profile_result = None
    try:
        # Warm the emulator (first TLS context use, SQLite file) outside the measurements.
        runner.c_run("warmup", "fast", 5, 1)
        runner.rows.clear()
        # -- the ceiling and every peer, all against the same emulator, in
        # round-robin rounds so that load from outside the benchmark (a shared
        # machine) falls on every peer alike; rows are merged afterwards --
        fast_runs = []

        def add_run(peer, available, run):
            if available and wanted(peer):
                fast_runs.append((peer, run))

        add_run("tls-seq", True, lambda n: runner.tls("tls-seq", n, 1, False))
        add_run("tls-fresh", True, lambda n: runner.tls("tls-fresh", n, 1, True))
        add_run("tls-resume", True, lambda n: runner.tls("tls-resume", n, 1, False, True))
        add_run("tls-conc", True, lambda n: runner.tls("tls-conc", n, threads, False))
        add_run("c-seq", True, lambda n: runner.c_run("c-seq", "fast", n, 1))
        add_run("c-threads", True, lambda n: runner.c_run("c-threads", "fast", n, threads))
        add_run("c-async", True, lambda n: runner.c_run("c-async", "fast", n, threads, True))
        add_run("cli-proc", have_cli, lambda n: runner.cli_proc("fast", n))
        add_run("cli-batch", have_cli, lambda n: runner.cli_batch("fast", n, threads))
        add_run("py-libprov", have_pybind, lambda n: runner.python_peer("libprov", "fast", n))
        add_run("py-sdk", have_pysdk, lambda n: runner.python_peer("azure", "fast", n))
        add_run("node-sdk", have_node, lambda n: runner.node_peer("fast", n, 1))
        add_run("node-sdk-conc", have_node, lambda n: runner.node_peer("fast", n, threads))
        rounds = max(1, args.rounds)
        for round_index in range(rounds):
            log("round %d of %d" % (round_index + 1, rounds))
            for peer, run in fast_runs:
                run(max(1, counts[peer] // rounds))
        runner.merge_rounds()
        # -- realistic assignment delay --
        if wanted("real"):
            runner.c_run("c-seq", "real", counts["real"], 1)
            runner.c_run("c-threads", "real", counts["real-conc"], counts["real-conc"])
            if have_pybind:
                runner.python_peer("libprov", "real", counts["real"])
            if have_pysdk:
                runner.python_peer("azure", "real", counts["real"])
            if have_node:
                runner.node_peer("real", counts["real"], 1)
        if args.profile:
            profile_result = profile(runner, args.out_dir)
        # -- scale --
        if wanted("scale"):
            runner.c_scale(counts["scale"])
            runner.c_scale(counts["scale"], variant="async")
            if args.scale_variants:
                for variant in ("arena1", "release-buffers", "both"):
                    runner.c_scale(counts["scale"], variant=variant)

        if args.stretch:
            runner.c_scale(args.stretch, group="stretch")
    except BenchError as error:
        log("emulator log tail:\n" + emulator.log_tail())
        raise error
    finally:
        emulator.stop()

    results = {
        "date": started.strftime("%Y-%m-%d %H:%M UTC"),
        "command": " ".join(["run_bench.py"] + argv),
        "machine": dict(facts, loadavg_at_end=os.getloadavg()),
        "fd_limit": fd_limit,
        "ports": "MQTT 8883, HTTPS 443, private network namespace" if emulator.fixed_ports
        else "ephemeral ports",
        "rows": runner.rows,
        "profile": profile_result,
    }
    for row in runner.rows:
        for key in [k for k in row if k.startswith("_")]:
            del row[key]
    with open(os.path.join(args.out_dir, "results.json"), "w", encoding="utf-8") as f:
        json.dump(results, f, indent=1)
    report = markdown(results)
    with open(os.path.join(args.out_dir, "tables.md"), "w", encoding="utf-8") as f:
        f.write(report + "\n")
    print(report)
    problems = check_sane(runner.rows)
    if not args.no_chart and not args.smoke:
        python = os.path.join(args.venv, "bin", "python") if args.venv else sys.executable
        subprocess.run([python, os.path.join(HERE, "chart.py"),
                        os.path.join(args.out_dir, "results.json"),
                        os.path.join(args.out_dir, "bench.png")], check=True)
    shutil.rmtree(workdir, ignore_errors=True)
    if problems:
        raise BenchError("insane results:\n  " + "\n  ".join(problems))
    log("OK: %d result rows, all sane; written to %s" % (len(runner.rows), args.out_dir))


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except BenchError as error:
        log("FAIL: %s" % error)
        sys.exit(1)
