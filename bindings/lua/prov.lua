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
  "PROV_E_INTERNAL" }) do
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

-- Option name -> {Lua type, native setter, conversion}.
local OPTIONS = {
  server_verification_cert = { "string", "set_server_verification_cert" },
  gateway_hostname = { "string", "set_gateway_hostname" },
  cipher = { "string", "set_cipher" }, -- or a table of names, joined with ':'
  keep_alive = { "number", "set_keep_alive", math.tointeger },
  sastoken_ttl = { "number", "set_sastoken_ttl", math.tointeger },
  provisioning_payload = { "string", "set_provisioning_payload" }, -- JSON text
  register_timeout = { "number", "set_register_timeout", milliseconds }, -- seconds
  response_timeout = { "number", "set_response_timeout", milliseconds }, -- seconds
}
local IDENTITY = { provisioning_host = true, registration_id = true, id_scope = true,
  symmetric_key = true }

-- Result ------------------------------------------------------------------

local RESULT_STRINGS = { "operation_id", "status", "registration_id", "device_id",
  "assigned_hub", "substatus", "created_date_time", "last_update_date_time", "etag",
  "payload", "registration_state_json", "tracking_id", "error_message" }

-- Copies a native result into a plain table and frees the native one.
local function result_table(native_result)
  local result = {}
  for _, field in ipairs(RESULT_STRINGS) do
    result[field] = native_result[field](native_result)
  end
  result.error_code = native_result:error_code()
  result.http_status = native_result:http_status()
  native_result:close()
  return result
end

-- Client ------------------------------------------------------------------

local Client = {}
Client.__index = Client
Client.__name = "prov.Client"

--- Frees the native client (wiping its key) now. Idempotent.
function Client:close()
  local handle = self._native
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
  if value ~= nil and option[3] then
    local converted = option[3](value)
    if converted == nil then
      error("prov.Client:set: option '" .. name .. "' must be an integer", 2)
    end
    value = converted
  end
  if self._native == nil then
    return closed_error()
  end
  local handle = self._native
  local ok, err = try(handle[option[2]], handle, value)
  if err then
    return nil, err
  end
  return ok == nil or ok
end

--- Custom data for the registration request, as JSON text (nil clears).
function Client:set_provisioning_payload(json_text)
  return self:set("provisioning_payload", json_text)
end

--- Registers the device. Returns a result table with operation_id, status,
-- registration_id, device_id, assigned_hub, substatus, created_date_time,
-- last_update_date_time, etag, payload (JSON text), registration_state_json,
-- error_code, http_status, tracking_id; or nil and the error.
function Client:register()
  if self._native == nil then
    return closed_error()
  end
  local native_result, err = try(self._native.register, self._native)
  if native_result == nil then
    return nil, err
  end
  return result_table(native_result)
end

--- Creates a client for a symmetric-key registration. `options` holds
-- provisioning_host, registration_id, id_scope, symmetric_key and any of
-- server_verification_cert (PEM text), gateway_hostname, cipher, keep_alive
-- (s), sastoken_ttl (s), provisioning_payload (JSON text), register_timeout
-- (s), response_timeout (s). Returns the client, or nil and the error.
function prov.create_symkey(options)
  if type(options) ~= "table" then
    error("prov.create_symkey: expected a table of options", 2)
  end
  for name in pairs(options) do
    if not IDENTITY[name] and not OPTIONS[name] then
      error("prov.create_symkey: unknown option '" .. tostring(name) .. "'", 2)
    end
  end
  for name in pairs(IDENTITY) do
    check_type("prov.create_symkey", name, options[name], "string")
  end
  local handle, err = try(native.ProvClient, options.provisioning_host, options.registration_id,
    options.id_scope, options.symmetric_key)
  if handle == nil then
    return nil, err
  end
  local client = setmetatable({ _native = handle }, Client)
  for name in pairs(OPTIONS) do
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
