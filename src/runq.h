/* runq.h - run-queue operations shared by the scheduler files (runq.c). */
#ifndef GORO_RUNQ_H
#define GORO_RUNQ_H
#include "internal.h"

/* Local queue: goro__runqput only by the owner P.  The runnext cases of
 * put and get, which every channel hand-off takes once each, are inline;
 * the rest is in runq.c. */
HIDDEN bool goro__runqput_slow(p_t *p, g_t *g, bool next);
HIDDEN g_t *goro__runqget_slow(p_t *p, bool *inherit);

/* Returns true if the ring was full and half of it moved to the global
 * queue. */
static inline bool goro__runqput(p_t *p, g_t *g, bool next) {
  if (next) {
    /* Only the owner installs a non-NULL runnext, so an empty slot stays
     * empty until we fill it: a release store will do (thieves CAS it). */
    if (atomic_load_explicit(&p->runnext, memory_order_relaxed) == NULL) {
      atomic_store_explicit(&p->runnext, g, memory_order_release);
      return false;
    }
  } else {
    /* The ring's tail when there is room (see runq.c for the ordering). */
    uint32_t h = atomic_load_explicit(&p->runqhead, memory_order_acquire);
    uint32_t t = atomic_load_explicit(&p->runqtail, memory_order_relaxed);
    if (LIKELY(t - h < RUNQ_SIZE)) {
      atomic_store_explicit(&p->runq[t % RUNQ_SIZE], g, memory_order_relaxed);
      atomic_store_explicit(&p->runqtail, t + 1, memory_order_release);
      return false;
    }
  }
  return goro__runqput_slow(p, g, next);
}

/* Next G for the owner: runnext (inheriting the time slice, *inherit =
 * true), else the ring's head; NULL if both are empty. */
static inline g_t *goro__runqget(p_t *p, bool *inherit) {
  if (LIKELY(!atomic_load_explicit(&p->preempt, memory_order_relaxed))) {
    g_t *next = atomic_load_explicit(&p->runnext, memory_order_relaxed);
    if (next) {
      if (atomic_compare_exchange_strong(&p->runnext, &next, NULL)) {
        *inherit = true;
        return next;
      }
    } else {
      /* The ring's head, one try (runq.c loops and handles the rest). */
      uint32_t h = atomic_load_explicit(&p->runqhead, memory_order_acquire);
      uint32_t t = atomic_load_explicit(&p->runqtail, memory_order_relaxed);
      if (t != h) {
        g_t *g = atomic_load_explicit(&p->runq[h % RUNQ_SIZE], memory_order_relaxed);
        if (atomic_compare_exchange_strong_explicit(&p->runqhead, &h, h + 1,
                                                    memory_order_release, memory_order_relaxed)) {
          *inherit = false;
          return g;
        }
      }
    }
  }
  return goro__runqget_slow(p, inherit);
}
HIDDEN g_t *goro__runqsteal(p_t *p, p_t *victim, bool steal_runnext);
HIDDEN void goro__runq_drain_to_global(p_t *p);
/* Global queue: sched.lock held. */
HIDDEN void goro__globrunqput(g_t *g);
HIDDEN void goro__globrunqputhead(g_t *g);
HIDDEN void goro__globrunqputbatch(g_t *head, g_t *tail, int n);
HIDDEN g_t *goro__globrunqget(p_t *p, int max);
/* After unlocking: move what goro__globrunqget left in p->globrest to p's
 * local queue. */
HIDDEN void goro__globrunq_flush(p_t *p);
#endif
