/* pthread/memsweep.c - memory per parked thread at N = 1e3 and 1e4.
 *
 * Design: as bench_memsweep.c, for OS threads with default attributes
 * (8 MiB stacks) blocked on a condition variable; each N in its own forked
 * child.  N stops at 1e4: 1e5 threads exceed the kernel's limits on this
 * kind of machine (threads-max, vm.max_map_count for the stack guards).
 * Kernel memory per thread (kernel stack, task struct) is not in VmRSS and
 * is not counted.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#define BENCH_IMPL "pthread"
#include "../bench_util.h"
#include "parked_threads.h"

typedef struct {
  const char *name;
  long n;
} point_t;

static int child_main(void *arg) {
  const point_t *pt = arg;
  parked_threads_point(pt->name, pt->n);
  return 0;
}

int main(int argc, char **argv) {
  static const point_t points[] = {{"parked_mem_1e3", 1000}, {"parked_mem_1e4", 10000}};
  int status = 0;
  for (size_t i = 0; i < sizeof points / sizeof points[0]; i++) {
    if (argc > 1 && strcmp(argv[1], points[i].name) != 0) continue;
    status |= run_in_child("pthread_memsweep", points[i].name, 120, child_main, (void *)&points[i]);
  }
  return status;
}
