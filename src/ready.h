/* ready.h - goro__ready's common case, inline for the channel and select
 * hot paths: a goroutine readied by a goroutine on this M's P goes to
 * runnext without a call.  Everything else (a foreign thread's pseudo-G,
 * no P, a goroutine that is not WAITING, which is a runtime bug)
 * is goro__ready_slow's (park.c); goro__ready itself is this fast path
 * out of line, so both share one copy of each half. */
#ifndef GORO_READY_H
#define GORO_READY_H
#include "runq.h"

static inline __attribute__((always_inline)) void goro__ready_inline(g_t *g) {
  m_t *m = goro__getm();
  p_t *p = m ? m->p : NULL;
  if (UNLIKELY(!p || g->external || g->ss ||
               atomic_load_explicit(&g->status, memory_order_acquire) != G_WAITING)) {
    goro__ready_slow(g);
    return;
  }
  atomic_store_explicit(&g->status, G_RUNNABLE, memory_order_relaxed);
  atomic_store_explicit(&g->waitreason, WR_NONE, memory_order_relaxed);
  goro__runqput(p, g, true);
  goro__wakep();
}

#endif
