#!/usr/bin/env bash
# Installs the official SDKs the interop tests run, into the build directory,
# from the committed pins. Re-running is cheap: nothing is fetched while the
# pins are unchanged (a stamp file holds the hash of what was installed).
#
#   interop-setup.sh node   SRC_DIR DEST_DIR   npm ci of SRC_DIR/package{,-lock}.json into DEST_DIR/node_modules
#   interop-setup.sh python REQUIREMENTS VENV  venv at VENV with pip install -r REQUIREMENTS
set -euo pipefail

die() {
    echo "interop-setup: FAIL: $*" >&2
    exit 1
}

[[ $# -eq 3 ]] || die "usage: interop-setup.sh node SRC_DIR DEST_DIR | python REQUIREMENTS VENV_DIR"
kind=$1
mkdir -p "$3"
dest=$(cd "$3" && pwd)

# One installer at a time per destination (parallel ctest runs share it).
exec 9>"$dest/.interop-setup.lock"
flock -w 600 9 || die "timed out waiting for another setup of $dest"

case "$kind" in
    node)
        src=$2
        command -v node >/dev/null || die "node is not installed (Node.js 18+ is needed)"
        command -v npm >/dev/null || die "npm is not installed"
        [[ -f "$src/package-lock.json" ]] || die "$src/package-lock.json is missing"
        want=$(cat "$src/package.json" "$src/package-lock.json" | sha256sum | cut -d' ' -f1)
        if [[ -f "$dest/.stamp" && "$(cat "$dest/.stamp")" == "$want" && -d "$dest/node_modules" ]]; then
            echo "interop-setup: Node SDK already installed in $dest/node_modules"
            exit 0
        fi
        cp "$src/package.json" "$src/package-lock.json" "$dest/"
        rm -f "$dest/.stamp"
        (cd "$dest" && npm ci --no-audit --no-fund --loglevel=error) \
            || die "npm ci failed in $dest (is the npm registry reachable?)"
        echo "$want" >"$dest/.stamp"
        echo "interop-setup: Node SDK installed in $dest/node_modules:"
        (cd "$dest" && npm ls --depth=0 2>/dev/null) || true
        ;;
    python)
        requirements=$2
        command -v python3 >/dev/null || die "python3 is not installed"
        [[ -f "$requirements" ]] || die "$requirements is missing"
        want=$(sha256sum "$requirements" | cut -d' ' -f1)
        if [[ -f "$dest/.stamp" && "$(cat "$dest/.stamp")" == "$want" && -x "$dest/bin/python" ]]; then
            echo "interop-setup: Python SDK already installed in $dest"
            exit 0
        fi
        rm -f "$dest/.stamp"
        python3 -m venv "$dest" || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
        "$dest/bin/pip" install --quiet --disable-pip-version-check -r "$requirements" \
            || die "pip install -r $requirements failed (is PyPI reachable?)"
        echo "$want" >"$dest/.stamp"
        echo "interop-setup: Python SDK installed in $dest:"
        "$dest/bin/pip" freeze --disable-pip-version-check | grep -i -E '^(azure-iot-device|paho-mqtt|pytest)=' || true
        ;;
    *)
        die "unknown kind '$kind' (node or python)"
        ;;
esac
