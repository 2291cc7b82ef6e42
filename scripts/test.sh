#!/usr/bin/env bash
# The test command: installs what is missing, builds everything with warnings
# as errors, and runs every test (unit, end-to-end against dps-emulator,
# interop with the official SDKs, CLI, ABI and consumer checks, bindings),
# the valgrind memcheck variants, then the library's tests again under
# ASan+UBSan and the concurrency/fault tests under TSan.
#
#   scripts/test.sh            # everything
#   PROV_TEST_QUICK=1 scripts/test.sh   # skip the sanitizer pass
#
# Build trees: build/ (main), build-asan/ (ASan+UBSan), build-tsan/ (TSan). Logs of failed tests
# are printed by ctest (--output-on-failure).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
jobs=${PROV_JOBS:-$(nproc)}

step() { printf '\n=== %s ===\n' "$*"; }

step "dependencies"
scripts/install-deps.sh

step "build (warnings as errors)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DPROV_WERROR=ON -DPROV_BUILD_BINDINGS=ON >/dev/null
cmake --build build -j "$jobs"

step "tests"
ctest --test-dir build --output-on-failure -j "$jobs" --timeout 600 -LE valgrind

step "valgrind memcheck (unit, e2e, fault matrix: zero leaks, zero errors)"
ctest --test-dir build --output-on-failure -j "$jobs" --timeout 600 -L valgrind

if [ "${PROV_TEST_QUICK:-0}" != 1 ]; then
  step "library tests under ASan+UBSan"
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DPROV_WERROR=ON \
    -DPROV_SANITIZE=address,undefined -DPROV_BUILD_EMULATOR=OFF \
    -DPROV_EMULATOR_BIN="$root/build/emulator/dps-emulator" >/dev/null
  cmake --build build-asan -j "$jobs"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir build-asan --output-on-failure -j "$jobs" --timeout 600 \
    -L 'unit|e2e|cli|fuzz|faults|concurrency'

  # Data races: 100 concurrent clients (sync, async, cancelled, freed in
  # flight) and the fault matrix (cancel from other threads, async
  # callbacks) with the library, tests and libcurl callbacks under TSan.
  step "concurrency and fault matrix under TSan"
  cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DPROV_WERROR=ON \
    -DPROV_SANITIZE=thread -DPROV_BUILD_EMULATOR=OFF -DPROV_BUILD_CLI=OFF \
    -DPROV_BUILD_BINDINGS=OFF -DPROV_EMULATOR_BIN="$root/build/emulator/dps-emulator" >/dev/null
  cmake --build build-tsan -j "$jobs" --target prov_concurrency_stress_test \
    prov_fault_matrix_test prov_robust_unit_test
  TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$root/tests/concurrency/tsan.supp" \
    ctest --test-dir build-tsan --output-on-failure -j "$jobs" --timeout 600 \
    -L 'concurrency|faults' -LE valgrind
fi

# A short coverage-guided fuzz run of every parser that reads network bytes
# (libprov's MQTT, WebSocket and DPS response parsers; the emulator's MQTT and
# request parsers), with clang's libFuzzer + ASan/UBSan. The committed corpora
# are also replayed by the plain regression tests above, with any compiler.
step "short fuzz run (libFuzzer)"
tests/fuzz/run-fuzz.sh "${PROV_FUZZ_SECONDS:-20}"
CC=clang CXX=clang++ cmake -S . -B build-fuzz-emulator -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DPROV_BUILD_CLI=OFF -DPROV_BUILD_BINDINGS=OFF >/dev/null
cmake --build build-fuzz-emulator -j "$jobs" --target emulator_fuzz_mqtt_libfuzzer \
  emulator_fuzz_request_libfuzzer
ctest --test-dir build-fuzz-emulator --output-on-failure -R '^emulator[.]fuzz_short[.]'

step "all tests passed"
