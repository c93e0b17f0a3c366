/* sync_mutex.c - goro_mutex: a goroutine mutex with Go's normal and
 * starvation modes.
 *
 * State word (goro__mutex_t.state): bit 0 LOCKED, bit 1 WOKEN (a woken
 * or spinning locker exists, so Unlock need not wake another), bit 2
 * STARVING, bits 3.. the number of waiters.  Wake-ups travel through the
 * address semaphore on .sema (sema.c).
 *
 * Normal mode: a woken waiter competes with newcomers, which usually win
 * (they are already running); a waiter that loses re-queues at the head.
 * Lockers spin briefly (at most 4 rounds of 30 pauses, ~3 us here) when
 * another P is running, so the holder can make progress.  Unlike Go, they
 * spin even when their own run queue is not empty: under contention the
 * goroutines queued behind a parking locker are usually lockers too, so
 * parking starts one of them, which takes the lock from the other
 * processor, and the lock's cache line (168 ns per transfer on the test
 * machine) moves back and forth about once per transfer time.  Spinning
 * holds one locker per processor in a read-only wait while the holder's
 * processor takes the lock many times in a row: 1000 goroutines on one
 * mutex at 2 Ps went from 20-30 ns to 6-9 ns per lock/unlock (one P:
 * 5.3 ns), with ~100k lock moves between processors down to ~1-10k.
 * The cost is bounded: a queued goroutine waits at most one spin
 * (4 reads of the lock word) before the locker parks.  Normal mode gives
 * throughput: a running goroutine may take the lock many times in a row
 * without a context switch.
 *
 * Starvation mode: a waiter that has waited more than 1 ms sets STARVING
 * on its next failed attempt.  Then Unlock hands the lock directly to the
 * first waiter (a semaphore handoff); newcomers neither spin nor take the
 * lock but queue at the tail.  The mode ends when the waiter that got the
 * lock is the last one or waited less than 1 ms.
 *
 * Accounting (the invariant the deadline path relies on): in normal mode
 * an unlocker that wakes someone removes one waiter from the count and
 * sets WOKEN; the token it puts in the semaphore carries both, and
 * whoever consumes it owns WOKEN.  So the waiter count equals goroutines
 * that counted themselves minus normal-mode tokens not yet consumed, and
 * is never negative.  In starvation mode a token means ownership and the
 * waiter removes its own count.  A waiter whose deadline passes must
 * settle its count: if the count is non-zero it removes one; if it is
 * zero a normal-mode token is in flight to some waiter and the
 * semaphore will deliver it promptly, so it takes it and then behaves as
 * a woken waiter (locks if free, else clears WOKEN and gives up).  In
 * starvation mode it first tries to take a pending handoff (and then owns
 * the lock: the deadline raced with the handoff and the lock won).
 *
 * Rejected: a plain FIFO handoff lock (every unlock a context switch:
 * an order of magnitude slower under contention); pure barging (a waiter
 * can starve forever, Go issue 13086); Go's "spin only with an empty run
 * queue" (see above); keeping contenders on the P that last took the
 * lock by queueing newcomers from other Ps and waking onto the
 * unlocker's P without stealing (did not stop the lock moving: each P's
 * unlocker kept waking onto its own P; and a waiter that defers while the
 * lock is free can wait for an unlock that never comes).
 */
#include "sema.h"

#include "sched.h"

_Static_assert(sizeof(goro__mutex_t) <= sizeof(goro_mutex), "goro_mutex storage too small");
_Static_assert(_Alignof(goro__mutex_t) <= _Alignof(goro_mutex), "goro_mutex alignment");

#define STARVATION_NS ((int64_t)1000000)

_Atomic uint64_t goro__mutex_starvation_count;

static int ncpu_cached;

static bool can_spin(int iter) {
  if (iter >= 4) return false;
  int ncpu = __atomic_load_n(&ncpu_cached, __ATOMIC_RELAXED);
  if (ncpu == 0) {
    ncpu = goro__os_ncpu();
    __atomic_store_n(&ncpu_cached, ncpu, __ATOMIC_RELAXED);
  }
  if (ncpu <= 1) return false;
  int32_t busy = atomic_load_explicit(&goro__sched.gomaxprocs, memory_order_relaxed) -
                 atomic_load_explicit(&goro__sched.npidle, memory_order_relaxed) -
                 atomic_load_explicit(&goro__sched.nmspinning, memory_order_relaxed);
  return busy > 1; /* the holder may be running elsewhere; see the note on queued work */
}

static inline void do_spin(void) {
  for (int i = 0; i < 30; i++) goro__cpu_relax();
}

static noreturn void inconsistent(void) { goro__fatal("sync: inconsistent mutex state"); }

/* We woke in starvation mode holding a handoff: take the lock. */
static void take_handoff(goro__mutex_t *mu, bool starving) {
  uint32_t old = atomic_load(&mu->state);
  if ((old & (MUTEX_LOCKED | MUTEX_WOKEN)) || (old >> MUTEX_WAITER_SHIFT) == 0) inconsistent();
  uint32_t delta = MUTEX_LOCKED - MUTEX_WAITER;
  if (!starving || (old >> MUTEX_WAITER_SHIFT) == 1) delta -= MUTEX_STARVING;
  atomic_fetch_add_explicit(&mu->state, delta, memory_order_acquire);
}

/* The deadline passed while we were counted as a waiter and held no
 * token.  Settle; returns 0 if we ended up with the lock. */
static int settle_timeout(goro__mutex_t *mu, bool starving, int reason) {
  uint32_t old = atomic_load(&mu->state);
  for (;;) {
    if (old & MUTEX_STARVING) {
      if (goro__sem_try(&mu->sema)) {
        take_handoff(mu, starving);
        return 0;
      }
      if ((old >> MUTEX_WAITER_SHIFT) == 0) inconsistent();
      if (atomic_compare_exchange_weak(&mu->state, &old, old - MUTEX_WAITER)) return GORO_ETIMEDOUT;
      continue;
    }
    if ((old >> MUTEX_WAITER_SHIFT) != 0) {
      if (atomic_compare_exchange_weak(&mu->state, &old, old - MUTEX_WAITER)) return GORO_ETIMEDOUT;
      continue;
    }
    break;
  }
  /* Count is zero: a wake-up token is on its way; it is ours to take. */
  goro__sem_acquire(&mu->sema, true, reason, GORO_FOREVER);
  old = atomic_load(&mu->state);
  for (;;) {
    if (!(old & MUTEX_WOKEN) || (old & MUTEX_STARVING)) inconsistent();
    if (!(old & MUTEX_LOCKED)) {
      if (atomic_compare_exchange_weak_explicit(&mu->state, &old,
                                                (old | MUTEX_LOCKED) & ~MUTEX_WOKEN,
                                                memory_order_acquire, memory_order_relaxed))
        return 0;
    } else if (atomic_compare_exchange_weak(&mu->state, &old, old & ~MUTEX_WOKEN)) {
      return GORO_ETIMEDOUT;
    }
  }
}

int goro__mutex_lock_slow(goro__mutex_t *mu, int64_t deadline, int reason) {
  if (deadline == 0) return goro__mutex_trylock(mu) ? 0 : GORO_ETIMEDOUT;
  int64_t wait_start = 0;
  bool starving = false, awoke = false;
  int iter = 0;
  uint32_t old = atomic_load_explicit(&mu->state, memory_order_relaxed);
  for (;;) {
    if ((old & (MUTEX_LOCKED | MUTEX_STARVING)) == MUTEX_LOCKED && can_spin(iter)) {
      /* Claim WOKEN so Unlock does not wake a sleeper we would race. */
      if (!awoke && !(old & MUTEX_WOKEN) && (old >> MUTEX_WAITER_SHIFT) != 0 &&
          atomic_compare_exchange_weak(&mu->state, &old, old | MUTEX_WOKEN))
        awoke = true;
      do_spin();
      iter++;
      old = atomic_load_explicit(&mu->state, memory_order_relaxed);
      continue;
    }
    uint32_t new = old;
    if (!(old & MUTEX_STARVING)) new |= MUTEX_LOCKED;
    if (old & (MUTEX_LOCKED | MUTEX_STARVING)) new += MUTEX_WAITER;
    if (starving && (old & MUTEX_LOCKED)) new |= MUTEX_STARVING;
    if (awoke) {
      if (!(new & MUTEX_WOKEN)) inconsistent();
      new &= ~MUTEX_WOKEN;
    }
    if (!atomic_compare_exchange_weak_explicit(&mu->state, &old, new, memory_order_acquire,
                                               memory_order_relaxed))
      continue;
    if (!(old & (MUTEX_LOCKED | MUTEX_STARVING))) return 0; /* locked by our CAS */
    if ((new & MUTEX_STARVING) && !(old & MUTEX_STARVING))
      atomic_fetch_add_explicit(&goro__mutex_starvation_count, 1, memory_order_relaxed);
    bool lifo = wait_start != 0;
    if (!wait_start) wait_start = goro__nanotime();
    if (goro__sem_acquire(&mu->sema, lifo, reason, deadline) != 0)
      return settle_timeout(mu, starving || goro__nanotime() - wait_start > STARVATION_NS, reason);
    starving = starving || goro__nanotime() - wait_start > STARVATION_NS;
    old = atomic_load_explicit(&mu->state, memory_order_relaxed);
    if (old & MUTEX_STARVING) {
      take_handoff(mu, starving);
      return 0;
    }
    awoke = true;
    iter = 0;
  }
}

void goro__mutex_unlock_slow(goro__mutex_t *mu, uint32_t new) {
  if (!((new + MUTEX_LOCKED) & MUTEX_LOCKED)) goro__fatal("sync: unlock of unlocked mutex");
  if (new & MUTEX_STARVING) {
    /* Hand the lock to the next waiter; it keeps STARVING set or clears
     * it, and newcomers meanwhile queue behind it. */
    goro__sem_release(&mu->sema, true);
    goro__preempt_point();
    return;
  }
  uint32_t old = new;
  for (;;) {
    /* Nobody to wake, or someone is already awake / has the lock. */
    if ((old >> MUTEX_WAITER_SHIFT) == 0 || (old & (MUTEX_LOCKED | MUTEX_WOKEN | MUTEX_STARVING)))
      return;
    if (atomic_compare_exchange_weak(&mu->state, &old, (old - MUTEX_WAITER) | MUTEX_WOKEN)) {
      goro__sem_release(&mu->sema, false);
      /* Someone waits for this lock: let a goroutine the monitor asked to
       * yield do it here, before it can take the lock again. */
      goro__preempt_point();
      return;
    }
  }
}

/* ------------------------------------------------------------------ */
/* Public API                                                          */
/* ------------------------------------------------------------------ */

void goro_mutex_lock(goro_mutex *mu) {
  goro__pd_use(mu);
  goro__mutex_lock((goro__mutex_t *)(void *)mu);
}

int goro_mutex_lock_dl(goro_mutex *mu, int64_t deadline) {
  goro__pd_use(mu);
  return goro__mutex_lock_dl((goro__mutex_t *)(void *)mu, deadline, WR_MUTEX);
}

bool goro_mutex_trylock(goro_mutex *mu) {
  goro__pd_use(mu);
  return goro__mutex_trylock((goro__mutex_t *)(void *)mu);
}

void goro_mutex_unlock(goro_mutex *mu) {
  goro__pd_use(mu);
  goro__mutex_unlock((goro__mutex_t *)(void *)mu);
  goro__preempt_point(); /* every runtime call is one (DESIGN) */
}
