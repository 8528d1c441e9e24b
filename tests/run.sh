#!/usr/bin/env bash
# The one test command: formatting, lints, every Rust test (including the emulator-backed backend
# suites against a moto server it starts and stops itself), and the SAM template lint.
#
#   tests/run.sh                  everything (needs Rust with clippy + rustfmt, Python 3.11+ with pip)
#   tests/run.sh --no-emulator    skip moto: the emulator suites stay #[ignore]d
#   tests/run.sh --setup          only create/refresh the Python tool venvs, then exit
#   tests/run.sh --only-api-fuzz  only the OpenAPI step (document validation + schemathesis)
#
# Python tools live in .venv-test/ (gitignored) with pinned versions; a stamp file makes later runs
# skip pip when the pins did not change. Every step runs even if an earlier one failed; the exit
# status is non-zero when any step failed.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

# ---- pins -------------------------------------------------------------------------------------
# moto, cfn-lint, schemathesis and openapi-spec-validator share a venv (pip check is clean with
# these pins); SAM CLI gets its own because its pins clash with moto's.
TOOLS_PINS=("moto[server]==5.2.5" "cfn-lint==1.58.0" "schemathesis==4.32.5" "openapi-spec-validator==0.9.0")
SAM_PINS=("aws-sam-cli==1.170.0")
VENV_ROOT="$ROOT/.venv-test"
TOOLS_VENV="$VENV_ROOT/tools"
SAM_VENV="$VENV_ROOT/sam"
LOG_DIR="$ROOT/target/test-logs"
PYTHON=${PYTHON:-python3}

usage() { sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

EMULATOR=1
SETUP_ONLY=0
ONLY_API_FUZZ=0
for arg in "$@"; do
  case "$arg" in
    --no-emulator) EMULATOR=0 ;;
    --setup) SETUP_ONLY=1 ;;
    --only-api-fuzz) ONLY_API_FUZZ=1; EMULATOR=0 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "tests/run.sh: unknown option '$arg'" >&2; usage >&2; exit 2 ;;
  esac
done

say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
die() { printf 'tests/run.sh: %s\n' "$*" >&2; exit 1; }

# ---- a. Python tool venvs ---------------------------------------------------------------------
command -v "$PYTHON" >/dev/null 2>&1 || die "$PYTHON not found (Python 3.11+ with pip and venv is required)"
"$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
  || die "Python 3.11+ required, found $("$PYTHON" --version 2>&1)"

# ensure_venv DIR PIN... : creates DIR (or reuses it) and installs the pins unless the stamp matches.
ensure_venv() {
  local dir=$1; shift
  local stamp="$dir/.pins-stamp"
  local want
  want="$("$PYTHON" -c 'import sys; print(sys.version.split()[0])') $*"
  if [[ -x "$dir/bin/python" ]] && "$dir/bin/python" -c '' 2>/dev/null \
    && [[ -f "$stamp" ]] && [[ "$(cat "$stamp")" == "$want" ]]; then
    return 0
  fi
  say "installing $* into ${dir#"$ROOT"/}"
  rm -rf "$dir"
  "$PYTHON" -m venv "$dir"
  "$dir/bin/python" -m pip install --quiet --disable-pip-version-check --no-input --progress-bar off \
    --upgrade pip setuptools wheel
  "$dir/bin/python" -m pip install --quiet --disable-pip-version-check --no-input --progress-bar off "$@"
  printf '%s' "$want" >"$stamp"
}

mkdir -p "$VENV_ROOT" "$LOG_DIR"
setup_venvs() {
  ensure_venv "$TOOLS_VENV" "${TOOLS_PINS[@]}"
  ensure_venv "$SAM_VENV" "${SAM_PINS[@]}"
}
if [[ $SETUP_ONLY == 1 ]]; then
  setup_venvs
  echo "venvs ready: $TOOLS_VENV $SAM_VENV"
  exit 0
fi
# On a fresh clone the venvs take ~90 s to install (mostly download): that runs in the
# background while fmt and clippy run, and the steps that need a tool wait for it.
VENV_LOG="$LOG_DIR/venv-setup.log"
setup_venvs >"$VENV_LOG" 2>&1 &
VENV_PID=$!
VENVS_READY=0
wait_for_venvs() {
  [[ $VENVS_READY == 1 ]] && return 0
  local status=0
  wait "$VENV_PID" || status=$?
  cat "$VENV_LOG"
  [[ $status == 0 ]] || die "installing the Python tools failed (exit $status; log above)"
  VENVS_READY=1
}

# ---- b. moto server (local AWS emulator) ------------------------------------------------------
MOTO_PID=""
MOTO_PORT=""
MOTO_LOG="$LOG_DIR/moto.log"
SERVER_PID=""
stop_moto() {
  if [[ -n "$MOTO_PID" ]] && kill -0 "$MOTO_PID" 2>/dev/null; then
    kill "$MOTO_PID" 2>/dev/null || true
    wait "$MOTO_PID" 2>/dev/null || true
  fi
  MOTO_PID=""
}
stop_server() {
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  SERVER_PID=""
}
trap 'stop_moto; stop_server; kill "$VENV_PID" 2>/dev/null || true' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

start_moto() {
  MOTO_PORT=$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
  # moto's own app behind one lock, so concurrent writes to an item are atomic as in DynamoDB
  # (plain moto_server loses concurrent ADDs; see tests/moto_serial.py).
  say "starting moto (serialised) on 127.0.0.1:$MOTO_PORT (log: ${MOTO_LOG#"$ROOT"/})"
  "$TOOLS_VENV/bin/python" "$ROOT/tests/moto_serial.py" -H 127.0.0.1 -p "$MOTO_PORT" >"$MOTO_LOG" 2>&1 &
  MOTO_PID=$!
  ready=0
  for _ in $(seq 1 60); do # 60 x 0.5 s = 30 s
    if ! kill -0 "$MOTO_PID" 2>/dev/null; then
      break
    fi
    if "$PYTHON" -c "import urllib.request as u; u.urlopen('http://127.0.0.1:$MOTO_PORT/moto-api/', timeout=2)" \
      >/dev/null 2>&1; then
      ready=1
      break
    fi
    sleep 0.5
  done
  if [[ $ready != 1 ]]; then
    echo "moto did not become ready on 127.0.0.1:$MOTO_PORT within 30 s; its log:" >&2
    tail -n 40 "$MOTO_LOG" >&2 || true
    exit 1
  fi
  echo "moto ready (pid $MOTO_PID)"
}

# ---- c. the steps -----------------------------------------------------------------------------
STEP_NAMES=()
STEP_RESULTS=()
FAILED=0
# step NAME CMD... : runs CMD, records PASS/FAIL and the time it took; never stops the script.
step() {
  local name=$1; shift
  say "$name"
  local start=$SECONDS
  if "$@"; then
    STEP_RESULTS+=("PASS $(printf '%4ss' $((SECONDS - start)))")
  else
    STEP_RESULTS+=("FAIL $(printf '%4ss' $((SECONDS - start)))")
    FAILED=1
  fi
  STEP_NAMES+=("$name")
}

LOCKED=()
if [[ "${CI:-}" == "true" ]]; then
  LOCKED=(--locked) # CI must build exactly the committed Cargo.lock
  # A clean clone builds once: incremental caches would only take disk (GBs over ~100 test
  # binaries; one CI run failed with "No space left on device").
  export CARGO_INCREMENTAL=0
fi
echo "disk free at $ROOT: $(df -h "$ROOT" | awk 'NR == 2 { print $4 }')"

cargo_test() {
  if [[ $EMULATOR == 1 ]]; then
    env TEST_AWS_ENDPOINT="http://127.0.0.1:$MOTO_PORT" \
      AWS_EC2_METADATA_DISABLED=true AWS_REGION=us-east-1 \
      AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-testing}" AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-testing}" \
      cargo test "${LOCKED[@]}" --workspace -- --include-ignored
  else
    cargo test "${LOCKED[@]}" --workspace
  fi
}

sam_validate() {
  SAM_CLI_TELEMETRY=0 "$SAM_VENV/bin/sam" validate --lint --region us-east-1 --template-file template.yaml
}

# The OpenAPI step: the local server (in memory, a small demo data set) on a free port; its
# /openapi.json must be a valid OpenAPI document (openapi-spec-validator) and must describe what
# the server does: schemathesis sends generated valid and invalid requests to every operation
# (authenticated as the demo admin, so the token routes run too) and fails on any 5xx, a status
# the document does not list, a body that does not match its schema, or a wrong content type.
# One worker: with two, hypothesis (6.x, under schemathesis 4.32.5) calls `ast.parse` from both
# threads while describing its filter lambdas, and CPython 3.11's parser is not thread-safe there
# ("AST constructor recursion depth mismatch", a runtime error on a random operation).
# Bounded: at most SCHEMATHESIS_MAX_EXAMPLES cases per operation and SCHEMATHESIS_MAX_TIME seconds.
# Left out: POST /classify/examples, which retrains the classifier on every call (seconds each in
# a debug build, so fuzzed calls queue behind each other past any time bound).
API_FUZZ_LOG="$LOG_DIR/api-fuzz"
api_fuzz() {
  local port base token
  rm -rf "$API_FUZZ_LOG"
  mkdir -p "$API_FUZZ_LOG"
  # The same build as the test step (a no-op after it): `cargo build -p local` would resolve other
  # features and rebuild the AWS SDKs. local/tests/cli.rs makes it build target/debug/local.
  cargo test "${LOCKED[@]}" --workspace --no-run --quiet || return 1
  port=$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
  base="http://127.0.0.1:$port"
  "$ROOT/target/debug/local" serve --memory --demo --host 127.0.0.1 --port "$port" \
    --demo-customers 5 --demo-products 50 --demo-orders 20 --demo-teachers 50 --demo-videos 2 \
    >"$API_FUZZ_LOG/server.log" 2>&1 &
  SERVER_PID=$!
  # Ready when /health answers AND the demo admin can log in (seeding done); 120 s at most.
  token=""
  for _ in $(seq 1 240); do
    kill -0 "$SERVER_PID" 2>/dev/null || break
    token=$("$PYTHON" - "$base" <<'PY' 2>/dev/null || true
import json, sys, urllib.parse, urllib.request as u
base = sys.argv[1]
u.urlopen(base + "/health", timeout=2)
form = urllib.parse.urlencode({"username": "admin@ecommerce.com", "password": "admin123"}).encode()
print(json.load(u.urlopen(u.Request(base + "/api/v1/auth/login", data=form), timeout=5))["access_token"])
PY
)
    [[ -n "$token" ]] && break
    sleep 0.5
  done
  if [[ -z "$token" ]]; then
    echo "the local server did not answer a demo admin login within 120 s; its log:" >&2
    tail -n 40 "$API_FUZZ_LOG/server.log" >&2 || true
    stop_server
    return 1
  fi
  local ok=0
  "$PYTHON" -c "import urllib.request as u; open('$API_FUZZ_LOG/openapi.json', 'wb').write(u.urlopen('$base/openapi.json').read())" || ok=1
  "$TOOLS_VENV/bin/openapi-spec-validator" "$API_FUZZ_LOG/openapi.json" || ok=1
  SCHEMATHESIS_TELEMETRY=false "$TOOLS_VENV/bin/schemathesis" run "$base/openapi.json" \
    --header "Authorization: Bearer $token" \
    --checks not_a_server_error,status_code_conformance,response_schema_conformance,content_type_conformance \
    --phases examples,coverage,fuzzing \
    --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-25}" --max-time "${SCHEMATHESIS_MAX_TIME:-150}" \
    --request-timeout 10 --seed "${SCHEMATHESIS_SEED:-20261206}" --no-shrink --workers 1 \
    --report junit --report-dir "$API_FUZZ_LOG" \
    --exclude-operation-id add_examples || ok=1
  stop_server
  return $ok
}

if [[ $ONLY_API_FUZZ == 1 ]]; then
  wait_for_venvs
  step "OpenAPI document + schemathesis" api_fuzz
  exit $FAILED
fi

step "cargo fmt --check" cargo fmt --all -- --check
step "cargo clippy" cargo clippy "${LOCKED[@]}" --workspace --all-targets -- -D warnings
wait_for_venvs
if [[ $EMULATOR == 1 ]]; then
  start_moto
fi
if [[ $EMULATOR == 1 ]]; then
  step "cargo test (+ emulator suites)" cargo_test
else
  step "cargo test (emulator suites skipped)" cargo_test
fi
step "sam validate --lint" sam_validate
step "cfn-lint" "$TOOLS_VENV/bin/cfn-lint" template.yaml
step "OpenAPI document + schemathesis" api_fuzz

stop_moto

# ---- d. summary -------------------------------------------------------------------------------
say "summary"
echo "  disk free at the end: $(df -h "$ROOT" | awk 'NR == 2 { print $4 }'), target/: $(du -sh "$ROOT/target" 2>/dev/null | cut -f1)"
for i in "${!STEP_NAMES[@]}"; do
  printf '  %s  %s\n' "${STEP_RESULTS[$i]}" "${STEP_NAMES[$i]}"
done
if [[ $EMULATOR == 0 ]]; then
  echo "  (--no-emulator: DynamoDB/S3 emulator suites were not run)"
fi
if [[ $FAILED != 0 ]]; then
  echo "FAILED"
  exit 1
fi
echo "all passed"
