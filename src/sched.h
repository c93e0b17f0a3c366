/* sched.h - scheduler internals shared by sched.c, proc.c, park.c,
 * syscall.c and sysmon.c. */
#ifndef GORO_SCHED_H
#define GORO_SCHED_H
#include "runq.h"

/* What a G asks its M's scheduler stack to do after switching to it. */
enum {
  ACT_NONE = 0,
  ACT_PARK,        /* park with m->commit */
  ACT_YIELD,       /* runnable, global queue tail */
  ACT_PREEMPT,     /* runnable, global queue tail (counted as preemption) */
  ACT_EXIT,        /* goroutine finished */
  ACT_SYSCALL_EXIT /* returned from a blocking call and found no P */
};

/* Switch from the running G (g, on M m: the caller's fresh goro__getm())
 * to m's scheduler stack with `action`, or straight to the next G.
 * Returns when the G is resumed (possibly on another M). */
HIDDEN void goro__mcall(m_t *m, g_t *g, int action);
HIDDEN noreturn void goro__goexit(void);

HIDDEN void goro__acquirep(m_t *m, p_t *p);
HIDDEN p_t *goro__releasep(m_t *m);
HIDDEN void goro__pidleput(p_t *p);         /* sched.lock held */
HIDDEN m_t *goro__newm(p_t *p, bool spinning);
HIDDEN void goro__mstart_loop(m_t *m);      /* the scheduler loop on g0 */
HIDDEN void goro__set_tls_m(m_t *m);
HIDDEN void goro__sched_wake_all(void);     /* shutdown */
HIDDEN void goro__gfput(p_t *p, g_t *g);
HIDDEN void goro__gfree_push(g_t *head, g_t *tail, int n); /* sched.lock held */
HIDDEN g_t *goro__galloc(p_t *p);
HIDDEN void goro__procresize(int n);        /* sched.lock NOT held */
HIDDEN void goro__procborrow(int delta);    /* sched.lock NOT held */
HIDDEN p_t *goro__palloc(int id);
HIDDEN void goro__mexit_signals(m_t *m);
HIDDEN void goro__msetup_signals(m_t *m);
#endif
