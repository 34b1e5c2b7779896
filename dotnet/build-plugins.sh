#!/usr/bin/env bash
# Builds liboxsio (release) and copies it where the Unity package loads it:
# dotnet/Plugins/Linux/x86_64/liboxsio.so. Usage: bash dotnet/build-plugins.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
cargo build --release -p oxsio-ffi --lib
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
case "$TARGET" in /*) ;; *) TARGET="$ROOT/$TARGET" ;; esac
mkdir -p dotnet/Plugins/Linux/x86_64
install -m 0755 "$TARGET/release/liboxsio.so" dotnet/Plugins/Linux/x86_64/liboxsio.so
echo "dotnet/Plugins/Linux/x86_64/liboxsio.so"
