-- GET /api/auth/refresh with the refresh_token cookie, as a browser does.
--
-- Refresh ROTATES the token: every answer sets a new refresh_token cookie and the
-- previous token is accepted only during a short grace window; reusing it later
-- revokes the session. So each wrk thread keeps a pool of sessions (tokens it owns
-- exclusively): a request takes a token out of the pool, and its response puts the
-- rotated token back. A token is therefore never in flight twice and never reused,
-- whatever the number of connections per thread, as long as the pool holds at
-- least as many sessions as the thread has connections (bench/run.py seeds more).
--
-- wrk hands response() the headers as a table, so of several Set-Cookie headers only
-- the last survives; the app sets access_token, logged_in, then refresh_token, and
-- the script checks that the value it keeps really is the refresh_token cookie
-- (counted in missing_cookie otherwise).
local common = dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
setup = common.setup
done = common.done

local pool = {}

function init(args)
  pool = common.share(common.lines("BENCH_REFRESH_TOKENS"))
  non2xx, missing_cookie, starved = 0, 0, 0
end

function request()
  local token = table.remove(pool)
  if token == nil then
    starved = starved + 1   -- every session of this thread is in flight or lost
    token = "none"
  end
  return wrk.format("GET", "/api/auth/refresh", { ["Cookie"] = "refresh_token=" .. token })
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1     -- that session's token is lost; the pool shrinks by one
    return
  end
  local cookie = headers["Set-Cookie"] or headers["set-cookie"] or ""
  local token = cookie:match("^refresh_token=([^;]+)")
  if token then
    table.insert(pool, token)
  else
    missing_cookie = missing_cookie + 1
  end
end
