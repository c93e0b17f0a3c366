/* sync_once.c - goro_once: run a function exactly once.
 *
 * done is read with an acquire load on every call; that one load is the
 * whole cost once fn has run, and pairs with the release store made after
 * fn returned, so callers see fn's effects.  The first callers serialize
 * on an internal mutex: the winner runs fn, the others park until it has
 * returned (the guarantee is "every caller returns after fn completed",
 * which a CAS-then-run flag could not give).  Calling goro_once_do on the
 * same once from inside fn deadlocks, as in Go.
 *
 * Rejected: a CAS-claimed flag with spinning losers (burns CPU while fn
 * runs, and fn may block for long).
 */
#include "sema.h"

typedef struct {
  _Atomic uint32_t done;
  uint32_t pad_;
  goro__mutex_t mu;
} once_t;

_Static_assert(sizeof(once_t) <= sizeof(goro_once), "goro_once storage too small");
_Static_assert(_Alignof(once_t) <= _Alignof(goro_once), "goro_once alignment");

static NOINLINE void once_slow(once_t *o, goro_fn fn, void *arg) {
  if (!goro__mutex_trylock(&o->mu)) goro__mutex_lock_slow(&o->mu, GORO_FOREVER, WR_ONCE);
  if (atomic_load_explicit(&o->done, memory_order_relaxed) == 0) {
    fn(arg);
    atomic_store_explicit(&o->done, 1, memory_order_release);
  }
  goro__mutex_unlock(&o->mu);
}

void goro_once_do(goro_once *once, goro_fn fn, void *arg) {
  goro__pd_use(once);
  once_t *o = (once_t *)(void *)once;
  if (LIKELY(atomic_load_explicit(&o->done, memory_order_acquire) != 0)) return;
  once_slow(o, fn, arg);
}
