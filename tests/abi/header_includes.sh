#!/usr/bin/env bash
# header_includes.sh HEADER
#
# The public header may include only headers of the C standard library (C89
# and C99), so that every consumer, in any language binding, can parse it
# with nothing but a C compiler: no project headers, no POSIX, no C++.
set -euo pipefail
if (($# != 1)); then
  echo "usage: $0 HEADER" >&2
  exit 2
fi
header=$1
readonly STANDARD_C_HEADERS=" assert.h ctype.h errno.h float.h limits.h locale.h math.h setjmp.h \
signal.h stdarg.h stddef.h stdio.h stdlib.h string.h time.h complex.h fenv.h inttypes.h iso646.h \
stdbool.h stdint.h tgmath.h wchar.h wctype.h "

status=0
count=0
while IFS= read -r line; do
  count=$((count + 1))
  if [[ $line =~ ^[[:space:]]*#[[:space:]]*include[[:space:]]*\<([^>]+)\> ]]; then
    name=${BASH_REMATCH[1]}
    if [[ $STANDARD_C_HEADERS == *" $name "* ]]; then
      echo "header_includes: <$name> is a standard C header"
      continue
    fi
    echo "header_includes: FAIL: $header includes <$name>, which is not a standard C header" >&2
  else
    echo "header_includes: FAIL: $header has an include that is not <standard-header>: $line" >&2
  fi
  status=1
done < <(grep -E '^[[:space:]]*#[[:space:]]*include' "$header")
if ((count == 0)); then
  echo "header_includes: FAIL: no #include found in $header (is it the right file?)" >&2
  exit 1
fi
exit $status
