/* preempt.c - preemption without signals.
 *
 * Design (DESIGN.md "Preemption without signals"): C code cannot be
 * stopped at an arbitrary instruction and resumed elsewhere (a goroutine
 * inside malloc would corrupt per-thread caches), so
 *  1. the monitor sets p->preempt when a time slice passes 10 ms; every
 *     runtime call (goro__preempt_point) and goro_preempt_check yield when
 *     it is set.  Builds of user code with -finstrument-functions call the
 *     same check at every function entry (__cyg_profile_func_enter below);
 *  2. a goroutine that still has not yielded 10 ms later is a hog: if no
 *     processor is idle, the monitor *borrows* a processor for the others:
 *     it raises the live P count by one (goro__procresize), and the new P's
 *     M steals the hog's run queue and timers like any idle P would.  The
 *     hog keeps running on its thread with its own P, which it gives up at
 *     its next runtime call (the pending request sends it through the
 *     scheduler).  When the monitor sees the hog's P schedule again, it
 *     lowers the count back; the highest P retires at its next scheduling
 *     point.  goro_maxprocs reports the user's setting, without borrowed Ps.
 *
 * This is Go's "take the P away from a thread stuck outside the runtime"
 * with the roles swapped: instead of detaching the P from a thread that
 * may be touching it (which would need a fence on every runtime call to
 * be safe), the hog keeps a P that nobody else touches and the extra
 * capacity is a P beyond the setting.  Either way, while a hog runs the
 * process uses GOMAXPROCS + 1 threads' worth of CPU, as Go does.
 *
 * Locking: p->borrowed and the decision to borrow belong to the monitor
 * thread alone; goro__procresize takes sched.lock.
 *
 * Rejected: signal-based async preemption (unsafe in arbitrary C, EINTR
 * side effects); detaching the hog's P (needs a store-load fence or a
 * membarrier handshake on every runtime entry).
 */
#include "sched.h"

void goro__preempt_park(void) {
  m_t *m = goro__getm();
  g_t *g = m->curg;
  atomic_store_explicit(&m->p->preempt, 0, memory_order_relaxed);
  goro__mcall(m, g, ACT_PREEMPT);
}

void goro__preempt_point_slow(void) {
  atomic_store_explicit(&goro__tls_preempt, 0, memory_order_relaxed);
  m_t *m = goro__getm();
  if (m && m->p && atomic_load_explicit(&m->p->preempt, memory_order_relaxed) && m->curg)
    goro__preempt_park();
}

void goro_preempt_check(void) {
  m_t *m = goro__getm();
  if (!m) return;
  p_t *p = m->p;
  if (p && UNLIKELY(atomic_load_explicit(&p->preempt, memory_order_relaxed)) && m->curg)
    goro__preempt_park();
}

/* Function-entry hooks for user code built with -finstrument-functions.
 * A leaf check: the thread-local is read directly (no call can switch
 * goroutines between the read and the test). */
__attribute__((no_instrument_function, visibility("default"))) void __cyg_profile_func_enter(
    void *fn, void *site) {
  (void)fn;
  (void)site;
  if (UNLIKELY(atomic_load_explicit(&goro__tls_preempt, memory_order_relaxed))) {
    atomic_store_explicit(&goro__tls_preempt, 0, memory_order_relaxed);
    m_t *m = goro__tls_m;
    p_t *p = m ? m->p : NULL;
    if (p && atomic_load_explicit(&p->preempt, memory_order_relaxed) && m->curg)
      goro__preempt_park();
  }
}

__attribute__((no_instrument_function, visibility("default"))) void __cyg_profile_func_exit(
    void *fn, void *site) {
  (void)fn;
  (void)site;
}

/* Called by the monitor for a P whose goroutine ignored a preemption
 * request for another 10 ms.  Returns true if a P was borrowed. */
bool goro__preempt_hog(p_t *p, m_t *m) {
  (void)m;
  if (p->borrowed) return false;                          /* already helped */
  if (atomic_load(&goro__sched.npidle) > 0) return false; /* idle Ps will steal */
  if (atomic_load(&goro__sched.exiting)) return false;
  int32_t live = atomic_load(&goro__sched.gomaxprocs);
  int32_t borrowed = atomic_load(&goro__sched.nborrowed);
  if (live >= GORO_MAXPROCS_LIMIT) return false;
  /* At most as many borrowed Ps as the setting: CPU-bound goroutines
   * must not turn into one thread each. */
  if (borrowed >= live - borrowed) return false;
  /* Only if someone is waiting for this P: its queue, the global queue,
   * or a timer on it. */
  if (goro__runq_empty(p) && atomic_load(&goro__sched.runqsize) == 0 && goro__timers_next(p) == -1)
    return false;
  p->borrowed = true;
  atomic_fetch_add(&goro__sched.handoffs, 1);
  goro__procborrow(+1);
  return true;
}

/* The monitor saw p schedule again (or stop running): give back the P
 * borrowed for it. */
void goro__preempt_hog_done(p_t *p) {
  if (!p->borrowed) return;
  p->borrowed = false;
  goro__procborrow(-1);
}
