// Parsed trusted root certificates, shared between connections.
//
// Parsing a CA PEM costs more than a tenth of a registration's CPU (issue 9,
// bench/results/RESULTS.md); libcurl's CURLOPT_CAINFO_BLOB repeats it for every
// connection. The certificates are parsed once and added to each connection's
// OpenSSL store from libcurl's CURLOPT_SSL_CTX_FUNCTION instead.
#ifndef PROV_TRANSPORT_TRUST_ANCHORS_H
#define PROV_TRANSPORT_TRUST_ANCHORS_H

#include <memory>
#include <string>

namespace prov::transport {

// The X509 certificates of one CA PEM; immutable once built, so any number of
// threads may install it at once. Kept in its own file: OpenSSL and wolfSSL
// headers must not meet.
class TrustAnchors;

// The parsed certificates of `pem`, or nullptr when it holds none or does not
// parse (the caller then hands the PEM to libcurl, whose error names the
// problem as before). Thread-safe.
std::shared_ptr<const TrustAnchors> trust_anchors_for(const std::string &pem);

// Adds the certificates to the store of `ssl_ctx` (an SSL_CTX*). Returns false
// when OpenSSL refused one (out of memory).
bool install_trust_anchors(const TrustAnchors &anchors, void *ssl_ctx);

// What libcurl's CURLOPT_SSL_CTX_FUNCTION needs for one easy handle; owned by
// the connection, so it outlives the handle's handshakes.
struct TlsContextHook {
  std::shared_ptr<const TrustAnchors> anchors;  // nullptr: libcurl loads the roots itself
  bool tls_started = false;                     // a handshake has begun (TCP is up)
};

// The CURLOPT_SSL_CTX_FUNCTION callback; `hook` is the TlsContextHook.
int on_tls_context(void *curl, void *ssl_ctx, void *hook);

}  // namespace prov::transport

#endif  // PROV_TRANSPORT_TRUST_ANCHORS_H
