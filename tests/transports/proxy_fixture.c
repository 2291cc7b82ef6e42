#define _GNU_SOURCE
#include "proxy_fixture.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct proxy_fixture {
  proxy_kind kind;
  pid_t pid;
  int port;
  char dir[256];
  char log_path[320];
  struct proxy_fixture *inner; /* PROXY_TINYPROXY_TLS: the tinyproxy behind stunnel */
};

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

int unused_loopback_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  int port = -1;
  if (bind(fd, (struct sockaddr *)&addr, sizeof addr) == 0 &&
      getsockname(fd, (struct sockaddr *)&addr, &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

static int accepts_connections(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons((uint16_t)port);
  int ok = connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0;
  close(fd);
  return ok;
}

static int write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  if (f == NULL) return -1;
  fputs(text, f);
  return fclose(f);
}

static pid_t spawn(char *const argv[], const char *stdio_log) {
  pid_t pid = fork();
  if (pid != 0) return pid;
  setpgid(0, 0); /* own group: dante forks helpers, all stopped together */
  int fd = open(stdio_log, O_WRONLY | O_CREAT | O_APPEND, 0600);
  if (fd >= 0) {
    dup2(fd, 1);
    dup2(fd, 2);
    close(fd);
  }
  execvp(argv[0], argv);
  fprintf(stderr, "exec %s failed: %s\n", argv[0], strerror(errno));
  _exit(127);
}

static int write_config(proxy_fixture *p, const proxy_options *o, char *config_path, size_t size) {
  char text[4096];
  switch (p->kind) {
    case PROXY_TINYPROXY: {
      snprintf(config_path, size, "%s/tinyproxy.conf", p->dir);
      int n = snprintf(text, sizeof text,
                       "Port %d\nListen 127.0.0.1\nTimeout 30\nLogFile \"%s\"\nLogLevel Connect\n"
                       "PidFile \"%s/tinyproxy.pid\"\nMaxClients 50\nAllow 127.0.0.1\n",
                       p->port, p->log_path, p->dir);
      if (o != NULL && o->username != NULL) {
        n += snprintf(text + n, sizeof text - (size_t)n, "BasicAuth %s %s\n", o->username,
                      o->password != NULL ? o->password : "");
      }
      if (o != NULL && o->only_connect_port != 0) {
        snprintf(text + n, sizeof text - (size_t)n, "ConnectPort %d\n", o->only_connect_port);
      }
      return write_file(config_path, text);
    }
    case PROXY_DANTE:
      snprintf(config_path, size, "%s/danted.conf", p->dir);
      snprintf(text, sizeof text,
               "logoutput: %s\n"
               "internal: 127.0.0.1 port = %d\n"
               "external: 127.0.0.1\n"
               "clientmethod: none\nsocksmethod: none\n"
               "user.privileged: root\nuser.unprivileged: nobody\n"
               "client pass {\n  from: 127.0.0.0/8 to: 0.0.0.0/0\n  log: error\n}\n"
               "socks pass {\n  from: 127.0.0.0/8 to: 0.0.0.0/0\n  command: connect\n"
               "  log: connect error\n}\n",
               p->log_path, p->port);
      return write_file(config_path, text);
    case PROXY_MICROSOCKS:
      config_path[0] = '\0';
      return 0;
    case PROXY_TINYPROXY_TLS:
      snprintf(config_path, size, "%s/stunnel.conf", p->dir);
      snprintf(text, sizeof text,
               "foreground = yes\npid =\ndebug = notice\n[https-proxy]\n"
               "accept = 127.0.0.1:%d\nconnect = 127.0.0.1:%d\ncert = %s\nkey = %s\n",
               p->port, proxy_port(p->inner), o->tls_cert_file, o->tls_key_file);
      return write_file(config_path, text);
  }
  return -1;
}

proxy_fixture *proxy_start(proxy_kind kind, const proxy_options *options) {
  for (int attempt = 0; attempt < 3; ++attempt) {
    proxy_fixture *p = calloc(1, sizeof *p);
    if (p == NULL) return NULL;
    p->kind = kind;
    snprintf(p->dir, sizeof p->dir, "/tmp/prov-proxy-XXXXXX");
    if (mkdtemp(p->dir) == NULL) {
      free(p);
      return NULL;
    }
    chmod(p->dir, 0777); /* dante and tinyproxy may drop to another user */
    snprintf(p->log_path, sizeof p->log_path, "%s/proxy.log", p->dir);
    int fd = open(p->log_path, O_WRONLY | O_CREAT, 0666);
    if (fd >= 0) close(fd);
    chmod(p->log_path, 0666);
    p->port = unused_loopback_port();
    if (kind == PROXY_TINYPROXY_TLS) {
      if (options == NULL || options->tls_cert_file == NULL || options->tls_key_file == NULL) {
        fprintf(stderr, "proxy fixture: an HTTPS proxy needs tls_cert_file and tls_key_file\n");
        proxy_stop(p);
        return NULL;
      }
      p->inner = proxy_start(PROXY_TINYPROXY, options);
      if (p->inner == NULL) {
        proxy_stop(p);
        return NULL;
      }
    }
    char config[320];
    char port_text[16];
    snprintf(port_text, sizeof port_text, "%d", p->port);
    char stdio_log[320];
    snprintf(stdio_log, sizeof stdio_log, "%s/stdio.log", p->dir);
    if (write_config(p, options, config, sizeof config) != 0) {
      fprintf(stderr, "proxy fixture: cannot write the config in %s\n", p->dir);
      proxy_stop(p);
      return NULL;
    }
    char pid_path[320];
    snprintf(pid_path, sizeof pid_path, "%s/danted.pid", p->dir);
    switch (kind) {
      case PROXY_TINYPROXY: {
        char *argv[] = {"tinyproxy", "-d", "-c", config, NULL};
        p->pid = spawn(argv, stdio_log);
        break;
      }
      case PROXY_DANTE: {
        char *argv[] = {"danted", "-f", config, "-p", pid_path, "-N", "1", NULL};
        p->pid = spawn(argv, stdio_log);
        break;
      }
      case PROXY_TINYPROXY_TLS: {
        char *argv[] = {"stunnel4", config, NULL};
        p->pid = spawn(argv, p->log_path);
        break;
      }
      case PROXY_MICROSOCKS: {
        /* microsocks logs each relayed connection on stderr. */
        if (options != NULL && options->username != NULL) {
          char *argv[] = {"microsocks",
                          "-i",
                          "127.0.0.1",
                          "-p",
                          port_text,
                          "-u",
                          (char *)options->username,
                          "-P",
                          (char *)options->password,
                          NULL};
          p->pid = spawn(argv, p->log_path);
        } else {
          char *argv[] = {"microsocks", "-i", "127.0.0.1", "-p", port_text, NULL};
          p->pid = spawn(argv, p->log_path);
        }
        break;
      }
    }
    for (int waited = 0; waited < 10000; waited += 50) {
      if (accepts_connections(p->port)) return p;
      int status = 0;
      if (waitpid(p->pid, &status, WNOHANG) == p->pid) {
        p->pid = 0;
        break; /* died: most likely the port was taken meanwhile; try another */
      }
      sleep_ms(50);
    }
    fprintf(stderr, "proxy fixture: proxy (kind %d) did not start on port %d (attempt %d)\n",
            (int)kind, p->port, attempt + 1);
    proxy_dump_log(p);
    proxy_stop(p);
  }
  return NULL;
}

int proxy_port(const proxy_fixture *p) {
  return p->port;
}

int proxy_count_connections_to(const proxy_fixture *p, int port) {
  if (p->inner != NULL) return proxy_count_connections_to(p->inner, port);
  FILE *f = fopen(p->log_path, "r");
  if (f == NULL) return 0;
  char needle_colon[64], needle_local[64], needle_dot[64];
  snprintf(needle_colon, sizeof needle_colon, "127.0.0.1:%d", port);
  snprintf(needle_local, sizeof needle_local, "localhost:%d", port);
  snprintf(needle_dot, sizeof needle_dot, "-> 127.0.0.1."); /* dante: "-> src dst.port" */
  char dante_port[32];
  snprintf(dante_port, sizeof dante_port, " 127.0.0.1.%d", port);
  int count = 0;
  char line[2048];
  while (fgets(line, sizeof line, f) != NULL) {
    switch (p->kind) {
      case PROXY_TINYPROXY:
      case PROXY_TINYPROXY_TLS:
        if (strstr(line, "Request") != NULL && strstr(line, "CONNECT") != NULL &&
            (strstr(line, needle_colon) != NULL || strstr(line, needle_local) != NULL)) {
          ++count;
        }
        break;
      case PROXY_DANTE: {
        const char *arrow = strstr(line, "-> ");
        if (strstr(line, "tcp/connect") != NULL && arrow != NULL &&
            strstr(arrow, dante_port) != NULL) {
          ++count;
        }
        break;
      }
      case PROXY_MICROSOCKS:
        if (strstr(line, "connected to") != NULL &&
            (strstr(line, needle_colon) != NULL || strstr(line, needle_local) != NULL)) {
          ++count;
        }
        break;
    }
  }
  (void)needle_dot;
  fclose(f);
  return count;
}

void proxy_dump_log(const proxy_fixture *p) {
  if (p->inner != NULL) proxy_dump_log(p->inner);
  const char *names[] = {"proxy.log", "stdio.log"};
  for (size_t i = 0; i < 2; ++i) {
    char path[320];
    snprintf(path, sizeof path, "%s/%s", p->dir, names[i]);
    FILE *f = fopen(path, "r");
    if (f == NULL) continue;
    fprintf(stderr, "---- %s ----\n", path);
    char line[1024];
    while (fgets(line, sizeof line, f) != NULL) fputs(line, stderr);
    fclose(f);
  }
}

void proxy_stop(proxy_fixture *p) {
  if (p == NULL) return;
  proxy_stop(p->inner);
  if (p->pid > 0) {
    kill(-p->pid, SIGTERM);
    int status = 0;
    int reaped = 0;
    for (int waited = 0; waited < 3000 && !reaped; waited += 20) {
      if (waitpid(p->pid, &status, WNOHANG) == p->pid) {
        reaped = 1;
      } else {
        sleep_ms(20);
      }
    }
    if (!reaped) {
      kill(-p->pid, SIGKILL);
      waitpid(p->pid, &status, 0);
    } else {
      kill(-p->pid, SIGKILL); /* helpers of the group that outlived the parent */
    }
  }
  char command[400];
  snprintf(command, sizeof command, "rm -rf '%s'", p->dir);
  if (strncmp(p->dir, "/tmp/prov-proxy-", 16) == 0) {
    int rc = system(command);
    (void)rc;
  }
  free(p);
}
