-- Shared helpers for the wrk scripts: per-thread ids, data files, and one
-- machine-readable result line ("BENCH_RESULT {...}") printed by done().
--
-- Every script starts with:  local common = dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
-- and then sets `setup = common.setup` and `done = common.done`.

local M = {}

local threads = {}

-- Runs in wrk's main Lua state, once per thread, before the thread's init().
function M.setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)  -- 1-based thread index
end

-- Lines of a data file written by bench/run.py (path from an environment variable).
function M.lines(env_name)
  local path = os.getenv(env_name)
  if not path then error(env_name .. " is not set") end
  local out = {}
  for line in io.lines(path) do
    if line ~= "" then table.insert(out, line) end
  end
  if #out == 0 then error(path .. " is empty") end
  return out
end

-- The items of `list` that belong to this thread (round-robin by index); wrk's -t
-- value comes in BENCH_WRK_THREADS (a thread's init() runs before the later
-- threads' setup(), so it cannot count them).
function M.share(list)
  local n = tonumber(os.getenv("BENCH_WRK_THREADS") or "1")
  local mine = {}
  for i, item in ipairs(list) do
    if (i - 1) % n == (tid - 1) then table.insert(mine, item) end
  end
  return mine
end

local function counter(name)
  local total, seen = 0, false
  for _, t in ipairs(threads) do
    local value = t:get(name)
    if value ~= nil then total = total + value; seen = true end
  end
  return seen and total or nil
end

-- Counters a script may keep as thread globals; summed over threads in done().
local COUNTERS = { "non2xx", "missing_cookie", "starved", "n_me", "n_refresh", "n_login",
                   "busy" }

function M.done(summary, latency, requests)
  local e = summary.errors
  local parts = {
    string.format('"requests":%d', summary.requests),
    string.format('"duration_us":%d', summary.duration),
    string.format('"bytes":%d', summary.bytes),
    string.format('"connect":%d,"read":%d,"write":%d,"timeout":%d,"status_ge_400":%d',
      e.connect, e.read, e.write, e.timeout, e.status),
    string.format('"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f',
      latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency.max, latency.mean),
  }
  for _, name in ipairs(COUNTERS) do
    local value = counter(name)
    if value ~= nil then table.insert(parts, string.format('"%s":%d', name, value)) end
  end
  io.write("BENCH_RESULT {" .. table.concat(parts, ",") .. "}\n")
end

return M
