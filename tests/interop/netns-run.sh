#!/usr/bin/env bash
# Runs one interop test command against a real dps-emulator inside a private
# network namespace.
#
# The official SDKs hard-code the service ports (MQTT 8883, HTTPS/WebSockets
# 443) and verify the server host name, so the emulator must listen on exactly
# those ports on "localhost". A private network namespace (`unshare -n`, root
# only) gives every test run its own loopback interface: runs never clash with
# each other or with anything on the host, and nothing can leave the machine.
#
# Usage: netns-run.sh [--emulator PATH] [--name LABEL] [--host NAME] -- COMMAND [ARG...]
# (--emulator defaults to $PROV_TEST_EMULATOR, which ctest sets.)
#
# Inside the namespace: bring up lo, write credentials and the emulator config
# (make_fixture.py), start `dps-emulator serve` on 127.0.0.1:8883/443, wait for
# its ports file, run COMMAND with these variables set, then stop the emulator
# with SIGTERM and require a clean exit:
#   INTEROP_WORKDIR        private temp directory of this run
#   INTEROP_FIXTURE        fixture.json (devices, keys, certificate paths)
#   INTEROP_CA_PEM_PATH    the emulator's root CA (from `dps-emulator ca-path`)
#   NODE_EXTRA_CA_CERTS    the same, for Node's TLS
#   INTEROP_ADMIN_PORT     the emulator's admin HTTP port on 127.0.0.1
#   INTEROP_EMULATOR       the emulator binary
#   INTEROP_PROVISIONING_HOST  the host name the SDKs dial (--host, default "localhost")
# With --host NAME other than localhost (e.g. the production name
# global.azure-devices-provisioning.net), the run also gets a private mount
# namespace in which /etc/hosts maps NAME to 127.0.0.1, and the emulator gets
# --host-name NAME, so the SDKs dial exactly what they dial in production.
# The temp directory is removed afterwards unless INTEROP_KEEP_WORKDIR=1.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
self="$here/$(basename "${BASH_SOURCE[0]}")"
emulator="${PROV_TEST_EMULATOR:-}"
name="interop"
host="localhost"
inside=0
workdir=""

die() {
    echo "netns-run: FAIL: $*" >&2
    exit 1
}

while [[ $# -gt 0 ]]; do
    case "$1" in
        --emulator) emulator=$2; shift 2 ;;
        --name) name=$2; shift 2 ;;
        --host) host=$2; shift 2 ;;
        --inside) inside=1; workdir=$2; shift 2 ;;
        --) shift; break ;;
        *) die "unknown argument '$1' (usage: netns-run.sh --emulator PATH [--name LABEL] -- COMMAND...)" ;;
    esac
done
[[ $# -gt 0 ]] || die "no test command given after --"
[[ -n "$emulator" ]] || die "no dps-emulator given: pass --emulator PATH or set PROV_TEST_EMULATOR"
[[ -x "$emulator" ]] || die "dps-emulator binary '$emulator' does not exist or is not executable (build target dps-emulator)"

if [[ $inside -eq 0 ]]; then
    # Outside: check that a private network namespace can be made, then re-enter
    # this script inside one.
    [[ $(id -u) -eq 0 ]] || die "needs root to create a network namespace (unshare -n); run the interop tests as root (CI does)"
    command -v unshare >/dev/null || die "'unshare' (util-linux) is not installed"
    command -v ip >/dev/null || die "'ip' (iproute2) is not installed"
    namespaces=(-n)
    [[ "$host" == localhost ]] || namespaces+=(-m)
    if ! probe=$(unshare "${namespaces[@]}" -- true 2>&1); then
        die "'unshare ${namespaces[*]}' is not permitted here ($probe); the interop tests need a private network namespace"
    fi
    workdir=$(mktemp -d "${TMPDIR:-/tmp}/prov-interop-${name}.XXXXXX")
    # shellcheck disable=SC2317  # invoked by the EXIT trap
    cleanup() {
        if [[ "${INTEROP_KEEP_WORKDIR:-0}" == 1 ]]; then
            echo "netns-run: kept work directory $workdir"
        else
            rm -rf "$workdir"
        fi
    }
    trap cleanup EXIT
    rc=0
    unshare "${namespaces[@]}" -- bash "$self" --inside "$workdir" --emulator "$emulator" --name "$name" \
        --host "$host" -- "$@" || rc=$?
    exit $rc
fi

# ---- inside the private network namespace ----
ip link set lo up || die "could not bring up the loopback interface in the namespace"

host_name_args=()
if [[ "$host" != localhost ]]; then
    # Private mount namespace: this /etc/hosts is seen by this run only.
    printf '127.0.0.1 localhost %s\n::1 localhost ip6-localhost\n' "$host" >"$workdir/hosts"
    mount --bind "$workdir/hosts" /etc/hosts || die "could not bind-mount a hosts file mapping $host to 127.0.0.1"
    host_name_args=(--host-name "$host")
fi

python3 "$here/make_fixture.py" --emulator "$emulator" --workdir "$workdir" \
    || die "could not create the test credentials and emulator config"

data_dir="$workdir/data"
ports_file="$workdir/ports.json"
emulator_log="$workdir/emulator.log"
mkdir -p "$data_dir"

"$emulator" serve --data-dir "$data_dir" --config "$workdir/config.json" --bind 127.0.0.1 \
    --mqtt-port 8883 --https-port 443 --admin-port 0 --ports-file "$ports_file" \
    "${host_name_args[@]}" --log-level debug 2>"$emulator_log" >/dev/null &
emulator_pid=$!
# If this script is interrupted (ctest timeout, Ctrl-C), do not leave the
# emulator behind: a network namespace does not end its processes.
trap 'kill -KILL "$emulator_pid" 2>/dev/null || true' EXIT
trap 'exit 130' INT TERM

show_emulator_log() {
    echo "----- last lines of the dps-emulator log ($emulator_log) -----" >&2
    tail -n "${1:-60}" "$emulator_log" >&2 || true
    echo "----- end of dps-emulator log -----" >&2
}

stop_emulator() {
    if kill -0 "$emulator_pid" 2>/dev/null; then
        kill -TERM "$emulator_pid"
        for _ in $(seq 1 100); do
            kill -0 "$emulator_pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$emulator_pid" 2>/dev/null; then
            kill -KILL "$emulator_pid" 2>/dev/null || true
            wait "$emulator_pid" 2>/dev/null || true
            echo "netns-run: FAIL: dps-emulator did not exit within 10 s of SIGTERM" >&2
            return 1
        fi
    fi
    local status=0
    wait "$emulator_pid" || status=$?
    if [[ $status -ne 0 ]]; then
        echo "netns-run: FAIL: dps-emulator exited with status $status after SIGTERM (expected a clean exit 0)" >&2
        return 1
    fi
    return 0
}

# Wait (at most 20 s) for the ports file: it appears once every listener accepts.
for _ in $(seq 1 400); do
    [[ -s "$ports_file" ]] && break
    if ! kill -0 "$emulator_pid" 2>/dev/null; then
        show_emulator_log
        die "dps-emulator exited before writing its ports file"
    fi
    sleep 0.05
done
if [[ ! -s "$ports_file" ]]; then
    show_emulator_log
    stop_emulator || true
    die "dps-emulator did not write its ports file within 20 s"
fi

admin_port=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["admin"])' "$ports_file")
ca_path=$("$emulator" ca-path --data-dir "$data_dir") || die "'dps-emulator ca-path' failed"
[[ -s "$ca_path" ]] || die "'dps-emulator ca-path' printed '$ca_path', which is not a readable file"

export INTEROP_WORKDIR="$workdir"
export INTEROP_FIXTURE="$workdir/fixture.json"
export INTEROP_CA_PEM_PATH="$ca_path"
export NODE_EXTRA_CA_CERTS="$ca_path"
export INTEROP_ADMIN_PORT="$admin_port"
export INTEROP_EMULATOR="$emulator"
export INTEROP_PROVISIONING_HOST="$host"

echo "netns-run: [$name] dps-emulator pid $emulator_pid on $host (127.0.0.1) ports 8883 (MQTT) and 443 (HTTPS/WSS), admin port $admin_port"
test_rc=0
"$@" || test_rc=$?

stop_rc=0
stop_emulator || stop_rc=$?
if [[ $test_rc -ne 0 ]]; then
    show_emulator_log 80
fi
if [[ $test_rc -ne 0 || $stop_rc -ne 0 ]]; then
    echo "netns-run: [$name] FAILED (test command exit $test_rc, emulator shutdown $([[ $stop_rc -eq 0 ]] && echo ok || echo FAILED))"
    exit 1
fi
echo "netns-run: [$name] OK (tests passed, emulator shut down cleanly)"
