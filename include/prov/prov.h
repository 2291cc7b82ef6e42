/*
 * prov.h — libprov, a device-side client for the Azure IoT Hub Device
 * Provisioning Service (DPS).
 *
 * This is the only public header. It is C89 plus <stdint.h>/<stddef.h>, and
 * it is also valid C99 and C++11. Every function is documented here, in the
 * style of sqlite3.h: what it does, who owns what, which statuses it returns,
 * and whether it is thread-safe.
 *
 * General rules (apply to every function unless its own comment says
 * otherwise):
 *
 *  - Functions that can fail return a prov_status (an int). PROV_OK is 0.
 *    On failure, prov_last_error_message() on the same thread explains what
 *    went wrong, naming the step and the cause.
 *  - Objects returned through a `T **out` parameter belong to the caller and
 *    are released with their own `_free` function, which accepts NULL.
 *  - A `const char *` returned by a getter is borrowed from the object it
 *    came from and stays valid until that object is freed.
 *  - Strings passed in are copied; the caller may free them after the call.
 *    All strings are UTF-8 and NUL-terminated.
 *  - No function keeps global mutable state: any number of clients, with
 *    different identities, may live in one process and be used from
 *    different threads. One client must not be used by two threads at once,
 *    except where a function says it is safe (e.g. prov_client_register
 *    returns PROV_E_BUSY when another registration on the same client is in
 *    flight).
 *  - Secrets (keys, SAS tokens) never appear in error messages.
 */
#ifndef PROV_PROV_H
#define PROV_PROV_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
#define PROV_BEGIN_DECL extern "C" {
#define PROV_END_DECL }
#else
#define PROV_BEGIN_DECL
#define PROV_END_DECL
#endif

/* PROV_API marks every exported function; nothing else leaves the library. */
#if defined(_WIN32) && !defined(PROV_STATIC)
#ifdef PROV_BUILDING
#define PROV_API __declspec(dllexport)
#else
#define PROV_API __declspec(dllimport)
#endif
#elif defined(__GNUC__) && __GNUC__ >= 4
#define PROV_API __attribute__((visibility("default")))
#else
#define PROV_API
#endif

/* Every function is noexcept for C++ callers: the library's exception
 * firewall turns every failure into a status, so nothing ever unwinds out of
 * a libprov call. (Empty in C; no effect on the ABI.) */
#if defined(__cplusplus) && __cplusplus >= 201103L
#define PROV_NOEXCEPT noexcept
#else
#define PROV_NOEXCEPT
#endif

/* ------------------------------------------------------------------------ */
/* Versions                                                                  */
/* ------------------------------------------------------------------------ */

/* Source version of this header. The library's own version is available at
 * run time from prov_version_number()/prov_version_string(); a program can
 * compare both to detect a header/library mismatch. */
#define PROV_VERSION_MAJOR 1
#define PROV_VERSION_MINOR 0
#define PROV_VERSION_PATCH 0
#define PROV_VERSION_NUMBER \
  ((PROV_VERSION_MAJOR * 1000000) + (PROV_VERSION_MINOR * 1000) + PROV_VERSION_PATCH)
#define PROV_VERSION_STRING "1.0.0"

PROV_BEGIN_DECL

/* ------------------------------------------------------------------------ */
/* Handles                                                                   */
/* ------------------------------------------------------------------------ */

/* A provisioning client: one device identity (registration id, id scope,
 * credential) plus its options. Created by prov_client_create_*, released by
 * prov_client_free. */
typedef struct prov_client prov_client;

/* The outcome of one registration: assignment, or the service's error
 * details. Created by prov_client_register, released by prov_result_free. */
typedef struct prov_result prov_result;

/* ------------------------------------------------------------------------ */
/* Status codes                                                              */
/* ------------------------------------------------------------------------ */

/* Status codes. Append-only: a value is never renumbered or reused.
 * The comment after each names the Python SDK exception it corresponds to. */
typedef enum prov_status {
  PROV_OK = 0,
  /* ValueError/TypeError: an argument is NULL, empty, malformed or out of
   * range. The message names the argument and the problem. */
  PROV_E_INVALID_ARG = 1,
  /* Memory could not be allocated. */
  PROV_E_NOMEM = 2,
  /* CredentialError: the service rejected the credential (401, CONNACK
   * refused for bad credentials), or the key cannot be used. */
  PROV_E_CREDENTIAL = 3,
  /* ConnectionFailedError: DNS, TCP connect, proxy, TLS handshake or server
   * certificate verification failed. */
  PROV_E_CONNECTION_FAILED = 4,
  /* ConnectionDroppedError: an established connection was lost. */
  PROV_E_CONNECTION_DROPPED = 5,
  /* OperationTimeout: the registration deadline or a response timeout
   * expired. The message names the step that was waiting. */
  PROV_E_TIMEOUT = 6,
  /* OperationCancelled. */
  PROV_E_CANCELLED = 7,
  /* ClientError with service details: the service answered with an error
   * (4xx/5xx other than credential errors) or the registration ended in
   * status "failed" or "disabled". The result carries the details. */
  PROV_E_SERVICE = 8,
  /* ClientError: the service sent something libprov cannot parse. */
  PROV_E_PROTOCOL = 9,
  /* ClientError: the client is busy with a registration in flight. */
  PROV_E_BUSY = 10,
  /* ClientError: a bug in libprov (an internal invariant failed). */
  PROV_E_INTERNAL = 11,
  /* CredentialError/ValueError: a local X.509 credential or CSR cannot be
   * used: a certificate or key file is missing, unreadable or does not
   * parse, the pass phrase is wrong, the key does not match the
   * certificate, a certificate is expired or not yet valid, the subject CN
   * is not the registration id, or the chain is out of order. Detected
   * before connecting; the message names the file, the certificate
   * (subject) and the problem. */
  PROV_E_CERTIFICATE = 12,

  PROV__STATUS_FORCE_INT32 = 0x7FFFFFFF
} prov_status;

/* The name of a status code, e.g. "PROV_E_TIMEOUT". Static storage, never
 * NULL ("PROV_E_UNKNOWN" for values this version does not know).
 * Thread-safe. */
PROV_API const char *prov_status_str(int status) PROV_NOEXCEPT;

/* A human-readable description of the last failure on the calling thread,
 * naming the step and the cause. Never NULL; "" when there is none. The
 * string is valid until the next libprov call on the same thread.
 * Thread-safe (thread-local). */
PROV_API const char *prov_last_error_message(void) PROV_NOEXCEPT;

/* Clears the calling thread's last error message. Thread-safe. */
PROV_API void prov_last_error_clear(void) PROV_NOEXCEPT;

/* The library's version, as PROV_VERSION_NUMBER and PROV_VERSION_STRING of
 * the header it was built with. Thread-safe. */
PROV_API uint32_t prov_version_number(void) PROV_NOEXCEPT;
PROV_API const char *prov_version_string(void) PROV_NOEXCEPT;

/* ------------------------------------------------------------------------ */
/* Strings owned by the caller                                               */
/* ------------------------------------------------------------------------ */

/* Frees a string that libprov returned through a `char **out` parameter.
 * The memory is wiped first (such strings may hold keys or tokens).
 * NULL is a no-op. Thread-safe. */
PROV_API void prov_string_free(char *s) PROV_NOEXCEPT;

/* ------------------------------------------------------------------------ */
/* Symmetric-key helpers                                                     */
/* ------------------------------------------------------------------------ */

/* Derives a device key for a symmetric-key group enrollment:
 * base64(HMAC-SHA256(base64decode(group_key), registration_id)).
 * On success *out_device_key is a new string; free it with prov_string_free.
 * Returns PROV_OK, PROV_E_INVALID_ARG (NULL/empty arguments, group_key not
 * valid Base64, invalid registration id) or PROV_E_NOMEM. Thread-safe. */
PROV_API int prov_derive_device_key(const char *group_key, const char *registration_id,
                                    char **out_device_key) PROV_NOEXCEPT;

/* Builds the SAS token a device presents for registration_id in id_scope,
 * valid until `expiry` (Unix seconds):
 * "SharedAccessSignature sr=...&sig=...&se=...&skn=registration".
 * Exposed for diagnostics and for callers with their own transport; the
 * client builds its tokens itself. On success *out_token is a new string;
 * free it with prov_string_free. Returns PROV_OK, PROV_E_INVALID_ARG or
 * PROV_E_NOMEM. Thread-safe. */
PROV_API int prov_generate_sas_token(const char *id_scope, const char *registration_id,
                                     const char *symmetric_key, int64_t expiry,
                                     char **out_token) PROV_NOEXCEPT;

/* ------------------------------------------------------------------------ */
/* Client                                                                    */
/* ------------------------------------------------------------------------ */

/* Creates a client that registers `registration_id` in the DPS instance
 * `id_scope` with a symmetric key (individual enrollment, or a device key
 * derived from a group key). Argument names and order follow the Python
 * SDK's ProvisioningDeviceClient.create_from_symmetric_key.
 *
 *  provisioning_host  DPS host name, e.g. "global.azure-devices-provisioning.net",
 *                     optionally with a port: "localhost:8883", "[::1]:8883".
 *  registration_id    1..128 characters: letters, digits, '-', '.', '_', ':';
 *                     first and last character a letter or digit.
 *  id_scope           the DPS instance's id scope, e.g. "0ne00000A0A".
 *  symmetric_key      Base64, decoding to 16..64 bytes. Copied, and wiped
 *                     from memory when the client is freed.
 *
 * Nothing is sent over the network until prov_client_register.
 * Returns PROV_OK, PROV_E_INVALID_ARG (the message names the argument) or
 * PROV_E_NOMEM. On failure *out is set to NULL. Thread-safe. */
PROV_API int prov_client_create_symkey(prov_client **out, const char *provisioning_host,
                                       const char *registration_id, const char *id_scope,
                                       const char *symmetric_key) PROV_NOEXCEPT;

/* Creates a client for a device of a symmetric-key GROUP enrollment: derives
 * the device key from group_key and registration_id (as
 * prov_derive_device_key) and then behaves as prov_client_create_symkey with
 * that key. The group key is not kept. Returns PROV_OK, PROV_E_INVALID_ARG
 * (the message names the argument) or PROV_E_NOMEM. On failure *out is set
 * to NULL. Thread-safe. */
PROV_API int prov_client_create_symkey_group(prov_client **out, const char *provisioning_host,
                                             const char *registration_id, const char *id_scope,
                                             const char *group_key) PROV_NOEXCEPT;

/* Creates a client that registers with an X.509 certificate (TLS client
 * authentication), for an individual enrollment (thumbprint or CA-signed) or
 * an X.509 group enrollment on a root or intermediate CA. Argument names and
 * order follow the Python SDK's create_from_x509_certificate with
 * X509(cert_file, key_file, pass_phrase).
 *
 *  cert_file    path of a PEM file holding the device certificate first,
 *               optionally followed by the intermediate CA certificates
 *               (each after the certificate it signed). The whole chain is
 *               sent in the TLS handshake: a group enrollment on an
 *               intermediate CA needs it.
 *  key_file     path of the PEM private key (RSA or ECDSA; PKCS#8, SEC1 or
 *               PKCS#1; optionally encrypted).
 *  pass_phrase  the pass phrase of an encrypted key, or NULL. Copied, and
 *               wiped from memory when the client is freed.
 *
 * Before returning, libprov reads both files and checks with wolfSSL that
 * they parse, that the pass phrase decrypts the key, that the key matches
 * the device certificate, that the chain is ordered with each certificate
 * signed by the next, that every certificate is within its validity period
 * now (checked again by each prov_client_register) and that the device
 * certificate's subject CN equals registration_id (DPS requires it). Each
 * failure returns PROV_E_CERTIFICATE with a message naming the file, the
 * certificate (subject) and the problem. When the service still rejects the
 * certificate (e.g. an intermediate the enrollment needs is missing from
 * cert_file), prov_client_register returns PROV_E_CREDENTIAL with the
 * service's 401002 in the result and a message that describes the chain that
 * was sent.
 *
 * Returns PROV_OK, PROV_E_INVALID_ARG (NULL/empty argument, malformed host,
 * id or scope), PROV_E_CERTIFICATE or PROV_E_NOMEM. On failure *out is set
 * to NULL. Thread-safe. */
PROV_API int prov_client_create_x509(prov_client **out, const char *provisioning_host,
                                     const char *registration_id, const char *id_scope,
                                     const char *cert_file, const char *key_file,
                                     const char *pass_phrase) PROV_NOEXCEPT;

/* The same as prov_client_create_x509 with the certificate chain and the key
 * given as PEM text in memory (cert_pem: device certificate first, then any
 * intermediates; key_pem: the private key, wiped when the client is freed).
 * Messages name "cert_pem"/"key_pem" instead of a file. */
PROV_API int prov_client_create_x509_pem(prov_client **out, const char *provisioning_host,
                                         const char *registration_id, const char *id_scope,
                                         const char *cert_pem, const char *key_pem,
                                         const char *pass_phrase) PROV_NOEXCEPT;

/* Frees a client and wipes its credential. NULL is a no-op. Must not be
 * called while a registration on this client is in flight. */
PROV_API void prov_client_free(prov_client *client) PROV_NOEXCEPT;

/* Options. Each setter may be called any number of times, in any order,
 * before prov_client_register; the last value wins. Each returns PROV_OK,
 * PROV_E_INVALID_ARG (value rejected; the message says why), PROV_E_NOMEM,
 * or PROV_E_BUSY when a registration on this client is in flight. */

/* Trusted root certificate(s) for the server, as PEM text (not a file
 * path), as the Python SDK's server_verification_cert. NULL restores the
 * system trust store. The host name is always verified. */
PROV_API int prov_client_set_server_verification_cert(prov_client *client,
                                                      const char *pem) PROV_NOEXCEPT;

/* Connect to this host (optionally host:port) instead of provisioning_host,
 * e.g. a protocol gateway; TLS host-name verification is done against it.
 * Authentication still names the DPS id scope. NULL clears. */
PROV_API int prov_client_set_gateway_hostname(prov_client *client,
                                              const char *hostname) PROV_NOEXCEPT;

/* OpenSSL cipher list for TLS 1.2 (e.g. "ECDHE-RSA-AES128-GCM-SHA256"),
 * as the Python SDK's cipher. Validated when set. NULL or "" = defaults. */
PROV_API int prov_client_set_cipher(prov_client *client, const char *cipher_list) PROV_NOEXCEPT;

/* MQTT keep-alive in seconds, 1..1740 (the service maximum). Default 60.
 * Applies to PROV_TRANSPORT_MQTT and PROV_TRANSPORT_MQTT_WS only; see
 * prov_client_set_transport for what happens with HTTPS. */
PROV_API int prov_client_set_keep_alive(prov_client *client, int32_t seconds) PROV_NOEXCEPT;

/* Lifetime of the SAS tokens the client creates, in seconds, 60..31536000.
 * Default 3600. Symmetric-key clients only: PROV_E_INVALID_ARG for an X.509
 * client (as the Python SDK). */
PROV_API int prov_client_set_sastoken_ttl(prov_client *client, int32_t seconds) PROV_NOEXCEPT;

/* Custom data sent to the service with the registration request
 * ("payload" in the request body), as JSON text, e.g. {"modelId":"dtmi:x;1"}.
 * Validated as JSON when set. NULL clears it. */
PROV_API int prov_client_set_provisioning_payload(prov_client *client,
                                                  const char *json) PROV_NOEXCEPT;

/* Overall deadline of one prov_client_register call, in milliseconds,
 * covering connect, register, every poll and every wait between polls.
 * 1..86400000. Default 90000 (90 s). */
PROV_API int prov_client_set_register_timeout(prov_client *client,
                                              uint32_t milliseconds) PROV_NOEXCEPT;

/* How long to wait for each single network step (connect, each
 * acknowledgement, each response) before giving up, in milliseconds,
 * 1..3600000. Default 30000 (30 s, as the Python SDK). */
PROV_API int prov_client_set_response_timeout(prov_client *client,
                                              uint32_t milliseconds) PROV_NOEXCEPT;

/* ------------------------------------------------------------------------ */
/* Transports and proxies                                                    */
/* ------------------------------------------------------------------------ */

/* How the client talks to the service. The result, the statuses and the
 * service's error details are the same on every transport. */
typedef enum prov_transport {
  /* MQTT 3.1.1 over TLS, default port 8883 (the default transport). */
  PROV_TRANSPORT_MQTT = 0,
  /* MQTT over WebSockets over TLS (the Python SDK's websockets=True):
   * default port 443, path "/$iothub/websocket", subprotocol "mqtt". For
   * networks that only let port 443 out. */
  PROV_TRANSPORT_MQTT_WS = 1,
  /* The DPS HTTPS REST API, default port 443: PUT .../register, then GET
   * .../operations/{id} polls honouring the retry-after header. */
  PROV_TRANSPORT_HTTPS = 2,

  PROV__TRANSPORT_FORCE_INT32 = 0x7FFFFFFF
} prov_transport;

/* Chooses the transport (a prov_transport value). Default
 * PROV_TRANSPORT_MQTT. A port given in provisioning_host or in the gateway
 * host name is used as is; otherwise the transport's default port.
 * The server certificate, gateway host name, cipher list and proxy apply to
 * every transport.
 *
 * Options that do not apply to the chosen transport: options may be set in
 * any order, so the check is made by prov_client_register, before anything
 * is sent: when keep_alive was set explicitly and the transport is
 * PROV_TRANSPORT_HTTPS (HTTP has no keep-alive pings), or a proxy CA
 * certificate is set without an HTTPS proxy, prov_client_register returns
 * PROV_E_INVALID_ARG naming the option and the transport or proxy.
 *
 * Returns PROV_OK, PROV_E_INVALID_ARG (not a prov_transport value) or
 * PROV_E_BUSY. */
PROV_API int prov_client_set_transport(prov_client *client, int transport) PROV_NOEXCEPT;

/* Proxy kinds; the same values as the schemes of prov_client_set_proxy_url. */
typedef enum prov_proxy_type {
  PROV_PROXY_NONE = 0,    /* connect directly (the default) */
  PROV_PROXY_HTTP = 1,    /* HTTP CONNECT proxy ("http://"), optional Basic credentials */
  PROV_PROXY_HTTPS = 2,   /* HTTP CONNECT proxy reached over TLS ("https://") */
  PROV_PROXY_SOCKS4 = 3,  /* SOCKS4, destination resolved locally ("socks4://") */
  PROV_PROXY_SOCKS4A = 4, /* SOCKS4a, destination resolved by the proxy ("socks4a://") */
  PROV_PROXY_SOCKS5 = 5,  /* SOCKS5, destination resolved locally ("socks5://") */
  PROV_PROXY_SOCKS5H = 6, /* SOCKS5, destination resolved by the proxy ("socks5h://") */

  PROV__PROXY_FORCE_INT32 = 0x7FFFFFFF
} prov_proxy_type;

/* Sends every connection of this client through a proxy, on every
 * transport (MQTT and MQTT over WebSockets through a tunnel, HTTPS as
 * requests through it), as the Python SDK's ProxyOptions(proxy_type,
 * proxy_addr, proxy_port, proxy_username, proxy_password).
 *
 *  proxy_type  a prov_proxy_type; PROV_PROXY_NONE removes the proxy (then
 *              address, username and password must be NULL).
 *  address     proxy host name or IP address (IPv6 with or without [ ]),
 *              without a port.
 *  port        1..65535.
 *  username    NULL for no proxy authentication. HTTP(S) proxies get Basic
 *              credentials, SOCKS5 proxies RFC 1929 username/password,
 *              SOCKS4 proxies the user id.
 *  password    NULL or the password (requires username). Copied, and
 *              wiped when the client is freed or the proxy replaced.
 *
 * Proxy environment variables (http_proxy, ...) are never used: without
 * this option the client connects directly. Credentials never appear in
 * error messages. When the proxy fails, prov_client_register returns
 * PROV_E_CONNECTION_FAILED with a message naming the proxy (as
 * scheme://host:port) and the cause: unreachable, authentication failed
 * (wrong or missing credentials: "rejected the proxy credentials"),
 * CONNECT/connection request refused, destination unreachable. An
 * unreachable proxy is retried within the register deadline like an
 * unreachable service; rejected proxy credentials, a refused tunnel and an
 * untrusted HTTPS proxy certificate end the registration at once.
 *
 * Returns PROV_OK, PROV_E_INVALID_ARG (the message names the argument),
 * PROV_E_NOMEM or PROV_E_BUSY. */
PROV_API int prov_client_set_proxy(prov_client *client, int proxy_type, const char *address,
                                   int32_t port, const char *username,
                                   const char *password) PROV_NOEXCEPT;

/* The same from a URL: "scheme://[user[:password]@]host[:port]" with
 * scheme http, https, socks4, socks4a, socks5 or socks5h (no scheme means
 * http). user and password are percent-decoded (write '@' as %40, ':' in a
 * user name as %3A). Default port: 80 for http, 443 for https, 1080 for
 * SOCKS. NULL or "" removes the proxy. Error messages show the URL with its
 * credentials replaced by "***".
 * Returns PROV_OK, PROV_E_INVALID_ARG, PROV_E_NOMEM or PROV_E_BUSY. */
PROV_API int prov_client_set_proxy_url(prov_client *client, const char *url) PROV_NOEXCEPT;

/* Trusted root certificate(s) for an HTTPS proxy's own certificate, as PEM
 * text. NULL restores the system trust store. Independent of
 * prov_client_set_server_verification_cert (which is for the service). The
 * proxy's host name is always verified.
 * Returns PROV_OK, PROV_E_INVALID_ARG, PROV_E_NOMEM or PROV_E_BUSY. */
PROV_API int prov_client_set_proxy_ca_cert(prov_client *client, const char *pem) PROV_NOEXCEPT;

/* Certificate issuance (DPS "certificate management"): the registration
 * request carries a PKCS#10 CSR, and the service returns a certificate it
 * issued for the device (prov_result_issued_certificate_*). Works with any
 * attestation (symmetric key or X.509). */

/* Key types for prov_client_set_csr_auto. */
#define PROV_KEY_NONE 0     /* no CSR: clears any CSR option */
#define PROV_KEY_EC_P256 1  /* ECDSA on P-256 (the default choice) */
#define PROV_KEY_RSA_2048 2 /* RSA 2048 */

/* Request shapes for prov_client_set_csr_api. */
/* "csr" (Base64 DER) -> "issuedCertificateChain", api-version
 * 2025-07-01-preview. The default. */
#define PROV_CSR_API_2025_07_01_PREVIEW 1
/* "clientCertificateCsr" (PEM) -> "issuedClientCertificate" + "trustBundle",
 * api-version 2021-11-01-preview. */
#define PROV_CSR_API_2021_11_01_PREVIEW 2

/* Each registration generates a fresh key pair of key_type and a CSR with
 * subject CN = registration id (wolfCrypt), sends it, and exposes the
 * private key on the result (prov_result_generated_private_key_pem).
 * PROV_KEY_NONE clears the CSR option. Replaces a CSR set by
 * prov_client_set_csr_pem/_der. Returns PROV_OK, PROV_E_INVALID_ARG
 * (unknown key_type) or PROV_E_BUSY. */
PROV_API int prov_client_set_csr_auto(prov_client *client, int key_type) PROV_NOEXCEPT;

/* A CSR the caller made (e.g. in a secure element), as PEM text
 * ("-----BEGIN CERTIFICATE REQUEST-----") or DER bytes. It is parsed and its
 * signature checked when set (PROV_E_CERTIFICATE on failure); its subject CN
 * must equal the registration id exactly (same case), which
 * prov_client_register checks before connecting (PROV_E_CERTIFICATE).
 * NULL (or der_len 0) clears the CSR option. Replaces
 * prov_client_set_csr_auto. */
PROV_API int prov_client_set_csr_pem(prov_client *client, const char *csr_pem) PROV_NOEXCEPT;
PROV_API int prov_client_set_csr_der(prov_client *client, const uint8_t *der,
                                     size_t der_len) PROV_NOEXCEPT;

/* Which request shape to use: PROV_CSR_API_2025_07_01_PREVIEW (default) or
 * PROV_CSR_API_2021_11_01_PREVIEW. When a CSR is sent, the api-version in
 * the MQTT user name is that preview version. Returns PROV_OK,
 * PROV_E_INVALID_ARG (unknown value) or PROV_E_BUSY. */
PROV_API int prov_client_set_csr_api(prov_client *client, int csr_api) PROV_NOEXCEPT;

/* Registers the device: connects, sends the registration request, polls
 * the operation until the service reaches a terminal status (honouring its
 * retry-after), disconnects. Blocking, on the calling thread; the library
 * starts no thread. May be called again on the same client (re-provisioning).
 *
 * *out receives a result whenever the service answered: on PROV_OK (status
 * "assigned") and also on PROV_E_SERVICE and PROV_E_CREDENTIAL, where the
 * result carries the service's error code, tracking id and message. It is
 * NULL when no answer came (e.g. a connection failure). Free it with
 * prov_result_free.
 *
 * Transient failures are retried as prov_client_set_retry_policy describes;
 * the whole call ends within the register timeout (PROV_E_TIMEOUT, whose
 * message names the step that was waiting: DNS, TCP connect, TLS handshake,
 * CONNACK, SUBACK, PUBACK or the response).
 *
 * Returns PROV_OK, PROV_E_INVALID_ARG, PROV_E_CREDENTIAL,
 * PROV_E_CONNECTION_FAILED, PROV_E_CONNECTION_DROPPED, PROV_E_TIMEOUT,
 * PROV_E_CANCELLED (prov_client_cancel), PROV_E_SERVICE, PROV_E_PROTOCOL,
 * PROV_E_BUSY (another registration on this client is in flight; returned
 * at once) or PROV_E_NOMEM. */
PROV_API int prov_client_register(prov_client *client, prov_result **out) PROV_NOEXCEPT;

/* ------------------------------------------------------------------------ */
/* Retries, cancellation, asynchronous registration, progress and logging    */
/* ------------------------------------------------------------------------ */

/* How a registration retries transient conditions: a 429 or 5xx answer, a
 * dropped connection, a refused/reset connection or DNS failure, and a
 * request that got no response within the response timeout. Each retry
 * waits the service's retry-after when it sent one (exactly as given, never
 * clamped), otherwise an exponential backoff with full jitter: a uniform
 * random delay in [0, min(max_backoff_ms, initial_backoff_ms * 2^(n-1))]
 * before retry n, so that a fleet rebooting together spreads out instead of
 * retrying in lock-step. After a dropped connection the client reconnects
 * and resumes polling the SAME operation id (it does not register anew), and
 * a retry-after received before the drop is still honoured. Permanent
 * conditions (401/403, 400, 404, "failed", "disabled", untrusted server
 * certificate, malformed answers) are never retried. Every retry stays
 * inside the registration deadline (prov_client_set_register_timeout).
 *
 * max_retries: consecutive retries allowed before the last error is
 * returned (its status and, when the service answered, its result);
 * 0 = no retries at all. initial_backoff_ms: 1..3600000, max_backoff_ms:
 * initial_backoff_ms..3600000.
 * Defaults (chosen for fleets): 10 retries, 1000 ms initial, 30000 ms cap.
 *
 * Returns PROV_OK, PROV_E_INVALID_ARG (the message names the value) or
 * PROV_E_BUSY. */
PROV_API int prov_client_set_retry_policy(prov_client *client, uint32_t max_retries,
                                          uint32_t initial_backoff_ms,
                                          uint32_t max_backoff_ms) PROV_NOEXCEPT;

/* Cancels the registration in flight on this client (blocking or
 * asynchronous), from any thread, including a progress or log callback.
 * The registration stops waiting within 100 ms, closes its connection
 * and returns (or completes with) PROV_E_CANCELLED. The one exception is a
 * TLS handshake computation already under way, which finishes first (a few
 * ms). The client can register again afterwards. Without a registration in
 * flight it does nothing (a cancel is not remembered for the next one).
 * Returns PROV_OK or PROV_E_INVALID_ARG (client NULL). */
PROV_API int prov_client_cancel(prov_client *client) PROV_NOEXCEPT;

/* Completion of prov_client_register_async. status is what
 * prov_client_register would have returned; result is what it would have
 * stored in *out (NULL when the service did not answer), and is owned by
 * the callee: free it with prov_result_free. Inside the callback,
 * prov_last_error_message() describes a failure. */
typedef void (*prov_register_callback)(int status, prov_result *result, void *user_data);

/* Starts a registration on a library thread and returns at once. cb is
 * called exactly once, on that thread, when the registration ends (also
 * when it is cancelled); until cb returns the client counts as busy.
 *
 * Threading: no thread is started per registration. The registration runs
 * as a coroutine (fiber) on one of libprov's event-loop threads (one per
 * CPU, at most 4, shared by all asynchronous registrations of the process),
 * and cb, the progress and the log callbacks run there, on the fiber's
 * stack (256 KB). While a callback runs, the other registrations of that
 * thread wait: callbacks should return promptly and not block for long
 * (no sleeping, no waiting for other threads); deep recursion or large
 * stack buffers belong on another thread. A callback may call any libprov
 * function: prov_client_register on another client (its waits yield to the
 * loop), prov_client_register_async, prov_client_cancel, and
 * prov_client_free of another client, even one in flight (it waits for
 * that registration's end without blocking the loop).
 *
 * Rules for callbacks (completion, progress, log), enforced:
 * - prov_client_register / _register_async on the same client from its own
 *   callback returns PROV_E_BUSY (use another client, or start the next
 *   registration after the callback has returned);
 * - setters on the same client return PROV_E_BUSY;
 * - prov_client_cancel is allowed;
 * - prov_client_free of the same client from its completion callback is
 *   allowed: the client is released once the callback returns (the client
 *   must not be used after the call). From a progress or log callback it is
 *   refused (nothing happens; a registration still runs on the client).
 * prov_client_free from any other thread cancels the registration in
 * flight and waits for its thread (including its completion callback) to
 * finish; so a callback must not wait for the thread that frees its client.
 *
 * Returns PROV_OK (cb will be called), PROV_E_INVALID_ARG (client or cb
 * NULL), PROV_E_BUSY (a registration on this client is in flight; cb will
 * not be called) or PROV_E_NOMEM. */
PROV_API int prov_client_register_async(prov_client *client, prov_register_callback cb,
                                        void *user_data) PROV_NOEXCEPT;

/* The states a registration goes through, reported to the progress callback. */
typedef enum prov_progress_state {
  /* Opening the connection (DNS, TCP, TLS, proxy, MQTT CONNECT/SUBSCRIBE).
   * detail: "host:port" and the transport. */
  PROV_PROGRESS_CONNECTING = 1,
  /* The connection is up: TCP, proxy and TLS (with the client certificate
   * for X.509). Over MQTT the CONNECT goes out with the first request, so the
   * service's verdict on the credentials (CONNACK) arrives after this event,
   * together with the answer to that request. */
  PROV_PROGRESS_CONNECTED = 2,
  /* The register request was sent (detail "register") or an operation
   * status query (detail: the operation id). */
  PROV_PROGRESS_REGISTERING = 3,
  /* The service answered "assigning"; retry_after_ms is how long the client
   * waits before polling again (the service's retry-after as given). detail:
   * the operation id. */
  PROV_PROGRESS_ASSIGNING = 4,
  /* A transient failure is being retried. detail: the reason (e.g. "service
   * answered 429 ..." or "connection dropped ..."); retry_after_ms: the
   * delay before the retry. */
  PROV_PROGRESS_RETRYING = 5,
  /* Assigned. detail: the assigned hub. */
  PROV_PROGRESS_ASSIGNED = 6,
  /* The registration ended without an assignment (including cancelled and
   * timed out). detail: "PROV_E_...: message". */
  PROV_PROGRESS_FAILED = 7
} prov_progress_state;

/* state is a prov_progress_state; detail is borrowed for the duration of
 * the call (never NULL, never holds a secret); retry_after_ms is 0 except
 * for ASSIGNING and RETRYING. */
typedef void (*prov_progress_callback)(int state, const char *detail, uint32_t retry_after_ms,
                                       void *user_data);

/* Sets (or, with cb NULL, clears) the progress callback. It is called on
 * the thread running the registration (the caller's for
 * prov_client_register, a libprov event-loop thread for _register_async,
 * see its threading note), in order, and must return promptly. Returns
 * PROV_OK, PROV_E_INVALID_ARG or PROV_E_BUSY. */
PROV_API int prov_client_set_progress_callback(prov_client *client, prov_progress_callback cb,
                                               void *user_data) PROV_NOEXCEPT;

typedef enum prov_log_level {
  PROV_LOG_DEBUG = 0,
  PROV_LOG_INFO = 1,
  PROV_LOG_WARNING = 2,
  PROV_LOG_ERROR = 3
} prov_log_level;

/* message is one line without a newline, borrowed for the call. */
typedef void (*prov_log_callback)(int level, const char *message, void *user_data);

/* Sets (or, with cb NULL, clears) the log callback; off by default.
 * Messages of level >= min_level (a prov_log_level) are delivered, on the
 * thread running the registration. Messages never contain a secret: the
 * symmetric key, SAS tokens and signatures, private keys, pass phrases and
 * proxy passwords are replaced by "<redacted>". Returns PROV_OK,
 * PROV_E_INVALID_ARG (min_level out of range) or PROV_E_BUSY. */
PROV_API int prov_client_set_log_callback(prov_client *client, int min_level, prov_log_callback cb,
                                          void *user_data) PROV_NOEXCEPT;

/* ------------------------------------------------------------------------ */
/* Result                                                                    */
/* ------------------------------------------------------------------------ */

/* Frees a result. NULL is a no-op. Strings borrowed from it become invalid. */
PROV_API void prov_result_free(prov_result *result) PROV_NOEXCEPT;

/* Getters. Each returns a string borrowed from the result, or NULL when the
 * service did not send that field (or when result is NULL). Thread-safe for
 * concurrent reads. */

/* The operation id of the registration ("operationId"). */
PROV_API const char *prov_result_operation_id(const prov_result *result) PROV_NOEXCEPT;
/* Registration status: "assigned", "failed", "disabled", "assigning",
 * "unassigned". */
PROV_API const char *prov_result_status(const prov_result *result) PROV_NOEXCEPT;
PROV_API const char *prov_result_registration_id(const prov_result *result) PROV_NOEXCEPT;
PROV_API const char *prov_result_device_id(const prov_result *result) PROV_NOEXCEPT;
/* Host name of the IoT hub the device was assigned to. */
PROV_API const char *prov_result_assigned_hub(const prov_result *result) PROV_NOEXCEPT;
/* "initialAssignment", "deviceDataMigrated", "deviceDataReset" or
 * "reprovisionedToInitialAssignment". */
PROV_API const char *prov_result_substatus(const prov_result *result) PROV_NOEXCEPT;
/* ISO-8601 times as the service sent them ("createdDateTimeUtc",
 * "lastUpdatedDateTimeUtc"). */
PROV_API const char *prov_result_created_date_time(const prov_result *result) PROV_NOEXCEPT;
PROV_API const char *prov_result_last_update_date_time(const prov_result *result) PROV_NOEXCEPT;
PROV_API const char *prov_result_etag(const prov_result *result) PROV_NOEXCEPT;
/* Data returned to the device ("registrationState.payload") as JSON text. */
PROV_API const char *prov_result_payload(const prov_result *result) PROV_NOEXCEPT;
/* The whole "registrationState" object as JSON text. */
PROV_API const char *prov_result_registration_state_json(const prov_result *result) PROV_NOEXCEPT;

/* Service error details, present when the service reported an error, either
 * as a request error (e.g. 401 with errorCode 401002) or as a terminal
 * status "failed"/"disabled" with registrationState.errorCode. */

/* The 6-digit DPS error code (e.g. 401002), or 0 when there is none. */
PROV_API int32_t prov_result_error_code(const prov_result *result) PROV_NOEXCEPT;
/* The HTTP-like status of the last service response (e.g. 200, 401, 429),
 * or 0 when there was none. */
PROV_API int32_t prov_result_http_status(const prov_result *result) PROV_NOEXCEPT;
/* The service's tracking id for support cases, or NULL. */
PROV_API const char *prov_result_tracking_id(const prov_result *result) PROV_NOEXCEPT;
/* The service's error message ("message" or "errorMessage"), or NULL. */
PROV_API const char *prov_result_error_message(const prov_result *result) PROV_NOEXCEPT;

/* X.509 and group details the service returned. */

/* The enrollment group the device registered through
 * (registrationState.x509.enrollmentGroupId or
 * registrationState.symmetricKey.enrollmentGroupId), or NULL. */
PROV_API const char *prov_result_enrollment_group_id(const prov_result *result) PROV_NOEXCEPT;
/* registrationState.x509 as JSON text (certificateInfo,
 * signingCertificateInfo, enrollmentGroupId as the service sent them), or
 * NULL for a non-X.509 registration. */
PROV_API const char *prov_result_x509_json(const prov_result *result) PROV_NOEXCEPT;
/* registrationState.x509.certificateInfo as JSON text (subjectName,
 * sha1Thumbprint, sha256Thumbprint, issuerName, notBeforeUtc, notAfterUtc,
 * serialNumber, version), or NULL when not sent. */
PROV_API const char *prov_result_x509_certificate_info_json(const prov_result *result)
    PROV_NOEXCEPT;

/* Certificate issuance results (present when a CSR was sent and the device
 * was assigned). */

/* The issued certificate chain as PEM text, leaf (the device's new
 * certificate) first, then the issuing CAs. With
 * PROV_CSR_API_2021_11_01_PREVIEW it is "issuedClientCertificate". NULL when
 * nothing was issued. */
PROV_API const char *prov_result_issued_certificate_chain_pem(const prov_result *result)
    PROV_NOEXCEPT;
/* The number of certificates in the issued chain (0 when none). */
PROV_API size_t prov_result_issued_certificate_count(const prov_result *result) PROV_NOEXCEPT;
/* Certificate `index` (0 = leaf) of the issued chain as DER bytes, borrowed
 * from the result; *out_len receives its length. NULL (and *out_len 0) when
 * index is out of range. out_len may not be NULL. */
PROV_API const uint8_t *prov_result_issued_certificate_der(const prov_result *result, size_t index,
                                                           size_t *out_len) PROV_NOEXCEPT;
/* The PEM private key the client generated for the CSR
 * (prov_client_set_csr_auto), matching the issued leaf certificate; NULL
 * when the caller supplied the CSR. It is secret: it is wiped when the
 * result is freed; store it safely. */
PROV_API const char *prov_result_generated_private_key_pem(const prov_result *result) PROV_NOEXCEPT;
/* The trust bundle (PROV_CSR_API_2021_11_01_PREVIEW:
 * trustBundle.certificates[].certificate) as PEM text, or NULL. */
PROV_API const char *prov_result_trust_bundle_pem(const prov_result *result) PROV_NOEXCEPT;

PROV_END_DECL

#endif /* PROV_PROV_H */
