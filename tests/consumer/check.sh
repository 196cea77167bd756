#!/usr/bin/env bash
# Install the build tree $1 under a prefix of its own, as a user would with
# `cmake --install BUILD --prefix P`, then build and run tests/consumer/main.c
#  - with CMake: find_package(nde) given CMAKE_PREFIX_PATH=P,
#  - with plain pkg-config given PKG_CONFIG_PATH=P/<libdir>/pkgconfig,
# and, after moving the whole install elsewhere, with pkg-config again (the
# package must not remember where it was installed).
set -euo pipefail
build=$1
src=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fail() {
  echo "consumer: $*" >&2
  exit 1
}

cmake --install "$build" --prefix "$tmp/prefix" > /dev/null

# find_package(nde) from the custom prefix.
cmake -S "$src" -B "$tmp/cmake-build" -DCMAKE_PREFIX_PATH="$tmp/prefix" > "$tmp/cmake.log" ||
  { cat "$tmp/cmake.log" >&2; fail "find_package(nde) with CMAKE_PREFIX_PATH=$tmp/prefix failed"; }
nde_dir=$(sed -n 's/^nde_DIR:PATH=//p' "$tmp/cmake-build/CMakeCache.txt")
case "$nde_dir" in
  "$tmp/prefix"/*) ;;
  *) fail "find_package(nde) found '$nde_dir', not the install under $tmp/prefix" ;;
esac
cmake --build "$tmp/cmake-build" > /dev/null
"$tmp/cmake-build/consumer"

# Plain pkg-config, exactly as a user types it: the flags must point into the
# prefix the package was installed to, whatever prefix it was configured for.
pkg_build() { # prefix output
  local pcdir
  pcdir=$(dirname "$(find "$1" -name nde.pc -print -quit)")
  [ -f "$pcdir/nde.pc" ] || fail "no nde.pc under $1"
  local cflags libs libdir
  cflags=$(PKG_CONFIG_PATH="$pcdir" pkg-config --cflags nde)
  libs=$(PKG_CONFIG_PATH="$pcdir" pkg-config --libs nde)
  libdir=$(PKG_CONFIG_PATH="$pcdir" pkg-config --variable=libdir nde)
  echo "pkg-config --cflags --libs nde: $cflags $libs"
  case "$cflags" in
    *"-I$1/"*) ;;
    *) fail "pkg-config --cflags nde gives '$cflags', not an include directory under $1" ;;
  esac
  case "$libs" in
    *"-L$1/"*) ;;
    *) fail "pkg-config --libs nde gives '$libs', not a library directory under $1" ;;
  esac
  # shellcheck disable=SC2086  # the flags are meant to split
  cc "$src/main.c" -o "$2" $cflags $libs -Wl,-rpath,"$libdir" ||
    fail "compiling with pkg-config's flags for the install under $1 failed"
  "$2"
}
pkg_build "$tmp/prefix" "$tmp/pc-consumer"

mkdir "$tmp/moved"
mv "$tmp/prefix" "$tmp/moved/prefix"
pkg_build "$tmp/moved/prefix" "$tmp/pc-consumer-moved"
echo "consumer: find_package and pkg-config builds OK"
