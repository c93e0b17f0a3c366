/* chan.h - channel internals shared by chan.c and select.c.
 *
 * A waiter record (sudog) represents one goroutine waiting on one channel
 * in one direction.  Plain send/recv keep theirs on the waiting
 * goroutine's own stack (C stacks never move, so a waker may write into
 * it); select keeps an array of them on its stack (or in a heap block for
 * large case counts).  A shared-stack goroutine's records, and the values
 * they point to, are in its wait buffer instead (sstack.c).  A sudog is
 * linked into exactly one wait queue, and every field below except `g`
 * and `elem` is read and written only under the lock of the channel it is
 * queued on.
 */
#ifndef GORO_CHAN_H
#define GORO_CHAN_H
#include "internal.h"

#include <string.h>

struct goro__sudog {
  g_t *g;             /* the waiting goroutine (or a foreign thread's pseudo-G) */
  sudog_t *next, *prev;
  void *elem;         /* send: the value to send; recv: destination (may be NULL) */
  goro_chan *c;
  int32_t caseidx;    /* select: index of the case, else -1 */
  uint8_t needcas;    /* waker must win CAS(g->selectdone, 0, 1) (select, deadlines) */
  uint8_t success;    /* set by the completer: 1 value transferred, 0 closed */
  uint8_t queued;     /* linked on c's sendq/recvq */
};

typedef struct {
  _Atomic(sudog_t *) first; /* atomic only for the lock-free try paths */
  sudog_t *last;
} goro__waitq_t;

/* Invariants (under lock): at most one of recvq/sendq holds sudogs of
 * goroutines other than one that selects both directions on this channel;
 * qcount > 0 implies recvq is empty; qcount < cap implies sendq is empty.
 * `closed`, `qcount` and `*.first` are also read without the lock by the
 * non-blocking fast paths, hence atomic. */
struct goro_chan {
  goro__lock_t lock;
  _Atomic uint32_t closed;
  _Atomic uint32_t qcount;   /* elements in buf */
  uint32_t cap;              /* immutable */
  uint32_t elemsize;         /* immutable, <= 65535 */
  uint32_t sendx, recvx;     /* ring indices (lock) */
  _Atomic uint32_t refs;
  goro__waitq_t recvq, sendq;
  char *buf;                 /* cap * elemsize bytes right after the header */
};

/* Copy one element; small power-of-two sizes avoid a libc call. */
static inline void goro__elem_copy(void *dst, const void *src, uint32_t n) {
  if (LIKELY(n == 8)) { /* the commonest (pointers, longs): no table jump */
    memcpy(dst, src, 8);
    return;
  }
  switch (n) {
  case 0: return;
  case 1: memcpy(dst, src, 1); return;
  case 2: memcpy(dst, src, 2); return;
  case 4: memcpy(dst, src, 4); return;
  case 16: memcpy(dst, src, 16); return;
  default: memcpy(dst, src, n); return;
  }
}

static inline void goro__elem_zero(void *dst, uint32_t n) {
  if (dst && n) memset(dst, 0, n);
}

static inline void goro__waitq_push(goro__waitq_t *q, sudog_t *s) {
  s->next = NULL;
  s->prev = q->last;
  if (q->last)
    q->last->next = s;
  else
    atomic_store_explicit(&q->first, s, memory_order_relaxed);
  q->last = s;
  s->queued = 1;
}

static inline void goro__waitq_unlink(goro__waitq_t *q, sudog_t *s) {
  if (s->prev)
    s->prev->next = s->next;
  else
    atomic_store_explicit(&q->first, s->next, memory_order_relaxed);
  if (s->next)
    s->next->prev = s->prev;
  else
    q->last = s->prev;
  s->next = s->prev = NULL;
  s->queued = 0;
}

/* Unlink the head s of q (s == q->first, not NULL). */
static inline void goro__waitq_unlink_head(goro__waitq_t *q, sudog_t *s) {
  sudog_t *next = s->next;
  atomic_store_explicit(&q->first, next, memory_order_relaxed);
  if (next)
    next->prev = NULL;
  else
    q->last = NULL;
  s->next = NULL;
  s->queued = 0;
}

/* Pop the first waiter this caller may complete.  Waiters that are in a
 * select or have a deadline are completed only by whoever wins their
 * goroutine's selectdone; a loser's record is unlinked (its owner finds
 * it unqueued when it cleans up) and skipped. */
static inline sudog_t *goro__waitq_dequeue(goro__waitq_t *q) {
  for (;;) {
    sudog_t *s = atomic_load_explicit(&q->first, memory_order_relaxed);
    if (!s) return NULL;
    goro__waitq_unlink_head(q, s);
    if (s->needcas) {
      uint32_t zero = 0;
      if (!atomic_compare_exchange_strong_explicit(&s->g->selectdone, &zero, 1,
                                                   memory_order_acq_rel,
                                                   memory_order_relaxed))
        continue;
    }
    return s;
  }
}

/* The waiting party: the running goroutine, or a foreign thread's pseudo-G. */
static inline g_t *goro__chan_self(void) {
  g_t *g = goro__getg();
  return LIKELY(g != NULL) ? g : goro__curg_or_external();
}

static inline char *goro__chan_slot(goro_chan *c, uint32_t i) {
  return c->buf + (size_t)i * c->elemsize;
}

/* Complete a send to the waiting receiver r (lock held; r dequeued).  es
 * is c->elemsize (the fast paths pass the constant they checked it is). */
static inline __attribute__((always_inline)) void goro__chan_send_direct(goro_chan *c, sudog_t *r,
                                                                        const void *src, uint32_t es) {
  (void)c;
  if (r->elem) goro__elem_copy(r->elem, src, es);
  r->success = 1;
  r->g->param = r;
}

/* Complete a receive from the waiting sender s (lock held; s dequeued).
 * Buffered (so the buffer is full): take the oldest element and put the
 * sender's value at the tail, which keeps FIFO order.  es as above. */
static inline __attribute__((always_inline)) void goro__chan_recv_direct(goro_chan *c, sudog_t *s,
                                                                        void *dst, uint32_t es) {
  if (c->cap == 0) {
    if (dst) goro__elem_copy(dst, s->elem, es);
  } else {
    char *slot = goro__chan_slot(c, c->recvx);
    if (dst) goro__elem_copy(dst, slot, es);
    goro__elem_copy(slot, s->elem, es);
    if (++c->recvx == c->cap) c->recvx = 0;
    c->sendx = c->recvx;
  }
  s->success = 1;
  s->g->param = s;
}

/* Buffer operations (lock held). */
static inline void goro__chan_buf_put(goro_chan *c, const void *src) {
  goro__elem_copy(goro__chan_slot(c, c->sendx), src, c->elemsize);
  if (++c->sendx == c->cap) c->sendx = 0;
  atomic_store_explicit(&c->qcount, atomic_load_explicit(&c->qcount, memory_order_relaxed) + 1,
                        memory_order_relaxed);
}

static inline void goro__chan_buf_take(goro_chan *c, void *dst) {
  if (dst) goro__elem_copy(dst, goro__chan_slot(c, c->recvx), c->elemsize);
  if (++c->recvx == c->cap) c->recvx = 0;
  atomic_store_explicit(&c->qcount, atomic_load_explicit(&c->qcount, memory_order_relaxed) - 1,
                        memory_order_relaxed);
}

static inline uint32_t goro__chan_qcount(goro_chan *c) {
  return atomic_load_explicit(&c->qcount, memory_order_relaxed);
}
static inline bool goro__chan_closed(goro_chan *c) {
  return atomic_load_explicit(&c->closed, memory_order_relaxed) != 0;
}

#endif
