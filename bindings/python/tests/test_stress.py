"""GC/dispose stress: 10,000 create/free cycles must not grow RSS."""

import gc

import libprov
from libprov import ProvisioningDeviceClient, native

from conftest import DEVICE_KEY, ID_SCOPE

CYCLES = 10_000
# A leak of even 200 bytes per cycle would exceed this over 10,000 cycles;
# allocator noise stays far below it.
MAX_GROWTH_KB = 2048


def rss_kb():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


def measure(cycle):
    for _ in range(1000):  # warm-up: allocator pools, caches
        cycle()
    gc.collect()
    before = rss_kb()
    for _ in range(CYCLES):
        cycle()
    gc.collect()
    return rss_kb() - before


def test_explicit_shutdown_cycles_do_not_grow_rss():
    def cycle():
        client = ProvisioningDeviceClient.create_from_symmetric_key(
            "localhost:8883", "stress-dev", ID_SCOPE, DEVICE_KEY, keep_alive=30,
            cipher="ECDHE-RSA-AES128-GCM-SHA256", sastoken_ttl=600)
        client.provisioning_payload = {"n": 1}
        client.shutdown()
    assert measure(cycle) < MAX_GROWTH_KB


def test_garbage_collected_clients_do_not_grow_rss():
    def cycle():
        ProvisioningDeviceClient.create_from_symmetric_key(
            "localhost:8883", "stress-dev", ID_SCOPE, DEVICE_KEY, server_verification_cert=None)
    assert measure(cycle) < MAX_GROWTH_KB


def test_native_handles_and_owned_strings_do_not_grow_rss():
    def cycle():
        client = native.ProvClient("localhost:8883", "stress-dev", ID_SCOPE, DEVICE_KEY)
        client.set_gateway_hostname("gateway.local")
        client.set_progress_callback(print)
        client.set_log_callback(native.PROV_LOG_DEBUG, print)
        del client  # destructor path, no close()
        libprov.derive_device_key(DEVICE_KEY, "stress-dev")
    assert measure(cycle) < MAX_GROWTH_KB


def test_failed_calls_do_not_grow_rss():
    def cycle():
        try:
            ProvisioningDeviceClient.create_from_symmetric_key(
                "localhost:8883", "bad id", ID_SCOPE, DEVICE_KEY)
        except ValueError:
            pass
    assert measure(cycle) < MAX_GROWTH_KB


def test_clients_with_every_new_option_do_not_grow_rss():
    proxy = libprov.ProxyOptions("SOCKS5", "127.0.0.1", 1080, "user", "secret")

    def cycle():
        client = ProvisioningDeviceClient.create_from_symmetric_key_group(
            "localhost:8883", "stress-dev", ID_SCOPE, DEVICE_KEY, websockets=True,
            proxy_options=proxy, csr_key_type="ec", csr_api="2021-11-01-preview",
            max_retries=3, initial_backoff=0.5, max_backoff=5)
        client.on_registration_progress = print
        client.shutdown()
    assert measure(cycle) < MAX_GROWTH_KB
