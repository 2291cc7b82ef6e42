// TLS session resumption across the connections of one process.
//
// A fleet program registers many devices against one DPS endpoint, each
// registration on a fresh connection with a full TLS handshake (issue 9: the
// handshake is most of a registration's CPU). libcurl resumes a session only
// from the session cache of the handle (or share) that made it, and every
// libprov connection has handles of its own; a process-wide libcurl share with
// CURL_LOCK_DATA_SSL_SESSION lets the next connection resume the session the
// last one got (a TLS 1.3 ticket), skipping certificate exchange and
// verification. docs/transports.md, "TLS session resumption", has the
// security reasoning.
//
// Who may share: libcurl resumes a cached session only for the same host name,
// port and scheme and an equal TLS configuration as curl sees it (versions,
// verify flags, CA file/path/blob, client certificate file/blob, cipher lists,
// curves, CRL file, pinned key). It does not see the roots libprov installs
// from CURLOPT_SSL_CTX_FUNCTION, so connections are partitioned here by the
// SHA-256 of their CA PEM: a session verified against one set of roots is
// never resumed by a connection trusting other roots. Connections with a
// client certificate (X.509 identities) never share: a resumed session keeps
// the client identity of the handshake that made it.
#ifndef PROV_TRANSPORT_TLS_SESSIONS_H
#define PROV_TRANSPORT_TLS_SESSIONS_H

#include <optional>
#include <string>

namespace prov::transport {

// Attaches to `curl_easy` (a CURL*) the process-wide TLS session cache of the
// connections trusting `ca_pem` (nullopt: the system store). Call only for
// connections without a client certificate. Returns false (the handle then
// keeps its own cache: no resumption across connections, nothing else
// changes) when libcurl refused or too many distinct CA PEMs are in use.
// Thread-safe; the caches live until the process exits.
bool share_tls_sessions(void *curl_easy, const std::optional<std::string> &ca_pem);

}  // namespace prov::transport

#endif  // PROV_TRANSPORT_TLS_SESSIONS_H
