#!/usr/bin/env bash
# The Autobahn|Testsuite fuzzing client (PyPI autobahntestsuite 25.10.1,
# made to run under Python 3 by py3patch.py) against oxsio's server-side
# WebSocket (the engine's own WsIo, as a plain echo endpoint:
# oxsio::engineio::conformance, example autobahn_echo) and, for
# comparison in the same run, tokio-tungstenite's echo server.
#
# Usage: bash tests/autobahn/run.sh [quick|full]
#   quick (the default, the test command): cases 1-7 all, and of 12-13
#         (permessage-deflate) the subcases 1, 5, 9 and 14 of each group
#         (payloads of 16 B, 4 KiB, 64 KiB, and 64 KiB auto-fragmented to
#         256 B), each for every data set and every offer/accept pair.
#   full: cases 1-7 and 12-13 all (about 10 minutes more).
# Prints a table per agent and section, every oxsio case that is not OK,
# and `autobahn: N passed, M failed` over oxsio's cases; exits non-zero if
# one failed. The HTML and JSON reports are in target/autobahn/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
HERE=tests/autobahn
MODE=${1:-quick}
VENV=$HERE/.venv
OUT=target/autobahn
mkdir -p "$OUT"

# 1. The suite, in a venv, patched for Python 3 (redone when the pins or the
#    patch change).
stamp=$(cat "$HERE/requirements.txt" "$HERE/py3patch.py" | sha256sum | cut -d' ' -f1)
if [ "$(cat "$VENV/.stamp" 2>/dev/null)" != "$stamp" ]; then
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r "$HERE/requirements.txt"
  # --no-compile: bytecode of the unpatched sources could outlive the patch.
  "$VENV/bin/pip" install -q --disable-pip-version-check --no-deps --no-compile autobahntestsuite==25.10.1
  site=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  "$VENV/bin/python" "$HERE/py3patch.py" "$site"
  "$VENV/bin/python" -c 'import autobahntestsuite.wstest' || { echo "autobahn: the patched suite does not import"; exit 1; }
  echo "$stamp" > "$VENV/.stamp"
fi

# 2. The echo servers.
cargo build --quiet -p oxsio --features conformance --example autobahn_echo
target/debug/examples/autobahn_echo 0 0 > "$OUT/servers.txt" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  grep -q tungstenite= "$OUT/servers.txt" && break
  sleep 0.1
done
oxsio_addr=$(sed -n 's/.*oxsio=\([^ ]*\).*/\1/p' "$OUT/servers.txt")
tungstenite_addr=$(sed -n 's/.*tungstenite=\([^ ]*\).*/\1/p' "$OUT/servers.txt")
[ -n "$oxsio_addr" ] && [ -n "$tungstenite_addr" ] || { cat "$OUT/servers.txt"; exit 1; }

# 3. The spec and the run.
if [ "$MODE" = full ]; then
  cases='"1.*", "2.*", "3.*", "4.*", "5.*", "6.*", "7.*", "12.*", "13.*"'
else
  cases='"1.*", "2.*", "3.*", "4.*", "5.*", "6.*", "7.*"'
  for g in 1 2 3 4 5; do for s in 1 5 9 14; do cases="$cases, \"12.$g.$s\""; done; done
  for g in 1 2 3 4 5 6 7; do for s in 1 5 9 14; do cases="$cases, \"13.$g.$s\""; done; done
fi
rm -rf "$OUT/reports"
cat > "$OUT/spec.json" <<SPEC
{
  "outdir": "$PWD/$OUT/reports",
  "servers": [
    {"agent": "oxsio", "url": "ws://$oxsio_addr"},
    {"agent": "tungstenite", "url": "ws://$tungstenite_addr"}
  ],
  "cases": [$cases],
  "exclude-cases": [],
  "exclude-agent-cases": {}
}
SPEC
wstest="$PWD/$VENV/bin/wstest"
(cd "$OUT" && timeout 1800 "$wstest" -m fuzzingclient -s spec.json > wstest.log 2>&1) || {
  tail -30 "$OUT/wstest.log"; exit 1; }

# 4. The table; non-zero exit on a failed oxsio case (UNIMPLEMENTED too:
#    every offer of 13.x, smaller server windows included, is agreed).
"$VENV/bin/python" "$HERE/report.py" "$OUT/reports/index.json"
