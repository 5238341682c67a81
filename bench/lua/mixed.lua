-- The mixed profile: of every 20 requests a thread issues, 18 are GET /api/users/me
-- (Bearer), 1 is a refresh (cookie, with the same token pool as refresh.lua) and 1
-- is a login (X-Auth-Mode: token, so its answer sets no cookie and cannot be
-- mistaken for a refresh answer): 90 % / 5 % / 5 %.
local common = dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
setup = common.setup
done = common.done

local pool, bodies = {}, {}
local me_request
local n, next_body = 0, 0

function init(args)
  local tokens = common.lines("BENCH_ACCESS_TOKENS")
  local access = tokens[(tid - 1) % #tokens + 1]
  me_request = wrk.format("GET", "/api/users/me", { ["Authorization"] = "Bearer " .. access })
  pool = common.share(common.lines("BENCH_REFRESH_TOKENS"))
  for _, line in ipairs(common.lines("BENCH_USERS")) do
    local email, password = line:match("^([^\t]+)\t(.+)$")
    table.insert(bodies, string.format('{"email":"%s","password":"%s"}', email, password))
  end
  n = tid * 7             -- threads start at different points of the 20-request cycle
  next_body = tid - 1
  non2xx, missing_cookie, starved, n_me, n_refresh, n_login, busy = 0, 0, 0, 0, 0, 0, 0
end

function request()
  n = n + 1
  local slot = n % 20
  if slot == 0 then
    local token = table.remove(pool)
    if token ~= nil then
      n_refresh = n_refresh + 1
      return wrk.format("GET", "/api/auth/refresh", { ["Cookie"] = "refresh_token=" .. token })
    end
    starved = starved + 1  -- no free session: send a /me instead
  elseif slot == 10 then
    n_login = n_login + 1
    next_body = next_body % #bodies + 1
    return wrk.format("POST", "/api/auth/login",
      { ["Content-Type"] = "application/json", ["X-Auth-Mode"] = "token" }, bodies[next_body])
  end
  n_me = n_me + 1
  return me_request
end

function response(status, headers, body)
  if status == 503 then busy = busy + 1 end  -- the hashing admission control's refusals
  if status < 200 or status > 299 then non2xx = non2xx + 1; return end
  local cookie = headers["Set-Cookie"] or headers["set-cookie"]
  if cookie then
    local token = cookie:match("^refresh_token=([^;]+)")
    if token then table.insert(pool, token) else missing_cookie = missing_cookie + 1 end
  end
end
