/* bench_util.h - helpers shared by the benchmark programs and the demo.
 *
 * Header-only (static functions) so each program stays one source file.
 * BENCH_IMPL names the implementation in the JSON lines ("goro" unless the
 * including file defines it first).
 */
#ifndef GORO_BENCH_UTIL_H
#define GORO_BENCH_UTIL_H

#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef BENCH_IMPL
#define BENCH_IMPL "goro"
#endif

/* One result line of the benchmark protocol (bench/README.md). */
static inline void emit(const char *bench, const char *metric, double value) {
  printf("{\"bench\":\"%s\",\"impl\":\"" BENCH_IMPL "\",\"metric\":\"%s\",\"value\":%.6g}\n",
         bench, metric, value);
  fflush(stdout);
}

/* VmRSS + VmPTE of this process in bytes: resident pages plus the page
 * tables that map them, so per-goroutine figures include that share. */
static inline long long resident_bytes(void) {
  FILE *f = fopen("/proc/self/status", "r");
  if (!f) return -1;
  char line[256];
  long long kb = 0, v;
  while (fgets(line, sizeof line, f)) {
    if (sscanf(line, "VmRSS: %lld kB", &v) == 1) kb += v;
    if (sscanf(line, "VmPTE: %lld kB", &v) == 1) kb += v;
  }
  fclose(f);
  return kb * 1024;
}

/* Run fn(arg) in a forked child, so one benchmark's caches, recycled
 * records and resident memory never flatter the next; the child dies by
 * SIGALRM after timeout_s seconds (a hung benchmark must not stall the
 * run).  Returns 0 if fn returned 0, else says which benchmark failed. */
static inline int run_in_child(const char *prog, const char *name, int timeout_s,
                               int (*fn)(void *), void *arg) {
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) {
    perror("fork");
    return 1;
  }
  if (pid == 0) {
    alarm((unsigned)timeout_s);
    int r = fn(arg);
    fflush(stdout);
    _exit(r == 0 ? 0 : 1); /* skip tearing down what the benchmark built */
  }
  int st;
  waitpid(pid, &st, 0);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
    fprintf(stderr, "%s: %s failed (status 0x%x)\n", prog, name, st);
    return 1;
  }
  return 0;
}

#endif
