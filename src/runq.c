/* runq.c - the per-P run queue and the global run queue.
 *
 * Design (Go's, from Vyukov's scalable scheduler): each P has a bounded
 * single-producer multi-consumer ring of 256 Gs plus a one-G `runnext`
 * slot.  Only the owner P pushes (writes tail); the owner and thieves take
 * from the head with a CAS.  A full ring moves half of itself plus the new
 * G to the global queue in one locked batch.  A thief takes half of a
 * victim's ring, except that from a running victim it waits 3 us first
 * and takes nothing if the owner drained half of the ring meanwhile.
 * runnext holds the G most recently readied by this P; it runs next and
 * inherits the time slice, which makes ping-pong pairs cache-hot and
 * keeps them from starving others (sysmon sees one slice).
 *
 * Memory ordering:
 *  1. owner push: write slot (relaxed), then store-release tail.
 *  2. consumer: load-acquire head, load-acquire tail (thieves), read slot,
 *     CAS-release head; a slot is read before the CAS that frees it, so
 *     the owner never overwrites a slot a thief is still reading.
 *  3. runnext: only the owner installs non-NULL (a release store into an
 *     empty slot, an exchange over a full one); takers CAS it to NULL.
 *
 * Locking: the global queue (head, tail, size) is protected by
 * goro__sched.lock; runqsize is also read without the lock as a hint.
 *
 * Rejected: a Chase-Lev deque (LIFO for the owner hurts fairness, and it
 * needs a growable array); one MPMC queue for all Ps (contention).
 */
#include "runq.h"

#include <time.h>

/* The global queue is a FIFO of batches: a batch is a list of Gs linked
 * through schedlink, whose first G holds the batch's tail, its length and
 * the next batch.  A full local ring moves 129 Gs in one O(1) append, and
 * a P takes a whole batch in O(1) under sched.lock, linking the Gs into
 * its own ring only after unlocking (goro__globrunq_flush): walking a
 * cold list of Gs while holding the lock made every other P wait on cache
 * misses. */

void goro__globrunqputbatch(g_t *head, g_t *tail, int n) {
  if (UNLIKELY(head->ss)) goro__throw("shared-stack goroutine %lld in a run queue", (long long)head->id);
  tail->schedlink = NULL;
  head->batchtail = tail;
  head->batchn = (uint32_t)n;
  head->batchnext = NULL;
  if (goro__sched.runqtail)
    goro__sched.runqtail->batchnext = head;
  else
    goro__sched.runqhead = head;
  goro__sched.runqtail = head;
  atomic_fetch_add(&goro__sched.runqsize, n);
}

void goro__globrunqput(g_t *g) { goro__globrunqputbatch(g, g, 1); }

void goro__globrunqputhead(g_t *g) {
  g->schedlink = NULL;
  g->batchtail = g;
  g->batchn = 1;
  g->batchnext = goro__sched.runqhead;
  goro__sched.runqhead = g;
  if (!goro__sched.runqtail) goro__sched.runqtail = g;
  atomic_fetch_add(&goro__sched.runqsize, 1);
}

/* Take the first G of the first batch.  sched.lock held. */
static g_t *globpop(void) {
  g_t *b = goro__sched.runqhead;
  if (!b) return NULL;
  if (b->batchn > 1) {
    g_t *n2 = b->schedlink;
    n2->batchtail = b->batchtail;
    n2->batchn = b->batchn - 1;
    n2->batchnext = b->batchnext;
    goro__sched.runqhead = n2;
    if (goro__sched.runqtail == b) goro__sched.runqtail = n2;
  } else {
    goro__sched.runqhead = b->batchnext;
    if (!goro__sched.runqhead) goro__sched.runqtail = NULL;
  }
  b->schedlink = NULL;
  atomic_fetch_sub(&goro__sched.runqsize, 1);
  return b;
}

/* sched.lock held.  max == 1: one G.  Otherwise the first whole batch: its
 * first G is returned and the rest parked in p->globrest for
 * goro__globrunq_flush, which the caller runs after unlocking. */
g_t *goro__globrunqget(p_t *p, int max) {
  g_t *b = goro__sched.runqhead;
  if (!b) return NULL;
  if (max == 1 || b->batchn == 1) return globpop();
  goro__sched.runqhead = b->batchnext;
  if (!goro__sched.runqhead) goro__sched.runqtail = NULL;
  atomic_fetch_sub(&goro__sched.runqsize, (int32_t)b->batchn);
  p->globrest = b->schedlink;
  b->schedlink = NULL;
  return b;
}

void goro__globrunq_flush(p_t *p) {
  g_t *g = p->globrest;
  p->globrest = NULL;
  while (g) {
    g_t *next = g->schedlink;
    goro__runqput(p, g, false);
    g = next;
  }
}

/* Slow path of a full ring: move half of it plus g to the global queue. */
static bool runqputslow(p_t *p, g_t *g, uint32_t h, uint32_t t) {
  g_t *batch[RUNQ_SIZE / 2 + 1];
  uint32_t n = (t - h) / 2;
  if (n != RUNQ_SIZE / 2) goro__throw("runqputslow: queue is not full");
  for (uint32_t i = 0; i < n; i++)
    batch[i] = atomic_load_explicit(&p->runq[(h + i) % RUNQ_SIZE], memory_order_relaxed);
  if (!atomic_compare_exchange_strong_explicit(&p->runqhead, &h, h + n, memory_order_release,
                                               memory_order_relaxed))
    return false;
  batch[n] = g;
  for (uint32_t i = 0; i < n; i++) batch[i]->schedlink = batch[i + 1];
  goro__lock(&goro__sched.lock);
  goro__globrunqputbatch(batch[0], batch[n], (int)n + 1);
  goro__unlock(&goro__sched.lock);
  return true;
}

bool goro__runqput_slow(p_t *p, g_t *g, bool next) {
  if (UNLIKELY(g->ss)) goro__throw("shared-stack goroutine %lld in a run queue", (long long)g->id);
  if (next) {
    /* runnext was full (the inline fast path fills an empty one); it may
     * be stolen meanwhile, hence the exchange. */
    g_t *old = atomic_exchange(&p->runnext, g);
    if (!old) return false;
    g = old; /* kick the old runnext to the tail */
  }
  for (;;) {
    uint32_t h = atomic_load_explicit(&p->runqhead, memory_order_acquire);
    uint32_t t = atomic_load_explicit(&p->runqtail, memory_order_relaxed);
    if (t - h < RUNQ_SIZE) {
      atomic_store_explicit(&p->runq[t % RUNQ_SIZE], g, memory_order_relaxed);
      atomic_store_explicit(&p->runqtail, t + 1, memory_order_release);
      return false;
    }
    if (runqputslow(p, g, h, t)) return true;
  }
}

g_t *goro__runqget_slow(p_t *p, bool *inherit) {
  if (UNLIKELY(atomic_load_explicit(&p->preempt, memory_order_relaxed))) {
    /* The time slice is used up: a goroutine in runnext would inherit it
     * and keep a ping-pong chain going forever ahead of the queue.  Send it
     * to the back of the line instead (Go breaks such chains by preempting
     * a member at its next function call). */
    g_t *kicked = atomic_exchange(&p->runnext, NULL);
    if (kicked) goro__runqput(p, kicked, false);
  }
  g_t *next = atomic_load_explicit(&p->runnext, memory_order_relaxed);
  if (next && atomic_compare_exchange_strong(&p->runnext, &next, NULL)) {
    *inherit = true;
    return next;
  }
  *inherit = false;
  for (;;) {
    uint32_t h = atomic_load_explicit(&p->runqhead, memory_order_acquire);
    uint32_t t = atomic_load_explicit(&p->runqtail, memory_order_relaxed);
    if (t == h) return NULL;
    g_t *g = atomic_load_explicit(&p->runq[h % RUNQ_SIZE], memory_order_relaxed);
    if (atomic_compare_exchange_weak_explicit(&p->runqhead, &h, h + 1, memory_order_release,
                                              memory_order_relaxed))
      return g;
  }
}

bool goro__runq_empty(p_t *p) {
  /* Robust against "runnext kicked to the ring, then the ring drained". */
  for (;;) {
    uint32_t h = atomic_load(&p->runqhead);
    uint32_t t = atomic_load(&p->runqtail);
    g_t *next = atomic_load(&p->runnext);
    if (t == atomic_load(&p->runqtail)) return h == t && next == NULL;
  }
}

uint32_t goro__runq_len(p_t *p) {
  uint32_t h = atomic_load(&p->runqhead);
  uint32_t t = atomic_load(&p->runqtail);
  return (t - h) + (atomic_load(&p->runnext) ? 1 : 0);
}

/* Grab half of p2's ring into batch[bh...]; returns the count. */
static uint32_t runqgrab(p_t *p2, _Atomic(g_t *) *batch, uint32_t bh, bool steal_runnext) {
  for (;;) {
    uint32_t h = atomic_load_explicit(&p2->runqhead, memory_order_acquire);
    uint32_t t = atomic_load_explicit(&p2->runqtail, memory_order_acquire);
    uint32_t n = t - h;
    n = n - n / 2;
    if (n == 0) {
      if (steal_runnext) {
        g_t *next = atomic_load(&p2->runnext);
        if (next) {
          if (atomic_load(&p2->status) == P_RUNNING) {
            /* The owner is probably about to run it (a channel handoff
             * takes ~50 ns); give it the chance before stealing. */
            struct timespec ts = {0, 3000};
            nanosleep(&ts, NULL);
          }
          if (!atomic_compare_exchange_strong(&p2->runnext, &next, NULL)) continue;
          atomic_store_explicit(&batch[bh % RUNQ_SIZE], next, memory_order_relaxed);
          return 1;
        }
      }
      return 0;
    }
    if (n > RUNQ_SIZE / 2) continue; /* inconsistent h and t */
    if (atomic_load(&p2->status) == P_RUNNING) {
      /* The owner is running: give it a moment (as for runnext) and steal
       * only if it does not keep up.  Goroutines that live for well under
       * that moment (a hand-off in progress, a spawning loop's short
       * children) are then run where their G records and stacks are
       * warm; moving them cost more than running them (spawn at 2 Ps:
       * runs over 100 ns per goroutine with 15-23k steals, 34-68 ns with
       * a few dozen; select4 124 -> 103 ns).  Long goroutines are stolen
       * 3 us later than before, which they do not notice. */
      struct timespec ts = {0, 3000};
      nanosleep(&ts, NULL);
      uint32_t h2 = atomic_load_explicit(&p2->runqhead, memory_order_acquire);
      if (h2 - h >= (t - h + 1) / 2) return 0; /* drained half or more: it keeps up */
      if (h2 != h) continue;
    }
    for (uint32_t i = 0; i < n; i++) {
      g_t *g = atomic_load_explicit(&p2->runq[(h + i) % RUNQ_SIZE], memory_order_relaxed);
      atomic_store_explicit(&batch[(bh + i) % RUNQ_SIZE], g, memory_order_relaxed);
    }
    if (atomic_compare_exchange_strong_explicit(&p2->runqhead, &h, h + n, memory_order_release,
                                                memory_order_relaxed))
      return n;
  }
}

g_t *goro__runqsteal(p_t *p, p_t *p2, bool steal_runnext) {
  uint32_t t = atomic_load_explicit(&p->runqtail, memory_order_relaxed);
  uint32_t n = runqgrab(p2, p->runq, t, steal_runnext);
  if (n == 0) return NULL;
  n--;
  g_t *g = atomic_load_explicit(&p->runq[(t + n) % RUNQ_SIZE], memory_order_relaxed);
  if (n == 0) return g;
  uint32_t h = atomic_load_explicit(&p->runqhead, memory_order_acquire);
  if (t - h + n >= RUNQ_SIZE) goro__throw("runqsteal: runq overflow");
  atomic_store_explicit(&p->runqtail, t + n, memory_order_release);
  return g;
}

/* Move everything from p's local queue to the global queue (P shutdown). */
void goro__runq_drain_to_global(p_t *p) {
  bool inh;
  g_t *g;
  while ((g = goro__runqget(p, &inh)) != NULL) {
    goro__lock(&goro__sched.lock);
    goro__globrunqput(g);
    goro__unlock(&goro__sched.lock);
  }
}
