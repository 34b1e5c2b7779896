#!/usr/bin/env bash
# Builds the C# binding (dotnet/Runtime) and its tests with Mono's mcs and runs
# them with mono against liboxsio (cargo build -p oxsio-ffi), the official Node
# server and the official JS client (tests/interop/node_modules).
# Installs mono-mcs and mono-devel (Debian) when mcs or mono is missing.
# Ends with "csharp: N passed, M failed"; exits non-zero on a failure.
# Usage: bash dotnet/run-tests.sh [test-name-filter]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
case "$TARGET" in /*) ;; *) TARGET="$ROOT/$TARGET" ;; esac
OUT="$TARGET/dotnet-tests"

if ! command -v mcs >/dev/null 2>&1 || ! command -v mono >/dev/null 2>&1; then
  echo "run-tests.sh: installing mono-mcs mono-devel"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq mono-mcs mono-devel >/dev/null
fi
command -v node >/dev/null 2>&1 || { echo "run-tests.sh: node is needed" >&2; exit 1; }
bash tests/interop/setup.sh >/dev/null

cargo build -q -p oxsio-ffi --lib
LIB="$TARGET/debug"
[ -f "$LIB/liboxsio.so" ] || { echo "run-tests.sh: no $LIB/liboxsio.so" >&2; exit 1; }

mkdir -p "$OUT"
# The binding, as a Unity project would compile it (no UNITY_* symbols here).
mcs -langversion:7.2 -target:library -warnaserror+ -debug -out:"$OUT/Oxsio.dll" dotnet/Runtime/*.cs
mcs -langversion:7.2 -target:exe -warnaserror+ -debug -r:"$OUT/Oxsio.dll" -r:System.Core.dll -out:"$OUT/Tests.exe" dotnet/Tests/Tests.cs

# The Unity package: its manifest, and the Runtime and the chat sample compiled
# as Unity compiles them (UNITY_5_3_OR_NEWER, against a stand-in UnityEngine).
pkg_passed=0
pkg_failed=0
pkg_check() { # pkg_check NAME COMMAND...
  local name="$1"
  shift
  if "$@"; then pkg_passed=$((pkg_passed + 1)); echo "ok     $name"; else pkg_failed=$((pkg_failed + 1)); echo "FAILED $name"; fi
}
manifest_ok() {
  node -e '
    const p = require(process.argv[1]);
    const fs = require("fs"), path = require("path");
    const dir = path.dirname(process.argv[1]);
    if (!/^[a-z0-9.-]+$/.test(p.name) || p.name.split(".").length < 3) throw new Error("UPM name " + p.name);
    if (!/^\d+\.\d+\.\d+$/.test(p.version)) throw new Error("version " + p.version);
    if (!p.unity || !p.displayName) throw new Error("unity / displayName missing");
    for (const s of p.samples) if (!fs.existsSync(path.join(dir, s.path))) throw new Error("sample path " + s.path);
    for (const d of ["Runtime/Oxsio.Runtime.asmdef", "Plugins/README.md"]) if (!fs.existsSync(path.join(dir, d))) throw new Error(d);
  ' "$ROOT/dotnet/package.json"
}
unity_compiles() {
  mcs -langversion:7.2 -target:library -warnaserror+ -out:"$OUT/UnityEngine.dll" dotnet/Tests/UnityEngineStub.cs &&
    mcs -langversion:7.2 -target:library -warnaserror+ -define:UNITY_5_3_OR_NEWER -r:"$OUT/UnityEngine.dll" \
      -out:"$OUT/unity/Oxsio.Runtime.dll" dotnet/Runtime/*.cs &&
    mcs -langversion:7.2 -target:library -warnaserror+ -r:"$OUT/UnityEngine.dll" -r:"$OUT/unity/Oxsio.Runtime.dll" \
      -out:"$OUT/unity/Oxsio.Samples.Chat.dll" "dotnet/Samples~/Chat/"*.cs
}
mkdir -p "$OUT/unity"
pkg_check "unity_package_manifest" manifest_ok
pkg_check "unity_runtime_and_chat_sample_compile" unity_compiles
echo "dotnet package: ${pkg_passed} passed, ${pkg_failed} failed"
[ "$pkg_failed" = 0 ]

# A CA and a certificate for 127.0.0.1 signed by it (the TLS test).
if [ ! -f "$OUT/tls/leaf.pem" ]; then
  mkdir -p "$OUT/tls"
  (
    cd "$OUT/tls"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=oxsio test CA" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" \
      -keyout ca.key -out ca.pem 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout leaf.key -out leaf.csr 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' > leaf.ext
    openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 3650 \
      -extfile leaf.ext -out leaf.pem 2>/dev/null
  )
fi

export LD_LIBRARY_PATH="$LIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export NODE_PATH="$ROOT/tests/interop/node_modules"
export OXSIO_TEST_CA="$OUT/tls/ca.pem" OXSIO_TEST_CERT="$OUT/tls/leaf.pem" OXSIO_TEST_KEY="$OUT/tls/leaf.key"
timeout 600 mono --debug "$OUT/Tests.exe" "$ROOT/dotnet/Tests/Tests.cs" "${1:-}"
