-- wrk script: POST /api/v1/auth/login with form data (argon2id verification: CPU-bound).
-- The username/password can be overridden with the env vars BENCH_USER / BENCH_PASSWORD.
local user = os.getenv("BENCH_USER") or "customer000"
local pass = os.getenv("BENCH_PASSWORD") or "password123"

wrk.method = "POST"
wrk.path = "/api/v1/auth/login"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = "username=" .. user .. "&password=" .. pass
