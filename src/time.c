/* time.c - the public time API: sleep, timers, tickers, AfterFunc, After.
 *
 * Design.  Everything here sits on the runtime timers of timer.c.
 *  - goro_sleep is goro__park_dl with no waker: the goroutine's cached
 *    timer is armed in the park commit, after the goroutine has switched
 *    out, so even a tiny sleep on one P cannot fire before the park
 *    completes.  A foreign thread just sleeps on the clock.
 *  - A goro_timer is an rtimer plus a 1-slot int64_t channel (timers and
 *    tickers) or a function (AfterFunc).  The callback try-sends the
 *    firing time, so a slow reader drops ticks instead of blocking the
 *    scheduler.  AfterFunc's callback starts fn(arg) in a new goroutine per
 *    firing.
 *  - Stop and Reset follow Go 1.23: t->mu serialises them; each first
 *    stops the rtimer (which waits out a callback running on another M),
 *    then drains the channel slot, so no value prepared before the call is
 *    received after it.  A drained one-shot value counts as "pending"
 *    (the timer had not been observed to fire), which keeps the old idiom
 *    `if (!stop(t)) recv(chan)` from blocking forever.
 *  - goro_after makes a one-shot timer nobody can stop.  Its callback sends
 *    and then releases its channel reference; the record itself cannot be
 *    freed inside its own callback (the runner touches it afterwards), so
 *    it is queued on a reaper list and freed by a later goro_after once
 *    its callback has fully returned.  Armed records are on a pending
 *    list, so goro_run's end frees those that never fired.
 *
 * Locks: t->mu (goro_timer) serialises stop/reset/free; the callback never
 * takes it (stop holds it while waiting for the callback).  Goroutines
 * wait for it by yielding (see mu_lock).  reap_lock
 * protects the reaper and pending lists.
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "timer.h"

enum { TK_CHAN = 1, TK_FUNC = 2 };

struct goro_timer {
  rtimer_t rt;
  goro__lock_t mu; /* serialises stop, reset and free (see Locks above) */
  int kind;
  int64_t period; /* tickers: > 0 */
  goro_chan *c;   /* TK_CHAN */
  goro_fn fn;     /* TK_FUNC */
  void *arg;
};

/* ------------------------------------------------------------------ */
/* Sleep                                                               */
/* ------------------------------------------------------------------ */

static void os_sleep_until(int64_t deadline) {
  struct timespec ts = {(time_t)(deadline / GORO_SECOND), (long)(deadline % GORO_SECOND)};
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
  }
}

int goro_sleep_until(int64_t deadline) {
  if (!goro__getg()) {
    if (deadline > goro__nanotime()) os_sleep_until(deadline);
    return 0;
  }
  /* A park with no waker: only the deadline ends it. */
  while (deadline > goro__nanotime()) {
    atomic_store(&goro__getg()->selectdone, 0);
    goro__park_dl(WR_SLEEP, NULL, NULL, deadline);
  }
  return 0;
}

int goro_sleep(int64_t ns) {
  if (ns <= 0) {
    if (goro__getg()) goro_yield();
    return 0;
  }
  return goro_sleep_until(goro__nanotime() + ns);
}

/* ------------------------------------------------------------------ */
/* Timers                                                              */
/* ------------------------------------------------------------------ */

static void chan_fire(void *arg, int64_t now) {
  goro_timer *t = arg;
  int64_t v = now;
  (void)goro_chan_try_send(t->c, &v); /* full: the reader is slow, drop */
}

static void func_fire(void *arg, int64_t now) {
  (void)now;
  goro_timer *t = arg;
  (void)goro__new_goroutine(t->fn, t->arg, 0, NULL, (void *)func_fire, false);
}

static int64_t when_after(int64_t delay) {
  int64_t now = goro__nanotime();
  if (delay <= 0) return now;
  if (delay > INT64_MAX - now) return INT64_MAX - 1;
  return now + delay;
}

static int timer_new(goro_timer **out, int kind, int64_t delay, int64_t period, goro_fn fn,
                     void *arg) {
  if (!out) return GORO_EINVAL;
  *out = NULL;
  if (!atomic_load(&goro__sched.running)) return GORO_ENOTRUNNING;
  goro_timer *t = calloc(1, sizeof *t);
  if (!t) return GORO_ENOMEM;
  t->kind = kind;
  t->period = period;
  t->fn = fn;
  t->arg = arg;
  if (kind == TK_CHAN) {
    int r = goro_chan_make(&t->c, sizeof(int64_t), 1);
    if (r < 0) {
      free(t);
      return r;
    }
    goro__rtimer_init(&t->rt, chan_fire, t);
  } else {
    goro__rtimer_init(&t->rt, func_fire, t);
  }
  goro__rtimer_start(&t->rt, when_after(delay), period);
  *out = t;
  return 0;
}

int goro_timer_make(goro_timer **out, int64_t delay) {
  return timer_new(out, TK_CHAN, delay, 0, NULL, NULL);
}

int goro_ticker_make(goro_timer **out, int64_t period) {
  if (period <= 0) {
    if (out) *out = NULL;
    return GORO_EINVAL;
  }
  return timer_new(out, TK_CHAN, period, period, NULL, NULL);
}

int goro_after_func(goro_timer **out, int64_t delay, goro_fn fn, void *arg) {
  if (!fn) {
    if (out) *out = NULL;
    return GORO_EINVAL;
  }
  return timer_new(out, TK_FUNC, delay, 0, fn, arg);
}

goro_chan *goro_timer_chan(goro_timer *t) { return t ? t->c : NULL; }

/* t->mu is held across channel calls, which are preemption points: a
 * holder may be switched out, so a goroutine that finds it taken must
 * yield rather than block its thread (on one P that would deadlock).
 * Foreign threads just block. */
static void mu_lock(goro__lock_t *l) {
  if (goro__trylock(l)) return;
  if (!goro__getg()) {
    goro__lock(l);
    return;
  }
  for (int i = 0; !goro__trylock(l); i++) {
    if (i < 32)
      goro__cpu_relax();
    else
      goro_yield();
  }
}

/* t->mu held.  Stop the rtimer and drop any value already in the slot. */
static bool stop_locked(goro_timer *t) {
  bool pending = goro__rtimer_stop(&t->rt);
  if (t->kind == TK_CHAN) {
    int64_t v;
    bool drained = goro_chan_try_recv(t->c, &v, NULL) == 0;
    if (drained && t->period == 0) pending = true;
  }
  return pending;
}

bool goro_timer_stop(goro_timer *t) {
  if (!t) return false;
  mu_lock(&t->mu);
  bool pending = stop_locked(t);
  goro__unlock(&t->mu);
  return pending;
}

/* A ticker's Reset also sets the new period; a non-positive one (which
 * Go rejects with a panic) leaves the ticker untouched and returns
 * false. */
bool goro_timer_reset(goro_timer *t, int64_t delay) {
  if (!t) return false;
  if (t->period > 0 && delay <= 0) return false;
  mu_lock(&t->mu);
  bool pending = stop_locked(t);
  if (t->period > 0) t->period = delay;
  goro__rtimer_start(&t->rt, when_after(delay), t->period);
  goro__unlock(&t->mu);
  return pending;
}

void goro_timer_free(goro_timer *t) {
  if (!t) return;
  mu_lock(&t->mu);
  goro__rtimer_stop(&t->rt);
  goro__unlock(&t->mu);
  if (t->c) goro_chan_release(t->c);
  free(t);
}

/* ------------------------------------------------------------------ */
/* goro_after                                                          */
/* ------------------------------------------------------------------ */

typedef struct after_rec {
  rtimer_t rt;
  goro_chan *c;
  struct after_rec *next, *prev; /* pending list (doubly linked) or reap list (next) */
} after_rec;

static goro__lock_t reap_lock;
static after_rec *reap_list;
static after_rec *pending; /* armed, not fired yet (reap_lock) */

static void after_fire(void *arg, int64_t now) {
  after_rec *a = arg;
  int64_t v = now;
  (void)goro_chan_try_send(a->c, &v);
  goro_chan_release(a->c);
  a->c = NULL;
  goro__lock(&reap_lock);
  if (a->prev)
    a->prev->next = a->next;
  else
    pending = a->next;
  if (a->next) a->next->prev = a->prev;
  a->prev = NULL;
  a->next = reap_list;
  reap_list = a;
  goro__unlock(&reap_lock);
}

static void free_recs(after_rec *a) {
  while (a) {
    after_rec *next = a->next;
    free(a);
    a = next;
  }
}

/* goro_run's end, after every M has stopped and the timer heaps are gone:
 * free the records of goro_after timers that never fired (and their
 * reference to the channel) and those still waiting to be reaped. */
void goro__after_shutdown(void) {
  goro__lock(&reap_lock);
  after_rec *p = pending, *r = reap_list;
  pending = NULL;
  reap_list = NULL;
  goro__unlock(&reap_lock);
  for (after_rec *a = p; a; a = a->next) goro__chan_release_at_exit(a->c);
  free_recs(p);
  free_recs(r);
}

/* Free the records whose callbacks have completely returned. */
static void reap(void) {
  goro__lock(&reap_lock);
  after_rec *list = reap_list, *keep = NULL, *dead = NULL;
  reap_list = NULL;
  while (list) {
    after_rec *a = list;
    list = a->next;
    if (atomic_load(&a->rt.state) == 0) {
      a->next = dead;
      dead = a;
    } else {
      a->next = keep;
      keep = a;
    }
  }
  reap_list = keep;
  goro__unlock(&reap_lock);
  free_recs(dead);
}

int goro_after(goro_chan **out, int64_t delay) {
  if (!out) return GORO_EINVAL;
  *out = NULL;
  if (!atomic_load(&goro__sched.running)) return GORO_ENOTRUNNING;
  reap();
  after_rec *a = calloc(1, sizeof *a);
  if (!a) return GORO_ENOMEM;
  goro_chan *c;
  int r = goro_chan_make(&c, sizeof(int64_t), 1);
  if (r < 0) {
    free(a);
    return r;
  }
  a->c = goro_chan_retain(c); /* one for the timer, one for the caller */
  goro__rtimer_init(&a->rt, after_fire, a);
  goro__lock(&reap_lock);
  a->next = pending;
  if (pending) pending->prev = a;
  pending = a;
  goro__unlock(&reap_lock);
  goro__rtimer_start(&a->rt, when_after(delay), 0);
  *out = c;
  return 0;
}
