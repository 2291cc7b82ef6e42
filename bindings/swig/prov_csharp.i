/*
 * prov_csharp.i — the P/Invoke layer of the C# binding: namespace
 * Libprov.Internal (ProvNative, ProvClient, ProvResult; generated, never
 * committed) over libprov_csharp.so (DllImport "prov_csharp"). Everything
 * else comes from prov.i. The public API is the hand-written namespace
 * Libprov (bindings/csharp/src).
 *
 * Errors: this layer raises nothing (PROV_SWIG_NO_EXCEPTIONS). The
 * hand-written layer reads the pending error through
 * ProvNative.prov_binding_last_*() right after each call, on the same
 * thread, and throws Libprov's exceptions with the service's details.
 *
 * Disposal: SWIG's proxies are IDisposable with a finalizer; the
 * hand-written classes own one proxy each and dispose it.
 */
%module ProvNative

#define PROV_SWIG_NO_EXCEPTIONS

/* Byte buffers: a caller's CSR as byte[] (plus its length), the issued
 * certificates' DER returned as a small struct (Libprov.Internal.NativeBytes,
 * bindings/csharp/src/NativeBytes.cs) and copied into a byte[] at once. */
%include <arrays_csharp.i>
%apply unsigned char INPUT[] { const uint8_t *der }
%typemap(ctype) prov_binding_bytes "prov_binding_bytes"
%typemap(imtype) prov_binding_bytes "Libprov.Internal.NativeBytes"
%typemap(cstype) prov_binding_bytes "byte[]"
%typemap(out) prov_binding_bytes "$result = $1;"
%typemap(csout, excode=SWIGEXCODE) prov_binding_bytes {
    Libprov.Internal.NativeBytes bytes = $imcall;$excode
    byte[] copy = bytes.ToArray();
    global::System.GC.KeepAlive(this); // the bytes are borrowed from this result
    return copy;
  }

/* ProvClient.register_async (prov.i): prov.i's dispatcher thread calls two
 * function pointers, made from delegates that Libprov.AsyncBridge keeps in
 * static fields for the life of the process (so they are never collected),
 * and set once with set_async_delivery. Mono attaches the dispatcher thread
 * on its first call. */
#define PROV_SWIG_ASYNC

%include "prov.i"

%{
typedef void (SWIGSTDCALL *prov_csharp_progress_fn)(int64_t context, int state, const char *detail,
                                                    uint32_t retry_after_ms);
typedef void (SWIGSTDCALL *prov_csharp_completion_fn)(int64_t context, void *completion);
typedef void (SWIGSTDCALL *prov_csharp_log_fn)(int64_t context, int level, const char *message);
static prov_csharp_progress_fn prov_csharp_progress;
static prov_csharp_completion_fn prov_csharp_completion;
static prov_csharp_log_fn prov_csharp_log;

static void prov_binding_deliver_progress(int64_t context, int state, const char *detail,
                                          uint32_t retry_after_ms) {
  if (prov_csharp_progress) prov_csharp_progress(context, state, detail, retry_after_ms);
}

static void prov_binding_deliver_log(int64_t context, int level, const char *message) {
  if (prov_csharp_log) prov_csharp_log(context, level, message);
}

/* Mono detaches the thread itself when it exits. */
static void prov_binding_dispatcher_exiting(void) {}

static void prov_binding_deliver_completion(int64_t context, ProvCompletion *completion) {
  if (prov_csharp_completion) {
    prov_csharp_completion(context, completion);
  } else { /* cannot happen: set before any registration starts */
    prov_result_free(completion->result);
    free(completion);
  }
}
%}

%inline %{
/* The delegates' function pointers (Marshal.GetFunctionPointerForDelegate),
 * as 64-bit integers. Called once, before the first register_async. */
void set_async_delivery(int64_t progress, int64_t completion, int64_t log) {
  prov_csharp_progress = (prov_csharp_progress_fn)(intptr_t)progress;
  prov_csharp_completion = (prov_csharp_completion_fn)(intptr_t)completion;
  prov_csharp_log = (prov_csharp_log_fn)(intptr_t)log;
}
%}
