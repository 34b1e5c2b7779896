#!/usr/bin/env bash
# Runs the whole load benchmark and writes BENCHMARKS.md (repo root), the
# chart benches/results/ratios.png and the raw lines benches/results/raw.jsonl.
#
#   bash benches/run.sh                       # full sizes, 5 repetitions (3 of idle)
#   bash benches/run.sh --profile moderate    # smaller fanout/idle, shorter holds
#   bash benches/run.sh --reps 5 --peers oxsio,socketioxide --scenarios echo_64,fanout
#   bash benches/run.sh smoke                 # every scenario against oxsio, tiny
#   bash benches/run.sh cluster [--reps 3]    # the cluster scenarios only (their section of BENCHMARKS.md)
#
# Peers: oxsio and socketioxide are built here; Node.js socket.io and
# python-socketio come from `bash tests/interop/setup.sh` (run below);
# oxsio-python needs python/.venv with the oxsio module; oxsio-c-poll needs
# ffi/ (its release static library is built here) and a C compiler.
# Missing peers are skipped with a note in the report.
# Chart labels use DejaVu Sans (Debian: fonts-dejavu-core); without it the
# chart is drawn without text.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target/bench}"

packages=(-p oxsio-bench)
if [[ -f ffi/Cargo.toml ]]; then packages+=(-p oxsio-ffi); fi
cargo build --release "${packages[@]}"

if [[ "${1:-}" == "smoke" ]]; then
  shift
  exec "$CARGO_TARGET_DIR/release/oxsio-bench" smoke "$@"
fi

# The cluster scenarios need redis-server / redis-cli and PostgreSQL
# (initdb, postgres, psql); tests/run-all.sh installs them. The bench starts
# and stops them itself; a missing one skips its adapter with a note.
cluster_only=0
if [[ "${1:-}" == "cluster" ]]; then
  shift
  cluster_only=1
fi

if [[ -f tests/interop/setup.sh ]] && command -v node >/dev/null && command -v npm >/dev/null; then
  bash tests/interop/setup.sh || echo "run.sh: tests/interop/setup.sh failed; the Node/Python peers may be skipped"
fi

if [[ $cluster_only == 1 ]]; then
  exec "$CARGO_TARGET_DIR/release/oxsio-bench" cluster --out "$ROOT/BENCHMARKS.md" "$@"
fi
exec "$CARGO_TARGET_DIR/release/oxsio-bench" all --out "$ROOT/BENCHMARKS.md" "$@"
