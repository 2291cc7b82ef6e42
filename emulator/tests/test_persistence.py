"""Registration records survive a normal restart and a kill -9 right after the registrations
completed: every device that was told "assigned" is found by `dps-emulator list --json`."""

import signal
import threading

import dps_client as dc
from conftest import GROUP_KEY, KEY_1, SCOPE, base_config


def register_many(emu, prefix, count, transport="mqtt"):
    ids = [f"{prefix}-{i:03d}" for i in range(count)]
    errors = []

    def worker(chunk):
        for reg in chunk:
            key = dc.derive_device_key(GROUP_KEY, reg)
            tok = dc.sas_token(SCOPE, reg, key)
            try:
                if transport == "https":
                    r = dc.https_register(emu.ports["https"], emu.ca_path, SCOPE, reg, tok)
                else:
                    r = dc.mqtt_register(emu.ports["mqtt"], emu.ca_path, SCOPE, reg, tok)
                if r.status != 200 or r.body["status"] != "assigned":
                    errors.append((reg, r))
            except Exception as e:  # noqa: BLE001 - collected and asserted below
                errors.append((reg, e))

    threads = [threading.Thread(target=worker, args=(ids[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]
    return ids


def listed(emu):
    return {r["registrationId"]: r for r in emu.list_json()}


def test_records_survive_restart_and_kill9(emulator_factory):
    emu = emulator_factory(base_config())
    first = register_many(emu, "persist-a", 40)
    first += register_many(emu, "persist-h", 10, transport="https")
    # Listing works while the emulator runs (WAL readers).
    assert set(first) <= set(listed(emu))

    assert emu.stop(signal.SIGTERM) == 0  # clean shutdown exits 0
    records = listed(emu)
    assert set(first) <= set(records)
    assert all(records[r]["status"] == "assigned" for r in first)

    emu.start()
    # A re-registration after restart keeps createdDateTimeUtc.
    created_before = records["persist-a-000"]["createdDateTimeUtc"]
    second = register_many(emu, "persist-b", 60)
    register_many(emu, "persist-a", 1)
    emu.kill9()  # no chance to flush anything
    records = listed(emu)
    missing = [r for r in first + second if r not in records]
    assert not missing, missing
    assert records["persist-a-000"]["createdDateTimeUtc"] == created_before
    assert records["persist-a-000"]["registrationCount"] == 2

    emu.start()  # the store opens cleanly after kill -9
    _, over_admin = emu.admin("GET", "/registrations")
    assert {r["registrationId"] for r in over_admin} == set(records)
    assert emu.stop() == 0


def test_kill9_mid_load_loses_no_completed_registration(emulator_factory):
    emu = emulator_factory(base_config())
    assigned = []
    stop = threading.Event()

    def worker(n):
        i = 0
        while not stop.is_set():
            reg = f"load-{n}-{i:04d}"
            i += 1
            key = dc.derive_device_key(GROUP_KEY, reg)
            try:
                r = dc.mqtt_register(emu.ports["mqtt"], emu.ca_path, SCOPE, reg,
                                     dc.sas_token(SCOPE, reg, key))
            except Exception:  # noqa: BLE001 - the emulator is killed under the client
                return
            if r.status == 200 and r.body["status"] == "assigned":
                assigned.append(reg)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    import time
    deadline = time.monotonic() + 20
    while len(assigned) < 100 and time.monotonic() < deadline:
        time.sleep(0.01)
    emu.kill9()  # registrations are in flight right now
    stop.set()
    for t in threads:
        t.join()
    assert len(assigned) >= 100
    records = listed(emu)
    missing = [r for r in assigned if r not in records]
    assert not missing, missing


def test_store_from_before_failed_records_is_read_and_upgraded(emulator_bin, tmp_path):
    """A registrations.sqlite3 made before failed registrations were stored (no error columns) is
    upgraded when opened (here by `list`, before any `serve`): old records stay, failed ones are
    stored."""
    import sqlite3

    data_dir = tmp_path / "data"
    data_dir.mkdir()
    db = sqlite3.connect(data_dir / "registrations.sqlite3")
    db.execute(
        "CREATE TABLE registrations (id_key TEXT PRIMARY KEY, registration_id TEXT NOT NULL,"
        " enrollment_group_id TEXT NOT NULL, attestation TEXT NOT NULL, device_id TEXT NOT NULL,"
        " assigned_hub TEXT NOT NULL, status TEXT NOT NULL, substatus TEXT NOT NULL,"
        " created_utc TEXT NOT NULL, last_updated_utc TEXT NOT NULL, etag TEXT NOT NULL,"
        " payload TEXT, registration_count INTEGER NOT NULL)")
    db.execute("INSERT INTO registrations VALUES ('old-dev', 'old-dev', '', 'symmetricKey',"
               " 'old-dev', 'hub-1.example.net', 'assigned', 'initialAssignment',"
               " '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', 'ZXRhZw==', NULL, 1)")
    db.commit()
    db.close()

    config = base_config()
    config["enrollments"][0]["faults"] = [{"type": "allocationFailed", "count": 1}]
    emu = dc.EmulatorProcess(emulator_bin, config, data_dir=str(data_dir))
    try:
        old = listed(emu)  # before any `serve`
        assert old["old-dev"]["status"] == "assigned" and "errorCode" not in old["old-dev"]
        emu.start()
        r = dc.mqtt_register(emu.ports["mqtt"], emu.ca_path, SCOPE, "dev-1",
                             dc.sas_token(SCOPE, "dev-1", KEY_1))
        assert r.status == 200 and r.body["status"] == "failed", r
        records = listed(emu)
        assert records["old-dev"]["assignedHub"] == "hub-1.example.net"
        assert records["dev-1"]["status"] == "failed" and records["dev-1"]["errorCode"] == 400207
        assert emu.stop() == 0
    finally:
        emu.cleanup()
