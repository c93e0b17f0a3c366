/* sync_rwmutex.c - goro_rwmutex: a writer-preferring reader/writer lock
 * (Go's readerCount / readerWait scheme).
 *
 * Fields: w serializes writers.  rc is one 64-bit word: the low 32 bits
 * are readerCount (readers holding or waiting for the lock), the high 32
 * bits a writer generation.  A writer announces itself by adding
 * 0xC0000000 to the low half (readerCount becomes negative as an int32:
 * RWMAX = 2^30 readers at most), which makes new readers block on
 * readerSem; it then waits on writerSem until the readers that were
 * active at that moment (counted in readerWait) have left; the last of
 * them releases writerSem.  Unlock adds 0x40000000 back: the low half
 * wraps to the number of readers that blocked meanwhile and the carry
 * bumps the generation, in one atomic step.  It then releases readerSem
 * once per blocked reader.
 *
 * A pending writer blocks new readers, so writers cannot starve (and a
 * recursive RLock can deadlock, as in Go).
 *
 * Deadlines:
 *  - RLock: a blocked reader whose deadline passes leaves if the writer
 *    generation it blocked under is still current (one CAS that also
 *    removes it from readerCount, so Unlock will not release a unit for
 *    it); otherwise the writer has already counted it and its unit is
 *    coming: it takes it and returns holding the read lock.
 *  - Lock: the deadline may pass while taking w (nothing to undo) or
 *    while waiting for readers.  Then the writer adds ABANDON to
 *    readerWait.  If the readers were already gone (readerWait was 0)
 *    the writer owns the lock after all.  Otherwise the reader that
 *    brings readerWait down to ABANDON performs the writer's Unlock on
 *    its behalf.  So readerWait never carries stale decrements into the
 *    next writer's session.
 *
 * Rejected: a per-P (sharded) reader count (scales reads on many cores
 * but costs GOMAXPROCS cache lines per lock in an embeddable 32-byte
 * struct); reader preference (writers starve under steady reads).
 */
#include "sema.h"

typedef struct {
  goro__mutex_t w;
  _Atomic uint64_t rc;           /* gen << 32 | (uint32_t)readerCount */
  _Atomic uint32_t writer_sem;
  _Atomic uint32_t reader_sem;
  _Atomic int32_t reader_wait;   /* departing readers the writer waits for */
  uint32_t pad_;
} rwmutex_t;

_Static_assert(sizeof(rwmutex_t) <= sizeof(goro_rwmutex), "goro_rwmutex storage too small");
_Static_assert(_Alignof(rwmutex_t) <= _Alignof(goro_rwmutex), "goro_rwmutex alignment");

#define RWMAX ((uint32_t)1 << 30)
#define WRITER_ADD ((uint64_t)(uint32_t)(0u - RWMAX)) /* 0xC0000000 */
#define ABANDON ((int32_t)1 << 30)

static inline int32_t rcount(uint64_t v) { return (int32_t)(uint32_t)v; }
static inline uint32_t rgen(uint64_t v) { return (uint32_t)(v >> 32); }
static inline rwmutex_t *RW(goro_rwmutex *rw) { return (rwmutex_t *)(void *)rw; }

/* The writer's Unlock: readers may proceed again. */
static void writer_release(rwmutex_t *rw) {
  uint64_t v = atomic_fetch_add_explicit(&rw->rc, RWMAX, memory_order_release) + RWMAX;
  int32_t r = rcount(v);
  if (r < 0 || (uint32_t)r >= RWMAX) goro__fatal("sync: Unlock of unlocked RWMutex");
  for (int32_t i = 0; i < r; i++) goro__sem_release(&rw->reader_sem, false);
  goro__mutex_unlock(&rw->w);
}

/* A reader left while a writer waits. */
static void reader_departed(rwmutex_t *rw) {
  int32_t left = atomic_fetch_sub(&rw->reader_wait, 1) - 1;
  if (left == 0) {
    goro__sem_release(&rw->writer_sem, false);
  } else if (left == ABANDON) {
    /* The writer gave up; finish its session for it. */
    atomic_fetch_sub(&rw->reader_wait, ABANDON);
    writer_release(rw);
  }
}

int goro_rwmutex_rlock_dl(goro_rwmutex *rwp, int64_t deadline) {
  goro__pd_use(rwp);
  rwmutex_t *rw = RW(rwp);
  uint64_t old = atomic_fetch_add_explicit(&rw->rc, 1, memory_order_acquire);
  if (LIKELY(rcount(old) >= 0)) return 0;
  /* A writer is pending or active. */
  if (goro__sem_acquire(&rw->reader_sem, false, WR_RWMUTEX_RLOCK, deadline) == 0) return 0;
  uint64_t cur = atomic_load(&rw->rc);
  while (rgen(cur) == rgen(old)) {
    if (atomic_compare_exchange_weak(&rw->rc, &cur, cur - 1)) return GORO_ETIMEDOUT;
  }
  /* The writer already counted us in: our unit is on its way. */
  goro__sem_acquire(&rw->reader_sem, false, WR_RWMUTEX_RLOCK, GORO_FOREVER);
  return 0;
}

void goro_rwmutex_rlock(goro_rwmutex *rw) { (void)goro_rwmutex_rlock_dl(rw, GORO_FOREVER); }

void goro_rwmutex_runlock(goro_rwmutex *rwp) {
  goro__pd_use(rwp);
  rwmutex_t *rw = RW(rwp);
  uint64_t old = atomic_fetch_sub_explicit(&rw->rc, 1, memory_order_release);
  int32_t r = rcount(old);
  if (LIKELY(r > 0)) return;
  if (r == 0 || r == (int32_t)(0u - RWMAX)) goro__fatal("sync: RUnlock of unlocked RWMutex");
  reader_departed(rw);
}

int goro_rwmutex_lock_dl(goro_rwmutex *rwp, int64_t deadline) {
  goro__pd_use(rwp);
  rwmutex_t *rw = RW(rwp);
  int err = goro__mutex_lock_dl(&rw->w, deadline, WR_RWMUTEX_LOCK);
  if (err) return err;
  if (deadline == 0) {
    /* Try once: succeed only if no reader holds or wants the lock. */
    uint64_t cur = atomic_load(&rw->rc);
    while (rcount(cur) == 0) {
      if (atomic_compare_exchange_weak_explicit(&rw->rc, &cur, cur + WRITER_ADD,
                                                memory_order_acquire, memory_order_relaxed))
        return 0;
    }
    goro__mutex_unlock(&rw->w);
    return GORO_ETIMEDOUT;
  }
  uint64_t old = atomic_fetch_add_explicit(&rw->rc, WRITER_ADD, memory_order_acquire);
  int32_t active = rcount(old);
  if (active == 0) return 0;
  if (atomic_fetch_add(&rw->reader_wait, active) + active == 0) return 0;
  if (goro__sem_acquire(&rw->writer_sem, false, WR_RWMUTEX_LOCK, deadline) == 0) return 0;
  /* Deadline: abandon unless the last reader left in the meantime. */
  if (atomic_fetch_add(&rw->reader_wait, ABANDON) == 0) {
    atomic_fetch_sub(&rw->reader_wait, ABANDON);
    goro__sem_acquire(&rw->writer_sem, false, WR_RWMUTEX_LOCK, GORO_FOREVER);
    return 0;
  }
  return GORO_ETIMEDOUT;
}

void goro_rwmutex_lock(goro_rwmutex *rw) { (void)goro_rwmutex_lock_dl(rw, GORO_FOREVER); }

void goro_rwmutex_unlock(goro_rwmutex *rwp) {
  goro__pd_use(rwp);
  writer_release(RW(rwp));
  goro__preempt_point();
}
