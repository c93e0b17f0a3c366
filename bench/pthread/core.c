/* pthread/core.c - OS-thread counterparts of bench/bench_core.c.
 *
 * Design: each benchmark runs in its own forked child, like the goro and Go
 * versions.  Threads use the default attributes (stack size from
 * RLIMIT_STACK, 8 MiB here), as a program that simply calls
 * pthread_create would.
 *
 *   spawn           create N threads that each count themselves and exit,
 *                   then join them all; wall / N.  (N = 1e4: a million
 *                   threads would not fit in the kernel's thread limit.)
 *   yield           two threads pinned to the same CPU hand a turn back
 *                   and forth through a futex word; ns per switch =
 *                   wall / number of hand-offs.
 *   parked_mem_1e4  (VmRSS + VmPTE) added by N threads blocked on a
 *                   condition variable, / N.  Kernel memory per thread (its
 *                   kernel stack and task struct, ~20 KiB) is not in VmRSS
 *                   and is not counted, which flatters threads.
 */
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#define BENCH_IMPL "pthread"
#include "../bench_util.h"
#include "parked_threads.h"

static bool quick;

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}



static void die(const char *what, int err) {
  fprintf(stderr, "pthread_core: %s: %s\n", what, strerror(err));
  exit(1);
}

/* ---- spawn ---- */

static _Atomic long spawned;

static void *spawn_fn(void *arg) {
  atomic_fetch_add(&spawned, 1);
  return NULL;
}

static void bench_spawn(void) {
  long n = quick ? 2000 : 10000;
  pthread_t *t = malloc(sizeof *t * (size_t)n);
  int64_t t0 = now_ns();
  for (long i = 0; i < n; i++) {
    int e = pthread_create(&t[i], NULL, spawn_fn, NULL);
    if (e) die("pthread_create", e);
  }
  for (long i = 0; i < n; i++) pthread_join(t[i], NULL);
  int64_t t1 = now_ns();
  emit("spawn", "ns_per_op", (double)(t1 - t0) / (double)n);
  free(t);
}

/* ---- yield: futex hand-off between two threads on one CPU ---- */

static _Atomic uint32_t turn;
static long yield_n;

static void futex_wait(_Atomic uint32_t *a, uint32_t v) {
  syscall(SYS_futex, a, FUTEX_WAIT_PRIVATE, v, NULL, NULL, 0);
}
static void futex_wake(_Atomic uint32_t *a) {
  syscall(SYS_futex, a, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static int first_cpu(void) {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) != 0) return 0;
  for (int i = 0; i < CPU_SETSIZE; i++)
    if (CPU_ISSET(i, &set)) return i;
  return 0;
}

static void *yield_fn(void *arg) {
  uint32_t me = (uint32_t)(uintptr_t)arg, other = 1 - me;
  for (long i = 0; i < yield_n; i++) {
    while (atomic_load(&turn) != me) futex_wait(&turn, other);
    atomic_store(&turn, other);
    futex_wake(&turn);
  }
  return NULL;
}

static void bench_yield(void) {
  yield_n = quick ? 20000 : 200000;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(first_cpu(), &set);
  pthread_attr_setaffinity_np(&attr, sizeof set, &set);
  pthread_t a, b;
  int64_t t0 = now_ns();
  int e = pthread_create(&a, &attr, yield_fn, (void *)0);
  if (!e) e = pthread_create(&b, &attr, yield_fn, (void *)1);
  if (e) die("pthread_create", e);
  pthread_join(a, NULL);
  pthread_join(b, NULL);
  int64_t t1 = now_ns();
  pthread_attr_destroy(&attr);
  emit("yield", "ns_per_op", (double)(t1 - t0) / (double)(2 * yield_n));
}

/* ---- parked memory: parked_threads.h ---- */

/* ---- driver ---- */

static const char *const benches[] = {"spawn", "yield", "parked_mem_1e4"};
enum { NBENCH = sizeof benches / sizeof benches[0] };

static void run_one(const char *name) {
  if (!strcmp(name, "spawn")) bench_spawn();
  else if (!strcmp(name, "yield")) bench_yield();
  else if (!strcmp(name, "parked_mem_1e4")) parked_threads_point(name, 10000);
}

static int child_main(void *arg) {
  run_one(arg);
  return 0;
}

int main(int argc, char **argv) {
  const char *q = getenv("BENCH_QUICK");
  quick = q && *q && strcmp(q, "0") != 0;
  if (argc > 1) {
    for (int i = 0; i < NBENCH; i++)
      if (!strcmp(argv[1], benches[i])) {
        run_one(argv[1]);
        fflush(stdout);
        _exit(0);
      }
    fprintf(stderr, "pthread_core: unknown benchmark %s\n", argv[1]);
    return 2;
  }
  int status = 0;
  for (int i = 0; i < NBENCH; i++) {
    status |= run_in_child("pthread_core", benches[i], 120, child_main, (void *)benches[i]);
  }
  return status;
}
