/* sstack.h - shared-stack goroutines (GORO_SHARED_STACK); see sstack.c. */
#ifndef GORO_SSTACK_H
#define GORO_SSTACK_H
#include "internal.h"

/* Size of each P's shared stack, guard page included. */
#define GORO_SSTACK_SIZE ((size_t)256 << 10)

/* Copying stacks in and out needs the plain context switch (ctx.h):
 * the sanitizers' fiber bookkeeping and ucontext keep state about the
 * stack that a copy would not carry.  Those builds run such goroutines on
 * stacks of their own (the flag only saves memory). */
#define GORO_HAVE_SSTACK GORO_PLAIN_SWITCH

/* State for a new shared-stack goroutine, its home P chosen and counted;
 * NULL if out of memory.  The runtime must be running. */
HIDDEN gss_t *goro__ss_new(void);
/* A shared-stack goroutine has ended (or never started): uncount it and
 * free its state (NULL: nothing). */
HIDDEN void goro__ss_release(gss_t *ss);
/* Free a state left behind at goro_run's end. */
HIDDEN void goro__ss_free(gss_t *ss);
/* Queue runnable g on its home P (from any thread); wakes the P if idle.
 * Not under sched.lock. */
HIDDEN __attribute__((cold)) void goro__ss_put(g_t *g);
/* sched.lock held, p just put on the idle list: if a shared-stack
 * goroutine arrived for p meanwhile, take p off the list again and return
 * true (the caller runs p or starts an M for it). */
HIDDEN bool goro__ss_reclaim(p_t *p);
/* The next runnable shared-stack goroutine of p, or NULL (p's owner). */
HIDDEN g_t *goro__ss_get(p_t *p);
/* Give g the shared stack of its home p the first time it runs (on g0). */
HIDDEN void goro__ss_start(p_t *p, g_t *g);
/* On g0: copy g's used stack out after it switched out / back in before
 * it is switched to. */
HIDDEN void goro__ss_save(g_t *g);
HIDDEN void goro__ss_restore(p_t *p, g_t *g);
/* Whether a GOMAXPROCS of n would cut a P that hosts shared-stack
 * goroutines (sched.lock held). */
HIDDEN bool goro__ss_blocks_shrink(int n);
/* Room for the waiter records of one wait of g, off its stack: NULL if g
 * does not run on a shared stack (the caller uses its own frame).  Called
 * before the records are published; valid until the next call. */
HIDDEN void *goro__ss_wait_buf_slow(g_t *g, size_t n);
static inline void *goro__ss_wait_buf(g_t *g, size_t n) {
  if (LIKELY(!g || !g->ss)) return NULL;
  return goro__ss_wait_buf_slow(g, n);
}
/* Read the word at stack address addr of parked shared-stack g from its
 * saved copy; false if addr is outside the saved part (dumps). */
HIDDEN bool goro__ss_read_word(g_t *g, uintptr_t addr, uintptr_t *out);

static inline bool goro__ss_pending(p_t *p) {
  return p->ssq_head != NULL || atomic_load_explicit(&p->ssinbox, memory_order_acquire) != NULL;
}

/* Record sizes rounded so that a value stored after a record is aligned
 * for any type. */
#define GORO_SS_ALIGN(n) (((n) + 15) & ~(size_t)15)

#endif
