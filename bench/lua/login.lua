-- POST /api/auth/login (cookie mode, like a browser), cycling through the seeded
-- accounts. Counts every response that is not 2xx, and among them the 503s of the
-- hashing admission control (every hashing slot and queue place taken) as "busy".
-- A refused client asks again at once (it does not wait for Retry-After): the most
-- pressure a storm can put on the server.
-- Each login on a new connection ("Connection: close"), as logins come from many clients:
-- with a few kept-alive connections, which gunicorn worker accepted each one at the
-- start decided the whole run (all 4 on one worker: one worker's hashing slots busy, the
-- other idle, and the surplus refused 503 again and again). A TCP handshake is nothing
-- next to a 250 ms hash.
local common = dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
setup = common.setup
done = common.done

local bodies = {}
local next_body = 0

function init(args)
  -- each line: email<TAB>password
  for _, line in ipairs(common.lines("BENCH_USERS")) do
    local email, password = line:match("^([^\t]+)\t(.+)$")
    table.insert(bodies, string.format('{"email":"%s","password":"%s"}', email, password))
  end
  next_body = tid - 1
  non2xx, busy = 0, 0
end

function request()
  next_body = next_body % #bodies + 1
  return wrk.format("POST", "/api/auth/login",
    { ["Content-Type"] = "application/json", ["Connection"] = "close" }, bodies[next_body])
end

function response(status, headers, body)
  if status < 200 or status > 299 then non2xx = non2xx + 1 end
  if status == 503 then busy = busy + 1 end
end
