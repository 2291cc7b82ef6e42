-- Register a device with a symmetric key and print its hub and device id.
-- Environment (the same names as the Python SDK sample):
--   PROVISIONING_HOST            e.g. global.azure-devices-provisioning.net,
--                                or localhost:<mqtt port> for dps-emulator
--   PROVISIONING_IDSCOPE         the DPS id scope
--   PROVISIONING_REGISTRATION_ID the registration id
--   PROVISIONING_SYMMETRIC_KEY   the device key (Base64)
--   PROVISIONING_SERVER_CERT     optional: a PEM file to trust (dps-emulator:
--                                `dps-emulator ca-path --data-dir DIR`)
local prov = require("prov")

local function required(name)
  return os.getenv(name) or error(name .. " is not set", 0)
end

local server_cert
local cert_path = os.getenv("PROVISIONING_SERVER_CERT")
if cert_path then
  local file = assert(io.open(cert_path, "rb"))
  server_cert = file:read("a")
  file:close()
end

local client <close>, err = prov.create_symkey{
  provisioning_host = required("PROVISIONING_HOST"),
  registration_id = required("PROVISIONING_REGISTRATION_ID"),
  id_scope = required("PROVISIONING_IDSCOPE"),
  symmetric_key = required("PROVISIONING_SYMMETRIC_KEY"),
  server_verification_cert = server_cert,
}
if not client then
  io.stderr:write("cannot create the client: ", tostring(err), "\n")
  os.exit(2)
end

local result, register_err = client:register()
if not result then
  io.stderr:write("registration failed: ", tostring(register_err), "\n")
  os.exit(1)
end
print("assigned hub: " .. result.assigned_hub)
print("device id: " .. result.device_id)
