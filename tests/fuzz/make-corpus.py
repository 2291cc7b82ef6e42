#!/usr/bin/env python3
"""Writes the seed corpora in corpus/<target>/ (valid messages and edge cases).

The committed files are the output of this script; run it again after
changing it. Crash reproducers found by fuzzing are committed next to them
under names starting with "crash-" and are never deleted by this script.
"""
import base64
import hashlib
import pathlib
import struct

HERE = pathlib.Path(__file__).resolve().parent


def varint(n):
    out = bytearray()
    while True:
        digit = n % 128
        n //= 128
        if n:
            digit |= 0x80
        out.append(digit)
        if not n:
            return bytes(out)


def packet(first, body):
    return bytes([first]) + varint(len(body)) + body


def s(text):
    data = text.encode() if isinstance(text, str) else text
    return struct.pack(">H", len(data)) + data


def publish(topic, payload, qos=0, pid=0, dup=False, retain=False):
    flags = (qos << 1) | (8 if dup else 0) | (1 if retain else 0)
    body = s(topic) + (struct.pack(">H", pid) if qos else b"") + payload
    return packet(0x30 | flags, body)


DPS_202 = (b'{"operationId":"4.d0a6cd9e8c0e8b6f.5c5c0c8a-1d3e-4f7a-9b8e-2f1e3d4c5b6a",'
           b'"status":"assigning"}')
DPS_200 = (b'{"operationId":"4.d0a6cd9e8c0e8b6f.5c5c0c8a","status":"assigned",'
           b'"registrationState":{"registrationId":"dev-1","createdDateTimeUtc":'
           b'"2026-11-26T06:45:00.000Z","assignedHub":"hub-1.example.net","deviceId":"dev-1",'
           b'"status":"assigned","substatus":"initialAssignment","lastUpdatedDateTimeUtc":'
           b'"2026-11-26T06:45:01.000Z","etag":"IjAwMDAwMDAwLTAwMDAtMDAwMC0wMDAwLTAwMDAwMDAwMDAwMCI="}}')
DPS_401 = (b'{"errorCode":401002,"trackingId":"8e1a3b5c-0000-4000-8000-000000000000",'
           b'"message":"The request is unauthorized.","timestampUtc":"2026-11-26T06:45:00Z"}')

MQTT = {
    "connack_accepted": packet(0x20, b"\x00\x00"),
    "connack_session_present": packet(0x20, b"\x01\x00"),
    "connack_not_authorized": packet(0x20, b"\x00\x05"),
    "suback_qos1": packet(0x90, b"\x00\x01\x01"),
    "suback_mixed": packet(0x90, b"\x12\x34\x00\x01\x02\x80"),
    "publish_qos0": publish("a/b", b"hi"),
    "publish_qos1_dup_retain": publish("x/y", b"", qos=1, pid=0x0A0B, dup=True, retain=True),
    "publish_dps_202": publish("$dps/registrations/res/202/?$rid=1&retry-after=3", DPS_202, 1, 1),
    "publish_dps_200": publish("$dps/registrations/res/200/?$rid=2", DPS_200, 1, 2),
    "publish_dps_401": publish("$dps/registrations/res/401/?$rid=1", DPS_401, 0),
    "publish_utf8_topic": publish("caf\u00e9/\U0001F600", b"\x00\xff"),
    "publish_two_byte_length": publish("t", b"p" * 2000),
    "puback": packet(0x40, b"\x00\x07"),
    "unsuback": packet(0xB0, b"\xff\xfe"),
    "pingresp": packet(0xD0, b""),
    "session_stream": packet(0x20, b"\x00\x00") + packet(0x90, b"\x00\x01\x01")
    + publish("$dps/registrations/res/202/?$rid=1&retry-after=1", DPS_202, 1, 5)
    + packet(0xD0, b"") + publish("$dps/registrations/res/200/?$rid=2", DPS_200, 1, 6)
    + packet(0x40, b"\x00\x02"),
    "truncated_publish": publish("a/b", b"hello")[:-2],
    "max_remaining_length_header": b"\x30\xff\xff\xff\x7f\x00\x01t",
    "bad_remaining_length_5_bytes": b"\x30\xff\xff\xff\xff\x7f",
    "bad_connack_flags": b"\x21\x02\x00\x00",
    "bad_connack_ack_bits": b"\x20\x02\x02\x00",
    "bad_connack_length": b"\x20\x03\x00\x00\x00",
    "bad_connack_code": b"\x20\x02\x00\x06",
    "bad_qos3": b"\x36\x05\x00\x01t\x00\x01",
    "bad_qos2": b"\x34\x05\x00\x01t\x00\x01",
    "bad_dup_qos0": b"\x38\x03\x00\x01t",
    "bad_topic_past_end": b"\x30\x05\x00\x09abc",
    "bad_empty_topic": b"\x30\x02\x00\x00",
    "bad_wildcard_topic": b"\x30\x04\x00\x02a#",
    "bad_utf8_topic": b"\x30\x04\x00\x02\xc3\x28",
    "bad_packet_id_zero": b"\x32\x05\x00\x01t\x00\x00",
    "bad_suback_code": b"\x90\x03\x00\x01\x03",
    "bad_connect_from_server": b"\x10\x00",
    "bad_type_15": b"\xf0\x00",
    "bad_pingresp_length": b"\xd0\x01\x00",
}


def frame(opcode, payload, fin=True, rsv=0, mask=None, length_form=None):
    first = (0x80 if fin else 0) | rsv | opcode
    n = len(payload)
    form = length_form or (7 if n < 126 else 16 if n <= 0xFFFF else 64)
    mask_bit = 0x80 if mask else 0
    if form == 7:
        header = bytes([first, mask_bit | n])
    elif form == 16:
        header = bytes([first, mask_bit | 126]) + struct.pack(">H", n)
    else:
        header = bytes([first, mask_bit | 127]) + struct.pack(">Q", n)
    if mask:
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        header += mask
    return header + payload


CONNACK = packet(0x20, b"\x00\x00")
WS = {
    "binary_hello": frame(2, b"Hello"),
    "binary_empty": frame(2, b""),
    "binary_connack_suback": frame(2, CONNACK + packet(0x90, b"\x00\x01\x01")),
    "binary_16bit_length": frame(2, bytes(range(256)) * 2),
    "binary_64bit_length": frame(2, b"m" * 65536),
    "fragmented_with_ping": frame(2, b"Hel", fin=False) + frame(9, b"p") + frame(0, b"", fin=False)
    + frame(0, b"lo") + frame(2, b"!"),
    "ping_hello": frame(9, b"Hello"),
    "pong_empty": frame(10, b""),
    "close_normal_bye": frame(8, b"\x03\xe8bye"),
    "close_empty": frame(8, b""),
    "mqtt_stream_then_close": frame(2, CONNACK) + frame(2, publish("r", b"{}", 1, 1))
    + frame(8, b"\x03\xe8"),
    "bad_masked": frame(2, b"x", mask=b"\x01\x02\x03\x04"),
    "bad_text": frame(1, b"hi"),
    "bad_rsv1": frame(2, b"", rsv=0x40),
    "bad_opcode_3": frame(3, b""),
    "bad_opcode_11": frame(11, b""),
    "bad_control_too_long": frame(9, b"p" * 126),
    "bad_fragmented_ping": frame(9, b"", fin=False),
    "bad_orphan_continuation": frame(0, b"x"),
    "bad_new_message_while_open": frame(2, b"a", fin=False) + frame(2, b"b"),
    "bad_non_minimal_16": frame(2, b"x" * 125, length_form=16),
    "bad_non_minimal_64": frame(2, b"x" * 200, length_form=64),
    "bad_64bit_msb": b"\x82\x7f\x80\x00\x00\x00\x00\x00\x00\x00",
    "bad_oversized": b"\x82\x7f\x00\x00\x01\x00\x00\x00\x00\x00",
    "bad_close_1_byte": frame(8, b"\x03"),
    "bad_close_code_1005": frame(8, b"\x03\xed"),
    "bad_close_reason_utf8": frame(8, b"\x03\xe8\xff"),
    "bad_frame_after_close": frame(8, b"") + frame(2, b"x"),
}

KEY = "dGhlIHNhbXBsZSBub25jZQ=="
ACCEPT = base64.b64encode(hashlib.sha1((KEY + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")
                                       .encode()).digest()).decode()
GOOD = ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Accept: {ACCEPT}\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n")
HANDSHAKE = {
    "good": GOOD,
    "good_then_frame": GOOD + "\x82\x04\x20\x02\x00\x00",
    "good_case_variants": ("HTTP/1.1 101 Web Socket Protocol Handshake\r\nserver: x\r\n"
                           "UPGRADE: WebSocket\r\nconnection: keep-alive, Upgrade\r\n"
                           f"sec-websocket-accept:  {ACCEPT} \r\nSec-WebSocket-Protocol: MQTT\r\n\r\n"),
    "refused_403": "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n",
    "proxy_http10_502": "HTTP/1.0 502 Bad Gateway\r\n\r\n",
    "wrong_accept": GOOD.replace(ACCEPT, "HSmrc0sMlYUkAGmm5OPpG2HaGWk="),
    "no_accept": GOOD.replace(f"Sec-WebSocket-Accept: {ACCEPT}\r\n", ""),
    "no_protocol": GOOD.replace("Sec-WebSocket-Protocol: mqtt\r\n", ""),
    "other_protocol": GOOD.replace(": mqtt", ": mqttv5"),
    "extension": GOOD[:-2] + "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
    "connection_close": GOOD.replace("Connection: Upgrade", "Connection: close"),
    "folded_header": "HTTP/1.1 101 OK\r\nUpgrade: websocket\r\n folded\r\n\r\n",
    "no_colon": "HTTP/1.1 101 OK\r\nno colon here\r\n\r\n",
    "bad_status": "HTTP/1.1 1x1 Nope\r\n\r\n",
    "unterminated": GOOD[:-4],
    "not_http": "SSH-2.0-OpenSSH_9.2\r\n\r\n",
    "control_bytes": "HTTP/1.1 500 \x1b[31mred\x1b[0m\r\n\r\n",
}

R = "$dps/registrations/res/"
DPS = {
    "assigning_202": f"{R}202/?$rid=1&retry-after=3\n".encode() + DPS_202,
    "assigned_200": f"{R}200/?$rid=2\n".encode() + DPS_200,
    "unauthorized_401": f"{R}401/?$rid=1\n".encode() + DPS_401,
    "throttled_429": (f"{R}429/?$rid=3&Retry-After=5\n".encode()
                      + b'{"errorCode":429001,"trackingId":"t","message":"Operations are being throttled."}'),
    "server_error_500": f"{R}500/?$rid=4\n".encode() + b'{"errorCode":500000,"message":"Internal"}',
    "topic_only": f"{R}200/?$rid=9".encode(),
    "not_a_response_topic": b"$dps/other/topic\n{}",
    "no_rid": f"{R}200/?retry-after=1\n{{}}".encode(),
    "duplicate_rid": f"{R}200/?$rid=1&$rid=2\n{{}}".encode(),
    "status_out_of_range": f"{R}999/?$rid=1\n{{}}".encode(),
    "status_not_number": f"{R}2x0/?$rid=1\n{{}}".encode(),
    "retry_after_garbage": f"{R}202/?$rid=1&retry-after=-1e9\n{{}}".encode(),
    "no_query": f"{R}200/\n{{}}".encode(),
    "body_not_json": f"{R}200/?$rid=1\n".encode() + b"<html>502 Bad Gateway</html>",
    "body_array": f"{R}200/?$rid=1\n".encode() + b'[1,2,3]',
    "body_trailing_text": f"{R}200/?$rid=1\n".encode() + b'{"status":"assigned"} extra',
    "body_wrong_types": f"{R}200/?$rid=1\n".encode()
    + b'{"operationId":5,"status":null,"errorCode":"401002","registrationState":[]}',
    "body_huge_numbers": f"{R}400/?$rid=1\n".encode() + b'{"errorCode":1e400,"trackingId":-0}',
    "body_unicode_escapes": f"{R}200/?$rid=1\n".encode()
    + b'{"status":"assigned","registrationState":{"deviceId":"d\\u00e9v\\ud83d\\ude00","payload":{"a":[{}]}}}',
    "body_deep_nesting": f"{R}200/?$rid=1\n".encode() + b"[" * 2000 + b"]" * 2000,
    "body_empty": f"{R}200/?$rid=1\n".encode(),
}


def write(target, cases):
    directory = HERE / "corpus" / target
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.iterdir():
        if not old.name.startswith("crash-"):
            old.unlink()
    for name, data in cases.items():
        (directory / name).write_bytes(data.encode("latin-1") if isinstance(data, str) else data)
    print(f"{target}: {len(cases)} files")


write("mqtt_decoder", MQTT)
write("ws_frames", WS)
write("ws_handshake", HANDSHAKE)
write("dps_response", DPS)
