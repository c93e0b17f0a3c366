/* bench_memsweep.c - goro memory per parked goroutine at N = 1e3 ... 1e6.
 *
 * Design: the same measurement as parked_mem_* in bench_core.c (resident
 * bytes = VmRSS + VmPTE added by N goroutines that have run and then block
 * forever, / N), repeated for each N in its own forked child, so a larger N
 * never reuses a smaller one's stacks.  The points feed the memory-vs-N
 * chart next to Go (bench/go/memsweep.go) and threads
 * (bench/pthread/memsweep.c).  Small N are noisy (allocator arenas and the
 * stack region's first page-table pages weigh more), which the chart shows
 * honestly.  The goroutines block in goro_chan_recv on a channel nobody
 * sends to, as Go's do in `<-ch`.  BENCH_QUICK=1 stops at 1e5.
 */
#include <goro.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "bench_util.h"



static goro_waitgroup wg;
static goro_chan *block; /* never sent to */

static void parked_fn(void *arg) {
  goro_waitgroup_done(&wg);
  goro_chan_recv(block, NULL, NULL);
}

typedef struct {
  const char *name;
  long n;
} point_t;

static int run_point(void *arg) {
  const point_t *pt = arg;
  if (goro_chan_make(&block, sizeof(int), 0) != 0) return 1;
  for (int i = 0; i < 4; i++) goro_yield();
  long long before = resident_bytes();
  goro_waitgroup_add(&wg, (int)pt->n);
  for (long i = 0; i < pt->n; i++)
    if (goro_go(parked_fn, NULL) < 0) {
      fprintf(stderr, "bench_memsweep: goro_go failed at %ld\n", i);
      exit(1);
    }
  goro_waitgroup_wait(&wg);
  for (int i = 0; i < 16; i++) goro_yield();
  long long after = resident_bytes();
  emit(pt->name, "bytes_per_g", (double)(after - before) / (double)pt->n);
  return 0;
}

static const point_t points[] = {
    {"parked_mem_1e3", 1000},
    {"parked_mem_1e4", 10000},
    {"parked_mem_1e5", 100000},
    {"parked_mem_1e6", 1000000},
};
enum { NPOINTS = sizeof points / sizeof points[0] };

static int child_main(void *arg) { return goro_run(run_point, arg) < 0 ? 1 : 0; }

int main(int argc, char **argv) {
  const char *q = getenv("BENCH_QUICK");
  bool quick = q && *q && strcmp(q, "0") != 0;
  int status = 0;
  for (int i = 0; i < NPOINTS; i++) {
    if (argc > 1 && strcmp(argv[1], points[i].name) != 0) continue;
    if (argc == 1 && quick && points[i].n > 100000) continue;
    status |= run_in_child("bench_memsweep", points[i].name, quick ? 30 : 120, child_main,
                           (void *)&points[i]);
  }
  return status;
}
