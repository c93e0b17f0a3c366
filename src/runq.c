/* runq.c - the per-P run queue and the global run queue.
 *
 * Design (Go's, from Vyukov's scalable scheduler): each P has a bounded
 * single-producer multi-consumer ring of 256 Gs plus a one-G `runnext`
 * slot.  Only the owner P pushes (writes tail); the owner and thieves take
 * from the head with a CAS.  A full ring moves half of itself plus the new
 * G to the global queue in one locked batch.  A thief takes half of a
 * victim's ring.  runnext holds the G most recently readied by this P;
 * it runs next and inherits the time slice, which makes ping-pong pairs
 * cache-hot and keeps them from starving others (sysmon sees one slice).
 *
 * Memory ordering:
 *  1. owner push: write slot (relaxed), then store-release tail.
 *  2. consumer: load-acquire head, load-acquire tail (thieves), read slot,
 *     CAS-release head; a slot is read before the CAS that frees it, so
 *     the owner never overwrites a slot a thief is still reading.
 *  3. runnext: plain CAS; only the owner installs non-NULL.
 *
 * Locking: the global queue (head, tail, size) is protected by
 * goro__sched.lock; runqsize is also read without the lock as a hint.
 *
 * Rejected: a Chase-Lev deque (LIFO for the owner hurts fairness, and it
 * needs a growable array); one MPMC queue for all Ps (contention).
 */
#include "runq.h"

#include <time.h>

void goro__globrunqput(g_t *g) {
  g->schedlink = NULL;
  if (goro__sched.runqtail)
    goro__sched.runqtail->schedlink = g;
  else
    goro__sched.runqhead = g;
  goro__sched.runqtail = g;
  atomic_fetch_add(&goro__sched.runqsize, 1);
}

void goro__globrunqputhead(g_t *g) {
  g->schedlink = goro__sched.runqhead;
  goro__sched.runqhead = g;
  if (!goro__sched.runqtail) goro__sched.runqtail = g;
  atomic_fetch_add(&goro__sched.runqsize, 1);
}

void goro__globrunqputbatch(g_t *head, g_t *tail, int n) {
  tail->schedlink = NULL;
  if (goro__sched.runqtail)
    goro__sched.runqtail->schedlink = head;
  else
    goro__sched.runqhead = head;
  goro__sched.runqtail = tail;
  atomic_fetch_add(&goro__sched.runqsize, n);
}

static g_t *globpop(void) {
  g_t *g = goro__sched.runqhead;
  if (!g) return NULL;
  goro__sched.runqhead = g->schedlink;
  if (!goro__sched.runqhead) goro__sched.runqtail = NULL;
  atomic_fetch_sub(&goro__sched.runqsize, 1);
  return g;
}

g_t *goro__globrunqget(p_t *p, int max) {
  int32_t size = atomic_load(&goro__sched.runqsize);
  if (size == 0) return NULL;
  int32_t procs = atomic_load(&goro__sched.gomaxprocs);
  int n = size / procs + 1;
  if (n > size) n = size;
  if (max > 0 && n > max) n = max;
  if (n > RUNQ_SIZE / 2) n = RUNQ_SIZE / 2;
  g_t *g = globpop();
  for (n--; n > 0; n--) {
    g_t *g2 = globpop();
    if (!g2) break;
    goro__runqput(p, g2, false);
  }
  return g;
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

void goro__runqput(p_t *p, g_t *g, bool next) {
  if (next) {
    g_t *old = atomic_exchange(&p->runnext, g);
    if (!old) return;
    g = old; /* kick the old runnext to the tail */
  }
  for (;;) {
    uint32_t h = atomic_load_explicit(&p->runqhead, memory_order_acquire);
    uint32_t t = atomic_load_explicit(&p->runqtail, memory_order_relaxed);
    if (t - h < RUNQ_SIZE) {
      atomic_store_explicit(&p->runq[t % RUNQ_SIZE], g, memory_order_relaxed);
      atomic_store_explicit(&p->runqtail, t + 1, memory_order_release);
      return;
    }
    if (runqputslow(p, g, h, t)) return;
  }
}

g_t *goro__runqget(p_t *p, bool *inherit) {
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
