/* chan.c - channels: make, send, receive, close, reference counting.
 *
 * Design (Go's hchan, see chan.h for the layout):
 *  - One goro__lock_t per channel protects the ring buffer indices, the
 *    two wait queues and every sudog queued on them.  `closed`, `qcount`
 *    and the queue heads are also atomics so that non-blocking operations
 *    can fail without taking the lock (a full/empty open channel is
 *    reported by two loads; a closed channel never reopens, so the answer
 *    is one that held at some instant).
 *  - A send to a waiting receiver copies straight into the receiver's
 *    destination; a receive from a waiting sender copies straight from
 *    the sender's value (buffered: oldest element out, sender's value in
 *    at the tail).  Waiters are served in FIFO order.
 *  - Waiters are never readied with the lock held: the completer records
 *    the result in the sudog, unlocks, then calls goro__ready.  close
 *    collects every waiter on a list linked through g->schedlink (free
 *    while a G is parked) and readies them after unlocking.
 *  - A blocking operation puts a sudog that lives on its own stack on the
 *    queue (a shared-stack goroutine's, with the value, in its wait
 *    buffer: sstack.c) and parks with a commit that releases the channel
 *    lock, so no waker can see it before it has fully switched out.
 *  - Deadlines use the selectdone protocol of timer.h: a waiter that can
 *    time out is marked needcas, and wakers (including close) complete it
 *    only after winning CAS(g->selectdone, 0, 1).  If the deadline wins,
 *    the waiter relocks the channel and unlinks its own sudog.  The
 *    commit callbacks never touch the waiter's stack after releasing the
 *    lock it needs next (the deadline timer may resume it at any time).
 *  - Failing non-blocking calls pass a preemption point, so a polling
 *    loop cannot starve the goroutine it waits for on one processor.
 *  - goro_chan_send / goro_chan_recv start with frameless fast paths for
 *    the common cases (8-byte buffer operations, hand-off to a plain
 *    waiter); see "Frameless fast paths" below.
 *  - Reference count: make gives one reference; the last release frees
 *    the channel and is fatal if anything is still queued on it.
 *
 * Rejected: a lock-free MPMC ring for buffered channels (select and
 * close need to observe and change buffer and queues atomically together,
 * which a single short lock does simply and fast enough); heap-allocated
 * or per-P cached sudogs for plain send/recv (the waiter's stack is free
 * and always hot).
 */
#include "sstack.h"
#include "chan.h"

#include <stdlib.h>

#include "ready.h"
#include "timer.h"

/* ------------------------------------------------------------------ */
/* make / retain / release                                             */
/* ------------------------------------------------------------------ */

int goro_chan_make(goro_chan **out, size_t elem_size, size_t cap) {
  if (!out) return GORO_EINVAL;
  *out = NULL;
  if (elem_size > 65535 || cap > ((size_t)1 << 31)) return GORO_EINVAL;
  size_t bufsz = elem_size * cap; /* < 2^47: no overflow */
  goro_chan *c = malloc(sizeof *c + bufsz);
  if (!c) return GORO_ENOMEM;
  memset(c, 0, sizeof *c);
  c->cap = (uint32_t)cap;
  c->elemsize = (uint32_t)elem_size;
  atomic_init(&c->refs, 1);
  c->buf = (char *)(c + 1);
  goro__pd_use(c);
  *out = c;
  return 0;
}

goro_chan *goro_chan_retain(goro_chan *c) {
  if (c) atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
  return c;
}

void goro_chan_release(goro_chan *c) {
  if (!c) return;
  uint32_t old = atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel);
  if (old > 1) return;
  if (old == 0) goro__fatal("release of freed channel");
  goro__lock(&c->lock);
  bool waiters = atomic_load_explicit(&c->recvq.first, memory_order_relaxed) ||
                 atomic_load_explicit(&c->sendq.first, memory_order_relaxed);
  goro__unlock(&c->lock);
  if (waiters) goro__fatal("free of channel with waiting goroutines");
  goro__pd_forget(c);
  free(c);
}

/* goro_chan_release for goro_run's end: goroutines still queued on c were
 * abandoned and will never run, so they are not a misuse to report. */
void goro__chan_release_at_exit(goro_chan *c) {
  if (!c) return;
  if (atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) != 1) return;
  goro__pd_forget(c);
  free(c);
}

size_t goro_chan_len(goro_chan *c) { return c ? goro__chan_qcount(c) : 0; }
size_t goro_chan_cap(goro_chan *c) { return c ? c->cap : 0; }

/* ------------------------------------------------------------------ */
/* Blocking helpers                                                    */
/* ------------------------------------------------------------------ */

/* Queue s on q (lock held), park until completed or the deadline passes.
 * Returns true if the deadline won (s is unlinked again on return). */
static inline __attribute__((always_inline)) bool wait_on(goro_chan *c, goro__waitq_t *q, sudog_t *s, int reason, int64_t deadline) {
  g_t *g = s->g;
  s->needcas = deadline > 0;
  if (s->needcas) atomic_store_explicit(&g->selectdone, 0, memory_order_relaxed);
  g->param = NULL;
  goro__waitq_push(q, s);
  if (deadline < 0) {
    goro__park(reason, goro__commit_unlock, &c->lock);
    return false;
  }
  if (!goro__park_dl(reason, goro__commit_unlock, &c->lock, deadline)) return false;
  goro__lock(&c->lock);
  if (s->queued) goro__waitq_unlink(q, s);
  goro__unlock(&c->lock);
  return true;
}

/* ------------------------------------------------------------------ */
/* Frameless fast paths of the blocking send and receive               */
/* ------------------------------------------------------------------ */

/* goro_chan_send and goro_chan_recv first try the common cases without a
 * stack frame: an 8-byte element into or out of the buffer, or handed
 * straight to or from a plain waiter of the other side (not in a select,
 * no deadline), readied into this P's empty runnext.  Everything else (a
 * lock someone holds, close, other element sizes, blocking, the
 * partial-deadlock debug mode) and every rare step after the fast work
 * (a thread asleep on the lock, a goroutine to ready the long way, a
 * thread to wake for the new work, a preemption request) is a tail call to
 * out-of-line code, so the fast path uses only scratch registers.  The
 * general code is the one source of the semantics; these paths are a
 * subset of it, step for step.  An open channel that must block goes
 * straight to send_block / recv_block, whose checks the fast path has
 * made.  Measured: 4 producers and 4 consumers at one P 57.8 -> 41.4 M
 * instructions per 400,000 messages; ping-pong at one P 639 -> 589
 * instructions per round trip (callgrind) once blocking went straight. */

static NOINLINE int fast_finish_slow(goro_chan *c, bool sleepers, g_t *wake) {
  if (sleepers) goro__unlock_slow(&c->lock);
  if (wake) goro__ready(wake);
  goro__preempt_point();
  return 0;
}

static NOINLINE int fast_finish_wakep(void) {
  goro__wakep_slow();
  goro__preempt_point();
  return 0;
}

/* Release the lock taken by goro__trylock; then the preemption point. */
static inline __attribute__((always_inline)) int fast_unlock(goro_chan *c) {
  bool sleepers = goro__unlock_fast(&c->lock);
  if (UNLIKELY(sleepers) ||
      UNLIKELY(atomic_load_explicit(&goro__tls_preempt, memory_order_relaxed)))
    return fast_finish_slow(c, sleepers, NULL);
  return 0;
}

/* Release the lock, then ready g (goro__ready_inline's steps, with every
 * exit that needs a call turned into a tail call). */
static inline __attribute__((always_inline)) int fast_unlock_ready(goro_chan *c, g_t *g) {
  bool sleepers = goro__unlock_fast(&c->lock);
  m_t *m = goro__getm();
  p_t *p = m ? m->p : NULL;
  if (UNLIKELY(sleepers) || UNLIKELY(!p) || UNLIKELY(g->external) ||
      UNLIKELY(atomic_load_explicit(&g->status, memory_order_acquire) != G_WAITING) ||
      UNLIKELY(atomic_load_explicit(&p->runnext, memory_order_relaxed) != NULL) ||
      UNLIKELY(g->ss))
    return fast_finish_slow(c, sleepers, g);
  atomic_store_explicit(&g->status, G_RUNNABLE, memory_order_relaxed);
  atomic_store_explicit(&g->waitreason, WR_NONE, memory_order_relaxed);
  atomic_store_explicit(&p->runnext, g, memory_order_release);
  if (UNLIKELY(atomic_load(&goro__sched.nmspinning) == 0 && atomic_load(&goro__sched.npidle) != 0))
    return fast_finish_wakep();
  if (UNLIKELY(atomic_load_explicit(&goro__tls_preempt, memory_order_relaxed)))
    return fast_finish_slow(c, false, NULL);
  return 0;
}

/* ------------------------------------------------------------------ */
/* send                                                                */
/* ------------------------------------------------------------------ */

/* send_block for a shared-stack goroutine: its record and value live off
 * its stack (sstack.c), copied there before anyone can see them. */
static NOINLINE int send_block_offstack(goro_chan *c, const void *elem, int64_t deadline, g_t *g) {
  char *rec = goro__ss_wait_buf(g, GORO_SS_ALIGN(sizeof(sudog_t)) + c->elemsize);
  sudog_t *s = (sudog_t *)(void *)rec;
  if (c->elemsize) elem = memcpy(rec + GORO_SS_ALIGN(sizeof(sudog_t)), elem, c->elemsize);
  *s = (sudog_t){.g = g, .elem = (void *)elem, .c = c, .caseidx = -1};
  if (wait_on(c, &c->sendq, s, WR_CHAN_SEND, deadline)) return GORO_ETIMEDOUT;
  return s->success ? 0 : GORO_ECLOSED;
}

/* The blocking tail of a send (lock held), kept out of line so that the
 * hot paths need no waiter record in their frame. */
static NOINLINE int send_block(goro_chan *c, const void *elem, int64_t deadline) {
  g_t *g = goro__chan_self();
  if (UNLIKELY(g->ss)) return send_block_offstack(c, elem, deadline, g);
  sudog_t s = {.g = g, .elem = (void *)elem, .c = c, .caseidx = -1};
  if (wait_on(c, &c->sendq, &s, WR_CHAN_SEND, deadline)) return GORO_ETIMEDOUT;
  return s.success ? 0 : GORO_ECLOSED;
}

/* deadline: -1 forever, 0 try once, else absolute.  fail: the code for
 * "would block" (GORO_EAGAIN for try, GORO_ETIMEDOUT for deadlines).
 * Inlined into each public entry so the deadline tests fold away. */
static inline __attribute__((always_inline)) int chan_send_locked(goro_chan *c, const void *elem,
                                                                  int64_t deadline, int fail);
static inline __attribute__((always_inline)) int chan_send(goro_chan *c, const void *elem, int64_t deadline, int fail) {
  goro__pd_use(c); /* partial-deadlock debug mode only: one predictable branch */
  if (UNLIKELY(!c)) {
    if (deadline == 0) {
      goro__preempt_point();
      return fail;
    }
    return goro__park_until(WR_CHAN_SEND_NIL, deadline);
  }
  if (deadline == 0) {
    /* Lock-free failure: open and full.  The closed check must come
     * after the fullness check (a close after our look is fine). */
    bool full = c->cap == 0
                    ? atomic_load_explicit(&c->recvq.first, memory_order_acquire) == NULL
                    : atomic_load_explicit(&c->qcount, memory_order_acquire) == c->cap;
    if (full && !atomic_load_explicit(&c->closed, memory_order_acquire)) {
      goro__preempt_point(); /* a polling loop must not starve others */
      return fail;
    }
  }
  goro__lock(&c->lock);
  return chan_send_locked(c, elem, deadline, fail);
}

/* The rest of a send, with the lock held. */
static inline __attribute__((always_inline)) int chan_send_locked(goro_chan *c, const void *elem,
                                                                  int64_t deadline, int fail) {
  if (UNLIKELY(goro__chan_closed(c))) {
    goro__unlock(&c->lock);
    return GORO_ECLOSED;
  }
  sudog_t *r = goro__waitq_dequeue(&c->recvq);
  if (r) {
    g_t *rg = r->g;
    goro__chan_send_direct(c, r, elem, c->elemsize);
    goro__unlock(&c->lock);
    goro__ready_inline(rg);
    goro__preempt_point();
    return 0;
  }
  if (goro__chan_qcount(c) < c->cap) {
    goro__chan_buf_put(c, elem);
    goro__unlock(&c->lock);
    goro__preempt_point();
    return 0;
  }
  if (goro__deadline_passed(deadline)) {
    goro__unlock(&c->lock);
    goro__preempt_point();
    return fail;
  }
  return send_block(c, elem, deadline);
}

static NOINLINE int send_general(goro_chan *c, const void *elem) {
  return chan_send(c, elem, GORO_FOREVER, GORO_ETIMEDOUT);
}
static NOINLINE int send_locked_general(goro_chan *c, const void *elem) {
  return chan_send_locked(c, elem, GORO_FOREVER, GORO_ETIMEDOUT);
}

int goro_chan_send(goro_chan *c, const void *elem) {
  if (UNLIKELY(!c) || UNLIKELY(goro__sched.partialdeadlock) || UNLIKELY(!goro__trylock(&c->lock)))
    return send_general(c, elem);
  if (UNLIKELY(goro__chan_closed(c)) || UNLIKELY(c->elemsize != 8))
    return send_locked_general(c, elem);
  sudog_t *r = atomic_load_explicit(&c->recvq.first, memory_order_relaxed);
  if (r) {
    if (UNLIKELY(r->needcas)) return send_locked_general(c, elem);
    goro__waitq_unlink_head(&c->recvq, r);
    g_t *rg = r->g;
    goro__chan_send_direct(c, r, elem, 8);
    return fast_unlock_ready(c, rg);
  }
  /* Full (or unbuffered with no receiver) and open: block, as
   * chan_send_locked would after the same checks. */
  if (goro__chan_qcount(c) >= c->cap) return send_block(c, elem, GORO_FOREVER);
  goro__chan_buf_put(c, elem);
  return fast_unlock(c);
}
int goro_chan_send_dl(goro_chan *c, const void *elem, int64_t deadline) {
  return chan_send(c, elem, deadline, GORO_ETIMEDOUT);
}
int goro_chan_try_send(goro_chan *c, const void *elem) {
  return chan_send(c, elem, 0, GORO_EAGAIN);
}

/* ------------------------------------------------------------------ */
/* receive                                                             */
/* ------------------------------------------------------------------ */

static inline bool chan_empty(goro_chan *c) {
  return c->cap == 0 ? atomic_load_explicit(&c->sendq.first, memory_order_acquire) == NULL
                     : atomic_load_explicit(&c->qcount, memory_order_acquire) == 0;
}

static int recv_closed(uint32_t elemsize, void *out, bool *ok) {
  goro__elem_zero(out, elemsize);
  if (ok) *ok = false;
  return GORO_ECLOSED;
}

/* The blocking tail of a receive (lock held), out of line as for send. */
static NOINLINE int recv_block(goro_chan *c, void *out, bool *ok, int64_t deadline) {
  /* After a wake-up that completed us, c is not touched again: a closer
   * may release its last reference right after the close. */
  uint32_t elemsize = c->elemsize;
  g_t *g = goro__chan_self();
  sudog_t rl, *r = &rl;
  void *dst = out;
  if (UNLIKELY(g->ss)) {
    /* Off its stack (sstack.c): the value is copied out once it runs. */
    char *rec = goro__ss_wait_buf(g, GORO_SS_ALIGN(sizeof(sudog_t)) + elemsize);
    r = (sudog_t *)(void *)rec;
    if (out) dst = rec + GORO_SS_ALIGN(sizeof(sudog_t));
  }
  *r = (sudog_t){.g = g, .elem = dst, .c = c, .caseidx = -1};
  if (wait_on(c, &c->recvq, r, WR_CHAN_RECV, deadline)) {
    if (ok) *ok = false;
    return GORO_ETIMEDOUT;
  }
  if (r->success) {
    if (dst != out) memcpy(out, dst, elemsize);
    if (ok) *ok = true;
    return 0;
  }
  return recv_closed(elemsize, out, ok);
}

static inline __attribute__((always_inline)) int chan_recv_locked(goro_chan *c, void *out, bool *ok,
                                                                  int64_t deadline, int fail);
static inline __attribute__((always_inline)) int chan_recv(goro_chan *c, void *out, bool *ok,
                                                           int64_t deadline, int fail) {
  goro__pd_use(c);
  if (UNLIKELY(!c)) {
    if (ok) *ok = false;
    if (deadline == 0) {
      goro__preempt_point();
      return fail;
    }
    return goro__park_until(WR_CHAN_RECV_NIL, deadline);
  }
  if (deadline == 0 && chan_empty(c)) {
    /* Lock-free failure: empty and open.  If it is closed, it may have
     * received a value between the two loads: look again. */
    if (!atomic_load_explicit(&c->closed, memory_order_acquire)) {
      if (ok) *ok = false;
      goro__preempt_point();
      return fail;
    }
    if (chan_empty(c)) return recv_closed(c->elemsize, out, ok);
  }
  goro__lock(&c->lock);
  return chan_recv_locked(c, out, ok, deadline, fail);
}

/* The rest of a receive, with the lock held. */
static inline __attribute__((always_inline)) int chan_recv_locked(goro_chan *c, void *out, bool *ok,
                                                                  int64_t deadline, int fail) {
  if (UNLIKELY(goro__chan_closed(c)) && goro__chan_qcount(c) == 0) {
    goro__unlock(&c->lock);
    return recv_closed(c->elemsize, out, ok);
  }
  sudog_t *s = goro__waitq_dequeue(&c->sendq);
  if (s) {
    g_t *sg = s->g;
    goro__chan_recv_direct(c, s, out, c->elemsize);
    goro__unlock(&c->lock);
    goro__ready_inline(sg);
    if (ok) *ok = true;
    goro__preempt_point();
    return 0;
  }
  if (goro__chan_qcount(c) > 0) {
    goro__chan_buf_take(c, out);
    goro__unlock(&c->lock);
    if (ok) *ok = true;
    goro__preempt_point();
    return 0;
  }
  if (goro__deadline_passed(deadline)) {
    goro__unlock(&c->lock);
    if (ok) *ok = false;
    goro__preempt_point();
    return fail;
  }
  return recv_block(c, out, ok, deadline);
}

static NOINLINE int recv_general(goro_chan *c, void *out, bool *ok) {
  return chan_recv(c, out, ok, GORO_FOREVER, GORO_ETIMEDOUT);
}
static NOINLINE int recv_locked_general(goro_chan *c, void *out, bool *ok) {
  return chan_recv_locked(c, out, ok, GORO_FOREVER, GORO_ETIMEDOUT);
}

int goro_chan_recv(goro_chan *c, void *out, bool *ok) {
  if (UNLIKELY(!c) || UNLIKELY(goro__sched.partialdeadlock) || UNLIKELY(!goro__trylock(&c->lock)))
    return recv_general(c, out, ok);
  if (UNLIKELY(c->elemsize != 8)) return recv_locked_general(c, out, ok);
  /* A queued sender means an open channel (close wakes every sender) and,
   * if buffered, a full buffer. */
  sudog_t *s = atomic_load_explicit(&c->sendq.first, memory_order_relaxed);
  if (s) {
    if (UNLIKELY(s->needcas)) return recv_locked_general(c, out, ok);
    goro__waitq_unlink_head(&c->sendq, s);
    g_t *sg = s->g;
    goro__chan_recv_direct(c, s, out, 8);
    if (ok) *ok = true;
    return fast_unlock_ready(c, sg);
  }
  /* Buffered values are delivered even after a close. */
  if (goro__chan_qcount(c) == 0) {
    if (UNLIKELY(goro__chan_closed(c))) return recv_locked_general(c, out, ok);
    return recv_block(c, out, ok, GORO_FOREVER); /* empty and open */
  }
  goro__chan_buf_take(c, out);
  if (ok) *ok = true;
  return fast_unlock(c);
}
int goro_chan_recv_dl(goro_chan *c, void *out, bool *ok, int64_t deadline) {
  return chan_recv(c, out, ok, deadline, GORO_ETIMEDOUT);
}
int goro_chan_try_recv(goro_chan *c, void *out, bool *ok) {
  return chan_recv(c, out, ok, 0, GORO_EAGAIN);
}

/* ------------------------------------------------------------------ */
/* close                                                               */
/* ------------------------------------------------------------------ */

int goro_chan_close(goro_chan *c) {
  if (!c) return GORO_EINVAL;
  goro__pd_use(c);
  goro__lock(&c->lock);
  if (goro__chan_closed(c)) {
    goro__unlock(&c->lock);
    return GORO_ECLOSED;
  }
  atomic_store_explicit(&c->closed, 1, memory_order_release);
  /* Collect in queue order (receivers first, as Go does) so wake-ups keep
   * FIFO order; each waiter's record is done with once we unlock. */
  g_t *head = NULL, **tail = &head;
  goro__waitq_t *qs[2] = {&c->recvq, &c->sendq};
  for (int i = 0; i < 2; i++) {
    sudog_t *s;
    while ((s = goro__waitq_dequeue(qs[i]))) {
      s->success = 0;
      g_t *g = s->g;
      g->param = s;
      g->schedlink = NULL;
      *tail = g;
      tail = &g->schedlink;
    }
  }
  goro__unlock(&c->lock);
  goro__ready_list(head);
  goro__preempt_point();
  return 0;
}
