#!/usr/bin/env bash
# Runs the libprov benchmarks (issue 9) — by hand, not part of the tests/CI.
#
#   scripts/bench.sh [BUILD_DIR] [-- extra run_bench.py options]
#
# 1. configures BUILD_DIR (default build-bench) as a Release build with the
#    Python binding, and builds only what the benchmark runs;
# 2. installs the pinned official SDKs (bench/sdk/requirements.txt into
#    BUILD_DIR/bench/venv, bench/sdk/node into BUILD_DIR/bench/node) —
#    skipped while the pins are unchanged;
# 3. runs bench/run_bench.py (as root: it enters a private network namespace
#    so the SDKs can dial localhost:8883) writing bench/results/{results.json,
#    tables.md,bench.png,callgrind-*.txt}.
# bench/results/RESULTS.md is the written analysis; paste tables.md into it.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build="${1:-$root/build-bench}"
[[ $# -gt 0 ]] && shift
[[ "${1:-}" == "--" ]] && shift

die() {
    echo "bench.sh: FAIL: $*" >&2
    exit 1
}

[[ $(id -u) -eq 0 ]] || die "run as root (the official SDKs need port 8883 in a private network namespace)"

cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DPROV_BUILD_BINDINGS=ON \
    -DPROV_BINDINGS_LUA=OFF >/dev/null
cmake --build "$build" --target prov dps-emulator prov-cli prov_python prov-bench-inproc \
    prov-bench-tls prov-bench-spawn prov-bench-release-buffers -j2

mkdir -p "$build/bench"
venv="$build/bench/venv"
want=$(sha256sum "$root/bench/sdk/requirements.txt" | cut -d' ' -f1)
if [[ ! -x "$venv/bin/python" || "$(cat "$venv/.stamp" 2>/dev/null)" != "$want" ]]; then
    python3 -m venv "$venv" || die "python3 -m venv failed (apt-get install python3-venv)"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$root/bench/sdk/requirements.txt" \
        || die "pip install failed (is PyPI reachable?)"
    echo "$want" >"$venv/.stamp"
fi
node_dir="$build/bench/node"
want=$(cat "$root/bench/sdk/node/package.json" "$root/bench/sdk/node/package-lock.json" | sha256sum | cut -d' ' -f1)
if [[ ! -d "$node_dir/node_modules" || "$(cat "$node_dir/.stamp" 2>/dev/null)" != "$want" ]]; then
    mkdir -p "$node_dir"
    cp "$root/bench/sdk/node/package.json" "$root/bench/sdk/node/package-lock.json" "$node_dir/"
    (cd "$node_dir" && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci failed (is npm reachable?)"
    echo "$want" >"$node_dir/.stamp"
fi

# Bench binaries: built by bench/CMakeLists.txt (target dir of prov-bench-inproc).
bench_bin=$(dirname "$(find "$build" -name prov-bench-inproc -type f -perm -u+x | head -n1)")
[[ -x "$bench_bin/prov-bench-inproc" ]] || die "prov-bench-inproc was not built (is bench/ added to the top-level CMakeLists?)"

exec python3 "$root/bench/run_bench.py" \
    --emulator "$build/emulator/dps-emulator" \
    --bench-bin-dir "$bench_bin" \
    --prov-cli "$build/cli/prov" \
    --libprov-pythonpath "$build/bindings/python" \
    --venv "$venv" --node-dir "$node_dir" \
    --out-dir "$root/bench/results" --profile --scale-variants "$@"
