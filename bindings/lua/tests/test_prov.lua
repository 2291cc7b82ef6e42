-- Lua binding tests against a real dps-emulator. Plain asserts; exits
-- non-zero on the first failure. Run by ctest (bindings.lua).
local prov = require("prov")
local Emulator = require("emulator")

local test, passed = Emulator.test_runner()

local function contains(list, value)
  for _, item in ipairs(list) do
    if item == value then return true end
  end
  return false
end

local emulator <close> = Emulator.start(Emulator.CONFIG)

local function client_for(registration_id, overrides)
  return emulator:symkey_client(prov, registration_id, overrides)
end

test("symmetric-key registration", function()
  local client <close> = client_for("lua-dev-1")
  local result, err = client:register()
  assert(result, tostring(err))
  assert(result.status == "assigned", result.status)
  assert(result.device_id == "lua-device-one", result.device_id)
  assert(contains(Emulator.HUBS, result.assigned_hub), result.assigned_hub)
  assert(result.registration_id == "lua-dev-1")
  assert(result.operation_id and #result.operation_id > 0)
  assert(result.substatus == "initialAssignment")
  assert(result.etag and result.created_date_time and result.last_update_date_time)
  assert(result.payload == nil)
  assert(result.http_status == 200 and result.error_code == 0)
  assert(result.registration_state_json:find('"assignedHub"', 1, true))
end)

test("group enrollment with a derived key", function()
  local key = assert(prov.derive_device_key(Emulator.GROUP_KEY, "lua-member-3"))
  local client <close> = client_for("lua-member-3", { symmetric_key = key })
  local result = assert(client:register())
  assert(result.status == "assigned" and result.device_id == "lua-member-3")
end)

test("payload round trip", function()
  local client <close> = client_for("lua-echo",
    { provisioning_payload = '{"a":[1,2,{"b":null}],"modelId":"dtmi:x;1"}' })
  local result = assert(client:register())
  assert(result.payload:gsub("%s", "") == '{"a":[1,2,{"b":null}],"modelId":"dtmi:x;1"}',
    result.payload)
  -- and cleared again
  assert(client:set_provisioning_payload(nil))
  result = assert(client:register())
  assert(result.payload == nil, result.payload)
end)

test("wrong key: nil, err with the service's 401xxx code", function()
  local client <close> = client_for("lua-dev-1", { symmetric_key = Emulator.WRONG_KEY })
  local result, err = client:register()
  assert(result == nil)
  assert(err.code == "PROV_E_CREDENTIAL" and err.status == prov.status.PROV_E_CREDENTIAL,
    tostring(err))
  assert(err.error_code >= 401000 and err.error_code <= 401999, err.error_code)
  assert(err.http_status == 401)
  assert(type(err.tracking_id) == "string" and #err.tracking_id > 0)
  assert(type(err.message) == "string")
  local text = tostring(err)
  assert(text:find("PROV_E_CREDENTIAL", 1, true) and text:find(tostring(err.error_code), 1, true))
  assert(not text:find(Emulator.WRONG_KEY, 1, true), "key leaked into the error")
end)

test("silent service: PROV_E_TIMEOUT at the deadline", function()
  local client <close> = client_for("lua-silent", { register_timeout = 2 })
  local started = os.time()
  local result, err = client:register()
  local elapsed = os.time() - started
  assert(result == nil and err.code == "PROV_E_TIMEOUT", tostring(err))
  assert(elapsed >= 1 and elapsed <= 10, elapsed)
end)

test("untrusted server certificate: PROV_E_CONNECTION_FAILED", function()
  local client <close> = client_for("lua-dev-1", { server_verification_cert = nil })
  client:set("server_verification_cert", nil)
  local result, err = client:register()
  assert(result == nil and err.code == "PROV_E_CONNECTION_FAILED", tostring(err))
end)

test("invalid values: nil, err naming the argument", function()
  local client, err = prov.create_symkey{ provisioning_host = "h", registration_id = "bad id",
    id_scope = Emulator.ID_SCOPE, symmetric_key = Emulator.DEVICE_KEY }
  assert(client == nil and err.code == "PROV_E_INVALID_ARG")
  assert(err.message:find("registration_id", 1, true), err.message)
  client, err = prov.create_symkey{ provisioning_host = "h", registration_id = "dev",
    id_scope = Emulator.ID_SCOPE, symmetric_key = Emulator.DEVICE_KEY, keep_alive = 5000 }
  assert(client == nil and err.code == "PROV_E_INVALID_ARG", tostring(err))
  client, err = prov.create_symkey{ provisioning_host = "h", registration_id = "dev",
    id_scope = Emulator.ID_SCOPE, symmetric_key = "not base64" }
  assert(client == nil and err.message:find("symmetric_key", 1, true), tostring(err))
  local key, key_err = prov.derive_device_key("***", "dev")
  assert(key == nil and key_err.code == "PROV_E_INVALID_ARG")
end)

test("programming errors raise", function()
  local ok, message = pcall(prov.create_symkey, { provisioning_host = "h", keepalive = 3 })
  assert(not ok and message:find("unknown option 'keepalive'", 1, true), message)
  ok, message = pcall(prov.create_symkey, { provisioning_host = 42 })
  assert(not ok and message:find("provisioning_host", 1, true), message)
  ok, message = pcall(prov.create_symkey, "not a table")
  assert(not ok)
  local client <close> = client_for("lua-dev-1")
  ok, message = pcall(client.set, client, "keep_alive", 1.5)
  assert(not ok and message:find("integer", 1, true), message)
end)

test("close, <close> and use after close", function()
  local escaped
  do
    local client <close> = client_for("lua-dev-1")
    escaped = client
    assert(not client:is_closed())
  end
  assert(escaped:is_closed())
  local result, err = escaped:register()
  assert(result == nil and err.message == "client is closed")
  escaped:close() -- idempotent
  assert(tostring(escaped) == "prov.Client(closed)")
end)

test("derived keys match the known-answer vectors", function()
  local path = os.getenv("PROV_TEST_VECTORS")
  local file = assert(io.open(path, "rb"), "PROV_TEST_VECTORS must name sas.json")
  local vectors = file:read("a")
  file:close()
  local start = assert(vectors:find('"derived_keys"', 1, true))
  local section = vectors:sub(start)
  local checked = 0
  for entry in section:gmatch("%b{}") do
    local group_key = entry:match('"group_key"%s*:%s*"(.-)"')
    local registration_id = entry:match('"registration_id"%s*:%s*"(.-)"')
    local device_key = entry:match('"device_key"%s*:%s*"(.-)"')
    assert(group_key and registration_id and device_key, entry)
    assert(prov.derive_device_key(group_key, registration_id) == device_key, registration_id)
    checked = checked + 1
  end
  assert(checked > 0)
end)

local rss_kb = Emulator.rss_kb

-- A leak of even 200 bytes per cycle exceeds this over 10,000 cycles.
local MAX_GROWTH_KB = 2048

local function rss_growth(cycle)
  for _ = 1, 1000 do cycle() end -- warm-up
  collectgarbage("collect")
  collectgarbage("collect")
  local before = rss_kb()
  for _ = 1, 10000 do cycle() end
  collectgarbage("collect")
  collectgarbage("collect")
  return rss_kb() - before
end

local function new_client()
  return assert(prov.create_symkey{ provisioning_host = "localhost:8883",
    registration_id = "lua-stress", id_scope = Emulator.ID_SCOPE,
    symmetric_key = Emulator.DEVICE_KEY, keep_alive = 30, cipher = { "ECDHE-RSA-AES128-GCM-SHA256" },
    provisioning_payload = '{"n":1}' })
end

test("10,000 create/close cycles: bounded RSS", function()
  local growth = rss_growth(function() new_client():close() end)
  io.write(string.format("(growth %d kB) ", growth))
  assert(growth < MAX_GROWTH_KB, growth)
end)

test("10,000 create/<close> cycles: bounded RSS", function()
  local growth = rss_growth(function() local client <close> = new_client() end)
  assert(growth < MAX_GROWTH_KB, growth)
end)

test("10,000 clients left to the garbage collector: bounded RSS", function()
  local growth = rss_growth(function() new_client() end)
  io.write(string.format("(growth %d kB) ", growth))
  assert(growth < MAX_GROWTH_KB, growth)
end)

test("10,000 failed calls and derived keys: bounded RSS", function()
  local growth = rss_growth(function()
    prov.create_symkey{ provisioning_host = "h", registration_id = "bad id",
      id_scope = Emulator.ID_SCOPE, symmetric_key = Emulator.DEVICE_KEY }
    prov.derive_device_key(Emulator.GROUP_KEY, "lua-stress")
  end)
  assert(growth < MAX_GROWTH_KB, growth)
end)

print(string.format("all %d Lua binding tests passed", passed()))
