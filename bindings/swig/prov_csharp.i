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

%include "prov.i"
