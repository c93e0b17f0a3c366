/* lock.c - M-level locks and notes: block the thread, not the goroutine.
 *
 * Design: goro__lock_t is a futex word (0 free, 1 held) and a count of
 * sleepers.  The fast paths are inline in internal.h: lock is one CAS,
 * unlock a load of the count and a plain store -- no locked instruction,
 * which on a channel hand-off is two of the eight atomic operations of a
 * round trip (interleaved 7-run medians against the exchanging unlock:
 * select4 112.9 -> 102.3 ns, bufchan_4x4 11.8 -> 10.5, pingpong_1p
 * unchanged).  The slow path spins briefly
 * (critical sections are a few dozen instructions: run-queue batches,
 * channel queues), yields once, then sleeps on the futex, at most 1 ms at
 * a time (see goro__lock_slow on the wake-up an unlocker can miss).  A
 * note is a one-shot event for parking an M.
 *
 * The spin looks at the word rarely and more rarely each time (30, 60,
 * 120, 240 pauses between looks, ~0.8 to 6 us here): each look pulls the
 * cache line away from the holder (168 ns per transfer on the test
 * machine), and a holder that keeps the line does many short critical
 * sections in a row.  Under a contended channel this beat a fixed 30-pause
 * spin (4 producers and 4 consumers at 2 Ps: 15.6 -> 13.8 ns per message;
 * select4 and pingpong_2p no worse); looking every few pauses was twice as
 * slow (the lock then changes hands on nearly every operation).
 *
 * Rejected: pthread_mutex_t (larger, not valid when zeroed on all libcs,
 * and TSan already sees C11 atomics); a ticket lock (unfair wake order
 * does not matter here and tickets spin the cache line harder); Go's
 * three-state word (unlock must exchange to see the sleeper state: a
 * locked instruction per unlock); a lock that never sleeps (waiters for a
 * lock held across a system call, such as a stack chunk being mapped,
 * would burn the CPU).
 */
#include "internal.h"

#define SLEEP_BOUND_NS ((int64_t)1000000)

static inline bool try_take(goro__lock_t *l) {
  uint16_t z = 0;
  return atomic_load_explicit(&l->v, memory_order_relaxed) == 0 &&
         atomic_compare_exchange_weak_explicit(&l->v, &z, 1, memory_order_acquire,
                                               memory_order_relaxed);
}

void goro__lock_slow(goro__lock_t *l) {
  for (;;) {
    for (int pauses = 30; pauses <= 240; pauses *= 2) {
      for (int k = 0; k < pauses; k++) goro__cpu_relax();
      if (try_take(l)) return;
    }
    goro__osyield();
    if (try_take(l)) return;
    /* Sleep while v is 1.  Announce first (a locked RMW), look again,
     * then let the kernel compare the word.  The unlocker reads the count
     * just before its plain store (after it, the lock's memory may
     * already be freed by the next holder), so a sleeper that announces
     * in the nanoseconds between and reaches the kernel before the store
     * is visible misses its wake-up; the system call takes hundreds of
     * nanoseconds, and the sleep is bounded so that even then it ends. */
    atomic_fetch_add(&l->sleepers, 1);
    uint32_t w = atomic_load(&l->word);
    if (w & 0xffffu) goro__futex_wait(&l->word, w, SLEEP_BOUND_NS); /* a changed count: spurious, fine */
    atomic_fetch_sub(&l->sleepers, 1);
    if (try_take(l)) return;
  }
}

void goro__unlock_slow(goro__lock_t *l) { goro__futex_wake(&l->word, 1); }

void goro__note_clear(goro__note_t *n) { atomic_store(&n->v, 0); }

void goro__note_wake(goro__note_t *n) {
  if (atomic_exchange(&n->v, 1) == 0) goro__futex_wake(&n->v, 1);
}

void goro__note_sleep(goro__note_t *n) {
  while (atomic_load(&n->v) == 0) goro__futex_wait(&n->v, 0, -1);
}

bool goro__note_sleep_for(goro__note_t *n, int64_t ns) {
  if (ns < 0) {
    goro__note_sleep(n);
    return true;
  }
  int64_t deadline = goro__nanotime() + ns;
  while (atomic_load(&n->v) == 0) {
    int64_t left = deadline - goro__nanotime();
    if (left <= 0) return false;
    goro__futex_wait(&n->v, 0, left);
  }
  return true;
}
