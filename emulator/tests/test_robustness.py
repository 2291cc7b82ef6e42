"""Bad input never crashes the emulator or hangs a connection: malformed, truncated and
oversized packets, unknown topics and subscriptions, slow-loris clients, 1,000 connections."""

import resource
import socket
import ssl
import struct
import time

import pytest

import dps_client as dc
from conftest import KEY_1, SCOPE, base_config

USER = f"{SCOPE}/registrations/dev-1/api-version=2019-03-31"


@pytest.fixture(scope="module")
def emu(emulator_bin):
    e = dc.EmulatorProcess(emulator_bin, base_config()).start()
    yield e
    e.cleanup()


def token():
    return dc.sas_token(SCOPE, "dev-1", KEY_1)


def still_serves(emu):
    assert emu.alive(), emu.log_text()
    r = dc.mqtt_register(emu.ports["mqtt"], emu.ca_path, SCOPE, "dev-1", token())
    assert r.status == 200 and r.body["status"] == "assigned"


def connected(emu):
    conn = dc.MqttConnection(emu.ports["mqtt"], emu.ca_path)
    conn.send(dc.connect_packet("dev-1", USER, token()))
    p = conn.read_packet()
    assert p == (2, 0, b"\x00\x00")
    return conn


def assert_closed(conn, timeout=5):
    assert conn.read_packet(timeout=timeout) is None
    conn.close()


@pytest.mark.parametrize("data", [
    b"\xff\xff\xff\xff",                         # reserved packet type 15
    b"\x30\xff\xff\xff\xff\x01",                 # 5-byte remaining length
    b"\x20\x02\x00\x00",                         # CONNACK from a client
    b"\x10\x05\x00\x04MQTX",                     # wrong protocol name
    b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",        # HTTP on the MQTT port
])
def test_garbage_before_connect_closes(emu, data):
    conn = dc.MqttConnection(emu.ports["mqtt"], emu.ca_path)
    conn.send(data)
    assert_closed(conn)
    still_serves(emu)


def test_oversized_packet_closes_before_body(emu):
    conn = connected(emu)
    header = bytes([0x30]) + bytes([0x81, 0x80, 0x06])  # remaining length 98,305 > 96 KB
    conn.send(header + b"x" * 100)
    assert_closed(conn)
    still_serves(emu)


def test_packet_at_limit_is_accepted(emu):
    conn = connected(emu)
    conn.send(dc.subscribe_packet(1, "$dps/registrations/res/#"))
    assert conn.read_packet()[0] == 9
    body = '{"registrationId":"dev-1","payload":{"pad":"' + "x" * (90 * 1024) + '"}}'
    conn.send(dc.publish_packet("$dps/registrations/PUT/iotdps-register/?$rid=1", body))
    assert conn.read_packet()[0] == 4
    p = conn.read_packet()
    topic, _ = dc.parse_publish(p[1], p[2])
    assert topic.startswith("$dps/registrations/res/200/")
    conn.close()


def test_truncated_packet_then_hangup(emu):
    conn = dc.MqttConnection(emu.ports["mqtt"], emu.ca_path)
    packet = dc.connect_packet("dev-1", USER, token())
    conn.send(packet[: len(packet) // 2])
    conn.close()
    still_serves(emu)


def test_unknown_publish_topic_disconnects(emu):
    conn = connected(emu)
    conn.send(dc.publish_packet("devices/dev-1/messages/events/", "{}"))
    assert_closed(conn)


def test_request_topic_without_rid_disconnects(emu):
    conn = connected(emu)
    conn.send(dc.publish_packet("$dps/registrations/PUT/iotdps-register/?x=1", "{}"))
    assert_closed(conn)


def test_unknown_subscription_disconnects(emu):
    conn = connected(emu)
    conn.send(dc.subscribe_packet(1, "#"))
    assert_closed(conn)


def test_qos2_subscription_granted_qos1(emu):
    conn = connected(emu)
    conn.send(dc.subscribe_packet(4, "$dps/registrations/res/#", qos=2))
    assert conn.read_packet() == (9, 0, b"\x00\x04\x01")
    conn.close()


def test_stray_pubacks_and_ping_are_tolerated(emu):
    conn = connected(emu)
    conn.send(b"\x40\x02\x00\x00" + b"\x40\x02\x12\x34" + b"\xc0\x00")
    assert conn.read_packet() == (13, 0, b"")
    conn.close()


def test_publish_before_connect_disconnects(emu):
    conn = dc.MqttConnection(emu.ports["mqtt"], emu.ca_path)
    conn.send(dc.publish_packet("$dps/registrations/PUT/iotdps-register/?$rid=1", "{}"))
    assert_closed(conn)


def test_second_connect_disconnects(emu):
    conn = connected(emu)
    conn.send(dc.connect_packet("dev-1", USER, token()))
    assert_closed(conn)


def test_connack_refusals(emu):
    conn = dc.MqttConnection(emu.ports["mqtt"], emu.ca_path)
    conn.send(dc.connect_packet("dev-1", USER, token(), level=3))
    assert conn.read_packet() == (2, 0, b"\x00\x01")
    assert_closed(conn)
    conn = dc.MqttConnection(emu.ports["mqtt"], emu.ca_path)
    conn.send(dc.connect_packet("dev-1", "not-a-dps-username", token()))
    assert conn.read_packet() == (2, 0, b"\x00\x04")
    assert_closed(conn)
    conn = dc.MqttConnection(emu.ports["mqtt"], emu.ca_path)
    conn.send(dc.connect_packet("someone-else", USER, token()))
    assert conn.read_packet() == (2, 0, b"\x00\x02")
    assert_closed(conn)


def test_slow_loris_mqtt_closed_after_timeout(emu):
    conn = dc.MqttConnection(emu.ports["mqtt"], emu.ca_path)
    t0 = time.monotonic()
    conn.send(b"\x10")  # one byte of a CONNECT, then nothing
    assert conn.read_packet(timeout=30) is None
    elapsed = time.monotonic() - t0
    assert 8 <= elapsed <= 15, elapsed
    conn.close()


def test_no_tls_handshake_closed_after_timeout(emu):
    raw = socket.create_connection(("127.0.0.1", emu.ports["https"]), timeout=30)
    t0 = time.monotonic()
    assert raw.recv(10) == b""
    elapsed = time.monotonic() - t0
    assert 8 <= elapsed <= 15, elapsed
    raw.close()


def test_https_oversized_body_rejected(emu):
    # The limit is judged from Content-Length, before the body is read.
    ctx = dc.tls_context(emu.ca_path)
    sock = ctx.wrap_socket(socket.create_connection(("127.0.0.1", emu.ports["https"]), timeout=10),
                           server_hostname="localhost")
    sock.sendall((f"PUT /{SCOPE}/registrations/dev-1/register?api-version=2021-06-01 HTTP/1.1\r\n"
                  "Host: localhost\r\nContent-Type: application/json\r\n"
                  f"Content-Length: {200 * 1024}\r\n\r\n").encode())
    response = b""
    while b"\r\n\r\n" not in response:
        chunk = sock.recv(4096)
        if not chunk:
            break
        response += chunk
    sock.close()
    assert response.startswith(b"HTTP/1.1 413"), response[:200]
    still_serves(emu)


def test_https_bad_json_is_400(emu):
    status, _, _, data = dc.https_request(
        emu.ports["https"], emu.ca_path, "PUT",
        f"/{SCOPE}/registrations/dev-1/register?api-version=2021-06-01", "{not json",
        {"Authorization": token(), "Content-Type": "application/json"})
    assert status == 400
    import json
    assert json.loads(data)["errorCode"] == 400004


def test_deeply_nested_json_is_400_not_a_crash(emu):
    body = '{"payload":' + "[" * 20000 + "]" * 20000 + "}"
    status, _, _, data = dc.https_request(
        emu.ports["https"], emu.ca_path, "PUT",
        f"/{SCOPE}/registrations/dev-1/register?api-version=2021-06-01", body,
        {"Authorization": token(), "Content-Type": "application/json"})
    assert status == 400
    still_serves(emu)


def test_thousand_connections(emu):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
    ctx = dc.tls_context(emu.ca_path)
    conns = []
    try:
        for _ in range(1000):
            raw = socket.create_connection(("127.0.0.1", emu.ports["mqtt"]), timeout=30)
            conns.append(ctx.wrap_socket(raw, server_hostname="localhost"))
        packet = dc.connect_packet("dev-1", USER, token())
        for c in conns:
            c.sendall(packet)
        for c in conns:
            assert c.recv(4) == b"\x20\x02\x00\x00"
        still_serves(emu)
    finally:
        for c in conns:
            c.close()
    _, stats = emu.admin("GET", "/stats")
    assert stats["connections"]["mqtt"] >= 1000
