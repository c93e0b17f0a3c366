/* demo.c - goroutines against OS threads, measured live.
 *
 * goro's claim is that a goroutine is much cheaper than a thread in three
 * ways: memory while parked, the cost of starting and ending one, and the
 * cost of switching between two.  This program measures all three for
 * goroutines and for pthreads on this machine and prints the comparison
 * (tools/demo.sh adds Go's figures when Go is installed).
 *
 *   memory   resident bytes (VmRSS + VmPTE) added by N goroutines / threads
 *            that have run and now wait (goroutines: 100,000 in a channel
 *            receive; threads: 10,000 on a condition variable, default 8 MiB
 *            stacks) divided by N.
 *   spawn    start N that each signal a WaitGroup and end, wait for all;
 *            wall / N (goroutines: 1,000,000; threads: 10,000 create+join).
 *   switch   two goroutines on one processor alternate with goro_yield;
 *            two threads pinned to one CPU alternate through a futex; wall
 *            / number of switches.
 *
 * Design: every measurement runs in its own forked child (memory
 * especially must not see what an earlier measurement left in caches), and
 * timings are the median of three.  The parent starts no runtime and no
 * threads before forking.  Output: a table, or with --json one JSON object
 * per line in the benchmark format of bench/README.md.
 */
#include <goro.h>

#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "../bench/bench_util.h"

enum { GORO_PARKED = 100000, GORO_SPAWN = 1000000, GORO_SWITCH = 2000000 };
enum { THREAD_PARKED = 10000, THREAD_SPAWN = 10000, THREAD_SWITCH = 100000 };
enum { REPEAT = 3 };

static int out_fd = 1; /* children write result lines here */

static void result(const char *bench, const char *impl, const char *metric, double v) {
  char line[256];
  int n = snprintf(line, sizeof line, "{\"bench\":\"%s\",\"impl\":\"%s\",\"metric\":\"%s\",\"value\":%.6g}\n",
                   bench, impl, metric, v);
  if (write(out_fd, line, (size_t)n) != n) _exit(1);
}

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}


static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median3(double v[REPEAT]) {
  qsort(v, REPEAT, sizeof v[0], cmp_double);
  return v[REPEAT / 2];
}

/* ------------------------------------------------------------------ */
/* Goroutines                                                         */
/* ------------------------------------------------------------------ */

static goro_waitgroup wg;
static goro_chan *never; /* nobody ever sends on it */

static void parked_goroutine(void *arg) {
  goro_waitgroup_done(&wg);
  goro_chan_recv(never, NULL, NULL);
}

static int goro_memory(void *arg) {
  if (goro_chan_make(&never, sizeof(int), 0) != 0) return 1;
  long long before = resident_bytes();
  goro_waitgroup_add(&wg, GORO_PARKED);
  for (int i = 0; i < GORO_PARKED; i++) goro_go(parked_goroutine, NULL);
  goro_waitgroup_wait(&wg);
  for (int i = 0; i < 16; i++) goro_yield();
  result("parked_mem_1e5", "goro", "bytes_per_g", (double)(resident_bytes() - before) / GORO_PARKED);
  return 0;
}

static void short_goroutine(void *arg) { goro_waitgroup_done(&wg); }

static void yielder(void *arg) {
  for (int i = 0; i < GORO_SWITCH; i++) goro_yield();
  goro_waitgroup_done(&wg);
}

static int goro_timing(void *arg) {
  double spawn[REPEAT], sw[REPEAT];
  for (int r = 0; r < REPEAT; r++) {
    goro_waitgroup_add(&wg, GORO_SPAWN);
    int64_t t0 = goro_now();
    for (int i = 0; i < GORO_SPAWN; i++) goro_go(short_goroutine, NULL);
    goro_waitgroup_wait(&wg);
    spawn[r] = (double)(goro_now() - t0) / GORO_SPAWN;
  }
  int prev = goro_maxprocs(1);
  for (int r = 0; r < REPEAT; r++) {
    goro_waitgroup_add(&wg, 2);
    int64_t t0 = goro_now();
    goro_go(yielder, NULL);
    goro_go(yielder, NULL);
    goro_waitgroup_wait(&wg);
    sw[r] = (double)(goro_now() - t0) / (2.0 * GORO_SWITCH);
  }
  goro_maxprocs(prev);
  result("spawn", "goro", "ns_per_op", median3(spawn));
  result("yield", "goro", "ns_per_op", median3(sw));
  return 0;
}

/* ------------------------------------------------------------------ */
/* Threads                                                            */
/* ------------------------------------------------------------------ */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t never_cv = PTHREAD_COND_INITIALIZER;
static pthread_cond_t count_cv = PTHREAD_COND_INITIALIZER;
static long parked;

static void *parked_thread(void *arg) {
  pthread_mutex_lock(&mu);
  parked++;
  pthread_cond_signal(&count_cv);
  for (;;) pthread_cond_wait(&never_cv, &mu);
  return NULL;
}

static void thread_memory(void) {
  long long before = resident_bytes();
  for (int i = 0; i < THREAD_PARKED; i++) {
    pthread_t t;
    if (pthread_create(&t, NULL, parked_thread, NULL) != 0) _exit(1);
    pthread_detach(t);
  }
  pthread_mutex_lock(&mu);
  while (parked < THREAD_PARKED) pthread_cond_wait(&count_cv, &mu);
  pthread_mutex_unlock(&mu);
  result("parked_mem_1e4", "pthread", "bytes_per_g",
         (double)(resident_bytes() - before) / THREAD_PARKED);
}

static _Atomic long finished;
static void *short_thread(void *arg) {
  atomic_fetch_add(&finished, 1);
  return NULL;
}

static _Atomic uint32_t turn;
static void *switcher(void *arg) {
  uint32_t me = (uint32_t)(uintptr_t)arg, other = 1 - me;
  for (int i = 0; i < THREAD_SWITCH; i++) {
    while (atomic_load(&turn) != me)
      syscall(SYS_futex, &turn, FUTEX_WAIT_PRIVATE, other, NULL, NULL, 0);
    atomic_store(&turn, other);
    syscall(SYS_futex, &turn, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
  }
  return NULL;
}

static void thread_timing(void) {
  static pthread_t t[THREAD_SPAWN];
  double spawn[REPEAT], sw[REPEAT];
  for (int r = 0; r < REPEAT; r++) {
    int64_t t0 = now_ns();
    for (int i = 0; i < THREAD_SPAWN; i++)
      if (pthread_create(&t[i], NULL, short_thread, NULL) != 0) _exit(1);
    for (int i = 0; i < THREAD_SPAWN; i++) pthread_join(t[i], NULL);
    spawn[r] = (double)(now_ns() - t0) / THREAD_SPAWN;
  }
  cpu_set_t set, one;
  sched_getaffinity(0, sizeof set, &set);
  CPU_ZERO(&one);
  for (int c = 0; c < CPU_SETSIZE; c++)
    if (CPU_ISSET(c, &set)) {
      CPU_SET(c, &one);
      break;
    }
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setaffinity_np(&attr, sizeof one, &one);
  for (int r = 0; r < REPEAT; r++) {
    pthread_t a, b;
    atomic_store(&turn, 0);
    int64_t t0 = now_ns();
    pthread_create(&a, &attr, switcher, (void *)0);
    pthread_create(&b, &attr, switcher, (void *)1);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    sw[r] = (double)(now_ns() - t0) / (2.0 * THREAD_SWITCH);
  }
  result("spawn", "pthread", "ns_per_op", median3(spawn));
  result("yield", "pthread", "ns_per_op", median3(sw));
}

/* ------------------------------------------------------------------ */
/* Driver                                                             */
/* ------------------------------------------------------------------ */

enum { GORO_MEMORY, GORO_TIMING, THREAD_MEMORY, THREAD_TIMING, NSTEPS };
static const char *const step_name[NSTEPS] = {"goroutine memory", "goroutine timing",
                                              "thread memory", "thread timing"};

static void run_step(int step) {
  int r = 0;
  switch (step) {
  case GORO_MEMORY: r = goro_run(goro_memory, NULL); break;
  case GORO_TIMING: r = goro_run(goro_timing, NULL); break;
  case THREAD_MEMORY: thread_memory(); break;
  case THREAD_TIMING: thread_timing(); break;
  }
  _exit(r == 0 ? 0 : 1);
}

typedef struct {
  const char *bench, *impl;
  double v;
} row_t;

static double lookup(const row_t *rows, int n, const char *bench, const char *impl) {
  for (int i = 0; i < n; i++)
    if (!strcmp(rows[i].bench, bench) && !strcmp(rows[i].impl, impl)) return rows[i].v;
  return -1;
}

static void human(char *buf, size_t n, double v, bool bytes) {
  if (v < 0) snprintf(buf, n, "-");
  else if (bytes) snprintf(buf, n, "%.1f KiB", v / 1024);
  else if (v >= 1000) snprintf(buf, n, "%.1f us", v / 1000);
  else snprintf(buf, n, "%.0f ns", v);
}

int main(int argc, char **argv) {
  bool json = argc > 1 && !strcmp(argv[1], "--json");
  int fds[2];
  if (pipe(fds) != 0) return 1;
  int failed = 0;
  for (int s = 0; s < NSTEPS; s++) {
    /* A step that has not finished in 20 s is stuck: say so and try once
     * more rather than leave the demo hanging. */
    for (int attempt = 0; attempt < 2; attempt++) {
      if (!json) fprintf(stderr, "measuring %s...\n", step_name[s]);
      fflush(stdout);
      pid_t pid = fork();
      if (pid < 0) return 1;
      if (pid == 0) {
        close(fds[0]);
        out_fd = fds[1];
        alarm(20);
        run_step(s);
      }
      int st;
      waitpid(pid, &st, 0);
      if (WIFEXITED(st) && WEXITSTATUS(st) == 0) break;
      if (WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM)
        fprintf(stderr, "demo: %s did not finish in 20 s%s\n", step_name[s],
                attempt == 0 ? "; retrying" : "");
      else
        fprintf(stderr, "demo: %s failed (status 0x%x)\n", step_name[s], st);
      if (attempt == 1) failed = 1;
    }
  }
  close(fds[1]);
  char buf[4096];
  size_t len = 0;
  ssize_t k;
  while (len < sizeof buf - 1 && (k = read(fds[0], buf + len, sizeof buf - 1 - len)) > 0)
    len += (size_t)k;
  buf[len] = 0;
  if (json) {
    fputs(buf, stdout);
    return failed;
  }

  row_t rows[16];
  int n = 0;
  static char names[16][2][32];
  for (char *line = strtok(buf, "\n"); line && n < 16; line = strtok(NULL, "\n")) {
    double v;
    if (sscanf(line, "{\"bench\":\"%31[^\"]\",\"impl\":\"%31[^\"]\",\"metric\":\"%*[^\"]\",\"value\":%lf",
               names[n][0], names[n][1], &v) == 3) {
      rows[n] = (row_t){names[n][0], names[n][1], v};
      n++;
    }
  }
  static const struct {
    const char *label, *gbench, *tbench;
    bool bytes;
  } lines[] = {
      {"memory per parked", "parked_mem_1e5", "parked_mem_1e4", true},
      {"spawn + exit", "spawn", "spawn", false},
      {"switch", "yield", "yield", false},
  };
  printf("\n%-20s %12s %12s %14s\n", "", "goroutine", "pthread", "goro/pthread");
  for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
    double g = lookup(rows, n, lines[i].gbench, "goro");
    double t = lookup(rows, n, lines[i].tbench, "pthread");
    char gs[32], ts[32], rs[32] = "-";
    human(gs, sizeof gs, g, lines[i].bytes);
    human(ts, sizeof ts, t, lines[i].bytes);
    if (g > 0 && t > 0) snprintf(rs, sizeof rs, "%.3gx", g / t);
    printf("%-20s %12s %12s %14s\n", lines[i].label, gs, ts, rs);
  }
  return failed;
}
