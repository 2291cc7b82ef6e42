#!/usr/bin/env bash
# Soak run (by hand, not in CI): builds bench/soak/soak.c against an existing
# libprov build tree and runs it against that tree's dps-emulator.
#
#   bench/soak/run_soak.sh [BUILD_DIR] [REGISTRATIONS] [CONCURRENCY] [DURATION_S]
#     BUILD_DIR      default build (needs src/libprov.so and emulator/dps-emulator)
#     REGISTRATIONS  default 10000 (the full soak); 2000 for the short version
#     CONCURRENCY    default 32
#     DURATION_S     spread the registrations over this many seconds (default 0 =
#                    back to back); 1800 = the 30-minute soak of issue 7
#
# Writes bench/soak/out/samples-<n>-<duration>.csv (seconds, completed, RSS KiB, open fds)
# and prints the accounting; exits non-zero when a registration is missing,
# counted twice, ended unclearly, or file descriptors leaked.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
registrations=${2:-10000}
concurrency=${3:-32}
duration=${4:-0}
out="$root/bench/soak/out"
mkdir -p "$out"
for needed in "$build/src/libprov.so" "$build/emulator/dps-emulator"; do
  [ -e "$needed" ] || { echo "run_soak: $needed is missing; build the tree first" >&2; exit 2; }
done
cc -O2 -g -std=c11 -Wall -Wextra -o "$out/soak" "$root/bench/soak/soak.c" \
  "$root/tests/support/emulator_fixture.c" -I"$root/include" -I"$root/tests/support" \
  $(pkg-config --cflags --libs libcjson) -L"$build/src" -lprov -Wl,-rpath,"$build/src" -lpthread
# The emulator's own descriptor limit is raised by itself; ours may need it too.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
PROV_TEST_EMULATOR="$build/emulator/dps-emulator" \
  "$out/soak" --registrations "$registrations" --concurrency "$concurrency" \
  --duration "$duration" --csv "$out/samples-$registrations-$duration.csv"
