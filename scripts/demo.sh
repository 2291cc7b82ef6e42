#!/usr/bin/env bash
# The main job, end to end on one machine: installs what is missing, builds
# the library, the `prov` CLI and dps-emulator, starts the emulator with an
# enrollment, registers a device with `prov`, prints the result, and stops
# the emulator.
#
#   scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)" --target prov-cli dps-emulator

emulator=$root/build/emulator/dps-emulator
prov=$root/build/cli/prov
work=$(mktemp -d /tmp/libprov-demo.XXXXXX)
emulator_pid=
cleanup() {
  [ -n "$emulator_pid" ] && kill "$emulator_pid" 2>/dev/null && wait "$emulator_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

# A fresh random device key and group key for this run only.
device_key=$(head -c 32 /dev/urandom | base64)
group_key=$(head -c 64 /dev/urandom | base64 -w0)
cat >"$work/config.json" <<JSON
{
  "idScope": "0ne00000DEM",
  "iotHubs": ["demo-hub-1.azure-devices.net", "demo-hub-2.azure-devices.net"],
  "assignmentDelayMs": 1000,
  "retryAfterSeconds": 1,
  "enrollments": [
    { "registrationId": "demo-device-001",
      "attestation": { "type": "symmetricKey", "primaryKey": "$device_key" },
      "initialPayload": { "welcome": "to the demo hub" } }
  ],
  "enrollmentGroups": [
    { "enrollmentGroupId": "demo-group",
      "attestation": { "type": "symmetricKey", "primaryKey": "$group_key" } }
  ]
}
JSON

echo "Starting dps-emulator (data in $work/data)..."
"$emulator" serve --data-dir "$work/data" --config "$work/config.json" \
  --mqtt-port 0 --https-port 0 --ports-file "$work/ports.json" 2>"$work/emulator.log" &
emulator_pid=$!
for _ in $(seq 100); do [ -s "$work/ports.json" ] && break; sleep 0.1; done
[ -s "$work/ports.json" ] || { echo "dps-emulator did not start:"; cat "$work/emulator.log"; exit 1; }
mqtt_port=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["mqtt"])' "$work/ports.json")
ca=$("$emulator" ca-path --data-dir "$work/data")

echo
echo "Registering demo-device-001 (individual enrollment, symmetric key) over MQTT/TLS:"
PROV_SYMMETRIC_KEY=$device_key "$prov" register --host "localhost:$mqtt_port" \
  --id-scope 0ne00000DEM --registration-id demo-device-001 --ca-file "$ca" \
  --payload '{"modelId":"dtmi:libprov:demo;1"}'

echo
echo "Registering sensor-42 (group enrollment, key derived from the group key), as JSON:"
PROV_GROUP_KEY=$group_key "$prov" register --host "localhost:$mqtt_port" \
  --id-scope 0ne00000DEM --registration-id sensor-42 --ca-file "$ca" --json

echo
echo "Registration records kept by the emulator:"
"$emulator" list --data-dir "$work/data"
