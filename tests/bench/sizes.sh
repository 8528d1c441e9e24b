#!/usr/bin/env bash
# arm64 Lambda zip sizes of the functions, built the way they are deployed.
#
#   tests/bench/sizes.sh                      # cargo lambda build --release --arm64 --output-format zip
#   PROFILE=release-z tests/bench/sizes.sh    # another cargo profile (--profile release-z)
#   SKIP_BUILD=1 tests/bench/sizes.sh         # only print the sizes of the last build
#
# Installs cargo-lambda 1.9.2 (PyPI, brings ziglang) into .venv-lambda/ at the repo root (gitignored
# by `/.venv*`) and puts it first on PATH. Zips land in target/lambda/<fn>/bootstrap.zip for the
# release profile and in target/lambda-<profile>/<fn>/bootstrap.zip for any other profile.
#
# Note: with `--release`, cargo lambda adds `-C target-cpu=neoverse-n1` (arm64) and fills in
# strip/lto/codegen-units/panic that [profile.release] leaves unset (panic="abort"!). With
# `--profile X` it adds nothing, so this script passes the same target-cpu via RUSTFLAGS to keep
# profiles comparable; set panic explicitly in every profile you compare.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="$ROOT/.venv-lambda"
CARGO_LAMBDA_VERSION="${CARGO_LAMBDA_VERSION:-1.9.2}"
PROFILE="${PROFILE:-release}"
FUNCTIONS=(${FUNCTIONS:-auth users admin textbook})
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"

if ! "$VENV/bin/cargo-lambda" lambda --version 2>/dev/null | grep -q "$CARGO_LAMBDA_VERSION"; then
  echo "== installing cargo-lambda==$CARGO_LAMBDA_VERSION into $VENV"
  [[ -x "$VENV/bin/pip" ]] || python3 -m venv --clear "$VENV"
  "$VENV/bin/pip" install -q "cargo-lambda==$CARGO_LAMBDA_VERSION"
fi
export PATH="$VENV/bin:$PATH"
cargo lambda --version

pkgs=()
for f in "${FUNCTIONS[@]}"; do pkgs+=(-p "$f"); done

if [[ "$PROFILE" == "release" ]]; then
  LAMBDA_DIR="$TARGET_DIR/lambda"
  build=(cargo lambda build --release --arm64 --output-format zip "${pkgs[@]}")
else
  LAMBDA_DIR="$TARGET_DIR/lambda-$PROFILE"
  export RUSTFLAGS="${RUSTFLAGS:--C target-cpu=neoverse-n1}"
  build=(cargo lambda build --profile "$PROFILE" --arm64 --output-format zip --lambda-dir "$LAMBDA_DIR" "${pkgs[@]}")
fi

if [[ "${SKIP_BUILD:-0}" != "1" ]]; then
  echo "== ${build[*]}${RUSTFLAGS:+ (RUSTFLAGS=$RUSTFLAGS)}"
  start=$(date +%s)
  (cd "$ROOT" && "${build[@]}")
  echo "== build took $(( $(date +%s) - start )) s"
fi

echo
echo "== arm64 Lambda packages (profile=$PROFILE, $LAMBDA_DIR)"
python3 - "$LAMBDA_DIR" "${FUNCTIONS[@]}" <<'PY'
import os, sys, zipfile
lambda_dir, fns = sys.argv[1], sys.argv[2:]
print(f"{'function':<10} {'zip bytes':>12} {'zip MB':>8} {'unzipped bytes':>15} {'unzipped MB':>12}  arch")
missing = 0
for fn in fns:
    path = os.path.join(lambda_dir, fn, "bootstrap.zip")
    if not os.path.isfile(path):
        print(f"{fn:<10} missing: {path}")
        missing += 1
        continue
    with zipfile.ZipFile(path) as z:
        unzipped = sum(i.file_size for i in z.infolist())
        with z.open("bootstrap") as b:
            head = b.read(20)
    machine = int.from_bytes(head[18:20], "little") if head[:4] == b"\x7fELF" else -1
    arch = {0xB7: "arm64", 0x3E: "x86_64"}.get(machine, f"e_machine={machine}")
    zipped = os.path.getsize(path)
    print(f"{fn:<10} {zipped:>12,} {zipped/1e6:>8.2f} {unzipped:>15,} {unzipped/1e6:>12.2f}  {arch}")
sys.exit(1 if missing else 0)
PY
