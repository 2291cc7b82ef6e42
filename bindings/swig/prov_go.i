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

/* Byte buffers as Go strings (bytes, not text): the idiomatic package turns
 * them into []byte. An empty string is "none" (clears the CSR). */
%typemap(gotype) prov_binding_bytes "string"
%typemap(out, fragment="AllocateString") prov_binding_bytes
%{ $result = Swig_AllocateString($1.data ? (const char *)$1.data : "", $1.data ? $1.length : 0); %}
%typemap(goout, fragment="CopyString") prov_binding_bytes %{ $result = swigCopyString($1) %}
%apply (char *STRING, size_t LENGTH) { (const uint8_t *der, size_t der_len) }

/* ProvClient.Register_async (prov.i): prov.i's dispatcher thread hands
 * progress and completion to the cgo exports of internal/native/async.go,
 * which pass them to the idiomatic package without blocking. */
#define PROV_SWIG_ASYNC

%include "prov.i"

%{
/* cgo exports (internal/native/async.go), called on prov.i's dispatcher
 * thread (an ordinary C thread, which cgo binds to the Go runtime). */
extern void provGoAsyncProgress(int64_t context, int state, char *detail, uint32_t retry_after_ms);
extern void provGoAsyncCompletion(int64_t context, void *completion);
extern void provGoAsyncLog(int64_t context, int level, char *message);

static void prov_binding_deliver_log(int64_t context, int level, const char *message) {
  provGoAsyncLog(context, level, (char *)message);
}

static void prov_binding_deliver_progress(int64_t context, int state, const char *detail,
                                          uint32_t retry_after_ms) {
  provGoAsyncProgress(context, state, (char *)detail, retry_after_ms);
}

static void prov_binding_dispatcher_exiting(void) {}

static void prov_binding_deliver_completion(int64_t context, ProvCompletion *completion) {
  provGoAsyncCompletion(context, completion);
}
%}
