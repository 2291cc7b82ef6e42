/*
 * prov-bench-spawn: runs one command and reports its resource usage.
 *
 *   prov-bench-spawn REPORT_FILE COMMAND [ARG...]
 *
 * Writes {"exit":N,"signal":S,"user_s":U,"sys_s":S,"maxrss_kb":M,"wall_s":W}
 * to REPORT_FILE once COMMAND ends (its stdin/stdout/stderr are inherited).
 *
 * Why not just wait4() in the Python driver: on Linux a child's ru_maxrss
 * starts at its parent's RSS (the memory map copied by fork is still counted
 * when exec replaces it), so every child of a 20 MB Python driver would
 * report at least 20 MB. Forked from this small launcher, the floor is this
 * launcher's own ~1 MB, below any real peer.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fputs("usage: prov-bench-spawn REPORT_FILE COMMAND [ARG...]\n", stderr);
    return 2;
  }
  double started = now_s();
  pid_t child = fork();
  if (child < 0) {
    perror("prov-bench-spawn: fork");
    return 2;
  }
  if (child == 0) {
    execvp(argv[2], argv + 2);
    fprintf(stderr, "prov-bench-spawn: cannot run '%s': %s\n", argv[2], strerror(errno));
    _exit(127);
  }
  int status = 0;
  struct rusage usage;
  memset(&usage, 0, sizeof usage);
  while (wait4(child, &status, 0, &usage) < 0) {
    if (errno != EINTR) {
      perror("prov-bench-spawn: wait4");
      return 2;
    }
  }
  double wall = now_s() - started;
  FILE *report = fopen(argv[1], "w");
  if (!report) {
    fprintf(stderr, "prov-bench-spawn: cannot write '%s': %s\n", argv[1], strerror(errno));
    return 2;
  }
  fprintf(report,
          "{\"exit\":%d,\"signal\":%d,\"user_s\":%.6f,\"sys_s\":%.6f,\"maxrss_kb\":%ld,"
          "\"wall_s\":%.6f}\n",
          WIFEXITED(status) ? WEXITSTATUS(status) : -1, WIFSIGNALED(status) ? WTERMSIG(status) : 0,
          (double)usage.ru_utime.tv_sec + (double)usage.ru_utime.tv_usec / 1e6,
          (double)usage.ru_stime.tv_sec + (double)usage.ru_stime.tv_usec / 1e6, usage.ru_maxrss,
          wall);
  fclose(report);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
