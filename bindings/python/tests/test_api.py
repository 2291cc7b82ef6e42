"""The Python SDK's surface without a service: names, kwargs, checks, models,
exceptions and the key helpers."""

import asyncio
import json
import os
import socket

import pytest

import libprov
import libprov.aio
from libprov import ProvisioningDeviceClient, ProxyOptions, RegistrationResult, X509, exceptions
from libprov.models import RegistrationState

from conftest import DEVICE_KEY, ID_SCOPE

HOST = "localhost:8883"
SDK_KWARGS = ["server_verification_cert", "gateway_hostname", "websockets", "cipher",
              "proxy_options", "sastoken_ttl", "keep_alive"]


def create(**kwargs):
    return ProvisioningDeviceClient.create_from_symmetric_key(
        HOST, "api-dev", ID_SCOPE, DEVICE_KEY, **kwargs)


def test_public_names_match_the_sdk():
    from libprov import ProvisioningDeviceClient as Sync  # noqa: F401
    from libprov.aio import ProvisioningDeviceClient as Async
    assert Async is not ProvisioningDeviceClient
    for name in ["ClientError", "ConnectionFailedError", "ConnectionDroppedError",
                 "CredentialError", "OperationTimeout", "OperationCancelled", "ServiceError",
                 "NoConnectionError"]:
        assert isinstance(getattr(exceptions, name), type)
    assert issubclass(exceptions.CredentialError, exceptions.ClientError)
    assert issubclass(exceptions.ConnectionFailedError, exceptions.ClientError)
    assert issubclass(exceptions.ConnectionDroppedError, exceptions.ClientError)
    assert not issubclass(exceptions.OperationTimeout, exceptions.ClientError)
    assert not issubclass(exceptions.ServiceError, exceptions.ClientError)
    assert issubclass(exceptions.OperationTimeout, Exception)


@pytest.mark.parametrize("factory_owner", [ProvisioningDeviceClient,
                                           libprov.aio.ProvisioningDeviceClient])
@pytest.mark.parametrize("bad", ["keepalive", "proxy", "timeout", "server_cert"])
def test_unknown_kwargs_raise_type_error(factory_owner, bad):
    with pytest.raises(TypeError, match="Unsupported keyword argument '%s'" % bad):
        factory_owner.create_from_symmetric_key(HOST, "api-dev", ID_SCOPE, DEVICE_KEY,
                                                **{bad: 1})


def test_every_sdk_kwarg_is_accepted_with_its_default():
    client = create(server_verification_cert=None, gateway_hostname=None, websockets=False,
                    cipher="", proxy_options=None, sastoken_ttl=3600, keep_alive=60)
    assert client.provisioning_payload is None
    client.shutdown()


def test_keep_alive_checks():
    for bad in [0, -1, 1741]:
        with pytest.raises(ValueError, match="keep_alive"):
            create(keep_alive=bad)
    for bad in ["abc", None, [1]]:
        with pytest.raises(TypeError):
            create(keep_alive=bad)
    create(keep_alive="30").shutdown()  # int()-converted, as the SDK
    create(keep_alive=1740).shutdown()


def test_cipher_forms():
    create(cipher=["ecdhe_rsa_aes128_gcm_sha256", "ECDHE-RSA-AES256-GCM-SHA384"]).shutdown()
    with pytest.raises(TypeError, match="cipher"):
        create(cipher=5)
    with pytest.raises(ValueError):
        create(cipher="NOT-A-CIPHER-AT-ALL")


def test_sastoken_ttl_checks():
    with pytest.raises(TypeError):
        create(sastoken_ttl="long")
    with pytest.raises(ValueError):
        create(sastoken_ttl=1)


def test_invalid_symmetric_key_is_value_error():
    with pytest.raises(ValueError, match="Could not create a SasToken"):
        ProvisioningDeviceClient.create_from_symmetric_key(HOST, "api-dev", ID_SCOPE, "***")


def test_invalid_arguments_name_the_argument():
    with pytest.raises(ValueError, match="registration_id"):
        ProvisioningDeviceClient.create_from_symmetric_key(HOST, "bad id", ID_SCOPE, DEVICE_KEY)
    with pytest.raises(ValueError, match="id_scope"):
        ProvisioningDeviceClient.create_from_symmetric_key(HOST, "api-dev", "", DEVICE_KEY)
    with pytest.raises(TypeError, match="provisioning_host"):
        ProvisioningDeviceClient.create_from_symmetric_key(None, "api-dev", ID_SCOPE, DEVICE_KEY)


def test_secrets_do_not_appear_in_errors():
    secret = DEVICE_KEY[:-4] + "!!!="
    with pytest.raises(ValueError) as failure:
        ProvisioningDeviceClient.create_from_symmetric_key(HOST, "api-dev", ID_SCOPE, secret)
    assert secret not in str(failure.value)


def test_transport_proxy_and_x509_arguments_are_taken_as_the_sdk():
    create(websockets=True).shutdown()
    create(websockets=True, transport="mqtt-ws").shutdown()
    create(transport="https").shutdown()
    create(proxy_options=ProxyOptions("HTTP", "127.0.0.1", 3128, "user", "pass")).shutdown()
    create(proxy_options=ProxyOptions("SOCKS4", "127.0.0.1", 1080, "user")).shutdown()
    create(proxy_options=ProxyOptions(2, "::1", 1080)).shutdown()  # PySocks constant
    with pytest.raises(ValueError, match="port"):
        create(proxy_options=ProxyOptions("SOCKS5", "127.0.0.1", 0))
    with pytest.raises(TypeError, match="proxy_options"):
        create(proxy_options="socks5://127.0.0.1:1080")
    x509 = X509("cert.pem", "key.pem", pass_phrase="pw")
    with pytest.raises(exceptions.CertificateError, match="cert.pem"):
        ProvisioningDeviceClient.create_from_x509_certificate(HOST, "api-dev", ID_SCOPE, x509)
    with pytest.raises(TypeError, match="sastoken_ttl"):
        ProvisioningDeviceClient.create_from_x509_certificate(HOST, "api-dev", ID_SCOPE, x509,
                                                              sastoken_ttl=60)
    assert (x509.certificate_file, x509.key_file, x509.pass_phrase) == ("cert.pem", "key.pem", "pw")


def test_libprov_keyword_checks():
    for name, bad in [("csr_key_type", "dsa"), ("csr_api", "2019"), ("transport", "amqp")]:
        with pytest.raises(ValueError, match=name):
            create(**{name: bad})
    with pytest.raises(exceptions.CertificateError):
        create(csr="-----BEGIN CERTIFICATE REQUEST-----\nnot base64\n"
                   "-----END CERTIFICATE REQUEST-----\n")
    create(csr_key_type="rsa", csr_api="2021-11-01-preview").shutdown()
    create(proxy_url="http://user:p%40ss@proxy.local:3128").shutdown()
    with pytest.raises(ValueError) as failure:
        create(proxy_url="ftp://user:secret-pw@proxy.local")
    assert "secret-pw" not in str(failure.value)
    create(max_retries=0).shutdown()
    create(initial_backoff=0.25, max_backoff=2).shutdown()


def test_proxy_options_as_the_sdk():
    options = ProxyOptions("SOCKS5", "proxy.local", "1080", "user", "pass")
    assert (options.proxy_type, options.proxy_type_socks) == ("SOCKS5", 2)
    assert options.proxy_port == 1080 and options.proxy_address == "proxy.local"
    assert (options.proxy_username, options.proxy_password) == ("user", "pass")
    assert ProxyOptions(3, "p", 8080).proxy_type == "HTTP"  # PySocks constant
    with pytest.raises(ValueError, match="Invalid Proxy Type"):
        ProxyOptions("FTP", "p", 1)


def test_registration_result_strings_as_the_sdk():
    state = RegistrationState("dev", "hub.example.net", "initialAssignment", "t0", "t1", "e1",
                              {"b": 1, "a": [1, 2]})
    result = RegistrationResult("op-1", "assigned", state)
    assert state.response_payload == '{"a": [1, 2], "b": 1}'
    assert str(result) == "dev\nhub.example.net\ninitialAssignment\n" + state.response_payload + \
        "\nassigned"
    assert RegistrationState().response_payload == "null"


def test_payload_property_round_trips_any_value():
    client = create()
    for value in [{"modelId": "dtmi:x;1"}, "text", 42, None]:
        client.provisioning_payload = value
        assert client.provisioning_payload == value
    client.shutdown()


def test_unserializable_payload_fails_at_register():
    client = create()
    client.provisioning_payload = {"bad": {1, 2}}
    with pytest.raises(TypeError):
        client.register()
    client.shutdown()


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_refused_connection_is_connection_failed_error():
    client = ProvisioningDeviceClient.create_from_symmetric_key(
        "127.0.0.1:%d" % free_port(), "api-dev", ID_SCOPE, DEVICE_KEY, register_timeout=5)
    with pytest.raises(exceptions.ConnectionFailedError) as failure:
        client.register()
    assert failure.value.status == "PROV_E_CONNECTION_FAILED"
    assert failure.value.error_code is None
    client.shutdown()


def test_async_refused_connection():
    async def scenario():
        client = libprov.aio.ProvisioningDeviceClient.create_from_symmetric_key(
            "127.0.0.1:%d" % free_port(), "api-dev", ID_SCOPE, DEVICE_KEY, register_timeout=5)
        async with client:
            with pytest.raises(exceptions.ConnectionFailedError):
                await client.register()
    asyncio.run(scenario())


def test_shut_down_client_raises_client_error():
    client = create()
    client.shutdown()
    client.shutdown()  # idempotent
    with pytest.raises(exceptions.ClientError, match="shut down"):
        client.register()


def test_timeouts_are_checked():
    with pytest.raises(ValueError):
        create(register_timeout=0)
    with pytest.raises(TypeError):
        create(response_timeout="soon")
    create(register_timeout=0.5, response_timeout=0.25).shutdown()
    for too_long in [86400.001, 1e12]:
        with pytest.raises(ValueError):
            create(register_timeout=too_long)
    create(sastoken_ttl=600.0).shutdown()
    with pytest.raises(ValueError):
        create(sastoken_ttl=float("nan"))


def test_derived_keys_match_the_known_answer_vectors():
    path = os.environ.get("PROV_TEST_VECTORS",
                          os.path.join(os.path.dirname(__file__), "../../../../shared/testvectors/sas.json"))
    with open(path) as vectors_file:
        vectors = json.load(vectors_file)
    assert vectors["derived_keys"]
    for vector in vectors["derived_keys"]:
        assert libprov.derive_device_key(vector["group_key"], vector["registration_id"]) == \
            vector["device_key"]
    for vector in vectors["sas"]:
        assert libprov.generate_sas_token(vector["id_scope"], vector["registration_id"],
                                          vector["device_key"], vector["expiry"]) == vector["token"]
    with pytest.raises(ValueError, match="group_key"):
        libprov.derive_device_key("not base64", "dev")


def test_library_version():
    assert libprov.library_version() == "1.0.0"
