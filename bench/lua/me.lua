-- GET /api/users/me, authenticated by an access token sent either as
-- "Authorization: Bearer" (BENCH_AUTH=bearer) or as the access_token cookie
-- (BENCH_AUTH=cookie). Each wrk thread uses its own session's token; the request
-- is static per thread, so wrk spends no Lua time per request.
local common = dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
setup = common.setup
done = common.done

function init(args)
  local tokens = common.lines("BENCH_ACCESS_TOKENS")
  local token = tokens[(tid - 1) % #tokens + 1]
  if os.getenv("BENCH_AUTH") == "cookie" then
    wrk.headers["Cookie"] = "access_token=" .. token
  else
    wrk.headers["Authorization"] = "Bearer " .. token
  end
end
