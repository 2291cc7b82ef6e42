"""asyncio clients, as ``azure.iot.device.aio``."""

from .async_provisioning_device_client import ProvisioningDeviceClient

__all__ = ["ProvisioningDeviceClient"]
