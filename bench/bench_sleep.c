/* bench_sleep.c - timer benchmarks: many concurrent sleepers, and the
 * precision of a short sleep on an idle runtime.
 *
 *   sleep_100k    100,000 goroutines, all started at once, each sleep
 *                 10 ms.  Each notes its intended wake (time of the sleep
 *                 call + 10 ms) and its actual wake; lateness = actual -
 *                 intended.  Metrics: wall_ms (start of spawning until
 *                 every goroutine has woken), p50_late_us, p99_late_us.
 *                 Go: bench/go/sleep.go (same measurement).
 *   sleep_100us   one goroutine on an otherwise idle runtime sleeps
 *                 100 us, 2,000 times (500 with BENCH_QUICK=1); metrics
 *                 p50_late_us, p99_late_us, max_late_us.  Shows what the
 *                 nanosecond poller timeout buys over a millisecond one.
 *
 * Each benchmark runs in a forked child so the first one's cached stacks
 * and timer heaps do not flatter the second.  The main goroutine waits
 * for the sleepers with one park (goro__park / goro__ready), not a
 * polling loop, so wall_ms is not rounded to a poll interval.
 * Output: one JSON object per line (bench/README.md).
 */
#include "../src/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static bool quick;

static void emit(const char *bench, const char *metric, double value) {
  printf("{\"bench\":\"%s\",\"impl\":\"goro\",\"metric\":\"%s\",\"value\":%.6g}\n", bench,
         metric, value);
  fflush(stdout);
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

/* ---- the main goroutine waits until `remaining` reaches zero ---- */

static _Atomic long remaining;
static goro__lock_t wait_lock;
static g_t *waiter;

static bool wait_commit(g_t *g, void *arg) {
  (void)arg;
  waiter = g;
  goro__unlock(&wait_lock);
  return true;
}

static void wait_all(void) {
  goro__lock(&wait_lock);
  if (atomic_load(&remaining) == 0) {
    goro__unlock(&wait_lock);
    return;
  }
  goro__park(WR_NONE, wait_commit, NULL);
}

static void one_done(void) {
  if (atomic_fetch_sub(&remaining, 1) != 1) return;
  goro__lock(&wait_lock);
  g_t *g = waiter;
  waiter = NULL;
  goro__unlock(&wait_lock);
  if (g) goro__ready(g);
}

/* ---- sleep_100k ---- */

#define SLEEPERS 100000
#define NAP (10 * GORO_MILLISECOND)

static int64_t *late;

static void sleeper(void *arg) {
  size_t i = (size_t)(uintptr_t)arg;
  int64_t intended = goro_now() + NAP;
  goro_sleep(NAP);
  late[i] = goro_now() - intended;
  one_done();
}

static int run_sleep_100k(void *arg) {
  (void)arg;
  late = calloc(SLEEPERS, sizeof *late);
  atomic_store(&remaining, SLEEPERS);
  int64_t t0 = goro_now();
  for (size_t i = 0; i < SLEEPERS; i++) {
    if (goro_go(sleeper, (void *)(uintptr_t)i) <= 0) {
      fprintf(stderr, "sleep_100k: goro_go failed\n");
      return 1;
    }
  }
  wait_all();
  int64_t wall = goro_now() - t0;
  qsort(late, SLEEPERS, sizeof *late, cmp_i64);
  emit("sleep_100k", "wall_ms", (double)wall / 1e6);
  emit("sleep_100k", "p50_late_us", (double)late[SLEEPERS / 2] / 1e3);
  emit("sleep_100k", "p99_late_us", (double)late[SLEEPERS * 99 / 100] / 1e3);
  free(late);
  return 0;
}

/* ---- sleep_100us ---- */

static int run_sleep_100us(void *arg) {
  (void)arg;
  int n = quick ? 500 : 2000;
  int64_t *l = calloc((size_t)n, sizeof *l);
  const int64_t d = 100 * GORO_MICROSECOND;
  goro_sleep(10 * GORO_MILLISECOND); /* let the other threads go idle */
  for (int i = 0; i < n; i++) {
    int64_t intended = goro_now() + d;
    goro_sleep(d);
    l[i] = goro_now() - intended;
  }
  qsort(l, (size_t)n, sizeof *l, cmp_i64);
  emit("sleep_100us", "p50_late_us", (double)l[n / 2] / 1e3);
  emit("sleep_100us", "p99_late_us", (double)l[n * 99 / 100] / 1e3);
  emit("sleep_100us", "max_late_us", (double)l[n - 1] / 1e3);
  free(l);
  return 0;
}

static const struct {
  const char *name;
  goro_main_fn fn;
} benches[] = {{"sleep_100k", run_sleep_100k}, {"sleep_100us", run_sleep_100us}};

int main(int argc, char **argv) {
  const char *q = getenv("BENCH_QUICK");
  quick = q && *q && strcmp(q, "0") != 0;
  int status = 0;
  for (size_t i = 0; i < sizeof benches / sizeof benches[0]; i++) {
    if (argc > 1) {
      bool want = false;
      for (int k = 1; k < argc; k++)
        if (strcmp(argv[k], benches[i].name) == 0) want = true;
      if (!want) continue;
    }
    pid_t pid = fork();
    if (pid < 0) return 1;
    if (pid == 0) {
      int r = goro_run(benches[i].fn, NULL);
      fflush(stdout);
      _exit(r == 0 ? 0 : 1);
    }
    int ws;
    waitpid(pid, &ws, 0);
    if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0) {
      fprintf(stderr, "bench_sleep: %s failed\n", benches[i].name);
      status = 1;
    }
  }
  return status;
}
