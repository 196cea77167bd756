#!/usr/bin/env bash
# The shared libraries export exactly the public API: install the build tree
# $1 into a temporary prefix, list the functions declared in the installed
# headers (include/nde/*.h, as GCC's -aux-info sees them after
# preprocessing; static inline helpers are not exported and not listed) and
# the symbols the installed libnde*.so define (nm -D --defined-only), and
# fail on any difference, naming each symbol:
#   - declared but not exported: the declaration lacks NDE_API (nde/common.h)
#     or the function is not defined in the library;
#   - exported but in no header: an internal function or variable that
#     should be static or is missing NDE_API's counterpart in a header.
# Usage: symbols.sh BUILD_DIR C_COMPILER(GCC) NM [CFLAGS...]
# CFLAGS: what the headers need besides the install's include directory
# (e.g. -I<dir> of a dependency's header that one of them includes).
set -euo pipefail
export LC_ALL=C # one collation for sort, comm and join
build=$1
cc=${2:-cc}
nm=${3:-nm}
shift 3 || true
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cmake --install "$build" --prefix "$tmp/prefix" > /dev/null
inc="$tmp/prefix/include"
mapfile -t libs < <(find "$tmp/prefix" -name 'libnde*.so' | sort)
[ "${#libs[@]}" -gt 0 ] || { echo "symbols: no libnde*.so under the install" >&2; exit 1; }

# Every installed header in one translation unit.
for h in "$inc"/nde/*.h; do echo "#include \"nde/$(basename "$h")\""; done > "$tmp/all.c"
"$cc" -std=c11 -I"$inc" "$@" -fsyntax-only -aux-info "$tmp/aux.txt" "$tmp/all.c"

# Lines such as
#   /* /tmp/x/prefix/include/nde/common.h:38:NC */ extern const char *nde_version (void);
# give "name header:line" for each function declared (not defined) in a header.
awk -v inc="$inc/" '
  index($0, "/* " inc) == 1 && $2 ~ /:[NO]C$/ && $3 == "*/" && $4 == "extern" {
    where = substr($2, length(inc) + 1); sub(/:[^:]*$/, "", where)
    decl = $0; sub(/ \(.*/, "", decl); n = split(decl, w, /[ *]+/)
    print w[n], where
  }' "$tmp/aux.txt" | sort -u -k1,1 > "$tmp/declared"

# "symbol library" for what each library defines, less the linker's own symbols.
for lib in "${libs[@]}"; do
  "$nm" -D --defined-only "$lib" | awk -v lib="$(basename "$lib")" '{ print $NF, lib }'
done | sed 's/@[^ ]*//' | grep -v -E '^(_init|_fini|_edata|_end|__bss_start) ' |
  sort -u -k1,1 > "$tmp/exported_by"
cut -d' ' -f1 "$tmp/exported_by" > "$tmp/exported"

cut -d' ' -f1 "$tmp/declared" > "$tmp/declared_names"
missing=$(join -v1 "$tmp/declared" "$tmp/exported" || true)
extra=$(join -v2 "$tmp/declared_names" "$tmp/exported_by" || true)
ndecl=$(wc -l < "$tmp/declared_names")
nexp=$(wc -l < "$tmp/exported")

status=0
if [ -n "$missing" ]; then
  echo "symbols: declared in a header but exported by no nde library" \
    "(add NDE_API to the declaration, or define the function):"
  echo "$missing" | sed 's/^\([^ ]*\) \(.*\)/  \1 (include\/\2)/'
  status=1
fi
if [ -n "$extra" ]; then
  echo "symbols: exported but declared in no installed header" \
    "(make it static, or declare it in include/nde/ with NDE_API):"
  echo "$extra" | sed 's/^\([^ ]*\) \(.*\)/  \1 (\2)/'
  status=1
fi
[ "$ndecl" -gt 0 ] || { echo "symbols: no function found in the headers (parse failed)"; status=1; }
echo "symbols: $ndecl functions declared in include/nde/, $nexp symbols exported by" \
  "$(for l in "${libs[@]}"; do basename "$l"; done | tr '\n' ' ')"
exit $status
