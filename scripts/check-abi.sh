#!/usr/bin/env bash
# check-abi.sh — the gate that keeps libprov.so.1 binary-compatible.
#
#   scripts/check-abi.sh [options] BUILD_DIR     check the library built in BUILD_DIR
#   scripts/check-abi.sh --update BUILD_DIR      refresh abi/libprov.abi on purpose
#
# Checks (every failure is reported, then the script exits 1):
#   1. SONAME is libprov.so.1, libssl comes before libwolfssl in DT_NEEDED
#      (libwolfssl exports OpenSSL-named stubs; see docs/DESIGN.md "two traps"),
#      and every undefined symbol resolves (ldd -r).
#   2. The exported dynamic symbols, the PROV_API declarations in
#      include/prov/prov.h and the names in abi/libprov.map are the same set;
#      every export is a function in the text section and carries the version
#      node the map puts it in. The full list is printed.
#   3. prov_status is append-only: every value in abi/prov_status.txt keeps its
#      name and number in the header (abidiff cannot see this enum, because
#      the functions take and return int); the version macros agree with the
#      SONAME and the project version.
#   4. abidiff of the library against the committed baseline abi/libprov.abi:
#      an incompatible change (exit bit 8) or a tool error (bits 1/2) fails; an
#      addition (bit 4) fails too, with how to refresh the baseline on purpose.
# Policy and workflow: abi/README.md.
#
# Options (the defaults are the files of this checkout; the tests override
# them to feed the script deliberately broken variants):
#   --lib FILE        the shared library (default BUILD_DIR/src/libprov.so.1)
#   --header FILE     the public header (default include/prov/prov.h)
#   --map FILE        the version script (default abi/libprov.map)
#   --baseline FILE   the abidw baseline (default abi/libprov.abi)
#   --status-codes FILE  the released prov_status values (default abi/prov_status.txt)
#   --update          write the baseline and the status-code list from the
#                     library and header instead of comparing (only when the
#                     other checks pass)
set -uo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SOURCE_DIR=$(cd "$SCRIPT_DIR/.." && pwd)
readonly SCRIPT_DIR SOURCE_DIR
readonly EXPECTED_SONAME=libprov.so.1

usage() {
  sed -n '2,/^set -uo/{/^set -uo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
}

lib=""
header="$SOURCE_DIR/include/prov/prov.h"
map="$SOURCE_DIR/abi/libprov.map"
baseline="$SOURCE_DIR/abi/libprov.abi"
status_codes="$SOURCE_DIR/abi/prov_status.txt"
update=0
build_dir=""
while (($#)); do
  case "$1" in
    --lib) lib=${2:?--lib needs a file}; shift 2 ;;
    --header) header=${2:?--header needs a file}; shift 2 ;;
    --map) map=${2:?--map needs a file}; shift 2 ;;
    --baseline) baseline=${2:?--baseline needs a file}; shift 2 ;;
    --status-codes) status_codes=${2:?--status-codes needs a file}; shift 2 ;;
    --update) update=1; shift ;;
    -h | --help) usage; exit 0 ;;
    -*) echo "check-abi: unknown option '$1' (see --help)" >&2; exit 2 ;;
    *)
      if [[ -n $build_dir ]]; then
        echo "check-abi: more than one build directory given ('$build_dir', '$1')" >&2
        exit 2
      fi
      build_dir=$1; shift ;;
  esac
done
if [[ -z $lib ]]; then
  if [[ -z $build_dir ]]; then
    echo "check-abi: no build directory given (usage: check-abi.sh [--update] BUILD_DIR)" >&2
    exit 2
  fi
  lib="$build_dir/src/$EXPECTED_SONAME"
fi
for f in "$lib" "$header" "$map"; do
  if [[ ! -f $f ]]; then
    echo "check-abi: FAIL: no such file: $f" >&2
    exit 1
  fi
done
for tool in abidw abidiff nm readelf cc; do
  if ! command -v "$tool" >/dev/null; then
    echo "check-abi: FAIL: '$tool' not found (abidw/abidiff: Debian package abigail-tools)" >&2
    exit 1
  fi
done

failures=0
fail() {
  echo "check-abi: FAIL: $*" >&2
  failures=$((failures + 1))
}
note() { echo "check-abi: $*"; }

work=$(mktemp -d "${TMPDIR:-/tmp}/check-abi.XXXXXX")
trap 'rm -rf "$work"' EXIT

note "library:  $lib"
note "header:   $header"
note "map:      $map"
note "baseline: $baseline"

# ---------------------------------------------------------------- 1. ELF ---
soname=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
if [[ $soname != "$EXPECTED_SONAME" ]]; then
  fail "SONAME is '${soname:-<none>}', expected '$EXPECTED_SONAME' (the SONAME major changes only with an ABI break: abi/README.md)"
else
  note "SONAME $soname"
fi

readelf -d "$lib" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' >"$work/needed"
ssl_pos=$(grep -n '^libssl\.so' "$work/needed" | head -1 | cut -d: -f1)
wolf_pos=$(grep -n '^libwolfssl\.so' "$work/needed" | head -1 | cut -d: -f1)
if [[ -n $wolf_pos ]]; then
  if [[ -z $ssl_pos ]]; then
    fail "DT_NEEDED has libwolfssl but no libssl: libcurl's OpenSSL could bind to libwolfssl's OpenSSL-named stubs (link OpenSSL::SSL explicitly, before wolfSSL)"
  elif ((ssl_pos > wolf_pos)); then
    fail "DT_NEEDED lists libwolfssl (position $wolf_pos) before libssl (position $ssl_pos): libwolfssl's OpenSSL-named stubs would shadow libssl's own functions (docs/DESIGN.md 'two traps'); link OpenSSL before wolfSSL"
  else
    note "DT_NEEDED order ok: libssl (#$ssl_pos) before libwolfssl (#$wolf_pos)"
  fi
fi

# Every undefined reference must resolve against the DT_NEEDED libraries
# (what -Wl,--no-undefined promises at link time), or a program would fail
# at load or at first call.
unresolved=$(ldd -r "$lib" 2>&1 | sed -n 's/^undefined symbol: \([^ 	]*\).*/\1/p' | sort -u)
if [[ -n $unresolved ]]; then
  fail "undefined symbols that no DT_NEEDED library provides (link with -Wl,--no-undefined): $(echo "$unresolved" | tr '\n' ' ')"
else
  note "every undefined symbol resolves (ldd -r)"
fi

# ------------------------------------------------------------ 2. symbols ---
# Functions declared with PROV_API: comments stripped by the preprocessor,
# directives dropped, then one declaration per ';'.
if ! cc -fpreprocessed -dD -E -P -x c "$header" >"$work/header.i" 2>"$work/header.err"; then
  fail "cannot read $header: $(cat "$work/header.err")"
fi
grep -v '^[[:space:]]*#' "$work/header.i" | tr '\n' ' ' | tr ';' '\n' |
  grep -E '(^|[^A-Za-z0-9_])PROV_API[[:space:]]' |
  sed -E 's/\(.*//; s/.*[^A-Za-z0-9_]([A-Za-z_][A-Za-z0-9_]*)[[:space:]]*$/\1/' |
  sort >"$work/header.names"
if [[ -n $(uniq -d "$work/header.names") ]]; then
  fail "functions declared twice with PROV_API in $(basename "$header"): $(uniq -d "$work/header.names" | tr '\n' ' ')"
fi
sort -u -o "$work/header.names" "$work/header.names"

# Names in the version script, with their node: "name node" per line.
# Comments are dropped; wildcards in a global: section are reported, because
# every name must be listed in the node of the release that introduced it.
awk '
  { text = text $0 "\n" }
  END {
    gsub(/\/\*([^*]|\*+[^*\/])*\*+\//, " ", text)   # /* ... */ comments
    gsub(/#[^\n]*/, " ", text)                       # # comments
    gsub(/[{};:]/, " & ", text)
    n = split(text, tok, /[ \t\n]+/)
    depth = 0; section = ""; node = ""
    for (i = 1; i <= n; i++) {
      t = tok[i]
      if (t == "") continue
      if (t == "{") { depth++; if (depth == 1) { node = prev; section = "global" } ; continue }
      if (t == "}") { depth--; section = ""; continue }
      if (t == ":" ) { if (prev == "global" || prev == "local") section = prev; continue }
      if (t == ";") { if (depth == 1 && section == "global" && name != "") print name, node; name = ""; continue }
      if (depth == 1 && t != "global" && t != "local" && t != "extern") name = t
      prev = t
    }
  }' "$map" >"$work/map.entries"
if grep -q '[*?[]' "$work/map.entries"; then
  fail "abi/libprov.map exports by pattern ($(grep '[*?[]' "$work/map.entries" | tr '\n' ' ')): list every function by name in its release node (abi/README.md)"
fi
cut -d' ' -f1 "$work/map.entries" | grep -v '[*?[]' | sort >"$work/map.names"
if [[ -n $(uniq -d "$work/map.names") ]]; then
  fail "names listed more than once in the version script: $(uniq -d "$work/map.names" | tr '\n' ' ')"
fi
sort -u -o "$work/map.names" "$work/map.names"
awk '{print $2}' "$work/map.entries" | sort -u >"$work/map.nodes"

# Exported symbols. Version nodes appear as absolute (A) symbols; skip them.
nm -D --defined-only "$lib" >"$work/nm" || fail "nm -D failed on $lib"
awk 'NF >= 3 { print $2, $3 } NF == 2 { print $1, $2 }' "$work/nm" |
  grep -v -x -F -f <(sed 's/^/A /' "$work/map.nodes") |
  grep -v -E '^A PROV_[0-9]' >"$work/exports.raw" || true
# "T name@@NODE" -> "name T NODE"
sed -E 's/^([A-Za-z]) ([^@]+)(@@?(.*))?$/\2 \1 \4/' "$work/exports.raw" | sort >"$work/exports"
cut -d' ' -f1 "$work/exports" | sort -u >"$work/export.names"

note "exported symbols ($(wc -l <"$work/exports")):"
while read -r name type version; do
  printf 'check-abi:   %-45s %s %s\n' "$name" "$type" "${version:-<unversioned>}"
done <"$work/exports"

not_text=$(awk '$2 != "T" { print $1 " (nm type " $2 ")" }' "$work/exports")
if [[ -n $not_text ]]; then
  fail "exported symbols that are not functions in the text section: $(echo "$not_text" | tr '\n' ' ')"
fi
leaked=$(comm -23 "$work/export.names" "$work/header.names")
if [[ -n $leaked ]]; then
  fail "exported but not declared with PROV_API in $(basename "$header") (leaked symbols; check -fvisibility=hidden, the version script and --exclude-libs): $(echo "$leaked" | tr '\n' ' ')"
fi
missing=$(comm -13 "$work/export.names" "$work/header.names")
if [[ -n $missing ]]; then
  fail "declared with PROV_API in $(basename "$header") but not exported by the library (removed, not implemented, or not listed in the version script): $(echo "$missing" | tr '\n' ' ')"
fi
not_in_map=$(comm -13 "$work/map.names" "$work/header.names")
if [[ -n $not_in_map ]]; then
  fail "declared in $(basename "$header") but not listed in $(basename "$map") (add them to a new node named after the next release, e.g. PROV_1.1: abi/README.md): $(echo "$not_in_map" | tr '\n' ' ')"
fi
not_in_header=$(comm -23 "$work/map.names" "$work/header.names")
if [[ -n $not_in_header ]]; then
  fail "listed in $(basename "$map") but not declared with PROV_API in $(basename "$header"): $(echo "$not_in_header" | tr '\n' ' ')"
fi
# Each export must carry the node the map lists it in (a symbol's version is
# what old binaries bind to).
wrong_version=$(join <(sort "$work/map.entries") <(awk '{print $1, $3}' "$work/exports" | sort) |
  awk '$2 != $3 { print $1 " (map: " $2 ", library: " ($3 == "" ? "unversioned" : $3) ")" }')
if [[ -n $wrong_version ]]; then
  fail "exported with a symbol version other than its node in the map: $(echo "$wrong_version" | tr '\n' ' ')"
fi
header_count=$(wc -l <"$work/header.names")
export_count=$(wc -l <"$work/exports")
if ((failures == 0)); then
  note "symbols ok: $export_count exported = $header_count PROV_API functions in $(basename "$header") = $(wc -l <"$work/map.names") names in $(basename "$map")"
fi

# ------------------------------------------------- 3. status codes, versions ---
# The enumerators of prov_status and their values, as the compiler sees them.
sed -n '/typedef enum prov_status/,/} prov_status;/p' "$work/header.i" |
  grep -o '^[[:space:]]*PROV_[A-Z0-9_]*' | tr -d ' \t' >"$work/status.names"
{
  printf '#include <stdio.h>\n#include "%s"\nint main(void) {\n' "$header"
  while read -r name; do printf '  printf("%%s %%ld\\n", "%s", (long)%s);\n' "$name" "$name"; done <"$work/status.names"
  printf '  return 0;\n}\n'
} >"$work/status.c"
if [[ ! -s $work/status.names ]]; then
  fail "found no 'typedef enum prov_status { ... } prov_status;' in $(basename "$header")"
elif ! cc -o "$work/status" "$work/status.c" 2>"$work/status.err" || ! "$work/status" >"$work/status.current"; then
  fail "cannot evaluate the prov_status values: $(cat "$work/status.err")"
elif ((update == 0)); then
  if [[ ! -f $status_codes ]]; then
    fail "no status-code list $status_codes; create it on purpose with: scripts/check-abi.sh --update ${build_dir:-BUILD_DIR}"
  else
    changed=$(grep -v '^#' "$status_codes" | grep -v -x -F -f "$work/status.current" || true)
    # New names only; a known name with another value is reported as changed.
    added=$(awk 'NR == FNR { if ($0 !~ /^#/) known[$1] = 1; next } !($1 in known)' \
      "$status_codes" "$work/status.current")
    if [[ -n $changed ]]; then
      fail "prov_status values were renumbered or removed (append-only: never change a released code): $(echo "$changed" | tr '\n' ' ')"
    fi
    if [[ -n $added ]]; then
      fail "new prov_status values ($(echo "$added" | tr '\n' ' ')) are not in $(basename "$status_codes"); if intended, run 'scripts/check-abi.sh --update ${build_dir:-BUILD_DIR}' and commit it"
    fi
    [[ -z $changed && -z $added ]] && note "prov_status: $(wc -l <"$work/status.current") values, unchanged since $(basename "$status_codes")"
  fi
fi

header_major=$(sed -n 's/^#define PROV_VERSION_MAJOR \([0-9]*\).*/\1/p' "$work/header.i")
if [[ -n $soname && $soname != "libprov.so.${header_major:-?}" ]]; then
  fail "PROV_VERSION_MAJOR is '${header_major:-<none>}' but the SONAME is '$soname': the package major and the SONAME major are the same number (abi/README.md)"
fi
if [[ -f $SOURCE_DIR/CMakeLists.txt && $header == "$SOURCE_DIR/include/prov/prov.h" ]]; then
  project_version=$(sed -n 's/^project(libprov VERSION \([0-9.]*\).*/\1/p' "$SOURCE_DIR/CMakeLists.txt")
  header_version=$(sed -n 's/^#define PROV_VERSION_STRING "\(.*\)"/\1/p' "$work/header.i")
  if [[ $project_version != "$header_version" ]]; then
    fail "project(libprov VERSION $project_version) in CMakeLists.txt differs from PROV_VERSION_STRING \"$header_version\" in prov.h"
  else
    note "version $header_version (header) = project version; SONAME major $header_major"
  fi
fi

# ------------------------------------------------------------ 4. abidiff ---
sections=$(readelf -S "$lib")
if [[ $sections != *.debug_info* ]]; then
  fail "$lib has no DWARF debug info, so abidiff cannot compare types; build with -g (CMAKE_BUILD_TYPE RelWithDebInfo or Debug)"
  exit 1
fi
# The options make the XML reproducible (no locations, no build paths, type
# ids by hash) and limited to the public interface: only exported functions,
# and only types defined in include/prov (the private definitions of
# struct prov_client/prov_result stay out). Source paths are made relative to
# the checkout so the baseline does not depend on where it was built.
abidw_opts=(--no-show-locs --no-corpus-path --no-comp-dir-path --type-id-style hash
  --headers-dir "$(dirname "$header")" --exported-interfaces-only --drop-private-types)
if ! abidw "${abidw_opts[@]}" "$lib" >"$work/current.abi" 2>"$work/abidw.err"; then
  fail "abidw failed on $lib: $(cat "$work/abidw.err")"
  exit 1
fi
sed -i "s|path='$SOURCE_DIR/|path='|g" "$work/current.abi"

# Functions without their own DWARF description (identical-code folding can
# merge them) are still compared as ELF symbols, but name them.
undescribed=$(comm -23 "$work/export.names" \
  <(grep -o "<function-decl name='[^']*'" "$work/current.abi" | sed "s/.*name='//; s/'//" | sort -u))
if [[ -n $undescribed ]]; then
  note "note: no DWARF description for (compared by symbol only): $(echo "$undescribed" | tr '\n' ' ')"
fi

if ((update)); then
  # Clang's DWARF keeps the private struct definitions in the XML, so the
  # committed baseline comes from GCC (abi/README.md).
  producer=$(readelf --debug-dump=info "$lib" 2>/dev/null | grep -m1 'DW_AT_producer' || true)
  if [[ $baseline -ef $SOURCE_DIR/abi/libprov.abi || $baseline == "$SOURCE_DIR/abi/libprov.abi" ]] &&
    [[ $producer != *"GNU C"* ]]; then
    fail "the baseline is made from a GCC build (abi/README.md), but $lib was compiled by: ${producer##*: }"
  fi
  if ((failures)); then
    echo "check-abi: refusing to update the baseline: $failures check(s) above failed" >&2
    exit 1
  fi
  cp "$work/current.abi" "$baseline"
  {
    echo "# prov_status values released in libprov.so.1: append-only (abi/README.md)."
    echo "# Written by scripts/check-abi.sh --update; checked by scripts/check-abi.sh."
    cat "$work/status.current"
  } >"$status_codes"
  note "baseline written: $baseline ($export_count functions) and $status_codes ($(wc -l <"$work/status.current") status codes). Review 'git diff abi/' and commit it together with the header and map change."
  exit 0
fi

if [[ ! -f $baseline ]]; then
  fail "no baseline $baseline; create it on purpose with: scripts/check-abi.sh --update ${build_dir:-BUILD_DIR}"
else
  abidiff --no-show-locs "$baseline" "$work/current.abi" >"$work/abidiff.out" 2>&1
  rc=$?
  sed 's/^/check-abi:   | /' "$work/abidiff.out"
  if ((rc & 3)); then
    fail "abidiff tool error (exit $rc); see its output above"
  elif ((rc & 8)); then
    fail "INCOMPATIBLE ABI change against $(basename "$baseline") (abidiff exit $rc): a program built against libprov.so.1 would break. Restore the interface; an intended break needs a new SONAME major (abi/README.md)"
  elif ((rc & 4)); then
    fail "the ABI changed compatibly (abidiff exit $rc: e.g. an added function) but the baseline was not refreshed. If the change is intended, run 'scripts/check-abi.sh --update ${build_dir:-BUILD_DIR}' and commit abi/libprov.abi with the header and map change (abi/README.md)"
  elif ((rc != 0)); then
    fail "abidiff exit $rc not understood"
  else
    note "abidiff: no ABI change against $(basename "$baseline")"
  fi
fi

if ((failures)); then
  echo "check-abi: $failures check(s) FAILED" >&2
  exit 1
fi
note "all checks passed"
