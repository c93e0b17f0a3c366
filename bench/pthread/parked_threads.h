/* parked_threads.h - the pthread side of the parked-memory benchmarks
 * (bench/pthread/core.c's parked_mem_1e4, bench/pthread/memsweep.c's
 * sweep): N threads that block for ever on a condition variable, and the
 * resident bytes they added, per thread.  Include after bench_util.h.
 * mu protects `parked`; parked_cv is never signalled. */
#ifndef GORO_BENCH_PARKED_THREADS_H
#define GORO_BENCH_PARKED_THREADS_H

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t parked_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t parked_cv = PTHREAD_COND_INITIALIZER;
static pthread_cond_t parked_count_cv = PTHREAD_COND_INITIALIZER;
static long parked; /* parked_mu */

static void *parked_fn(void *arg) {
  (void)arg;
  pthread_mutex_lock(&parked_mu);
  parked++;
  pthread_cond_signal(&parked_count_cv);
  for (;;) pthread_cond_wait(&parked_cv, &parked_mu);
  return NULL;
}

/* Start n parked threads and emit name's bytes_per_g. */
static void parked_threads_point(const char *name, long n) {
  long long before = resident_bytes();
  for (long i = 0; i < n; i++) {
    pthread_t t;
    int e = pthread_create(&t, NULL, parked_fn, NULL);
    if (e) {
      fprintf(stderr, "%s: pthread_create: %s\n", name, strerror(e));
      exit(1);
    }
    pthread_detach(t);
  }
  pthread_mutex_lock(&parked_mu);
  while (parked < n) pthread_cond_wait(&parked_count_cv, &parked_mu);
  pthread_mutex_unlock(&parked_mu);
  long long after = resident_bytes();
  emit(name, "bytes_per_g", (double)(after - before) / (double)n);
}

#endif
