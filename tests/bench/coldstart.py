#!/usr/bin/env python3
"""Cold-start time of a real Lambda function binary, without Docker.

A tiny fake Lambda Runtime API (the 2018-06-01 protocol lambda_runtime speaks) runs on
127.0.0.1:<free port>. For each run the release binary is spawned with
AWS_LAMBDA_RUNTIME_API pointing at it; the first `GET .../invocation/next` receives one API
Gateway HTTP API (v2) event, and the time from spawn to the function's
`POST .../invocation/{id}/response` is recorded. The process is then killed.

Measured per run:
  init  = spawn -> first GET /invocation/next (config, state, SDK clients, runtime ready)
  first = spawn -> POST /invocation/{id}/response (init + the first request handled)

Caveats: x86_64 native here (the deployed arm64 binary cannot run on this machine), no Lambda
sandbox/Firecracker, no code download, page cache warm after the first run.

  python3 tests/bench/coldstart.py                         # target/release/auth, 20 runs, STORE=memory
  python3 tests/bench/coldstart.py --profile release-z     # target/release-z/auth
  python3 tests/bench/coldstart.py --store dynamodb        # also builds the DynamoDB client at init
  python3 tests/bench/coldstart.py --function users --event events/x.json
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PREFIX = "/2018-06-01/runtime"
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:{name}"


def inline_event() -> dict:
    """Minimal API Gateway HTTP API v2 event: POST /api/v1/auth/check-username?username=abc."""
    now = int(time.time() * 1000)
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/api/v1/auth/check-username",
        "rawQueryString": "username=abc",
        "headers": {
            "accept": "application/json",
            "content-length": "0",
            "host": "abcdef1234.execute-api.us-east-1.amazonaws.com",
            "user-agent": "coldstart-bench",
            "x-forwarded-for": "127.0.0.1",
            "x-forwarded-port": "443",
            "x-forwarded-proto": "https",
        },
        "queryStringParameters": {"username": "abc"},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abcdef1234",
            "domainName": "abcdef1234.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "abcdef1234",
            "http": {
                "method": "POST",
                "path": "/api/v1/auth/check-username",
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "coldstart-bench",
            },
            "requestId": "coldstart-bench",
            "routeKey": "$default",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime()),
            "timeEpoch": now,
        },
        "isBase64Encoded": False,
    }


class Run:
    """State of one invocation: what the fake runtime saw and when."""

    def __init__(self, event: bytes):
        self.event = event
        self.request_id = str(uuid.uuid4())
        self.t_spawn = 0.0
        self.t_next: float | None = None
        self.t_response: float | None = None
        self.served = False
        self.response: bytes | None = None
        self.error: str | None = None
        self.done = threading.Event()  # response or error arrived
        self.stop = threading.Event()  # process killed: release blocked long-polls
        self.lock = threading.Lock()


class QuietServer(ThreadingHTTPServer):
    """One server (fresh port) per run, so a late request of a killed process never meets the next run."""

    daemon_threads = True
    run: Run | None = None

    def handle_error(self, request, client_address):  # killed processes drop connections
        exc = sys.exc_info()[1]
        if not isinstance(exc, (BrokenPipeError, ConnectionResetError, TimeoutError)):
            super().handle_error(request, client_address)


class RuntimeApi(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # the runtime client keeps its connection alive

    def log_message(self, *_args):  # quiet
        pass

    def _reply(self, code: int, body: bytes = b'{"status":"OK"}', headers: dict | None = None):
        try:
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):  # the process was killed
            self.close_connection = True

    def _body(self) -> bytes:
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            return self.rfile.read(n)
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        return b""

    def do_GET(self):
        run = self.server.run
        if self.path != f"{PREFIX}/invocation/next" or run is None:
            return self._reply(404, b'{"errorMessage":"not found"}')
        with run.lock:
            first = not run.served
            run.served = True
            if first:
                run.t_next = time.perf_counter()
        if not first:
            # Long-poll for the next event: none will come; hold until the process is killed.
            run.stop.wait(60)
            self.close_connection = True
            return
        deadline = int(time.time() * 1000) + 30_000
        self._reply(
            200,
            run.event,
            {
                "Lambda-Runtime-Aws-Request-Id": run.request_id,
                "Lambda-Runtime-Deadline-Ms": str(deadline),
                "Lambda-Runtime-Invoked-Function-Arn": FUNCTION_ARN.format(name=os.environ.get("BENCH_FN", "auth")),
                "Lambda-Runtime-Trace-Id": "Root=1-5e9f0c65-1de4d666d4dd26aced652b6c;Parent=1;Sampled=0",
            },
        )

    def do_POST(self):
        run = self.server.run
        body = self._body()
        now = time.perf_counter()
        if run is None:
            return self._reply(404, b'{"errorMessage":"no run"}')
        m = re.fullmatch(rf"{PREFIX}/invocation/([^/]+)/(response|error)", self.path)
        if m and m.group(1) == run.request_id:
            if m.group(2) == "response":
                run.t_response, run.response = now, body
            else:
                run.t_response = now
                run.error = "invocation error: " + body.decode(errors="replace")[:500]
            self._reply(202)  # acknowledge before the process is killed
            run.done.set()
            return None
        if self.path == f"{PREFIX}/init/error":
            run.t_response = now
            run.error = "init error: " + body.decode(errors="replace")[:500]
            self._reply(202)
            run.done.set()
            return None
        self._reply(404, b'{"errorMessage":"unknown path"}')


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    if not s:
        return float("nan")
    k = (len(s) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def fmt_stats(name: str, ms: list[float]) -> str:
    if not ms:
        return f"{name:<28} (no samples)"
    return (
        f"{name:<28} min {min(ms):7.1f}  p50 {pct(ms, .5):7.1f}  p90 {pct(ms, .9):7.1f}  "
        f"max {max(ms):7.1f}  mean {statistics.fmean(ms):7.1f}  (n={len(ms)})"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--function", default="auth", help="binary name in target/<profile>/ (default auth)")
    ap.add_argument("--profile", default="release", help="cargo profile directory (default release)")
    ap.add_argument("--bin", help="explicit path of the binary (overrides --function/--profile)")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--event", help="API Gateway v2 event JSON (default events/auth-check-username.json or inline)")
    ap.add_argument("--store", choices=["memory", "dynamodb"], default="memory")
    ap.add_argument("--max-attempts", type=int, default=1,
                    help="AWS_MAX_ATTEMPTS with --store dynamodb (default 1: fail fast instead of timing "
                         "the SDK's retry backoff against the closed port; 0 = SDK default)")
    ap.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for one response")
    ap.add_argument("--quiet", action="store_true", help="no per-run lines")
    args = ap.parse_args()

    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    binary = Path(args.bin) if args.bin else target / args.profile / args.function
    if not binary.is_file():
        print(f"no binary at {binary}: cargo build --profile {args.profile} -p {args.function}", file=sys.stderr)
        return 2

    default_event = ROOT / "events" / "auth-check-username.json"
    if args.event:
        event_src, event = args.event, Path(args.event).read_bytes()
    elif args.function == "auth" and default_event.is_file():
        event_src, event = str(default_event.relative_to(ROOT)), default_event.read_bytes()
    else:
        event_src, event = "inline POST /api/v1/auth/check-username?username=abc", json.dumps(inline_event()).encode()
    try:
        ev = json.loads(event)
        event_desc = f"{ev.get('requestContext', {}).get('http', {}).get('method', '?')} {ev.get('rawPath', '?')}"
        if ev.get("rawQueryString"):
            event_desc += "?" + ev["rawQueryString"]
    except ValueError:
        event_desc = "?"

    os.environ["BENCH_FN"] = args.function

    tmp = tempfile.TemporaryDirectory(prefix="coldstart-")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "STORE", "BLOBS", "AI", "RUST_LOG"))}
    env.update(
        AWS_LAMBDA_FUNCTION_NAME=args.function,
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE="512",
        AWS_LAMBDA_FUNCTION_VERSION="1",
        AWS_LAMBDA_LOG_GROUP_NAME=f"/aws/lambda/{args.function}",
        AWS_LAMBDA_LOG_STREAM_NAME="coldstart-bench",
        STORE=args.store,
        BLOBS="local",
        AI="local",
        DATA_DIR=tmp.name,
        JWT_SECRET="coldstart-bench-secret-0123456789abcdefghijklmn",  # 48 chars
        AWS_REGION="us-east-1",
        AWS_EC2_METADATA_DISABLED="true",
        RUST_LOG=os.environ.get("RUST_LOG", "warn"),
    )
    if args.store == "dynamodb":
        # The SDK client is built at init; the route then fails to reach this closed port.
        env.update(
            TABLE_NAME="x",
            AWS_ENDPOINT_URL="http://127.0.0.1:9",
            AWS_ACCESS_KEY_ID="x",
            AWS_SECRET_ACCESS_KEY="x",
        )
        if args.max_attempts > 0:
            env["AWS_MAX_ATTEMPTS"] = str(args.max_attempts)

    size_mb = binary.stat().st_size / 1e6
    print(f"binary   {binary} ({size_mb:.1f} MB)")
    print(f"machine  {os.uname().machine} native, {os.cpu_count()} cores -- NOT the deployed arm64 binary "
          f"(arm64 cannot run here), no Lambda sandbox")
    if args.store == "dynamodb":
        retries = f"AWS_MAX_ATTEMPTS={args.max_attempts}" if args.max_attempts > 0 else "SDK default retries"
        print(f"store    STORE=dynamodb (SDK client built at init; endpoint 127.0.0.1:9 is closed, so the "
              f"route answers 500; {retries})")
    else:
        print("store    STORE=memory (embedded, in memory)")
    print(f"event    {event_src}: {event_desc}")
    print(f"runtime  fake Runtime API on 127.0.0.1 (a fresh port per run); {args.runs} runs")
    print()

    init_ms: list[float] = []
    first_ms: list[float] = []
    statuses: dict[str, int] = {}
    failures = 0
    for i in range(args.runs):
        run = Run(event)
        server = QuietServer(("127.0.0.1", 0), RuntimeApi)
        server.run = run
        threading.Thread(target=server.serve_forever, daemon=True).start()
        env["AWS_LAMBDA_RUNTIME_API"] = f"127.0.0.1:{server.server_address[1]}"
        log = open(Path(tmp.name) / f"run{i}.log", "w+b")
        run.t_spawn = time.perf_counter()
        proc = subprocess.Popen([str(binary)], env=env, stdout=log, stderr=subprocess.STDOUT)
        got = run.done.wait(args.timeout)
        proc.kill()
        proc.wait()
        run.stop.set()
        server.shutdown()
        server.server_close()
        status = "timeout"
        if got and run.error is None and run.response is not None:
            try:
                status = str(json.loads(run.response).get("statusCode", "?"))
            except ValueError:
                status = "bad-json"
        elif run.error:
            status = "error"
            failures += 1
        else:
            failures += 1
        statuses[status] = statuses.get(status, 0) + 1
        t_init = (run.t_next - run.t_spawn) * 1000 if run.t_next else None
        t_first = (run.t_response - run.t_spawn) * 1000 if run.t_response else None
        if t_init is not None:
            init_ms.append(t_init)
        if t_first is not None and status not in ("timeout",):
            first_ms.append(t_first)
        if not args.quiet:
            fi = f"{t_init:7.1f}" if t_init is not None else "      -"
            ff = f"{t_first:7.1f}" if t_first is not None else "      -"
            print(f"run {i + 1:3d}: init {fi} ms  first response {ff} ms  status {status}")
        if status in ("timeout", "error") and failures == 1:
            print(f"  {run.error or 'no response within timeout'}")
            log.seek(0)
            tail = log.read().decode(errors="replace").strip().splitlines()[-10:]
            for line in tail:
                print(f"  | {line}")
        if status not in ("timeout", "error") and i == 0 and run.response:
            body = json.loads(run.response).get("body", "")
            print(f"  response body: {str(body)[:200]}")
        log.close()

    tmp.cleanup()
    print()
    print(fmt_stats("init (spawn -> next) ms", init_ms))
    print(fmt_stats("first response ms", first_ms))
    print("statuses " + ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items())))
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
