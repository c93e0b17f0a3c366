/* sync_cond.c - goro_cond: condition variable.
 *
 * Design: a FIFO list of waiter records (on the waiters' stacks) under a
 * short internal lock.  Wait links its record while it still holds the
 * user's mutex, then unlocks the mutex, then parks.  So a Signal that
 * comes after the mutex was released always finds the waiter, even if it
 * has not parked yet: the list plays the role of Go's notify-list
 * tickets (which are taken under the mutex for the same reason).
 *
 * Wake-up handshake, because a waiter may be signalled before it has
 * switched out: each record has two bits, COMMITTED (set by the park
 * commit, on the scheduler stack) and NOTIFIED (set by the waker, which
 * first unlinks the record under the list lock).  Whoever sets its bit
 * second acts: a commit that finds NOTIFIED aborts the park; a waker
 * that finds COMMITTED readies the goroutine, after winning the
 * selectdone CAS against a deadline timer.  A waiter unlinked by a waker
 * is signalled, whatever its deadline did: Signal and Broadcast never
 * spend a wake-up on a waiter that then reports a timeout, and a waiter
 * still linked after a deadline unlinks itself and reports
 * GORO_ETIMEDOUT.  The commit is the last code outside the goroutine
 * that touches its record; a goroutine woken by its deadline timer
 * waits for COMMITTED before its record may go away.
 *
 * self remembers the cond's address on first use; a cond that was copied
 * after use is fatal ("sync.Cond is copied"), as Go's copy checker.
 *
 * Rejected: Go's ticket scheme verbatim (tickets taken before the list
 * lock leave gaps when a waiter times out, and a later Signal would be
 * spent on the gap); a semaphore per cond (Signal could wake a waiter
 * that arrived after it).
 */
#include "sstack.h"
#include "sema.h"

#include "timer.h"

enum { CW_COMMITTED = 1u, CW_NOTIFIED = 2u };

typedef struct condwaiter {
  g_t *g;
  struct condwaiter *next, *prev;
  _Atomic uint32_t state; /* CW_* */
  bool linked;            /* under the list lock */
} condwaiter_t;

typedef struct {
  goro__lock_t lock;           /* protects head, tail and the records' links */
  _Atomic uint32_t nwait;      /* linked waiters, read without the lock */
  condwaiter_t *head, *tail;   /* lock */
  _Atomic(void *) self;
} cond_t;

_Static_assert(sizeof(cond_t) <= sizeof(goro_cond), "goro_cond storage too small");
_Static_assert(_Alignof(cond_t) <= _Alignof(goro_cond), "goro_cond alignment");

static cond_t *CV(goro_cond *c) {
  cond_t *cv = (cond_t *)(void *)c;
  void *self = atomic_load_explicit(&cv->self, memory_order_relaxed);
  if (LIKELY(self == cv)) return cv;
  void *expect = NULL;
  if (!atomic_compare_exchange_strong(&cv->self, &expect, cv) && expect != cv)
    goro__fatal("sync.Cond is copied");
  return cv;
}

static void unlink_w(cond_t *cv, condwaiter_t *w) {
  if (w->prev)
    w->prev->next = w->next;
  else
    cv->head = w->next;
  if (w->next)
    w->next->prev = w->prev;
  else
    cv->tail = w->prev;
  w->next = w->prev = NULL;
  w->linked = false;
  atomic_fetch_sub_explicit(&cv->nwait, 1, memory_order_relaxed);
}

static bool cond_commit(g_t *g, void *arg) {
  (void)g;
  condwaiter_t *w = arg;
  /* After this the record is not ours to touch. */
  return !(atomic_fetch_or(&w->state, CW_COMMITTED) & CW_NOTIFIED);
}

/* Unlink the head waiter and notify it.  Returns its G if the caller must
 * ready it (after dropping the lock), else NULL.  Lock held. */
static g_t *notify_head(cond_t *cv) {
  condwaiter_t *w = cv->head;
  g_t *g = w->g;
  unlink_w(cv, w);
  if (!(atomic_fetch_or(&w->state, CW_NOTIFIED) & CW_COMMITTED)) return NULL; /* aborts its park */
  uint32_t zero = 0;
  if (!atomic_compare_exchange_strong(&g->selectdone, &zero, 1)) return NULL; /* timer readies it */
  return g;
}

int goro_cond_wait_dl(goro_cond *c, goro_mutex *mu, int64_t deadline) {
  goro__pd_use(mu);
  goro__pd_use(c);
  cond_t *cv = CV(c);
  g_t *g = goro__curg_or_external();
  condwaiter_t wl, *w = goro__ss_wait_buf(g, sizeof wl);
  if (!w) w = &wl; /* shared-stack goroutines wait with the record off their stack */
  *w = (condwaiter_t){.g = g};
  atomic_store(&g->selectdone, 0);
  goro__lock(&cv->lock);
  w->prev = cv->tail;
  if (cv->tail)
    cv->tail->next = w;
  else
    cv->head = w;
  cv->tail = w;
  w->linked = true;
  atomic_fetch_add(&cv->nwait, 1);
  goro__unlock(&cv->lock);
  goro_mutex_unlock(mu);

  int rc;
  if (goro__deadline_passed(deadline)) {
    /* No park.  Claim selectdone first, so a waker that finds us
     * COMMITTED does not ready a goroutine that is running. */
    atomic_store(&g->selectdone, 1);
    atomic_fetch_or(&w->state, CW_COMMITTED);
  } else {
    goro__park_dl(WR_COND, cond_commit, w, deadline);
    while (!(atomic_load(&w->state) & CW_COMMITTED)) goro__cpu_relax();
  }
  goro__lock(&cv->lock);
  if (w->linked) {
    unlink_w(cv, w);
    rc = GORO_ETIMEDOUT;
  } else {
    rc = 0; /* a waker unlinked us: signalled */
  }
  goro__unlock(&cv->lock);
  goro_mutex_lock(mu);
  return rc;
}

void goro_cond_wait(goro_cond *c, goro_mutex *mu) { (void)goro_cond_wait_dl(c, mu, GORO_FOREVER); }

void goro_cond_signal(goro_cond *c) {
  goro__pd_use(c);
  cond_t *cv = CV(c);
  if (atomic_load(&cv->nwait) == 0) return;
  goro__lock(&cv->lock);
  /* The head counts as signalled even if we need not ready it (it aborts
   * its park, or its deadline timer wakes it and it finds itself
   * unlinked). */
  g_t *g = cv->head ? notify_head(cv) : NULL;
  goro__unlock(&cv->lock);
  if (g) goro__ready(g);
}

void goro_cond_broadcast(goro_cond *c) {
  goro__pd_use(c);
  cond_t *cv = CV(c);
  if (atomic_load(&cv->nwait) == 0) return;
  goro__lock(&cv->lock);
  g_t *list = NULL;
  while (cv->head) {
    g_t *g = notify_head(cv);
    if (g) {
      g->schedlink = list;
      list = g;
    }
  }
  goro__unlock(&cv->lock);
  goro__ready_list(list);
}
