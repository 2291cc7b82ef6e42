#!/usr/bin/env bash
# header_standalone.sh COMPILER LANGUAGE_FLAGS SOURCE HEADER LIBRARY
#
# Compiles SOURCE (which includes only <prov/prov.h>) with the given language
# flags plus -Wall -Wextra -pedantic -Werror, against an include directory
# that holds nothing but a copy of HEADER (so the header cannot lean on any
# other project file), links it with LIBRARY and runs it.
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
read -r -a flags <<<"$language_flags"
set -x
"$compiler" "${flags[@]}" -Wall -Wextra -pedantic -Werror -I"$work/include" \
  -c "$source" -o "$work/consumer.o"
"$compiler" "${flags[@]}" "$work/consumer.o" -o "$work/consumer" \
  -L"$(dirname "$library")" -l:"$(basename "$library")" -Wl,-rpath,"$(dirname "$library")"
set +x
status=0
"$work/consumer" || status=$?
case $status in
  0) ;;
  1) echo "header_standalone: FAIL: a function address is NULL" >&2 ;;
  2) echo "header_standalone: FAIL: prov_version_number() != PROV_VERSION_NUMBER (library and header disagree)" >&2 ;;
  3) echo "header_standalone: FAIL: prov_status_str(PROV_OK) returned NULL" >&2 ;;
  *) echo "header_standalone: FAIL: the program exited $status" >&2 ;;
esac
((status == 0)) || exit 1
echo "header_standalone: $(basename "$source") with '$language_flags': compiled, linked, ran"
