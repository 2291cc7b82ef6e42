// std::unique_ptr owners for the OpenSSL objects the emulator's PKI code (and its tests) use:
// every object is freed with its own *_free function on every path out of a scope.
#pragma once

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <memory>

namespace dpsemu {

struct OsslDeleter {
  void operator()(EVP_PKEY *p) const { EVP_PKEY_free(p); }
  void operator()(X509 *p) const { X509_free(p); }
  void operator()(X509_REQ *p) const { X509_REQ_free(p); }
  void operator()(BIO *p) const { BIO_free_all(p); }
  void operator()(X509_STORE *p) const { X509_STORE_free(p); }
  void operator()(X509_STORE_CTX *p) const { X509_STORE_CTX_free(p); }
  void operator()(X509_NAME *p) const { X509_NAME_free(p); }
  void operator()(X509_EXTENSION *p) const { X509_EXTENSION_free(p); }
  void operator()(BIGNUM *p) const { BN_free(p); }
  void operator()(EVP_ENCODE_CTX *p) const { EVP_ENCODE_CTX_free(p); }
  void operator()(STACK_OF(X509) * p) const { sk_X509_pop_free(p, X509_free); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, OsslDeleter>;
using CertPtr = std::unique_ptr<X509, OsslDeleter>;
using ReqPtr = std::unique_ptr<X509_REQ, OsslDeleter>;
using BioPtr = std::unique_ptr<BIO, OsslDeleter>;
using StorePtr = std::unique_ptr<X509_STORE, OsslDeleter>;
using StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, OsslDeleter>;
using NamePtr = std::unique_ptr<X509_NAME, OsslDeleter>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, OsslDeleter>;
using BnPtr = std::unique_ptr<BIGNUM, OsslDeleter>;
using EncodeCtxPtr = std::unique_ptr<EVP_ENCODE_CTX, OsslDeleter>;
using CertStackPtr = std::unique_ptr<STACK_OF(X509), OsslDeleter>;

}  // namespace dpsemu
