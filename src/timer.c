/* timer.c - runtime timers: per-P 4-ary heaps run by the scheduler.
 *
 * Design.  Each P owns a heap of {when, timer} entries (4-ary: shallow,
 * and a node's four children share a cache line or two; sifting compares
 * the copied `when`s and never dereferences a timer).  The root's `when`
 * is mirrored in an atomic (minwhen) so the scheduler, the deadlock check
 * and other Ps read a heap's next deadline without its lock.  The
 * scheduler calls goro__timers_check(p, now) at every findrunnable: it
 * pops each due root, releases every lock, calls f(arg, now) on the
 * scheduler stack, and for a periodic timer pushes it back at
 * when + period * (1 + late/period), so missed ticks are dropped rather
 * than bunched.  Idle Ms sleep in the poller until the minimum minwhen of
 * all Ps; arming a timer that becomes the root of its heap wakes the
 * poller (goro__wake_netpoller) after all timer locks are released.
 *
 * Stop and re-arm are eager: a timer knows its heap (t->p) and its index
 * (t->idx) and is removed in O(log n).  Go's lazy scheme (zombie and
 * modified bits fixed up by the owning P) saves a heap lock per reset of a
 * timer armed on another P, but costs a scan of the whole heap when fixed
 * up and a harder invariant; resets here are rare enough (deadlines,
 * sleeps, user timers) that the simple form wins.
 *
 * Locks and what they protect.
 *  - heap lock (struct goro__timers.lock): the heap array and len, and for
 *    every timer in the heap its t->idx and t->p.  t->p changes only with
 *    the lock of the heap the timer enters or leaves held, and is read
 *    atomically by code that holds only the timer's lock (which then
 *    locks that heap and re-checks t->p: a GOMAXPROCS shrink may move a
 *    timer between heaps without its timer lock).
 *  - timer lock (t->lock): when, period, seq and heap membership changes
 *    made by start/stop.
 *  Lock order: sched.lock -> timer lock -> heap lock; never two heap
 *  locks except in goro__timers_move (serialised by sched.lock).  The
 *  runner holds a heap lock and needs the root's timer lock, against that
 *  order, so it only try-locks it and on failure drops the heap lock and
 *  retries: it never touches a timer it does not hold through the heap,
 *  so a timer that is stopped and freed meanwhile is never dereferenced.
 *
 * Running callbacks.  t->state = 4 * (callbacks running) | REARM |
 * HEAPED.  The runner raises the count while holding both locks, when it
 * takes the timer off the heap, and lowers it as its very last access to
 * the timer (after its optional periodic re-push).  A periodic timer is
 * marked REARM while its callback runs: it is still pending, and a stop
 * then clears the mark (and reports true) so it is not pushed back.  goro__rtimer_stop removes the
 * timer and then spins until the count drops to zero (or to one, when
 * called from the callback itself), so when it returns f is neither
 * running nor going to run and the memory may be reused or freed.  seq
 * is bumped by every start and stop; a periodic timer whose seq changed
 * while its callback ran was re-armed or stopped meanwhile and is not
 * pushed back by that run.
 *
 * A P that retires (GOMAXPROCS shrink) hands all its timers to P 0; a
 * re-push that finds its heap's P dead goes to P 0 as well.
 *
 * Precision.  The poller's epoll_pwait2 timeout is an hrtimer, which
 * Linux lets fire up to the thread's timer slack (50 us by default) late.
 * Every M sets its slack to 1 ns when it starts (sched.c mstart, and M0 in
 * goro_run), which brings the median lateness of a 100 us sleep on an idle
 * runtime from ~70 us to ~20 us.
 */
#include "internal.h"

#include <limits.h>
#include <stddef.h>
#include <stdlib.h>

#include "timer.h"

#define NOWHEN INT64_MAX /* minwhen of an empty heap */
#define ST_HEAPED 1u     /* in some heap */
#define ST_REARM 2u      /* periodic, callback running, to be pushed back */
#define ST_RUN 4u        /* one running callback (a count in these units) */

typedef struct {
  int64_t when;
  rtimer_t *t;
} hent_t;

struct goro__timers {
  _Atomic int64_t minwhen; /* heap[0].when, or NOWHEN; written under lock, read without
                            * (first: goro__timers_any in internal.h reads it) */
  goro__lock_t lock;       /* the heap lock (see "Locks" above) */
  int32_t len, cap;        /* lock */
  hent_t *heap;            /* lock */
};
_Static_assert(offsetof(struct goro__timers, minwhen) == 0, "goro__timers_any reads minwhen first");
_Static_assert(NOWHEN == INT64_MAX, "goro__timers_any tests against INT64_MAX");

/* The timer whose callback this thread is running (stop from inside f
 * must not wait for itself).  Only scheduler-stack code sets it. */
static __thread rtimer_t *running_here;

static inline p_t *tp_load(rtimer_t *t) { return __atomic_load_n(&t->p, __ATOMIC_ACQUIRE); }
static inline void tp_store(rtimer_t *t, p_t *p) { __atomic_store_n(&t->p, p, __ATOMIC_RELEASE); }

/* ------------------------------------------------------------------ */
/* The 4-ary heap (heap lock held)                                     */
/* ------------------------------------------------------------------ */

static void heap_set(goro__timers_t *h, int32_t i, hent_t e) {
  h->heap[i] = e;
  e.t->idx = i;
}

static void sift_up(goro__timers_t *h, int32_t i) {
  hent_t e = h->heap[i];
  while (i > 0) {
    int32_t parent = (i - 1) / 4;
    if (h->heap[parent].when <= e.when) break;
    heap_set(h, i, h->heap[parent]);
    i = parent;
  }
  heap_set(h, i, e);
}

static void sift_down(goro__timers_t *h, int32_t i) {
  hent_t e = h->heap[i];
  int32_t n = h->len;
  for (;;) {
    int32_t c = 4 * i + 1;
    if (c >= n) break;
    int32_t best = c;
    int32_t end = c + 4 < n ? c + 4 : n;
    for (int32_t k = c + 1; k < end; k++)
      if (h->heap[k].when < h->heap[best].when) best = k;
    if (h->heap[best].when >= e.when) break;
    heap_set(h, i, h->heap[best]);
    i = best;
  }
  heap_set(h, i, e);
}

static void update_min(goro__timers_t *h) {
  atomic_store_explicit(&h->minwhen, h->len ? h->heap[0].when : NOWHEN, memory_order_release);
}

static void heap_grow(goro__timers_t *h) {
  int32_t ncap = h->cap ? h->cap * 2 : 64;
  hent_t *nh = realloc(h->heap, (size_t)ncap * sizeof *nh);
  if (!nh) goro__fatal("out of memory for the timer heap (%d timers)", h->len);
  h->heap = nh;
  h->cap = ncap;
}

/* Insert t (its when already set); true if it became the root. */
static bool heap_insert(goro__timers_t *h, p_t *p, rtimer_t *t) {
  if (h->len == h->cap) heap_grow(h);
  int32_t i = h->len++;
  h->heap[i] = (hent_t){t->when, t};
  t->idx = i;
  tp_store(t, p);
  sift_up(h, i);
  update_min(h);
  return t->idx == 0;
}

static void heap_delete(goro__timers_t *h, int32_t i) {
  rtimer_t *t = h->heap[i].t;
  int32_t last = --h->len;
  if (i != last) {
    hent_t e = h->heap[last];
    heap_set(h, i, e);
    if (i > 0 && h->heap[(i - 1) / 4].when > e.when)
      sift_up(h, i);
    else
      sift_down(h, i);
  }
  t->idx = -1;
  tp_store(t, NULL);
  update_min(h);
}

/* ------------------------------------------------------------------ */
/* Membership (timer lock held)                                        */
/* ------------------------------------------------------------------ */

/* Push t into p's heap, or P 0's if p has retired.  Returns true if t is
 * now the earliest timer of that heap. */
static bool timer_push(rtimer_t *t, p_t *p) {
  for (;;) {
    goro__timers_t *h = p->timers;
    goro__lock(&h->lock);
    /* A retired P's timers were (or are being) moved to P 0; the status
     * is set before goro__timers_move takes this lock. */
    if (atomic_load(&p->status) == P_DEAD && p != goro__sched.allp[0]) {
      goro__unlock(&h->lock);
      p = goro__sched.allp[0];
      continue;
    }
    bool first = heap_insert(h, p, t);
    atomic_fetch_or(&t->state, ST_HEAPED);
    goro__unlock(&h->lock);
    return first;
  }
}

/* Take t out of whatever heap it is in.  Returns true if it was in one. */
static bool timer_unheap(rtimer_t *t) {
  for (;;) {
    p_t *p = tp_load(t);
    if (!p) return false;
    goro__timers_t *h = p->timers;
    goro__lock(&h->lock);
    if (tp_load(t) == p) {
      heap_delete(h, t->idx);
      atomic_fetch_and(&t->state, ~ST_HEAPED);
      goro__unlock(&h->lock);
      return true;
    }
    goro__unlock(&h->lock); /* moved meanwhile: follow it */
  }
}

/* ------------------------------------------------------------------ */
/* The rtimer API (timer.h)                                            */
/* ------------------------------------------------------------------ */

void goro__rtimer_init(rtimer_t *t, goro__rtimer_fn f, void *arg) {
  t->f = f;
  t->arg = arg;
  t->when = 0;
  t->period = 0;
  atomic_store(&t->lock.word, 0);
  atomic_store(&t->state, 0);
  t->p = NULL;
  t->idx = -1;
  atomic_store(&t->seq, 0);
}

void goro__rtimer_start(rtimer_t *t, int64_t when, int64_t period) {
  if (when < 0) when = 0;
  m_t *m = goro__getm();
  p_t *p = m && m->p ? m->p : goro__sched.allp[0];
  if (!p) goro__throw("timer armed while the runtime is not running");
  goro__lock(&t->lock);
  atomic_fetch_add(&t->seq, 1);
  timer_unheap(t);
  atomic_fetch_and(&t->state, ~ST_REARM);
  t->when = when;
  t->period = period > 0 ? period : 0;
  bool first = timer_push(t, p);
  goro__unlock(&t->lock);
  if (first) goro__wake_netpoller(when);
}

bool goro__rtimer_stop(rtimer_t *t) {
  goro__lock(&t->lock);
  atomic_fetch_add(&t->seq, 1);
  bool pending = timer_unheap(t);
  if (atomic_fetch_and(&t->state, ~ST_REARM) & ST_REARM) pending = true;
  goro__unlock(&t->lock);
  /* Wait out a callback running on another M.  It is short (ready a
   * goroutine, try-send, spawn), so spin, yielding the thread now and
   * then in case its M was descheduled. */
  uint32_t self = running_here == t ? ST_RUN : 0;
  for (int spins = 0; (atomic_load(&t->state) & ~(ST_HEAPED | ST_REARM)) > self; spins++) {
    if (spins < 64)
      goro__cpu_relax();
    else
      goro__osyield();
  }
  return pending;
}

/* ------------------------------------------------------------------ */
/* Scheduler hooks                                                     */
/* ------------------------------------------------------------------ */

void goro__timers_p_init(p_t *p) {
  goro__timers_t *h = calloc(1, sizeof *h);
  if (!h) goro__fatal("out of memory for a timer heap");
  atomic_store(&h->minwhen, NOWHEN);
  p->timers = h;
}

void goro__timers_p_destroy(p_t *p) {
  goro__timers_t *h = p->timers;
  if (!h) return;
  for (int32_t i = 0; i < h->len; i++) {
    rtimer_t *t = h->heap[i].t;
    t->idx = -1;
    tp_store(t, NULL);
    atomic_fetch_and(&t->state, ~ST_HEAPED);
  }
  free(h->heap);
  free(h);
  p->timers = NULL;
}

int64_t goro__timers_next(p_t *p) {
  goro__timers_t *h = p->timers;
  if (!h) return -1;
  int64_t w = atomic_load_explicit(&h->minwhen, memory_order_acquire);
  return w == NOWHEN ? -1 : w;
}

int64_t goro__timers_check(p_t *p, int64_t now) {
  goro__timers_t *h = p->timers;
  if (!h) return -1;
  int64_t w = atomic_load_explicit(&h->minwhen, memory_order_acquire);
  if (w == NOWHEN) return -1;
  if (w > now) return w;
  /* Goroutines readied by callbacks go to this M's local run queue; once
   * it is nearly full they would spill to the global queue, behind
   * everything there.  Leave the remaining due timers for the next
   * round instead (the scheduler comes back as soon as it has run some
   * of the queue). */
  m_t *m = goro__getm();
  p_t *rp = m ? m->p : NULL;
  int busy = 0;
  goro__lock(&h->lock);
  while (h->len > 0 && h->heap[0].when <= now) {
    if (rp && goro__runq_len(rp) >= RUNQ_SIZE - 2) break;
    rtimer_t *t = h->heap[0].t;
    if (!goro__trylock(&t->lock)) {
      /* Its owner is starting or stopping it and will want this heap
       * lock: let go, and look at the root again. */
      goro__unlock(&h->lock);
      if (++busy < 16)
        for (int k = 0; k < 64; k++) goro__cpu_relax();
      else
        goro__osyield();
      goro__lock(&h->lock);
      continue;
    }
    busy = 0;
    heap_delete(h, 0);
    uint64_t seq = atomic_load(&t->seq);
    goro__rtimer_fn f = t->f;
    void *arg = t->arg;
    int64_t when = t->when, period = t->period;
    atomic_fetch_add(&t->state, ST_RUN);
    atomic_fetch_and(&t->state, ~ST_HEAPED);
    if (period > 0) atomic_fetch_or(&t->state, ST_REARM);
    goro__unlock(&t->lock);
    goro__unlock(&h->lock);

    rtimer_t *outer = running_here;
    running_here = t;
    f(arg, now);
    running_here = outer;

    if (period > 0) {
      goro__lock(&t->lock);
      /* An unchanged seq means nobody started or stopped it since, so
       * the REARM mark is this run's. */
      if (atomic_load(&t->seq) == seq && (atomic_fetch_and(&t->state, ~ST_REARM) & ST_REARM) &&
          !tp_load(t)) {
        /* Drop the ticks we are late for. */
        t->when = when + period * (1 + (now - when) / period);
        timer_push(t, p);
      }
      goro__unlock(&t->lock);
    }
    atomic_fetch_sub(&t->state, ST_RUN); /* last access to t */
    goro__lock(&h->lock);
  }
  int64_t next = h->len ? h->heap[0].when : -1;
  goro__unlock(&h->lock);
  return next;
}

void goro__timers_move(p_t *from, p_t *to) {
  if (from == to || !from->timers || !to->timers) return;
  goro__timers_t *hf = from->timers, *ht = to->timers;
  goro__lock(&hf->lock);
  if (hf->len == 0) {
    goro__unlock(&hf->lock);
    return;
  }
  goro__lock(&ht->lock);
  int64_t before = ht->len ? ht->heap[0].when : NOWHEN;
  for (int32_t i = 0; i < hf->len; i++) heap_insert(ht, to, hf->heap[i].t);
  hf->len = 0;
  update_min(hf);
  bool earlier = ht->heap[0].when < before;
  goro__unlock(&ht->lock);
  goro__unlock(&hf->lock);
  /* Called under sched.lock, so no wakep here.  A blocked poller
   * recomputes its timeout over every P when broken.  If nobody polls and
   * the caller is an M that just lost its P (the scheduler retiring it
   * before the M sleeps), nothing would look at the moved timers: hand
   * an idle P to an idle M, which will run them or poll until them.
   * (Only with an idle M at hand: starting a new one would drop
   * sched.lock in the middle of the retirement.) */
  if (earlier) goro__netpoll_break();
  m_t *m = goro__getm();
  if (m && !m->p && atomic_load(&goro__sched.lastpoll) != 0 && goro__sched.midle) {
    p_t *ip = goro__pidleget();
    if (ip) goro__startm(ip, false, true);
  }
}
