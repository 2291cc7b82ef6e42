"""What the C API gained after the first binding: X.509 clients, group keys,
transports (websockets=True, transport="https"), proxies (a real microsocks),
certificate issuance, progress and log callbacks, retries and cancellation --
each against a real dps-emulator."""

import asyncio
import logging
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time

import pytest

import libprov
import libprov.aio
from libprov import ProvisioningDeviceClient, ProxyOptions, X509, exceptions

from conftest import DEVICE_KEY, GROUP_KEY, HUBS, ID_SCOPE, Emulator, emulator_binary

PASS_PHRASE = "py-pass-phrase"


class Credentials(object):
    """X.509 test credentials made by `dps-emulator make-cert` in a temp dir."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="prov-py-x509-")
        self.binary = emulator_binary()

    def path(self, name):
        return os.path.join(self.dir, name)

    def make(self, *arguments):
        subprocess.run([self.binary, "make-cert", *arguments], cwd=self.dir, check=True,
                       capture_output=True, timeout=60)

    def thumbprint(self, name):
        return subprocess.run([self.binary, "make-cert", "thumbprint", "--cert", self.path(name)],
                              check=True, capture_output=True, text=True,
                              timeout=60).stdout.strip()

    def remove(self):
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def credentials():
    made = Credentials()
    made.make("ca", "--cn", "py root", "--out-cert", "root.pem", "--out-key", "root.key")
    made.make("ca", "--cn", "py intermediate", "--issuer-cert", "root.pem", "--issuer-key",
              "root.key", "--out-cert", "int.pem", "--out-key", "int.key")
    made.make("device", "--cn", "py-thumb", "--out-cert", "thumb.pem", "--out-key", "thumb.key")
    made.make("device", "--cn", "py-x509-enc", "--issuer-cert", "root.pem", "--issuer-key",
              "root.key", "--pass-phrase", PASS_PHRASE, "--out-cert", "enc.pem",
              "--out-key", "enc.key")
    made.make("device", "--cn", "py-grp-int", "--issuer-cert", "int.pem", "--issuer-key",
              "int.key", "--chain", "--out-cert", "grp-int.pem", "--out-key", "grp-int.key")
    made.make("device", "--cn", "py-expired", "--issuer-cert", "root.pem", "--issuer-key",
              "root.key", "--expired", "--out-cert", "expired.pem", "--out-key", "expired.key")
    yield made
    made.remove()


@pytest.fixture(scope="module")
def emulator(credentials):
    config = {
        "idScope": ID_SCOPE,
        "iotHubs": HUBS,
        "retryAfterSeconds": 1,
        "enrollments": [
            {"registrationId": "py-thumb", "deviceId": "py-thumb-device",
             "attestation": {"type": "x509", "thumbprint": credentials.thumbprint("thumb.pem")}},
            {"registrationId": "py-x509-enc",
             "attestation": {"type": "x509",
                             "caCertificates": [credentials.path("root.pem")]}},
            {"registrationId": "py-feat",
             "attestation": {"type": "symmetricKey", "primaryKey": DEVICE_KEY}},
            {"registrationId": "py-csr",
             "attestation": {"type": "symmetricKey", "primaryKey": DEVICE_KEY}},
            {"registrationId": "py-slow",
             "attestation": {"type": "symmetricKey", "primaryKey": DEVICE_KEY},
             "assignmentDelayMs": 1500, "retryAfterSeconds": 1},
            {"registrationId": "py-silent",
             "attestation": {"type": "symmetricKey", "primaryKey": DEVICE_KEY}},
        ],
        "enrollmentGroups": [
            {"enrollmentGroupId": "py-x509-group",
             "attestation": {"type": "x509", "caCertificates": [credentials.path("root.pem")]}},
            {"enrollmentGroupId": "py-sym-group",
             "attestation": {"type": "symmetricKey", "primaryKey": GROUP_KEY}},
        ],
        "faults": [{"type": "silent", "registrationId": "py-silent"}],
    }
    instance = Emulator(config)
    yield instance
    instance.stop()


def host_for(emulator, transport="mqtt"):
    port = emulator.ports["mqtt"] if transport == "mqtt" else emulator.ports["https"]
    return "localhost:%d" % port


def common(emulator, **kwargs):
    options = {"server_verification_cert": emulator.ca_pem, "register_timeout": 20}
    options.update(kwargs)
    return options


def x509_client(emulator, credentials, registration_id, cert, key, pass_phrase=None,
                transport="mqtt", client_class=ProvisioningDeviceClient, **kwargs):
    x509 = X509(cert_file=credentials.path(cert), key_file=credentials.path(key),
                pass_phrase=pass_phrase)
    if transport == "mqtt-ws":
        kwargs["websockets"] = True
    elif transport == "https":
        kwargs["transport"] = "https"
    return client_class.create_from_x509_certificate(
        provisioning_host=host_for(emulator, transport), registration_id=registration_id,
        id_scope=ID_SCOPE, x509=x509, **common(emulator, **kwargs))


# --- X.509 ---------------------------------------------------------------

@pytest.mark.parametrize("transport", ["mqtt", "mqtt-ws", "https"])
def test_x509_thumbprint_registration_on_every_transport(emulator, credentials, transport):
    with x509_client(emulator, credentials, "py-thumb", "thumb.pem", "thumb.key",
                     transport=transport) as client:
        result = client.register()
    assert result.status == "assigned"
    state = result.registration_state
    assert state.device_id == "py-thumb-device"
    assert state.assigned_hub in HUBS
    assert state.enrollment_group_id is None
    # registrationState.x509 as a dict (dps-emulator sends an empty object
    # for individual enrollments; certificateInfo only when the service has it)
    assert isinstance(state.x509, dict)
    info = state.x509_certificate_info
    assert info is None or isinstance(info, dict)


def test_x509_from_pem_text(emulator, credentials):
    with open(credentials.path("thumb.pem")) as cert, open(credentials.path("thumb.key")) as key:
        cert_pem, key_pem = cert.read(), key.read()
    with ProvisioningDeviceClient.create_from_x509_pem(
            host_for(emulator), "py-thumb", ID_SCOPE, cert_pem, key_pem.encode("ascii"),
            **common(emulator)) as client:
        assert client.register().registration_state.device_id == "py-thumb-device"
    with pytest.raises(exceptions.CertificateError, match="key_pem"):
        ProvisioningDeviceClient.create_from_x509_pem(host_for(emulator), "py-thumb", ID_SCOPE,
                                                      cert_pem, "not a key")
    with pytest.raises(TypeError, match="sastoken_ttl"):
        ProvisioningDeviceClient.create_from_x509_pem(host_for(emulator), "py-thumb", ID_SCOPE,
                                                      cert_pem, key_pem, sastoken_ttl=60)


def test_x509_encrypted_key_with_pass_phrase(emulator, credentials):
    with x509_client(emulator, credentials, "py-x509-enc", "enc.pem", "enc.key",
                     pass_phrase=PASS_PHRASE) as client:
        assert client.register().status == "assigned"


def test_x509_group_through_an_intermediate_with_the_chain_in_the_file(emulator, credentials):
    with x509_client(emulator, credentials, "py-grp-int", "grp-int.pem", "grp-int.key") as client:
        result = client.register()
    assert result.registration_state.enrollment_group_id == "py-x509-group"
    assert result.registration_state.x509["enrollmentGroupId"] == "py-x509-group"
    assert result.registration_state.device_id == "py-grp-int"


def test_x509_credential_problems_are_certificate_errors(emulator, credentials):
    cases = [
        (("enc.pem", "enc.key", "wrong-pass"), "py-x509-enc"),
        (("enc.pem", "enc.key", None), "py-x509-enc"),
        (("thumb.pem", "enc.key", PASS_PHRASE), "py-thumb"),
        (("missing.pem", "thumb.key", None), "py-thumb"),
        (("expired.pem", "expired.key", None), "py-expired"),
        (("thumb.pem", "thumb.key", None), "not-the-cn"),
    ]
    for (cert, key, pass_phrase), registration_id in cases:
        with pytest.raises(exceptions.CertificateError) as failure:
            x509_client(emulator, credentials, registration_id, cert, key, pass_phrase)
        error = failure.value
        # Catchable as the SDK's CredentialError and as ValueError.
        assert isinstance(error, exceptions.CredentialError) and isinstance(error, ValueError)
        assert error.status == "PROV_E_CERTIFICATE"
        assert str(error), (cert, key)
        if pass_phrase:
            assert pass_phrase not in str(error)
    with pytest.raises(exceptions.CertificateError, match="missing.pem"):
        x509_client(emulator, credentials, "py-thumb", "missing.pem", "thumb.key")


def test_x509_rejects_sastoken_ttl_as_the_sdk(emulator, credentials):
    with pytest.raises(TypeError, match="sastoken_ttl"):
        x509_client(emulator, credentials, "py-thumb", "thumb.pem", "thumb.key", sastoken_ttl=60)
    with pytest.raises(TypeError, match="x509"):
        ProvisioningDeviceClient.create_from_x509_certificate(
            host_for(emulator), "py-thumb", ID_SCOPE, ("thumb.pem", "thumb.key"))


def test_async_x509_registration(emulator, credentials):
    async def scenario():
        async with x509_client(emulator, credentials, "py-thumb", "thumb.pem", "thumb.key",
                               client_class=libprov.aio.ProvisioningDeviceClient) as client:
            return await client.register()
    assert asyncio.run(scenario()).registration_state.device_id == "py-thumb-device"


# --- symmetric keys: groups, transports ------------------------------------

def symkey_client(emulator, registration_id, listener="mqtt", key=DEVICE_KEY,
                  client_class=ProvisioningDeviceClient, **kwargs):
    """listener: which emulator port to dial ("mqtt", or "https" for the
    WebSocket and HTTPS listener); the transport itself is a kwarg."""
    return client_class.create_from_symmetric_key(
        host_for(emulator, listener), registration_id, ID_SCOPE, key,
        **common(emulator, **kwargs))


def test_group_key_constructor(emulator):
    with ProvisioningDeviceClient.create_from_symmetric_key_group(
            host_for(emulator), "py-member-9", ID_SCOPE, GROUP_KEY, **common(emulator)) as client:
        result = client.register()
    assert result.registration_state.device_id == "py-member-9"
    assert result.registration_state.enrollment_group_id == "py-sym-group"
    with pytest.raises(ValueError, match="group_key"):
        ProvisioningDeviceClient.create_from_symmetric_key_group(
            host_for(emulator), "py-member-9", ID_SCOPE, "not base64!")


def test_websockets_true_registers_over_mqtt_ws(emulator):
    with symkey_client(emulator, "py-feat", listener="https", websockets=True) as client:
        result = client.register()
    assert result.status == "assigned"
    # The same client without websockets cannot reach the WebSocket port.
    with symkey_client(emulator, "py-feat", listener="https", register_timeout=3,
                       max_retries=0) as client:
        with pytest.raises((exceptions.ConnectionFailedError, exceptions.ConnectionDroppedError,
                            exceptions.OperationTimeout, exceptions.ClientError)):
            client.register()


@pytest.mark.parametrize("transport", ["https", "mqtt-ws", "mqtt"])
def test_transport_keyword(emulator, transport):
    listener = "mqtt" if transport == "mqtt" else "https"
    with symkey_client(emulator, "py-feat", listener=listener, transport=transport) as client:
        assert client.register().status == "assigned"


def test_transport_keyword_checks(emulator):
    with pytest.raises(ValueError, match="transport"):
        symkey_client(emulator, "py-feat", transport="amqp")
    with pytest.raises(ValueError, match="websockets"):
        symkey_client(emulator, "py-feat", websockets=True, transport="https")
    with pytest.raises(TypeError):
        symkey_client(emulator, "py-feat", transport=2)


def test_https_polls_an_assigning_registration(emulator):
    progress = []
    with symkey_client(emulator, "py-slow", listener="https", transport="https") as client:
        client.on_registration_progress = progress.append
        result = client.register()
    assert result.status == "assigned"
    states = [entry.state for entry in progress]
    assert states[0] == "connecting" and states[-1] == "assigned", states
    assert "assigning" in states, states
    assigning = [entry for entry in progress if entry.state == "assigning"][0]
    assert assigning.retry_after == pytest.approx(1.0)
    assert progress[-1].detail == result.registration_state.assigned_hub


# --- proxies (a real microsocks on a free loopback port) -------------------

def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ProxyProcess(object):
    """A real proxy on a free loopback port (retried if the port is taken
    meanwhile); its log tells which destinations it connected to."""

    name = None

    def __init__(self, username=None, password=None):
        binary = shutil.which(self.name)
        if binary is None:
            pytest.fail("%s is not installed (scripts/install-deps.sh installs it)" % self.name)
        self.dir = tempfile.mkdtemp(prefix="prov-py-%s-" % self.name)
        os.chmod(self.dir, 0o777)  # tinyproxy drops to another user and writes its log here
        self.log_path = os.path.join(self.dir, "proxy.log")
        for _ in range(5):
            self.port = free_port()
            self._log = open(self.log_path, "ab")
            self.process = subprocess.Popen(self.command(binary, username, password),
                                            stdout=self._log, stderr=subprocess.STDOUT)
            if self._wait_ready():
                return
            self.stop(keep_dir=True)
        pytest.fail("%s did not start; log:\n%s" % (self.name, self.log()))

    def _wait_ready(self):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return True
            except OSError:
                time.sleep(0.05)
        return False

    def log(self):
        with open(self.log_path, "rb") as log_file:
            return log_file.read().decode("utf-8", "replace")

    def stop(self, keep_dir=False):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        if not keep_dir:
            shutil.rmtree(self.dir, ignore_errors=True)


class Microsocks(ProxyProcess):
    name = "microsocks"

    def command(self, binary, username, password):
        command = [binary, "-i", "127.0.0.1", "-p", str(self.port)]
        if username:
            command += ["-u", username, "-P", password]
        return command


class Tinyproxy(ProxyProcess):
    name = "tinyproxy"

    def command(self, binary, username, password):
        config_path = os.path.join(self.dir, "tinyproxy.conf")
        with open(config_path, "w") as config:
            config.write("Port %d\nListen 127.0.0.1\nTimeout 30\nLogFile \"%s\"\n"
                         "LogLevel Connect\nMaxClients 50\nAllow 127.0.0.1\n"
                         % (self.port, self.log_path))
            if username:
                config.write("BasicAuth %s %s\n" % (username, password))
        return [binary, "-d", "-c", config_path]


@pytest.fixture
def socks_proxy():
    proxy = Microsocks(username="py-user", password="py-secret")
    yield proxy
    proxy.stop()


@pytest.mark.parametrize("transport", ["mqtt", "https"])
def test_registration_through_a_socks5_proxy(emulator, socks_proxy, transport):
    proxy = ProxyOptions("SOCKS5", "127.0.0.1", socks_proxy.port, "py-user", "py-secret")
    listener = "mqtt" if transport == "mqtt" else "https"
    with symkey_client(emulator, "py-feat", listener=listener, transport=transport,
                       proxy_options=proxy) as client:
        assert client.register().status == "assigned"
    target_port = int(host_for(emulator, transport).split(":")[1])
    # SOCKS5 as the SDK (PySocks' rdns): the proxy resolved "localhost".
    assert ("localhost:%d" % target_port) in socks_proxy.log() or \
        ("127.0.0.1:%d" % target_port) in socks_proxy.log(), socks_proxy.log()


def test_websockets_through_an_http_proxy_with_credentials(emulator):
    """The SDK's usual proxy set-up (websockets=True + an HTTP proxy). libprov
    also sends the HTTP proxy's credentials (the SDK drops them): tinyproxy
    with BasicAuth only lets the registration through with them."""
    proxy = Tinyproxy(username="py-user", password="py-secret")
    try:
        options = ProxyOptions("HTTP", "127.0.0.1", proxy.port, "py-user", "py-secret")
        with symkey_client(emulator, "py-feat", listener="https", websockets=True,
                           proxy_options=options) as client:
            assert client.register().status == "assigned"
        assert "CONNECT" in proxy.log() and str(emulator.ports["https"]) in proxy.log(), \
            proxy.log()
        without = ProxyOptions("HTTP", "127.0.0.1", proxy.port)
        with symkey_client(emulator, "py-feat", listener="https", websockets=True,
                           proxy_options=without, register_timeout=5, max_retries=0) as client:
            with pytest.raises(exceptions.ConnectionFailedError, match="(?i)proxy"):
                client.register()
    finally:
        proxy.stop()


def test_proxy_with_wrong_credentials_is_connection_failed(emulator, socks_proxy):
    proxy = ProxyOptions("SOCKS5", "127.0.0.1", socks_proxy.port, "py-user", "not-it")
    with symkey_client(emulator, "py-feat", proxy_options=proxy, register_timeout=5,
                       max_retries=0) as client:
        with pytest.raises(exceptions.ConnectionFailedError) as failure:
            client.register()
    assert "not-it" not in str(failure.value)
    assert "proxy" in str(failure.value).lower()


def test_proxy_url_keyword(emulator, socks_proxy):
    url = "socks5h://py-user:py-secret@127.0.0.1:%d" % socks_proxy.port
    with symkey_client(emulator, "py-feat", proxy_url=url) as client:
        assert client.register().status == "assigned"
    with pytest.raises(ValueError, match="proxy_options"):
        symkey_client(emulator, "py-feat", proxy_url=url,
                      proxy_options=ProxyOptions("HTTP", "127.0.0.1", 1))


# --- certificate issuance ---------------------------------------------------

def pem_blocks(text):
    marker = "-----END CERTIFICATE-----"
    return [block.strip() + "\n" + marker + "\n" for block in text.split(marker) if block.strip()]


def subject_of(der):
    return subprocess.run(["openssl", "x509", "-inform", "DER", "-noout", "-subject"],
                          input=der, check=True, capture_output=True, timeout=30).stdout.decode()


@pytest.mark.parametrize("csr_api", [None, "2021-11-01-preview"])
def test_certificate_issuance_with_a_generated_key(emulator, csr_api):
    kwargs = {"csr_key_type": "ec"}
    if csr_api:
        kwargs["csr_api"] = csr_api
    with symkey_client(emulator, "py-csr", **kwargs) as client:
        state = client.register().registration_state
    chain = state.issued_certificate_chain
    assert chain and chain.startswith("-----BEGIN CERTIFICATE-----")
    blocks = pem_blocks(chain)
    # 2025-07-01-preview: the whole chain; 2021-11-01-preview: the leaf
    assert len(blocks) == len(state.issued_certificates) >= (1 if csr_api else 2)
    # The DER bytes are the PEM blocks, leaf first, and the leaf is ours.
    assert [ssl.PEM_cert_to_DER_cert(block) for block in blocks] == state.issued_certificates
    assert "py-csr" in subject_of(state.issued_certificates[0])
    assert "PRIVATE KEY-----" in state.generated_private_key
    assert state.generated_private_key not in str(state)
    # The issued chain and the generated key form an X.509 credential that
    # libprov accepts (it checks that the key matches, the CN, the order).
    ProvisioningDeviceClient.create_from_x509_pem(
        host_for(emulator), "py-csr", ID_SCOPE, chain, state.generated_private_key,
        **common(emulator)).shutdown()
    if csr_api == "2021-11-01-preview":
        assert state.trust_bundle and "BEGIN CERTIFICATE" in state.trust_bundle


@pytest.mark.parametrize("form", ["der", "pem"])
def test_certificate_issuance_with_my_own_csr(emulator, form, tmp_path):
    key_path = tmp_path / "csr.key"
    subprocess.run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(key_path), "-subj",
                    "/CN=py-csr", "-outform", form.upper(), "-out", str(tmp_path / "csr")],
                   check=True, capture_output=True, timeout=60)
    csr = (tmp_path / "csr").read_bytes()
    if form == "pem":
        csr = csr.decode("ascii")
    with symkey_client(emulator, "py-csr", csr=csr) as client:
        state = client.register().registration_state
    assert "py-csr" in subject_of(state.issued_certificates[0])
    assert state.generated_private_key is None
    with pytest.raises(exceptions.CertificateError):
        symkey_client(emulator, "py-csr", csr=b"\x30\x03junk")
    with pytest.raises(ValueError, match="csr"):
        symkey_client(emulator, "py-csr", csr=csr, csr_key_type="rsa")


# --- progress, logging, retries, cancellation --------------------------------

def test_progress_and_log_lines_reach_python(emulator, caplog):
    progress = []
    with symkey_client(emulator, "py-feat") as client:
        client.on_registration_progress = lambda entry: progress.append(entry)
        with caplog.at_level(logging.DEBUG, logger="libprov.native"):
            result = client.register()
    states = [entry.state for entry in progress]
    assert states[0] == "connecting" and "connected" in states and states[-1] == "assigned"
    assert all(isinstance(entry.detail, str) for entry in progress)
    native_lines = [record for record in caplog.records if record.name == "libprov.native"]
    assert native_lines, "no libprov log line reached the logging module"
    assert DEVICE_KEY not in caplog.text
    assert result.status == "assigned"


def test_a_raising_progress_handler_does_not_break_the_registration(emulator, caplog):
    def broken(entry):
        raise RuntimeError("handler bug")
    with symkey_client(emulator, "py-feat") as client:
        client.on_registration_progress = broken
        with caplog.at_level(logging.ERROR):
            assert client.register().status == "assigned"
    assert "handler bug" in caplog.text


def test_retry_policy_keywords(emulator):
    with pytest.raises(ValueError, match="max_retries"):
        symkey_client(emulator, "py-feat", max_retries=-1)
    with pytest.raises(TypeError):
        symkey_client(emulator, "py-feat", max_retries="many")
    with pytest.raises(ValueError):
        symkey_client(emulator, "py-feat", initial_backoff=5, max_backoff=1)
    with symkey_client(emulator, "py-feat", max_retries=2, initial_backoff=0.1,
                       max_backoff=0.5) as client:
        assert client.register().status == "assigned"


def test_sync_cancel_from_another_thread_stops_the_registration(emulator):
    client = symkey_client(emulator, "py-silent", register_timeout=30)
    outcome = []

    def register():
        started = time.monotonic()
        try:
            client.register()
        except Exception as error:  # checked below
            outcome.append((error, time.monotonic() - started))

    worker = threading.Thread(target=register)
    worker.start()
    time.sleep(1.0)
    cancelled_at = time.monotonic()
    client.cancel()
    worker.join(10)
    assert not worker.is_alive()
    error, _ = outcome[0]
    assert isinstance(error, exceptions.OperationCancelled), error
    assert time.monotonic() - cancelled_at < 1.0
    client.cancel()  # nothing in flight: no-op
    client.shutdown()  # nothing in flight any more
    client.cancel()  # shut down: no-op


def test_asyncio_task_cancellation_stops_the_native_registration(emulator):
    async def scenario():
        client = symkey_client(emulator, "py-silent", register_timeout=30,
                               client_class=libprov.aio.ProvisioningDeviceClient)
        task = asyncio.ensure_future(client.register())
        await asyncio.sleep(1.0)
        cancelled_at = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        stopped = time.monotonic() - cancelled_at
        # The native registration really ended: the client is free at once.
        await client.shutdown()
        assert client._native_client is None
        return stopped

    assert asyncio.run(scenario()) < 1.0


def test_asyncio_wait_for_timeout_stops_the_native_registration(emulator):
    async def scenario():
        async with symkey_client(emulator, "py-silent", register_timeout=30,
                                 client_class=libprov.aio.ProvisioningDeviceClient) as client:
            started = time.monotonic()
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(client.register(), timeout=0.5)
            elapsed = time.monotonic() - started
            # ... and the same client registers again right away.
            client._native_client.set_register_timeout(2000)
            with pytest.raises(exceptions.OperationTimeout):
                await client.register()
            return elapsed

    assert asyncio.run(scenario()) < 1.5


def test_async_progress_handlers_run_on_the_loop(emulator):
    async def scenario():
        seen = []
        loop_thread = threading.get_ident()

        async def coroutine_handler(entry):
            seen.append((entry.state, threading.get_ident() == loop_thread))

        async with symkey_client(emulator, "py-feat",
                                 client_class=libprov.aio.ProvisioningDeviceClient) as client:
            client.on_registration_progress = coroutine_handler
            await client.register()
            await asyncio.sleep(0.1)  # let the scheduled handlers run
        return seen

    seen = asyncio.run(scenario())
    assert seen and all(on_loop for _, on_loop in seen)
    assert seen[-1][0] == "assigned"



def test_asyncio_cancel_before_the_native_registration_began(emulator):
    """A cancel that arrives before the executor has started the native call
    (libprov does not remember it) still stops the registration promptly."""
    async def scenario():
        client = symkey_client(emulator, "py-silent", register_timeout=30,
                               client_class=libprov.aio.ProvisioningDeviceClient)
        durations = []
        for delay in (0, 0.001, 0.01, 0.05):
            task = asyncio.ensure_future(client.register())
            await asyncio.sleep(delay)
            cancelled_at = time.monotonic()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            durations.append(time.monotonic() - cancelled_at)
        await client.shutdown()  # nothing in flight
        return durations

    durations = asyncio.run(scenario())
    assert max(durations) < 1.0, durations
