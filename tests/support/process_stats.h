/*
 * process_stats.h — helpers that need no test framework, shared by the C
 * test suites (through test_helpers.h) and the soak program: a monotonic
 * clock, sleeping, and readings of this process from /proc/self (threads,
 * resident memory, open descriptors).
 *
 * Header-only (static inline), so nothing extra is linked: the soak program
 * is built by hand from a few files (bench/soak/run_soak.sh).
 */
#ifndef PROV_TESTS_PROCESS_STATS_H
#define PROV_TESTS_PROCESS_STATS_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Seconds on the monotonic clock. */
static inline double test_now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline void test_sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* The number in the line "name:" of /proc/self/status (a count, or kB for
 * the Vm* lines), or -1 when there is no such line. */
static inline long test_proc_status_field(const char *name) {
  FILE *status = fopen("/proc/self/status", "r");
  if (status == NULL) return -1;
  const size_t name_length = strlen(name);
  char line[256];
  long value = -1;
  while (fgets(line, sizeof line, status)) {
    if (strncmp(line, name, name_length) == 0 && line[name_length] == ':') {
      value = strtol(line + name_length + 1, NULL, 10);
      break;
    }
  }
  fclose(status);
  return value;
}

/* Threads of this process, -1 if unknown. */
static inline int test_thread_count(void) {
  return (int)test_proc_status_field("Threads");
}

/* Open file descriptors of this process, -1 if unknown. */
static inline int test_open_fds(void) {
  DIR *fds = opendir("/proc/self/fd");
  if (fds == NULL) return -1;
  int count = 0;
  for (struct dirent *entry = readdir(fds); entry != NULL; entry = readdir(fds)) {
    if (entry->d_name[0] != '.') ++count;
  }
  closedir(fds);
  return count - 1; /* the directory stream's own descriptor */
}

#endif /* PROV_TESTS_PROCESS_STATS_H */
