/* park.c - the narrow waist: the one way to block and to wake a goroutine.
 *
 * Design: goro__park records why the goroutine waits, switches to the
 * M's scheduler stack, and only there runs the caller's commit callback
 * (Go's gopark/park_m).  The commit typically releases the lock that
 * guards the wait queue the goroutine was just put on; because it runs
 * after the goroutine's context is fully saved, a waker that finds the
 * goroutine on the queue can never resume a half-switched goroutine.
 * goro__ready marks a parked goroutine runnable and puts it in the
 * waker's runnext slot, so it runs next on the waker's P with the rest of
 * the waker's time slice.
 *
 * Foreign threads (not running goroutines) get a pseudo-G per thread, so
 * channel and sync code can queue them like any goroutine; parking one
 * blocks its thread on a futex and readying it wakes the futex.  While such
 * threads exist the deadlock detector stays quiet, since it cannot know
 * what they will do.
 *
 * Invariants: status goes RUNNING -> WAITING on the scheduler stack before
 * commit runs; ready requires WAITING (anything else is a runtime bug and
 * throws).
 */
#include "sstack.h"
#include "sched.h"

#include "ready.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

const char *goro__waitreason_str(int wr) {
  static const char *const names[] = {
#define GORO_XX_WRS(name, str) str,
      GORO_WAITREASON_MAP(GORO_XX_WRS)
#undef GORO_XX_WRS
  };
  if (wr < 0 || wr >= WR__COUNT) return "unknown";
  return names[wr];
}

/* Cheap clock for wait-since stamps: the monitor refreshes it every tick
 * (at most 10 ms stale), which is plenty for "N minutes" in dumps and the
 * partial-deadlock threshold, and costs one load instead of a clock read
 * on every park. */
static inline int64_t coarse_now(void) {
  return atomic_load_explicit(&goro__sched.coarsetime, memory_order_relaxed);
}

static pthread_key_t ext_key;
static pthread_once_t ext_once = PTHREAD_ONCE_INIT;

static void ext_destroy(void *arg) {
  g_t *g = arg;
  atomic_fetch_sub(&goro__sched.foreign_users, 1);
  free(g);
}

static void ext_key_make(void) { pthread_key_create(&ext_key, ext_destroy); }

g_t *goro__curg_or_external(void) {
  m_t *m = goro__getm();
  if (m && m->curg) return m->curg;
  pthread_once(&ext_once, ext_key_make);
  g_t *g = pthread_getspecific(ext_key);
  if (!g) {
    g = calloc(1, sizeof *g);
    if (!g) goro__fatal("out of memory for a foreign thread's wait record");
    g->external = 1;
    atomic_store(&g->status, G_RUNNING);
    pthread_setspecific(ext_key, g);
    atomic_fetch_add(&goro__sched.foreign_users, 1);
  }
  return g;
}

static void park_external(g_t *g, int reason, goro__commit_fn commit, void *arg) {
  atomic_store_explicit(&g->waitreason, (uint8_t)reason, memory_order_relaxed);
  atomic_store_explicit(&g->waitsince, coarse_now(), memory_order_relaxed);
  atomic_store(&g->ext_wake, 0);
  atomic_store(&g->status, G_WAITING);
  if (commit && !commit(g, arg)) {
    atomic_store(&g->status, G_RUNNING);
    return;
  }
  while (atomic_load(&g->ext_wake) == 0) goro__futex_wait(&g->ext_wake, 0, -1);
  atomic_store(&g->status, G_RUNNING);
}

static NOINLINE void park_foreign(int reason, goro__commit_fn commit, void *arg) {
  park_external(goro__curg_or_external(), reason, commit, arg);
}

void goro__park(int reason, goro__commit_fn commit, void *arg) {
  m_t *m = goro__getm();
  g_t *g = m ? m->curg : NULL;
  if (UNLIKELY(!g)) {
    park_foreign(reason, commit, arg);
    return;
  }
  atomic_store_explicit(&g->waitreason, (uint8_t)reason, memory_order_relaxed);
  atomic_store_explicit(&g->waitsince, coarse_now(), memory_order_relaxed);
  m->commit = commit;
  m->commit_arg = arg;
  goro__mcall(m, g, ACT_PARK);
}

void goro__ready(g_t *g) { goro__ready_inline(g); }

/* A load and a store, not a CAS: exactly one waker may ready a parked
 * goroutine (the one that dequeued its wait record under the queue's
 * lock, or won its selectdone), and that lock or CAS also orders the
 * status load after the park that stored WAITING.  The check catches
 * runtime bugs; it does not arbitrate between wakers. */
void goro__ready_slow(g_t *g) {
  uint32_t s = atomic_load_explicit(&g->status, memory_order_acquire);
  if (UNLIKELY(s != G_WAITING))
    goro__throw("ready of goroutine %lld in state %u (want waiting)", (long long)g->id, s);
  atomic_store_explicit(&g->status, G_RUNNABLE, memory_order_relaxed);
  atomic_store_explicit(&g->waitreason, WR_NONE, memory_order_relaxed);
  if (g->external) {
    atomic_store(&g->ext_wake, 1);
    goro__futex_wake(&g->ext_wake, 1);
    return;
  }
  if (g->ss) { /* only its home P runs it (sstack.c) */
    goro__ss_put(g);
    return;
  }
  m_t *m = goro__getm();
  if (m && m->p) {
    goro__runqput(m->p, g, true);
  } else {
    goro__lock(&goro__sched.lock);
    goro__globrunqput(g);
    goro__unlock(&goro__sched.lock);
  }
  goro__wakep();
}

void goro__ready_list(g_t *list) {
  while (list) {
    g_t *next = list->schedlink;
    goro__ready(list);
    list = next;
  }
}

bool goro__commit_unlock(g_t *g, void *lock) {
  (void)g;
  goro__unlock((goro__lock_t *)lock);
  return true;
}

/* ------------------------------------------------------------------ */
/* Parking with a deadline                                             */
/* ------------------------------------------------------------------ */

#include "timer.h"

static void deadline_fire(void *arg, int64_t now) {
  (void)now;
  g_t *g = arg;
  uint32_t zero = 0;
  if (atomic_compare_exchange_strong(&g->selectdone, &zero, 1)) {
    g->timedout = 1;
    goro__ready(g);
  }
}

typedef struct {
  goro__commit_fn commit;
  void *arg;
  int64_t deadline;
} dl_commit_t;

static bool dl_commit(g_t *g, void *a) {
  /* d lives on g's stack: read it before arming the timer, which may fire
   * on another M at once and resume g (its frame is then gone). */
  dl_commit_t d = *(dl_commit_t *)a;
  /* Arm before the inner commit publishes us: once it releases its lock
   * a waker may complete and resume us anywhere.  (A timer that fires
   * first readies g, which then waits for the lock the inner commit still
   * holds, so the inner commit's own data stays valid.) */
  goro__rtimer_start(g->timer, d.deadline, 0);
  if (!d.commit || d.commit(g, d.arg)) return true;
  /* The inner commit aborted the park.  Whoever wins selectdone owns the
   * wake-up: if the timer already won, it has readied (or will ready) us,
   * so we must stay parked. */
  uint32_t zero = 0;
  if (atomic_compare_exchange_strong(&g->selectdone, &zero, 1)) {
    goro__rtimer_stop(g->timer);
    atomic_store(&g->selectdone, 0);
    return false;
  }
  return true;
}

int goro__park_until(int reason, int64_t deadline) {
  if (deadline < 0) {
    for (;;) goro__park(reason, NULL, NULL);
  }
  if (goro__nanotime() < deadline) {
    g_t *g = goro__curg_or_external();
    atomic_store_explicit(&g->selectdone, 0, memory_order_relaxed);
    while (!goro__park_dl(reason, NULL, NULL, deadline)) {
    }
  } else {
    goro__preempt_point();
  }
  return GORO_ETIMEDOUT;
}

bool goro__park_dl(int reason, goro__commit_fn commit, void *arg, int64_t deadline) {
  g_t *g = goro__curg_or_external();
  g->timedout = 0;
  if (deadline < 0) {
    goro__park(reason, commit, arg);
    return false;
  }
  if (g->external) {
    /* A foreign thread: wait on its futex with a timeout instead of a timer. */
    atomic_store_explicit(&g->waitreason, (uint8_t)reason, memory_order_relaxed);
    atomic_store(&g->ext_wake, 0);
    atomic_store(&g->status, G_WAITING);
    if (commit && !commit(g, arg)) {
      atomic_store(&g->status, G_RUNNING);
      return false;
    }
    for (;;) {
      if (atomic_load(&g->ext_wake)) break;
      int64_t left = deadline - goro__nanotime();
      if (left <= 0) {
        uint32_t zero = 0;
        if (atomic_compare_exchange_strong(&g->selectdone, &zero, 1)) {
          /* Deadline won; nobody will ready us. */
          uint32_t w = G_WAITING;
          atomic_compare_exchange_strong(&g->status, &w, G_RUNNING);
          g->timedout = 1;
          return true;
        }
        /* A waker won: its ready is on the way. */
        while (atomic_load(&g->ext_wake) == 0) goro__futex_wait(&g->ext_wake, 0, -1);
        break;
      }
      goro__futex_wait(&g->ext_wake, 0, left);
    }
    atomic_store(&g->status, G_RUNNING);
    return false;
  }
  if (!g->timer) {
    g->timer = malloc(sizeof *g->timer);
    if (!g->timer) goro__fatal("out of memory for a goroutine timer");
    goro__rtimer_init(g->timer, deadline_fire, g);
  }
  dl_commit_t d = {commit, arg, deadline};
  goro__park(reason, dl_commit, &d);
  /* Whoever readied us won selectdone; make sure the timer is gone before
   * the next wait reuses it. */
  goro__rtimer_stop(g->timer);
  g = goro__getg();
  return g->timedout != 0;
}
