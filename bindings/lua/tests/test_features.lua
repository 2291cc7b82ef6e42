-- What the C API gained after the first Lua binding: X.509 clients, group
-- keys, transports, proxies (a real microsocks), certificate issuance,
-- progress/log callbacks and cancellation, against a real dps-emulator.
-- Plain asserts; exits non-zero on the first failure. Run by ctest
-- (bindings.lua.features).
local prov = require("prov")
local Emulator = require("emulator")

local test, passed = Emulator.test_runner()

local shell_quote, command_output = Emulator.shell_quote, Emulator.command_output

local function read_file(path)
  local file = assert(io.open(path, "rb"))
  local content = file:read("a")
  file:close()
  return content
end

local binary = assert(os.getenv("PROV_TEST_EMULATOR"), "PROV_TEST_EMULATOR must be set")
local dir = command_output("mktemp -d /tmp/prov-lua-x509-XXXXXX")
local function path_of(name) return dir .. "/" .. name end
local function make_cert(arguments)
  assert(os.execute(string.format("cd %s && %s make-cert %s >/dev/null", shell_quote(dir),
    shell_quote(binary), arguments)), "make-cert " .. arguments)
end

local PASS = "lua-pass-phrase"
make_cert("ca --cn 'lua root' --out-cert root.pem --out-key root.key")
make_cert("ca --cn 'lua int' --issuer-cert root.pem --issuer-key root.key " ..
  "--out-cert int.pem --out-key int.key")
make_cert("device --cn lua-thumb --out-cert thumb.pem --out-key thumb.key")
make_cert("device --cn lua-enc --issuer-cert root.pem --issuer-key root.key --pass-phrase " ..
  PASS .. " --out-cert enc.pem --out-key enc.key")
make_cert("device --cn lua-grp-int --issuer-cert int.pem --issuer-key int.key --chain " ..
  "--out-cert grp-int.pem --out-key grp-int.key")
local thumbprint = command_output(string.format("%s make-cert thumbprint --cert %s",
  shell_quote(binary), shell_quote(path_of("thumb.pem"))))

local config = string.format([[
{
  "idScope": "%s",
  "iotHubs": ["hub-1.example.net", "hub-2.example.net"],
  "enrollments": [
    {"registrationId": "lua-thumb", "deviceId": "lua-thumb-device",
     "attestation": {"type": "x509", "thumbprint": "%s"}},
    {"registrationId": "lua-enc", "attestation": {"type": "x509", "caCertificates": ["%s"]}},
    {"registrationId": "lua-feat",
     "attestation": {"type": "symmetricKey", "primaryKey": "%s"}},
    {"registrationId": "lua-slow", "assignmentDelayMs": 1500, "retryAfterSeconds": 1,
     "attestation": {"type": "symmetricKey", "primaryKey": "%s"}},
    {"registrationId": "lua-silent",
     "attestation": {"type": "symmetricKey", "primaryKey": "%s"}}
  ],
  "enrollmentGroups": [
    {"enrollmentGroupId": "lua-x509-group",
     "attestation": {"type": "x509", "caCertificates": ["%s"]}},
    {"enrollmentGroupId": "lua-sym-group",
     "attestation": {"type": "symmetricKey", "primaryKey": "%s"}}
  ],
  "faults": [{"type": "silent", "registrationId": "lua-silent"}]
}
]], Emulator.ID_SCOPE, thumbprint, path_of("root.pem"), Emulator.DEVICE_KEY, Emulator.DEVICE_KEY,
  Emulator.DEVICE_KEY, path_of("root.pem"), Emulator.GROUP_KEY)

local emulator <close> = Emulator.start(config)
local https_port = tonumber(read_file(emulator.dir .. "/ports.json"):match('"https"%s*:%s*(%d+)'))
local HTTPS_HOST = "localhost:" .. https_port

local function options_with(base, overrides)
  local options = { id_scope = Emulator.ID_SCOPE, server_verification_cert = emulator.ca_pem,
    register_timeout = 20, provisioning_host = emulator.mqtt_host }
  for key, value in pairs(base) do options[key] = value end
  for key, value in pairs(overrides or {}) do options[key] = value end
  return options
end

local function x509_client(registration_id, cert, key, overrides)
  return prov.create_x509(options_with({ registration_id = registration_id,
    cert_file = path_of(cert), key_file = path_of(key) }, overrides))
end

local function symkey_client(registration_id, overrides)
  return assert(prov.create_symkey(options_with({ registration_id = registration_id,
    symmetric_key = Emulator.DEVICE_KEY }, overrides)))
end

for _, transport in ipairs({ "mqtt", "mqtt-ws", "https" }) do
  test("X.509 thumbprint registration over " .. transport, function()
    local overrides = { transport = transport }
    if transport ~= "mqtt" then overrides.provisioning_host = HTTPS_HOST end
    local client <close> = assert(x509_client("lua-thumb", "thumb.pem", "thumb.key", overrides))
    local result = assert(client:register())
    assert(result.device_id == "lua-thumb-device", result.device_id)
    assert(result.x509_json and result.x509_json:find("^%s*{"), result.x509_json)
    assert(result.enrollment_group_id == nil)
  end)
end

test("X.509 encrypted key and group through an intermediate", function()
  local client <close> = assert(x509_client("lua-enc", "enc.pem", "enc.key",
    { pass_phrase = PASS }))
  assert(assert(client:register()).status == "assigned")
  local member <close> = assert(x509_client("lua-grp-int", "grp-int.pem", "grp-int.key"))
  local result = assert(member:register())
  assert(result.enrollment_group_id == "lua-x509-group", result.enrollment_group_id)
  assert(result.x509_json:find("lua-x509-group", 1, true), result.x509_json)
end)

test("X.509 credential problems: nil, PROV_E_CERTIFICATE naming the file", function()
  local client, err = x509_client("lua-enc", "enc.pem", "enc.key", { pass_phrase = "Zq9-not-it" })
  assert(client == nil and err.code == "PROV_E_CERTIFICATE", tostring(err))
  assert(not tostring(err):find("Zq9-not-it", 1, true), "pass phrase leaked")
  client, err = x509_client("lua-thumb", "missing.pem", "thumb.key")
  assert(client == nil and err.code == "PROV_E_CERTIFICATE" and
    err.message:find("missing.pem", 1, true), tostring(err))
  client, err = x509_client("lua-thumb", "thumb.pem", "thumb.key", { sastoken_ttl = 60 })
  assert(client == nil and err.code == "PROV_E_INVALID_ARG", tostring(err))
  local pem <close> = assert(prov.create_x509_pem(options_with({ registration_id = "lua-thumb",
    cert_pem = read_file(path_of("thumb.pem")), key_pem = read_file(path_of("thumb.key")) })))
  assert(assert(pem:register()).device_id == "lua-thumb-device")
end)

test("symmetric-key group constructor", function()
  local client <close> = assert(prov.create_symkey_group(options_with({
    registration_id = "lua-member-4", group_key = Emulator.GROUP_KEY })))
  local result = assert(client:register())
  assert(result.device_id == "lua-member-4" and result.enrollment_group_id == "lua-sym-group")
end)

test("option checks", function()
  local ok, message = pcall(prov.create_symkey, options_with({ registration_id = "lua-feat",
    symmetric_key = Emulator.DEVICE_KEY, transport = "amqp" }))
  assert(not ok and message:find("transport", 1, true), message)
  ok, message = pcall(prov.create_symkey, options_with({ registration_id = "lua-feat",
    symmetric_key = Emulator.DEVICE_KEY, csr = "x", csr_key_type = "ec" }))
  assert(not ok and message:find("csr", 1, true), message)
  local client, err = prov.create_symkey(options_with({ registration_id = "lua-feat",
    symmetric_key = Emulator.DEVICE_KEY, csr = "\48\3junk" }))
  assert(client == nil and err.code == "PROV_E_CERTIFICATE", tostring(err))
  client, err = prov.create_symkey(options_with({ registration_id = "lua-feat",
    symmetric_key = Emulator.DEVICE_KEY, retry = { initial_backoff = 5, max_backoff = 1 } }))
  assert(client == nil and err.code == "PROV_E_INVALID_ARG", tostring(err))
end)

-- A real SOCKS5 proxy with credentials on a free loopback port.
local function start_microsocks()
  local log = path_of("microsocks.log")
  for _ = 1, 10 do
    local port = math.random(20000, 60000)
    local pid = tonumber(command_output(string.format(
      "microsocks -i 127.0.0.1 -p %d -u lua-user -P lua-secret >>%s 2>&1 & echo $!", port,
      shell_quote(log))))
    for _ = 1, 100 do
      if os.execute(string.format("bash -c 'exec 3<>/dev/tcp/127.0.0.1/%d' 2>/dev/null", port)) then
        return { port = port, pid = pid, log = log }
      end
      if not os.execute("kill -0 " .. pid .. " 2>/dev/null") then break end
      os.execute("sleep 0.05")
    end
    os.execute("kill " .. pid .. " 2>/dev/null")
  end
  error("microsocks did not start")
end

test("registration through a SOCKS5 proxy (microsocks), table and URL forms", function()
  local proxy = start_microsocks()
  local ok, failure = pcall(function()
    local client <close> = symkey_client("lua-feat", { proxy = { type = "socks5h",
      address = "127.0.0.1", port = proxy.port, username = "lua-user", password = "lua-secret" } })
    assert(assert(client:register()).status == "assigned")
    assert(read_file(proxy.log):find("localhost:" .. emulator.mqtt_port, 1, true), "not proxied")
    local https <close> = symkey_client("lua-feat", { provisioning_host = HTTPS_HOST,
      transport = "https",
      proxy_url = "socks5://lua-user:lua-secret@127.0.0.1:" .. proxy.port })
    assert(assert(https:register()).status == "assigned")
    -- nil removes the proxy (and resets transport, issuance and retries)
    for _, name in ipairs({ "proxy", "transport", "csr_key_type", "csr_api", "retry" }) do
      assert(client:set(name, nil))
    end
    local before = #read_file(proxy.log)
    assert(assert(client:register()).issued_certificates[1] == nil)
    assert(#read_file(proxy.log) == before, "still proxied after proxy = nil")
    local wrong <close> = symkey_client("lua-feat", { register_timeout = 5,
      retry = { max_retries = 0 },
      proxy_url = "socks5://lua-user:not-it@127.0.0.1:" .. proxy.port })
    local result, err = wrong:register()
    assert(result == nil and err.code == "PROV_E_CONNECTION_FAILED", tostring(err))
    assert(not tostring(err):find("not-it", 1, true), "proxy password leaked")
  end)
  os.execute("kill " .. proxy.pid .. " 2>/dev/null")
  assert(ok, failure)
end)

test("certificate issuance: generated key, DER and PEM chain", function()
  for _, api in ipairs({ "2025-07-01-preview", "2021-11-01-preview" }) do
    local client <close> = symkey_client("lua-feat", { csr_key_type = "ec", csr_api = api })
    local result = assert(client:register())
    assert(result.issued_certificate_chain_pem:find("-----BEGIN CERTIFICATE-----", 1, true))
    assert(#result.issued_certificates >= (api == "2021-11-01-preview" and 1 or 2),
      #result.issued_certificates)
    assert(result.issued_certificates[1]:byte(1) == 0x30, "leaf is not DER")
    local _, pem_count = result.issued_certificate_chain_pem:gsub("BEGIN CERTIFICATE", "")
    assert(pem_count == #result.issued_certificates)
    assert(result.generated_private_key_pem:find("PRIVATE KEY", 1, true))
    if api == "2021-11-01-preview" then
      assert(result.trust_bundle_pem and result.trust_bundle_pem:find("BEGIN CERTIFICATE", 1, true))
    end
  end
end)

test("certificate issuance with my own CSR as DER bytes", function()
  assert(os.execute(string.format("openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 " ..
    "-nodes -keyout %s -subj /CN=lua-feat -outform DER -out %s 2>/dev/null",
    shell_quote(path_of("csr.key")), shell_quote(path_of("csr.der")))))
  local client <close> = symkey_client("lua-feat", { csr = read_file(path_of("csr.der")) })
  local result = assert(client:register())
  assert(#result.issued_certificates >= 2 and result.generated_private_key_pem == nil)
end)

test("progress and log handlers", function()
  local client <close> = symkey_client("lua-slow", { provisioning_host = HTTPS_HOST,
    transport = "https" })
  local states, lines = {}, 0
  client:on_progress(function(state, detail, retry_after)
    states[#states + 1] = state
    if state == "assigning" then assert(retry_after == 1, retry_after) end
    assert(type(detail) == "string")
  end)
  client:on_log(function(level, message)
    lines = lines + 1
    assert(type(level) == "string" and type(message) == "string")
    assert(not message:find(Emulator.DEVICE_KEY, 1, true), "key in a log line")
  end, "debug")
  local result = assert(client:register())
  assert(states[1] == "connecting" and states[#states] == "assigned", table.concat(states, ","))
  local saw_assigning = false
  for _, state in ipairs(states) do saw_assigning = saw_assigning or state == "assigning" end
  assert(saw_assigning, table.concat(states, ","))
  assert(lines > 0)
  assert(result.status == "assigned")
end)

test("a handler's error is raised after register() returns", function()
  local client <close> = symkey_client("lua-feat")
  client:on_progress(function() error("handler bug") end)
  local ok, message = pcall(client.register, client)
  assert(not ok and tostring(message):find("handler bug", 1, true), tostring(message))
  client:on_progress(nil)
  assert(assert(client:register()).status == "assigned")
end)

test("cancel from a progress handler: PROV_E_CANCELLED promptly", function()
  local client <close> = symkey_client("lua-silent", { register_timeout = 30 })
  client:on_progress(function(state)
    if state == "registering" then assert(client:cancel()) end
  end)
  local started = os.time()
  local result, err = client:register()
  assert(result == nil and err.code == "PROV_E_CANCELLED", tostring(err))
  assert(os.time() - started <= 2, "cancel took too long")
  -- not remembered: the next registration runs normally (and times out)
  client:on_progress(nil)
  assert(client:set("register_timeout", 1))
  result, err = client:register()
  assert(result == nil and err.code == "PROV_E_TIMEOUT", tostring(err))
end)

test("handlers run inside a coroutine", function()
  local client <close> = symkey_client("lua-feat")
  local seen = 0
  client:on_progress(function() seen = seen + 1 end)
  local co = coroutine.wrap(function() return client:register() end)
  local result = assert(co())
  assert(result.status == "assigned" and seen >= 3, seen)
end)

local rss_kb = Emulator.rss_kb

test("10,000 clients with every new option and handlers: bounded RSS", function()
  local function cycle()
    local client = assert(prov.create_symkey_group{ provisioning_host = "localhost:8883",
      registration_id = "lua-stress", id_scope = Emulator.ID_SCOPE,
      group_key = Emulator.GROUP_KEY, transport = "mqtt-ws", csr_key_type = "rsa",
      proxy = { type = "socks5", address = "127.0.0.1", port = 1080, username = "u",
        password = "p" }, retry = { max_retries = 2 } })
    client:on_progress(print)
    client:close()
  end
  for _ = 1, 1000 do cycle() end
  collectgarbage("collect")
  collectgarbage("collect")
  local before = rss_kb()
  for _ = 1, 10000 do cycle() end
  collectgarbage("collect")
  collectgarbage("collect")
  local growth = rss_kb() - before
  io.write(string.format("(growth %d kB) ", growth))
  assert(growth < 2048, growth)
end)

os.execute("rm -rf " .. shell_quote(dir))
print(string.format("all %d Lua feature tests passed", passed()))
