/* select.c - goro_select: wait on several channel operations at once.
 *
 * Design (Go's selectgo):
 *  1. pollorder: the live cases (non-NULL channel) shuffled with the
 *     per-M PRNG; this random order is select's fairness guarantee.
 *  2. lockorder: live cases sorted by channel address; each distinct
 *     channel is locked once, in that order, so concurrent selects never
 *     deadlock on each other.
 *  3. pass 0: the first case in pollorder that looks ready by a
 *     lock-free peek is tried under its own lock only (most ready selects
 *     end here, taking one lock instead of all).  Otherwise pass 1 (all
 *     locked): the first case in pollorder that can proceed is completed
 *     as a plain send/recv would be, everything is unlocked, and its
 *     waker (if any) readied.
 *  4. nothing ready: deadline 0 -> GORO_EAGAIN, passed deadline ->
 *     GORO_ETIMEDOUT; otherwise pass 2 queues one sudog per live case (in
 *     lock order) and parks with a commit that unlocks every channel.
 *     All sudogs are needcas: whoever completes one of them must win
 *     CAS(g->selectdone, 0, 1), so exactly one case (or the deadline)
 *     wins; losers unlink and skip the record.
 *  5. pass 3: relock, unlink the sudogs still queued, unlock.  The
 *     winner is g->param (NULL when the deadline won); its channel is
 *     left unlocked when no other case uses it and it is not the first in
 *     lock order (see there).
 *
 * Memory: up to SMALL_N cases use arrays on the caller's stack (no
 * allocation on the common path); larger selects take one heap block.
 * The commit runs on the scheduler stack while the goroutine is parked,
 * reading the goroutine's (stable) stack; it unlocks in reverse lock
 * order so that the first channel, which the woken goroutine must take
 * before doing anything else, is released last and nothing on the
 * goroutine's stack is touched after that.
 *
 * Rejected: polling each channel with try operations before locking
 * (makes the common blocking case slower and is not atomic across
 * cases).
 */
#include "sstack.h"
#include "chan.h"

#include <stdlib.h>

#include "ready.h"
#include "timer.h"

#define SMALL_N 16

typedef struct {
  goro_chan **locks; /* distinct channels, address order */
  int nlocks;
} sel_t;

static void sel_lock(const sel_t *s) {
  for (int i = 0; i < s->nlocks; i++) goro__lock(&s->locks[i]->lock);
}

static void sel_unlock(const sel_t *s) {
  for (int i = s->nlocks - 1; i >= 0; i--) goro__unlock(&s->locks[i]->lock);
}

/* Commit: runs after the goroutine has switched out.  Reverse order with
 * index 0 last: until then the goroutine cannot get past relocking it,
 * so its stack (s and the arrays it points to) stays valid for us. */
static bool sel_commit(g_t *g, void *arg) {
  (void)g;
  const sel_t *s = arg;
  goro_chan **locks = s->locks;
  for (int i = s->nlocks - 1; i >= 0; i--) goro__unlock(&locks[i]->lock);
  return true;
}

static inline uintptr_t caddr(goro_case *cases, uint16_t i) { return (uintptr_t)cases[i].chan; }

/* Heap sort step: move a[r] down the max-heap a[0..end). */
static void sift_down(goro_case *cases, uint16_t *a, int r, int end) {
  for (;;) {
    int ch = 2 * r + 1;
    if (ch >= end) return;
    if (ch + 1 < end && caddr(cases, a[ch + 1]) > caddr(cases, a[ch])) ch++;
    if (caddr(cases, a[r]) >= caddr(cases, a[ch])) return;
    uint16_t t = a[r];
    a[r] = a[ch];
    a[ch] = t;
    r = ch;
  }
}

static void sort_lockorder(goro_case *cases, uint16_t *a, int n) {
  if (n <= SMALL_N) {
    for (int i = 1; i < n; i++) {
      uint16_t v = a[i];
      uintptr_t k = caddr(cases, v);
      int j = i;
      while (j > 0 && caddr(cases, a[j - 1]) > k) {
        a[j] = a[j - 1];
        j--;
      }
      a[j] = v;
    }
    return;
  }
  /* Heap sort: O(n log n) with constant extra space. */
  for (int i = n / 2 - 1; i >= 0; i--) sift_down(cases, a, i, n);
  for (int end = n - 1; end > 0; end--) {
    uint16_t t = a[0];
    a[0] = a[end];
    a[end] = t;
    sift_down(cases, a, 0, end);
  }
}

static int select_none(int64_t deadline) {
  if (deadline == 0) {
    goro__preempt_point();
    return GORO_EAGAIN;
  }
  return goro__park_until(deadline < 0 ? WR_SELECT_NO_CASES : WR_SELECT, deadline);
}

/* Pass 1 (all locked): try to complete case i.  Returns 1 if it fired
 * (*wake set to a goroutine to ready after unlocking, or NULL). */
static inline __attribute__((always_inline)) int try_case(goro_case *k, g_t **wake) {
  goro_chan *c = k->chan;
  if (k->dir == GORO_RECV) {
    sudog_t *s = goro__waitq_dequeue(&c->sendq);
    if (s) {
      *wake = s->g;
      goro__chan_recv_direct(c, s, k->elem, c->elemsize);
      k->ok = true;
      k->err = 0;
      return 1;
    }
    if (goro__chan_qcount(c) > 0) {
      goro__chan_buf_take(c, k->elem);
      k->ok = true;
      k->err = 0;
      return 1;
    }
    if (goro__chan_closed(c)) {
      goro__elem_zero(k->elem, c->elemsize);
      k->ok = false;
      k->err = GORO_ECLOSED;
      return 1;
    }
    return 0;
  }
  if (goro__chan_closed(c)) {
    k->err = GORO_ECLOSED;
    return 1;
  }
  sudog_t *r = goro__waitq_dequeue(&c->recvq);
  if (r) {
    *wake = r->g;
    goro__chan_send_direct(c, r, k->elem, c->elemsize);
    k->err = 0;
    return 1;
  }
  if (goro__chan_qcount(c) < c->cap) {
    goro__chan_buf_put(c, k->elem);
    k->err = 0;
    return 1;
  }
  return 0;
}

/* Lock-free guess whether case k can proceed now (atomics only). */
static inline bool looks_ready(const goro_case *k) {
  goro_chan *c = k->chan;
  if (atomic_load_explicit(&c->closed, memory_order_acquire)) return true;
  if (k->dir == GORO_RECV)
    return atomic_load_explicit(&c->sendq.first, memory_order_acquire) != NULL ||
           atomic_load_explicit(&c->qcount, memory_order_acquire) > 0;
  return atomic_load_explicit(&c->recvq.first, memory_order_acquire) != NULL ||
         atomic_load_explicit(&c->qcount, memory_order_acquire) < c->cap;
}

int goro_select(goro_case *cases, int n, int64_t deadline) {
  if (n < 0 || n > 65536 || (n > 0 && !cases)) return GORO_EINVAL;

  uint16_t small_orders[2 * SMALL_N];
  goro_chan *small_locks[SMALL_N];
  sudog_t small_sg[SMALL_N];
  uint16_t *pollorder = small_orders, *lockorder = small_orders + SMALL_N;
  goro_chan **locks = small_locks;
  sudog_t *sg = small_sg;
  void *heap = NULL; /* malloc'd here, freed on return */
  /* A shared-stack goroutine keeps its records and the values of its
   * cases in its wait buffer, off its stack (sstack.c). */
  g_t *self = NULL;
  bool offstack = UNLIKELY(atomic_load_explicit(&goro__sched.sstack_used, memory_order_relaxed)) &&
                  (self = goro__getg()) != NULL && self->ss;
  char *ebuf = NULL;
  if (n > SMALL_N || offstack) {
    size_t blk = GORO_SS_ALIGN((size_t)n * (sizeof(sudog_t) + sizeof(goro_chan *) + 2 * sizeof(uint16_t)));
    void *base;
    if (offstack) {
      size_t esz = 0;
      for (int i = 0; i < n; i++)
        if (cases[i].chan) esz += GORO_SS_ALIGN(cases[i].chan->elemsize);
      base = goro__ss_wait_buf(self, blk + esz);
      ebuf = (char *)base + blk;
    } else {
      base = heap = malloc(blk);
      if (!heap) return GORO_ENOMEM;
    }
    sg = base;
    locks = (goro_chan **)(sg + n);
    pollorder = (uint16_t *)(locks + n);
    lockorder = pollorder + n;
  }

  /* Validate, and shuffle the live cases (inside-out Fisher-Yates) with
   * a local xorshift seeded once from the per-M generator. */
  uint32_t rnd = goro__fastrand() | 1;
  int nlive = 0;
  for (int i = 0; i < n; i++) {
    if (UNLIKELY(cases[i].dir != GORO_SEND && cases[i].dir != GORO_RECV)) {
      free(heap);
      return GORO_EINVAL;
    }
    if (!cases[i].chan) continue;
    rnd ^= rnd << 13;
    rnd ^= rnd >> 17;
    rnd ^= rnd << 5;
    uint32_t j = (uint32_t)(((uint64_t)rnd * (uint32_t)(nlive + 1)) >> 32);
    pollorder[nlive] = pollorder[j];
    pollorder[j] = (uint16_t)i;
    nlive++;
  }
  if (nlive == 0) {
    free(heap);
    return select_none(deadline);
  }
  /* Pass 0: the first case in poll order that looks ready (lock-free
   * peek) is tried under its own lock alone.  This picks the same case
   * pass 1 would, without taking every lock; a wrong guess (a stale
   * waiter, a race) falls through to the full algorithm. */
  for (int i = 0; i < nlive; i++) {
    int idx = pollorder[i];
    goro_case *k = &cases[idx];
    if (!looks_ready(k)) continue;
    g_t *wake = NULL;
    goro__lock(&k->chan->lock);
    int fired = try_case(k, &wake);
    goro__unlock(&k->chan->lock);
    if (!fired) break;
    if (wake) goro__ready_inline(wake);
    free(heap);
    goro__preempt_point();
    return idx;
  }

  for (int i = 0; i < nlive; i++) lockorder[i] = pollorder[i];
  sort_lockorder(cases, lockorder, nlive);
  int nlocks = 0;
  for (int i = 0; i < nlive; i++) {
    goro_chan *c = cases[lockorder[i]].chan;
    if (nlocks == 0 || locks[nlocks - 1] != c) locks[nlocks++] = c;
  }
  sel_t s = {locks, nlocks};

  /* Pass 1. */
  sel_lock(&s);
  for (int i = 0; i < nlive; i++) {
    int idx = pollorder[i];
    g_t *wake = NULL;
    if (try_case(&cases[idx], &wake)) {
      sel_unlock(&s);
      if (wake) goro__ready_inline(wake);
      free(heap);
      goro__preempt_point();
      return idx;
    }
  }
  if (goro__deadline_passed(deadline)) {
    sel_unlock(&s);
    free(heap);
    goro__preempt_point();
    return deadline == 0 ? GORO_EAGAIN : GORO_ETIMEDOUT;
  }

  /* Pass 2: queue on every channel, in lock order. */
  g_t *g = goro__chan_self();
  atomic_store_explicit(&g->selectdone, 0, memory_order_relaxed);
  g->param = NULL;
  for (int i = 0; i < nlive; i++) {
    int idx = lockorder[i];
    goro_case *k = &cases[idx];
    sudog_t *q = &sg[idx];
    void *elem = k->elem;
    if (ebuf && elem) {
      uint32_t es = k->chan->elemsize;
      if (k->dir == GORO_SEND) memcpy(ebuf, elem, es);
      elem = ebuf;
      ebuf += GORO_SS_ALIGN(es);
    }
    q->g = g;
    q->elem = elem;
    q->c = k->chan;
    q->caseidx = idx;
    q->needcas = 1;
    q->success = 0;
    goro__waitq_push(k->dir == GORO_SEND ? &k->chan->sendq : &k->chan->recvq, q);
  }
  if (deadline < 0)
    goro__park(WR_SELECT, sel_commit, &s);
  else
    goro__park_dl(WR_SELECT, sel_commit, &s, deadline);

  /* Pass 3: unlink the losers.  The winner's channel needs no lock when
   * no other case of ours is on it (its waker dequeued our record and was
   * done with it before readying us), unless it is locks[0]: taking that
   * one is how we wait for the commit to finish reading our stack. */
  g = goro__chan_self();
  sudog_t *won = g->param;
  goro_chan *unlocked = won && nlocks == nlive && won->c != locks[0] ? won->c : NULL;
  for (int i = 0; i < nlocks; i++)
    if (locks[i] != unlocked) goro__lock(&locks[i]->lock);
  for (int i = 0; i < nlive; i++) {
    int idx = lockorder[i];
    goro_case *k = &cases[idx];
    sudog_t *q = &sg[idx];
    if (q->queued) goro__waitq_unlink(k->dir == GORO_SEND ? &k->chan->sendq : &k->chan->recvq, q);
  }
  for (int i = nlocks - 1; i >= 0; i--)
    if (locks[i] != unlocked) goro__unlock(&locks[i]->lock);

  int ret;
  if (!won) {
    ret = GORO_ETIMEDOUT;
  } else {
    ret = won->caseidx;
    goro_case *k = &cases[ret];
    if (k->dir == GORO_RECV) {
      k->ok = won->success;
      k->err = won->success ? 0 : GORO_ECLOSED;
      if (!won->success)
        goro__elem_zero(k->elem, k->chan->elemsize);
      else if (won->elem != k->elem)
        memcpy(k->elem, won->elem, k->chan->elemsize); /* received off-stack */
    } else {
      k->err = won->success ? 0 : GORO_ECLOSED;
    }
  }
  free(heap);
  return ret;
}
