#!/usr/bin/env bash
# Proves a binding's packaging path: `cmake --install` libprov (components
# runtime + development) and the binding's own component (bindings-LANGUAGE)
# into a temporary prefix, check that the installed native wrapper loads the
# installed libprov.so.1 (found relative to itself, no LD_LIBRARY_PATH, no
# build-tree path), and run the binding's tests from the prefix.
#
# Usage: run_installed_build.sh LANGUAGE CMAKE BUILD_DIR [ARGUMENTS...]
#   go     CMAKE BUILD_DIR                        builds the installed module (pkg-config)
#   java   CMAKE BUILD_DIR STAGED_PROJECT_DIR MVN JUnit with the installed JNI library
#   csharp CMAKE BUILD_DIR ASSEMBLY_DIR MONO      the tests next to the installed assembly
set -euo pipefail

language=$1
cmake_command=$2
build_dir=$3
shift 3

work=$(mktemp -d "/tmp/prov-$language-installed-XXXXXX")
trap 'rm -rf "$work"' EXIT

prefix=$work/prefix
for component in runtime development; do
  "$cmake_command" --install "$build_dir/src" --prefix "$prefix" --component "$component" >/dev/null
done
"$cmake_command" --install "$build_dir/bindings/$language" --prefix "$prefix" \
  --component "bindings-$language" >/dev/null
pkgconfig_dir=$(find "$prefix" -type d -name pkgconfig -path '*/lib*' | head -n 1)
[[ -n $pkgconfig_dir ]] || { echo "no pkgconfig directory under $prefix" >&2; exit 1; }
libdir=$(dirname "$pkgconfig_dir")
unset LD_LIBRARY_PATH

# expect_prefix_libprov FILE: FILE (a program or native wrapper) loads libprov.so.1 from the prefix.
expect_prefix_libprov() {
  local loaded
  loaded=$(ldd "$1" | awk '/libprov\.so/ { print $3 }')
  echo "$(basename "$1") loads: $loaded"
  [[ -n $loaded && $(realpath "$loaded") == "$(realpath "$prefix")"/* ]] || {
    echo "expected libprov.so.1 from $prefix" >&2
    exit 1
  }
}

case $language in
  go)
    module=$prefix/share/libprov/go
    [[ -f $module/go.mod && -f $module/internal/native/native.go ]] || {
      echo "the Go module is not installed under $module" >&2
      exit 1
    }
    # A copy: Go writes nothing into the prefix.
    cp -r "$module" "$work/module"
    cd "$work/module"
    export PKG_CONFIG_PATH=$pkgconfig_dir GOTOOLCHAIN=local GOFLAGS=-buildvcs=false
    go test -c -o "$work/prov.test" ./prov/
    # prov.pc gives -L and -lprov only: a program finds a library installed
    # outside /usr through the loader's path, as for any such library.
    export LD_LIBRARY_PATH=$libdir
    expect_prefix_libprov "$work/prov.test"
    cd prov
    "$work/prov.test" -test.count=1 -test.v -test.run \
      'TestSymmetricKeyRegistration|TestWrongKey|TestKnownAnswerVectors|TestInvalidArguments|TestProgressReachesHandlerInOrder'
    ;;
  java)
    project=$1
    mvn=$2
    ls "$prefix"/share/java/libprov-*.jar >/dev/null
    expect_prefix_libprov "$libdir/libprov_java.so"
    "$mvn" -B -o -q -f "$project/pom.xml" -Dprov.build.dir="$work/maven" -Dprov.native.dir="$libdir" test \
      -Dtest='VersionTest,ProvisioningDeviceClientTest#symmetricKeyRegistration+wrongKeyIsCredentialExceptionWithServiceDetails+x509Registration,AsyncAndBytesTest#progressListenerSeesEveryStepInOrderOnLibprovsThread'
    grep -h '<testsuite ' "$work"/maven/surefire-reports/TEST-*.xml |
      grep -o 'tests="[0-9]*" errors="[0-9]*" skipped="[0-9]*" failures="[0-9]*"'
    ;;
  csharp)
    assemblies=$1
    mono=$2
    installed=$libdir/mono/libprov
    expect_prefix_libprov "$installed/libprov_csharp.so"
    # The tests and the example next to the installed assembly and its wrapper
    # (the prefix is this run's own).
    cp "$assemblies/LibprovTests.exe" "$assemblies/Register.exe" "$installed/"
    export PROV_TEST_EXAMPLE=$installed/Register.exe
    "$mono" --debug "$installed/LibprovTests.exe" ClientTests.SymmetricKeyRegistration \
      ClientTests.WrongKey ClientTests.X509Registration ClientTests.ExamplePrintsHubAndDeviceId \
      ClientTests.RegisterAsyncReportsProgressInOrder
    ;;
  *)
    echo "unknown language '$language' (go, java, csharp)" >&2
    exit 2
    ;;
esac
echo "installed build OK"
