#!/usr/bin/env bash
# Tests of the Python module, against the installed module in a virtualenv:
# creates python/.venv (idempotent), installs the test requirements and the
# module (`pip install ./python`, a maturin build), then runs
# `python -m mypy.stubtest oxsio._native`, `mypy --strict -p oxsio` and
# pytest (per-test timeouts).
# The JavaScript interop test uses tests/interop/node_modules (setup.sh).
# Usage: bash python/run-tests.sh [pytest args...]
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$HERE"

PY="${PYTHON:-python3}"
if [[ ! -x .venv/bin/python ]]; then
  echo "run-tests.sh: creating python/.venv"
  "$PY" -m venv .venv
fi
PIP=(.venv/bin/python -m pip --disable-pip-version-check --no-input -q)

stamp=".venv/.oxsio-requirements"
want="$(sha256sum requirements-test.txt | cut -d' ' -f1)"
if [[ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]]; then
  echo "run-tests.sh: installing the test requirements"
  "${PIP[@]}" install -r requirements-test.txt
  echo "$want" > "$stamp"
fi

echo "run-tests.sh: pip install ./python (maturin build)"
"${PIP[@]}" install --force-reinstall --no-deps .

if [[ ! -d ../tests/interop/node_modules/socket.io-client ]]; then
  bash ../tests/interop/setup.sh
fi

echo "run-tests.sh: mypy.stubtest oxsio._native; mypy --strict -p oxsio"
# Run outside the source tree so the installed package is the one checked.
(cd tests && ../.venv/bin/python -m mypy.stubtest oxsio._native && ../.venv/bin/python -m mypy --strict -p oxsio)

echo "run-tests.sh: pytest"
cd tests
exec ../.venv/bin/python -m pytest -c ../pyproject.toml --rootdir .. -q -p no:cacheprovider "$@"
