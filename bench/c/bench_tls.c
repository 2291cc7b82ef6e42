/*
 * prov-bench-tls: the TLS handshake ceiling of this machine against the
 * emulator. A registration needs exactly one TLS handshake, so no client can
 * register faster than the machine can complete handshakes with the same
 * server; this program measures that rate with plain OpenSSL (the TLS library
 * libprov uses through libcurl).
 *
 *   prov-bench-tls --port P --ca PEM_FILE [--host 127.0.0.1] [--server-name localhost]
 *                  [--count N] [--threads T] [--fresh-context | --resume]
 *
 * Each handshake: TCP connect (TCP_NODELAY), TLS handshake with SNI and
 * host-name verification against the CA, close. No session resumption (a
 * device registering for the first time has no session to resume).
 * By default one SSL_CTX (with the CA loaded once) serves every handshake:
 * the ceiling. --fresh-context builds a new SSL_CTX and loads the CA for
 * every handshake, as a client object that owns its TLS setup does; the
 * difference is the cost of per-client context setup. --resume offers the
 * session (TLS 1.3 ticket) of the previous handshake, as libprov does between
 * the symmetric-key registrations of one process: after each handshake it
 * waits (at most 100 ms) for the server's ticket and closes with close_notify
 * (as libcurl does), and the next handshake resumes it: the ceiling for
 * resumed handshakes.
 *
 * Prints one JSON object: count, ok, elapsed, CPU (user+sys of the process
 * during the handshakes), latency of every handshake, the protocol and cipher.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench_common.h"

static const char *host = "127.0.0.1";
static const char *server_name = "localhost";
static const char *ca_path;
static long port;
static long count = 200;
static long threads = 1;
static int fresh_context;
static int resume;

/* --resume: the newest session the server gave (a TLS 1.3 ticket). */
static pthread_mutex_t session_lock = PTHREAD_MUTEX_INITIALIZER;
static SSL_SESSION *last_session;
static atomic_long resumed_count;
static atomic_long tickets_seen;

static int on_new_session(SSL *ssl, SSL_SESSION *session) {
  (void)ssl;
  pthread_mutex_lock(&session_lock);
  if (last_session) SSL_SESSION_free(last_session);
  last_session = session; /* we keep the reference OpenSSL hands over */
  atomic_fetch_add(&tickets_seen, 1);
  pthread_mutex_unlock(&session_lock);
  return 1;
}

static SSL_SESSION *take_session(void) {
  pthread_mutex_lock(&session_lock);
  SSL_SESSION *session = last_session;
  if (session) SSL_SESSION_up_ref(session);
  pthread_mutex_unlock(&session_lock);
  return session;
}

/* Reads until the server's session ticket arrived (or 100 ms passed): TLS 1.3
 * tickets come after the handshake, before any application data. */
static void wait_for_ticket(SSL *ssl, int fd, SSL_SESSION *before) {
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  double give_up = bench_now_s() + 0.1;
  for (;;) {
    pthread_mutex_lock(&session_lock);
    int arrived = last_session != NULL && last_session != before;
    pthread_mutex_unlock(&session_lock);
    if (arrived || bench_now_s() > give_up) return;
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 10) < 0) return;
    char byte;
    if (SSL_read(ssl, &byte, 1) <= 0 && SSL_get_error(ssl, -1) != SSL_ERROR_WANT_READ) return;
  }
}

static SSL_CTX *shared_context;
static atomic_long next_handshake;
static double *latencies_ms;
static int *succeeded;
static char protocol[32], cipher[96];
static pthread_mutex_t error_lock = PTHREAD_MUTEX_INITIALIZER;
static char first_error[256];

static void remember_error(const char *what) {
  pthread_mutex_lock(&error_lock);
  if (first_error[0] == '\0') {
    unsigned long code = ERR_peek_last_error();
    char detail[160] = "";
    if (code) ERR_error_string_n(code, detail, sizeof detail);
    snprintf(first_error, sizeof first_error, "%s%s%s", what, detail[0] ? ": " : "", detail);
  }
  pthread_mutex_unlock(&error_lock);
}

static SSL_CTX *make_context(void) {
  SSL_CTX *context = SSL_CTX_new(TLS_client_method());
  if (!context) return NULL;
  SSL_CTX_set_verify(context, SSL_VERIFY_PEER, NULL);
  if (resume) {
    SSL_CTX_set_session_cache_mode(context,
                                   SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(context, on_new_session);
  } else {
    SSL_CTX_set_session_cache_mode(context, SSL_SESS_CACHE_OFF);
  }
  if (SSL_CTX_load_verify_locations(context, ca_path, NULL) != 1) {
    SSL_CTX_free(context);
    return NULL;
  }
  return context;
}

/* One connect + handshake + close; returns 1 on success. */
static int handshake_once(void) {
  SSL_CTX *context = fresh_context ? make_context() : shared_context;
  SSL *ssl = NULL;
  int ok = 0, fd = -1, one = 1;
  struct sockaddr_in address;
  if (!context) {
    remember_error("SSL_CTX setup (CA load) failed");
    return 0;
  }
  memset(&address, 0, sizeof address);
  address.sin_family = AF_INET;
  address.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, host, &address.sin_addr) != 1) bench_die("--host must be an IPv4 address");
  fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0 || connect(fd, (struct sockaddr *)&address, sizeof address) != 0) {
    remember_error("TCP connect failed");
    goto done;
  }
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  ssl = SSL_new(context);
  if (!ssl || SSL_set_fd(ssl, fd) != 1 || SSL_set_tlsext_host_name(ssl, server_name) != 1 ||
      SSL_set1_host(ssl, server_name) != 1) {
    remember_error("SSL setup failed");
    goto done;
  }
  SSL_SESSION *offered = resume ? take_session() : NULL;
  if (offered) SSL_set_session(ssl, offered);
  if (SSL_connect(ssl) != 1 || SSL_get_verify_result(ssl) != X509_V_OK) {
    if (offered) SSL_SESSION_free(offered);
    remember_error("TLS handshake or verification failed");
    goto done;
  }
  if (SSL_session_reused(ssl)) atomic_fetch_add(&resumed_count, 1);
  if (resume) wait_for_ticket(ssl, fd, offered);
  if (offered) SSL_SESSION_free(offered);
  ok = 1;
  if (protocol[0] == '\0') {
    pthread_mutex_lock(&error_lock);
    snprintf(protocol, sizeof protocol, "%s", SSL_get_version(ssl));
    snprintf(cipher, sizeof cipher, "%s", SSL_get_cipher_name(ssl));
    pthread_mutex_unlock(&error_lock);
  }
done:
  /* --resume: close_notify first, as libcurl does; OpenSSL marks the session
   * of a connection freed without it as not resumable. */
  if (ssl && ok && resume) SSL_shutdown(ssl);
  if (ssl) SSL_free(ssl);
  if (fd >= 0) close(fd);
  if (fresh_context) SSL_CTX_free(context);
  ERR_clear_error();
  return ok;
}

static void *worker(void *unused) {
  (void)unused;
  for (;;) {
    long index = atomic_fetch_add(&next_handshake, 1);
    if (index >= count) return NULL;
    double started = bench_now_s();
    succeeded[index] = handshake_once();
    latencies_ms[index] = (bench_now_s() - started) * 1000.0;
  }
}

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    const char *option = argv[i];
    if (strcmp(option, "--fresh-context") == 0) {
      fresh_context = 1;
      continue;
    }
    if (strcmp(option, "--resume") == 0) {
      resume = 1;
      continue;
    }
    if (strcmp(option, "--help") == 0) {
      fputs(
          "usage: prov-bench-tls --port P --ca PEM_FILE [--host IPv4] [--server-name NAME]\n"
          "                      [--count N] [--threads T] [--fresh-context | --resume]\n",
          stderr);
      return 2;
    }
    if (i + 1 >= argc) bench_die("option %s needs a value", option);
    const char *value = argv[++i];
    if (strcmp(option, "--port") == 0)
      port = bench_parse_count(option, value, 65535);
    else if (strcmp(option, "--ca") == 0)
      ca_path = value;
    else if (strcmp(option, "--host") == 0)
      host = value;
    else if (strcmp(option, "--server-name") == 0)
      server_name = value;
    else if (strcmp(option, "--count") == 0)
      count = bench_parse_count(option, value, 10000000);
    else if (strcmp(option, "--threads") == 0)
      threads = bench_parse_count(option, value, 4096);
    else
      bench_die("unknown option '%s'", option);
  }
  if (!port || !ca_path) bench_die("--port and --ca are required");
  if (resume && fresh_context) bench_die("--resume needs the shared SSL_CTX (no --fresh-context)");
  latencies_ms = bench_xcalloc((size_t)count, sizeof *latencies_ms);
  succeeded = bench_xcalloc((size_t)count, sizeof *succeeded);
  shared_context = make_context();
  if (!shared_context) bench_die("cannot load the CA file '%s'", ca_path);

  bench_cpu cpu_before = bench_cpu_now();
  double started = bench_now_s();
  if (threads == 1) {
    worker(NULL);
  } else {
    pthread_t *workers = bench_xcalloc((size_t)threads, sizeof *workers);
    long started_threads = 0;
    for (long t = 0; t < threads; t++) {
      if (pthread_create(&workers[t], NULL, worker, NULL) != 0) break;
      started_threads++;
    }
    if (started_threads == 0) bench_die("could not start any thread");
    for (long t = 0; t < started_threads; t++) pthread_join(workers[t], NULL);
    free(workers);
  }
  double elapsed = bench_now_s() - started;
  bench_cpu cpu_after = bench_cpu_now();

  long ok = 0;
  for (long i = 0; i < count; i++) ok += succeeded[i];
  printf("{\"mode\":\"tls\",\"threads\":%ld,\"fresh_context\":%s,\"count\":%ld,\"ok\":%ld,",
         threads, fresh_context ? "true" : "false", count, ok);
  printf("\"resume\":%s,\"resumed\":%ld,\"tickets\":%ld,", resume ? "true" : "false",
         atomic_load(&resumed_count), atomic_load(&tickets_seen));
  printf("\"elapsed_s\":%.6f,\"cpu_user_s\":%.6f,\"cpu_sys_s\":%.6f,", elapsed,
         cpu_after.user_s - cpu_before.user_s, cpu_after.sys_s - cpu_before.sys_s);
  printf("\"protocol\":");
  bench_json_string(stdout, protocol);
  printf(",\"cipher\":");
  bench_json_string(stdout, cipher);
  printf(",\"first_error\":");
  bench_json_string(stdout, first_error);
  putchar(',');
  bench_json_latencies(stdout, latencies_ms, succeeded, (size_t)count);
  puts("}");
  if (last_session) SSL_SESSION_free(last_session);
  SSL_CTX_free(shared_context);
  return 0;
}
