#!/usr/bin/env bash
# Installs the interop peers (idempotent, safe to run concurrently):
#   - node_modules via `npm ci` (skipped when it matches package-lock.json)
#   - .venv with python-socketio[client] from requirements.txt (skipped when
#     already installed from the same requirements.txt)
# Needs only the npm and PyPI registries. Usage: bash tests/interop/setup.sh
set -euo pipefail

DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$DIR"

# Serialise concurrent runs (e.g. several cargo tests calling this at once).
exec 9>"$DIR/.setup.lock"
flock 9

hash_of() { sha256sum "$@" | sha256sum | cut -d' ' -f1; }

# ---------------------------------------------------------------- node peers
NODE_STAMP="node_modules/.oxsio-setup-stamp"
node_hash="$(hash_of package.json package-lock.json)-$(node --version)"
if [[ -f "$NODE_STAMP" && "$(cat "$NODE_STAMP")" == "$node_hash" ]]; then
  echo "setup.sh: node_modules up to date"
else
  echo "setup.sh: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$node_hash" > "$NODE_STAMP"
fi

# ------------------------------- the official protocol test suites (mocha)
for suite in engine.io socket.io; do
  SDIR="$DIR/../protocol-suites/$suite"
  stamp="$SDIR/node_modules/.oxsio-setup-stamp"
  h="$(hash_of "$SDIR/package.json" "$SDIR/package-lock.json")-$(node --version)"
  if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$h" ]]; then
    echo "setup.sh: npm ci in tests/protocol-suites/$suite"
    (cd "$SDIR" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$h" > "$stamp"
  fi
done

# -------------------------------------------------------------- python peer
VENV_STAMP=".venv/.oxsio-setup-stamp"
py_hash="$(hash_of requirements.txt)-$(python3 --version 2>&1 | tr ' ' '_')"
if [[ -f "$VENV_STAMP" && -x .venv/bin/python && "$(cat "$VENV_STAMP")" == "$py_hash" ]]; then
  echo "setup.sh: .venv up to date"
else
  if [[ ! -x .venv/bin/python ]]; then
    echo "setup.sh: creating .venv"
    rm -rf .venv
    python3 -m venv .venv
  fi
  echo "setup.sh: pip install -r requirements.txt"
  .venv/bin/python -m pip install --disable-pip-version-check --no-input -q -r requirements.txt
  echo "$py_hash" > "$VENV_STAMP"
fi
