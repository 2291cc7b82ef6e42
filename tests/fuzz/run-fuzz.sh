#!/usr/bin/env bash
# Builds the libFuzzer targets with clang and runs each for a while.
#
#   tests/fuzz/run-fuzz.sh [SECONDS_PER_TARGET (default 30)] [TARGET...]
#
# Environment: BUILD_DIR (default <repo>/build-fuzz), JOBS (default 2),
# CC/CXX (default clang/clang++). Each fuzzer starts from a copy of the
# committed corpus tests/fuzz/corpus/<target>/ (the committed files are not
# modified); new inputs stay in $BUILD_DIR/fuzz-work/<target>/. A crash, a
# leak or a broken invariant fails the script; the reproducer is left in
# $BUILD_DIR/fuzz-work/artifacts/ — commit it to corpus/<target>/ as
# crash-<something> after fixing, so ctest replays it forever.
set -euo pipefail

seconds=${1:-30}
shift || true
case "$seconds" in
  ''|*[!0-9]*) echo "run-fuzz.sh: SECONDS must be a whole number, got '$seconds'" >&2; exit 2 ;;
esac

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=${BUILD_DIR:-$repo/build-fuzz}
jobs=${JOBS:-2}
export CC=${CC:-clang} CXX=${CXX:-clang++}

if ! command -v "$CXX" >/dev/null; then
  echo "run-fuzz.sh: $CXX not found (Debian: apt-get install clang libclang-rt-14-dev)" >&2
  exit 1
fi
# libFuzzer's runtime ships in libclang-rt-NN-dev on Debian.
if ! "$CXX" -fsanitize=fuzzer -x c++ - -o /dev/null >/dev/null 2>&1 <<<'
#include <cstddef>
#include <cstdint>
extern "C" int LLVMFuzzerTestOneInput(const uint8_t *, size_t) { return 0; }'; then
  echo "run-fuzz.sh: $CXX cannot link -fsanitize=fuzzer (Debian: apt-get install libclang-rt-14-dev)" >&2
  exit 1
fi

generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
# Only the fuzz targets are built, so the emulator and CLI are left out.
mkdir -p "$build"
cmake -S "$repo" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DPROV_BUILD_EMULATOR=OFF -DPROV_BUILD_CLI=OFF -DPROV_BUILD_BINDINGS=OFF >"$build/run-fuzz-configure.log" 2>&1 ||
  { cat "$build/run-fuzz-configure.log" >&2; exit 1; }

if [ $# -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(grep -v '^$' "$build/tests/fuzz/fuzz-targets.txt")
fi
[ ${#targets[@]} -gt 0 ] || { echo "run-fuzz.sh: no fuzz targets" >&2; exit 1; }

cmake --build "$build" -j"$jobs" --target "${targets[@]/#/fuzz_}"

work=$build/fuzz-work
mkdir -p "$work/artifacts"
failed=()
for target in "${targets[@]}"; do
  corpus=$work/$target
  mkdir -p "$corpus"
  cp -n "$here/corpus/$target/"* "$corpus/" 2>/dev/null || true
  echo "=== fuzzing $target for ${seconds}s ==="
  if ! "$build/tests/fuzz/fuzz_$target" "$corpus" -max_total_time="$seconds" -max_len=70000 \
      -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$work/artifacts/$target-" >"$work/$target.log" 2>&1; then
    failed+=("$target")
    tail -n 60 "$work/$target.log" >&2
  else
    grep -E "^stat::number_of_executed_units|^stat::new_units_added" "$work/$target.log" |
      sed "s/^/  $target /"
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "run-fuzz.sh: FAILED: ${failed[*]} (reproducers in $work/artifacts/)" >&2
  exit 1
fi
echo "run-fuzz.sh: ${#targets[@]} targets, ${seconds}s each, no failure"
