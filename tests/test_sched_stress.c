/* test_sched_stress.c - the scheduler's fast paths all at once.
 *
 * One test mixes what each has a narrow test for elsewhere: spawning
 * loops (back-pressure yields, a dying goroutine handing its stack to a
 * fresh one, default and custom stack sizes side by side), channel
 * hand-offs that park through the unlocking switch, selects with a
 * channel in two cases run by goroutines locked to their threads, a
 * foreign thread sending, and GOMAXPROCS changing between 1 and 3 while
 * all of it runs.  It checks that every spawned goroutine ran exactly
 * once and that every value a sender got accepted was received once.
 */
#include "runner.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#ifdef __SANITIZE_THREAD__
enum { PER_SPAWNER = 500 }; /* ThreadSanitizer caps live fibers */
#else
enum { PER_SPAWNER = 10000 };
#endif
enum { ROUNDS = 8, SPAWNERS = 4, NCHAN = 4 };

static _Atomic uint8_t *ran;      /* one flag per spawned goroutine */
static _Atomic int64_t ran_count, dup_runs;
static _Atomic int64_t sent, received;
static _Atomic int stop_flag;
static goro_chan *chans[NCHAN];

static void leaf(void *arg) {
  intptr_t i = (intptr_t)arg;
  if (atomic_fetch_add(&ran[i], 1) != 0) atomic_fetch_add(&dup_runs, 1);
  atomic_fetch_add(&ran_count, 1);
}

typedef struct {
  int64_t base;
  int custom;
} spawner_arg;

static void spawner(void *arg) {
  spawner_arg *a = arg;
  goro_opts big = {.stack_size = 128 * 1024};
  for (int64_t i = 0; i < PER_SPAWNER; i++) {
    void *id = (void *)(intptr_t)(a->base + i);
    int64_t r = (a->custom && i % 3 == 0) ? goro_go_opts(leaf, id, &big) : goro_go(leaf, id);
    if (r <= 0) abort();
  }
  free(a);
}

static void sender(void *arg) {
  goro_chan *c = arg;
  while (!atomic_load(&stop_flag)) {
    long v = 1;
    if (goro_chan_send_dl(c, &v, goro_now() + GORO_MILLISECOND) == 0) atomic_fetch_add(&sent, 1);
  }
}

static _Atomic int selectors_done;

static void locked_selector(void *arg) {
  (void)arg;
  if (goro_lock_thread() != 0) abort();
  long v;
  goro_case cs[5] = {GORO_CASE_RECV(chans[0], &v), GORO_CASE_RECV(chans[1], &v),
                     GORO_CASE_RECV(chans[0], &v), GORO_CASE_RECV(chans[2], &v),
                     GORO_CASE_RECV(chans[3], &v)};
  for (;;) {
    int r = goro_select(cs, 5, goro_now() + GORO_MILLISECOND);
    if (r >= 0) {
      atomic_fetch_add(&received, 1);
    } else if (atomic_load(&stop_flag)) {
      break;
    }
  }
  goro_unlock_thread();
  atomic_fetch_add(&selectors_done, 1);
}

static void *foreign_sender(void *arg) {
  (void)arg;
  while (!atomic_load(&stop_flag)) {
    long v = 1;
    if (goro_chan_send_dl(chans[3], &v, goro_now() + GORO_MILLISECOND) == 0)
      atomic_fetch_add(&sent, 1);
  }
  return NULL;
}

static _Atomic int senders_done;
static void counted_sender(void *arg) {
  sender(arg);
  atomic_fetch_add(&senders_done, 1);
}

GTEST_T(sched_mixed_stress, 120000) {
  const int64_t total = (int64_t)ROUNDS * SPAWNERS * PER_SPAWNER;
  ran = calloc((size_t)total, 1);
  ASSERT(ran);
  for (int i = 0; i < NCHAN; i++) ASSERT_OK(goro_chan_make(&chans[i], sizeof(long), i == 2 ? 4 : 0));
  int prev = goro_maxprocs(0);
  for (int i = 0; i < NCHAN; i++) ASSERT_GT(goro_go(counted_sender, chans[i]), 0);
  ASSERT_GT(goro_go(locked_selector, NULL), 0);
  ASSERT_GT(goro_go(locked_selector, NULL), 0);
  pthread_t th;
  ASSERT_OK(pthread_create(&th, NULL, foreign_sender, NULL));

  int64_t base = 0;
  for (int round = 0; round < ROUNDS; round++) {
    for (int s = 0; s < SPAWNERS; s++) {
      spawner_arg *a = malloc(sizeof *a);
      ASSERT(a);
      a->base = base;
      a->custom = s & 1;
      base += PER_SPAWNER;
      ASSERT_GT(goro_go(spawner, a), 0);
    }
    goro_maxprocs(1 + round % 3);
    goro_sleep(3 * GORO_MILLISECOND);
  }
  int64_t dl = goro_now() + 60 * GORO_SECOND;
  while (atomic_load(&ran_count) < total && goro_now() < dl) goro_sleep(GORO_MILLISECOND);

  atomic_store(&stop_flag, 1);
  ASSERT_OK(pthread_join(th, NULL));
  dl = goro_now() + 20 * GORO_SECOND;
  while ((atomic_load(&senders_done) < NCHAN || atomic_load(&selectors_done) < 2) &&
         goro_now() < dl)
    goro_sleep(GORO_MILLISECOND);
  goro_maxprocs(prev);

  ASSERT_EQ(atomic_load(&senders_done), NCHAN);
  ASSERT_EQ(atomic_load(&selectors_done), 2);
  ASSERT_EQ(atomic_load(&dup_runs), 0);
  ASSERT_EQ(atomic_load(&ran_count), total);
  for (int64_t i = 0; i < total; i++)
    if (atomic_load(&ran[i]) != 1)
      test_fail(__FILE__, __LINE__, "goroutine %lld ran %d times", (long long)i,
                (int)atomic_load(&ran[i]));
  /* Unbuffered sends complete only with a receiver; channel 2 holds up
   * to 4 values nobody took after the stop. */
  int64_t s = atomic_load(&sent), r = atomic_load(&received);
  ASSERT_LE(r, s);
  ASSERT_LE(s - r, 4);
  ASSERT_GT(r, 0);
  for (int i = 0; i < NCHAN; i++) goro_chan_release(chans[i]);
  free((void *)ran);
}
