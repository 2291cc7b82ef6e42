/*
 * libprov-bench-release-buffers.so: an LD_PRELOAD experiment, not a fix.
 *
 * Sets SSL_MODE_RELEASE_BUFFERS on every SSL_CTX the process creates, so
 * OpenSSL frees a connection's read and write buffers (about 34 kB + 17 kB)
 * while the connection is idle. A registration waiting for its assignment
 * is idle almost all the time, so this shows how much of the memory per
 * in-flight registration those buffers are — the "after" of a one-line
 * change libprov could make itself (CURLOPT_SSL_CTX_FUNCTION calling
 * SSL_CTX_set_mode) without the shim. Used only by run_bench.py's scale
 * variants, only on the libprov peer process (never on the emulator).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <openssl/ssl.h>

typedef SSL_CTX *(*ctx_new_fn)(const SSL_METHOD *);
typedef SSL_CTX *(*ctx_new_ex_fn)(OSSL_LIB_CTX *, const char *, const SSL_METHOD *);

SSL_CTX *SSL_CTX_new(const SSL_METHOD *method) {
  static ctx_new_fn real;
  if (!real) *(void **)&real = dlsym(RTLD_NEXT, "SSL_CTX_new");
  SSL_CTX *context = real ? real(method) : NULL;
  if (context) SSL_CTX_set_mode(context, SSL_MODE_RELEASE_BUFFERS);
  return context;
}

SSL_CTX *SSL_CTX_new_ex(OSSL_LIB_CTX *library, const char *properties, const SSL_METHOD *method) {
  static ctx_new_ex_fn real;
  if (!real) *(void **)&real = dlsym(RTLD_NEXT, "SSL_CTX_new_ex");
  SSL_CTX *context = real ? real(library, properties, method) : NULL;
  if (context) SSL_CTX_set_mode(context, SSL_MODE_RELEASE_BUFFERS);
  return context;
}
