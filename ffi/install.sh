#!/usr/bin/env bash
# Builds liboxsio and installs it for C and C++ users under a prefix:
#
#   PREFIX/lib/liboxsio.so.X.Y.Z            the shared library (SONAME liboxsio.so.ABI)
#   PREFIX/lib/liboxsio.so.ABI -> .so.X.Y.Z  what programs load
#   PREFIX/lib/liboxsio.so -> .so.ABI        what `-loxsio` links
#   PREFIX/lib/liboxsio.a                    the static library
#   PREFIX/include/oxsio.h, oxsio.hpp        the C header and the C++17 wrapper
#   PREFIX/lib/pkgconfig/oxsio.pc            `pkg-config --cflags --libs oxsio`
#                                            (`--static` adds the system libraries)
#   PREFIX/lib/cmake/oxsio/                  `find_package(oxsio)`: targets
#                                            oxsio::oxsio (shared) and
#                                            oxsio::oxsio_static
#
# ABI is 0.MINOR before 1.0 (a minor release may change the ABI), MAJOR after.
# The CMake files locate the prefix from their own path, so an installed tree
# can be moved; oxsio.pc names PREFIX (pkg-config's --define-prefix relocates
# it).
#
# Usage: ffi/install.sh --prefix DIR [--profile release|debug] [--libdir NAME]
#   --profile  the cargo profile to build and install (default release)
#   --libdir   library directory under the prefix (default lib)
# Needs cargo; uses CARGO_TARGET_DIR when set.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//' >&2
  exit 2
}

prefix=""
profile="release"
libdir="lib"
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix="${2:?--prefix needs a directory}"; shift 2 ;;
    --prefix=*) prefix="${1#--prefix=}"; shift ;;
    --profile) profile="${2:?--profile needs release or debug}"; shift 2 ;;
    --profile=*) profile="${1#--profile=}"; shift ;;
    --libdir) libdir="${2:?--libdir needs a name}"; shift 2 ;;
    --libdir=*) libdir="${1#--libdir=}"; shift ;;
    -h|--help) usage ;;
    *) echo "install.sh: unknown argument: $1" >&2; usage ;;
  esac
done
[ -n "$prefix" ] || { echo "install.sh: --prefix DIR is required" >&2; usage; }
case "$profile" in
  release) cargo_profile=(--release); out_name=release ;;
  debug) cargo_profile=(); out_name=debug ;;
  *) echo "install.sh: --profile must be release or debug, not $profile" >&2; exit 2 ;;
esac
case "$libdir" in
  /*|*..*) echo "install.sh: --libdir is a name under the prefix, not $libdir" >&2; exit 2 ;;
esac

version="$(sed -n 's/^#define OXSIO_VERSION "\(.*\)"$/\1/p' "$ROOT/include/oxsio.h")"
major="${version%%.*}"
rest="${version#*.}"
minor="${rest%%.*}"
if [ "$major" = 0 ]; then abi="0.$minor"; else abi="$major"; fi
[ -n "$version" ] && [ -n "$minor" ] || { echo "install.sh: no OXSIO_VERSION in include/oxsio.h" >&2; exit 1; }

echo "building liboxsio $version ($profile)"
(cd "$ROOT" && cargo build -p oxsio-ffi --lib "${cargo_profile[@]}")
target="${CARGO_TARGET_DIR:-$ROOT/target}"
case "$target" in /*) ;; *) target="$ROOT/$target" ;; esac
build="$target/$out_name"
for f in liboxsio.so liboxsio.a; do
  [ -f "$build/$f" ] || { echo "install.sh: $build/$f was not built" >&2; exit 1; }
done
# The system libraries the static archive needs besides libc (what rustc's
# --print native-static-libs lists for this crate on Linux; the install test
# links a program against liboxsio.a with exactly these).
static_libs="-lpthread -ldl -lm"

mkdir -p "$prefix"
prefix="$(cd "$prefix" && pwd)"
lib="$prefix/$libdir"
mkdir -p "$lib/pkgconfig" "$lib/cmake/oxsio" "$prefix/include"

install -m 0755 "$build/liboxsio.so" "$lib/liboxsio.so.$version"
ln -sfn "liboxsio.so.$version" "$lib/liboxsio.so.$abi"
ln -sfn "liboxsio.so.$abi" "$lib/liboxsio.so"
install -m 0644 "$build/liboxsio.a" "$lib/liboxsio.a"
install -m 0644 "$ROOT/include/oxsio.h" "$ROOT/include/oxsio.hpp" "$prefix/include/"

cat >"$lib/pkgconfig/oxsio.pc" <<EOF
prefix=$prefix
libdir=\${prefix}/$libdir
includedir=\${prefix}/include

Name: oxsio
Description: Socket.IO v5 / Engine.IO v4 server and client (C ABI, C++17 wrapper)
Version: $version
Libs: -L\${libdir} -loxsio
Libs.private: $static_libs
Cflags: -I\${includedir}
EOF

# CMake: the list of system libraries as a CMake list, for the static target.
cmake_static_libs=""
for l in $static_libs; do
  case "$l" in
    -lpthread) cmake_static_libs+="Threads::Threads;" ;;
    -l*) cmake_static_libs+="${l#-l};" ;;
  esac
done
cmake_static_libs="${cmake_static_libs%;}"
# Path from lib/cmake/oxsio back to the prefix.
up="$(sed 's|[^/][^/]*|..|g' <<<"$libdir/cmake/oxsio")"

cat >"$lib/cmake/oxsio/oxsioConfig.cmake" <<EOF
# CMake package configuration of oxsio $version (written by ffi/install.sh).
#   find_package(oxsio REQUIRED)
#   target_link_libraries(app PRIVATE oxsio::oxsio)         # liboxsio.so
#   target_link_libraries(app PRIVATE oxsio::oxsio_static)  # liboxsio.a
include(CMakeFindDependencyMacro)
find_dependency(Threads)

get_filename_component(_oxsio_prefix "\${CMAKE_CURRENT_LIST_DIR}/$up" ABSOLUTE)

if(NOT TARGET oxsio::oxsio)
  add_library(oxsio::oxsio SHARED IMPORTED)
  set_target_properties(oxsio::oxsio PROPERTIES
    IMPORTED_LOCATION "\${_oxsio_prefix}/$libdir/liboxsio.so.$version"
    IMPORTED_SONAME "liboxsio.so.$abi"
    INTERFACE_INCLUDE_DIRECTORIES "\${_oxsio_prefix}/include")
endif()
if(NOT TARGET oxsio::oxsio_static)
  add_library(oxsio::oxsio_static STATIC IMPORTED)
  set_target_properties(oxsio::oxsio_static PROPERTIES
    IMPORTED_LOCATION "\${_oxsio_prefix}/$libdir/liboxsio.a"
    IMPORTED_LINK_INTERFACE_LANGUAGES "C"
    INTERFACE_INCLUDE_DIRECTORIES "\${_oxsio_prefix}/include"
    INTERFACE_LINK_LIBRARIES "$cmake_static_libs")
endif()
set(oxsio_VERSION "$version")
set(oxsio_INCLUDE_DIRS "\${_oxsio_prefix}/include")
set(oxsio_LIBRARIES oxsio::oxsio)
unset(_oxsio_prefix)
EOF

cat >"$lib/cmake/oxsio/oxsioConfigVersion.cmake" <<EOF
# oxsio $version: compatible with a request for the same ABI ($abi), at this
# version or below.
set(PACKAGE_VERSION "$version")
set(PACKAGE_VERSION_COMPATIBLE FALSE)
if(NOT PACKAGE_FIND_VERSION VERSION_GREATER PACKAGE_VERSION)
  if("$major" STREQUAL "0")
    if(PACKAGE_FIND_VERSION_MAJOR STREQUAL "0" AND PACKAGE_FIND_VERSION_MINOR STREQUAL "$minor")
      set(PACKAGE_VERSION_COMPATIBLE TRUE)
    endif()
  elseif(PACKAGE_FIND_VERSION_MAJOR STREQUAL "$major")
    set(PACKAGE_VERSION_COMPATIBLE TRUE)
  endif()
endif()
if(PACKAGE_FIND_VERSION STREQUAL PACKAGE_VERSION)
  set(PACKAGE_VERSION_EXACT TRUE)
endif()
if(NOT CMAKE_SIZEOF_VOID_P STREQUAL "8")
  set(PACKAGE_VERSION "\${PACKAGE_VERSION} (64-bit)")
  set(PACKAGE_VERSION_UNSUITABLE TRUE)
endif()
EOF

echo "installed oxsio $version into $prefix"
echo "  $libdir/liboxsio.so.$version (SONAME liboxsio.so.$abi), liboxsio.a"
echo "  include/oxsio.h, include/oxsio.hpp"
echo "  $libdir/pkgconfig/oxsio.pc, $libdir/cmake/oxsio/oxsioConfig.cmake"
