-- wrk script: POST the same JSON body on every request to the URL's path (personalize, classify).
-- The body is read from the file named by BENCH_BODY (load.sh writes it from an events/ file).
local path = os.getenv("BENCH_BODY")
local f = assert(io.open(path, "r"), "BENCH_BODY must name a readable file")
local body = f:read("*a")
f:close()

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = body
