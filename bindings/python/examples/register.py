"""Register a device with a symmetric key and print its hub and device id.

The same program as the Python SDK's provision_symmetric_key.py sample; only
the import line differs. Environment (the SDK sample's names):

  PROVISIONING_HOST            e.g. global.azure-devices-provisioning.net,
                               or localhost:<mqtt port> for dps-emulator
  PROVISIONING_IDSCOPE         the DPS id scope
  PROVISIONING_REGISTRATION_ID the registration id
  PROVISIONING_SYMMETRIC_KEY   the device key (Base64)
  PROVISIONING_SERVER_CERT     optional: a PEM file to trust (dps-emulator:
                               `dps-emulator ca-path --data-dir DIR`)
"""

import os
import sys

from libprov import ProvisioningDeviceClient  # was: from azure.iot.device import ...


def main():
    kwargs = {}
    cert_path = os.getenv("PROVISIONING_SERVER_CERT")
    if cert_path:
        with open(cert_path) as cert_file:
            kwargs["server_verification_cert"] = cert_file.read()

    client = ProvisioningDeviceClient.create_from_symmetric_key(
        provisioning_host=os.environ["PROVISIONING_HOST"],
        registration_id=os.environ["PROVISIONING_REGISTRATION_ID"],
        id_scope=os.environ["PROVISIONING_IDSCOPE"],
        symmetric_key=os.environ["PROVISIONING_SYMMETRIC_KEY"],
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
