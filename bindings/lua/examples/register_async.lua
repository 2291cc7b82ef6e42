-- The same registration as register.lua, started with register_async() and
-- polled: the program stays free to do other work (here: print the
-- progress) while libprov registers on its own threads.
-- Environment: as register.lua (PROVISIONING_HOST, PROVISIONING_IDSCOPE,
-- PROVISIONING_REGISTRATION_ID, PROVISIONING_SYMMETRIC_KEY, optional
-- PROVISIONING_SERVER_CERT).
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

local operation, start_err = client:register_async()
if not operation then
  io.stderr:write("cannot start the registration: ", tostring(start_err), "\n")
  os.exit(1)
end

local result, register_err
repeat
  local events
  events, result, register_err = operation:poll()
  for _, event in ipairs(events) do
    print("progress: " .. event.state .. " " .. event.detail)
  end
  if result == nil and register_err == nil then
    operation:wait(50) -- or any other work of the program
  end
until result ~= nil or register_err ~= nil

if not result then
  io.stderr:write("registration failed: ", tostring(register_err), "\n")
  os.exit(1)
end
print("assigned hub: " .. result.assigned_hub)
print("device id: " .. result.device_id)
