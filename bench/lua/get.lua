-- A plain GET of the URL wrk was given (healthChecker, the bare app, warm-up).
local common = dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
setup = common.setup
done = common.done
