#!/usr/bin/env bash
# Runs every test of the repository on a fresh machine: installs the interop
# peers (npm ci from the committed lockfile, python-socketio in a venv), then
# formatting, lints, every Rust test (unit, property, integration, interop),
# the demo, the demo's chat page and the Socket.IO Admin UI in headless
# Chromium (tests/browser), the Autobahn|Testsuite (tests/autobahn), the
# Python module, the C# binding (dotnet/run-tests.sh), and the packaging
# checks (tests/package.sh).
# Usage: bash tests/run-all.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n==> %s\n' "$*"; }

# A one-off run gains nothing from incremental compilation, whose caches
# would double the size of target/ (see [profile.dev] in Cargo.toml).
export CARGO_INCREMENTAL=0

step "installing interop peers (npm ci, pip)"
bash tests/interop/setup.sh

step "installing redis-server, postgresql (Postgres adapter tests), gcc, g++, valgrind, cmake, pkg-config (Redis, C ABI and install tests), xvfb, libsdl2-dev, imagemagick (SDL2 demo), mono (C# binding) and chromium (browser test) when missing"
missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
# initdb/postgres live in /usr/lib/postgresql/<v>/bin with the Debian package.
{ command -v initdb >/dev/null 2>&1 || compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; } || missing+=(postgresql)
command -v gcc >/dev/null 2>&1 || missing+=(gcc)
command -v g++ >/dev/null 2>&1 || missing+=(g++)
command -v valgrind >/dev/null 2>&1 || missing+=(valgrind)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v cmake >/dev/null 2>&1 || missing+=(cmake)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
command -v Xvfb >/dev/null 2>&1 || missing+=(xvfb)
command -v sdl2-config >/dev/null 2>&1 || missing+=(libsdl2-dev)
command -v import >/dev/null 2>&1 || missing+=(imagemagick)
command -v mcs >/dev/null 2>&1 || missing+=(mono-mcs)
command -v mono >/dev/null 2>&1 || missing+=(mono-devel)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
redis-server --version

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy"
cargo clippy --workspace --all-targets --features oxsio/redis,oxsio/postgres,oxsio/conformance --quiet -- -D warnings

step "cargo test (unit, property, integration, interop)"
cargo test --workspace --all-targets --no-fail-fast --features oxsio/redis,oxsio/postgres,oxsio/conformance 2>&1 | tee target/test-output.txt
# Doc tests (examples in the API docs).
cargo test --workspace --doc --features oxsio/redis,oxsio/postgres,oxsio/conformance 2>&1 | tee -a target/test-output.txt

step "the README demo (chat server + bots, exits after the exchange)"
PORT=0 timeout 120 cargo run --quiet -p oxsio-demo -- --exit-after-demo
step "oxsio mounted in axum (a client connects through it)"
timeout 120 cargo run --quiet -p oxsio --example axum -- --check

step "in headless Chromium: the demo's chat page (two pages, websocket and polling), the Socket.IO Admin UI against oxsio serve"
bash tests/browser/run.sh 2>&1 | tee -a target/test-output.txt

step "Autobahn|Testsuite fuzzing client: oxsio's server WebSocket beside tungstenite's, cases 1-7 and a subset of 12-13 (permessage-deflate)"
bash tests/autobahn/run.sh 2>&1 | tee -a target/test-output.txt

step "Python module (pip install ./python in python/.venv; stubtest; pytest)"
bash python/run-tests.sh 2>&1 | tee -a target/test-output.txt

step "C# binding (dotnet/: Unity package checks, C# client and server against the official Node server and JS client, under mono)"
bash dotnet/run-tests.sh 2>&1 | tee -a target/test-output.txt

step "packaging: cargo package and cargo doc (oxsio, oxsio-ffi), Python sdist + abi3 wheel in a fresh venv"
bash tests/package.sh 2>&1 | tee -a target/test-output.txt

passed=$(grep -Eo '[0-9]+ passed' target/test-output.txt | awk '{s+=$1} END {print s+0}')
failed=$(grep -Eo '[0-9]+ failed' target/test-output.txt | awk '{s+=$1} END {print s+0}')
echo
echo "all tests: ${passed} passed, ${failed} failed"
