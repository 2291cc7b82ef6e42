#!/usr/bin/env bash
# abi_variants.sh VARIANT OBJECTS_FILE CXX SOURCE_DIR [EXTRA_LDFLAGS]
#
# Proves that scripts/check-abi.sh fails when it should. It links variants of
# libprov.so.1 from the library's real object files (listed one per line in
# OBJECTS_FILE) with the real link options, each with one deliberate defect,
# and asserts that check-abi.sh rejects it with the right message. The
# baseline is made from an unmodified "control" link in the same way, so
# only the defect differs.
#
# VARIANT is one of:
#   control           unmodified: must pass (the variant builds are faithful)
#   added             prov_extra_fn added properly (PROV_API in the header,
#                     new PROV_1.1 node) but the baseline not refreshed
#   added_unlisted    prov_extra_fn declared and defined, but not in the map
#   added_undeclared  prov_extra_fn exported through the map, not in the header
#   removed           prov_result_etag no longer exported (incompatible)
#   leak              linked without the version script, with an internal C++
#                     function and a variable of default visibility
#   soname            SONAME libprov.so.2
#   needed_order      libwolfssl before libssl in DT_NEEDED
#   status_renumbered a header in which PROV_E_NOMEM changed from 2 to 12
#   status_added      a header with a new status code not yet recorded
#   undefined         linked without --no-undefined, calling a function that
#                     no library defines
set -euo pipefail
if (($# < 4)); then
  echo "usage: $0 VARIANT OBJECTS_FILE CXX SOURCE_DIR [EXTRA_LDFLAGS]" >&2
  exit 2
fi
variant=$1 objects_file=$2 cxx=$3 source_dir=$4 extra_ldflags=${5:-}
allow_undefined=""
check_abi="$source_dir/scripts/check-abi.sh"
header="$source_dir/include/prov/prov.h"
map="$source_dir/abi/libprov.map"

mapfile -t objects <"$objects_file"
if ((${#objects[@]} == 0)); then
  echo "abi_variants: FAIL: no object files listed in $objects_file" >&2
  exit 1
fi
for object in "${objects[@]}"; do
  [[ -f $object ]] || { echo "abi_variants: FAIL: object $object missing (build the prov target first)" >&2; exit 1; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/prov-abi-variant.XXXXXX")
trap 'rm -rf "$work"' EXIT

# The link of src/CMakeLists.txt: OpenSSL before wolfSSL, version script,
# --exclude-libs, --no-undefined.
read -r -a pkg_libs <<<"$(pkg-config --libs libcurl wolfssl libcjson)"
dependency_libs=(-lssl -lcrypto "${pkg_libs[@]}" -pthread)
# link OUTPUT [extra objects...] -- [extra options...]
# (allow_undefined=-Wl,--allow-shlib-undefined drops --no-undefined)
link() {
  local output=$1
  shift
  local extra_objects=() options=()
  while (($#)) && [[ $1 != -- ]]; do extra_objects+=("$1"); shift; done
  (($#)) && shift
  options=("$@")
  # shellcheck disable=SC2086 # extra_ldflags is a word list (sanitizer flags)
  "$cxx" -shared -fPIC -g -o "$output" "${objects[@]}" "${extra_objects[@]}" \
    -Wl,--exclude-libs,ALL ${allow_undefined:--Wl,--no-undefined} -Wl,--no-as-needed \
    "${options[@]}" $extra_ldflags
}
with_defaults() { # the usual soname, map and libraries unless a variant overrides them
  echo -Wl,-soname,libprov.so.1 -Wl,--version-script="$1" "${dependency_libs[@]}"
}
compile() { # compile SOURCE_TEXT OUTPUT.o
  printf '%s\n' "$1" >"$work/$2.cpp"
  "$cxx" -std=c++17 -fPIC -g -O2 -fvisibility=hidden -I"$source_dir/include" \
    -c "$work/$2.cpp" -o "$work/$2.o"
}

# The control library and the baseline made from it.
# shellcheck disable=SC2046
link "$work/control.so" -- $(with_defaults "$map")
"$check_abi" --lib "$work/control.so" --baseline "$work/baseline.abi" \
  --status-codes "$work/status.txt" --update >"$work/update.log" 2>&1 || {
  cat "$work/update.log"
  echo "abi_variants: FAIL: check-abi.sh --update rejected the unmodified library" >&2
  exit 1
}

extra_fn='#include <prov/prov.h>
extern "C" PROV_API int prov_extra_fn(int value) { return value + 1; }'
map_with_extra() {
  cat "$map"
  printf '\nPROV_1.1 {\n  global:\n    prov_extra_fn;\n} PROV_1.0;\n'
}
header_with_extra() {
  sed 's|^PROV_END_DECL|PROV_API int prov_extra_fn(int value);\nPROV_END_DECL|' "$header"
}

lib="$work/variant.so"
check_header=$header
check_map=$map
expect=() # regular expressions the output must contain
expect_status=1
case $variant in
  control)
    cp "$work/control.so" "$lib"
    expect=("all checks passed" "symbols ok: ([0-9]+) exported")
    expect_status=0
    ;;
  added)
    compile "$extra_fn" extra
    map_with_extra >"$work/map"
    header_with_extra >"$work/prov.h"
    # shellcheck disable=SC2046
    link "$lib" "$work/extra.o" -- $(with_defaults "$work/map")
    check_header="$work/prov.h" check_map="$work/map"
    expect=("baseline was not refreshed" "check-abi.sh --update" "prov_extra_fn" "abidiff exit 4"
      "1 check\(s\) FAILED")
    ;;
  added_unlisted)
    compile "$extra_fn" extra
    header_with_extra >"$work/prov.h"
    # shellcheck disable=SC2046
    link "$lib" "$work/extra.o" -- $(with_defaults "$map")
    check_header="$work/prov.h"
    expect=("not exported by the library .*prov_extra_fn" "not listed in libprov.map .*PROV_1.1.*prov_extra_fn")
    ;;
  added_undeclared)
    compile "$extra_fn" extra
    map_with_extra >"$work/map"
    # shellcheck disable=SC2046
    link "$lib" "$work/extra.o" -- $(with_defaults "$work/map")
    check_map="$work/map"
    expect=("exported but not declared with PROV_API .*prov_extra_fn"
      "listed in map but not declared with PROV_API in prov.h: prov_extra_fn")
    ;;
  removed)
    grep -v -w prov_result_etag "$map" >"$work/map"
    # shellcheck disable=SC2046
    link "$lib" -- $(with_defaults "$work/map")
    expect=("INCOMPATIBLE ABI change" "abidiff exit 12"
      "declared with PROV_API in prov.h but not exported .*prov_result_etag")
    ;;
  leak)
    compile 'namespace prov_detail {
__attribute__((visibility("default"))) int leaked_helper(int value) { return value * 2; }
}
extern "C" {
__attribute__((visibility("default"))) int cJSON_leaked_counter = 0;
}' leak
    link "$lib" "$work/leak.o" -- -Wl,-soname,libprov.so.1 "${dependency_libs[@]}"
    expect=("exported but not declared with PROV_API .*_ZN11prov_detail13leaked_helperEi"
      "exported but not declared with PROV_API .*cJSON_leaked_counter"
      "not functions in the text section: .*cJSON_leaked_counter \(nm type B\)"
      "symbol version other than its node.*unversioned")
    ;;
  soname)
    link "$lib" -- -Wl,-soname,libprov.so.2 -Wl,--version-script="$map" "${dependency_libs[@]}"
    expect=("SONAME is 'libprov.so.2', expected 'libprov.so.1'")
    ;;
  needed_order)
    link "$lib" -- -Wl,-soname,libprov.so.1 -Wl,--version-script="$map" -lwolfssl \
      "${dependency_libs[@]}"
    expect=("DT_NEEDED lists libwolfssl \(position 1\) before libssl")
    ;;
  status_renumbered)
    cp "$work/control.so" "$lib"
    sed -E 's/^([[:space:]]*PROV_E_NOMEM) = 2,/\1 = 12,/' "$header" >"$work/prov.h"
    check_header="$work/prov.h"
    expect=("prov_status values were renumbered or removed .*PROV_E_NOMEM 2"
      "1 check\(s\) FAILED")
    ;;
  status_added)
    cp "$work/control.so" "$lib"
    sed -E 's/^([[:space:]]*)PROV__STATUS_FORCE_INT32/\1PROV_E_NEW_CODE = 99,\n\1PROV__STATUS_FORCE_INT32/' \
      "$header" >"$work/prov.h"
    check_header="$work/prov.h"
    expect=("new prov_status values \(PROV_E_NEW_CODE 99 \)" "check-abi.sh --update"
      "1 check\(s\) FAILED")
    ;;
  undefined)
    compile 'extern "C" int prov_detail_missing_helper(int);
int prov_detail_calls_missing(int value) { return prov_detail_missing_helper(value); }' missing
    allow_undefined=-Wl,--allow-shlib-undefined
    # shellcheck disable=SC2046
    link "$lib" "$work/missing.o" -- $(with_defaults "$map")
    expect=("undefined symbols that no DT_NEEDED library provides .*prov_detail_missing_helper"
      "1 check\(s\) FAILED")
    ;;
  *)
    echo "abi_variants: unknown variant '$variant'" >&2
    exit 2
    ;;
esac

set +e
"$check_abi" --lib "$lib" --header "$check_header" --map "$check_map" \
  --baseline "$work/baseline.abi" --status-codes "$work/status.txt" >"$work/check.log" 2>&1
status=$?
set -e
sed 's/^/  | /' "$work/check.log"

result=0
if ((status != expect_status)); then
  echo "abi_variants: FAIL: check-abi.sh exited $status for variant '$variant', expected $expect_status" >&2
  result=1
fi
for pattern in "${expect[@]}"; do
  if ! grep -Eq -- "$pattern" "$work/check.log"; then
    echo "abi_variants: FAIL: variant '$variant': check-abi.sh output lacks /$pattern/" >&2
    result=1
  fi
done
if ((result == 0)); then
  echo "abi_variants: variant '$variant' handled as expected (exit $status)"
fi
exit $result
