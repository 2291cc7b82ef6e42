#!/usr/bin/env bash
# header_standalone.sh COMPILER LANGUAGE_FLAGS SOURCE HEADER LIBRARY
#
# Compiles SOURCE (which includes only <prov/prov.h>) with the given language
# flags plus -Wall -Wextra -pedantic -Werror, against an include directory
# that holds nothing but a copy of HEADER (so the header cannot lean on any
# other project file), links it with LIBRARY and runs it.
# Beside SOURCE it compiles, with the same flags, a file generated here that
# stores the address of every function declared with PROV_API in HEADER: the
# link then proves that each one is exported with C linkage.
# LANGUAGE_FLAGS is one word list, e.g. "-std=c89 -Wstrict-prototypes".
set -euo pipefail
if (($# != 5)); then
  echo "usage: $0 COMPILER LANGUAGE_FLAGS SOURCE HEADER LIBRARY" >&2
  exit 2
fi
compiler=$1 language_flags=$2 source=$3 header=$4 library=$5
work=$(mktemp -d "${TMPDIR:-/tmp}/prov-header.XXXXXX")
trap 'rm -rf "$work"' EXIT

mkdir -p "$work/include/prov"
cp "$header" "$work/include/prov/prov.h"
# The PROV_API functions of the header (comments stripped by the
# preprocessor, one declaration per ';'), as check-abi.sh reads them.
mapfile -t functions < <(cc -fpreprocessed -dD -E -P -x c "$header" 2>/dev/null |
  grep -v '^[[:space:]]*#' | tr '\n' ' ' | tr ';' '\n' |
  grep -E '(^|[^A-Za-z0-9_])PROV_API[[:space:]]' |
  sed -E 's/\(.*//; s/.*[^A-Za-z0-9_]([A-Za-z_][A-Za-z0-9_]*)[[:space:]]*$/\1/')
if ((${#functions[@]} == 0)); then
  echo "header_standalone: FAIL: no PROV_API function found in $header" >&2
  exit 1
fi
if [[ $source == *.c ]]; then
  table="$work/every_function.c"
  {
    echo '#include <prov/prov.h>'
    echo 'typedef void (*prov_any_fn)(void);'
    echo 'extern const prov_any_fn prov_every_function[];'
    echo 'const prov_any_fn prov_every_function[] = {'
    printf '  (prov_any_fn)%s,\n' "${functions[@]}"
    echo '  0};'
  } >"$table"
else
  table="$work/every_function.cpp"
  {
    echo '#include <prov/prov.h>'
    echo 'using AnyFunction = void (*)();'
    echo 'extern const AnyFunction kProvEveryFunction[];'
    echo 'const AnyFunction kProvEveryFunction[] = {'
    printf '    reinterpret_cast<AnyFunction>(%s),\n' "${functions[@]}"
    echo '    nullptr};'
  } >"$table"
fi

read -r -a flags <<<"$language_flags"
set -x
"$compiler" "${flags[@]}" -Wall -Wextra -pedantic -Werror -I"$work/include" \
  -c "$source" -o "$work/consumer.o"
"$compiler" "${flags[@]}" -Wall -Wextra -pedantic -Werror -I"$work/include" \
  -c "$table" -o "$work/every_function.o"
"$compiler" "${flags[@]}" "$work/consumer.o" "$work/every_function.o" -o "$work/consumer" \
  -L"$(dirname "$library")" -l:"$(basename "$library")" -Wl,-rpath,"$(dirname "$library")"
set +x
status=0
"$work/consumer" || status=$?
case $status in
  0) ;;
  2) echo "header_standalone: FAIL: prov_version_number() != PROV_VERSION_NUMBER (library and header disagree)" >&2 ;;
  3) echo "header_standalone: FAIL: prov_status_str(PROV_OK) returned NULL" >&2 ;;
  *) echo "header_standalone: FAIL: the program exited $status" >&2 ;;
esac
((status == 0)) || exit 1
echo "header_standalone: $(basename "$source") with '$language_flags': compiled, linked with all ${#functions[@]} PROV_API functions, ran"
