#!/usr/bin/env bash
# Proves the Go packaging path: install libprov (runtime + development) into
# a temporary prefix, build the staged Go module against it through
# pkg-config only (no build-tree paths), check that the test binary loads
# the installed libprov.so.1, and run the registration tests with it.
#
# Usage: run_installed_build.sh CMAKE_COMMAND BUILD_DIR STAGED_MODULE_DIR
set -euo pipefail

cmake_command=$1
build_dir=$2
module_source=$3

work=$(mktemp -d /tmp/prov-go-installed-XXXXXX)
trap 'rm -rf "$work"' EXIT

prefix=$work/prefix
for component in runtime development; do
  "$cmake_command" --install "$build_dir/src" --prefix "$prefix" --component "$component"
done
pkgconfig_dir=$(find "$prefix" -type d -name pkgconfig -path '*/lib*' | head -n 1)
[[ -n $pkgconfig_dir ]] || { echo "no pkgconfig directory under $prefix" >&2; exit 1; }
libdir=$(dirname "$pkgconfig_dir")

# A copy of the module, so that nothing is written next to the build's.
cp -r "$module_source" "$work/module"
cd "$work/module"
export PKG_CONFIG_PATH=$pkgconfig_dir GOTOOLCHAIN=local GOFLAGS=-buildvcs=false
go test -c -o "$work/prov.test" ./prov/

# prov.pc gives -L and -lprov only; the installed library is found at run time
# through the loader's path, as for any library installed outside /usr.
export LD_LIBRARY_PATH=$libdir
loaded=$(ldd "$work/prov.test" | awk '/libprov\.so/ { print $3 }')
echo "test binary loads: $loaded"
[[ $(realpath "$loaded") == "$(realpath "$prefix")"/* ]] || {
  echo "expected libprov.so.1 from $prefix" >&2
  exit 1
}
cd prov
"$work/prov.test" -test.count=1 -test.v \
  -test.run 'TestSymmetricKeyRegistration|TestWrongKey|TestKnownAnswerVectors|TestInvalidArguments'
echo "installed build OK"
