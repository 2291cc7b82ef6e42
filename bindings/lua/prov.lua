--- prov: the libprov DPS device client for Lua 5.4.
--
--   local prov = require("prov")
--   local client <close> = assert(prov.create_symkey{
--     provisioning_host = "global.azure-devices-provisioning.net",
--     registration_id = "my-device", id_scope = "0ne00000A0A", symmetric_key = key,
--   })
--   local result, err = client:register()
--   if not result then error(tostring(err)) end
--   print(result.assigned_hub, result.device_id)
--
-- Failures the program should handle (the service said no, the network
-- failed, a value was rejected) return `nil, err`, where err is a table:
--   err.code / err.status_name  e.g. "PROV_E_CREDENTIAL" (see prov.status)
--   err.status                  the numeric prov_status
--   err.message                 libprov's explanation (never contains a key)
--   err.error_code              the 6-digit DPS error code, 0 when none
--   err.http_status             the service's HTTP-like status, 0 when none
--   err.tracking_id, err.service_message, err.registration_status  (or nil)
-- tostring(err) gives one readable line. Programming errors (unknown option
-- names, wrong argument types) raise with error() instead.
--
-- Native handles are freed by close(), by `<close>` variables (__close) and,
-- failing both, by the garbage collector (the native proxy's __gc).

local native = require("prov_native")

local prov = {}

--- The libprov library version, e.g. "1.0.0".
prov.version = native.version_string()

--- Status names to numbers, e.g. prov.status.PROV_E_TIMEOUT == 6.
prov.status = {}
for _, name in ipairs({ "PROV_OK", "PROV_E_INVALID_ARG", "PROV_E_NOMEM", "PROV_E_CREDENTIAL",
  "PROV_E_CONNECTION_FAILED", "PROV_E_CONNECTION_DROPPED", "PROV_E_TIMEOUT",
  "PROV_E_CANCELLED", "PROV_E_SERVICE", "PROV_E_PROTOCOL", "PROV_E_BUSY",
  "PROV_E_INTERNAL", "PROV_E_CERTIFICATE" }) do
  prov.status[name] = native[name]
end

-- Errors ------------------------------------------------------------------

local Error = {}
Error.__index = Error
Error.__name = "prov.Error"

function Error.__tostring(err)
  local text = err.status_name .. ": " .. err.message
  if err.error_code ~= 0 and not text:find(tostring(err.error_code), 1, true) then
    text = text .. " (error code " .. err.error_code .. ")"
  end
  if err.tracking_id and not text:find(err.tracking_id, 1, true) then
    text = text .. " (tracking id " .. err.tracking_id .. ")"
  end
  return text
end

-- The native module raises a table for libprov failures, and a string for
-- SWIG's own argument checks (a programming error: re-raised).
local function as_error(raised)
  if type(raised) ~= "table" or raised.status == nil then
    error(raised, 0)
  end
  raised.code = raised.status_name
  return setmetatable(raised, Error)
end

-- Calls a native function: its results, or nil and the error table.
local function try(native_function, ...)
  local outcome = table.pack(pcall(native_function, ...))
  if outcome[1] then
    return table.unpack(outcome, 2, outcome.n)
  end
  return nil, as_error(outcome[2])
end

-- Arguments ---------------------------------------------------------------

local function check_type(where, name, value, expected)
  if value ~= nil and type(value) ~= expected then
    error(string.format("%s: option '%s' must be a %s, not a %s", where, name, expected,
      type(value)), 3)
  end
end

local function milliseconds(seconds)
  return math.ceil(seconds * 1000)
end

-- Named choices -> native values.
local function choice(where, name, value, choices)
  local native_value = choices[value]
  if native_value == nil then
    local names = {}
    for key in pairs(choices) do names[#names + 1] = key end
    table.sort(names)
    error(string.format("%s: option '%s' must be one of %s, not %s", where, name,
      table.concat(names, ", "), tostring(value)), 4)
  end
  return native_value
end

local TRANSPORTS = { mqtt = native.PROV_TRANSPORT_MQTT, ["mqtt-ws"] = native.PROV_TRANSPORT_MQTT_WS,
  https = native.PROV_TRANSPORT_HTTPS }
local PROXY_TYPES = { http = native.PROV_PROXY_HTTP, https = native.PROV_PROXY_HTTPS,
  socks4 = native.PROV_PROXY_SOCKS4, socks4a = native.PROV_PROXY_SOCKS4A,
  socks5 = native.PROV_PROXY_SOCKS5, socks5h = native.PROV_PROXY_SOCKS5H }
local CSR_KEY_TYPES = { ec = native.PROV_KEY_EC_P256, rsa = native.PROV_KEY_RSA_2048 }
local CSR_APIS = { ["2025-07-01-preview"] = native.PROV_CSR_API_2025_07_01_PREVIEW,
  ["2021-11-01-preview"] = native.PROV_CSR_API_2021_11_01_PREVIEW }

-- Option name -> {Lua type, native setter, conversion, arguments for nil}.
-- A conversion may return several values (the setter's arguments).
local OPTIONS = {
  server_verification_cert = { "string", "set_server_verification_cert" },
  gateway_hostname = { "string", "set_gateway_hostname" },
  cipher = { "string", "set_cipher" }, -- or a table of names, joined with ':'
  keep_alive = { "number", "set_keep_alive", math.tointeger },
  sastoken_ttl = { "number", "set_sastoken_ttl", math.tointeger },
  provisioning_payload = { "string", "set_provisioning_payload" }, -- JSON text
  register_timeout = { "number", "set_register_timeout", milliseconds }, -- seconds
  response_timeout = { "number", "set_response_timeout", milliseconds }, -- seconds
  -- "mqtt" (default), "mqtt-ws" (MQTT over WebSockets, port 443) or "https"
  transport = { "string", "set_transport",
    function(value) return choice("prov.Client:set", "transport", value, TRANSPORTS) end,
    { native.PROV_TRANSPORT_MQTT } },
  -- { type = "http"|"https"|"socks4"|"socks4a"|"socks5"|"socks5h", address =,
  --   port =, username = (optional), password = (optional) }
  proxy = { "table", "set_proxy", function(value)
    local port = math.tointeger(value.port)
    if type(value.address) ~= "string" or port == nil then
      error("prov.Client:set: option 'proxy' needs address (string) and port (integer)", 4)
    end
    return choice("prov.Client:set", "proxy.type", value.type, PROXY_TYPES), value.address, port,
      value.username, value.password
  end, { native.PROV_PROXY_NONE, nil, 0, nil, nil, n = 5 } },
  proxy_url = { "string", "set_proxy_url" }, -- "socks5h://user:pass@host:port"
  proxy_ca_cert = { "string", "set_proxy_ca_cert" }, -- PEM roots of an https proxy
  -- certificate issuance: "ec" or "rsa" (libprov makes the key and the CSR) ...
  csr_key_type = { "string", "set_csr_auto",
    function(value) return choice("prov.Client:set", "csr_key_type", value, CSR_KEY_TYPES) end,
    { native.PROV_KEY_NONE } },
  -- ... or a CSR of your own, PEM text or DER bytes
  csr = { "string", "set_csr_pem" },
  csr_api = { "string", "set_csr_api",
    function(value) return choice("prov.Client:set", "csr_api", value, CSR_APIS) end,
    { native.PROV_CSR_API_2025_07_01_PREVIEW } },
  -- { max_retries = n, initial_backoff = s, max_backoff = s } (defaults 10, 1, 30)
  retry = { "table", "set_retry_policy", function(value)
    local max_retries = math.tointeger(value.max_retries or 10)
    if max_retries == nil or max_retries < 0 then
      error("prov.Client:set: retry.max_retries must be an integer >= 0", 4)
    end
    return max_retries, milliseconds(value.initial_backoff or 1),
      milliseconds(value.max_backoff or 30)
  end, { 10, 1000, 30000 } },
}
-- What each create function takes besides OPTIONS (all strings).
local IDENTITIES = {
  create_symkey = { "provisioning_host", "registration_id", "id_scope", "symmetric_key" },
  create_symkey_group = { "provisioning_host", "registration_id", "id_scope", "group_key" },
  create_x509 = { "provisioning_host", "registration_id", "id_scope", "cert_file", "key_file",
    "pass_phrase" },
  create_x509_pem = { "provisioning_host", "registration_id", "id_scope", "cert_pem", "key_pem",
    "pass_phrase" },
}

-- Result ------------------------------------------------------------------

local RESULT_STRINGS = { "operation_id", "status", "registration_id", "device_id",
  "assigned_hub", "substatus", "created_date_time", "last_update_date_time", "etag",
  "payload", "registration_state_json", "tracking_id", "error_message",
  -- X.509 and groups
  "enrollment_group_id", "x509_json", "x509_certificate_info_json",
  -- certificate issuance (PEM text)
  "issued_certificate_chain_pem", "generated_private_key_pem", "trust_bundle_pem" }

-- Copies a native result into a plain table and frees the native one.
local function result_table(native_result)
  local result = {}
  for _, field in ipairs(RESULT_STRINGS) do
    result[field] = native_result[field](native_result)
  end
  result.error_code = native_result:error_code()
  result.http_status = native_result:http_status()
  -- The issued chain as DER strings, leaf first (empty when none).
  result.issued_certificates = {}
  for index = 0, native_result:issued_certificate_count() - 1 do
    result.issued_certificates[index + 1] = native_result:issued_certificate_der(index)
  end
  native_result:close()
  return result
end

-- Client ------------------------------------------------------------------

local Client = {}
Client.__index = Client
Client.__name = "prov.Client"

--- Frees the native client (wiping its key) now. Idempotent. A
-- registration started by register_async() is cancelled and waited for
-- first (libprov stops it within 100 ms).
function Client:close()
  local handle = self._native
  local operation = self._operation and self._operation[1]
  self._operation = nil
  if operation ~= nil then
    operation:cancel()
    native.async_wait(operation._native)
  end
  if handle ~= nil then
    self._native = nil
    handle:close()
  end
end

-- Closing a `<close>` variable frees the handle at the end of its scope.
Client.__close = Client.close
-- No __gc here: the native proxy held in _native has its own finalizer,
-- which frees the handle if close() was never called; touching it from
-- this table's finalizer could run after it.

function Client:is_closed()
  return self._native == nil
end

function Client.__tostring(client)
  return string.format("prov.Client(%s)", client._native and "open" or "closed")
end

local CLOSED_ERROR = { status = native.PROV_E_INVALID_ARG, status_name = "PROV_E_INVALID_ARG",
  message = "client is closed", error_code = 0, http_status = 0 }

local function closed_error()
  local copy = {}
  for key, value in pairs(CLOSED_ERROR) do
    copy[key] = value
  end
  return nil, as_error(copy)
end

--- Sets one option (see OPTIONS). Returns true, or nil and the error.
function Client:set(name, value)
  local option = OPTIONS[name]
  if option == nil then
    error("prov.Client:set: unknown option '" .. tostring(name) .. "'", 2)
  end
  if name == "cipher" and type(value) == "table" then
    value = table.concat(value, ":")
  end
  check_type("prov.Client:set", name, value, option[1])
  local setter, arguments = option[2], table.pack(value)
  if value == nil and option[4] then
    -- the setter's "none" or default values
    arguments = table.pack(table.unpack(option[4], 1, option[4].n or #option[4]))
  elseif value ~= nil and option[3] then
    arguments = table.pack(option[3](value))
    if arguments[1] == nil then
      error("prov.Client:set: option '" .. name .. "' must be an integer", 2)
    end
  end
  if name == "csr" and value ~= nil and not value:find("^%s*%-%-%-%-%-BEGIN") then
    setter = "set_csr_der" -- not PEM: DER bytes
  end
  if self._native == nil then
    return closed_error()
  end
  local handle = self._native
  local ok, err = try(handle[setter], handle, table.unpack(arguments, 1, arguments.n))
  if err then
    return nil, err
  end
  return ok == nil or ok
end

--- Custom data for the registration request, as JSON text (nil clears).
function Client:set_provisioning_payload(json_text)
  return self:set("provisioning_payload", json_text)
end

local PROGRESS_STATES = {
  [native.PROV_PROGRESS_CONNECTING] = "connecting",
  [native.PROV_PROGRESS_CONNECTED] = "connected",
  [native.PROV_PROGRESS_REGISTERING] = "registering",
  [native.PROV_PROGRESS_ASSIGNING] = "assigning",
  [native.PROV_PROGRESS_RETRYING] = "retrying",
  [native.PROV_PROGRESS_ASSIGNED] = "assigned",
  [native.PROV_PROGRESS_FAILED] = "failed",
}
local LOG_LEVELS = { debug = native.PROV_LOG_DEBUG, info = native.PROV_LOG_INFO,
  warning = native.PROV_LOG_WARNING, error = native.PROV_LOG_ERROR }
local LOG_LEVEL_NAMES = {}
for name, value in pairs(LOG_LEVELS) do LOG_LEVEL_NAMES[value] = name end

--- Progress handler: fn(state, detail, retry_after_seconds) is called during
-- register() as it goes on; state is "connecting", "connected",
-- "registering", "assigning", "retrying", "assigned" or "failed". nil clears.
function Client:on_progress(fn)
  if fn ~= nil and type(fn) ~= "function" then
    error("prov.Client:on_progress: expected a function or nil", 2)
  end
  self._on_progress = fn
end

--- Log handler: fn(level, message) for libprov's log lines of `min_level`
-- ("debug", "info" (default), "warning", "error") and above, during
-- register(). Messages never hold a secret. nil clears.
function Client:on_log(fn, min_level)
  if fn ~= nil and type(fn) ~= "function" then
    error("prov.Client:on_log: expected a function or nil", 2)
  end
  self._log_level = choice("prov.Client:on_log", "min_level", min_level or "info", LOG_LEVELS)
  self._on_log = fn
end

--- Stops the registration in flight (from a progress or log handler: Lua
-- has no other thread); register() then returns nil and a PROV_E_CANCELLED
-- error within about 100 ms. Does nothing without a registration in flight.
function Client:cancel()
  if self._native == nil then
    return true
  end
  local ok, err = try(self._native.cancel, self._native)
  if err then return nil, err end
  return true
end

-- Points the native callbacks at this client's handlers for one register().
-- A handler's error cannot unwind through libprov: it is kept and raised
-- once register() has returned.
local function install_callbacks(self)
  if self._on_progress == nil and self._on_log == nil and self._callbacks == nil then
    return true
  end
  if self._callbacks == nil then
    self._callbacks = native.new_callbacks()
  end
  local progress, log
  if self._on_progress then
    local handler = self._on_progress
    progress = function(state, detail, retry_after_ms)
      local ok, err = pcall(handler, PROGRESS_STATES[state] or tostring(state), detail,
        retry_after_ms / 1000)
      if not ok and self._handler_error == nil then self._handler_error = err end
    end
  end
  if self._on_log then
    local handler = self._on_log
    log = function(level, message)
      local ok, err = pcall(handler, LOG_LEVEL_NAMES[level] or tostring(level), message)
      if not ok and self._handler_error == nil then self._handler_error = err end
    end
  end
  return try(native.install_callbacks, self._native, self._callbacks, progress, log,
    self._log_level or native.PROV_LOG_INFO)
end

--- Registers the device. Returns a result table with operation_id, status,
-- registration_id, device_id, assigned_hub, substatus, created_date_time,
-- last_update_date_time, etag, payload (JSON text), registration_state_json,
-- error_code, http_status, tracking_id, enrollment_group_id, x509_json,
-- x509_certificate_info_json, issued_certificate_chain_pem,
-- issued_certificates (DER strings), generated_private_key_pem,
-- trust_bundle_pem; or nil and the error.
function Client:register()
  if self._native == nil then
    return closed_error()
  end
  local installed, install_err = install_callbacks(self)
  if not installed then
    return nil, install_err
  end
  self._handler_error = nil
  if self._callbacks then native.bind_callbacks_thread(self._callbacks, true) end
  local native_result, err = try(self._native.register, self._native)
  if self._callbacks then native.bind_callbacks_thread(self._callbacks, false) end
  local handler_error = self._handler_error
  self._handler_error = nil
  if native_result ~= nil then
    native_result = result_table(native_result)
  end
  if handler_error ~= nil then
    error(handler_error, 0)
  end
  if native_result == nil then
    return nil, err
  end
  return native_result
end

-- Asynchronous registration -----------------------------------------------

local Operation = {}
Operation.__index = Operation
Operation.__name = "prov.Operation"

function Operation.__tostring(operation)
  return string.format("prov.Operation(%s)", operation:done() and "done" or "running")
end

-- Once ended: the outcome, taken once from the native side and kept.
local function settle(operation)
  if operation._outcome == nil then
    local result, err = try(native.async_take, operation._native)
    if result ~= nil then result = result_table(result) end
    operation._outcome = { result, err }
  end
  return operation._outcome[1], operation._outcome[2]
end

--- The progress events since the last poll, in order: a list of tables
-- { state = "connecting"|"connected"|"registering"|"assigning"|"retrying"|
-- "assigned"|"failed", detail = string, retry_after_ms = integer }. Once the
-- registration has ended, also its outcome: `events, result` or
-- `events, nil, err` (every later poll returns the same outcome);
-- `events` alone while it runs. Never blocks.
function Operation:poll()
  local raw, finished = native.async_poll(self._native)
  local events = {}
  for index, event in ipairs(raw) do
    events[index] = { state = PROGRESS_STATES[event.state] or tostring(event.state),
      detail = event.detail, retry_after_ms = event.retry_after_ms }
  end
  if not finished then
    return events
  end
  local result, err = settle(self)
  return events, result, err
end

--- Blocks the calling thread (C waiting, no Lua runs) until the
-- registration ends or `timeout_ms` passes (nil: no limit). Returns the
-- result, or nil and the error, once ended; false while still running.
-- Progress events stay queued for poll().
function Operation:wait(timeout_ms)
  local limit = timeout_ms
  if limit ~= nil then
    limit = math.tointeger(limit)
    if limit == nil or limit < 0 then
      error("prov.Operation:wait: timeout_ms must be a non-negative integer or nil", 2)
    end
  end
  if not native.async_wait(self._native, limit) then
    return false
  end
  return settle(self)
end

--- True once the registration has ended (its outcome is then available).
function Operation:done()
  return self._outcome ~= nil or native.async_wait(self._native, 0)
end

--- Stops the registration: it ends with a PROV_E_CANCELLED error within
-- about 100 ms. Does nothing once it has ended.
function Operation:cancel()
  native.async_cancel(self._native)
  return true
end

--- Starts the registration and returns at once with an operation
-- (poll/wait/cancel/done), or nil and the error (e.g. PROV_E_BUSY while
-- another registration on this client runs). libprov runs it on its own
-- threads; no Lua code runs there: progress is queued for op:poll(). The
-- client stays busy (setters and register fail with PROV_E_BUSY) until
-- the operation has been seen to end (poll/wait/done). An operation the
-- garbage collector finds unfinished is cancelled and waited for.
function Client:register_async()
  if self._native == nil then
    return closed_error()
  end
  local handle, err = try(native.async_start, self._native)
  if handle == nil then
    return nil, err
  end
  local operation = setmetatable({ _native = handle, _client = self }, Operation)
  -- Weak: close() finds a running operation, and an operation dropped by
  -- the program is still collected (and so cancelled) while the client lives.
  self._operation = setmetatable({ operation }, { __mode = "v" })
  return operation
end

-- Shared by the create functions: checks the option names and types, makes
-- the native client with `constructor` and applies the options.
local function create(kind, constructor, options)
  local where = "prov." .. kind
  if type(options) ~= "table" then
    error(where .. ": expected a table of options", 3)
  end
  local identity = IDENTITIES[kind]
  local is_identity = {}
  for _, name in ipairs(identity) do is_identity[name] = true end
  for name in pairs(options) do
    if not is_identity[name] and not OPTIONS[name] then
      error(where .. ": unknown option '" .. tostring(name) .. "'", 3)
    end
  end
  local arguments = {}
  for index, name in ipairs(identity) do
    check_type(where, name, options[name], "string")
    arguments[index] = options[name]
  end
  if options.csr_key_type ~= nil and options.csr ~= nil then
    error(where .. ": use either csr_key_type or csr, not both", 3)
  end
  if options.proxy ~= nil and options.proxy_url ~= nil then
    error(where .. ": use either proxy or proxy_url, not both", 3)
  end
  local handle, err = try(constructor, table.unpack(arguments, 1, #identity))
  if handle == nil then
    return nil, err
  end
  local client = setmetatable({ _native = handle }, Client)
  -- A fixed order (libprov checks combinations at register time).
  local order = {}
  for name in pairs(OPTIONS) do order[#order + 1] = name end
  table.sort(order)
  for _, name in ipairs(order) do
    if options[name] ~= nil then
      local ok, option_err = client:set(name, options[name])
      if not ok then
        client:close()
        return nil, option_err
      end
    end
  end
  return client
end

--- Creates a client for a symmetric-key registration. `options` holds
-- provisioning_host, registration_id, id_scope, symmetric_key and any of
-- the options (see README): server_verification_cert (PEM text),
-- gateway_hostname, cipher, keep_alive (s), sastoken_ttl (s),
-- provisioning_payload (JSON text), register_timeout (s), response_timeout
-- (s), transport, proxy, proxy_url, proxy_ca_cert, csr_key_type, csr,
-- csr_api, retry. Returns the client, or nil and the error.
function prov.create_symkey(options)
  return create("create_symkey", native.ProvClient, options)
end

--- A client for a device of a symmetric-key GROUP enrollment: group_key
-- instead of symmetric_key (the device key is derived from it).
function prov.create_symkey_group(options)
  return create("create_symkey_group", native.create_symkey_group_client, options)
end

--- A client that registers with an X.509 certificate: cert_file (PEM, the
-- device certificate then any intermediates), key_file (PEM) and an optional
-- pass_phrase. A certificate or key libprov cannot use returns nil and a
-- PROV_E_CERTIFICATE error naming the file and the problem. sastoken_ttl
-- does not apply (PROV_E_INVALID_ARG).
function prov.create_x509(options)
  return create("create_x509", native.create_x509_client, options)
end

--- The same with the certificate chain and key as PEM text: cert_pem, key_pem.
function prov.create_x509_pem(options)
  return create("create_x509_pem", native.create_x509_pem_client, options)
end

-- Helpers -----------------------------------------------------------------

--- The device key for a symmetric-key group enrollment, or nil and the error.
function prov.derive_device_key(group_key, registration_id)
  return try(native.derive_device_key, group_key, registration_id)
end

--- The SAS token for a registration, valid until `expiry` (Unix seconds).
function prov.generate_sas_token(id_scope, registration_id, symmetric_key, expiry)
  return try(native.generate_sas_token, id_scope, registration_id, symmetric_key, expiry)
end

return prov
