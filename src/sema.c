/* sema.c - the goroutine semaphore keyed by address (Go's semaRoot).
 *
 * Purpose: a counter in user memory (an _Atomic uint32_t) with P and V
 * operations that park goroutines, not threads.  The sync package is
 * written on top of it: the mutex uses it for wake-ups and starvation
 * handoff, the rwmutex for its reader and writer queues, the waitgroup
 * for its waiters, goro_sema directly.
 *
 * Layout: SEM_TABLE (prime) buckets, each on its own cache line, picked
 * by hashing the address.  A bucket holds a lock, an atomic count of the
 * waiters it holds (nwait), and a list of per-address queues.  The first
 * waiter of an address is that queue's root: it carries the link to the
 * next address's root and the tail of its own queue, so appending is
 * O(1) and a lookup costs one step per distinct waited-on address in the
 * bucket.  Waiter records live on the waiting goroutine's stack (stacks
 * never move), so waiting allocates nothing.
 *
 * Invariants and protocol:
 *  - A waiter is linked in a queue iff w->queued; both change only under
 *    the bucket lock.  nwait counts linked waiters (plus acquirers that
 *    are between their nwait increment and their enqueue).
 *  - No lost wake-up: an acquirer increments nwait, then retries the
 *    counter, then enqueues; a releaser increments the counter, then
 *    reads nwait.  Both sides use sequentially consistent operations, so
 *    at least one of them sees the other.
 *  - The bucket lock is released by the park commit, after the waiter
 *    has switched out, so a releaser never readies a half-parked waiter.
 *  - Deadlines use goro__park_dl's selectdone protocol: a releaser must
 *    win CAS(selectdone 0->1) on a dequeued waiter before waking it; if
 *    it loses (the deadline fired), the waiter is left unlinked and the
 *    releaser tries the next one.  A timed-out waiter unlinks itself under
 *    the bucket lock if it is still queued.  Either way the unit stays in
 *    the counter for the next acquirer.
 *  - handoff: the releaser takes the unit for the waiter (w->ticket) so a
 *    newcomer cannot grab it in between; the waiter then returns without
 *    touching the counter.
 *
 * Rejected: Go's per-bucket treap of addresses (O(log n) lookups when
 * thousands of distinct addresses collide in one bucket); with 509
 * buckets and waiters usually concentrated on a few hot addresses, the
 * plain list is shorter code for the common case.  One lock for the
 * whole program: every contended mutex in the program would serialize.
 */
#include "sstack.h"
#include "sema.h"

#include "timer.h"

#define SEM_TABLE 509

typedef struct semwaiter {
  g_t *g;
  const void *addr;
  struct semwaiter *next, *prev; /* same-address queue */
  struct semwaiter *anext;       /* root only: next address in the bucket */
  struct semwaiter *tail;        /* root only: last waiter of this address */
  bool queued;
  bool ticket;                   /* a handoff gave us the unit */
} semwaiter_t;

typedef struct {
  _Alignas(CACHELINE) goro__lock_t lock;
  _Atomic uint32_t nwait;
  semwaiter_t *roots;
} sembucket_t;

static sembucket_t semtable[SEM_TABLE];

static inline sembucket_t *bucket_of(const void *addr) {
  uintptr_t a = (uintptr_t)addr;
  return &semtable[((a >> 3) ^ (a >> 12)) % SEM_TABLE];
}

/* Find the root for addr; *link is where it is linked from. */
static semwaiter_t *find_root(sembucket_t *b, const void *addr, semwaiter_t ***link) {
  semwaiter_t **pp = &b->roots;
  while (*pp && (*pp)->addr != addr) pp = &(*pp)->anext;
  *link = pp;
  return *pp;
}

static void enqueue(sembucket_t *b, semwaiter_t *w, bool lifo) {
  semwaiter_t **link;
  semwaiter_t *root = find_root(b, w->addr, &link);
  w->queued = true;
  w->prev = NULL;
  if (!root) {
    w->next = NULL;
    w->anext = NULL;
    w->tail = w;
    *link = w;
    return;
  }
  if (lifo) {
    /* w becomes the root in the old root's place. */
    w->next = root;
    root->prev = w;
    w->anext = root->anext;
    w->tail = root->tail;
    *link = w;
    return;
  }
  w->next = NULL;
  w->prev = root->tail;
  root->tail->next = w;
  root->tail = w;
}

/* Unlink w (queued, in bucket b). */
static void unlink_waiter(sembucket_t *b, semwaiter_t *w) {
  semwaiter_t **link;
  semwaiter_t *root = find_root(b, w->addr, &link);
  if (w == root) {
    semwaiter_t *n = w->next;
    if (n) {
      n->prev = NULL;
      n->anext = w->anext;
      n->tail = w->tail;
      *link = n;
    } else {
      *link = w->anext;
    }
  } else {
    w->prev->next = w->next;
    if (w->next)
      w->next->prev = w->prev;
    else
      root->tail = w->prev;
  }
  w->queued = false;
  w->next = w->prev = w->anext = w->tail = NULL;
}

int goro__sem_acquire(_Atomic uint32_t *addr, bool lifo, int reason, int64_t deadline) {
  if (goro__sem_try(addr)) return 0;
  if (deadline == 0) return GORO_ETIMEDOUT;
  sembucket_t *b = bucket_of(addr);
  g_t *g = goro__curg_or_external();
  semwaiter_t wl, *w = goro__ss_wait_buf(g, sizeof wl);
  if (!w) w = &wl; /* shared-stack goroutines wait with the record off their stack */
  *w = (semwaiter_t){.g = g, .addr = addr};
  for (;;) {
    if (goro__deadline_passed(deadline)) return GORO_ETIMEDOUT;
    goro__lock(&b->lock);
    atomic_fetch_add(&b->nwait, 1);
    if (goro__sem_try(addr)) {
      atomic_fetch_sub(&b->nwait, 1);
      goro__unlock(&b->lock);
      return 0;
    }
    w->ticket = false;
    atomic_store(&g->selectdone, 0);
    enqueue(b, w, lifo);
    bool timedout = goro__park_dl(reason, goro__commit_unlock, &b->lock, deadline);
    if (timedout) {
      goro__lock(&b->lock);
      if (w->queued) {
        unlink_waiter(b, w);
        atomic_fetch_sub(&b->nwait, 1);
      }
      goro__unlock(&b->lock);
      return GORO_ETIMEDOUT;
    }
    if (w->ticket || goro__sem_try(addr)) return 0;
    /* Woken without a unit: a newcomer took it.  Wait again. */
  }
}

bool goro__sem_release(_Atomic uint32_t *addr, bool handoff) {
  sembucket_t *b = bucket_of(addr);
  atomic_fetch_add(addr, 1);
  if (atomic_load(&b->nwait) == 0) return false;
  goro__lock(&b->lock);
  if (atomic_load(&b->nwait) == 0) {
    goro__unlock(&b->lock);
    return false;
  }
  semwaiter_t *w;
  semwaiter_t **link;
  while ((w = find_root(b, addr, &link)) != NULL) {
    unlink_waiter(b, w);
    atomic_fetch_sub(&b->nwait, 1);
    uint32_t zero = 0;
    if (atomic_compare_exchange_strong(&w->g->selectdone, &zero, 1)) break;
    /* Its deadline fired first: it no longer wants the unit. */
  }
  goro__unlock(&b->lock);
  if (!w) return false;
  if (handoff && goro__sem_try(addr)) w->ticket = true;
  goro__ready(w->g);
  return true;
}

uint32_t goro__sem_nwait(const void *addr) { return atomic_load(&bucket_of(addr)->nwait); }
