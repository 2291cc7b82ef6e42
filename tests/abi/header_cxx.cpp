// header_cxx.cpp — the public header stands alone in C++: this file includes
// only <prov/prov.h> and is compiled by tests/abi/header_standalone.sh as
// C++11 with -Wall -Wextra -pedantic -Werror, linked against libprov.so.1 and
// run. header_standalone.sh also compiles a generated C++ file that takes the
// address of every PROV_API function: linking proves every declaration has C
// linkage (extern "C"), because a mangled name would not resolve.
#include <prov/prov.h>

int main() {
  if (prov_version_number() != PROV_VERSION_NUMBER) return 2;
  if (prov_status_str(PROV_OK) == nullptr) return 3;
  return 0;
}
