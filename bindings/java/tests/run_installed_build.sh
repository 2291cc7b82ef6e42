#!/usr/bin/env bash
# Proves the Java packaging path: install libprov (runtime + development)
# into a temporary prefix, compile the SWIG JNI wrapper against it through
# pkg-config only (no build-tree paths), check that the JNI library loads
# the installed libprov.so.1, and run JUnit tests with it.
#
# Usage: run_installed_build.sh CMAKE_COMMAND BUILD_DIR STAGED_PROJECT_DIR JNI_WRAPPER_C MVN
set -euo pipefail

cmake_command=$1
build_dir=$2
project=$3
wrapper=$4
mvn=$5

work=$(mktemp -d /tmp/prov-java-installed-XXXXXX)
trap 'rm -rf "$work"' EXIT

prefix=$work/prefix
for component in runtime development; do
  "$cmake_command" --install "$build_dir/src" --prefix "$prefix" --component "$component"
done
pkgconfig_dir=$(find "$prefix" -type d -name pkgconfig -path '*/lib*' | head -n 1)
[[ -n $pkgconfig_dir ]] || { echo "no pkgconfig directory under $prefix" >&2; exit 1; }
libdir=$(dirname "$pkgconfig_dir")

java_home=${JAVA_HOME:-$(dirname "$(dirname "$(readlink -f "$(command -v javac)")")")}
# shellcheck disable=SC2046 # pkg-config prints several flags on purpose
cc -shared -fPIC -O2 -fno-strict-aliasing -o "$work/libprov_java.so" "$wrapper" \
  -I"$java_home/include" -I"$java_home/include/linux" \
  $(PKG_CONFIG_PATH=$pkgconfig_dir pkg-config --cflags --libs prov)

# prov.pc gives -L and -lprov only; the installed library is found at run time
# through the loader's path, as for any library installed outside /usr.
export LD_LIBRARY_PATH=$libdir
loaded=$(ldd "$work/libprov_java.so" | awk '/libprov\.so/ { print $3 }')
echo "JNI library loads: $loaded"
[[ $(realpath "$loaded") == "$(realpath "$prefix")"/* ]] || {
  echo "expected libprov.so.1 from $prefix" >&2
  exit 1
}
"$mvn" -B -o -q -f "$project/pom.xml" -Dprov.build.dir="$work/maven" -Dprov.native.dir="$work" test \
  -Dtest='VersionTest,ProvisioningDeviceClientTest#symmetricKeyRegistration+wrongKeyIsCredentialExceptionWithServiceDetails+x509Registration'
grep -h '<testsuite ' "$work"/maven/surefire-reports/TEST-*.xml | grep -o 'tests="[0-9]*" errors="[0-9]*" skipped="[0-9]*" failures="[0-9]*"'
echo "installed build OK"
