#!/usr/bin/env bash
# Proves the C# packaging path: install libprov (runtime + development) into
# a temporary prefix, compile the SWIG P/Invoke wrapper against it through
# pkg-config only (no build-tree paths), put it next to the assemblies, check
# that it loads the installed libprov.so.1, and run tests with it on Mono.
#
# Usage: run_installed_build.sh CMAKE_COMMAND BUILD_DIR WRAPPER_C ASSEMBLY_DIR MONO
set -euo pipefail

cmake_command=$1
build_dir=$2
wrapper=$3
assemblies=$4
mono=$5

work=$(mktemp -d /tmp/prov-cs-installed-XXXXXX)
trap 'rm -rf "$work"' EXIT

prefix=$work/prefix
for component in runtime development; do
  "$cmake_command" --install "$build_dir/src" --prefix "$prefix" --component "$component"
done
pkgconfig_dir=$(find "$prefix" -type d -name pkgconfig -path '*/lib*' | head -n 1)
[[ -n $pkgconfig_dir ]] || { echo "no pkgconfig directory under $prefix" >&2; exit 1; }
libdir=$(dirname "$pkgconfig_dir")

mkdir "$work/bin"
cp "$assemblies/Libprov.dll" "$assemblies/LibprovTests.exe" "$assemblies/Register.exe" "$work/bin/"
# shellcheck disable=SC2046 # pkg-config prints several flags on purpose
cc -shared -fPIC -O2 -o "$work/bin/libprov_csharp.so" "$wrapper" \
  $(PKG_CONFIG_PATH=$pkgconfig_dir pkg-config --cflags --libs prov)

# prov.pc gives -L and -lprov only; the installed library is found at run time
# through the loader's path, as for any library installed outside /usr.
export LD_LIBRARY_PATH=$libdir
loaded=$(ldd "$work/bin/libprov_csharp.so" | awk '/libprov\.so/ { print $3 }')
echo "P/Invoke library loads: $loaded"
[[ $(realpath "$loaded") == "$(realpath "$prefix")"/* ]] || {
  echo "expected libprov.so.1 from $prefix" >&2
  exit 1
}
export PROV_TEST_EXAMPLE=$work/bin/Register.exe
"$mono" --debug "$work/bin/LibprovTests.exe" ClientTests.SymmetricKeyRegistration \
  ClientTests.WrongKey ClientTests.X509Registration ClientTests.ExamplePrintsHubAndDeviceId
