/* bench_mutex.c - contended goro_mutex; Go counterpart in bench/go/mutex.go
 * (sync.Mutex) and thread counterpart in bench/pthread/mutex.c measure the
 * same thing.
 *
 *   mutex_contended  1000 goroutines share one goro_mutex; each does 1000
 *                    lock/counter++/unlock (100 with BENCH_QUICK=1).
 *                    Metric: ns per lock/unlock pair = wall from the
 *                    first spawn to the end of the WaitGroup wait / total
 *                    pairs, at processors = CPU count (as Go's).
 *
 * Optional argument: the bench name.
 */
#include <goro.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { WORKERS = 1000 };

static goro_mutex mu = GORO_MUTEX_INIT;
static goro_waitgroup wg = GORO_WAITGROUP_INIT;
static long counter;
static long per;

static void worker(void *arg) {
  (void)arg;
  long n = per; /* read once, as Go's closure captures it */
  for (long i = 0; i < n; i++) {
    goro_mutex_lock(&mu);
    counter++;
    goro_mutex_unlock(&mu);
  }
  goro_waitgroup_done(&wg);
}

static int bench_main(void *arg) {
  (void)arg;
  const char *q = getenv("BENCH_QUICK");
  per = (q && *q && strcmp(q, "0") != 0) ? 100 : 1000;
  goro_waitgroup_add(&wg, WORKERS);
  int64_t t0 = goro_now();
  for (int i = 0; i < WORKERS; i++) {
    if (goro_go(worker, NULL) <= 0) {
      fprintf(stderr, "bench_mutex: goro_go failed\n");
      return 1;
    }
  }
  goro_waitgroup_wait(&wg);
  int64_t el = goro_now() - t0;
  if (counter != (long)WORKERS * per) {
    fprintf(stderr, "bench_mutex: lost updates: %ld\n", counter);
    return 1;
  }
  printf("{\"bench\":\"mutex_contended\",\"impl\":\"goro\",\"metric\":\"ns_per_op\",\"value\":%.6g}\n",
         (double)el / (double)(WORKERS * per));
  fflush(stdout);
  return 0;
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "mutex_contended") != 0) {
    fprintf(stderr, "bench_mutex: unknown benchmark %s\n", argv[1]);
    return 2;
  }
  int rc = goro_run(bench_main, NULL);
  return rc < 0 ? 1 : rc;
}
