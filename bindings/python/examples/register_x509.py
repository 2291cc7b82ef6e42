"""Register a device with an X.509 certificate and print its hub and device id.

A program written for the Python SDK's X.509 provisioning client; only the
import line differs. Environment (the names the SDK's X.509 samples read):

  PROVISIONING_HOST          e.g. global.azure-devices-provisioning.net,
                             or localhost:<mqtt port> for dps-emulator
  PROVISIONING_IDSCOPE       the DPS id scope
  DPS_X509_REGISTRATION_ID   the registration id (the certificate's CN)
  X509_CERT_FILE             PEM: device certificate, then any intermediates
  X509_KEY_FILE              PEM private key
  PASS_PHRASE                optional: the key's pass phrase
  PROVISIONING_SERVER_CERT   optional: a PEM file to trust (dps-emulator:
                             `dps-emulator ca-path --data-dir DIR`)
"""

import os
import sys

from libprov import ProvisioningDeviceClient, X509  # was: from azure.iot.device import ...


def main():
    kwargs = {}
    cert_path = os.getenv("PROVISIONING_SERVER_CERT")
    if cert_path:
        with open(cert_path) as cert_file:
            kwargs["server_verification_cert"] = cert_file.read()

    x509 = X509(
        cert_file=os.environ["X509_CERT_FILE"],
        key_file=os.environ["X509_KEY_FILE"],
        pass_phrase=os.getenv("PASS_PHRASE"),
    )
    client = ProvisioningDeviceClient.create_from_x509_certificate(
        provisioning_host=os.environ["PROVISIONING_HOST"],
        registration_id=os.environ["DPS_X509_REGISTRATION_ID"],
        id_scope=os.environ["PROVISIONING_IDSCOPE"],
        x509=x509,
        **kwargs
    )
    result = client.register()
    print("The complete registration result is")
    print(result.registration_state)
    if result.status != "assigned":
        print("Can not register with the provisioning service", file=sys.stderr)
        return 1
    print("assigned hub: " + result.registration_state.assigned_hub)
    print("device id: " + result.registration_state.device_id)
    return 0


if __name__ == "__main__":
    sys.exit(main())
