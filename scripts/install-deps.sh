#!/usr/bin/env bash
# Installs the Debian packages libprov needs to build and test (when run as
# root; otherwise it only reports what is missing). Each package and why:
# see the README's dependency table.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  libcurl4-openssl-dev libwolfssl-dev libcjson-dev libssl-dev
  libcmocka-dev swig abigail-tools
  libboost-dev libsqlite3-dev
  libpaho-mqtt-dev mosquitto
  tinyproxy dante-server microsocks stunnel4
  clang valgrind
  lua5.4 liblua5.4-dev mono-devel
  python3 python3-venv iproute2 util-linux
  nlohmann-json3-dev
  libclang-rt-14-dev clang-format-14
  shellcheck
  luarocks
  openjdk-17-jdk maven
  openssl
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} Debian packages present"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages (run as root to install): ${missing[*]}" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
