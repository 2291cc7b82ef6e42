/*
 * Shared helpers of the C benchmark peers: device lists, clocks, CPU time,
 * /proc/self readings and JSON output. Header-only on purpose: each peer is a
 * single small program.
 */
#ifndef PROV_BENCH_COMMON_H
#define PROV_BENCH_COMMON_H

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

/* Prints "prog: message" to stderr and exits 2 (bad input) — never a crash. */
static inline void bench_die(const char *fmt, ...) {
  va_list args;
  va_start(args, fmt);
  fputs("bench: ", stderr);
  vfprintf(stderr, fmt, args);
  fputc('\n', stderr);
  va_end(args);
  exit(2);
}

static inline void *bench_xcalloc(size_t count, size_t size) {
  void *p = calloc(count == 0 ? 1 : count, size == 0 ? 1 : size);
  if (!p) bench_die("out of memory");
  return p;
}

static inline char *bench_xstrdup(const char *s) {
  char *copy = strdup(s);
  if (!copy) bench_die("out of memory");
  return copy;
}

static inline double bench_now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct bench_cpu {
  double user_s;
  double sys_s;
} bench_cpu;

/* CPU time of the whole process (all threads) so far. */
static inline bench_cpu bench_cpu_now(void) {
  struct rusage usage;
  bench_cpu cpu = {0.0, 0.0};
  if (getrusage(RUSAGE_SELF, &usage) == 0) {
    cpu.user_s = (double)usage.ru_utime.tv_sec + (double)usage.ru_utime.tv_usec / 1e6;
    cpu.sys_s = (double)usage.ru_stime.tv_sec + (double)usage.ru_stime.tv_usec / 1e6;
  }
  return cpu;
}

/* A field of /proc/self/status in kB or as a count ("VmRSS", "Threads"), -1 if absent. */
static inline long bench_proc_status_field(const char *name) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  size_t name_len = strlen(name);
  long value = -1;
  if (!f) return -1;
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, name, name_len) == 0 && line[name_len] == ':') {
      value = strtol(line + name_len + 1, NULL, 10);
      break;
    }
  }
  fclose(f);
  return value;
}

/* Number of open file descriptors of this process. */
static inline long bench_open_fds(void) {
  DIR *dir = opendir("/proc/self/fd");
  struct dirent *entry;
  long count = 0;
  if (!dir) return -1;
  while ((entry = readdir(dir)) != NULL) {
    if (entry->d_name[0] != '.') count++;
  }
  closedir(dir);
  return count - 1; /* the directory stream's own descriptor */
}

/* Reads a whole file into a NUL-terminated string. */
static inline char *bench_read_file(const char *path) {
  FILE *f = fopen(path, "rb");
  char *text;
  long size;
  if (!f) bench_die("cannot open '%s': %s", path, strerror(errno));
  if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
    bench_die("cannot read '%s'", path);
  text = bench_xcalloc((size_t)size + 1, 1);
  if (fread(text, 1, (size_t)size, f) != (size_t)size) bench_die("cannot read '%s'", path);
  fclose(f);
  return text;
}

typedef struct bench_device {
  char *registration_id;
  char *key;
} bench_device;

/* Reads the device list: CSV with the header "registration_id,key" (the
 * format `prov register --batch` reads), one device per line. */
static inline bench_device *bench_read_devices(const char *path, size_t *out_count) {
  char *text = bench_read_file(path);
  size_t capacity = 16, count = 0, line_number = 0;
  bench_device *devices = bench_xcalloc(capacity, sizeof *devices);
  char *save = NULL;
  for (char *line = strtok_r(text, "\r\n", &save); line; line = strtok_r(NULL, "\r\n", &save)) {
    char *comma;
    line_number++;
    if (line_number == 1) {
      if (strcmp(line, "registration_id,key") != 0)
        bench_die("%s: first line must be the header 'registration_id,key'", path);
      continue;
    }
    if (line[0] == '\0' || line[0] == '#') continue;
    comma = strchr(line, ',');
    if (!comma || comma == line || comma[1] == '\0')
      bench_die("%s:%zu: expected 'registration_id,key'", path, line_number);
    *comma = '\0';
    if (count == capacity) {
      capacity *= 2;
      devices = realloc(devices, capacity * sizeof *devices);
      if (!devices) bench_die("out of memory");
    }
    devices[count].registration_id = bench_xstrdup(line);
    devices[count].key = bench_xstrdup(comma + 1);
    count++;
  }
  free(text);
  if (count == 0) bench_die("%s: no devices", path);
  *out_count = count;
  return devices;
}

/* Parses a positive integer option value or exits with a message naming it. */
static inline long bench_parse_count(const char *option, const char *value, long max) {
  char *end = NULL;
  long n;
  errno = 0;
  n = strtol(value, &end, 10);
  if (errno != 0 || !end || *end != '\0' || n < 1 || n > max)
    bench_die("%s must be an integer in 1..%ld, got '%s'", option, max, value);
  return n;
}

/* Writes a JSON string literal (the only strings written are ids, status
 * names and error messages, which never hold secrets). */
static inline void bench_json_string(FILE *out, const char *s) {
  fputc('"', out);
  for (; s && *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\')
      fprintf(out, "\\%c", c);
    else if (c < 0x20)
      fprintf(out, "\\u%04x", c);
    else
      fputc(c, out);
  }
  fputc('"', out);
}

static inline void bench_json_latencies(FILE *out, const double *latencies_ms, const int *ok,
                                        size_t n) {
  size_t written = 0;
  fputs("\"latencies_ms\":[", out);
  for (size_t i = 0; i < n; i++) {
    if (!ok[i]) continue;
    fprintf(out, "%s%.3f", written ? "," : "", latencies_ms[i]);
    written++;
  }
  fputc(']', out);
}

#endif /* PROV_BENCH_COMMON_H */
