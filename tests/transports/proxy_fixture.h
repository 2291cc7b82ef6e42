/*
 * proxy_fixture.h — starts real proxy servers (Debian packages) for the
 * transport tests: tinyproxy (HTTP CONNECT, optional Basic auth, optional
 * ConnectPort restriction), dante-server `danted` (SOCKS4/4a/5 without auth)
 * and microsocks (SOCKS5, optional username/password). Each proxy gets its
 * own temporary directory (config, log) and a free loopback port, runs in its
 * own process group, and is stopped by proxy_stop().
 */
#ifndef PROV_TESTS_PROXY_FIXTURE_H
#define PROV_TESTS_PROXY_FIXTURE_H

typedef enum proxy_kind {
  PROXY_TINYPROXY,
  PROXY_DANTE,
  PROXY_MICROSOCKS,
  /* An HTTPS proxy: stunnel (TLS, with tls_cert_file/tls_key_file) in front
   * of a tinyproxy. */
  PROXY_TINYPROXY_TLS
} proxy_kind;

typedef struct proxy_options {
  const char *username; /* tinyproxy BasicAuth or microsocks -u/-P; NULL = none */
  const char *password;
  int only_connect_port;     /* tinyproxy: allow CONNECT to this port only (0 = any) */
  const char *tls_cert_file; /* PROXY_TINYPROXY_TLS: server certificate chain (PEM) */
  const char *tls_key_file;  /* and its key */
} proxy_options;

typedef struct proxy_fixture proxy_fixture;

/* Starts the proxy and waits (up to 10 s) until it accepts connections.
 * Returns NULL (after printing why) on failure. */
proxy_fixture *proxy_start(proxy_kind kind, const proxy_options *options);
int proxy_port(const proxy_fixture *p);
/* How many lines of the proxy's log show a connection to 127.0.0.1:<port>
 * (or localhost:<port>) going through it. */
int proxy_count_connections_to(const proxy_fixture *p, int port);
void proxy_dump_log(const proxy_fixture *p);
void proxy_stop(proxy_fixture *p);

/* A loopback port nobody listens on (bound, then released). */
int unused_loopback_port(void);

#endif /* PROV_TESTS_PROXY_FIXTURE_H */
