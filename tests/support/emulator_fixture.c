/* emulator_fixture.c — see emulator_fixture.h. POSIX only. */
#define _GNU_SOURCE
#include "emulator_fixture.h"
#include "process_stats.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
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

#include <cjson/cJSON.h>

struct emu_fixture {
  char dir[256];
  char data_dir[300];
  char config_path[300];
  char ports_path[300];
  char log_path[300];
  char ca_path[1024];
  char mqtt_host[96];
  char bind_address[64];
  char *ca_pem;
  pid_t pid;
  int mqtt_port;
  int https_port;
  int admin_port;
};

static const char *emulator_binary(void) {
  const char *path = getenv("PROV_TEST_EMULATOR");
  return (path && *path) ? path : NULL;
}

static void sleep_ms(long ms) {
  struct timespec ts;
  ts.tv_sec = ms / 1000;
  ts.tv_nsec = (ms % 1000) * 1000000L;
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

static char *read_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 4096, len = 0;
  char *buf = malloc(cap);
  if (!buf) {
    fclose(f);
    return NULL;
  }
  for (;;) {
    if (len + 1024 + 1 > cap) {
      cap *= 2;
      char *grown = realloc(buf, cap);
      if (!grown) {
        free(buf);
        fclose(f);
        return NULL;
      }
      buf = grown;
    }
    size_t n = fread(buf + len, 1, 1024, f);
    len += n;
    if (n == 0) break;
  }
  fclose(f);
  buf[len] = '\0';
  return buf;
}

static int write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "wb");
  if (!f) return -1;
  size_t len = strlen(text);
  int ok = fwrite(text, 1, len, f) == len;
  return (fclose(f) == 0 && ok) ? 0 : -1;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  return remove(path);
}

/* Starts the process and waits for the ports file. Returns 0 on success. */
static int spawn_and_wait(emu_fixture *e) {
  const char *bin = emulator_binary();
  if (!bin) {
    fprintf(stderr, "emu_start: PROV_TEST_EMULATOR is not set (path of dps-emulator)\n");
    return -1;
  }
  unlink(e->ports_path);
  pid_t pid = fork();
  if (pid < 0) {
    perror("emu_start: fork");
    return -1;
  }
  if (pid == 0) {
    int log_fd = open(e->log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (log_fd >= 0) {
      dup2(log_fd, STDERR_FILENO);
      dup2(log_fd, STDOUT_FILENO);
      close(log_fd);
    }
    execl(bin, bin, "serve", "--data-dir", e->data_dir, "--config", e->config_path, "--bind",
          e->bind_address, "--mqtt-port", "0", "--https-port", "0", "--admin-port", "0",
          "--ports-file", e->ports_path, "--log-level", "debug", (char *)NULL);
    fprintf(stderr, "exec %s failed: %s\n", bin, strerror(errno));
    _exit(127);
  }
  e->pid = pid;

  double give_up = test_now_s() + 30.0;
  while (test_now_s() < give_up) {
    int status;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      e->pid = 0;
      fprintf(stderr, "emu_start: dps-emulator exited before listening (status %d); its log:\n",
              status);
      emu_dump_log(e);
      return -1;
    }
    char *text = read_file(e->ports_path);
    if (text) {
      cJSON *ports = cJSON_Parse(text);
      free(text);
      if (ports) {
        const cJSON *mqtt = cJSON_GetObjectItemCaseSensitive(ports, "mqtt");
        const cJSON *https = cJSON_GetObjectItemCaseSensitive(ports, "https");
        const cJSON *admin = cJSON_GetObjectItemCaseSensitive(ports, "admin");
        e->mqtt_port = cJSON_IsNumber(mqtt) ? mqtt->valueint : 0;
        e->https_port = cJSON_IsNumber(https) ? https->valueint : 0;
        e->admin_port = cJSON_IsNumber(admin) ? admin->valueint : 0;
        cJSON_Delete(ports);
        if (strchr(e->bind_address, ':')) {
          snprintf(e->mqtt_host, sizeof e->mqtt_host, "[%s]:%d", e->bind_address, e->mqtt_port);
        } else {
          snprintf(e->mqtt_host, sizeof e->mqtt_host, "localhost:%d", e->mqtt_port);
        }
        return 0;
      }
    }
    sleep_ms(20);
  }
  fprintf(stderr, "emu_start: no ports file after 30 s; emulator log:\n");
  emu_dump_log(e);
  emu_kill9(e);
  return -1;
}

static int load_ca(emu_fixture *e) {
  char command[1200];
  snprintf(command, sizeof command, "'%s' ca-path --data-dir '%s' 2>>'%s'", emulator_binary(),
           e->data_dir, e->log_path);
  FILE *p = popen(command, "r");
  if (!p) return -1;
  char line[1024] = "";
  char *got = fgets(line, sizeof line, p);
  int rc = pclose(p);
  if (!got || rc != 0) {
    fprintf(stderr, "emu_start: `dps-emulator ca-path` failed (rc %d)\n", rc);
    return -1;
  }
  line[strcspn(line, "\r\n")] = '\0';
  snprintf(e->ca_path, sizeof e->ca_path, "%s", line);
  free(e->ca_pem);
  e->ca_pem = read_file(e->ca_path);
  if (!e->ca_pem) {
    fprintf(stderr, "emu_start: cannot read CA file %s\n", e->ca_path);
    return -1;
  }
  return 0;
}

emu_fixture *emu_start(const char *config_json) {
  return emu_start_on(config_json, "127.0.0.1");
}

emu_fixture *emu_start_on(const char *config_json, const char *bind_address) {
  if (!config_json || !bind_address) {
    fprintf(stderr, "emu_start: config_json or bind_address is NULL\n");
    return NULL;
  }
  emu_fixture *e = calloc(1, sizeof *e);
  if (!e) return NULL;
  snprintf(e->bind_address, sizeof e->bind_address, "%s", bind_address);
  const char *tmp = getenv("TMPDIR");
  snprintf(e->dir, sizeof e->dir, "%s/prov-emu-XXXXXX", (tmp && *tmp) ? tmp : "/tmp");
  if (!mkdtemp(e->dir)) {
    perror("emu_start: mkdtemp");
    free(e);
    return NULL;
  }
  snprintf(e->data_dir, sizeof e->data_dir, "%s/data", e->dir);
  snprintf(e->config_path, sizeof e->config_path, "%s/config.json", e->dir);
  snprintf(e->ports_path, sizeof e->ports_path, "%s/ports.json", e->dir);
  snprintf(e->log_path, sizeof e->log_path, "%s/emulator.log", e->dir);
  if (mkdir(e->data_dir, 0700) != 0 || write_file(e->config_path, config_json) != 0) {
    fprintf(stderr, "emu_start: cannot prepare %s: %s\n", e->dir, strerror(errno));
    emu_stop(e);
    return NULL;
  }
  if (spawn_and_wait(e) != 0 || load_ca(e) != 0) {
    emu_stop(e);
    return NULL;
  }
  return e;
}

int emu_mqtt_port(const emu_fixture *e) {
  return e ? e->mqtt_port : 0;
}
int emu_https_port(const emu_fixture *e) {
  return e ? e->https_port : 0;
}
int emu_admin_port(const emu_fixture *e) {
  return e ? e->admin_port : 0;
}
const char *emu_ca_pem(const emu_fixture *e) {
  return e ? e->ca_pem : NULL;
}
const char *emu_ca_path(const emu_fixture *e) {
  return e ? e->ca_path : NULL;
}
const char *emu_data_dir(const emu_fixture *e) {
  return e ? e->data_dir : NULL;
}
const char *emu_mqtt_host(const emu_fixture *e) {
  return e ? e->mqtt_host : NULL;
}

static void stop_process(emu_fixture *e, int sig) {
  if (e->pid <= 0) return;
  kill(e->pid, sig);
  double give_up = test_now_s() + 10.0;
  for (;;) {
    int status;
    pid_t r = waitpid(e->pid, &status, WNOHANG);
    if (r == e->pid || (r < 0 && errno != EINTR)) break;
    if (test_now_s() > give_up) {
      fprintf(stderr, "emu_stop: dps-emulator ignored signal %d for 10 s; killing it\n", sig);
      kill(e->pid, SIGKILL);
      waitpid(e->pid, &status, 0);
      break;
    }
    sleep_ms(10);
  }
  e->pid = 0;
}

void emu_kill9(emu_fixture *e) {
  if (e) stop_process(e, SIGKILL);
}

int emu_restart(emu_fixture *e) {
  if (!e) return -1;
  stop_process(e, SIGTERM);
  return spawn_and_wait(e);
}

void emu_stop(emu_fixture *e) {
  if (!e) return;
  stop_process(e, SIGTERM);
  if (getenv("PROV_TEST_KEEP_EMULATOR_DIR")) {
    fprintf(stderr, "emu_stop: keeping %s\n", e->dir);
  } else if (e->dir[0]) {
    nftw(e->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
  }
  free(e->ca_pem);
  free(e);
}

void emu_dump_log(const emu_fixture *e) {
  if (!e) return;
  char *log = read_file(e->log_path);
  if (log) {
    fprintf(stderr, "----- dps-emulator log (%s) -----\n%s\n-----\n", e->log_path, log);
    free(log);
  }
}

int emu_admin_request(const emu_fixture *e, const char *method, const char *path, const char *body,
                      char **response_body) {
  if (response_body) *response_body = NULL;
  if (!e || !method || !path || e->admin_port <= 0) return -1;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((uint16_t)e->admin_port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  struct timeval tv = {10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  size_t body_len = body ? strlen(body) : 0;
  size_t request_cap = body_len + strlen(path) + 256;
  char *request = malloc(request_cap);
  if (!request) {
    close(fd);
    return -1;
  }
  int head = snprintf(request, request_cap,
                      "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/json\r\n"
                      "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                      method, path, e->admin_port, body_len);
  if (body_len) memcpy(request + head, body, body_len);
  size_t total = (size_t)head + body_len, sent = 0;
  while (sent < total) {
    ssize_t n = send(fd, request + sent, total - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += (size_t)n;
  }
  free(request);
  size_t cap = 4096, len = 0;
  char *response = malloc(cap);
  for (;;) {
    if (!response) break;
    if (len + 1 >= cap) {
      char *grown = realloc(response, cap * 2);
      if (!grown) break;
      response = grown;
      cap *= 2;
    }
    ssize_t n = recv(fd, response + len, cap - len - 1, 0);
    if (n <= 0) break;
    len += (size_t)n;
  }
  close(fd);
  if (!response) return -1;
  response[len] = '\0';
  int status = -1;
  if (sscanf(response, "HTTP/1.%*d %d", &status) != 1) status = -1;
  if (response_body) {
    const char *start = strstr(response, "\r\n\r\n");
    *response_body = strdup(start ? start + 4 : "");
  }
  free(response);
  return status;
}

int emu_start_into(emu_fixture **slot, const char *config_json) {
  *slot = emu_start(config_json);
  return *slot ? 0 : -1;
}

int emu_stop_slot(emu_fixture **slot) {
  emu_stop(*slot);
  *slot = NULL;
  return 0;
}
