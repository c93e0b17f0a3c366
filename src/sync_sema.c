/* sync_sema.c - goro_sema: the public counting semaphore.
 *
 * The count is the first word of the struct (GORO_SEMA_INIT(n) sets it);
 * waiters queue FIFO on the address semaphore table (sema.c), keyed by
 * that word's address.  A released unit may be taken by a newcomer before
 * the woken waiter runs (as with Go's semaphores); the waiter then queues
 * again at the tail, so acquire is not strictly FIFO under contention,
 * but every release is matched by exactly one acquire.
 */
#include "sema.h"

typedef struct {
  _Atomic uint32_t count;
  uint32_t pad_;
} csema_t;

_Static_assert(sizeof(csema_t) <= sizeof(goro_sema), "goro_sema storage too small");
_Static_assert(_Alignof(csema_t) <= _Alignof(goro_sema), "goro_sema alignment");
_Static_assert(offsetof(csema_t, count) == 0, "GORO_SEMA_INIT sets the first word");

static inline _Atomic uint32_t *COUNT(goro_sema *s) { return &((csema_t *)(void *)s)->count; }

void goro_sema_acquire(goro_sema *s) {
  goro__pd_use(s);
  (void)goro__sem_acquire(COUNT(s), false, WR_SEMA, GORO_FOREVER);
}

int goro_sema_acquire_dl(goro_sema *s, int64_t deadline) {
  goro__pd_use(s);
  return goro__sem_acquire(COUNT(s), false, WR_SEMA, deadline);
}

bool goro_sema_tryacquire(goro_sema *s) {
  goro__pd_use(s);
  return goro__sem_try(COUNT(s));
}

void goro_sema_release(goro_sema *s) {
  goro__pd_use(s);
  (void)goro__sem_release(COUNT(s), false);
  goro__preempt_point();
}
