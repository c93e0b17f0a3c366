/* ready.h - the inline fast path of goro__ready (park.c) for the channel
 * and select hot paths: a goroutine parked by a goroutine on this M's P
 * goes to runnext without a call.  Everything else (a foreign thread's
 * pseudo-G, no P, a goroutine that is not WAITING, which is a runtime bug
 * that goro__ready reports) takes the full function. */
#ifndef GORO_READY_H
#define GORO_READY_H
#include "runq.h"

static inline __attribute__((always_inline)) void goro__ready_inline(g_t *g) {
  m_t *m = goro__getm();
  p_t *p = m ? m->p : NULL;
  if (UNLIKELY(!p || g->external ||
               atomic_load_explicit(&g->status, memory_order_acquire) != G_WAITING)) {
    goro__ready(g);
    return;
  }
  atomic_store_explicit(&g->status, G_RUNNABLE, memory_order_relaxed);
  atomic_store_explicit(&g->waitreason, WR_NONE, memory_order_relaxed);
  goro__runqput(p, g, true);
  goro__wakep();
}

#endif
