/* sched.c - the M:N scheduler: Ms find runnable Gs and run them on Ps.
 *
 * Design: Go's.  Each M runs the loop in goro__mstart_loop on its own
 * thread stack (its "g0").  A goroutine always switches to g0 to block,
 * yield or exit (goro__mcall), and g0 then finishes the operation (runs a
 * park's commit, queues a yielded G, recycles a dead one) before picking
 * the next G.  findrunnable looks, in order, at: this P's timers, the
 * global queue every 61st slice, the local queue, the global queue, a
 * non-blocking netpoll, the other Ps (stealing, as a "spinning" M), and
 * finally gives up its P and blocks in the netpoller (one M at a time, until
 * the next timer) or sleeps on its note.  Shared-stack goroutines
 * (sstack.c) never enter those queues: they wait in their home P's inbox,
 * take turns with the local queue, always switch through g0 (which copies
 * their stack out after they switch out and in before they run), and keep
 * a P from going idle or being handed off while any wait for it.
 *
 * The spinning protocol (no lost wake-ups, no thundering herd):
 *  1. A submitter publishes work (run queue, timer heap), then calls
 *     goro__wakep, whose seq-cst RMW on nmspinning is the StoreLoad fence:
 *     if no M is spinning and a P is idle, it makes one M spinning.
 *  2. A spinning M that finds work stops spinning and, because it was the
 *     spinner, calls wakep again (resetspinning): the last spinner to find
 *     work wakes a replacement, so parallelism ramps up one M at a time.
 *  3. A spinning M that gives up first releases its P, *then* decrements
 *     nmspinning (seq-cst), *then* re-checks every run queue; reversing
 *     the order would let a submitter see a spinner that has already
 *     finished looking.
 *  4. At most half of the busy Ps spin at once.
 *
 * Invariants: a P is owned by at most one M; a G is on at most one queue;
 * m->curg is non-NULL exactly while a G runs on the M (g0 code sees NULL).
 *
 * Locking: goro__sched.lock protects the global run queue, the idle M and
 * idle P lists, M counts and allp writes.  Lock order: sched.lock before a
 * P's timer-heap lock; never ready a goroutine or call wakep while holding
 * sched.lock (wakep takes it).
 *
 * Fast path: when a G yields, parks or exits and the next G is already in
 * this P's local queue (and no timer, locked thread or 61st-tick check
 * needs the scheduler), goro__mcall switches straight to it (try_direct).
 * What must happen after the old G is off its stack (a park's commit,
 * queueing a yielded G, recycling a dead one) is then done by the G that
 * resumes, in finish_prev, before it returns to its own code: every resume
 * point (goro__mcall, gentry) calls it.  This halves the switches of a
 * ping-pong.
 *
 * Rejected: a single global queue (contention); Go's async signal
 * preemption (see preempt.c).
 */
#include "sched.h"
#include "sstack.h"

#include <pthread.h>
#include <sys/prctl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef GORO_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#ifdef GORO_TSAN
#include <sanitizer/tsan_interface.h>
#endif

goro__sched_t goro__sched;

__thread m_t *goro__tls_m;
__thread _Atomic uint32_t goro__tls_preempt;

/* Not inlined, and opaque to the optimizer: a goroutine may resume on
 * another thread after any call that can block, so the thread-local read
 * must happen again every time (DESIGN: the migration hazard). */
#if !defined(__x86_64__)
NOINLINE m_t *goro__getm(void) {
  m_t *m = goro__tls_m;
  __asm__ __volatile__("" : "+r"(m)::"memory");
  return m;
}
#endif

void goro__set_tls_m(m_t *m) {
  goro__tls_m = m;
  if (m) m->preempt_word = &goro__tls_preempt;
}

/* ------------------------------------------------------------------ */
/* Switching between a G and g0                                        */
/* ------------------------------------------------------------------ */

static inline size_t gstack_size(g_t *g) {
  return g->stack_size ? g->stack_size : goro__stack_default;
}

/* Switch from the context `from` to `to`, whose stack is [to_lo,
 * to_lo + to_size), telling the sanitizers (ASan's fake stacks, TSan's
 * fibers) about it.  `dying`: the context left never resumes, so its fake
 * stack is released.  Returns when `from` is resumed, perhaps on another
 * M. */
static inline void annotated_switch(goro__ctx_t *from, goro__ctx_t *to, char *to_lo, size_t to_size,
                                    void *to_fiber, bool dying) {
#ifdef GORO_ASAN
  void *fake = NULL;
  __sanitizer_start_switch_fiber(dying ? NULL : &fake, to_lo, to_size);
#else
  (void)to_lo;
  (void)to_size;
  (void)dying;
#endif
#ifdef GORO_TSAN
  __tsan_switch_to_fiber(to_fiber, 0);
#else
  (void)to_fiber;
#endif
  goro__ctx_switch(from, to);
#ifdef GORO_ASAN
  __sanitizer_finish_switch_fiber(fake, NULL, NULL);
#endif
}

#ifdef GORO_TSAN
#define G_FIBER(g) ((g)->tsan_fiber)
#define G0_FIBER(m) ((m)->tsan_g0_fiber)
#else
#define G_FIBER(g) NULL
#define G0_FIBER(m) NULL
#endif

/* From g0 to G. */
static void switch_to_g(m_t *m, g_t *g) {
  annotated_switch(&m->g0ctx, &g->ctx, g->stack_lo + GORO_PAGE, gstack_size(g) - GORO_PAGE,
                   G_FIBER(g), false);
}

/* From G to its M's g0. */
static inline void switch_to_g0(m_t *m, g_t *g, bool dying) {
  annotated_switch(&g->ctx, &m->g0ctx, m->g0_lo, m->g0_size, G0_FIBER(m), dying);
}

static inline __attribute__((always_inline)) bool try_direct(m_t *m, g_t *g, int action);
static inline void finish_prev(m_t *m);

void goro__mcall(m_t *m, g_t *g, int action) {
  if (action == ACT_YIELD || action == ACT_PARK) {
    if (try_direct(m, g, action)) {
      finish_prev(goro__getm());
      return;
    }
  }
  m->action = action;
  switch_to_g0(m, g, false);
  finish_prev(goro__getm());
}

noreturn void goro__goexit(void) {
  m_t *m = goro__getm();
  g_t *g = m->curg;
  if (!try_direct(m, g, ACT_EXIT)) {
    m->action = ACT_EXIT;
    switch_to_g0(m, g, true);
  }
  goro__throw("goexit: dead goroutine resumed");
}

static void gentry(void *arg) {
  g_t *g = arg;
#ifdef GORO_ASAN
  __sanitizer_finish_switch_fiber(NULL, NULL, NULL);
#endif
  finish_prev(goro__getm());
  g->fn(g->arg);
  goro__goexit();
}

/* Give a never-run G its stack.  On g0. */
static void start_g(p_t *p, g_t *g) {
  if (g->ss) {
    goro__ss_start(p, g);
    goro__ctx_make(&g->ctx, g->stack_lo + GORO_PAGE, GORO_SSTACK_SIZE - GORO_PAGE, gentry, g);
    return;
  }
  int err = 0;
  char *lo = goro__stack_get(&p->stacks, g->stack_size, &err);
  if (!lo)
    goro__fatal("cannot allocate a %zu-byte stack for goroutine %lld: %s", gstack_size(g),
                (long long)g->id, goro_strerror(err));
  g->stack_lo = lo;
#ifdef GORO_ASAN
  /* A recycled stack still carries the poisoned redzones of the frames of
   * the goroutine that died on it (its frames never returned). */
  __asan_unpoison_memory_region(lo + GORO_PAGE, gstack_size(g) - GORO_PAGE);
#endif
  goro__ctx_make(&g->ctx, lo + GORO_PAGE, gstack_size(g) - GORO_PAGE, gentry, g);
#ifdef GORO_TSAN
  /* One fiber per G record, kept while the record is recycled: creating
   * fibers is expensive and the tool caps their number. */
  if (!g->tsan_fiber) g->tsan_fiber = __tsan_create_fiber(0);
#endif
}

/* ------------------------------------------------------------------ */
/* P and M lists                                                       */
/* ------------------------------------------------------------------ */

void goro__acquirep(m_t *m, p_t *p) {
  if (!p) goro__throw("acquirep: nil p");
  m->p = p;
  p->m = m;
  atomic_store(&p->status, P_RUNNING);
}

p_t *goro__releasep(m_t *m) {
  p_t *p = m->p;
  p->m = NULL;
  m->p = NULL;
  atomic_store(&p->status, P_IDLE);
  return p;
}

/* A P beyond GOMAXPROCS (after a shrink) retires instead of going idle.
 * sched.lock held. */
static void retirep(p_t *p) {
  p->m = NULL;
  atomic_store(&p->status, P_DEAD);
  /* Its queue and timers move to P 0; its caches drain. */
  bool inh;
  g_t *g;
  while ((g = goro__runqget(p, &inh)) != NULL) goro__globrunqput(g);
  if (goro__timers_next(p) != -1) atomic_store(&goro__sched.retired_work, 1);
  if (goro__sched.runqtail) atomic_store(&goro__sched.retired_work, 1); /* and Gs */
  goro__timers_move(p, goro__sched.allp[0]);
  goro__stack_flush(&p->stacks);
  if (p->gfree) {
    g_t *tail = p->gfree;
    int n = 1;
    while (tail->schedlink) {
      tail = tail->schedlink;
      n++;
    }
    goro__gfree_push(p->gfree, tail, n);
    p->gfree = NULL;
  }
  p->ngfree = 0;
}

static void flush_counts(p_t *p) {
  int64_t sd = atomic_load_explicit(&p->spawndelta, memory_order_relaxed);
  /* Spawned first, then zero its delta: a concurrent goro_stats may count
   * a batch twice for an instant, never lose it. */
  if (sd) atomic_fetch_add_explicit(&goro__sched.spawned, sd, memory_order_relaxed);
  atomic_store_explicit(&p->spawndelta, 0, memory_order_relaxed);
}

/* After a P retired with timers (moved to P 0) or runnable goroutines
 * (moved to the global queue): make sure someone will run them; every
 * other P may be idle.  Call without sched.lock. */
static void kick_moved_timers(void) {
  if (UNLIKELY(atomic_load_explicit(&goro__sched.retired_work, memory_order_relaxed)) &&
      atomic_exchange(&goro__sched.retired_work, 0)) {
    int64_t w = goro__timers_next(goro__sched.allp[0]);
    if (w != -1) goro__wake_netpoller(w);
    goro__wakep();
  }
}

void goro__pidleput(p_t *p) {
  flush_counts(p);
  /* A P beyond GOMAXPROCS (cut by a shrink) never sits on the idle list. */
  if (p->id >= atomic_load(&goro__sched.gomaxprocs)) {
    retirep(p);
    return;
  }
  if (!goro__runq_empty(p)) goro__throw("pidleput: P has a non-empty run queue");
  p->m = NULL;
  atomic_store(&p->status, P_IDLE);
  p->link = goro__sched.pidle;
  goro__sched.pidle = p;
  atomic_fetch_add(&goro__sched.npidle, 1);
}

bool goro__pidletake(p_t *p) {
  p_t **link = &goro__sched.pidle;
  while (*link && *link != p) link = &(*link)->link;
  if (!*link) return false;
  *link = p->link;
  p->link = NULL;
  atomic_fetch_sub(&goro__sched.npidle, 1);
  return true;
}

p_t *goro__pidleget(void) {
  p_t *p = goro__sched.pidle;
  if (p) {
    goro__sched.pidle = p->link;
    p->link = NULL;
    atomic_fetch_sub(&goro__sched.npidle, 1);
  }
  return p;
}

static void mput(m_t *m) {
  m->schedlink = goro__sched.midle;
  goro__sched.midle = m;
  goro__sched.nmidle++;
}

static m_t *mget(void) {
  m_t *m = goro__sched.midle;
  if (m) {
    goro__sched.midle = m->schedlink;
    m->schedlink = NULL;
    goro__sched.nmidle--;
  }
  return m;
}

static bool mremove(m_t *m) {
  for (m_t **pm = &goro__sched.midle; *pm; pm = &(*pm)->schedlink) {
    if (*pm == m) {
      *pm = m->schedlink;
      m->schedlink = NULL;
      goro__sched.nmidle--;
      return true;
    }
  }
  return false;
}

/* ------------------------------------------------------------------ */
/* Starting and stopping Ms                                            */
/* ------------------------------------------------------------------ */

static void *mstart(void *arg) {
  m_t *m = arg;
  goro__set_tls_m(m);
  m->tid = goro__gettid();
  pthread_attr_t attr;
  if (pthread_getattr_np(pthread_self(), &attr) == 0) {
    void *lo;
    size_t sz;
    pthread_attr_getstack(&attr, &lo, &sz);
    m->g0_lo = lo;
    m->g0_size = sz;
    pthread_attr_destroy(&attr);
  }
#ifdef GORO_TSAN
  m->tsan_g0_fiber = __tsan_get_current_fiber();
#endif
  goro__msetup_signals(m);
  prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0); /* precise timed waits in the poller */
  if (m->nextp) {
    goro__acquirep(m, m->nextp);
    m->nextp = NULL;
  }
  goro__mstart_loop(m);
  goro__mexit_signals(m);
  goro__lock(&goro__sched.lock);
  goro__sched.mcount--;
  goro__unlock(&goro__sched.lock);
  return NULL;
}

m_t *goro__newm(p_t *p, bool spinning) {
  m_t *m = calloc(1, sizeof *m);
  if (!m) goro__fatal("out of memory creating a thread");
  m->nextp = p;
  m->spinning = spinning;
  goro__lock(&goro__sched.lock);
  m->id = goro__sched.mnext++;
  goro__sched.mcount++; /* counted as running from now on (checkdead) */
  m->alllink = goro__sched.allm;
  goro__sched.allm = m;
  goro__unlock(&goro__sched.lock);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 512 << 10);
  /* Signals stay blocked in a new M until it has its alternate stack. */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int r = pthread_create(&m->thread, &attr, mstart, m);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  pthread_attr_destroy(&attr);
  if (r != 0) goro__fatal("cannot create a thread: %s (%d threads exist)", goro_strerror(-r),
                          goro__sched.mcount);
  return m;
}

void goro__startm(p_t *p, bool spinning, bool locked) {
  if (!locked) goro__lock(&goro__sched.lock);
  m_t *m = mget();
  if (!locked) goro__unlock(&goro__sched.lock);
  if (!m) {
    if (locked) goro__unlock(&goro__sched.lock);
    goro__newm(p, spinning);
    if (locked) goro__lock(&goro__sched.lock);
    return;
  }
  if (m->spinning || m->nextp) goro__throw("startm: M is spinning or has a P");
  m->spinning = spinning;
  m->nextp = p;
  goro__note_wake(&m->park);
}

/* Park this M until someone hands it a P (or shutdown). */
static void stopm(m_t *m) {
  if (m->p) goro__throw("stopm: holding a P");
  if (m->spinning) goro__throw("stopm: spinning");
  goro__lock(&goro__sched.lock);
  mput(m);
  goro__checkdead();
  goro__unlock(&goro__sched.lock);
  for (;;) {
    int64_t timeout = m->is_main ? -1 : goro__sched.idle_m_timeout;
    if (goro__note_sleep_for(&m->park, timeout)) break;
    /* Idle for long: leave, unless a waker is handing us a P right now. */
    goro__lock(&goro__sched.lock);
    bool mine = mremove(m);
    if (mine) {
      /* Everything that touches m happens under the lock: once it is
       * released, goro_run's shutdown may free m. */
      goro__mexit_signals(m);
      goro__sched.mcount--;
      m->dead = true;
      pthread_detach(pthread_self());
      goro__checkdead();
      goro__unlock(&goro__sched.lock);
      pthread_exit(NULL);
    }
    goro__unlock(&goro__sched.lock);
  }
  goro__note_clear(&m->park);
  if (atomic_load(&goro__sched.exiting)) return;
  if (m->nextp) {
    goro__acquirep(m, m->nextp);
    m->nextp = NULL;
  }
}

void goro__wakep_slow(void) {
  int32_t zero = 0;
  if (!atomic_compare_exchange_strong(&goro__sched.nmspinning, &zero, 1)) return;
  goro__lock(&goro__sched.lock);
  p_t *p = goro__pidleget();
  goro__unlock(&goro__sched.lock);
  if (!p) {
    atomic_fetch_sub(&goro__sched.nmspinning, 1);
    return;
  }
  goro__startm(p, true, false);
}

static void resetspinning(m_t *m) {
  m->spinning = false;
  int32_t n = atomic_fetch_sub(&goro__sched.nmspinning, 1) - 1;
  if (n < 0) goro__throw("resetspinning: negative nmspinning");
  goro__wakep();
}

/* Hand off p (from a blocking call or a locked M) to an M that will use it,
 * or put it on the idle list. */
void goro__handoffp(p_t *p) {
  if (atomic_load(&goro__sched.exiting)) {
    goro__lock(&goro__sched.lock);
    goro__pidleput(p);
    goro__unlock(&goro__sched.lock);
    return;
  }
  if (p->id >= atomic_load(&goro__sched.gomaxprocs)) {
    goro__lock(&goro__sched.lock);
    retirep(p);
    goro__unlock(&goro__sched.lock);
    kick_moved_timers();
    return;
  }
  if (!goro__runq_empty(p) || atomic_load(&goro__sched.runqsize) > 0) {
    goro__startm(p, false, false);
    return;
  }
  if (atomic_load(&goro__sched.nmspinning) + atomic_load(&goro__sched.npidle) == 0) {
    int32_t zero = 0;
    if (atomic_compare_exchange_strong(&goro__sched.nmspinning, &zero, 1)) {
      goro__startm(p, true, false);
      return;
    }
  }
  goro__lock(&goro__sched.lock);
  if (atomic_load(&goro__sched.runqsize) > 0) {
    goro__unlock(&goro__sched.lock);
    goro__startm(p, false, false);
    return;
  }
  /* The last running P, with goroutines waiting on the network: someone
   * must poll. */
  if (atomic_load(&goro__sched.npidle) == atomic_load(&goro__sched.gomaxprocs) - 1 &&
      atomic_load(&goro__sched.lastpoll) != 0 && atomic_load(&goro__netpoll_waiters) > 0) {
    goro__unlock(&goro__sched.lock);
    goro__startm(p, false, false);
    return;
  }
  int64_t when = goro__timers_next(p);
  goro__pidleput(p);
  if (goro__ss_reclaim(p)) {
    /* Shared-stack goroutines wait for p, and only p runs them; a pusher
     * that saw p busy counts on whoever holds it (sstack.c). */
    goro__unlock(&goro__sched.lock);
    goro__startm(p, false, false);
    return;
  }
  goro__unlock(&goro__sched.lock);
  kick_moved_timers();
  if (when != -1) goro__wake_netpoller(when);
}

void goro__wake_netpoller(int64_t when) {
  if (atomic_load(&goro__sched.lastpoll) == 0) {
    /* polluntil -1: the poller sleeps without a timeout. */
    int64_t pu = atomic_load(&goro__sched.polluntil);
    if (pu <= 0 || pu > when) goro__netpoll_break();
  } else {
    goro__wakep();
  }
}

/* ------------------------------------------------------------------ */
/* Locked goroutines (goro_lock_thread)                                 */
/* ------------------------------------------------------------------ */

/* This M is wired to a G that is not runnable here: give the P away and
 * sleep until the G is handed back with a P.  The count of Ms parked for
 * their locked G goes up here and down in startlockedm, on the waker's
 * side (as in Go): the waker may hand our G back before we count
 * ourselves (we gave our P away first), and a count taken down only after
 * we woke would let checkdead see every M idle with the G in flight to
 * us, and declare a deadlock. */
static void stoplockedm(m_t *m) {
  if (m->p) goro__handoffp(goro__releasep(m));
  goro__lock(&goro__sched.lock);
  goro__sched.nmidlelocked++;
  goro__checkdead();
  goro__unlock(&goro__sched.lock);
  goro__note_sleep(&m->park);
  goro__note_clear(&m->park);
  if (atomic_load(&goro__sched.exiting)) return;
  goro__acquirep(m, m->nextp);
  m->nextp = NULL;
}

/* g is wired to another M: give it our P and idle. */
static void startlockedm(m_t *m, g_t *g) {
  m_t *lm = g->lockedm;
  goro__lock(&goro__sched.lock);
  goro__sched.nmidlelocked--; /* on lm's behalf, see stoplockedm */
  goro__unlock(&goro__sched.lock);
  p_t *p = goro__releasep(m);
  lm->nextp = p;
  goro__note_wake(&lm->park);
  stopm(m);
}

/* ------------------------------------------------------------------ */
/* Finding work                                                        */
/* ------------------------------------------------------------------ */

static g_t *stealwork(m_t *m, int64_t now, int64_t *polluntil, bool *ranTimers) {
  p_t *p = m->p;
  int32_t n = atomic_load(&goro__sched.gomaxprocs);
  for (int round = 0; round < 4; round++) {
    bool last = round == 3;
    uint32_t start = goro__fastrand();
    for (int32_t k = 0; k < n; k++) {
      if (atomic_load(&goro__sched.exiting)) return NULL;
      p_t *p2 = goro__sched.allp[(start + (uint32_t)k) % (uint32_t)n];
      if (!p2 || p2 == p) continue;
      if (last) {
        int64_t w = goro__timers_next(p2);
        if (w != -1 && w <= now) {
          /* Run the victim's due timers; what they ready lands on our P. */
          goro__timers_check(p2, now);
          *ranTimers = true;
          bool inh;
          g_t *g = goro__runqget(p, &inh);
          if (g) return g;
        } else if (w != -1 && (*polluntil == -1 || w < *polluntil)) {
          *polluntil = w;
        }
      }
      if (atomic_load(&p2->status) == P_IDLE) continue;
      g_t *g = goro__runqsteal(p, p2, last);
      if (g) {
        GORO_COUNTER_INC(p->steals);
        return g;
      }
    }
  }
  return NULL;
}

static int64_t min_when(int64_t a, int64_t b) {
  if (a == -1) return b;
  if (b == -1) return a;
  return a < b ? a : b;
}

static bool any_runq_nonempty(void) {
  int32_t n = atomic_load(&goro__sched.gomaxprocs);
  for (int32_t i = 0; i < n; i++) {
    p_t *p2 = goro__sched.allp[i];
    if (p2 && atomic_load(&p2->status) != P_IDLE && !goro__runq_empty(p2)) return true;
  }
  return false;
}

static void inject_polled(m_t *m, g_t *list) {
#if GORO_PLAIN_SWITCH
  /* Each of these goroutines resumes by popping its saved frame (64
   * bytes at ctx.sp) from a stack that has gone cold while it waited:
   * start those loads for the whole batch now, so that they overlap
   * instead of stalling one switch each.  (echo_1000, 2 x 16 interleaved
   * pairs: user time -2% and -14%, round trips +2% and +4%.) */
  for (g_t *g = list; g; g = g->schedlink)
    if (!g->ss) {
      const char *sp = g->ctx.sp;
      __builtin_prefetch(sp);
      __builtin_prefetch(sp + 56);
    }
#endif
  /* Gs from netpoll are G_WAITING; make them runnable. */
  while (list) {
    g_t *next = list->schedlink;
    goro__ready(list);
    list = next;
  }
  (void)m;
}

/* Returns a G to run (with *inherit), or NULL when the runtime exits. */
static g_t *findrunnable(m_t *m, bool *inherit) {
top:;
  if (atomic_load(&goro__sched.exiting)) return NULL;
  p_t *p = m->p;
  *inherit = false;
  if (UNLIKELY(p->id >= atomic_load(&goro__sched.gomaxprocs))) {
    /* This P was cut by a GOMAXPROCS shrink (also the end of a P borrowed
     * for a hog, see preempt.c). */
    if (m->spinning) {
      m->spinning = false;
      atomic_fetch_sub(&goro__sched.nmspinning, 1);
    }
    goro__lock(&goro__sched.lock);
    p_t *rp = m->p;
    m->p = NULL;
    retirep(rp);
    goro__unlock(&goro__sched.lock);
    kick_moved_timers();
    stopm(m);
    goto top;
  }
  int64_t now = 0, polluntil = goro__timers_next(p);
  if (polluntil != -1) {
    now = goro__nanotime();
    if (polluntil <= now) polluntil = goro__timers_check(p, now);
  }
  g_t *g;

  if (p->schedtick % 61 == 0 && atomic_load(&goro__sched.runqsize) > 0) {
    goro__lock(&goro__sched.lock);
    g = goro__globrunqget(p, 1);
    goro__unlock(&goro__sched.lock);
    if (g) return g;
  }
  /* Shared-stack Gs of this P take turns with its local queue. */
  if ((p->schedtick & 1) && (g = goro__ss_get(p)) != NULL) return g;
  if ((g = goro__runqget(p, inherit)) != NULL) return g;
  if ((g = goro__ss_get(p)) != NULL) return g;
  if (atomic_load(&goro__sched.runqsize) > 0) {
    goro__lock(&goro__sched.lock);
    g = goro__globrunqget(p, 0);
    goro__unlock(&goro__sched.lock);
    goro__globrunq_flush(p);
    if (g) return g;
  }
  /* Non-blocking netpoll before stealing. */
  if (goro__netpoll_inited() && atomic_load(&goro__netpoll_waiters) > 0 &&
      atomic_load(&goro__sched.lastpoll) != 0) {
    int n = 0;
    g_t *list = goro__netpoll(0, &n);
    if (list) {
      inject_polled(m, list);
      goto top;
    }
  }
  /* Steal, as a spinning M, if not too many are spinning already. */
  int32_t procs = atomic_load(&goro__sched.gomaxprocs);
  if (m->spinning || 2 * atomic_load(&goro__sched.nmspinning) <
                         procs - atomic_load(&goro__sched.npidle)) {
    if (!m->spinning) {
      m->spinning = true;
      atomic_fetch_add(&goro__sched.nmspinning, 1);
    }
    bool ranTimers = false;
    if (now == 0) now = goro__nanotime();
    g = stealwork(m, now, &polluntil, &ranTimers);
    if (g) return g;
    if (ranTimers) goto top;
  }

  /* Nothing found: give up the P. */
  goro__lock(&goro__sched.lock);
  if (atomic_load(&goro__sched.exiting)) {
    goro__unlock(&goro__sched.lock);
    return NULL;
  }
  if (atomic_load(&goro__sched.runqsize) > 0) {
    g = goro__globrunqget(p, 0);
    goro__unlock(&goro__sched.lock);
    goro__globrunq_flush(p);
    if (g) return g;
    goto top;
  }
  if (!m->spinning && atomic_load(&goro__sched.needspinning)) {
    atomic_store(&goro__sched.needspinning, 0);
    m->spinning = true;
    atomic_fetch_add(&goro__sched.nmspinning, 1);
    goro__unlock(&goro__sched.lock);
    goto top;
  }
  p_t *released = goro__releasep(m);
  goro__pidleput(released);
  if (goro__ss_reclaim(released)) { /* a pusher saw it running: see sstack.c */
    goro__unlock(&goro__sched.lock);
    goro__acquirep(m, released);
    goto top;
  }
  goro__unlock(&goro__sched.lock);
  kick_moved_timers();

  bool wasSpinning = m->spinning;
  if (m->spinning) {
    m->spinning = false;
    if (atomic_fetch_sub(&goro__sched.nmspinning, 1) - 1 < 0)
      goro__throw("findrunnable: negative nmspinning");
    /* Re-check everything after dropping nmspinning (step 3 above). */
    if (any_runq_nonempty() || atomic_load(&goro__sched.runqsize) > 0) {
      goro__lock(&goro__sched.lock);
      p_t *p2 = goro__pidleget();
      if (!p2) atomic_store(&goro__sched.needspinning, 1);
      goro__unlock(&goro__sched.lock);
      if (p2) {
        goro__acquirep(m, p2);
        m->spinning = true;
        atomic_fetch_add(&goro__sched.nmspinning, 1);
        goto top;
      }
    }
  }
  (void)wasSpinning;

  /* Sleep in the poller until the earliest timer of any P, if there is a
   * reason to poll and nobody else is. */
  int32_t n = atomic_load(&goro__sched.gomaxprocs);
  for (int32_t i = 0; i < n; i++)
    if (goro__sched.allp[i]) polluntil = min_when(polluntil, goro__timers_next(goro__sched.allp[i]));
  if (goro__netpoll_inited() &&
      (atomic_load(&goro__netpoll_waiters) > 0 || polluntil != -1)) {
    if (atomic_exchange(&goro__sched.lastpoll, 0) != 0) {
      atomic_store(&goro__sched.polluntil, polluntil);
      atomic_store(&m->blocked_in_poll, true);
      int64_t delay = -1;
      if (polluntil != -1) {
        delay = polluntil - goro__nanotime();
        if (delay < 0) delay = 0;
      }
      int cnt = 0;
      g_t *list = goro__netpoll(delay, &cnt);
      atomic_store(&m->blocked_in_poll, false);
      atomic_store(&goro__sched.polluntil, 0);
      atomic_store(&goro__sched.lastpoll, goro__nanotime());
      goro__lock(&goro__sched.lock);
      p_t *p2 = atomic_load(&goro__sched.exiting) ? NULL : goro__pidleget();
      goro__unlock(&goro__sched.lock);
      if (p2) {
        goro__acquirep(m, p2);
        if (list) inject_polled(m, list);
        goto top;
      }
      if (list) inject_polled(m, list); /* no P: they go to the global queue */
    } else if (polluntil != -1) {
      int64_t pu = atomic_load(&goro__sched.polluntil);
      if (pu <= 0 || pu > polluntil) goro__netpoll_break();
    }
  }
  stopm(m);
  goto top;
}

/* ------------------------------------------------------------------ */
/* Running Gs and finishing their requests                             */
/* ------------------------------------------------------------------ */

static void gdestroy(m_t *m, g_t *g) {
  p_t *p = m->p;
  atomic_store_explicit(&g->status, G_DEAD, memory_order_relaxed);
  if (g->ss) {
    g->stack_lo = NULL; /* its P's shared stack stays with the P */
    goro__ss_release(g->ss);
    g->ss = NULL;
  }
  if (g->stack_lo) { /* NULL if exit_into_fresh passed it on */
    goro__stack_put(p ? &p->stacks : NULL, g->stack_lo, g->stack_size);
    g->stack_lo = NULL;
  }
  if (g->lockedm) {
    m->lockedg = NULL;
    g->lockedm = NULL;
    g->lockcount = 0;
  }
  if (UNLIKELY(g->name)) {
    free(g->name);
    g->name = NULL;
  }
  if (g == goro__sched.maing) { /* maing is immutable after start */
    atomic_store(&goro__sched.exiting, 1);
    goro__sched_wake_all();
  }
  if (p)
    goro__gfput(p, g);
  else {
    goro__lock(&goro__sched.lock);
    goro__gfree_push(g, g, 1);
    goro__unlock(&goro__sched.lock);
  }
}

/* Where a yield goes: with one P and nothing queued globally, to the back
 * of the local queue, which is the back of the line (with global work
 * waiting, the local queue would keep it behind the 1-in-61 check for
 * ever); otherwise to the global queue, as Go's Gosched, so yielding
 * goroutines spread over all Ps and share them evenly. */
static inline bool yield_stays_local(void) {
  return atomic_load_explicit(&goro__sched.gomaxprocs, memory_order_relaxed) == 1 &&
         atomic_load_explicit(&goro__sched.runqsize, memory_order_relaxed) == 0;
}

/* A park's completion: run its commit now that g is off its stack.
 * Returns g if the commit aborted the park (g must resume). */
static inline g_t *complete_park(m_t *m, g_t *g) {
  goro__commit_fn commit = m->commit;
  m->commit = NULL;
  /* Relaxed: the commit's lock release publishes it. */
  atomic_store_explicit(&g->status, G_WAITING, memory_order_relaxed);
  if (commit && !commit(g, m->commit_arg)) {
    atomic_store(&g->status, G_RUNNABLE);
    return g;
  }
  return NULL;
}

static inline void complete_yield(p_t *p, g_t *g) {
  atomic_store_explicit(&g->status, G_RUNNABLE, memory_order_relaxed);
  if (yield_stays_local()) {
    goro__runqput(p, g, false);
  } else {
    goro__lock(&goro__sched.lock);
    goro__globrunqput(g);
    goro__unlock(&goro__sched.lock);
  }
}

/* Finish the request of a G that has just switched out (its context is
 * saved): run a park's commit, queue a yielded G, recycle a dead one.
 * Runs on g0, or on the G that was switched to directly.  Returns g if it
 * must resume at once (its park was aborted by the commit). */
static g_t *complete_action(m_t *m, g_t *g, int act) {
  p_t *p = m->p;
  switch (act) {
    case ACT_PARK:
      return complete_park(m, g);
    case ACT_PREEMPT:
      atomic_fetch_add(&goro__sched.preemptions, 1);
      /* fall through */
    case ACT_YIELD:
      if (UNLIKELY(g->ss)) { /* to its home P (sstack.c); never a direct switch */
        atomic_store_explicit(&g->status, G_RUNNABLE, memory_order_relaxed);
        goro__ss_put(g);
      } else if (act == ACT_YIELD) {
        complete_yield(p, g);
      } else {
        atomic_store_explicit(&g->status, G_RUNNABLE, memory_order_relaxed);
        goro__lock(&goro__sched.lock);
        goro__globrunqput(g);
        goro__unlock(&goro__sched.lock);
      }
      return NULL;
    case ACT_EXIT:
      gdestroy(m, g);
      return NULL;
    case ACT_SYSCALL_EXIT:
      /* Returned from a blocking call without a P: queue it globally;
       * this M has no P and will idle. */
      atomic_store(&g->status, G_RUNNABLE);
      goro__lock(&goro__sched.lock);
      goro__globrunqput(g);
      goro__unlock(&goro__sched.lock);
      goro__wakep();
      return NULL;
    default:
      goro__throw("complete_action: unknown action %d", act);
  }
}

/* Every G calls this right after it is resumed, by g0 or directly by
 * another G (then m->prevg holds the G that switched to it). */
static inline void finish_prev(m_t *m) {
  g_t *prev = m->prevg;
  if (LIKELY(!prev)) return;
  m->prevg = NULL;
  /* The park and yield completions inline: one of them ends every
   * direct switch of a hand-off or a yield loop. */
  int act = m->prevact;
  if (LIKELY(act == ACT_PARK)) {
    prev = complete_park(m, prev);
  } else if (act == ACT_YIELD) {
    complete_yield(m->p, prev);
    return;
  } else {
    prev = complete_action(m, prev, act);
  }
  if (prev) goro__runqput(m->p, prev, true);
}

static inline void account_slice(p_t *p, g_t *g, bool inherit) {
  atomic_store_explicit(&g->status, G_RUNNING, memory_order_relaxed);
  p->spawnstreak = 0; /* spawn back-pressure counts per run of one G (proc.c) */
  g->preempt = 0;
  if (!inherit) {
    p->schedtick++;
    atomic_store_explicit(&p->schedtick_pub, p->schedtick, memory_order_relaxed);
    atomic_store_explicit(&p->preempt, 0, memory_order_relaxed);
    atomic_store_explicit(&goro__tls_preempt, 0, memory_order_relaxed);
  }
  GORO_COUNTER_INC(p->ctxswitches);
}

static void execute(m_t *m, g_t *g, bool inherit) {
  p_t *p = m->p;
  for (;;) {
    m->curg = g;
    account_slice(p, g, inherit);
    if (!g->stack_lo)
      start_g(p, g);
    else if (g->ss)
      goro__ss_restore(p, g);
    switch_to_g(m, g);

    /* Back on g0 (perhaps from another G than the one started above,
     * after direct switches): finish what it asked for. */
    g = m->curg;
    m->curg = NULL;
    int act = m->action;
    m->action = ACT_NONE;
    p = m->p;
    if (g->ss && act != ACT_EXIT) goro__ss_save(g); /* before the commit publishes it */
    if (!complete_action(m, g, act)) return;
    inherit = true; /* aborted park: resume at once, same slice */
  }
}

/* A dying G whose successor has never run gives it its stack: the
 * successor starts on a fresh frame at the top of that stack (the dying
 * G's frames there are dead), with no context to save, no stack to put
 * back and get again, and no switch.  Only with GORO_PLAIN_SWITCH, as the
 * direct park switch that unlocks (try_direct). */
#if GORO_PLAIN_SWITCH
static noreturn NOINLINE void exit_into_fresh(m_t *m, p_t *p, g_t *g, g_t *next, bool inherit) {
  char *stk = g->stack_lo;
  g->stack_lo = NULL; /* passed on: gdestroy must not cache it */
  gdestroy(m, g);
  next->stack_lo = stk;
  account_slice(p, next, inherit);
  m->curg = next;
  /* The default FP control state, as goro__ctx_make gives a new G. */
  static const uint32_t mxcsr_default = GORO_MXCSR_DEFAULT;
  static const uint16_t fcw_default = GORO_X87CW_DEFAULT;
  __asm__ __volatile__("ldmxcsr %0\n\tfldcw %1" ::"m"(mxcsr_default), "m"(fcw_default));
  uintptr_t top = ((uintptr_t)stk + gstack_size(next)) & ~(uintptr_t)15;
  goro__ctx_restart((void *)(top - 16), gentry, next);
}
#endif

/* The fast path of goro__mcall: switch straight to the next G of this
 * P's local queue, skipping the round trip through g0, when nothing else
 * needs the scheduler's attention.  Returns false to take the slow path. */
static inline __attribute__((always_inline)) bool try_direct(m_t *m, g_t *g, int action) {
  p_t *p = m->p;
  if (UNLIKELY(!p || m->lockedg || atomic_load_explicit(&goro__sched.exiting, memory_order_relaxed)))
    return false;
  /* Shared-stack Gs switch through g0 (sstack.c), and waiting ones get
   * their turn there. */
  if (UNLIKELY(atomic_load_explicit(&goro__sched.sstack_used, memory_order_relaxed)) &&
      (g->ss || goro__ss_pending(p)))
    return false;
  if (UNLIKELY(p->id >= atomic_load_explicit(&goro__sched.gomaxprocs, memory_order_relaxed)))
    return false;
  if (action == ACT_EXIT && g == goro__sched.maing) return false;
  if (action == ACT_YIELD && !yield_stays_local())
    return false; /* a yield that must go through the global queue */
  if (goro__timers_any(p)) return false; /* timers are checked on g0 */
  if (p->schedtick % 61 == 0 && atomic_load_explicit(&goro__sched.runqsize, memory_order_relaxed))
    return false;
  bool inherit;
  g_t *next = goro__runqget(p, &inherit);
  if (!next) return false;
  if (UNLIKELY(next->lockedm != NULL)) {
    goro__runqput(p, next, true);
    return false;
  }
#if GORO_PLAIN_SWITCH
  if (action == ACT_EXIT && !next->stack_lo && next->stack_size == g->stack_size)
    exit_into_fresh(m, p, g, next, inherit);
#endif
  if (!next->stack_lo) start_g(p, next);
  account_slice(p, next, inherit);
  m->curg = next;
#if GORO_PLAIN_SWITCH
  if (action == ACT_PARK && m->commit == goro__commit_unlock) {
    /* The commit is a plain unlock: let the switch do it, once g is
     * saved (goro__ctx_switch_unlock); the next G has nothing to finish.
     * WAITING is published by that unlock, as the commit would. */
    goro__lock_t *l = m->commit_arg;
    m->commit = NULL;
    atomic_store_explicit(&g->status, G_WAITING, memory_order_relaxed);
    goro__ctx_switch_unlock(&g->ctx, &next->ctx, l);
    return true;
  }
#endif
  m->prevg = g;
  m->prevact = action;
  annotated_switch(&g->ctx, &next->ctx, next->stack_lo + GORO_PAGE, gstack_size(next) - GORO_PAGE,
                   G_FIBER(next), action == ACT_EXIT);
  return true;
}

void goro__mstart_loop(m_t *m) {
  for (;;) {
    if (atomic_load(&goro__sched.exiting)) return;
    if (!m->p) {
      stopm(m);
      continue;
    }
    if (m->lockedg) {
      /* Wired to a goroutine that is not running: give the P away and
       * wait until whoever dequeues it hands it back with a P. */
      stoplockedm(m);
      if (atomic_load(&goro__sched.exiting)) return;
      execute(m, m->lockedg, false);
      continue;
    }
    bool inherit = false;
    g_t *g = findrunnable(m, &inherit);
    if (!g) return;
    if (m->spinning) resetspinning(m);
    if (g->lockedm && g->lockedm != m) {
      startlockedm(m, g);
      continue;
    }
    execute(m, g, inherit);
  }
}

void goro__sched_wake_all(void) {
  goro__lock(&goro__sched.lock);
  for (m_t *m = goro__sched.allm; m; m = m->alllink)
    if (!m->dead) goro__note_wake(&m->park);
  goro__unlock(&goro__sched.lock);
  if (goro__netpoll_inited()) goro__netpoll_break();
}
