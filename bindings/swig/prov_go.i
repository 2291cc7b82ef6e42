/*
 * prov_go.i — the Go package github.com/libprov/libprov/bindings/go/internal/native
 * (swig -go -cgo -intgosize 64 -package native). Everything else comes from
 * prov.i. SWIG would turn a raised error into a Go panic, so this module
 * raises nothing (PROV_SWIG_NO_EXCEPTIONS): the idiomatic package
 * (bindings/go/prov) reads the pending error through prov_binding_last_*()
 * right after each call, on the same locked OS thread, and returns Go errors.
 */
%module native

#define PROV_SWIG_NO_EXCEPTIONS

/* Found through pkg-config: the installed libprov, or in the build tree the
 * uninstalled prov.pc that bindings/go/CMakeLists.txt writes. */
%insert(cgo_comment_typedefs) %{
#cgo pkg-config: prov
%}

/* Go has no NULL string: an empty string passed for one of these optional
 * values means "not set" (NULL in prov.h), e.g. to clear the payload. */
%typemap(in) const char *pem, const char *hostname, const char *cipher_list, const char *json,
    const char *pass_phrase, const char *username, const char *password, const char *url,
    const char *csr_pem %{
  $1 = NULL;
  if ($input.n > 0) {
    $1 = ($1_ltype)malloc($input.n + 1);
    memcpy($1, $input.p, $input.n);
    $1[$input.n] = '\0';
  }
%}

%include "prov.i"

/* The pending error's registration status ("failed", "disabled"), which
 * prov.i keeps but has no accessor for yet. */
%exception prov_binding_last_registration_status "$action"
%inline %{
const char *prov_binding_last_registration_status(void) {
  return prov_binding_pending.registration_status;
}
%}
