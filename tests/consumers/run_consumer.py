#!/usr/bin/env python3
"""Consumer test: install libprov into a fresh prefix, build a program against
the installed tree the way a user would, and register a device with it
against a real dps-emulator over TLS.

  run_consumer.py --mode pkgconfig|cmake|dlopen --build-dir B --source-dir S
                  --emulator PATH --cc CC [--cmake CMAKE] [--generator G]

Modes:
  pkgconfig  tests/consumers/register_device.c built with only
             `pkg-config --cflags --libs prov` (PKG_CONFIG_PATH=prefix/.../pkgconfig)
  cmake      tests/consumers/cmake_project: find_package(prov) -> prov::prov
             (CMAKE_PREFIX_PATH=prefix)
  dlopen     tests/consumers/dlopen_consumer.c: no header, no -lprov; dlopen()s
             prefix/.../libprov.so.1 and dlsym()s every function

Every registration runs with LD_BIND_NOW=1 LD_DEBUG=bindings, and the
dynamic linker's log is checked for the wolfSSL/OpenSSL trap of
docs/DESIGN.md: no OpenSSL-named function that libwolfssl also exports may be
bound to libwolfssl, and libssl's own SSL_COMP_get_compression_methods must
bind to libssl. The dlopen mode also shows that the check fires: with
libwolfssl preloaded the same program binds libssl's call to libwolfssl.

Exits 0 when everything held; otherwise prints what failed (with the
emulator's log) and exits 1.
"""

import argparse
import base64
import ctypes
import fcntl
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ID_SCOPE = "0ne0000C0N5"
HUBS = ["consumer-hub-1.example.net", "consumer-hub-2.example.net"]
# libwolfssl's exports that carry OpenSSL's names (docs/DESIGN.md "two traps").
WOLFSSL_OPENSSL_STUBS = {
    "SSL_COMP_get_compression_methods",
    "SSL_SESSION_set1_id",
    "SSL_SESSION_set1_id_context",
    "SSL_SESSION_get0_id_context",
    "SSL_CTX_set_tmp_dh_callback",
    "ERR_load_SSL_strings",
}
BINDING_RE = re.compile(
    r"binding file (?P<from>\S+) \[\d+\] to (?P<to>\S+) \[\d+\]: normal symbol `(?P<name>[^']+)'"
)


class TestFailure(Exception):
    pass


def log(message):
    print(f"[consumer] {message}", flush=True)


def run(cmd, env=None, cwd=None, timeout=300, check=True):
    """Runs a command, echoing it; returns CompletedProcess with text output."""
    log("$ " + " ".join(cmd))
    proc = subprocess.run(cmd, env=env, cwd=cwd, timeout=timeout, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if check and proc.returncode != 0:
        raise TestFailure(f"command failed with exit {proc.returncode}: {' '.join(cmd)}\n"
                          f"--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}")
    return proc


def find_one(pattern, what):
    matches = sorted(glob.glob(pattern))
    if len(matches) != 1:
        raise TestFailure(f"expected exactly one {what} matching {pattern}, found {matches}")
    return matches[0]


def install(build_dir, prefix, cmake, programs):
    # `cmake --install` rewrites BUILD_DIR/install_manifest.txt; take turns
    # with the other consumer tests running in parallel.
    with open(os.path.join(build_dir, ".prov-consumer-install.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        run([cmake, "--install", build_dir, "--prefix", prefix])
    lib = find_one(os.path.join(prefix, "lib*", "libprov.so.1"), "installed libprov.so.1")
    libdir = os.path.dirname(lib)
    expected = {
        "SONAME link": lib,
        "real library": os.path.join(libdir, "libprov.so.1.0.0"),
        "link name": os.path.join(libdir, "libprov.so"),
        "header": os.path.join(prefix, "include", "prov", "prov.h"),
        "pkg-config file": os.path.join(libdir, "pkgconfig", "prov.pc"),
        "CMake package": os.path.join(libdir, "cmake", "prov", "provConfig.cmake"),
        "CMake version file": os.path.join(libdir, "cmake", "prov", "provConfigVersion.cmake"),
        "CMake targets": os.path.join(libdir, "cmake", "prov", "provTargets.cmake"),
    }
    for what, path in expected.items():
        if not os.path.exists(path):
            raise TestFailure(f"install tree lacks the {what}: {path}")
    if os.readlink(lib) != "libprov.so.1.0.0" or os.readlink(expected["link name"]) != "libprov.so.1":
        raise TestFailure("libprov symlinks are not libprov.so -> libprov.so.1 -> libprov.so.1.0.0")
    log(f"installed into {prefix} (library in {libdir})")
    check_installed_programs(prefix, libdir, programs)
    return libdir


def check_installed_programs(prefix, libdir, programs):
    """The CLI and the emulator, when built, are installed and run from the
    prefix; the CLI finds libprov.so.1 there without LD_LIBRARY_PATH."""
    env = {k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"}
    for program in programs:
        path = os.path.join(prefix, "bin", program)
        if not os.access(path, os.X_OK):
            raise TestFailure(f"install tree lacks the program {path}")
        needed = run(["readelf", "-d", path]).stdout
        if "libprov.so.1" in needed:
            out = run(["ldd", path], env=env).stdout
            match = re.search(r"libprov\.so\.1 => (\S+)", out)
            if not match or os.path.dirname(os.path.realpath(match.group(1))) != \
                    os.path.realpath(libdir):
                raise TestFailure(f"installed {program} does not load libprov.so.1 from "
                                  f"{libdir}:\n{out}")
        run([path, "--help"], env=env)
        log(f"installed program {program} runs from the prefix")


def build_pkgconfig(args, prefix, libdir, work):
    env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(libdir, "pkgconfig"))
    run(["pkg-config", "--validate", "prov"], env=env)
    version = run(["pkg-config", "--modversion", "prov"], env=env).stdout.strip()
    if version != args.expected_version:
        raise TestFailure(f"pkg-config --modversion prov is {version!r}, "
                          f"expected {args.expected_version!r}")
    major, minor, _ = (int(part) for part in args.expected_version.split("."))
    if run(["pkg-config", "--atleast-version", f"{major}.{minor}", "prov"], env=env,
           check=False).returncode != 0 or \
            run(["pkg-config", "--atleast-version", f"{major}.{minor + 1}", "prov"], env=env,
                check=False).returncode == 0:
        raise TestFailure(f"pkg-config --atleast-version does not match version "
                          f"{args.expected_version}")
    flags = run(["pkg-config", "--cflags", "--libs", "prov"], env=env).stdout.split()
    log(f"pkg-config --cflags --libs prov: {' '.join(flags)}")
    real_prefix = os.path.realpath(prefix)
    for flag in ("-I", "-L"):
        dirs = [os.path.realpath(f[2:]) for f in flags if f.startswith(flag)]
        if not any(d.startswith(real_prefix + os.sep) for d in dirs):
            raise TestFailure(f"pkg-config gives no {flag} inside the prefix {prefix}: {flags}")
    exe = os.path.join(work, "register_device")
    source = os.path.join(args.source_dir, "tests", "consumers", "register_device.c")
    run([args.cc, "-std=c99", "-Wall", "-Wextra", "-pedantic", "-Werror", source, "-o", exe]
        + flags)
    return [exe], {"LD_LIBRARY_PATH": libdir}


def build_cmake(args, prefix, libdir, work):
    source = os.path.join(args.source_dir, "tests", "consumers", "cmake_project")
    build = os.path.join(work, "cmake-build")
    configure = [args.cmake, "-S", source, "-B", build, f"-DCMAKE_PREFIX_PATH={prefix}",
                 f"-DPROV_CONSUMER_SOURCE={os.path.join(source, '..', 'register_device.c')}",
                 f"-DPROV_EXPECTED_VERSION={args.expected_version}",
                 f"-DPROV_EXPECTED_PREFIX={prefix}", f"-DCMAKE_C_COMPILER={args.cc}",
                 f"-DPROV_EXPECTED_PROGRAMS={';'.join(args.programs)}"]
    if args.generator:
        configure += ["-G", args.generator]
    # Only the prefix may provide prov: do not let a system-wide or
    # user-registered package be found instead.
    configure += ["-DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF",
                  "-DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF"]
    run(configure)
    run([args.cmake, "--build", build])
    check_cmake_version_rules(args, prefix, work)
    exe = os.path.join(build, "register_device")
    # CMake puts the imported library's directory into the build RPATH.
    return [exe], {}


def check_cmake_version_rules(args, prefix, work):
    """find_package(prov X) accepts the same major when X is not newer than
    the installed version, and rejects another major or a newer minor."""
    major, minor, _ = (int(part) for part in args.expected_version.split("."))
    expectations = {f"{major}": True, f"{major}.{minor}": True,
                    f"{major}.{minor + 1}": False, f"{major + 1}": False}
    if major > 0:
        expectations[f"{major - 1}"] = False
    source = os.path.join(args.source_dir, "tests", "consumers", "cmake_version_probe")
    for request, accepted in expectations.items():
        out = run([args.cmake, "-S", source, "-B", os.path.join(work, f"probe-{request}"),
                   f"-DCMAKE_PREFIX_PATH={prefix}", f"-DPROV_REQUEST_VERSION={request}",
                   "-DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF",
                   "-DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF"]).stdout
        verdict = "accepted" if accepted else "rejected"
        if f"prov-version-probe: {request} {verdict}" not in out:
            raise TestFailure(f"find_package(prov {request}) was not {verdict} by the installed "
                              f"{args.expected_version} (SameMajorVersion):\n{out}")
    log("find_package version rules hold: " + ", ".join(
        f"{r} {'accepted' if a else 'rejected'}" for r, a in expectations.items()))


def build_dlopen(args, prefix, libdir, work):
    source = os.path.join(args.source_dir, "tests", "consumers", "dlopen_consumer.c")
    exe = os.path.join(work, "dlopen_consumer")
    # No -I, no -lprov: only the C library's dlopen.
    run([args.cc, "-std=c99", "-Wall", "-Wextra", "-pedantic", "-Werror", source, "-o", exe,
         "-ldl"])
    needed = run(["readelf", "-d", exe]).stdout
    if "libprov" in needed:
        raise TestFailure(f"the dlopen consumer must not link libprov:\n{needed}")
    return [exe, os.path.join(libdir, "libprov.so.1")], {}


def check_loads_installed_library(command, extra_env, libdir):
    """The linked consumers must resolve libprov.so.1 from the prefix."""
    env = dict(os.environ, **extra_env)
    out = run(["ldd", command[0]], env=env).stdout
    match = re.search(r"libprov\.so\.1 => (\S+)", out)
    if not match:
        raise TestFailure(f"ldd does not show libprov.so.1 for {command[0]}:\n{out}")
    resolved = os.path.realpath(match.group(1))
    if os.path.dirname(resolved) != os.path.realpath(libdir):
        raise TestFailure(f"{command[0]} loads {resolved}, not the installed library in {libdir}")
    log(f"{os.path.basename(command[0])} resolves libprov.so.1 to {resolved}")


def die_with_parent():
    """In the emulator's process: get SIGTERM when this script dies, even by
    SIGKILL (a ctest timeout), so no emulator outlives its test."""
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class Emulator:
    def __init__(self, binary, work, registration_id, device_key):
        self.binary = binary
        self.work = work
        self.data_dir = os.path.join(work, "emulator-data")
        self.ports_file = os.path.join(work, "ports.json")
        self.log_path = os.path.join(work, "emulator.log")
        config = {
            "idScope": ID_SCOPE,
            "iotHubs": HUBS,
            "assignmentDelayMs": 0,
            "enrollments": [{
                "registrationId": registration_id,
                "attestation": {"type": "symmetricKey", "primaryKey": device_key},
            }],
        }
        self.config_path = os.path.join(work, "emulator-config.json")
        with open(self.config_path, "w", encoding="utf-8") as f:
            json.dump(config, f, indent=2)
        self.proc = None

    def start(self):
        with open(self.log_path, "w", encoding="utf-8") as log_file:
            cmd = [self.binary, "serve", "--data-dir", self.data_dir, "--config",
                   self.config_path, "--mqtt-port", "0", "--https-port", "0",
                   "--ports-file", self.ports_file]
            log("$ " + " ".join(cmd))
            self.proc = subprocess.Popen(cmd, stdout=log_file, stderr=subprocess.STDOUT,
                                         preexec_fn=die_with_parent)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise TestFailure(f"dps-emulator exited with {self.proc.returncode} before "
                                  f"writing its ports file")
            if os.path.exists(self.ports_file):
                try:
                    with open(self.ports_file, encoding="utf-8") as f:
                        self.ports = json.load(f)
                    break
                except (OSError, ValueError):
                    pass  # written atomically, but be tolerant
            time.sleep(0.05)
        else:
            raise TestFailure("dps-emulator did not write its ports file within 30 s")
        self.ca_path = run([self.binary, "ca-path", "--data-dir", self.data_dir]).stdout.strip()
        if not os.path.isfile(self.ca_path):
            raise TestFailure(f"dps-emulator ca-path printed {self.ca_path!r}, not a file")
        log(f"dps-emulator up: ports {self.ports}, CA {self.ca_path}")

    def host(self):
        return f"localhost:{self.ports['mqtt']}"

    def registrations_listing(self):
        return run([self.binary, "list", "--data-dir", self.data_dir, "--json"]).stdout

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=10)
            if code != 0:
                log(f"warning: dps-emulator exited with {code} on SIGTERM")
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise TestFailure("dps-emulator did not stop within 10 s of SIGTERM")

    def dump_log(self):
        if os.path.exists(self.log_path):
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                sys.stdout.write("--- dps-emulator log ---\n" + f.read()[-20000:] + "\n")


def run_with_binding_log(command, extra_env, work, tag, timeout=120):
    """Runs command with the dynamic linker logging every symbol binding,
    resolved at load time (LD_BIND_NOW) so the log is complete."""
    log_prefix = os.path.join(work, f"ld-{tag}")
    env = dict(os.environ, **extra_env, LD_BIND_NOW="1", LD_DEBUG="bindings",
               LD_DEBUG_OUTPUT=log_prefix)
    proc = run(command, env=env, timeout=timeout, check=False)
    bindings = []
    for path in glob.glob(log_prefix + ".*"):
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                match = BINDING_RE.search(line)
                if match:
                    bindings.append((match.group("from"), match.group("to"), match.group("name")))
    if not bindings:
        raise TestFailure(f"no symbol bindings logged for {command[0]} (LD_DEBUG not honoured?)")
    return proc, bindings


def trap_violations(bindings):
    """Bindings of the OpenSSL-named stubs to libwolfssl from anything but
    libwolfssl itself (docs/DESIGN.md trap 2)."""
    return [b for b in bindings
            if b[2] in WOLFSSL_OPENSSL_STUBS and "libwolfssl" in os.path.basename(b[1])
            and "libwolfssl" not in os.path.basename(b[0])]


def check_trap(bindings, what):
    bad = trap_violations(bindings)
    if bad:
        raise TestFailure(f"{what}: OpenSSL calls bound to libwolfssl's stubs (DT_NEEDED order "
                          f"trap): " + "; ".join(f"{f} -> {t}: {n}" for f, t, n in bad))
    ok = [b for b in bindings if b[2] == "SSL_COMP_get_compression_methods"
          and "libssl" in os.path.basename(b[0]) and "libssl" in os.path.basename(b[1])]
    if not ok:
        raise TestFailure(f"{what}: libssl's SSL_COMP_get_compression_methods was not bound to "
                          f"libssl (was libssl loaded?)")
    log(f"{what}: {len(bindings)} bindings, libssl's SSL_COMP_get_compression_methods -> "
        f"{ok[0][1]}; none of the 6 OpenSSL-named wolfSSL stubs bound to libwolfssl")


def check_registration_output(proc, registration_id, expected_version):
    if proc.returncode != 0:
        raise TestFailure(f"registration exited with {proc.returncode}\n--- stdout ---\n"
                          f"{proc.stdout}\n--- stderr ---\n{proc.stderr}")
    match = re.search(r"version=(\S+) status=(\S+) device=(\S+) hub=(\S+)", proc.stdout)
    if not match:
        raise TestFailure(f"unexpected consumer output: {proc.stdout!r}")
    version, status, device, hub = match.groups()
    if version != expected_version:
        raise TestFailure(f"library reports version {version}, expected {expected_version}")
    if status != "assigned":
        raise TestFailure(f"status is {status!r}, expected 'assigned'")
    if device != registration_id:
        raise TestFailure(f"device id is {device!r}, expected {registration_id!r}")
    if hub not in HUBS:
        raise TestFailure(f"assigned hub {hub!r} is not one of the emulator's hubs {HUBS}")
    log(f"registered: {proc.stdout.strip()}")


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", required=True, choices=["pkgconfig", "cmake", "dlopen"])
    parser.add_argument("--build-dir", required=True)
    parser.add_argument("--source-dir", required=True)
    parser.add_argument("--emulator", default="")
    parser.add_argument("--cc", default="cc")
    parser.add_argument("--cmake", default="cmake")
    parser.add_argument("--generator", default="")
    parser.add_argument("--expected-version", required=True)
    parser.add_argument("--programs", default="",
                        type=lambda text: [p for p in text.split(",") if p],
                        help="comma-separated programs the build installs into bin/")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()

    work = tempfile.mkdtemp(prefix=f"prov-consumer-{args.mode}-")
    emulator = None
    ok = False
    try:
        prefix = os.path.join(work, "prefix")
        libdir = install(args.build_dir, prefix, args.cmake, args.programs)
        builder = {"pkgconfig": build_pkgconfig, "cmake": build_cmake,
                   "dlopen": build_dlopen}[args.mode]
        command, extra_env = builder(args, prefix, libdir, work)
        if args.mode != "dlopen":
            check_loads_installed_library(command, extra_env, libdir)

        if not args.emulator or not os.access(args.emulator, os.X_OK):
            raise TestFailure(f"no runnable dps-emulator ({args.emulator!r}): the consumer built, "
                              f"but registering needs the emulator (PROV_TEST_EMULATOR)")
        registration_id = f"consumer-{args.mode}-{os.getpid()}"
        device_key = base64.b64encode(os.urandom(32)).decode()
        emulator = Emulator(args.emulator, work, registration_id, device_key)
        emulator.start()

        if args.mode == "dlopen":
            register = command + ["register", emulator.host(), ID_SCOPE, registration_id,
                                  emulator.ca_path]
        else:
            register = command + [emulator.host(), ID_SCOPE, registration_id, emulator.ca_path]
        proc, bindings = run_with_binding_log(
            register, dict(extra_env, PROV_CONSUMER_DEVICE_KEY=device_key), work, "register")
        check_registration_output(proc, registration_id, args.expected_version)
        what = "libprov dlopen()ed" if args.mode == "dlopen" else "libprov linked"
        check_trap(bindings, what)

        listing = emulator.registrations_listing()
        if registration_id not in listing:
            raise TestFailure(f"dps-emulator has no record of {registration_id}:\n{listing}")
        log(f"dps-emulator lists the registration of {registration_id}")

        if args.mode == "dlopen":
            # Negative control: the check above must be able to fail. With
            # libwolfssl loaded first, libssl's call binds to its stub.
            wolfssl = re.search(r"libwolfssl\.so\S* => (\S+)",
                                run(["ldd", command[1]]).stdout)
            if not wolfssl:
                raise TestFailure("cannot locate libwolfssl via ldd for the negative control")
            _, bad_bindings = run_with_binding_log(
                command[:2] + ["load"], {"LD_PRELOAD": wolfssl.group(1)}, work, "preload")
            if not trap_violations(bad_bindings):
                raise TestFailure("negative control: with libwolfssl preloaded the binding check "
                                  "found no OpenSSL call bound to libwolfssl, so it proves nothing")
            log("negative control: with libwolfssl preloaded the check does detect "
                + ", ".join(sorted({b[2] for b in trap_violations(bad_bindings)})))
        ok = True
    except (TestFailure, subprocess.TimeoutExpired) as error:
        print(f"[consumer] FAIL ({args.mode}): {error}", flush=True)
        if emulator is not None:
            emulator.dump_log()
    finally:
        if emulator is not None:
            try:
                emulator.stop()
            except TestFailure as error:
                print(f"[consumer] FAIL ({args.mode}): {error}", flush=True)
                ok = False
        if args.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    log("PASS" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
