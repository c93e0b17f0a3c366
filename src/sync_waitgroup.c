/* sync_waitgroup.c - goro_waitgroup: wait for a collection of goroutines.
 *
 * State: one 64-bit word, counter in the high 32 bits (signed), number of
 * waiters in the low 32 bits, so Add and Wait see both in one atomic
 * step.  Waiters sleep on the address semaphore `sema`.  When Add brings
 * the counter to zero with waiters present, it resets the word to 0 and
 * releases the semaphore once per waiter; a new round (Add after every
 * Wait has returned) starts from a clean word.
 *
 * Misuse caught as in Go, where it costs nothing on the fast path: a
 * negative counter; a positive Add racing with the wake-up of waiters
 * ("Add called concurrently with Wait"); a new round started before a
 * woken waiter returned ("reused before previous Wait has returned").
 *
 * Deadlines: a waiter whose deadline passes removes itself from the
 * waiter count with a CAS while the round is still open (counter > 0);
 * if the round has ended (the word was reset), its wake-up unit is
 * already on the way, so it takes it and reports success.
 *
 * Rejected: a mutex + cond (two locks per Done on the fast path); a
 * waiter list inside the struct (does not fit 16 bytes with deadlines).
 */
#include "sema.h"

typedef struct {
  _Atomic uint64_t state; /* counter << 32 | waiters */
  _Atomic uint32_t sema;
  uint32_t pad_;
} waitgroup_t;

_Static_assert(sizeof(waitgroup_t) <= sizeof(goro_waitgroup), "goro_waitgroup storage too small");
_Static_assert(_Alignof(waitgroup_t) <= _Alignof(goro_waitgroup), "goro_waitgroup alignment");

static inline waitgroup_t *WG(goro_waitgroup *wg) { return (waitgroup_t *)(void *)wg; }
static inline int32_t wg_counter(uint64_t v) { return (int32_t)(uint32_t)(v >> 32); }
static inline uint32_t wg_waiters(uint64_t v) { return (uint32_t)v; }

void goro_waitgroup_add(goro_waitgroup *wgp, int delta) {
  goro__pd_use(wgp);
  waitgroup_t *wg = WG(wgp);
  uint64_t d = (uint64_t)(uint32_t)delta << 32;
  uint64_t v = atomic_fetch_add_explicit(&wg->state, d, memory_order_acq_rel) + d;
  int32_t c = wg_counter(v);
  uint32_t w = wg_waiters(v);
  if (c < 0) goro__fatal("sync: negative WaitGroup counter");
  if (w != 0 && delta > 0 && c == delta)
    goro__fatal("sync: WaitGroup misuse: Add called concurrently with Wait");
  if (c > 0 || w == 0) return;
  /* Counter hit zero with waiters: nobody may touch the word now except
   * us (no Add can legally run, and Wait sees counter 0 and returns). */
  if (atomic_load(&wg->state) != v)
    goro__fatal("sync: WaitGroup misuse: Add called concurrently with Wait");
  atomic_store(&wg->state, 0);
  for (; w; w--) goro__sem_release(&wg->sema, false);
}

void goro_waitgroup_done(goro_waitgroup *wg) { goro_waitgroup_add(wg, -1); }

int goro_waitgroup_wait_dl(goro_waitgroup *wgp, int64_t deadline) {
  goro__pd_use(wgp);
  waitgroup_t *wg = WG(wgp);
  uint64_t v = atomic_load_explicit(&wg->state, memory_order_acquire);
  for (;;) {
    if (wg_counter(v) == 0) return 0;
    if (deadline == 0) return GORO_ETIMEDOUT;
    if (atomic_compare_exchange_weak_explicit(&wg->state, &v, v + 1, memory_order_acq_rel,
                                              memory_order_acquire))
      break;
  }
  if (goro__sem_acquire(&wg->sema, false, WR_WAITGROUP, deadline) == 0) {
    if (atomic_load_explicit(&wg->state, memory_order_acquire) != 0)
      goro__fatal("sync: WaitGroup is reused before previous Wait has returned");
    return 0;
  }
  v = atomic_load(&wg->state);
  for (;;) {
    if (wg_counter(v) == 0 || wg_waiters(v) == 0) break; /* round over: unit is coming */
    if (atomic_compare_exchange_weak(&wg->state, &v, v - 1)) return GORO_ETIMEDOUT;
  }
  goro__sem_acquire(&wg->sema, false, WR_WAITGROUP, GORO_FOREVER);
  return 0;
}

void goro_waitgroup_wait(goro_waitgroup *wg) { (void)goro_waitgroup_wait_dl(wg, GORO_FOREVER); }
