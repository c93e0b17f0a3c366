/* pthread/mutex.c - thread counterpart of bench/bench_mutex.c.
 *
 * mutex_contended: 1000 threads (default attributes) share one
 * pthread_mutex_t; each does 1000 lock/counter++/unlock (100 with
 * BENCH_QUICK=1), as the goroutine versions do.  All threads start
 * together behind a barrier (thread creation is not timed).  Metric: ns per lock/unlock pair = wall from
 * the barrier's release to the last join / total pairs.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { WORKERS = 1000 };

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t start;
static long counter;
static long per;

static void *worker(void *arg) {
  pthread_barrier_wait(&start);
  for (long i = 0; i < per; i++) {
    pthread_mutex_lock(&mu);
    counter++;
    pthread_mutex_unlock(&mu);
  }
  return NULL;
}

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "mutex_contended") != 0) {
    fprintf(stderr, "pthread_mutex: unknown benchmark %s\n", argv[1]);
    return 2;
  }
  const char *q = getenv("BENCH_QUICK");
  per = (q && *q && strcmp(q, "0") != 0) ? 100 : 1000;
  static pthread_t t[WORKERS];
  pthread_barrier_init(&start, NULL, WORKERS + 1);
  for (int i = 0; i < WORKERS; i++)
    if (pthread_create(&t[i], NULL, worker, NULL) != 0) {
      fprintf(stderr, "pthread_mutex: pthread_create failed\n");
      return 1;
    }
  pthread_barrier_wait(&start);
  long long t0 = now_ns();
  for (int i = 0; i < WORKERS; i++) pthread_join(t[i], NULL);
  long long t1 = now_ns();
  if (counter != WORKERS * per) {
    fprintf(stderr, "pthread_mutex: lost updates: %ld\n", counter);
    return 1;
  }
  printf("{\"bench\":\"mutex_contended\",\"impl\":\"pthread\",\"metric\":\"ns_per_op\",\"value\":%.6g}\n",
         (double)(t1 - t0) / (double)(WORKERS * per));
  return 0;
}
