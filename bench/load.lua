-- load.lua - wrk script: GET requests taken in turn from a file, one a line:
--   PATH                      or
--   PATH<TAB>Name: value<TAB>Name: value ...   (headers for that request)
-- Headers given with wrk -H go on every request. Each thread starts at a
-- different line, so the threads do not ask for the same thing in step.
--   wrk ... -s bench/load.lua URL -- PATHS_FILE
local requests = {}
local next_index = 0
local threads_made = 0

function setup(thread)
  threads_made = threads_made + 1
  thread:set("thread_number", threads_made)
end

function init(args)
  local file = args[1]
  if not file then
    error("load.lua: give the file of paths after --")
  end
  for line in io.lines(file) do
    if line ~= "" then
      local fields = {}
      for field in string.gmatch(line, "[^\t]+") do
        fields[#fields + 1] = field
      end
      local headers = {}
      for name, value in pairs(wrk.headers) do
        headers[name] = value
      end
      for k = 2, #fields do
        local name, value = string.match(fields[k], "^([^:]+):%s*(.*)$")
        headers[name] = value
      end
      requests[#requests + 1] = wrk.format("GET", fields[1], headers)
    end
  end
  if #requests == 0 then
    error("load.lua: no paths in " .. file)
  end
  next_index = ((thread_number or 1) * 7919) % #requests
end

function request()
  next_index = next_index % #requests + 1
  return requests[next_index]
end
