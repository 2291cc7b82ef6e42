"""A minimal, independent DPS device client for the emulator's tests (Python stdlib only).

Speaks MQTT 3.1.1 over TLS or over WebSocket+TLS, and the HTTPS REST API, with its own framing,
SAS tokens and JSON, so that it shares nothing with the emulator or the library. Also starts and
stops the emulator process (EmulatorProcess).
"""

import base64
import hashlib
import hmac
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import tempfile
import time
import urllib.parse
import uuid


# ---------------------------------------------------------------------------------------------
# Emulator process
# ---------------------------------------------------------------------------------------------
class EmulatorProcess:
    """Runs `dps-emulator serve` on free loopback ports with its own data dir."""

    def __init__(self, binary, config=None, data_dir=None, extra_args=()):
        self.binary = binary
        self.tmp = tempfile.mkdtemp(prefix="dpsemu-test-")
        self.data_dir = data_dir or os.path.join(self.tmp, "data")
        self.config_path = None
        if config is not None:
            self.config_path = os.path.join(self.tmp, "config.json")
            with open(self.config_path, "w") as f:
                f.write(config if isinstance(config, str) else json.dumps(config))
        self.ports_file = os.path.join(self.tmp, "ports.json")
        self.log_path = os.path.join(self.tmp, "emulator.log")
        self.extra_args = list(extra_args)
        self.proc = None
        self.ports = None

    def start(self, timeout=30):
        if os.path.exists(self.ports_file):
            os.remove(self.ports_file)
        args = [self.binary, "serve", "--data-dir", self.data_dir, "--mqtt-port", "0",
                "--https-port", "0", "--admin-port", "0", "--ports-file", self.ports_file]
        if self.config_path:
            args += ["--config", self.config_path]
        args += self.extra_args
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if os.path.exists(self.ports_file):
                with open(self.ports_file) as f:
                    self.ports = json.load(f)
                return self
            if self.proc.poll() is not None:
                raise RuntimeError("emulator exited early:\n" + self.log_text())
            time.sleep(0.02)
        raise RuntimeError("emulator did not write its ports file:\n" + self.log_text())

    def log_text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    @property
    def ca_path(self):
        return os.path.join(self.data_dir, "pki", "root-ca.pem")

    def ca_file(self):
        out = subprocess.run([self.binary, "ca-path", "--data-dir", self.data_dir],
                             capture_output=True, text=True, check=True)
        return out.stdout.strip()

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if self.proc is None:
            return None
        self.proc.send_signal(sig)
        rc = self.proc.wait(timeout=timeout)
        self.proc = None
        self.log.close()
        return rc

    def kill9(self):
        return self.stop(signal.SIGKILL)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def cleanup(self):
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None
        shutil.rmtree(self.tmp, ignore_errors=True)

    def admin(self, method, path, body=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.ports["admin"], timeout=10)
        conn.request(method, path, body=None if body is None else json.dumps(body))
        res = conn.getresponse()
        data = res.read()
        conn.close()
        return res.status, json.loads(data) if data else None

    def list_json(self):
        out = subprocess.run([self.binary, "list", "--data-dir", self.data_dir, "--json"],
                             capture_output=True, text=True, check=True)
        return json.loads(out.stdout)


# ---------------------------------------------------------------------------------------------
# SAS
# ---------------------------------------------------------------------------------------------
def derive_device_key(group_key_b64, registration_id):
    mac = hmac.new(base64.b64decode(group_key_b64), registration_id.encode(), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


def encode_sr(resource, style):
    if style == "raw":
        return resource
    quoted = urllib.parse.quote(resource, safe="")
    if style == "upper":
        return quoted
    if style == "lower":
        return quoted.replace("%2F", "%2f")
    if style == "mixed":  # embedded C SDK: literal lower-case %2f, upper-case escapes elsewhere
        return "%2f".join(urllib.parse.quote(p, safe="") for p in resource.split("/"))
    raise ValueError(style)


def sas_token(id_scope, registration_id, key_b64, ttl=3600, sr_style="upper", skn=True,
              expiry=None):
    resource = f"{id_scope}/registrations/{registration_id}"
    sr = encode_sr(resource, sr_style)
    se = str(expiry if expiry is not None else int(time.time()) + ttl)
    sig = base64.b64encode(hmac.new(base64.b64decode(key_b64), f"{sr}\n{se}".encode(),
                                    hashlib.sha256).digest()).decode()
    token = f"SharedAccessSignature sr={sr}&sig={urllib.parse.quote(sig, safe='')}&se={se}"
    if skn:
        token += "&skn=registration"
    return token


# ---------------------------------------------------------------------------------------------
# MQTT 3.1.1 framing (client side)
# ---------------------------------------------------------------------------------------------
def _remaining_length(n):
    out = bytearray()
    while True:
        b = n % 128
        n //= 128
        if n:
            b |= 0x80
        out.append(b)
        if not n:
            return bytes(out)


def _str(s):
    b = s if isinstance(s, bytes) else s.encode()
    return struct.pack("!H", len(b)) + b


def packet(type_flags, body):
    return bytes([type_flags]) + _remaining_length(len(body)) + body


def connect_packet(client_id, username=None, password=None, keep_alive=60, level=4):
    flags = 0x02
    payload = _str(client_id)
    if username is not None:
        flags |= 0x80
        payload += _str(username)
    if password is not None:
        flags |= 0x40
        payload += _str(password)
    var = _str("MQTT") + bytes([level, flags]) + struct.pack("!H", keep_alive)
    return packet(0x10, var + payload)


def subscribe_packet(packet_id, topic_filter, qos=1):
    return packet(0x82, struct.pack("!H", packet_id) + _str(topic_filter) + bytes([qos]))


def publish_packet(topic, payload, qos=1, packet_id=1):
    body = _str(topic)
    if qos:
        body += struct.pack("!H", packet_id)
    return packet(0x30 | (qos << 1), body + (payload.encode() if isinstance(payload, str) else payload))


class _WebSocket:
    """RFC 6455 client framing over a TLS socket (binary frames, masked)."""

    def __init__(self, sock, host, path="/$iothub/websocket", subprotocol="mqtt"):
        self.sock = sock
        key = base64.b64encode(os.urandom(16)).decode()
        req = (f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
               f"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: {subprotocol}\r\n\r\n")
        sock.sendall(req.encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(4096)
            if not chunk:
                raise ConnectionError("websocket upgrade: connection closed")
            head += chunk
        head, self.pending = head.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        self.status_line = lines[0]
        self.headers = {k.strip().lower(): v.strip() for k, v in
                        (l.split(":", 1) for l in lines[1:] if ":" in l)}
        if " 101 " not in lines[0] + " ":
            raise ConnectionError("websocket upgrade refused: " + lines[0])
        accept = base64.b64encode(hashlib.sha1(
            (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
        if self.headers.get("sec-websocket-accept") != accept:
            raise ConnectionError("bad Sec-WebSocket-Accept")
        self.buffer = b""

    def sendall(self, data):
        mask = os.urandom(4)
        n = len(data)
        if n < 126:
            header = bytes([0x82, 0x80 | n])
        elif n < 65536:
            header = bytes([0x82, 0x80 | 126]) + struct.pack("!H", n)
        else:
            header = bytes([0x82, 0x80 | 127]) + struct.pack("!Q", n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        self.sock.sendall(header + mask + masked)

    def _read(self, n):
        while len(self.pending) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.pending += chunk
        out, self.pending = self.pending[:n], self.pending[n:]
        return out

    def recv(self, _n):
        while True:
            b0, b1 = self._read(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._read(8))[0]
            data = self._read(n)
            opcode = b0 & 0x0F
            if opcode == 0x8:
                return b""
            if opcode in (0x0, 0x1, 0x2):
                return data

    def settimeout(self, t):
        self.sock.settimeout(t)

    def close(self):
        self.sock.close()


def tls_context(ca_file, cert=None, key=None, tls12_only=False):
    ctx = ssl.create_default_context(cafile=ca_file)
    if tls12_only:
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    if cert:
        ctx.load_cert_chain(cert, key)
    return ctx


class MqttConnection:
    def __init__(self, port, ca_file, websocket=False, cert=None, key=None, host="localhost",
                 ws_subprotocol="mqtt", ws_path="/$iothub/websocket", tls12_only=False,
                 timeout=10):
        raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        ctx = tls_context(ca_file, cert, key, tls12_only)
        self.sock = ctx.wrap_socket(raw, server_hostname=host)
        self.tls_version = self.sock.version()
        if websocket:
            self.sock = _WebSocket(self.sock, host, ws_path, ws_subprotocol)
        self.buffer = b""

    def send(self, data):
        self.sock.sendall(data)

    def read_packet(self, timeout=10):
        """Returns (type, flags, body), None when the server closed the connection; raises
        TimeoutError when nothing arrived within `timeout` seconds."""
        self.sock.settimeout(timeout)
        while True:
            if len(self.buffer) >= 2:
                mult, length, i = 1, 0, 1
                while i < len(self.buffer):
                    b = self.buffer[i]
                    length += (b & 0x7F) * mult
                    mult *= 128
                    i += 1
                    if not b & 0x80:
                        break
                else:
                    i = None
                if i is not None and len(self.buffer) >= i + length and not (self.buffer[i - 1] & 0x80):
                    t = self.buffer[0]
                    body = self.buffer[i:i + length]
                    self.buffer = self.buffer[i + length:]
                    return t >> 4, t & 0x0F, body
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                raise  # nothing arrived in time (the connection is still open)
            except (ConnectionError, ssl.SSLError, OSError):
                return None
            if not chunk:
                return None
            self.buffer += chunk

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def parse_publish(flags, body):
    n = struct.unpack("!H", body[:2])[0]
    topic = body[2:2 + n].decode()
    rest = body[2 + n:]
    if (flags >> 1) & 3:
        rest = rest[2:]
    return topic, rest


def parse_response_topic(topic):
    # $dps/registrations/res/{status}/?$rid={rid}[&retry-after=N]
    prefix = "$dps/registrations/res/"
    assert topic.startswith(prefix), topic
    status, query = topic[len(prefix):].split("/?", 1)
    pairs = [p.split("=", 1) for p in query.split("&")]
    return int(status), pairs


class DpsResult:
    def __init__(self, status, body, trace, retry_after=None):
        self.status = status          # HTTP-like status of the final response
        self.body = body              # parsed JSON (or raw bytes when not JSON)
        self.trace = trace            # list of (status, query pairs / headers)
        self.retry_after = retry_after

    def __repr__(self):
        return f"DpsResult({self.status}, {self.body})"


def mqtt_register(port, ca_file, id_scope, registration_id, password=None, payload=None,
                  websocket=False, cert=None, key=None, rid="1", body=None, max_polls=20,
                  ws_subprotocol="mqtt", ws_path="/$iothub/websocket", tls12_only=False):
    """Runs the DPS MQTT exchange; polls while 202. Returns DpsResult."""
    conn = MqttConnection(port, ca_file, websocket, cert, key, ws_subprotocol=ws_subprotocol,
                          ws_path=ws_path, tls12_only=tls12_only)
    trace = []
    try:
        user = (f"{id_scope}/registrations/{registration_id}/api-version=2019-03-31"
                f"&ClientVersion=dps-client-test%2F1.0")
        conn.send(connect_packet(registration_id, user, password))
        p = conn.read_packet()
        assert p is not None, "no CONNACK"
        assert p[0] == 2 and p[2] == b"\x00\x00", f"CONNACK {p}"
        conn.send(subscribe_packet(1, "$dps/registrations/res/#"))
        p = conn.read_packet()
        assert p and p[0] == 9 and p[2] == b"\x00\x01\x01", f"SUBACK {p}"
        if body is None:
            body = json.dumps({"registrationId": registration_id, "payload": payload})
        conn.send(publish_packet(f"$dps/registrations/PUT/iotdps-register/?$rid={rid}", body,
                                 qos=1, packet_id=2))
        p = conn.read_packet()
        if p is None:
            return DpsResult(None, None, trace + ["closed"])
        assert p[0] == 4 and p[2] == b"\x00\x02", f"expected PUBACK first, got {p}"
        packet_id = 3
        for _ in range(max_polls):
            p = conn.read_packet(timeout=15)
            if p is None:
                return DpsResult(None, None, trace + ["closed"])
            assert p[0] == 3, f"expected PUBLISH, got {p}"
            topic, data = parse_publish(p[1], p[2])
            status, pairs = parse_response_topic(topic)
            trace.append((status, pairs))
            assert pairs[0][0] == "$rid", topic
            try:
                parsed = json.loads(data)
            except ValueError:
                return DpsResult(status, data, trace)
            retry = dict(pairs).get("retry-after")
            if status != 202:
                return DpsResult(status, parsed, trace, retry)
            time.sleep(min(int(retry or 1), 2) * 0.05)
            op = parsed["operationId"]
            conn.send(publish_packet(
                f"$dps/registrations/GET/iotdps-get-operationstatus/?$rid={rid}&operationId={op}",
                " ", qos=1, packet_id=packet_id))
            p = conn.read_packet()
            assert p and p[0] == 4, f"expected PUBACK, got {p}"
            packet_id += 1
        raise AssertionError("too many polls")
    finally:
        conn.close()


def https_request(port, ca_file, method, path, body=None, headers=None, cert=None, key=None):
    ctx = tls_context(ca_file, cert, key)
    conn = http.client.HTTPSConnection("localhost", port, context=ctx, timeout=10)
    # Loopback only: resolve localhost to 127.0.0.1 explicitly.
    conn.sock = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10),
                                server_hostname="localhost")
    conn.request(method, path, body=body, headers=headers or {})
    res = conn.getresponse()
    data = res.read()
    conn.close()
    return res.status, dict((k.lower(), v) for k, v in res.getheaders()), res.getheaders(), data


def https_register(port, ca_file, id_scope, registration_id, token=None, payload=None,
                   cert=None, key=None, max_polls=20):
    headers = {"Content-Type": "application/json; charset=utf-8", "Accept": "application/json",
               "UserAgent": "dps-client-test/1.0"}
    if token:
        headers["Authorization"] = token
    base = f"/{id_scope}/registrations/{urllib.parse.quote(registration_id, safe='')}"
    body = json.dumps({"registrationId": registration_id, "payload": payload})
    status, hdrs, raw, data = https_request(port, ca_file, "PUT",
                                            base + "/register?api-version=2021-06-01", body,
                                            headers, cert, key)
    trace = [(status, raw)]
    for _ in range(max_polls):
        parsed = json.loads(data)
        if status != 202:
            return DpsResult(status, parsed, trace, hdrs.get("retry-after"))
        time.sleep(0.05)
        status, hdrs, raw, data = https_request(
            port, ca_file, "GET",
            f"{base}/operations/{parsed['operationId']}?api-version=2021-06-01", "{}", headers,
            cert, key)
        trace.append((status, raw))
    raise AssertionError("too many polls")
