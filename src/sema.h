/* sema.h - the goroutine semaphore keyed by address, and the small
 * internal mutex the sync package builds on.
 *
 * goro__sem_acquire/release implement a sleep/wakeup counter on any
 * _Atomic uint32_t in user memory (Go's runtime semaphore): every release
 * is matched by exactly one acquire even when the release comes first.
 * Waiters wait in a global table of buckets keyed by the address, FIFO
 * per address, optionally LIFO (requeue at the head), optionally with a
 * deadline.  See sema.c for the design note.
 */
#ifndef GORO_SEMA_H
#define GORO_SEMA_H
#include "internal.h"

/* Take one unit of *addr without blocking: true if *addr was > 0. */
static inline bool goro__sem_try(_Atomic uint32_t *addr) {
  uint32_t v = atomic_load_explicit(addr, memory_order_relaxed);
  while (v > 0) {
    if (atomic_compare_exchange_weak_explicit(addr, &v, v - 1, memory_order_acquire,
                                              memory_order_relaxed))
      return true;
  }
  return false;
}

/* Block until a unit of *addr can be taken, then take it.  lifo queues
 * the caller at the head of this address's waiters (a woken waiter that
 * lost a race goes back first).  deadline: GORO_FOREVER, 0 (try once) or
 * an absolute goro__nanotime() instant.  Returns 0 or GORO_ETIMEDOUT; on
 * GORO_ETIMEDOUT the caller took no unit and is no longer queued.
 * Callable from goroutines and foreign threads. */
HIDDEN int goro__sem_acquire(_Atomic uint32_t *addr, bool lifo, int reason, int64_t deadline);

/* Add a unit to *addr and wake the first live waiter on it, if any.
 * handoff: take the unit on the waiter's behalf so no newcomer can steal
 * it (used by the mutex's starvation mode).  Returns true if a waiter was
 * readied. */
HIDDEN bool goro__sem_release(_Atomic uint32_t *addr, bool handoff);

/* Number of goroutines waiting on addr's bucket (tests, dumps). */
HIDDEN uint32_t goro__sem_nwait(const void *addr);

/* ------------------------------------------------------------------ */
/* Internal mutex: the state word and semaphore of goro_mutex, reused by */
/* goro_rwmutex and goro_once (sync_mutex.c).                         */
/* ------------------------------------------------------------------ */

typedef struct goro__mutex {
  _Atomic uint32_t state; /* MUTEX_* bits, waiter count from bit 3 up */
  _Atomic uint32_t sema;  /* wake-up / handoff tokens */
} goro__mutex_t;

enum {
  MUTEX_LOCKED = 1u,
  MUTEX_WOKEN = 2u,
  MUTEX_STARVING = 4u,
  MUTEX_WAITER_SHIFT = 3,
  MUTEX_WAITER = 1u << MUTEX_WAITER_SHIFT,
};

/* reason: the wait reason shown in dumps (WR_MUTEX, or the primitive
 * built on this mutex). */
HIDDEN int goro__mutex_lock_slow(goro__mutex_t *mu, int64_t deadline, int reason);
HIDDEN void goro__mutex_unlock_slow(goro__mutex_t *mu, uint32_t newstate);
/* Times any waiter switched a mutex into starvation mode (tests). */
HIDDEN extern _Atomic uint64_t goro__mutex_starvation_count;

static inline void goro__mutex_lock(goro__mutex_t *mu) {
  uint32_t z = 0;
  if (LIKELY(atomic_compare_exchange_strong_explicit(&mu->state, &z, MUTEX_LOCKED,
                                                     memory_order_acquire, memory_order_relaxed)))
    return;
  goro__mutex_lock_slow(mu, GORO_FOREVER, WR_MUTEX);
}

static inline int goro__mutex_lock_dl(goro__mutex_t *mu, int64_t deadline, int reason) {
  uint32_t z = 0;
  if (LIKELY(atomic_compare_exchange_strong_explicit(&mu->state, &z, MUTEX_LOCKED,
                                                     memory_order_acquire, memory_order_relaxed)))
    return 0;
  return goro__mutex_lock_slow(mu, deadline, reason);
}

static inline bool goro__mutex_trylock(goro__mutex_t *mu) {
  uint32_t old = atomic_load_explicit(&mu->state, memory_order_relaxed);
  for (;;) {
    if (old & (MUTEX_LOCKED | MUTEX_STARVING)) return false;
    if (atomic_compare_exchange_weak_explicit(&mu->state, &old, old | MUTEX_LOCKED,
                                              memory_order_acquire, memory_order_relaxed))
      return true;
  }
}

static inline void goro__mutex_unlock(goro__mutex_t *mu) {
  uint32_t n = atomic_fetch_sub_explicit(&mu->state, MUTEX_LOCKED, memory_order_release) -
               MUTEX_LOCKED;
  if (UNLIKELY(n != 0)) goro__mutex_unlock_slow(mu, n);
}

#endif
