/* partial_deadlock.c - GORO_DEBUG=partialdeadlock=1: report goroutines
 * blocked forever on channels and locks while the rest of the program
 * keeps running (Go only detects the case where *every* goroutine is
 * blocked; see debug.c).
 *
 * Model.  Without a garbage collector we cannot know who holds a pointer
 * to a channel or lock, so "reachable" is approximated by who has used
 * it: channel and sync code call goro__pd_use(obj) on every operation
 * (make, send, receive, close, lock, unlock, add, ...), which records the
 * goroutine as a user of obj and sets g->waitobj = obj, the object it
 * waits on if the operation parks.  For a wait object O:
 *   reachers(O) = goroutines that touched O
 *               + live descendants of those (a goroutine may have been
 *                 handed O as its argument)
 *               + every live goroutine whose ancestry is unknown (its
 *                 parent already exited), to stay conservative.
 * A set S of goroutines, each blocked on a channel or lock for longer than
 * the threshold (partialdeadlockms, default 1000), is deadlocked when every
 * live reacher of every object a member of S waits on is itself in S:
 * nobody outside S can ever complete their operations.  S is computed as a
 * greatest fixed point: start with all candidates, drop any whose object
 * has a reacher outside the set, repeat.  Objects with no touch record (code
 * that does not report touches, or a full table) and objects with too many
 * touchers to track are never reported.  Waits on nil channels and
 * select with no cases are forever by definition and reported alone.
 *
 * What the model misses (false reports are possible, so this is a debug
 * mode that prints and never exits): an object published through shared
 * memory (a global, a heap structure) to a goroutine that has not used it
 * yet and is not a descendant of a user of it.
 *
 * When: from goro__checkdead (an M went idle; sched.lock held) and from
 * the monitor if it calls goro__partial_deadlock_poll, at most twice per
 * threshold; never once the main goroutine has returned (the program is
 * ending: goroutines only main could reach are left behind, as in Go,
 * not reported).  The analysis allocates (this is not a signal path) and
 * takes pd_lock (touch table) briefly; it never takes sched.lock.
 *
 * Locking: pd_lock protects the touch table; poll_busy makes the analysis
 * single-threaded (a second caller skips).
 */
#include "sched.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


#define PD_TABLE 8192
#define PD_IDS 8

typedef struct {
  void *obj;               /* NULL: empty */
  uint8_t n;
  bool many;               /* more touchers than PD_IDS: never report */
  int64_t ids[PD_IDS];
} pd_ent_t;

static goro__lock_t pd_lock; /* protects pd_tab and pd_used */
static pd_ent_t *pd_tab;   /* PD_TABLE entries, made on first touch */
static int pd_used;

static size_t pd_hash(void *obj) {
  return (size_t)(((uintptr_t)obj * 0x9E3779B97F4A7C15ULL) >> 40) & (PD_TABLE - 1);
}

/* pd_lock held.  Find obj's entry, or the empty slot for it (NULL if the
 * table is full). */
static pd_ent_t *pd_find(void *obj, bool insert) {
  if (!pd_tab) {
    if (!insert) return NULL;
    pd_tab = calloc(PD_TABLE, sizeof *pd_tab);
    if (!pd_tab) return NULL;
  }
  size_t h = pd_hash(obj);
  for (size_t i = 0; i < PD_TABLE; i++) {
    pd_ent_t *e = &pd_tab[(h + i) & (PD_TABLE - 1)];
    if (e->obj == obj) return e;
    if (!e->obj) {
      if (!insert || pd_used >= PD_TABLE * 3 / 4) return NULL;
      e->obj = obj;
      pd_used++;
      return e;
    }
  }
  return NULL;
}

void goro__pd_touch(void *obj) {
  if (LIKELY(!goro__sched.partialdeadlock) || !obj) return;
  g_t *g = goro__getg();
  if (!g) return;
  goro__lock(&pd_lock);
  pd_ent_t *e = pd_find(obj, true);
  if (e && !e->many) {
    bool have = false;
    for (int i = 0; i < e->n && !have; i++) have = e->ids[i] == g->id;
    if (!have) {
      if (e->n < PD_IDS)
        e->ids[e->n++] = g->id;
      else
        e->many = true;
    }
  }
  goro__unlock(&pd_lock);
}

/* The object is being freed; its address may be reused.  (Keeping a
 * stale entry would only make the analysis more conservative.) */
void goro__pd_use_slow(void *obj) {
  goro__pd_touch(obj);
  g_t *g = goro__getg();
  if (g) atomic_store_explicit(&g->waitobj, obj, memory_order_relaxed);
}

void goro__pd_forget(void *obj) {
  if (LIKELY(!goro__sched.partialdeadlock) || !obj) return;
  goro__lock(&pd_lock);
  pd_ent_t *e = pd_find(obj, false);
  if (e) {
    /* Keep the slot occupied (open addressing) but make it useless. */
    e->n = 0;
    e->many = true;
  }
  goro__unlock(&pd_lock);
}

/* ------------------------------------------------------------------ */
/* Analysis                                                            */
/* ------------------------------------------------------------------ */

typedef struct {
  g_t *g;
  int64_t id, parent;
  uint32_t status;
  uint8_t reason;
  void *obj;
  int64_t since;
  bool cand;     /* in the candidate set S */
  int8_t desc;   /* memo for "descends from a toucher": -1 unknown */
} snap_t;

static int snap_cmp(const void *a, const void *b) {
  int64_t x = ((const snap_t *)a)->id, y = ((const snap_t *)b)->id;
  return x < y ? -1 : x > y;
}

static snap_t *snap_find(snap_t *s, size_t n, int64_t id) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (s[mid].id < id)
      lo = mid + 1;
    else if (s[mid].id > id)
      hi = mid;
    else
      return &s[mid];
  }
  return NULL;
}

static bool blocking_reason(uint8_t r) {
  switch (r) {
    case WR_CHAN_RECV: case WR_CHAN_SEND: case WR_MUTEX: case WR_RWMUTEX_RLOCK:
    case WR_RWMUTEX_LOCK: case WR_WAITGROUP: case WR_COND: case WR_SEMA: case WR_ONCE:
      return true;
    default:
      return false;
  }
}

static bool forever_reason(uint8_t r) {
  return r == WR_CHAN_RECV_NIL || r == WR_CHAN_SEND_NIL || r == WR_SELECT_NO_CASES;
}

/* May x reach an object whose touchers are ids[0..n)?  Touchers, their
 * live descendants, and goroutines of unknown ancestry. */
static bool may_reach(snap_t *s, size_t ns, snap_t *x, const int64_t *ids, int n) {
  for (int depth = 0; depth < 1 << 20; depth++) {
    for (int i = 0; i < n; i++)
      if (ids[i] == x->id) return true;
    if (x->parent == 0) return false;       /* a root: not a descendant */
    snap_t *p = snap_find(s, ns, x->parent);
    if (!p) return true;                    /* parent gone: unknown */
    x = p;
  }
  return true;
}

/* Goroutines already reported (same record, id and wait start). */
#define REPORTED_MAX 1024
static struct { g_t *g; int64_t id, since; } reported[REPORTED_MAX];
static int nreported;

static bool was_reported(snap_t *e) {
  for (int i = 0; i < nreported; i++)
    if (reported[i].g == e->g && reported[i].id == e->id && reported[i].since == e->since)
      return true;
  return false;
}

static void report(snap_t *s, size_t ns) {
  char buf[512];
  int n = snprintf(buf, sizeof buf, "goro: partial deadlock: goroutines");
  int k = 0;
  for (size_t i = 0; i < ns && n < (int)sizeof buf - 64; i++) {
    if (!s[i].cand || was_reported(&s[i])) continue;
    n += snprintf(buf + n, sizeof buf - (size_t)n, "%s %lld", k++ ? "," : "", (long long)s[i].id);
  }
  if (k == 0) return;
  n += snprintf(buf + n, sizeof buf - (size_t)n, " blocked forever on");
  /* distinct wait reasons */
  uint32_t seen = 0;
  int r = 0;
  for (size_t i = 0; i < ns && n < (int)sizeof buf - 48; i++) {
    if (!s[i].cand || was_reported(&s[i]) || (seen & (1u << s[i].reason))) continue;
    seen |= 1u << s[i].reason;
    n += snprintf(buf + n, sizeof buf - (size_t)n, "%s %s", r++ ? "," : "",
                  goro__waitreason_str(s[i].reason));
  }
  n += snprintf(buf + n, sizeof buf - (size_t)n, "\n\n");
  if (write(2, buf, (size_t)n) < 0) return;
  for (size_t i = 0; i < ns; i++) {
    if (!s[i].cand || was_reported(&s[i])) continue;
    goro__dump_one(2, s[i].g);
    if (write(2, "\n", 1) < 0) return;
  }
  for (size_t i = 0; i < ns; i++) {
    if (!s[i].cand || was_reported(&s[i]) || nreported == REPORTED_MAX) continue;
    reported[nreported].g = s[i].g;
    reported[nreported].id = s[i].id;
    reported[nreported].since = s[i].since;
    nreported++;
  }
}

static _Atomic int poll_busy;
static _Atomic int64_t last_poll;

void goro__partial_deadlock_poll(int64_t now) {
  if (!goro__sched.partialdeadlock) return;
  int64_t thr = goro__debug_partial_threshold_ns;
  int64_t every = thr / 2 > 10 * GORO_MILLISECOND ? thr / 2 : 10 * GORO_MILLISECOND;
  if (now - atomic_load(&last_poll) < every) return;
  /* Foreign threads may reach anything and are not goroutines. */
  if (atomic_load(&goro__sched.foreign_users) > 0) return;
  /* Once main has returned the program is ending, as in Go: what main
   * could reach is not deadlocked, only left behind. */
  if (atomic_load(&goro__sched.exiting)) return;
  if (atomic_exchange(&poll_busy, 1)) return;
  atomic_store(&last_poll, now);

  size_t cap = 1024, ns = 0;
  snap_t *s = malloc(cap * sizeof *s);
  if (!s) goto out;
  /* waitsince is stamped from goro__sched.coarsetime (park.c), which
   * lags goro__nanotime() by at most a monitor tick. */
  RACY_READS_BEGIN();
  for (g_t *g = goro__sched.allg; g; g = g->allnext) {
    uint32_t st = atomic_load(&g->status);
    if (st == G_IDLE || st == G_DEAD) {
      /* main ended after the check above (it sets exiting just after) */
      if (g == goro__sched.maing) {
        RACY_READS_END();
        goto out;
      }
      continue;
    }
    if (ns == cap) {
      snap_t *t = realloc(s, 2 * cap * sizeof *s);
      if (!t) {
        RACY_READS_END();
        goto out;
      }
      s = t;
      cap *= 2;
    }
    snap_t *e = &s[ns++];
    e->g = g;
    e->id = g->id;
    e->parent = g->parent_id;
    e->status = st;
    e->reason = atomic_load_explicit(&g->waitreason, memory_order_relaxed);
    e->obj = atomic_load_explicit(&g->waitobj, memory_order_relaxed);
    e->since = atomic_load_explicit(&g->waitsince, memory_order_relaxed);
    e->desc = -1;
    e->cand = st == G_WAITING && now - e->since >= thr &&
              ((blocking_reason(e->reason) && e->obj) || forever_reason(e->reason));
  }
  RACY_READS_END();
  qsort(s, ns, sizeof *s, snap_cmp);

  /* Nil-channel waits: forever by themselves. */
  bool any = false;
  for (size_t i = 0; i < ns; i++) {
    if (!s[i].cand) continue;
    if (forever_reason(s[i].reason)) {
      any = true;
      continue;
    }
    /* Objects nobody reported touching are out. */
    goro__lock(&pd_lock);
    pd_ent_t *e = pd_find(s[i].obj, false);
    if (!e || e->many || e->n == 0) s[i].cand = false;
    goro__unlock(&pd_lock);
    any |= s[i].cand;
  }
  if (!any) goto out;

  /* Greatest fixed point: drop a candidate whose object a goroutine
   * outside the set may still reach. */
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t i = 0; i < ns; i++) {
      if (!s[i].cand || forever_reason(s[i].reason)) continue;
      int64_t ids[PD_IDS];
      int n = 0;
      bool ok = false;
      goro__lock(&pd_lock);
      pd_ent_t *e = pd_find(s[i].obj, false);
      if (e && !e->many) {
        n = e->n;
        memcpy(ids, e->ids, sizeof ids);
        ok = true;
      }
      goro__unlock(&pd_lock);
      bool drop = !ok;
      for (size_t j = 0; j < ns && !drop; j++) {
        if (j == i || s[j].cand) continue;
        if (may_reach(s, ns, &s[j], ids, n)) drop = true;
      }
      if (drop) {
        s[i].cand = false;
        changed = true;
      }
    }
  }
  report(s, ns);
out:
  free(s);
  atomic_store(&poll_busy, 0);
}
