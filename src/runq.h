/* runq.h - run-queue operations shared by the scheduler files (runq.c). */
#ifndef GORO_RUNQ_H
#define GORO_RUNQ_H
#include "internal.h"

/* Local queue: goro__runqput only by the owner P. */
/* Returns true if the ring was full and half of it moved to the global queue. */
HIDDEN bool goro__runqput(p_t *p, g_t *g, bool next);
HIDDEN g_t *goro__runqget(p_t *p, bool *inherit);
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
