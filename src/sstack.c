/* sstack.c - shared-stack goroutines: below a page per parked goroutine.
 *
 * A goroutine spawned with GORO_SHARED_STACK runs on the shared stack of
 * its home P (GORO_SSTACK_SIZE bytes at a fixed address, guard page at
 * the bottom).  Whenever it switches out (park, yield, preemption) the
 * scheduler, on g0, copies the used part of that stack -- from its saved
 * stack pointer to the top, ~750 B for a goroutine parked in a read -- to
 * a heap buffer, and copies it back just before switching to it again.
 * So a parked goroutine costs its saved bytes, its G record and its
 * records below, not a page; a server's connection goroutines hold about
 * a quarter of the memory.
 *
 * Invariants:
 *  - Home for life.  The saved frames hold addresses inside the home P's
 *    shared stack, so the goroutine can only run there.  It never enters
 *    a run ring or runnext (thieves would move it): every path that makes
 *    a G runnable (goro__runqput, goro__globrunqput) sends it here, to
 *    the home P's inbox (a lock-free stack any thread pushes to; the owner
 *    takes it whole and keeps a FIFO).  A pusher on another thread wakes
 *    the home P by name if it is idle (under sched.lock, off the idle
 *    list).  It looks at the P's status without the lock: the pusher
 *    pushes then loads the status, a P going idle (findrunnable, a
 *    hand-off) stores P_IDLE then loads the inbox and takes itself back
 *    if anything arrived (goro__ss_reclaim), all seq-cst, so at least
 *    one of the two sees the other.
 *  - At most one goroutine's frames are live in a shared stack: it is
 *    copied out on g0 right after it switches out, before anything else
 *    runs on that P, and the direct G-to-G switch is never used for it.
 *    The park's commit runs after the copy, while the stack still holds
 *    the frames (commits read records in the parked frame).
 *  - Nothing outside the goroutine touches its stack while it is parked:
 *    every waiter record the runtime publishes for such a goroutine
 *    (sudog and the value sent or received, select state, semaphore, Cond
 *    and poll waiters, resolver request) lives in its wait buffer
 *    (goro__ss_wait_buf) instead of its frame.  Pointers the program
 *    itself gives away to its locals are its own business: documented in
 *    goro.h.
 *  - Blocking calls (goro_syscall_enter, goro_blocking, file I/O) keep
 *    the P: another M would run other goroutines on the same shared
 *    stack while this one still executes on it.  goro_lock_thread is
 *    refused (a locked goroutine moves with its thread).  GOMAXPROCS may
 *    not cut a P that is home to live shared-stack goroutines.
 *
 * Locks: the inbox is lock-free (CAS push, exchange pop); p->ssq_head and
 * p->ss_lo belong to the P's owner; p->nshared is atomic, changed under
 * sched.lock together with the home choice and read under it by
 * GOMAXPROCS changes; g->ss belongs to the goroutine (and
 * to g0 of its P while it switches).
 *
 * Rejected: releasing a private stack's pages while parked (madvise per
 * park and a fault per resume: microseconds per round trip, and a peak
 * is still a peak); moving stacks to another address (C pointers to
 * locals cannot be found and fixed up); sub-page private stacks (no guard
 * page possible); giving a P a fresh shared stack when it is handed off
 * during a blocking call (the goroutines saved for the old stack would
 * then wait for that call to end, and could deadlock on it).
 */
#include "sstack.h"

#include "sched.h"

#include <stdlib.h>
#include <string.h>

gss_t *goro__ss_new(void) {
  static uint32_t next; /* sched.lock */
  gss_t *ss = calloc(1, sizeof *ss);
  if (!ss) return NULL;
  /* Homes go round the Ps, so connection goroutines spread over all. */
  goro__lock(&goro__sched.lock);
  int32_t n = atomic_load(&goro__sched.gomaxprocs) - atomic_load(&goro__sched.nborrowed);
  ss->home = goro__sched.allp[next++ % (uint32_t)n];
  atomic_fetch_add(&ss->home->nshared, 1);
  atomic_store(&goro__sched.sstack_used, 1);
  goro__unlock(&goro__sched.lock);
  return ss;
}

void goro__ss_free(gss_t *ss) {
  if (!ss) return;
  free(ss->buf);
  free(ss->wait);
  free(ss);
}

void goro__ss_release(gss_t *ss) {
  if (!ss) return;
  atomic_fetch_sub(&ss->home->nshared, 1);
  goro__ss_free(ss);
}

bool goro__ss_blocks_shrink(int n) {
  int32_t all = atomic_load(&goro__sched.nallp);
  for (int32_t i = n; i < all; i++) {
    p_t *p = goro__sched.allp[i];
    if (p && atomic_load(&p->nshared) > 0) return true;
  }
  return false;
}

void goro__ss_put(g_t *g) {
  p_t *p = g->ss->home;
  g_t *old = atomic_load_explicit(&p->ssinbox, memory_order_relaxed);
  do {
    g->schedlink = old;
  } while (!atomic_compare_exchange_weak(&p->ssinbox, &old, g)); /* seq-cst: see below */
  m_t *m = goro__getm();
  if (m && m->p == p) return; /* running here: findrunnable will look */
  /* A P that is not idle finds the inbox itself.  The race with a P
   * going idle is Dekker's: we push, then load its status; it stores
   * P_IDLE, then loads the inbox (goro__ss_reclaim), both seq-cst, so at
   * least one of us sees the other. */
  if (atomic_load(&p->status) != P_IDLE) return;
  goro__lock(&goro__sched.lock);
  if (atomic_load(&p->status) == P_IDLE && goro__pidletake(p)) goro__startm(p, false, true);
  goro__unlock(&goro__sched.lock);
}

bool goro__ss_reclaim(p_t *p) {
  if (!atomic_load(&p->ssinbox) && !p->ssq_head) return false;
  return atomic_load(&p->status) == P_IDLE && goro__pidletake(p); /* not if retired */
}

g_t *goro__ss_get(p_t *p) {
  if (!p->ssq_head) {
    if (!atomic_load_explicit(&p->ssinbox, memory_order_relaxed)) return NULL;
    g_t *l = atomic_exchange_explicit(&p->ssinbox, NULL, memory_order_acquire);
    g_t *fifo = NULL; /* pushes came newest first */
    while (l) {
      g_t *next = l->schedlink;
      l->schedlink = fifo;
      fifo = l;
      l = next;
    }
    p->ssq_head = fifo;
  }
  g_t *g = p->ssq_head;
  if (g) {
    p->ssq_head = g->schedlink;
    g->schedlink = NULL;
  }
  return g;
}

void goro__ss_start(p_t *p, g_t *g) {
  if (p != g->ss->home) goro__throw("shared-stack goroutine %lld started off its home P", (long long)g->id);
  if (!p->ss_lo) {
    int err = 0;
    p->ss_lo = goro__stack_get(&p->stacks, GORO_SSTACK_SIZE, &err);
    if (!p->ss_lo) goro__fatal("cannot allocate a shared stack: %s", goro_strerror(err));
  }
  g->stack_lo = p->ss_lo;
  g->stack_size = GORO_SSTACK_SIZE;
}

/* Make *buf (of *cap bytes) hold at least n, rounded up to a multiple of
 * unit (a power of two), contents not kept. */
static void *room(void **buf, size_t *cap, size_t n, size_t unit, g_t *g) {
  if (n > *cap) {
    size_t c = (n + unit - 1) & ~(unit - 1);
    void *nb = malloc(c);
    if (!nb) goro__fatal("out of memory for the saved stack of goroutine %lld", (long long)g->id);
    free(*buf);
    *buf = nb;
    *cap = c;
  }
  return *buf;
}

void goro__ss_save(g_t *g) {
  char *top = g->stack_lo + GORO_SSTACK_SIZE;
#if GORO_HAVE_SSTACK
  char *sp = g->ctx.sp;
#else
  char *sp = top;
  goro__throw("shared stacks are not built in");
#endif
  gss_t *ss = g->ss;
  ss->len = (size_t)(top - sp);
  /* 256-byte steps: a goroutine's depth at its parks varies a little. */
  memcpy(room(&ss->buf, &ss->cap, ss->len, 256, g), sp, ss->len);
}

void goro__ss_restore(p_t *p, g_t *g) {
  if (p != g->ss->home) goro__throw("shared-stack goroutine %lld run off its home P", (long long)g->id);
  memcpy(g->stack_lo + GORO_SSTACK_SIZE - g->ss->len, g->ss->buf, g->ss->len);
}

void *goro__ss_wait_buf_slow(g_t *g, size_t n) {
  return room(&g->ss->wait, &g->ss->waitcap, n, 16, g); /* fixed sizes: no slack */
}

bool goro__ss_read_word(g_t *g, uintptr_t addr, uintptr_t *out) {
  gss_t *ss = g->ss;
  const char *buf = ss ? ss->buf : NULL;
  if (!buf || !g->stack_lo) return false;
  uintptr_t top = (uintptr_t)g->stack_lo + GORO_SSTACK_SIZE;
  uintptr_t lo = top - ss->len;
  if (addr < lo || addr + sizeof(uintptr_t) > top) return false;
  memcpy(out, buf + (addr - lo), sizeof *out);
  return true;
}
