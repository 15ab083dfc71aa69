-- paced.lua - load.lua at a set pace, with every answer checked: each
-- connection waits a random 0.5-1.5 times INTERVAL_MS (mean INTERVAL_MS)
-- before its next request, so 64 connections send about 64000 / INTERVAL_MS
-- requests a second. wrk times a request from when it is written, so the
-- wait is not part of its latency. Counts answers whose status is not
-- EXPECTED (default 200) and answers that carry "Connection: close".
--   wrk ... -s bench/paced.lua URL -- PATHS_FILE INTERVAL_MS [EXPECTED]
dofile("bench/load.lua")
local load_init = init
local interval = 10
local expected = 200
local threads = {}
unexpected = 0
closes = 0

local load_setup = setup
function setup(thread)
  load_setup(thread)
  threads[#threads + 1] = thread
end

function init(args)
  load_init(args)
  interval = tonumber(args[2]) or interval
  expected = tonumber(args[3]) or expected
  math.randomseed((thread_number or 1) * 104729)
end

function delay()
  return math.floor(interval * (0.5 + math.random()) + math.random())
end

function response(status, headers, body)
  if status ~= expected then
    unexpected = unexpected + 1
  end
  for name, value in pairs(headers) do
    if string.lower(name) == "connection" and string.lower(value) == "close" then
      closes = closes + 1
    end
  end
end

function done(summary, latency, requests)
  local u, c = 0, 0
  for _, t in ipairs(threads) do
    u = u + (t:get("unexpected") or 0)
    c = c + (t:get("closes") or 0)
  end
  io.write(string.format("paced: unexpected %d closes %d\n", u, c))
end
