/*
 * header_c.c — the public header stands alone in C: this file includes only
 * <prov/prov.h> and is compiled by tests/abi/header_standalone.sh as C89 (with
 * <stdint.h>) and as C99, with -Wall -Wextra -pedantic -Werror
 * -Wstrict-prototypes -Wmissing-prototypes, then linked against libprov.so.1
 * and run.
 *
 * header_standalone.sh also compiles, with the same flags, a generated file
 * that takes the address of every PROV_API function in the header, so the
 * link step proves each declaration names a function the library exports
 * with C linkage.
 */
#include <prov/prov.h>

int main(void) {
  prov_status ok = PROV_OK;
  /* The library the program runs with is the one the header describes. */
  if (prov_version_number() != PROV_VERSION_NUMBER) return 2;
  if (prov_status_str(ok) == 0) return 3;
  return 0;
}
