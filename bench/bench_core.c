/* bench_core.c - goro core benchmarks: spawn, yield, parked memory.
 *
 * Design: each benchmark runs in its own forked child process, so one
 * benchmark's recycled G records and cached stacks never flatter the next
 * one (memory results especially).  The Go counterparts (bench/go/core.go)
 * re-execute themselves for the same reason.  Output follows the bench
 * protocol of bench/README.md: one JSON object per line.
 *
 *   spawn           spawn N goroutines from the main goroutine, each one
 *                   counts itself done; wall time until all have run / N.
 *                   Go: `go f()` N times, f calls wg.Done; main wg.Wait().
 *   yield           two goroutines on ONE processor each call goro_yield
 *                   N times; ns per switch = wall / (2N).  The main
 *                   goroutine is parked meanwhile, so exactly two goroutines
 *                   take turns.  Go: GOMAXPROCS(1), runtime.Gosched().
 *   parked_mem_1eK  resident bytes (VmRSS + VmPTE, so page tables count)
 *                   added by N goroutines that have run and then block
 *                   forever, divided by N.
 *
 * The main goroutine waits with a goro_waitgroup and the parked goroutines
 * block in goro_chan_recv on a channel nobody sends to, exactly as the Go
 * version does (sync.WaitGroup, `<-ch`), so the wait record each parked
 * goroutine holds is counted on both sides.
 */
#include <goro.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "bench_util.h"

static bool quick;



/* ---- spawn ---- */

static void spawn_fn(void *arg) { goro_waitgroup_done(arg); }

static void bench_spawn(void) {
  long n = quick ? 100000 : 1000000;
  goro_waitgroup wg = GORO_WAITGROUP_INIT;
  goro_waitgroup_add(&wg, (int)n);
  int64_t t0 = goro_now();
  for (long i = 0; i < n; i++)
    if (goro_go(spawn_fn, &wg) < 0) {
      fprintf(stderr, "bench_core: goro_go failed\n");
      exit(1);
    }
  goro_waitgroup_wait(&wg);
  int64_t t1 = goro_now();
  emit("spawn", "ns_per_op", (double)(t1 - t0) / (double)n);
}

/* ---- yield ---- */

typedef struct {
  long n;
  goro_waitgroup wg;
} yield_arg_t;

static void yield_fn(void *arg) {
  yield_arg_t *a = arg;
  for (long i = 0; i < a->n; i++) goro_yield();
  goro_waitgroup_done(&a->wg);
}

static void bench_yield(void) {
  yield_arg_t a = {quick ? 200000 : 2000000, GORO_WAITGROUP_INIT};
  int prev = goro_maxprocs(1);
  goro_waitgroup_add(&a.wg, 2);
  int64_t t0 = goro_now();
  goro_go(yield_fn, &a);
  goro_go(yield_fn, &a);
  goro_waitgroup_wait(&a.wg);
  int64_t t1 = goro_now();
  goro_maxprocs(prev);
  emit("yield", "ns_per_op", (double)(t1 - t0) / (double)(2 * a.n));
}

/* ---- parked memory ---- */

typedef struct {
  goro_waitgroup wg;
  goro_chan *block; /* never sent to */
} parked_arg_t;

static void parked_fn(void *arg) {
  parked_arg_t *a = arg;
  goro_waitgroup_done(&a->wg);
  goro_chan_recv(a->block, NULL, NULL);
}

static void bench_parked_mem(const char *name, long n) {
  static parked_arg_t a; /* outlives this function: the goroutines never end */
  if (goro_chan_make(&a.block, sizeof(int), 0) != 0) exit(1);
  for (int i = 0; i < 4; i++) goro_yield();
  long long before = resident_bytes();
  goro_waitgroup_add(&a.wg, (int)n);
  for (long i = 0; i < n; i++)
    if (goro_go(parked_fn, &a) < 0) {
      fprintf(stderr, "bench_core: goro_go failed at %ld\n", i);
      exit(1);
    }
  goro_waitgroup_wait(&a.wg);
  for (int i = 0; i < 16; i++) goro_yield(); /* let the last ones finish parking */
  long long after = resident_bytes();
  emit(name, "bytes_per_g", (double)(after - before) / (double)n);
}

/* ---- driver ---- */

typedef struct {
  const char *name;
  bool full_only; /* skipped with BENCH_QUICK=1 */
} bench_t;

static const bench_t benches[] = {
    {"spawn", false},
    {"yield", false},
    {"parked_mem_1e5", false},
    {"parked_mem_1e6", true},
};

static int run_one(void *arg) {
  const char *name = arg;
  if (!strcmp(name, "spawn")) bench_spawn();
  else if (!strcmp(name, "yield")) bench_yield();
  else if (!strcmp(name, "parked_mem_1e5")) bench_parked_mem(name, 100000);
  else if (!strcmp(name, "parked_mem_1e6")) bench_parked_mem(name, 1000000);
  return 0;
}

static bool known(const char *name) {
  for (size_t i = 0; i < sizeof benches / sizeof benches[0]; i++)
    if (!strcmp(benches[i].name, name)) return true;
  return false;
}

static int child_main(void *arg) { return goro_run(run_one, arg) < 0 ? 1 : 0; }

int main(int argc, char **argv) {
  const char *q = getenv("BENCH_QUICK");
  quick = q && *q && strcmp(q, "0") != 0;
  if (argc > 1) {
    if (!known(argv[1])) {
      fprintf(stderr, "bench_core: unknown benchmark %s\n", argv[1]);
      return 2;
    }
    int r = goro_run(run_one, argv[1]);
    fflush(stdout);
    _exit(r < 0 ? 1 : 0); /* skip tearing down a million parked goroutines */
  }
  int status = 0;
  for (size_t i = 0; i < sizeof benches / sizeof benches[0]; i++) {
    if (quick && benches[i].full_only) continue;
    status |= run_in_child("bench_core", benches[i].name, quick ? 30 : 120, child_main,
                           (void *)benches[i].name);
  }
  return status;
}
