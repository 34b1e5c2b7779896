#!/usr/bin/env bash
# The browser tests: the demo chat page (chat.test.js) and the real Socket.IO
# Admin UI against `oxsio serve --admin-ui` (admin_ui.test.js). Installs
# Debian's chromium when missing, the npm packages from the committed
# lockfiles (here: playwright-core, socket.io-client; the admin UI's built
# files come with the interop peers, tests/interop/setup.sh), builds the demo
# and the CLI, then runs both with node's test runner. Ends with
# "browser: N passed, N failed"; exits non-zero when a test failed.
# Usage: bash tests/browser/run.sh   (SCREENSHOT=docs/chat-demo.png and
# ADMIN_SCREENSHOT=docs/admin-ui.png refresh the README's pictures)
set -euo pipefail
DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$DIR/../.." && pwd)"

if ! command -v chromium >/dev/null 2>&1; then
  echo "run.sh: installing chromium (Debian)"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
chromium --version

cd "$DIR"
stamp="node_modules/.oxsio-stamp"
want="$(sha256sum package.json package-lock.json | sha256sum | cut -d' ' -f1)-$(node --version)"
if [[ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]]; then
  echo "run.sh: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
fi

echo "run.sh: interop peers (the admin UI's built files)"
bash "$ROOT/tests/interop/setup.sh"

echo "run.sh: cargo build -p oxsio-demo -p oxsio-cli"
(cd "$ROOT" && cargo build --quiet -p oxsio-demo -p oxsio-cli)

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
set +e
DEMO_BIN="$ROOT/target/debug/oxsio-demo" OXSIO_BIN="$ROOT/target/debug/oxsio" \
  timeout 400 node --test --test-reporter=spec chat.test.js admin_ui.test.js 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
passed=$(grep -Eo '^ℹ pass [0-9]+' "$log" | awk '{print $3}' | tail -1)
failed=$(grep -Eo '^ℹ fail [0-9]+' "$log" | awk '{print $3}' | tail -1)
echo "browser: ${passed:-0} passed, ${failed:-0} failed"
if [[ $rc -ne 0 || -z "$passed" || "$passed" -eq 0 ]]; then
  [[ $rc -ne 0 ]] || rc=1
  echo "run.sh: browser tests failed (exit $rc)"
  exit "$rc"
fi
