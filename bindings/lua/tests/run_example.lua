-- Runs an example program against a fresh dps-emulator and checks that it
-- printed the assigned hub and the device id. Usage: run_example.lua EXAMPLE.lua
local Emulator = require("emulator")

local example = assert(arg[1], "usage: run_example.lua EXAMPLE.lua")
local emulator <close> = Emulator.start(Emulator.CONFIG)
local ca_path = emulator.dir .. "/ca.pem"
local ca_file = assert(io.open(ca_path, "wb"))
ca_file:write(emulator.ca_pem)
ca_file:close()

local interpreter = arg[-1] or "lua5.4"
local pipe = assert(io.popen(string.format(
  "PROVISIONING_HOST=%s PROVISIONING_IDSCOPE=%s PROVISIONING_REGISTRATION_ID=lua-dev-1 " ..
  "PROVISIONING_SYMMETRIC_KEY=%s PROVISIONING_SERVER_CERT=%s %s %s 2>&1",
  emulator.mqtt_host, Emulator.ID_SCOPE, Emulator.DEVICE_KEY, ca_path, interpreter, example)))
local output = pipe:read("a")
local ok, _, code = pipe:close()
io.write(output)
assert(ok, "example exited with " .. tostring(code))
local hub = output:match("assigned hub: (%S+)")
assert(hub == "hub-1.example.net" or hub == "hub-2.example.net", "no assigned hub printed")
assert(output:find("device id: lua-device-one", 1, true), "no device id printed")
print("example OK")
