--- A real dps-emulator process for the Lua tests: a fresh temporary data
-- directory, ports 0, wait for the ports file (shared contract).
local Emulator = {}
Emulator.__index = Emulator

local function shell_quote(text)
  return "'" .. text:gsub("'", "'\\''") .. "'"
end

local function read_file(path)
  local file = io.open(path, "rb")
  if not file then return nil end
  local content = file:read("a")
  file:close()
  return content
end

local function write_file(path, content)
  local file = assert(io.open(path, "wb"))
  file:write(content)
  file:close()
end

local function command_output(command)
  local pipe = assert(io.popen(command))
  local output = pipe:read("a")
  pipe:close()
  return (output:gsub("%s+$", ""))
end

-- Shell helpers the test scripts share.
Emulator.shell_quote = shell_quote
Emulator.command_output = command_output

-- The Lua tests' runner: test(name, body) runs body (a failed assert ends the
-- script non-zero), prints "name ... ok"; count() says how many passed.
function Emulator.test_runner()
  local passed = 0
  local function test(name, body)
    io.write(name, " ... ")
    io.flush()
    body()
    passed = passed + 1
    print("ok")
  end
  return test, function() return passed end
end

-- This process's resident memory in KB (/proc/self/status VmRSS), for the
-- create/free stress tests.
function Emulator.rss_kb()
  for line in io.lines("/proc/self/status") do
    local kb = line:match("^VmRSS:%s*(%d+)")
    if kb then return tonumber(kb) end
  end
  error("no VmRSS")
end

-- A symmetric-key client of the individual enrollment on this emulator,
-- trusting its root; `overrides` replaces any of the options.
function Emulator:symkey_client(prov, registration_id, overrides)
  local options = {
    provisioning_host = self.mqtt_host, registration_id = registration_id,
    id_scope = Emulator.ID_SCOPE, symmetric_key = Emulator.DEVICE_KEY,
    server_verification_cert = self.ca_pem, register_timeout = 20,
  }
  for key, value in pairs(overrides or {}) do options[key] = value end
  return assert(prov.create_symkey(options))
end

local function alive(pid)
  return os.execute("kill -0 " .. pid .. " 2>/dev/null") == true
end

function Emulator.start(config_json)
  local binary = os.getenv("PROV_TEST_EMULATOR")
  assert(binary and binary ~= "", "PROV_TEST_EMULATOR must name the dps-emulator binary")
  local self = setmetatable({ binary = binary }, Emulator)
  self.dir = command_output("mktemp -d /tmp/prov-lua-emu-XXXXXX")
  self.data_dir = self.dir .. "/data"
  write_file(self.dir .. "/config.json", config_json)
  local ports_path = self.dir .. "/ports.json"
  self.log_path = self.dir .. "/emulator.log"
  self.pid = tonumber(command_output(string.format(
    "%s serve --data-dir %s --config %s --bind 127.0.0.1 --mqtt-port 0 --https-port 0 " ..
    "--admin-port 0 --ports-file %s >%s 2>&1 & echo $!",
    shell_quote(binary), shell_quote(self.data_dir), shell_quote(self.dir .. "/config.json"),
    shell_quote(ports_path), shell_quote(self.log_path))))
  assert(self.pid, "could not start dps-emulator")
  local deadline = os.time() + 30
  local ports
  while os.time() <= deadline do
    ports = read_file(ports_path)
    if ports then break end
    if not alive(self.pid) then
      error("dps-emulator exited; log:\n" .. (read_file(self.log_path) or ""))
    end
    os.execute("sleep 0.02")
  end
  assert(ports, "dps-emulator wrote no ports file")
  self.mqtt_port = tonumber(ports:match('"mqtt"%s*:%s*(%d+)'))
  self.mqtt_host = "localhost:" .. self.mqtt_port
  local ca_path = command_output(string.format("%s ca-path --data-dir %s", shell_quote(binary),
    shell_quote(self.data_dir)))
  self.ca_pem = assert(read_file(ca_path), "cannot read the emulator CA at " .. ca_path)
  return self
end

function Emulator:stop()
  if self.pid then
    os.execute("kill -TERM " .. self.pid .. " 2>/dev/null")
    for _ = 1, 500 do
      if not alive(self.pid) then break end
      os.execute("sleep 0.02")
    end
    if alive(self.pid) then os.execute("kill -KILL " .. self.pid .. " 2>/dev/null") end
    self.pid = nil
  end
  os.execute("rm -rf " .. shell_quote(self.dir))
end

Emulator.__close = Emulator.stop

-- The configuration the Lua tests and the example run against.
Emulator.ID_SCOPE = "0ne00000A0A"
Emulator.HUBS = { "hub-1.example.net", "hub-2.example.net" }
Emulator.DEVICE_KEY = "bHVhLWRldmljZS1rZXktLS0tLS0tLS0tLS0tLS0tLS0="
Emulator.GROUP_KEY = "bHVhLWdyb3VwLWtleS0tLS0tLS0tLS0tLS0tLS0tLS0="
Emulator.WRONG_KEY = "bm90LXRoZS1rZXktLS0tLS0tLS0tLS0tLS0tLS0tLS0="
Emulator.CONFIG = string.format([[
{
  "idScope": "%s",
  "iotHubs": ["hub-1.example.net", "hub-2.example.net"],
  "enrollments": [
    {"registrationId": "lua-dev-1", "deviceId": "lua-device-one",
     "attestation": {"type": "symmetricKey", "primaryKey": "%s"}},
    {"registrationId": "lua-echo", "echoPayload": true,
     "attestation": {"type": "symmetricKey", "primaryKey": "%s"}},
    {"registrationId": "lua-silent",
     "attestation": {"type": "symmetricKey", "primaryKey": "%s"}}
  ],
  "enrollmentGroups": [
    {"enrollmentGroupId": "lua-group",
     "attestation": {"type": "symmetricKey", "primaryKey": "%s"}}
  ],
  "faults": [{"type": "silent", "registrationId": "lua-silent"}]
}
]], Emulator.ID_SCOPE, Emulator.DEVICE_KEY, Emulator.DEVICE_KEY, Emulator.DEVICE_KEY,
  Emulator.GROUP_KEY)

return Emulator
