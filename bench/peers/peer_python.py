"""Python benchmark peer: registers every device of a list with
ProvisioningDeviceClient, sequentially, one client per device (as the SDK's
samples do), and prints one JSON object with the measurements.

The same code runs against the official SDK (``--impl azure``: azure-iot-device
from PyPI) and the libprov binding (``--impl libprov``), whose API is the
SDK's with only the import changed — so both do exactly the same work.

    python peer_python.py --impl azure|libprov --devices CSV --host HOST[:PORT]
                          --id-scope SCOPE --ca PEM_FILE

CPU is user+sys of this process (all threads) during the registrations only,
so interpreter start-up and imports are not charged to them.
"""

import argparse
import csv
import json
import logging
import resource
import sys
import time


def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime, usage.ru_stime


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--impl", choices=["azure", "libprov"], required=True)
    parser.add_argument("--devices", required=True)
    parser.add_argument("--host", required=True)
    parser.add_argument("--id-scope", required=True)
    parser.add_argument("--ca", required=True)
    args = parser.parse_args()

    if args.impl == "azure":
        from azure.iot.device import ProvisioningDeviceClient
        from importlib.metadata import version

        library = "azure-iot-device " + version("azure-iot-device")
        # The SDK logs every MQTT step at INFO/DEBUG; keep logging quiet so
        # the peer is measured as an application would run it.
        logging.disable(logging.WARNING)
    else:
        import libprov
        from libprov import ProvisioningDeviceClient

        library = "libprov " + libprov.library_version()

    with open(args.ca, encoding="ascii") as ca_file:
        ca_pem = ca_file.read()
    with open(args.devices, newline="", encoding="utf-8") as devices_file:
        devices = [(row["registration_id"], row["key"]) for row in csv.DictReader(devices_file)]

    latencies_ms = []
    failures = {}
    first_error = ""
    user0, sys0 = cpu_seconds()
    started = time.perf_counter()
    for registration_id, key in devices:
        t0 = time.perf_counter()
        try:
            client = ProvisioningDeviceClient.create_from_symmetric_key(
                provisioning_host=args.host,
                registration_id=registration_id,
                id_scope=args.id_scope,
                symmetric_key=key,
                server_verification_cert=ca_pem,
            )
            result = client.register()
            if result.status != "assigned" or not result.registration_state.assigned_hub:
                raise RuntimeError("registration status %r" % (result.status,))
            latencies_ms.append((time.perf_counter() - t0) * 1000.0)
        except Exception as error:  # every failure is counted, never hidden
            kind = type(error).__name__
            failures[kind] = failures.get(kind, 0) + 1
            if not first_error:
                first_error = "%s: %s: %s" % (registration_id, kind, error)
    elapsed = time.perf_counter() - started
    user1, sys1 = cpu_seconds()
    json.dump(
        {
            "mode": "python-" + args.impl,
            "library": library,
            "count": len(devices),
            "ok": len(latencies_ms),
            "elapsed_s": elapsed,
            "cpu_user_s": user1 - user0,
            "cpu_sys_s": sys1 - sys0,
            "failures": failures,
            "first_error": first_error,
            "latencies_ms": latencies_ms,
        },
        sys.stdout,
    )
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
