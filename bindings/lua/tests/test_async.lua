-- Asynchronous registration by polling (client:register_async) against a
-- real dps-emulator. Plain asserts; exits non-zero on the first failure.
-- Run by ctest (bindings.lua.async).
local prov = require("prov")
local Emulator = require("emulator")

local test, passed = Emulator.test_runner()

local emulator <close> = Emulator.start(Emulator.CONFIG)

local function client_for(registration_id, overrides)
  return emulator:symkey_client(prov, registration_id, overrides)
end

local function now_ms()
  local pipe = assert(io.popen("date +%s%3N"))
  local value = tonumber(pipe:read("a"))
  pipe:close()
  return value
end

-- Polls (with short waits in between) until the end; all events in order.
local function poll_to_end(operation)
  local states = {}
  for _ = 1, 4000 do
    local events, result, err = operation:poll()
    for _, event in ipairs(events) do
      assert(type(event.detail) == "string" and math.type(event.retry_after_ms) == "integer")
      states[#states + 1] = event.state
    end
    if result ~= nil or err ~= nil then return states, result, err end
    operation:wait(10)
  end
  error("the registration did not end within 40 s")
end

test("async success: progress states in order, then the result", function()
  local client <close> = client_for("lua-dev-1")
  local operation = assert(client:register_async())
  local states, result, err = poll_to_end(operation)
  assert(result, tostring(err))
  assert(result.status == "assigned" and result.device_id == "lua-device-one", result.status)
  local sequence = table.concat(states, ",")
  assert(states[1] == "connecting" and states[#states] == "assigned", sequence)
  -- first occurrences in order (a loaded machine may add a "retrying" and a
  -- reconnect in between; nothing else may appear)
  local first = {}
  for index, state in ipairs(states) do
    assert(({ connecting = 1, connected = 1, registering = 1, assigning = 1, retrying = 1,
      assigned = 1 })[state], "unexpected state " .. state)
    first[state] = first[state] or index
  end
  assert(first.connected and first.registering, sequence)
  assert(first.connecting < first.connected and first.connected < first.registering and
    first.registering < first.assigned, sequence)
  assert(first.assigned == #states, sequence)
  -- the outcome stays; no more events
  local events, again = operation:poll()
  assert(#events == 0 and again.device_id == result.device_id)
  assert(operation:done() and tostring(operation) == "prov.Operation(done)")
  -- the client is idle again at once: options and a blocking register work
  assert(client:set("register_timeout", 15))
  assert(assert(client:register()).status == "assigned")
end)

test("async wait(timeout) returns the result; events stay for poll", function()
  local client <close> = client_for("lua-dev-1")
  local operation = assert(client:register_async())
  local result, err = operation:wait(30000)
  assert(result, tostring(err))
  assert(result.assigned_hub and result.status == "assigned")
  local events, polled = operation:poll()
  assert(#events >= 3 and events[1].state == "connecting", #events)
  assert(polled == result)
end)

test("async wrong key: the same error as the blocking register()", function()
  local client <close> = client_for("lua-dev-1", { symmetric_key = Emulator.WRONG_KEY })
  local _, sync_err = client:register()
  assert(sync_err and sync_err.code == "PROV_E_CREDENTIAL", tostring(sync_err))
  local operation = assert(client:register_async())
  local states, result, err = poll_to_end(operation)
  assert(result == nil and getmetatable(err) == getmetatable(sync_err), tostring(err))
  assert(err.code == sync_err.code and err.status == prov.status.PROV_E_CREDENTIAL)
  assert(err.error_code == sync_err.error_code and err.error_code >= 401000 and
    err.error_code <= 401999, err.error_code)
  assert(err.http_status == 401 and type(err.tracking_id) == "string")
  assert(not tostring(err):find(Emulator.WRONG_KEY, 1, true), "key leaked into the error")
  assert(states[#states] == "failed", table.concat(states, ","))
  -- wait() after the end gives the same outcome
  local waited, waited_err = operation:wait(0)
  assert(waited == nil and waited_err == err)
end)

test("busy while in flight; cancel ends it with PROV_E_CANCELLED within 1 s", function()
  local client <close> = client_for("lua-silent", { register_timeout = 30 })
  local operation = assert(client:register_async())
  assert(operation:wait(300) == false and not operation:done())
  local again, busy = client:register_async()
  assert(again == nil and busy.code == "PROV_E_BUSY", tostring(busy))
  local _, set_err = client:set("keep_alive", 30)
  assert(set_err and set_err.code == "PROV_E_BUSY", tostring(set_err))
  local started = now_ms()
  assert(operation:cancel())
  local result, err = operation:wait(5000)
  local elapsed = now_ms() - started
  assert(result == nil and err and err.code == "PROV_E_CANCELLED", tostring(err))
  assert(elapsed <= 1000, "cancel took " .. elapsed .. " ms")
  operation:cancel() -- after the end: nothing
  -- the client registers again (a blocking register times out on lua-silent)
  assert(client:set("register_timeout", 1))
  local _, timeout_err = client:register()
  assert(timeout_err and timeout_err.code == "PROV_E_TIMEOUT", tostring(timeout_err))
end)

test("close() of a client with a running operation cancels it", function()
  local client = client_for("lua-silent", { register_timeout = 30 })
  local operation = assert(client:register_async())
  local started = now_ms()
  client:close()
  assert(now_ms() - started <= 2000)
  local result, err = operation:wait(0)
  assert(result == nil and err.code == "PROV_E_CANCELLED", tostring(err))
  local closed, closed_err = client:register_async()
  assert(closed == nil and closed_err.message == "client is closed")
end)

test("garbage collection of an unfinished operation cancels it", function()
  local client <close> = client_for("lua-silent", { register_timeout = 30 })
  do
    local operation = assert(client:register_async())
    assert(operation:wait(200) == false)
  end
  collectgarbage("collect")
  collectgarbage("collect")
  -- the collected operation released the client
  assert(client:set("register_timeout", 20))
  local operation = assert(client:register_async())
  operation:cancel()
  local _, err = operation:wait(5000)
  assert(err and err.code == "PROV_E_CANCELLED", tostring(err))
  -- client and unfinished operation garbage together: no crash, no hang
  for index = 1, 5 do
    local doomed = client_for("lua-silent", { register_timeout = 30 })
    assert(doomed:register_async())
    if index % 2 == 0 then collectgarbage("collect") end
  end
  collectgarbage("collect")
  collectgarbage("collect")
end)

test("20 registrations in flight at once, polled in turn", function()
  local clients, operations = {}, {}
  for index = 1, 20 do
    clients[index] = client_for("lua-dev-1")
    operations[index] = assert(clients[index]:register_async())
  end
  local pending, outcomes = 20, {}
  for _ = 1, 4000 do
    local running
    for index, operation in ipairs(operations) do
      if outcomes[index] == nil then
        local _, result, err = operation:poll()
        if result or err then
          outcomes[index] = result or err
          pending = pending - 1
        else
          running = operation
        end
      end
    end
    if running == nil then break end
    running:wait(10)
  end
  assert(pending == 0, pending .. " still running")
  for index = 1, 20 do
    assert(outcomes[index].status == "assigned", tostring(outcomes[index]))
    clients[index]:close()
  end
end)

test("after an async registration, the blocking one's handlers run again", function()
  local client <close> = client_for("lua-dev-1")
  local seen = {}
  client:on_progress(function(state) seen[#seen + 1] = state end)
  local lines = 0
  client:on_log(function() lines = lines + 1 end, "debug")
  assert(assert(client:register()).status == "assigned")
  local sync_events = #seen
  assert(sync_events >= 3 and lines > 0, sync_events)
  -- async: the handlers are not called (no Lua on libprov's threads) ...
  local operation = assert(client:register_async())
  local states, result = poll_to_end(operation)
  assert(result and #states >= 3 and #seen == sync_events, #seen)
  -- ... and are called again by the next blocking register()
  lines = 0
  assert(assert(client:register()).status == "assigned")
  assert(#seen >= 2 * sync_events - 1 and seen[#seen] == "assigned" and lines > 0, #seen)
end)

local rss_kb = Emulator.rss_kb

test("1,000 create/register_async/poll/free cycles: bounded RSS", function()
  local function cycle()
    local client = client_for("lua-dev-1")
    local operation = assert(client:register_async())
    local _, result, err = poll_to_end(operation)
    assert(result, tostring(err))
    client:close()
  end
  for _ = 1, 100 do cycle() end -- warm-up
  collectgarbage("collect")
  collectgarbage("collect")
  local before = rss_kb()
  for _ = 1, 1000 do cycle() end
  collectgarbage("collect")
  collectgarbage("collect")
  local growth = rss_kb() - before
  io.write(string.format("(growth %d kB) ", growth))
  -- a leaked result, queue or operation block per cycle (>= 2 kB) exceeds this
  assert(growth < 2048, growth)
end)

print(string.format("all %d Lua async tests passed", passed()))
