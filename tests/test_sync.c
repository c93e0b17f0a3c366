/* test_sync.c - the sync package: Mutex (exclusion, TryLock, deadlines,
 * starvation mode), RWMutex (sharing, exclusion, writer preference,
 * deadlines), WaitGroup (basic, reuse, deadlines), Once, Cond (no lost
 * wake-ups, broadcast, deadlines), the counting semaphore, foreign
 * threads, and the fatal misuse errors.
 *
 * Contention tests run at 1 and 2 processors (goro_maxprocs at run time).
 * Critical sections use plain (non-atomic) variables on purpose: a broken
 * lock shows up as lost updates, and under TSan as a data race.
 */
#include "runner.h"

#include "../src/sema.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

static int64_t ms(int64_t n) { return n * GORO_MILLISECOND; }

/* Spin a little without any runtime call (a busy critical section). */
static void burn(int n) {
  for (volatile int i = 0; i < n; i++) {
  }
}

static uint32_t mutex_state(goro_mutex *mu) {
  return atomic_load(&((goro__mutex_t *)(void *)mu)->state);
}

/* ------------------------------------------------------------------ */
/* Mutex                                                               */
/* ------------------------------------------------------------------ */

typedef struct {
  goro_mutex mu;
  goro_waitgroup wg;
  long counter;   /* plain: protected by mu */
  int inside;     /* plain: protected by mu */
  int per;
  _Atomic int violations;
} mx_t;

static void mx_worker(void *arg) {
  mx_t *a = arg;
  for (int i = 0; i < a->per; i++) {
    goro_mutex_lock(&a->mu);
    if (a->inside++ != 0) atomic_fetch_add(&a->violations, 1);
    a->counter++;
    if (i % 16 == 0) goro_yield(); /* hold the lock across a reschedule */
    a->inside--;
    goro_mutex_unlock(&a->mu);
  }
  goro_waitgroup_done(&a->wg);
}

GTEST(sync_mutex_exclusion) {
  int per = test_stress() >= 1 ? 2000 : 300;
  for (int procs = 1; procs <= 2; procs++) {
    goro_maxprocs(procs);
    mx_t a;
    memset(&a, 0, sizeof a);
    a.per = per;
    int n = 100;
    goro_waitgroup_add(&a.wg, n);
    for (int i = 0; i < n; i++) ASSERT_GT(goro_go(mx_worker, &a), 0);
    goro_waitgroup_wait(&a.wg);
    ASSERT_EQ(a.counter, (long)n * per);
    ASSERT_EQ(atomic_load(&a.violations), 0);
    ASSERT_EQ(mutex_state(&a.mu), 0); /* quiescent: no lock, waiters, flags */
  }
}

GTEST(sync_mutex_trylock) {
  goro_mutex mu = GORO_MUTEX_INIT;
  ASSERT(goro_mutex_trylock(&mu));
  ASSERT(!goro_mutex_trylock(&mu));
  ASSERT_ERR(goro_mutex_lock_dl(&mu, 0), GORO_ETIMEDOUT);
  goro_mutex_unlock(&mu);
  ASSERT_OK(goro_mutex_lock_dl(&mu, 0));
  ASSERT(!goro_mutex_trylock(&mu));
  goro_mutex_unlock(&mu);
  ASSERT_EQ(mutex_state(&mu), 0);
}

typedef struct {
  goro_mutex mu;
  int64_t deadline;
  _Atomic int rc;
  _Atomic int done;
} dlm_t;

static void dlm_locker(void *arg) {
  dlm_t *a = arg;
  int rc = goro_mutex_lock_dl(&a->mu, a->deadline);
  if (rc == 0) goro_mutex_unlock(&a->mu);
  atomic_store(&a->rc, rc);
  atomic_store(&a->done, 1);
}

GTEST(sync_mutex_lock_dl_timeout) {
  dlm_t a;
  memset(&a, 0, sizeof a);
  goro_mutex_lock(&a.mu);
  int64_t t0 = goro_now();
  a.deadline = t0 + ms(30);
  goro_go(dlm_locker, &a);
  while (!atomic_load(&a.done)) goro_sleep(ms(1));
  ASSERT_ERR(atomic_load(&a.rc), GORO_ETIMEDOUT);
  ASSERT_GE(goro_now() - t0, ms(30));
  ASSERT_LT(goro_now() - t0, ms(2000));
  /* The timed-out waiter left no trace: only LOCKED remains. */
  ASSERT_EQ(mutex_state(&a.mu), MUTEX_LOCKED);
  goro_mutex_unlock(&a.mu);
  ASSERT_EQ(mutex_state(&a.mu), 0);
  /* A deadline that is not reached: the lock arrives first. */
  memset(&a, 0, sizeof a);
  goro_mutex_lock(&a.mu);
  a.deadline = goro_now() + 10 * GORO_SECOND;
  goro_go(dlm_locker, &a);
  goro_sleep(ms(5));
  goro_mutex_unlock(&a.mu);
  while (!atomic_load(&a.done)) goro_sleep(ms(1));
  ASSERT_OK(atomic_load(&a.rc));
  ASSERT_EQ(mutex_state(&a.mu), 0);
}

/* Lockers with short deadlines mixed with plain lockers: timeouts must
 * not corrupt the state word or lose a wake-up (a lost wake-up hangs). */
typedef struct {
  goro_mutex mu;
  goro_waitgroup wg;
  long counter;
  int per;
  _Atomic int timeouts;
} dlmix_t;

static void dlmix_worker(void *arg) {
  dlmix_t *a = arg;
  for (int i = 0; i < a->per; i++) {
    if (i & 1) {
      int rc = goro_mutex_lock_dl(&a->mu, goro_now() + (int64_t)(goro__fastrand() % 50000));
      if (rc != 0) {
        atomic_fetch_add(&a->timeouts, 1);
        continue;
      }
    } else {
      goro_mutex_lock(&a->mu);
    }
    a->counter++;
    burn(200);
    if (i % 8 == 0) goro_yield();
    goro_mutex_unlock(&a->mu);
  }
  goro_waitgroup_done(&a->wg);
}

GTEST(sync_mutex_deadline_stress) {
  for (int procs = 1; procs <= 2; procs++) {
    goro_maxprocs(procs);
    dlmix_t a;
    memset(&a, 0, sizeof a);
    a.per = test_stress() >= 1 ? 2000 : 300;
    int n = 20;
    goro_waitgroup_add(&a.wg, n);
    for (int i = 0; i < n; i++) goro_go(dlmix_worker, &a);
    goro_waitgroup_wait(&a.wg);
    ASSERT_EQ(a.counter + atomic_load(&a.timeouts), (long)n * a.per);
    ASSERT_EQ(mutex_state(&a.mu), 0);
  }
}

/* Fairness: a goroutine that unlocks and at once relocks in a loop must
 * not starve a waiter.  The waiter gets in either in normal mode (its
 * spin catches the unlock, or the hog is preempted right after an
 * unlock) or through starvation mode; either way within a bounded time.
 * sync_mutex_starvation_handoff below checks the mode switch itself. */
typedef struct {
  goro_mutex mu;
  _Atomic int stop;
  _Atomic int hog_running;
  _Atomic int64_t got_after;
  long hog_rounds;
  goro_waitgroup wg;
} starve_t;

static void starve_hog(void *arg) {
  starve_t *a = arg;
  atomic_store(&a->hog_running, 1);
  while (!atomic_load(&a->stop)) {
    goro_mutex_lock(&a->mu);
    /* Hold it for 1.5 ms: a woken waiter almost always finds it held
     * again, and its second failed attempt comes after the 1 ms
     * starvation threshold. */
    int64_t until = goro_now() + 1500 * GORO_MICROSECOND;
    while (goro_now() < until) burn(100);
    a->hog_rounds++;
    goro_mutex_unlock(&a->mu);
  }
  goro_waitgroup_done(&a->wg);
}

static void starve_waiter(void *arg) {
  starve_t *a = arg;
  while (!atomic_load(&a->hog_running)) goro_yield();
  int64_t t0 = goro_now();
  goro_mutex_lock(&a->mu);
  atomic_store(&a->got_after, goro_now() - t0);
  goro_mutex_unlock(&a->mu);
  atomic_store(&a->stop, 1);
  goro_waitgroup_done(&a->wg);
}

GTEST(sync_mutex_starvation_mode) {
  for (int procs = 1; procs <= 2; procs++) {
    goro_maxprocs(procs);
    starve_t a;
    memset(&a, 0, sizeof a);
    atomic_store(&a.got_after, -1);
    goro_waitgroup_add(&a.wg, 2); /* the hog and the waiter */
    goro_go(starve_hog, &a);
    goro_go(starve_waiter, &a);
    int64_t limit = goro_now() + GORO_SECOND;
    while (!atomic_load(&a.stop) && goro_now() < limit) goro_sleep(ms(1));
    int64_t got = atomic_load(&a.got_after);
    atomic_store(&a.stop, 1);
    ASSERT_GE(got, 0); /* the waiter got the lock within 1 s */
    ASSERT_LT(got, GORO_SECOND);
    /* The hog saw stop, and the waiter is done with a (it may still be
     * finishing when the 1 s limit above ran out). */
    goro_waitgroup_wait(&a.wg);
    ASSERT_GT(a.hog_rounds, 0);
    ASSERT_EQ(mutex_state(&a.mu), 0);
  }
}

/* The starvation state machine, step by step: a waiter that has waited
 * more than 1 ms and loses once more to a barging locker switches the
 * mutex to starvation mode, and the next unlock hands the lock to it. */
typedef struct {
  goro_mutex mu;
  _Atomic int got;
} sh_t;

static void sh_waiter(void *arg) {
  sh_t *a = arg;
  goro_mutex_lock(&a->mu);
  atomic_store(&a->got, 1);
  goro_mutex_unlock(&a->mu);
}

GTEST(sync_mutex_starvation_handoff) {
  for (int procs = 1; procs <= 2; procs++) {
    goro_maxprocs(procs);
    bool seen = false;
    /* With two processors the woken waiter may run in parallel and win
     * the race against our relock; then try again. */
    for (int tries = 0; tries < 50 && !seen; tries++) {
      sh_t a;
      memset(&a, 0, sizeof a);
      goro_mutex_lock(&a.mu);
      goro_go(sh_waiter, &a);
      while ((mutex_state(&a.mu) >> MUTEX_WAITER_SHIFT) == 0) goro_yield();
      goro_sleep(ms(2));        /* its wait passes the 1 ms threshold */
      goro_mutex_unlock(&a.mu); /* wakes it in normal mode */
      goro_mutex_lock(&a.mu);   /* and we barge in before it runs */
      int64_t limit = goro_now() + GORO_SECOND;
      while (!(mutex_state(&a.mu) & MUTEX_STARVING) && !atomic_load(&a.got) &&
             goro_now() < limit)
        goro_yield();
      seen = (mutex_state(&a.mu) & MUTEX_STARVING) != 0;
      goro_mutex_unlock(&a.mu); /* starving: a direct handoff */
      while (!atomic_load(&a.got)) goro_yield();
      while (mutex_state(&a.mu) != 0) goro_yield(); /* it unlocked; mode over */
    }
    ASSERT(seen);
  }
}

/* ------------------------------------------------------------------ */
/* RWMutex                                                             */
/* ------------------------------------------------------------------ */

typedef struct {
  goro_rwmutex rw;
  goro_waitgroup wg;
  _Atomic int readers;
  _Atomic int max_readers;
  _Atomic int writers;
  _Atomic int violations;
  _Atomic int release;
  long data;
  int per;
} rw_t;

static void rw_share_reader(void *arg) {
  rw_t *a = arg;
  goro_rwmutex_rlock(&a->rw);
  int n = atomic_fetch_add(&a->readers, 1) + 1;
  int m = atomic_load(&a->max_readers);
  while (n > m && !atomic_compare_exchange_weak(&a->max_readers, &m, n)) {
  }
  while (!atomic_load(&a->release)) goro_yield();
  atomic_fetch_sub(&a->readers, 1);
  goro_rwmutex_runlock(&a->rw);
  goro_waitgroup_done(&a->wg);
}

GTEST(sync_rwmutex_readers_share) {
  for (int procs = 1; procs <= 2; procs++) {
    goro_maxprocs(procs);
    rw_t a;
    memset(&a, 0, sizeof a);
    goro_waitgroup_add(&a.wg, 10);
    for (int i = 0; i < 10; i++) goro_go(rw_share_reader, &a);
    int64_t limit = goro_now() + 5 * GORO_SECOND;
    while (atomic_load(&a.max_readers) < 10 && goro_now() < limit) goro_yield();
    ASSERT_EQ(atomic_load(&a.max_readers), 10);
    /* A writer cannot get in while they read. */
    ASSERT_ERR(goro_rwmutex_lock_dl(&a.rw, 0), GORO_ETIMEDOUT);
    ASSERT_ERR(goro_rwmutex_lock_dl(&a.rw, goro_now() + ms(20)), GORO_ETIMEDOUT);
    /* The timed-out writer's claim lasts until the readers it waited for
     * have left (the last one ends it), so new readers still wait. */
    ASSERT_ERR(goro_rwmutex_rlock_dl(&a.rw, 0), GORO_ETIMEDOUT);
    atomic_store(&a.release, 1);
    goro_waitgroup_wait(&a.wg);
    ASSERT_OK(goro_rwmutex_rlock_dl(&a.rw, 0));
    goro_rwmutex_runlock(&a.rw);
    ASSERT_OK(goro_rwmutex_lock_dl(&a.rw, 0));
    ASSERT_ERR(goro_rwmutex_rlock_dl(&a.rw, 0), GORO_ETIMEDOUT);
    goro_rwmutex_unlock(&a.rw);
  }
}

static void rw_mixed_worker(void *arg) {
  rw_t *a = arg;
  for (int i = 0; i < a->per; i++) {
    bool timed = (goro__fastrand() % 4) == 0;
    int64_t dl = timed ? goro_now() + (int64_t)(goro__fastrand() % 100000) : GORO_FOREVER;
    if (i % 5 == 0) {
      if (goro_rwmutex_lock_dl(&a->rw, dl) != 0) continue;
      if (atomic_fetch_add(&a->writers, 1) != 0 || atomic_load(&a->readers) != 0)
        atomic_fetch_add(&a->violations, 1);
      a->data++;
      if (i % 3 == 0) goro_yield();
      atomic_fetch_sub(&a->writers, 1);
      goro_rwmutex_unlock(&a->rw);
    } else {
      if (goro_rwmutex_rlock_dl(&a->rw, dl) != 0) continue;
      atomic_fetch_add(&a->readers, 1);
      if (atomic_load(&a->writers) != 0) atomic_fetch_add(&a->violations, 1);
      long d = a->data;
      burn(100);
      if (i % 7 == 0) goro_yield();
      if (a->data != d) atomic_fetch_add(&a->violations, 1);
      atomic_fetch_sub(&a->readers, 1);
      goro_rwmutex_runlock(&a->rw);
    }
  }
  goro_waitgroup_done(&a->wg);
}

GTEST(sync_rwmutex_exclusion_with_deadlines) {
  for (int procs = 1; procs <= 2; procs++) {
    goro_maxprocs(procs);
    rw_t a;
    memset(&a, 0, sizeof a);
    a.per = test_stress() >= 1 ? 3000 : 500;
    goro_waitgroup_add(&a.wg, 16);
    for (int i = 0; i < 16; i++) goro_go(rw_mixed_worker, &a);
    goro_waitgroup_wait(&a.wg);
    ASSERT_EQ(atomic_load(&a.violations), 0);
    /* Quiescent again: both kinds of lock are free. */
    ASSERT_OK(goro_rwmutex_lock_dl(&a.rw, 0));
    goro_rwmutex_unlock(&a.rw);
    ASSERT_OK(goro_rwmutex_rlock_dl(&a.rw, 0));
    goro_rwmutex_runlock(&a.rw);
  }
}

typedef struct {
  goro_rwmutex rw;
  _Atomic int step;
  _Atomic int writer_done;
  _Atomic int reader2_done;
  _Atomic int order;   /* 1 = writer first, 2 = reader2 first */
} pref_t;

static void pref_writer(void *arg) {
  pref_t *a = arg;
  atomic_store(&a->step, 1);
  goro_rwmutex_lock(&a->rw);
  int z = 0;
  atomic_compare_exchange_strong(&a->order, &z, 1);
  goro_rwmutex_unlock(&a->rw);
  atomic_store(&a->writer_done, 1);
}

static void pref_reader2(void *arg) {
  pref_t *a = arg;
  goro_rwmutex_rlock(&a->rw);
  int z = 0;
  atomic_compare_exchange_strong(&a->order, &z, 2);
  goro_rwmutex_runlock(&a->rw);
  atomic_store(&a->reader2_done, 1);
}

GTEST(sync_rwmutex_writer_preference) {
  pref_t a;
  memset(&a, 0, sizeof a);
  goro_rwmutex_rlock(&a.rw); /* reader 1: us */
  goro_go(pref_writer, &a);
  while (!atomic_load(&a.step)) goro_yield();
  goro_sleep(ms(10)); /* the writer is now queued behind us */
  ASSERT(!atomic_load(&a.writer_done));
  /* A pending writer blocks new readers. */
  ASSERT_ERR(goro_rwmutex_rlock_dl(&a.rw, 0), GORO_ETIMEDOUT);
  ASSERT_ERR(goro_rwmutex_rlock_dl(&a.rw, goro_now() + ms(20)), GORO_ETIMEDOUT);
  goro_go(pref_reader2, &a);
  goro_sleep(ms(10));
  ASSERT(!atomic_load(&a.reader2_done));
  goro_rwmutex_runlock(&a.rw);
  while (!atomic_load(&a.writer_done) || !atomic_load(&a.reader2_done)) goro_sleep(ms(1));
  ASSERT_EQ(atomic_load(&a.order), 1);
}

/* A writer whose deadline passes while readers hold the lock: the last
 * reader finishes its session, and new readers then get in. */
typedef struct {
  goro_rwmutex rw;
  _Atomic int rc;
  _Atomic int done;
} wdl_t;

static void wdl_writer(void *arg) {
  wdl_t *a = arg;
  atomic_store(&a->rc, goro_rwmutex_lock_dl(&a->rw, goro_now() + ms(20)));
  atomic_store(&a->done, 1);
}

GTEST(sync_rwmutex_writer_deadline_abandon) {
  wdl_t a;
  memset(&a, 0, sizeof a);
  goro_rwmutex_rlock(&a.rw);
  goro_go(wdl_writer, &a);
  while (!atomic_load(&a.done)) goro_sleep(ms(1));
  ASSERT_ERR(atomic_load(&a.rc), GORO_ETIMEDOUT);
  goro_rwmutex_runlock(&a.rw); /* completes the abandoned writer session */
  ASSERT_OK(goro_rwmutex_rlock_dl(&a.rw, 0));
  goro_rwmutex_runlock(&a.rw);
  ASSERT_OK(goro_rwmutex_lock_dl(&a.rw, 0));
  goro_rwmutex_unlock(&a.rw);
}

/* ------------------------------------------------------------------ */
/* WaitGroup                                                           */
/* ------------------------------------------------------------------ */

typedef struct {
  goro_waitgroup wg;
  _Atomic int count;
} wgt_t;

static void wg_worker(void *arg) {
  wgt_t *a = arg;
  if (goro__fastrand() & 1) goro_yield();
  atomic_fetch_add(&a->count, 1);
  goro_waitgroup_done(&a->wg);
}

GTEST(sync_waitgroup_basic) {
  wgt_t a;
  memset(&a, 0, sizeof a);
  goro_waitgroup_wait(&a.wg); /* counter 0: returns at once */
  ASSERT_OK(goro_waitgroup_wait_dl(&a.wg, 0));
  goro_waitgroup_add(&a.wg, 100);
  for (int i = 0; i < 100; i++) goro_go(wg_worker, &a);
  goro_waitgroup_wait(&a.wg);
  ASSERT_EQ(atomic_load(&a.count), 100);
}

typedef struct {
  goro_waitgroup *wg;
  goro_waitgroup *done;
} wgw_t;

static void wg_waiter(void *arg) {
  wgw_t *a = arg;
  goro_waitgroup_wait(a->wg);
  goro_waitgroup_done(a->done);
}

GTEST(sync_waitgroup_reuse) {
  int rounds = test_stress() >= 2 ? 5000 : test_stress() >= 1 ? 300 : 100;
  for (int procs = 1; procs <= 2; procs++) {
    goro_maxprocs(procs);
    wgt_t a;
    memset(&a, 0, sizeof a);
    for (int r = 0; r < rounds; r++) {
      /* Several waiters per round, then the next round starts only after
       * every waiter returned. */
      goro_waitgroup done = GORO_WAITGROUP_INIT;
      wgw_t w = {&a.wg, &done};
      goro_waitgroup_add(&a.wg, 4);
      goro_waitgroup_add(&done, 3);
      for (int i = 0; i < 3; i++) goro_go(wg_waiter, &w);
      for (int i = 0; i < 4; i++) goro_go(wg_worker, &a);
      goro_waitgroup_wait(&a.wg);
      goro_waitgroup_wait(&done);
      ASSERT_EQ(atomic_load(&a.count), 4 * (r + 1));
    }
  }
}

static void wg_late_done(void *arg) {
  goro_sleep(ms(50));
  goro_waitgroup_done(arg);
}

GTEST(sync_waitgroup_wait_dl) {
  goro_waitgroup wg = GORO_WAITGROUP_INIT;
  goro_waitgroup_add(&wg, 1);
  ASSERT_ERR(goro_waitgroup_wait_dl(&wg, 0), GORO_ETIMEDOUT);
  int64_t t0 = goro_now();
  ASSERT_ERR(goro_waitgroup_wait_dl(&wg, t0 + ms(20)), GORO_ETIMEDOUT);
  ASSERT_GE(goro_now() - t0, ms(20));
  /* The timed-out waiter is no longer counted: Done ends the round and a
   * fresh round works. */
  goro_go(wg_late_done, &wg);
  ASSERT_OK(goro_waitgroup_wait_dl(&wg, goro_now() + 10 * GORO_SECOND));
  goro_waitgroup_add(&wg, 1);
  goro_waitgroup_done(&wg);
  goro_waitgroup_wait(&wg);
}

/* ------------------------------------------------------------------ */
/* Once                                                                */
/* ------------------------------------------------------------------ */

typedef struct {
  goro_once once;
  goro_waitgroup wg;
  _Atomic int calls;
  int value;          /* written by fn only, plain */
  _Atomic int bad;
} oncet_t;

static void once_fn(void *arg) {
  oncet_t *a = arg;
  atomic_fetch_add(&a->calls, 1);
  goro_sleep(ms(10)); /* others must wait, not return early */
  a->value = 42;
}

static void once_caller(void *arg) {
  oncet_t *a = arg;
  goro_once_do(&a->once, once_fn, a);
  if (a->value != 42) atomic_fetch_add(&a->bad, 1);
  goro_waitgroup_done(&a->wg);
}

GTEST(sync_once_concurrent) {
  for (int procs = 1; procs <= 2; procs++) {
    goro_maxprocs(procs);
    oncet_t a;
    memset(&a, 0, sizeof a);
    goro_waitgroup_add(&a.wg, 50);
    for (int i = 0; i < 50; i++) goro_go(once_caller, &a);
    goro_waitgroup_wait(&a.wg);
    ASSERT_EQ(atomic_load(&a.calls), 1);
    ASSERT_EQ(atomic_load(&a.bad), 0);
    goro_once_do(&a.once, once_fn, &a);
    ASSERT_EQ(atomic_load(&a.calls), 1);
  }
}

/* ------------------------------------------------------------------ */
/* Cond                                                                */
/* ------------------------------------------------------------------ */

/* Ping-pong through one cond: every Signal must reach the other side, or
 * the test hangs. */
typedef struct {
  goro_mutex mu;
  goro_cond cv;
  int turn;    /* mu */
  int rounds;
  goro_waitgroup wg;
} pp_t;

static void pp_side(void *arg, int me) {
  pp_t *a = arg;
  for (int i = 0; i < a->rounds; i++) {
    goro_mutex_lock(&a->mu);
    while (a->turn != me) goro_cond_wait(&a->cv, &a->mu);
    a->turn = 1 - me;
    goro_cond_signal(&a->cv);
    goro_mutex_unlock(&a->mu);
  }
  goro_waitgroup_done(&a->wg);
}
static void pp_0(void *arg) { pp_side(arg, 0); }
static void pp_1(void *arg) { pp_side(arg, 1); }

GTEST(sync_cond_signal_pingpong) {
  for (int procs = 1; procs <= 2; procs++) {
    goro_maxprocs(procs);
    pp_t a;
    memset(&a, 0, sizeof a);
    a.rounds = test_stress() >= 1 ? 20000 : 2000;
    goro_waitgroup_add(&a.wg, 2);
    goro_go(pp_0, &a);
    goro_go(pp_1, &a);
    goro_waitgroup_wait(&a.wg);
  }
}

/* Producer/consumers on a bounded counter: Signal per item, many waiters,
 * some with deadlines; every item is consumed exactly once. */
typedef struct {
  goro_mutex mu;
  goro_cond cv;
  int items;       /* mu */
  int consumed;    /* mu */
  int total;
  bool closed;     /* mu */
  goro_waitgroup wg;
} pc_t;

static void pc_consumer(void *arg) {
  pc_t *a = arg;
  goro_mutex_lock(&a->mu);
  for (;;) {
    while (a->items == 0 && !a->closed) {
      if (goro__fastrand() & 1)
        goro_cond_wait(&a->cv, &a->mu);
      else
        (void)goro_cond_wait_dl(&a->cv, &a->mu, goro_now() + (int64_t)(goro__fastrand() % 200000));
    }
    if (a->items == 0) break;
    a->items--;
    a->consumed++;
  }
  goro_mutex_unlock(&a->mu);
  goro_waitgroup_done(&a->wg);
}

GTEST(sync_cond_signal_no_lost_wakeups) {
  for (int procs = 1; procs <= 2; procs++) {
    goro_maxprocs(procs);
    pc_t a;
    memset(&a, 0, sizeof a);
    a.total = test_stress() >= 1 ? 50000 : 5000;
    goro_waitgroup_add(&a.wg, 8);
    for (int i = 0; i < 8; i++) goro_go(pc_consumer, &a);
    for (int i = 0; i < a.total; i++) {
      goro_mutex_lock(&a.mu);
      a.items++;
      goro_mutex_unlock(&a.mu);
      goro_cond_signal(&a.cv);
      if (i % 64 == 0) goro_yield();
    }
    /* Drain: wait until consumed, relying on the signals alone. */
    int64_t limit = goro_now() + 20 * GORO_SECOND;
    for (;;) {
      goro_mutex_lock(&a.mu);
      int c = a.consumed;
      goro_mutex_unlock(&a.mu);
      if (c == a.total) break;
      ASSERT_LT(goro_now(), limit);
      goro_sleep(ms(1));
    }
    goro_mutex_lock(&a.mu);
    a.closed = true;
    goro_mutex_unlock(&a.mu);
    goro_cond_broadcast(&a.cv);
    goro_waitgroup_wait(&a.wg);
    ASSERT_EQ(a.consumed, a.total);
  }
}

typedef struct {
  goro_mutex mu;
  goro_cond cv;
  bool go;          /* mu */
  int waiting;      /* mu */
  _Atomic int woke;
  goro_waitgroup wg;
} bc_t;

static void bc_waiter(void *arg) {
  bc_t *a = arg;
  goro_mutex_lock(&a->mu);
  a->waiting++;
  while (!a->go) goro_cond_wait(&a->cv, &a->mu);
  goro_mutex_unlock(&a->mu);
  atomic_fetch_add(&a->woke, 1);
  goro_waitgroup_done(&a->wg);
}

GTEST(sync_cond_broadcast) {
  bc_t a;
  memset(&a, 0, sizeof a);
  goro_waitgroup_add(&a.wg, 100);
  for (int i = 0; i < 100; i++) goro_go(bc_waiter, &a);
  for (;;) {
    goro_mutex_lock(&a.mu);
    int w = a.waiting;
    goro_mutex_unlock(&a.mu);
    if (w == 100) break;
    goro_sleep(ms(1));
  }
  goro_mutex_lock(&a.mu);
  a.go = true;
  goro_cond_broadcast(&a.cv);
  goro_mutex_unlock(&a.mu);
  goro_waitgroup_wait(&a.wg);
  ASSERT_EQ(atomic_load(&a.woke), 100);
}

GTEST(sync_cond_wait_dl) {
  goro_mutex mu = GORO_MUTEX_INIT;
  goro_cond cv = GORO_COND_INIT;
  goro_mutex_lock(&mu);
  ASSERT_ERR(goro_cond_wait_dl(&cv, &mu, 0), GORO_ETIMEDOUT);
  ASSERT(!goro_mutex_trylock(&mu)); /* relocked */
  int64_t t0 = goro_now();
  ASSERT_ERR(goro_cond_wait_dl(&cv, &mu, t0 + ms(20)), GORO_ETIMEDOUT);
  ASSERT_GE(goro_now() - t0, ms(20));
  ASSERT(!goro_mutex_trylock(&mu));
  goro_mutex_unlock(&mu);
  /* Nobody left on the list: a signal now is a no-op. */
  goro_cond_signal(&cv);
  goro_cond_broadcast(&cv);
}

/* ------------------------------------------------------------------ */
/* Counting semaphore                                                  */
/* ------------------------------------------------------------------ */

GTEST(sync_sema_counting) {
  goro_sema s = GORO_SEMA_INIT(3);
  ASSERT(goro_sema_tryacquire(&s));
  ASSERT(goro_sema_tryacquire(&s));
  ASSERT(goro_sema_tryacquire(&s));
  ASSERT(!goro_sema_tryacquire(&s));
  ASSERT_ERR(goro_sema_acquire_dl(&s, 0), GORO_ETIMEDOUT);
  int64_t t0 = goro_now();
  ASSERT_ERR(goro_sema_acquire_dl(&s, t0 + ms(20)), GORO_ETIMEDOUT);
  ASSERT_GE(goro_now() - t0, ms(20));
  goro_sema_release(&s);
  ASSERT_OK(goro_sema_acquire_dl(&s, goro_now() + ms(20)));
  goro_sema z;
  memset(&z, 0, sizeof z);
  ASSERT(!goro_sema_tryacquire(&z));
}

typedef struct {
  goro_sema s;
  goro_waitgroup wg;
  _Atomic int inside;
  _Atomic int max_inside;
  int per;
} semt_t;

static void sem_worker(void *arg) {
  semt_t *a = arg;
  for (int i = 0; i < a->per; i++) {
    if (i & 1) {
      if (goro_sema_acquire_dl(&a->s, goro_now() + (int64_t)(goro__fastrand() % 100000)) != 0)
        continue;
    } else {
      goro_sema_acquire(&a->s);
    }
    int n = atomic_fetch_add(&a->inside, 1) + 1;
    int m = atomic_load(&a->max_inside);
    while (n > m && !atomic_compare_exchange_weak(&a->max_inside, &m, n)) {
    }
    if (i % 3 == 0) goro_yield();
    atomic_fetch_sub(&a->inside, 1);
    goro_sema_release(&a->s);
  }
  goro_waitgroup_done(&a->wg);
}

GTEST(sync_sema_limits_concurrency) {
  for (int procs = 1; procs <= 2; procs++) {
    goro_maxprocs(procs);
    semt_t a;
    memset(&a, 0, sizeof a);
    goro_sema init = GORO_SEMA_INIT(3);
    a.s = init;
    a.per = test_stress() >= 1 ? 2000 : 300;
    goro_waitgroup_add(&a.wg, 20);
    for (int i = 0; i < 20; i++) goro_go(sem_worker, &a);
    goro_waitgroup_wait(&a.wg);
    ASSERT_LE(atomic_load(&a.max_inside), 3);
    ASSERT_GE(atomic_load(&a.max_inside), 1);
    /* All three units are back. */
    for (int i = 0; i < 3; i++) ASSERT(goro_sema_tryacquire(&a.s));
    ASSERT(!goro_sema_tryacquire(&a.s));
  }
}

/* ------------------------------------------------------------------ */
/* Foreign threads                                                     */
/* ------------------------------------------------------------------ */

typedef struct {
  goro_mutex mu;
  goro_waitgroup wg;     /* goroutines + thread done */
  goro_waitgroup start;  /* the thread waits on this for the goroutines */
  long counter;          /* mu */
  int per;
} ft_t;

static void ft_goroutine(void *arg) {
  ft_t *a = arg;
  for (int i = 0; i < a->per; i++) {
    goro_mutex_lock(&a->mu);
    a->counter++;
    if (i % 10 == 0) goro_yield();
    goro_mutex_unlock(&a->mu);
  }
  goro_waitgroup_done(&a->start);
  goro_waitgroup_done(&a->wg);
}

static void *ft_thread(void *arg) {
  ft_t *a = arg;
  for (int i = 0; i < a->per; i++) {
    goro_mutex_lock(&a->mu);
    a->counter++;
    goro_mutex_unlock(&a->mu);
  }
  goro_waitgroup_wait(&a->start); /* a foreign thread blocks on a WaitGroup */
  goro_waitgroup_done(&a->wg);
  return NULL;
}

GTEST(sync_foreign_thread) {
  ft_t a;
  memset(&a, 0, sizeof a);
  a.per = test_stress() >= 1 ? 20000 : 3000;
  goro_waitgroup_add(&a.wg, 5);
  goro_waitgroup_add(&a.start, 4);
  pthread_t t;
  ASSERT_OK(pthread_create(&t, NULL, ft_thread, &a));
  for (int i = 0; i < 4; i++) goro_go(ft_goroutine, &a);
  goro_waitgroup_wait(&a.wg);
  pthread_join(t, NULL);
  ASSERT_EQ(a.counter, 5L * a.per);
  ASSERT_EQ(mutex_state(&a.mu), 0);
}

/* A foreign thread holds the mutex while goroutines queue on it; a
 * deadline on the thread's side also works. */
static void *ft_holder(void *arg) {
  dlm_t *a = arg;
  goro_mutex_lock(&a->mu);
  struct timespec ts = {0, 30 * 1000 * 1000};
  nanosleep(&ts, NULL);
  goro_mutex_unlock(&a->mu);
  /* Timed lock from the thread against a goroutine holder. */
  while (!atomic_load(&a->done)) sched_yield();
  atomic_store(&a->rc, goro_mutex_lock_dl(&a->mu, goro_now() + ms(20)));
  return NULL;
}

GTEST(sync_foreign_thread_holder) {
  dlm_t a;
  memset(&a, 0, sizeof a);
  pthread_t t;
  ASSERT_OK(pthread_create(&t, NULL, ft_holder, &a));
  while (mutex_state(&a.mu) == 0) goro_yield();
  goro_mutex_lock(&a.mu); /* parks until the thread unlocks */
  atomic_store(&a.done, 1);
  goro_sleep(ms(60));
  goro_mutex_unlock(&a.mu);
  pthread_join(t, NULL);
  ASSERT_ERR(atomic_load(&a.rc), GORO_ETIMEDOUT);
  ASSERT_EQ(mutex_state(&a.mu), 0);
}

/* ------------------------------------------------------------------ */
/* Fatal misuse                                                        */
/* ------------------------------------------------------------------ */

CRASH_TEST(sync_crash_unlock_unlocked_mutex, "goro: fatal error: sync: unlock of unlocked mutex", 2) {
  goro_mutex mu = GORO_MUTEX_INIT;
  goro_mutex_lock(&mu);
  goro_mutex_unlock(&mu);
  goro_mutex_unlock(&mu);
}

CRASH_TEST(sync_crash_negative_waitgroup, "goro: fatal error: sync: negative WaitGroup counter", 2) {
  goro_waitgroup wg = GORO_WAITGROUP_INIT;
  goro_waitgroup_add(&wg, 1);
  goro_waitgroup_done(&wg);
  goro_waitgroup_done(&wg);
}

CRASH_TEST(sync_crash_runlock_unlocked, "goro: fatal error: sync: RUnlock of unlocked RWMutex", 2) {
  goro_rwmutex rw = GORO_RWMUTEX_INIT;
  goro_rwmutex_rlock(&rw);
  goro_rwmutex_runlock(&rw);
  goro_rwmutex_runlock(&rw);
}

CRASH_TEST(sync_crash_unlock_unlocked_rwmutex, "goro: fatal error: sync: Unlock of unlocked RWMutex", 2) {
  goro_rwmutex rw = GORO_RWMUTEX_INIT;
  goro_rwmutex_unlock(&rw);
}
