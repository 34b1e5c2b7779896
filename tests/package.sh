#!/usr/bin/env bash
# Packaging checks, as a publisher would run them on a clean machine:
#   - `cargo package` of oxsio and oxsio-ffi (metadata, no warning), and no
#     path of their package lists outside the package
#   - `cargo doc --no-deps` of both with warnings denied
#   - the Python sdist (`maturin sdist`), an abi3 wheel built by `maturin build`
#     from that unpacked sdist (so the sdist is complete), installed into a
#     fresh virtualenv, where a server and a client exchange an ack.
# Ends with "packaging: N passed, N failed"; exits non-zero on a failure.
# Usage: bash tests/package.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT="$ROOT/target/py-package"
passed=0
failed=0
check() { # check NAME COMMAND...: runs the command, counts the outcome
  local name="$1"
  shift
  echo "--- $name"
  if "$@"; then
    passed=$((passed + 1))
    echo "ok: $name"
  else
    failed=$((failed + 1))
    echo "FAILED: $name"
  fi
}

cargo_package() {
  local log
  log="$(cargo package -p oxsio -p oxsio-ffi --no-verify --allow-dirty 2>&1)"
  echo "$log" | grep -v "Updating crates.io index"
  ! grep -q "^warning" <<<"$log"
}
package_lists_stay_inside() {
  local pkg list
  for pkg in oxsio oxsio-ffi; do
    list="$(cargo package -p "$pkg" --list --allow-dirty 2>/dev/null)"
    grep -x "LICENSE" <<<"$list" >/dev/null || { echo "$pkg: no LICENSE"; return 1; }
    grep -x "README.md" <<<"$list" >/dev/null || { echo "$pkg: no README.md"; return 1; }
    if grep -E '(^|/)\.\.(/|$)|^/' <<<"$list"; then
      echo "$pkg: paths outside the package"
      return 1
    fi
  done
  tar -tzf target/package/oxsio-ffi-0.1.0.crate | grep -x "oxsio-ffi-0.1.0/include/oxsio.h" >/dev/null
}
docs() {
  RUSTDOCFLAGS="-D warnings" cargo doc --quiet --no-deps -p oxsio --features redis,postgres,conformance &&
    RUSTDOCFLAGS="-D warnings" cargo doc --quiet --no-deps -p oxsio-ffi
}
python_packages() {
  rm -rf "$OUT/dist" "$OUT/sdist" "$OUT/fresh"
  if [[ ! -x "$OUT/venv/bin/maturin" ]]; then
    python3 -m venv "$OUT/venv"
    "$OUT/venv/bin/python" -m pip install -q --disable-pip-version-check "maturin>=1.9,<2"
  fi
  local maturin="$OUT/venv/bin/maturin"
  "$maturin" sdist -m python/Cargo.toml -o "$OUT/dist" || return 1
  local sdist
  sdist="$(ls "$OUT"/dist/oxsio-*.tar.gz)"
  mkdir -p "$OUT/sdist"
  tar -xzf "$sdist" -C "$OUT/sdist"
  # The wheel is built from the unpacked sdist, not from the repository.
  (cd "$OUT"/sdist/oxsio-* && CARGO_TARGET_DIR="$ROOT/target" "$maturin" build --release --quiet -o "$OUT/dist") || return 1
  local wheel
  wheel="$(ls "$OUT"/dist/oxsio-*.whl)"
  echo "built: $(basename "$sdist") $(basename "$wheel")"
  [[ "$(basename "$wheel")" == *-abi3-* ]] || { echo "not an abi3 wheel"; return 1; }
  python3 -m venv "$OUT/fresh"
  "$OUT/fresh/bin/python" -m pip install -q --disable-pip-version-check "$wheel" || return 1
  (cd /tmp && timeout 60 "$OUT/fresh/bin/python" - <<'PY')
import oxsio

sio = oxsio.Server()

@sio.event
def hello(sid, name):
    return "hello " + name

port = sio.start("127.0.0.1", 0)
client = oxsio.Client()
client.connect(f"http://127.0.0.1:{port}", wait_timeout=10)
answer = client.call("hello", "wheel", timeout=10)
client.disconnect()
sio.stop()
assert answer == "hello wheel", answer
print("fresh venv:", oxsio.__file__, "->", answer)
PY
}

check "cargo package (oxsio, oxsio-ffi) without warnings" cargo_package
check "package lists: LICENSE, README, nothing outside the package" package_lists_stay_inside
check "cargo doc --no-deps, warnings denied" docs
check "Python sdist + abi3 wheel from it, installed in a fresh venv" python_packages

echo "packaging: ${passed} passed, ${failed} failed"
[[ $failed -eq 0 ]]
