-- wrk script: POST /api/personalization/personalize with the same chapter and level every time,
-- so after the first request every adaptation comes from the cache (the cached-request benchmark).
-- The JSON body is read from the file named by BENCH_BODY (load.sh writes it from
-- events/textbook-personalize.json).
local path = os.getenv("BENCH_BODY")
local f = assert(io.open(path, "r"), "BENCH_BODY must name a readable file")
local body = f:read("*a")
f:close()

wrk.method = "POST"
wrk.path = "/api/personalization/personalize"
wrk.headers["Content-Type"] = "application/json"
wrk.body = body
