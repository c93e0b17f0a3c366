/* timer.h - runtime timers: the contract between timer.c and its users
 * (sleep, deadlines in park.c, time channels, netpoll deadlines).
 *
 * A runtime timer runs f(arg, now) once at `when` (and then every
 * `period` ns if period > 0) on the scheduler stack of some M that holds
 * a P.  f must be short and must not block or park: it may goro__ready a
 * goroutine, try-send on a channel, or start a goroutine.
 *
 * Timers live in the heap of the P that armed them (per-P 4-ary heaps,
 * checked by that P's scheduler and stolen by idle ones); an idle M sleeps
 * in the poller exactly until the earliest timer of any P.
 */
#ifndef GORO_TIMER_H
#define GORO_TIMER_H
#include "internal.h"

typedef void (*goro__rtimer_fn)(void *arg, int64_t now);

struct goro__rtimer {
  goro__rtimer_fn f;
  void *arg;
  int64_t when;        /* private to timer.c from here on */
  int64_t period;
  goro__lock_t lock;   /* protects state, p, idx */
  _Atomic uint32_t state;
  p_t *p;              /* heap it is in, or NULL */
  int32_t idx;         /* index in that heap */
  _Atomic uint64_t seq;
};

HIDDEN void goro__rtimer_init(rtimer_t *t, goro__rtimer_fn f, void *arg);
/* Arm (or re-arm) to fire at `when` (absolute, goro__nanotime()), then
 * every `period` ns if period > 0.  Callable from goroutines, the scheduler
 * stack, and foreign threads. */
HIDDEN void goro__rtimer_start(rtimer_t *t, int64_t when, int64_t period);
/* Disarm.  Returns true if the timer was pending.  When it returns, f is
 * not running and will not run (unless re-armed), except when called from
 * f itself. */
HIDDEN bool goro__rtimer_stop(rtimer_t *t);

/* Park the calling goroutine until readied or until `deadline` (absolute
 * ns; GORO_FOREVER = no deadline) - park.c.  Protocol: the caller sets
 * g->selectdone = 0 before publishing its waiter, and every waker must win
 * CAS(&g->selectdone, 0, 1) before completing that waiter (losers skip
 * it).  Returns true if the deadline won: the waiter may still be queued
 * and the caller must remove it under its own lock.  commit is as for
 * goro__park. */
HIDDEN bool goro__park_dl(int reason, goro__commit_fn commit, void *arg, int64_t deadline);
/* Block with nothing that can wake the goroutine (a NULL channel, a select
 * with no live case): forever if deadline < 0, else until the deadline,
 * or not at all, past a preemption point, if it has passed.  Returns
 * GORO_ETIMEDOUT. */
HIDDEN int goro__park_until(int reason, int64_t deadline);
#endif
