/* bench_syscall.c - how fast a blocked processor is handed off.
 *
 *   syscall_handoff  At GORO_MAXPROCS=1 the main goroutine makes 8
 *                    goroutines runnable on its only processor, notes the
 *                    time, and enters a 50 ms nanosleep through
 *                    goro_blocking.  The others can run only once the
 *                    monitor hands the processor to another thread.
 *                    Metric us: how long the first of them waited, median
 *                    of 9 repetitions (3 with BENCH_QUICK=1).
 *
 * Same shape as bench/go/syscall.go (raw nanosleep system call).
 */
#include <goro.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { WORKERS = 8 };

static _Atomic int64_t first;
static goro_chan *done;
static int reps = 9;

static int64_t wall_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void worker(void *arg) {
  (void)arg;
  int64_t zero = 0;
  atomic_compare_exchange_strong(&first, &zero, wall_ns());
  goro_chan_send(done, NULL);
}

static long nap(void *arg) {
  (void)arg;
  struct timespec ts = {0, 50 * 1000 * 1000};
  return nanosleep(&ts, NULL);
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static int bench_main(void *arg) {
  (void)arg;
  goro_maxprocs(1);
  goro_chan_make(&done, 0, WORKERS);
  double waits[16];
  for (int r = 0; r < reps; r++) {
    atomic_store(&first, 0);
    for (int w = 0; w < WORKERS; w++) goro_go(worker, NULL);
    int64_t t0 = wall_ns();
    goro_blocking(nap, NULL);
    for (int w = 0; w < WORKERS; w++) goro_chan_recv(done, NULL, NULL);
    waits[r] = (double)(atomic_load(&first) - t0) / 1e3;
  }
  qsort(waits, (size_t)reps, sizeof waits[0], cmp);
  printf("{\"bench\":\"syscall_handoff\",\"impl\":\"goro\",\"metric\":\"us\",\"value\":%.6g}\n",
         waits[reps / 2]);
  fflush(stdout);
  goro_chan_release(done);
  return 0;
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "syscall_handoff") != 0) {
    fprintf(stderr, "bench_syscall: unknown benchmark %s\n", argv[1]);
    return 2;
  }
  const char *q = getenv("BENCH_QUICK");
  if (q && *q && strcmp(q, "0") != 0) reps = 3;
  return goro_run(bench_main, NULL);
}
