#!/usr/bin/env bash
# Install the build tree $1 into a temporary prefix, then build and run a
# consumer with find_package(nde) and one with pkg-config.
set -euo pipefail
build=$1
src=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" > /dev/null
cmake -S "$src" -B "$tmp/cmake-build" -DCMAKE_PREFIX_PATH="$tmp/prefix" > /dev/null
cmake --build "$tmp/cmake-build" > /dev/null
"$tmp/cmake-build/consumer"
libdir=$(ls -d "$tmp"/prefix/lib*/pkgconfig | head -n 1)
PKG_CONFIG_PATH="$libdir" cc "$src/main.c" -o "$tmp/pc-consumer" \
  $(PKG_CONFIG_PATH="$libdir" pkg-config --define-variable=prefix="$tmp/prefix" --cflags --libs nde) \
  -Wl,-rpath,"$(dirname "$libdir")"
"$tmp/pc-consumer"
echo "consumer: find_package and pkg-config builds OK"
