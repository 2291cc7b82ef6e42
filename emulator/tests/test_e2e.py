"""End-to-end tests of dps-emulator with an independent stdlib client: MQTT over TLS, MQTT over
WebSockets and HTTPS; symmetric keys (individual, group, four sr encodings), X.509, negative
cases, the state machine, faults from the config and the admin endpoint."""

import json
import os
import time

import pytest

import dps_client as dc
from conftest import GROUP_KEY, KEY_1, KEY_1B, SCOPE, base_config, make_cert


@pytest.fixture(scope="module")
def x509_creds(emulator_bin, tmp_path_factory):
    d = tmp_path_factory.mktemp("x509")
    p = lambda name: str(d / name)  # noqa: E731
    make_cert(emulator_bin, "device", "--cn", "dev-x509", "--out-cert", p("self.pem"),
              "--out-key", p("self.key"))
    make_cert(emulator_bin, "ca", "--cn", "Test Root", "--out-cert", p("root.pem"),
              "--out-key", p("root.key"))
    make_cert(emulator_bin, "ca", "--cn", "Test Intermediate", "--out-cert", p("inter.pem"),
              "--out-key", p("inter.key"), "--issuer-cert", p("root.pem"), "--issuer-key",
              p("root.key"))
    make_cert(emulator_bin, "device", "--cn", "x509-group-dev", "--out-cert", p("leaf.pem"),
              "--out-key", p("leaf.key"), "--issuer-cert", p("inter.pem"), "--issuer-key",
              p("inter.key"), "--chain")
    make_cert(emulator_bin, "device", "--cn", "x509-other-cn", "--out-cert", p("other.pem"),
              "--out-key", p("other.key"), "--issuer-cert", p("inter.pem"), "--issuer-key",
              p("inter.key"), "--chain")
    import subprocess
    thumb = subprocess.run([emulator_bin, "make-cert", "thumbprint", "--cert", p("self.pem")],
                           capture_output=True, text=True, check=True).stdout.strip()
    return {"dir": d, "thumbprint": thumb, "p": p}


@pytest.fixture(scope="module")
def emu(emulator_bin, x509_creds):
    p = x509_creds["p"]
    config = base_config()
    config["enrollments"].append(
        {"registrationId": "dev-x509",
         "attestation": {"type": "x509", "thumbprint": x509_creds["thumbprint"]}})
    config["enrollmentGroups"].append(
        {"enrollmentGroupId": "group-x509",
         "attestation": {"type": "x509", "caCertificates": [p("root.pem")]}})
    e = dc.EmulatorProcess(emulator_bin, config).start()
    yield e
    e.cleanup()


def token(reg_id, key=KEY_1, **kw):
    return dc.sas_token(SCOPE, reg_id, key, **kw)


def assert_assigned(result, reg_id, device_id=None):
    assert result.status == 200, result
    body = result.body
    assert body["status"] == "assigned"
    assert body["operationId"]
    state = body["registrationState"]
    for field in ("registrationId", "createdDateTimeUtc", "assignedHub", "deviceId", "status",
                  "substatus", "lastUpdatedDateTimeUtc", "etag"):
        assert field in state, field
    assert state["registrationId"] == reg_id
    assert state["deviceId"] == (device_id or reg_id)
    assert state["assignedHub"].endswith(".example.net")
    return state


@pytest.mark.parametrize("style", ["raw", "lower", "upper", "mixed"])
def test_mqtt_symmetric_key_all_sr_encodings(emu, style):
    r = dc.mqtt_register(emu.ports["mqtt"], emu.ca_path, SCOPE, "dev-1",
                         token("dev-1", sr_style=style, skn=style != "upper"))
    state = assert_assigned(r, "dev-1", "device-one")
    assert state["payload"] == {"greeting": "hi"}
    assert r.trace[0][1] == [["$rid", "1"]]  # $rid first, echoed, no retry-after on 200


def test_mqtt_secondary_key_and_tls12(emu):
    r = dc.mqtt_register(emu.ports["mqtt"], emu.ca_path, SCOPE, "dev-1", token("dev-1", KEY_1B),
                         tls12_only=True)
    assert_assigned(r, "dev-1", "device-one")


def test_rid_echoed_verbatim(emu):
    rid = "3f2c1a%2D9b"  # an opaque, url-quoted value as Python sends it
    r = dc.mqtt_register(emu.ports["mqtt"], emu.ca_path, SCOPE, "dev-1", token("dev-1"), rid=rid)
    assert r.status == 200
    assert r.trace[0][1][0] == ["$rid", rid]


@pytest.mark.parametrize("subprotocol,path", [("mqtt", "/$iothub/websocket"), ("MQTT", "/")])
def test_websocket_symmetric_key(emu, subprotocol, path):
    r = dc.mqtt_register(emu.ports["https"], emu.ca_path, SCOPE, "dev-1", token("dev-1"),
                         websocket=True, ws_subprotocol=subprotocol, ws_path=path)
    assert_assigned(r, "dev-1", "device-one")


def test_websocket_echoes_subprotocol_token(emu):
    conn = dc.MqttConnection(emu.ports["https"], emu.ca_path, websocket=True,
                             ws_subprotocol="MQTT")
    assert conn.sock.headers["sec-websocket-protocol"] == "MQTT"
    conn.close()


def test_websocket_without_mqtt_subprotocol_is_refused(emu):
    with pytest.raises(ConnectionError, match="400"):
        dc.MqttConnection(emu.ports["https"], emu.ca_path, websocket=True,
                          ws_subprotocol="chat")


def test_https_register_and_headers(emu):
    r = dc.https_register(emu.ports["https"], emu.ca_path, SCOPE, "dev-1", token("dev-1"))
    assert_assigned(r, "dev-1", "device-one")
    names = [name for name, _ in r.trace[-1][1]]
    assert "content-type" in names and "x-ms-request-id" in names
    headers = dict(r.trace[-1][1])
    assert headers["content-type"] == "application/json; charset=utf-8"


def test_https_polling_with_lowercase_retry_after(emu):
    r = dc.https_register(emu.ports["https"], emu.ca_path, SCOPE, "dev-slow", token("dev-slow"))
    assert_assigned(r, "dev-slow")
    first_status, first_headers = r.trace[0]
    assert first_status == 202
    assert ("retry-after", "1") in first_headers  # lower-case name, integer seconds


def test_mqtt_polling_state_machine(emu):
    r = dc.mqtt_register(emu.ports["mqtt"], emu.ca_path, SCOPE, "dev-slow", token("dev-slow"))
    assert_assigned(r, "dev-slow")
    assert r.trace[0][0] == 202
    assert r.trace[0][1] == [["$rid", "1"], ["retry-after", "1"]]
    assert len(r.trace) >= 2


def test_group_symmetric_key_with_echoed_payload(emu):
    device_key = dc.derive_device_key(GROUP_KEY, "group-dev-7")
    payload = {"modelId": "dtmi:test:device;1", "n": 7}
    r = dc.mqtt_register(emu.ports["mqtt"], emu.ca_path, SCOPE, "group-dev-7",
                         token("group-dev-7", device_key), payload=payload)
    state = assert_assigned(r, "group-dev-7")
    assert state["payload"] == payload
    assert state["symmetricKey"]["enrollmentGroupId"] == "group-sym"


def test_derive_key_subcommand(emulator_bin):
    import subprocess
    out = subprocess.run([emulator_bin, "derive-key", "--group-key", GROUP_KEY,
                          "--registration-id", "device-0001"], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "GdzZZhVN8DGakvUQn4ZuV/27iSbPMxqDmrOoSAVkRy8="


def assert_error(result, status, code):
    assert result.status == status, result
    body = result.body
    assert body["errorCode"] == code
    for field in ("trackingId", "message", "timestampUtc"):
        assert body[field], field


def test_wrong_key_is_401(emu):
    r = dc.mqtt_register(emu.ports["mqtt"], emu.ca_path, SCOPE, "dev-1",
                         token("dev-1", "d3Jvbmcta2V5LXdyb25nLWtleQ=="))
    assert_error(r, 401, 401002)


def test_expired_token_is_401(emu):
    r = dc.mqtt_register(emu.ports["mqtt"], emu.ca_path, SCOPE, "dev-1",
                         token("dev-1", expiry=int(time.time()) - 5))
    assert_error(r, 401, 401002)


def test_unknown_registration_is_401_on_all_transports(emu):
    r = dc.mqtt_register(emu.ports["mqtt"], emu.ca_path, SCOPE, "nobody", token("nobody"))
    assert_error(r, 401, 401002)
    r = dc.https_register(emu.ports["https"], emu.ca_path, SCOPE, "nobody", token("nobody"))
    assert_error(r, 401, 401002)


def test_wrong_scope_is_401(emu):
    r = dc.mqtt_register(emu.ports["mqtt"], emu.ca_path, "0ne99999999", "dev-1",
                         dc.sas_token("0ne99999999", "dev-1", KEY_1))
    assert_error(r, 401, 401002)


def test_disabled_enrollment(emu):
    r = dc.mqtt_register(emu.ports["mqtt"], emu.ca_path, SCOPE, "dev-disabled",
                         token("dev-disabled"))
    assert r.status == 200
    assert r.body["status"] == "disabled"
    assert r.body["registrationState"]["status"] == "disabled"
    assert r.body["registrationState"]["registrationId"] == "dev-disabled"


def test_body_registration_id_mismatch_is_400(emu):
    r = dc.mqtt_register(emu.ports["mqtt"], emu.ca_path, SCOPE, "dev-1", token("dev-1"),
                         body=json.dumps({"registrationId": "someone-else"}))
    assert_error(r, 400, 400004)


def test_empty_register_body_is_accepted(emu):
    # .NET publishes an empty body; the id comes from the connection.
    r = dc.mqtt_register(emu.ports["mqtt"], emu.ca_path, SCOPE, "dev-1", token("dev-1"), body="")
    assert_assigned(r, "dev-1", "device-one")


def test_reregistration_keeps_created_and_device_id(emu):
    first = dc.mqtt_register(emu.ports["mqtt"], emu.ca_path, SCOPE, "dev-sticky",
                             token("dev-sticky"))
    time.sleep(0.01)
    second = dc.https_register(emu.ports["https"], emu.ca_path, SCOPE, "dev-sticky",
                               token("dev-sticky"))
    s1 = assert_assigned(first, "dev-sticky")
    s2 = assert_assigned(second, "dev-sticky")
    assert s1["createdDateTimeUtc"] == s2["createdDateTimeUtc"]
    assert s2["lastUpdatedDateTimeUtc"] > s1["lastUpdatedDateTimeUtc"]
    assert s1["etag"] != s2["etag"]
    assert s2["assignedHub"] == "only-hub.example.net"


def test_allocation_is_stable_and_spread(emu):
    hubs = {}
    for i in range(12):
        reg = f"spread-{i}"
        key = dc.derive_device_key(GROUP_KEY, reg)
        r1 = dc.https_register(emu.ports["https"], emu.ca_path, SCOPE, reg, token(reg, key))
        r2 = dc.https_register(emu.ports["https"], emu.ca_path, SCOPE, reg, token(reg, key))
        h1 = r1.body["registrationState"]["assignedHub"]
        assert h1 == r2.body["registrationState"]["assignedHub"]
        hubs[reg] = h1
    assert len(set(hubs.values())) >= 2


def test_status_lookup(emu):
    dc.https_register(emu.ports["https"], emu.ca_path, SCOPE, "dev-1", token("dev-1"))
    status, headers, _, data = dc.https_request(
        emu.ports["https"], emu.ca_path, "POST",
        f"/{SCOPE}/registrations/dev-1?api-version=2021-06-01",
        json.dumps({"registrationId": "dev-1"}),
        {"Authorization": token("dev-1"), "Content-Type": "application/json"})
    assert status == 200
    state = json.loads(data)
    assert state["registrationId"] == "dev-1" and state["status"] == "assigned"
    assert "operationId" not in state


def test_https_unknown_route_is_404_json(emu):
    status, headers, _, data = dc.https_request(emu.ports["https"], emu.ca_path, "GET", "/nope")
    assert status == 404
    assert json.loads(data)["errorCode"] == 404001


def test_x509_thumbprint_individual(emu, x509_creds):
    p = x509_creds["p"]
    r = dc.mqtt_register(emu.ports["mqtt"], emu.ca_path, SCOPE, "dev-x509", None,
                         cert=p("self.pem"), key=p("self.key"))
    state = assert_assigned(r, "dev-x509")
    info = state["x509"]["certificateInfo"]
    assert info["subjectName"] == "CN=dev-x509"
    assert info["sha256Thumbprint"].lower() == x509_creds["thumbprint"].lower()
    assert len(info["sha1Thumbprint"]) == 40 and info["version"] == 3
    assert info["notBeforeUtc"] < info["notAfterUtc"] and info["serialNumber"]
    assert "enrollmentGroupId" not in state["x509"]
    assert "signingCertificateInfo" not in state["x509"]
    r = dc.https_register(emu.ports["https"], emu.ca_path, SCOPE, "dev-x509",
                          cert=p("self.pem"), key=p("self.key"))
    assert_assigned(r, "dev-x509")


def test_x509_group_with_intermediate_over_websocket(emu, x509_creds):
    p = x509_creds["p"]
    r = dc.mqtt_register(emu.ports["https"], emu.ca_path, SCOPE, "x509-group-dev", None,
                         cert=p("leaf.pem"), key=p("leaf.key"), websocket=True)
    state = assert_assigned(r, "x509-group-dev")
    assert state["x509"]["enrollmentGroupId"] == "group-x509"
    assert state["x509"]["certificateInfo"]["subjectName"] == "CN=x509-group-dev"
    assert state["x509"]["certificateInfo"]["issuerName"].startswith("CN=Test Intermediate,")
    # The enrollment group's CA (the root here) signed the device's chain.
    assert state["x509"]["signingCertificateInfo"]["subjectName"].startswith("CN=Test Root,")


def test_x509_cn_mismatch_is_401(emu, x509_creds):
    p = x509_creds["p"]
    r = dc.mqtt_register(emu.ports["mqtt"], emu.ca_path, SCOPE, "x509-group-dev", None,
                         cert=p("other.pem"), key=p("other.key"))
    assert_error(r, 401, 401002)


def test_x509_enrollment_without_certificate_is_401(emu):
    r = dc.mqtt_register(emu.ports["mqtt"], emu.ca_path, SCOPE, "dev-x509", None)
    assert_error(r, 401, 401002)


def test_enrollment_throttle_fault(emu):
    results = [dc.mqtt_register(emu.ports["mqtt"], emu.ca_path, SCOPE, "dev-throttled",
                                token("dev-throttled")) for _ in range(4)]
    statuses = [r.status for r in results]
    assert statuses == [200, 429, 200, 429], statuses
    throttled = results[1]
    assert throttled.trace[0][1] == [["$rid", "1"], ["retry-after", "7"]]
    assert throttled.body["errorCode"] == 429001
    assert "fault" in emu.log_text() and "type=throttle" in emu.log_text()


def test_admin_faults_and_stats(emulator_factory):
    emu = emulator_factory(base_config())
    status, body = emu.admin("PUT", "/faults", {"faults": [
        {"type": "error", "status": 503, "every": 1, "count": 1},
        {"type": "malformed", "every": 1, "count": 1},
        {"type": "wrongRid", "count": 1},
        {"type": "drop", "after": "register", "count": 1},
        {"type": "throttle", "perMinute": 1000, "retryAfterSeconds": 2},
    ]})
    assert status == 200 and len(body["faults"]) == 5
    r = dc.mqtt_register(emu.ports["mqtt"], emu.ca_path, SCOPE, "dev-1", token("dev-1"))
    assert r.status == 503 and r.body["errorCode"] == 503001
    r = dc.mqtt_register(emu.ports["mqtt"], emu.ca_path, SCOPE, "dev-1", token("dev-1"))
    assert r.status == 200 and isinstance(r.body, bytes)  # malformed JSON body
    r = dc.mqtt_register(emu.ports["mqtt"], emu.ca_path, SCOPE, "dev-1", token("dev-1"), rid="5")
    assert r.trace[0][1][0] == ["$rid", "6"]  # wrong $rid
    r = dc.mqtt_register(emu.ports["mqtt"], emu.ca_path, SCOPE, "dev-1", token("dev-1"))
    assert r.status is None and r.trace[-1] == "closed"  # dropped after the register publish
    r = dc.mqtt_register(emu.ports["mqtt"], emu.ca_path, SCOPE, "dev-1", token("dev-1"))
    assert r.status == 200 and r.body["status"] == "assigned"  # counts exhausted

    status, stats = emu.admin("GET", "/stats")
    assert status == 200
    assert stats["faultsInjected"]["error"] == 1 and stats["faultsInjected"]["drop"] == 1
    assert stats["requestsByTransport"]["mqtt"] == 5
    status, regs = emu.admin("GET", "/registrations")
    assert status == 200 and [x["registrationId"] for x in regs] == ["dev-1"]
    status, body = emu.admin("DELETE", "/faults")
    assert status == 200 and body["faults"] == []
    status, body = emu.admin("PUT", "/faults", {"faults": [{"type": "explode"}]})
    assert status == 400 and "explode" in body["error"]
    status, body = emu.admin("GET", "/nothing")
    assert status == 404


def subscribed_connection(emu, reg_id="dev-1"):
    """An MQTT connection of `reg_id` past CONNACK and SUBACK, ready for requests."""
    conn = dc.MqttConnection(emu.ports["mqtt"], emu.ca_path)
    conn.send(dc.connect_packet(reg_id, f"{SCOPE}/registrations/{reg_id}/api-version=x",
                                token(reg_id)))
    assert conn.read_packet()[0] == 2
    conn.send(dc.subscribe_packet(1, "$dps/registrations/res/#"))
    assert conn.read_packet()[0] == 9
    return conn


def test_drop_after_connect_and_silent(emulator_factory):
    config = base_config(faults=[{"type": "drop", "after": "connect", "count": 1},
                                 {"type": "silent", "count": 1, "registrationId": "dev-1"}])
    emu = emulator_factory(config)
    conn = dc.MqttConnection(emu.ports["mqtt"], emu.ca_path)
    conn.send(dc.connect_packet("dev-1", f"{SCOPE}/registrations/dev-1/api-version=x",
                                token("dev-1")))
    assert conn.read_packet(timeout=5) is None  # closed without CONNACK
    conn.close()
    conn = subscribed_connection(emu)
    conn.send(dc.publish_packet("$dps/registrations/PUT/iotdps-register/?$rid=1", "{}"))
    assert conn.read_packet()[0] == 4  # PUBACK, then silence
    with pytest.raises(TimeoutError):
        conn.read_packet(timeout=1.0)
    conn.close()


def test_registration_is_fast(emu):
    # Assignment delay 0: register -> PUBACK + 200 comes back at once. With Nagle left on, the
    # response publish would wait ~40 ms for the delayed ACK of the PUBACK; best of 10 rounds on
    # one connection stays far below that.
    conn = subscribed_connection(emu)
    rounds = []
    for i in range(10):
        t0 = time.perf_counter()
        conn.send(dc.publish_packet(f"$dps/registrations/PUT/iotdps-register/?$rid={i}",
                                    '{"registrationId":"dev-1"}', packet_id=i + 2))
        assert conn.read_packet()[0] == 4
        p = conn.read_packet()
        rounds.append((time.perf_counter() - t0) * 1000)
        assert dc.parse_publish(p[1], p[2])[0].startswith("$dps/registrations/res/200/")
    conn.close()
    assert min(rounds) < 25, rounds


def test_help_on_every_subcommand(emulator_bin):
    import subprocess
    for cmd in ("serve", "ca-path", "list", "derive-key", "make-cert"):
        out = subprocess.run([emulator_bin, cmd, "--help"], capture_output=True, text=True)
        assert out.returncode == 0, (cmd, out.stderr)
        assert "Usage" in out.stdout or "usage" in out.stdout, cmd
    bad = subprocess.run([emulator_bin, "serve", "--data-dir", "/nonexistent-dir", "--bogus"], capture_output=True, text=True)
    assert bad.returncode == 2 and "--bogus" in bad.stderr


def test_bad_config_exits_with_clear_error(emulator_bin, tmp_path):
    import subprocess
    cfg = tmp_path / "c.json"
    cfg.write_text('{"idScope": "x", "enrollments": [{"registrationId": "a"}]}')
    out = subprocess.run([emulator_bin, "serve", "--data-dir", str(tmp_path / "d"), "--config",
                          str(cfg), "--mqtt-port", "0", "--https-port", "0"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode != 0
    assert "enrollments[0]: missing required key 'attestation'" in out.stderr


def _csr(tmp_path, cn):
    import subprocess
    key = tmp_path / f"{cn}.key"
    pem = tmp_path / f"{cn}.csr.pem"
    subprocess.run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(key), "-subj",
                    f"/CN={cn}", "-out", str(pem)], check=True, capture_output=True)
    der = subprocess.run(["openssl", "req", "-in", str(pem), "-outform", "DER"], check=True,
                         capture_output=True).stdout
    import base64
    return pem.read_text(), base64.b64encode(der).decode()


def _subject_of_der_b64(b64):
    import base64
    import subprocess
    out = subprocess.run(["openssl", "x509", "-inform", "DER", "-noout", "-subject", "-issuer"],
                         input=base64.b64decode(b64), capture_output=True, check=True)
    return out.stdout.decode()


def test_csr_issuance_2025_preview(emu, tmp_path):
    _, csr_b64 = _csr(tmp_path, "dev-1")
    body = json.dumps({"registrationId": "dev-1", "csr": csr_b64})
    r = dc.mqtt_register(emu.ports["mqtt"], emu.ca_path, SCOPE, "dev-1", token("dev-1"), body=body)
    state = assert_assigned(r, "dev-1", "device-one")
    chain = state["issuedCertificateChain"]
    assert len(chain) == 3
    assert "CN = dev-1" in _subject_of_der_b64(chain[0])
    # Wrong CN: a 400 with a DPS error body.
    _, other_b64 = _csr(tmp_path, "not-dev-1")
    r = dc.mqtt_register(emu.ports["mqtt"], emu.ca_path, SCOPE, "dev-1", token("dev-1"),
                         body=json.dumps({"csr": other_b64}))
    assert_error(r, 400, 400004)
    r = dc.mqtt_register(emu.ports["mqtt"], emu.ca_path, SCOPE, "dev-1", token("dev-1"),
                         body=json.dumps({"csr": "bm90IGEgY3Ny"}))
    assert_error(r, 400, 400004)


def test_csr_issuance_2021_preview_over_https(emu, tmp_path):
    pem, _ = _csr(tmp_path, "dev-1")
    status, _, _, data = dc.https_request(
        emu.ports["https"], emu.ca_path, "PUT",
        f"/{SCOPE}/registrations/dev-1/register?api-version=2021-11-01-preview",
        json.dumps({"registrationId": "dev-1", "clientCertificateCsr": pem}),
        {"Authorization": token("dev-1"), "Content-Type": "application/json"})
    assert status == 200, data
    state = json.loads(data)["registrationState"]
    assert state["issuedClientCertificate"].startswith("-----BEGIN CERTIFICATE-----")
    assert state["trustBundle"]["certificates"][0]["certificate"].startswith("-----BEGIN")


def test_https_expect_100_continue(emu):
    # curl sends "Expect: 100-continue" for larger bodies and would otherwise wait a second.
    import socket
    ctx = dc.tls_context(emu.ca_path)
    sock = ctx.wrap_socket(socket.create_connection(("127.0.0.1", emu.ports["https"]), timeout=5),
                           server_hostname="localhost")
    body = json.dumps({"registrationId": "dev-1", "payload": {"pad": "x" * 2000}}).encode()
    sock.sendall((f"PUT /{SCOPE}/registrations/dev-1/register?api-version=2021-06-01 HTTP/1.1\r\n"
                  f"Host: localhost\r\nAuthorization: {token('dev-1')}\r\n"
                  "Content-Type: application/json\r\nExpect: 100-continue\r\n"
                  f"Content-Length: {len(body)}\r\n\r\n").encode())
    interim = sock.recv(4096)
    assert interim.startswith(b"HTTP/1.1 100 Continue"), interim
    sock.sendall(body)
    response = b""
    while b'"status":"assigned"' not in response:
        chunk = sock.recv(65536)
        assert chunk, response
        response += chunk
    assert response.startswith(b"HTTP/1.1 200 OK")
    sock.close()


def test_group_and_global_faults_each_count_once(emulator_factory):
    config = base_config(faults=[{"type": "error", "status": 500, "every": 3}])
    config["enrollmentGroups"][0]["faults"] = [
        {"type": "throttle", "every": 2, "retryAfterSeconds": 4}]
    emu = emulator_factory(config)
    key = dc.derive_device_key(GROUP_KEY, "group-faulty-1")
    statuses = [dc.mqtt_register(emu.ports["mqtt"], emu.ca_path, SCOPE, "group-faulty-1",
                                 token("group-faulty-1", key)).status for _ in range(5)]
    # Request 3 hits the global every-3rd fault; the group's every-2nd counts requests 2, 4, 5.
    assert statuses == [200, 429, 500, 200, 429], statuses


def test_ports_file_and_ca_path(emu):
    assert emu.ports["pid"] == emu.proc.pid
    assert {"mqtt", "https", "admin", "pid"} == set(emu.ports)
    assert all(isinstance(emu.ports[k], int) and emu.ports[k] > 0 for k in emu.ports)
    path = emu.ca_file()
    assert os.path.isabs(path) and os.path.samefile(path, emu.ca_path)
    with open(path) as f:
        assert f.read().startswith("-----BEGIN CERTIFICATE-----")


def test_list_subcommand_table_and_json(emu):
    import subprocess
    dc.https_register(emu.ports["https"], emu.ca_path, SCOPE, "dev-1", token("dev-1"))
    records = emu.list_json()
    dev1 = [r for r in records if r["registrationId"] == "dev-1"][0]
    assert dev1["deviceId"] == "device-one" and dev1["status"] == "assigned"
    table = subprocess.run([emu.binary, "list", "--data-dir", emu.data_dir], capture_output=True,
                           text=True, check=True).stdout
    assert "dev-1" in table and "registration(s)" in table


def test_csr_common_name_is_case_insensitive(emu, tmp_path):
    # The service compares registration ids case-insensitively, the CSR's CN included.
    _, csr_b64 = _csr(tmp_path, "DEV-1")
    r = dc.mqtt_register(emu.ports["mqtt"], emu.ca_path, SCOPE, "dev-1", token("dev-1"),
                         body=json.dumps({"csr": csr_b64}))
    state = assert_assigned(r, "dev-1", "device-one")
    # Issued for the registration id.
    assert "subject=CN = dev-1\n" in _subject_of_der_b64(state["issuedCertificateChain"][0])


def _assert_failed(result, reg_id, code=400207,
                   message="Custom allocation failed with status code: 400"):
    assert result.status == 200, result
    assert result.body["status"] == "failed"
    state = result.body["registrationState"]
    assert state["registrationId"] == reg_id and state["status"] == "failed"
    assert state["errorCode"] == code and state["errorMessage"] == message
    for field in ("createdDateTimeUtc", "lastUpdatedDateTimeUtc", "etag"):
        assert state[field], field
    assert "assignedHub" not in state


def test_allocation_failed_fault_from_config(emulator_factory):
    config = base_config()
    config["enrollments"].append(
        {"registrationId": "dev-fail", "assignmentDelayMs": 200,
         "attestation": {"type": "symmetricKey", "primaryKey": KEY_1},
         "faults": [{"type": "allocationFailed", "count": 1}]})
    config["faults"] = [{"type": "allocationFailed", "registrationId": "DEV-1", "every": 2,
                         "errorCode": 400209, "errorMessage": "Hub not reachable"}]
    emu = emulator_factory(config)
    # Enrollment fault with an assignment delay: 202 assigning, then failed when polled.
    r = dc.mqtt_register(emu.ports["mqtt"], emu.ca_path, SCOPE, "dev-fail", token("dev-fail"))
    assert r.trace[0][0] == 202
    _assert_failed(r, "dev-fail")
    r = dc.https_register(emu.ports["https"], emu.ca_path, SCOPE, "dev-fail", token("dev-fail"))
    assert_assigned(r, "dev-fail")  # "count": 1 used up
    # Global fault for dev-1 only, every 2nd register, custom code and message.
    r = dc.mqtt_register(emu.ports["mqtt"], emu.ca_path, SCOPE, "dev-1", token("dev-1"))
    assert_assigned(r, "dev-1", "device-one")
    r = dc.https_register(emu.ports["https"], emu.ca_path, SCOPE, "dev-1", token("dev-1"))
    _assert_failed(r, "dev-1", 400209, "Hub not reachable")
    r = dc.mqtt_register(emu.ports["mqtt"], emu.ca_path, SCOPE, "dev-sticky", token("dev-sticky"))
    assert_assigned(r, "dev-sticky")
    log = emu.log_text()
    assert log.count("type=allocationFailed") == 2, log
    status, stats = emu.admin("GET", "/stats")
    assert stats["faultsInjected"]["allocationFailed"] == 2


def test_allocation_failed_fault_from_admin(emulator_factory):
    emu = emulator_factory(base_config())
    status, body = emu.admin("PUT", "/faults", {"faults": [
        {"type": "allocationFailed", "count": 1}]})
    assert status == 200
    assert body["faults"] == [{"type": "allocationFailed", "count": 1, "errorCode": 400207,
                               "errorMessage": "Custom allocation failed with status code: 400"}]
    key = dc.derive_device_key(GROUP_KEY, "group-dev-f")
    r = dc.mqtt_register(emu.ports["mqtt"], emu.ca_path, SCOPE, "group-dev-f",
                         token("group-dev-f", key), websocket=False)
    _assert_failed(r, "group-dev-f")
    status, regs = emu.admin("GET", "/registrations")
    # Nothing is assigned, but the failed state is kept (status lookup, list).
    assert [(reg["registrationId"], reg["status"], reg["assignedHub"]) for reg in regs] == [
        ("group-dev-f", "failed", "")]
    r = dc.mqtt_register(emu.ports["mqtt"], emu.ca_path, SCOPE, "group-dev-f",
                         token("group-dev-f", key))
    assert_assigned(r, "group-dev-f")
    for bad, word in (({"type": "allocationFailed", "errorCode": "x"}, "errorCode"),
                      ({"type": "allocationFailed", "errorMessage": 5}, "errorMessage"),
                      ({"type": "allocationFailed", "status": 500}, "status")):
        status, body = emu.admin("PUT", "/faults", {"faults": [bad]})
        assert status == 400 and word in body["error"], body


def _status_lookup(emu, reg_id, key=KEY_1):
    status, _, _, data = dc.https_request(
        emu.ports["https"], emu.ca_path, "POST",
        f"/{SCOPE}/registrations/{reg_id}?api-version=2021-06-01",
        json.dumps({"registrationId": reg_id}),
        {"Authorization": token(reg_id, key), "Content-Type": "application/json"})
    return status, json.loads(data)


def test_failed_registration_is_kept_for_the_status_lookup(emulator_factory):
    config = base_config()
    config["enrollments"].append(
        {"registrationId": "dev-fail", "assignmentDelayMs": 200,
         "attestation": {"type": "symmetricKey", "primaryKey": KEY_1},
         "faults": [{"type": "allocationFailed", "count": 1, "errorCode": 400209,
                     "errorMessage": "Hub not reachable"}]})
    emu = emulator_factory(config)
    status, body = _status_lookup(emu, "dev-fail")
    assert status == 404 and body["errorCode"] == 404202  # never registered
    r = dc.mqtt_register(emu.ports["mqtt"], emu.ca_path, SCOPE, "dev-fail", token("dev-fail"))
    _assert_failed(r, "dev-fail", 400209, "Hub not reachable")
    status, state = _status_lookup(emu, "dev-fail")
    assert status == 200, state
    failed_state = r.body["registrationState"]
    assert state == failed_state  # the same state the device was told
    status, regs = emu.admin("GET", "/registrations")
    (reg,) = [reg for reg in regs if reg["registrationId"] == "dev-fail"]
    assert reg["status"] == "failed" and reg["errorCode"] == 400209, reg
    assert emu.list_json() == regs  # `dps-emulator list` reads the same store
    # Registering again (the fault's count is used up) assigns and replaces the failed state.
    r = dc.https_register(emu.ports["https"], emu.ca_path, SCOPE, "dev-fail", token("dev-fail"))
    assigned = assert_assigned(r, "dev-fail")
    assert assigned["substatus"] == "initialAssignment"
    assert assigned["createdDateTimeUtc"] == failed_state["createdDateTimeUtc"]
    status, state = _status_lookup(emu, "dev-fail")
    assert status == 200 and state["status"] == "assigned", state
    assert "errorCode" not in state and state["assignedHub"] == assigned["assignedHub"]


def test_error_fault_retry_after_is_optional(emulator_factory):
    emu = emulator_factory(base_config(faults=[
        {"type": "error", "status": 503, "count": 2},
        {"type": "error", "status": 500, "count": 2, "retryAfterSeconds": 3}]))
    status, body = emu.admin("GET", "/faults")
    assert [fault.get("retryAfterSeconds") for fault in body["faults"]] == [None, 3], body
    for expected_status, expected_retry_after in ((503, None), (500, "3")):
        r = dc.mqtt_register(emu.ports["mqtt"], emu.ca_path, SCOPE, "dev-1", token("dev-1"))
        assert r.status == expected_status, r
        pairs = dict(r.trace[0][1])
        assert pairs.get("retry-after") == expected_retry_after, r.trace
        r = dc.https_register(emu.ports["https"], emu.ca_path, SCOPE, "dev-1", token("dev-1"))
        assert r.status == expected_status, r
        assert r.retry_after == expected_retry_after, r.trace
    r = dc.mqtt_register(emu.ports["mqtt"], emu.ca_path, SCOPE, "dev-1", token("dev-1"))
    assert_assigned(r, "dev-1", "device-one")


def test_no_puback_fault_withholds_the_puback_and_the_answer(emulator_factory):
    emu = emulator_factory(base_config(faults=[
        {"type": "noPuback", "count": 1, "registrationId": "dev-1"}]))
    conn = subscribed_connection(emu)
    try:
        conn.send(dc.publish_packet("$dps/registrations/PUT/iotdps-register/?$rid=1", "{}",
                                    qos=1, packet_id=7))
        with pytest.raises(TimeoutError):
            conn.read_packet(timeout=1.0)  # neither PUBACK nor response
        # The connection stays open; the next request (count used up) is served normally.
        conn.send(dc.publish_packet("$dps/registrations/PUT/iotdps-register/?$rid=2", "{}",
                                    qos=1, packet_id=8))
        packet = conn.read_packet()
        assert packet[0] == 4 and packet[2] == b"\x00\x08", packet
        assert conn.read_packet()[0] == 3
    finally:
        conn.close()
    assert "type=noPuback" in emu.log_text()
    status, stats = emu.admin("GET", "/stats")
    assert stats["faultsInjected"]["noPuback"] == 1
