#!/usr/bin/env bash
# The one test command: formatting, lints, every Rust test (including the emulator-backed backend
# suites against a moto server it starts and stops itself), and the SAM template lint.
#
#   tests/run.sh                  everything (needs Rust with clippy + rustfmt, Python 3.11+ with pip)
#   tests/run.sh --no-emulator    skip moto: the emulator suites stay #[ignore]d
#   tests/run.sh --setup          only create/refresh the Python tool venvs, then exit
#
# Python tools live in .venv-test/ (gitignored) with pinned versions; a stamp file makes later runs
# skip pip when the pins did not change. Every step runs even if an earlier one failed; the exit
# status is non-zero when any step failed.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

# ---- pins -------------------------------------------------------------------------------------
# moto and cfn-lint share a venv; SAM CLI gets its own because its pins clash with moto's.
TOOLS_PINS=("moto[server]==5.2.5" "cfn-lint==1.58.0")
SAM_PINS=("aws-sam-cli==1.170.0")
VENV_ROOT="$ROOT/.venv-test"
TOOLS_VENV="$VENV_ROOT/tools"
SAM_VENV="$VENV_ROOT/sam"
LOG_DIR="$ROOT/target/test-logs"
PYTHON=${PYTHON:-python3}

usage() { sed -n '2,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

EMULATOR=1
SETUP_ONLY=0
for arg in "$@"; do
  case "$arg" in
    --no-emulator) EMULATOR=0 ;;
    --setup) SETUP_ONLY=1 ;;
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
ensure_venv "$TOOLS_VENV" "${TOOLS_PINS[@]}"
ensure_venv "$SAM_VENV" "${SAM_PINS[@]}"
if [[ $SETUP_ONLY == 1 ]]; then
  echo "venvs ready: $TOOLS_VENV $SAM_VENV"
  exit 0
fi

# ---- b. moto server (local AWS emulator) ------------------------------------------------------
MOTO_PID=""
MOTO_PORT=""
MOTO_LOG="$LOG_DIR/moto.log"
stop_moto() {
  if [[ -n "$MOTO_PID" ]] && kill -0 "$MOTO_PID" 2>/dev/null; then
    kill "$MOTO_PID" 2>/dev/null || true
    wait "$MOTO_PID" 2>/dev/null || true
  fi
  MOTO_PID=""
}
trap stop_moto EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [[ $EMULATOR == 1 ]]; then
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
fi

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
fi

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

step "cargo fmt --check" cargo fmt --all -- --check
step "cargo clippy" cargo clippy "${LOCKED[@]}" --workspace --all-targets -- -D warnings
if [[ $EMULATOR == 1 ]]; then
  step "cargo test (+ emulator suites)" cargo_test
else
  step "cargo test (emulator suites skipped)" cargo_test
fi
step "sam validate --lint" sam_validate
step "cfn-lint" "$TOOLS_VENV/bin/cfn-lint" template.yaml

stop_moto

# ---- d. summary -------------------------------------------------------------------------------
say "summary"
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
