/* proc.c - the runtime's life cycle and the goroutine API.
 *
 * Design: goro_run turns the calling thread into M0, makes GOMAXPROCS Ps
 * and the main goroutine, and runs the scheduler loop on the caller's own
 * stack.  When the main goroutine returns, every M leaves its loop at its
 * next scheduling point, M0 joins them, and all memory (G records, stacks,
 * Ps, Ms) is freed, so goro_run can be called again.
 *
 * G records are allocated in slabs, never freed while the runtime runs
 * (dumps walk them without locks), and recycled through per-P free lists
 * (at most 64; half move to the global list when full).  Goroutine ids
 * come from per-P batches of 16 reserved with one atomic add.
 *
 * Spawn back-pressure: a new G goes to the spawner's runnext when that is
 * free, as in Go, else to the tail of the local ring.  A goroutine that
 * has spawned SPAWN_BATCH (128) goroutines without once being switched
 * out, or whose spawn overflowed the ring, yields and so queues behind
 * what it spawned (p->spawnstreak counts, reset at every switch).  The
 * streak, not the ring length: a tree of spawns (skynet, 10 per node)
 * keeps rings long without any one goroutine looping, and yielding there
 * made it twice as slow.  A loop that spawns without blocking thus keeps
 * at most a few hundred not-yet-run goroutines per P, whose G records
 * (128 of them, 24 KB, stay in L1 between spawn and run; 256 did not)
 * and stacks are recycled while still in cache, instead of materializing
 * all of them (1e6 spawns otherwise touched 180 MB of fresh G records
 * before the first ran).  Other Ps still find the ring to steal from.
 * Rejected: running the child at once (work-first), which serializes a
 * fan-out of CPU-bound goroutines that the others could have stolen.
 *
 * Locking: allglock protects the allg list and the slab list (writers
 * only; readers follow immutable allnext links).  Everything else is
 * sched.lock as described in sched.c.
 */
#include "sstack.h"
#include "sched.h"

#include <pthread.h>
#include <sys/prctl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef GORO_TSAN
#include <sanitizer/tsan_interface.h>
#endif

#define GFREE_MAX 64
#define GSLAB 64
#define GOID_BATCH 16
#define SPAWN_BATCH 128

typedef struct gslab {
  struct gslab *next;
  g_t g[GSLAB];
} gslab_t;

static gslab_t *slabs;           /* allglock */
static int maxprocs_setting;     /* goro_maxprocs before goro_run */
static size_t stack_setting;     /* goro_set_default_stack_size */

/* ------------------------------------------------------------------ */
/* G records                                                           */
/* ------------------------------------------------------------------ */

/* The global free list is a stack of batches (like the global run queue,
 * runq.c): a batch is a schedlink list whose first G holds the count and
 * the next batch, so Ps exchange 32 free Gs in O(1) under sched.lock
 * instead of walking cold G records while holding it. */
void goro__gfree_push(g_t *head, g_t *tail, int n) { /* sched.lock held */
  tail->schedlink = NULL;
  head->batchn = (uint32_t)n;
  head->batchnext = goro__sched.gfree;
  goro__sched.gfree = head;
  atomic_fetch_add(&goro__sched.ngfree, n);
}

static g_t *gfree_pop_batch(int *n) { /* sched.lock held */
  g_t *b = goro__sched.gfree;
  if (!b) return NULL;
  goro__sched.gfree = b->batchnext;
  *n = (int)b->batchn;
  atomic_fetch_sub(&goro__sched.ngfree, *n);
  return b;
}

void goro__gfput(p_t *p, g_t *g) {
  atomic_store_explicit(&g->status, G_IDLE, memory_order_release);
  g->schedlink = p->gfree;
  p->gfree = g;
  if (++p->ngfree >= GFREE_MAX) {
    /* Keep the first half (most recently freed, cache-warm); the rest
     * goes to the global list as one batch.  The walk is over our own
     * recently touched records, outside the lock. */
    g_t *keep_tail = p->gfree;
    for (int i = 1; i < GFREE_MAX / 2; i++) keep_tail = keep_tail->schedlink;
    g_t *head = keep_tail->schedlink, *tail = head;
    int n = 1;
    while (tail->schedlink) {
      tail = tail->schedlink;
      n++;
    }
    keep_tail->schedlink = NULL;
    p->ngfree -= n;
    goro__lock(&goro__sched.lock);
    goro__gfree_push(head, tail, n);
    goro__unlock(&goro__sched.lock);
  }
}

g_t *goro__galloc(p_t *p) {
  if (p && !p->gfree && atomic_load_explicit(&goro__sched.ngfree, memory_order_relaxed) > 0) {
    int n = 0;
    goro__lock(&goro__sched.lock);
    g_t *b = gfree_pop_batch(&n);
    goro__unlock(&goro__sched.lock);
    if (b) {
      p->gfree = b;
      p->ngfree = n;
    }
  }
  if (p && p->gfree) {
    g_t *g = p->gfree;
    p->gfree = g->schedlink;
    p->ngfree--;
    return g;
  }
  if (!p) {
    /* No P (a foreign thread): take one G, give the rest back. */
    int n = 0;
    goro__lock(&goro__sched.lock);
    g_t *g = gfree_pop_batch(&n);
    if (g && n > 1) {
      g_t *rest = g->schedlink, *tail = rest;
      while (tail->schedlink) tail = tail->schedlink;
      goro__gfree_push(rest, tail, n - 1);
    }
    goro__unlock(&goro__sched.lock);
    if (g) return g;
  }
  gslab_t *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  goro__lock(&goro__sched.allglock);
  s->next = slabs;
  slabs = s;
  for (int i = GSLAB - 1; i >= 0; i--) {
    s->g[i].allnext = goro__sched.allg;
    goro__sched.allg = &s->g[i];
  }
  goro__unlock(&goro__sched.allglock);
  /* Keep the first, give the rest to the cache (or, without a P, to the
   * global list as one batch). */
  for (int i = 1; i < GSLAB - 1; i++) s->g[i].schedlink = &s->g[i + 1];
  s->g[GSLAB - 1].schedlink = p ? p->gfree : NULL;
  if (p) {
    p->gfree = &s->g[1];
    p->ngfree += GSLAB - 1;
  } else {
    goro__lock(&goro__sched.lock);
    goro__gfree_push(&s->g[1], &s->g[GSLAB - 1], GSLAB - 1);
    goro__unlock(&goro__sched.lock);
  }
  return &s->g[0];
}

static int64_t newgoid(p_t *p) {
  if (!p) return atomic_fetch_add(&goro__sched.goidgen, 1) + 1;
  if (p->goid_next == p->goid_end) {
    int64_t base = atomic_fetch_add(&goro__sched.goidgen, GOID_BATCH);
    p->goid_next = base + 1;
    p->goid_end = base + 1 + GOID_BATCH;
  }
  return p->goid_next++;
}

int64_t goro__new_goroutine(goro_fn fn, void *arg, size_t stack_size, const char *name,
                            void *creator_pc, bool shared) {
  shared = shared && GORO_HAVE_SSTACK;
  gss_t *ss = NULL;
  if (UNLIKELY(shared) && !(ss = goro__ss_new())) return GORO_ENOMEM;
  m_t *m = goro__getm();
  p_t *p = m ? m->p : NULL;
  g_t *g = goro__galloc(p);
  if (!g) {
    goro__ss_release(ss);
    return GORO_ENOMEM;
  }
  g->fn = fn;
  g->arg = arg;
  g->stack_size = stack_size;
  g->id = newgoid(p);
  atomic_store_explicit(&g->waitreason, WR_NONE, memory_order_relaxed);
  g->preempt = 0;
  g->param = NULL;
  g->waiting = NULL;
  atomic_store_explicit(&g->waitobj, NULL, memory_order_relaxed);
  g->lockedm = NULL;
  g->lockcount = 0;
  atomic_store_explicit(&g->selectdone, 0, memory_order_relaxed);
  g_t *cur = m ? m->curg : NULL;
  g->parent_id = cur ? cur->id : 0;
  g->creator_pc = creator_pc;
  g->ss = ss; /* NULL in every free G record before this */
  g->name = NULL;
  if (name) {
    g->name = strndup(name, 31);
  }
  if (p) {
    /* Batched into the global counter so spawning Ps share no line;
     * owner-only updates, readable by goro_stats. */
    GORO_COUNTER_INC(p->spawndelta);
    if (atomic_load_explicit(&p->spawndelta, memory_order_relaxed) >= 64) {
      atomic_fetch_add_explicit(&goro__sched.spawned, p->spawndelta, memory_order_relaxed);
      atomic_store_explicit(&p->spawndelta, 0, memory_order_relaxed);
    }
  } else {
    atomic_fetch_add_explicit(&goro__sched.spawned, 1, memory_order_relaxed);
  }
  /* Read before g is published: once queued it may run, end and be
   * recycled for another goroutine before we return. */
  int64_t id = g->id;
  atomic_store_explicit(&g->status, G_RUNNABLE, memory_order_release);
  bool spilled = false;
  if (UNLIKELY(g->ss)) {
    goro__ss_put(g);
  } else if (p) {
    /* runnext if it is free (the new goroutine runs next, as in Go);
     * else the ring's tail, rather than kicking the runnext goroutine
     * there: a spawning loop then queues in spawn order, with no
     * exchange per spawn. */
    spilled = goro__runqput(p, g, atomic_load_explicit(&p->runnext, memory_order_relaxed) == NULL);
  } else {
    goro__lock(&goro__sched.lock);
    goro__globrunqput(g);
    goro__unlock(&goro__sched.lock);
  }
  if (goro__sched.maing || !p) goro__wakep();
  if (cur && p && (UNLIKELY(spilled) || ++p->spawnstreak >= SPAWN_BATCH))
    goro__mcall(m, cur, ACT_YIELD); /* back-pressure, see the note at the top */
  return id;
}

/* ------------------------------------------------------------------ */
/* Public goroutine API                                                */
/* ------------------------------------------------------------------ */

int64_t goro__spawned_count(void) {
  int64_t n = atomic_load(&goro__sched.spawned);
  for (int i = 0; i < goro__sched.nallp; i++) {
    p_t *p = goro__sched.allp[i];
    if (p) n += atomic_load_explicit(&p->spawndelta, memory_order_relaxed);
  }
  return n;
}

static int check_stack_size(size_t sz, size_t *out) {
  if (sz == 0) {
    *out = 0;
    return 0;
  }
  if (sz < GORO_STACK_MIN || sz > GORO_STACK_MAX) return GORO_EINVAL;
  sz = (sz + GORO_PAGE - 1) & ~(size_t)(GORO_PAGE - 1);
  *out = sz == goro__stack_default ? 0 : sz;
  return 0;
}

NOINLINE int64_t goro_go(goro_fn fn, void *arg) {
  if (!fn) return GORO_EINVAL;
  if (!atomic_load(&goro__sched.running)) return GORO_ENOTRUNNING;
  return goro__new_goroutine(fn, arg, 0, NULL, __builtin_return_address(0), false);
}

NOINLINE int64_t goro_go_opts(goro_fn fn, void *arg, const goro_opts *opts) {
  if (!fn) return GORO_EINVAL;
  if (!atomic_load(&goro__sched.running)) return GORO_ENOTRUNNING;
  size_t sz = 0;
  if (opts && check_stack_size(opts->stack_size, &sz) != 0) return GORO_EINVAL;
  if (opts && (opts->flags & ~GORO_SHARED_STACK)) return GORO_EINVAL;
  if (opts && (opts->flags & GORO_SHARED_STACK)) {
    if (opts->stack_size) return GORO_EINVAL; /* the P's stack is used */
    return goro__new_goroutine(fn, arg, sz, opts->name, __builtin_return_address(0), true);
  }
  return goro__new_goroutine(fn, arg, sz, opts ? opts->name : NULL,
                             __builtin_return_address(0), false);
}

void goro_yield(void) {
  m_t *m = goro__getm();
  g_t *g = m ? m->curg : NULL;
  if (!g) {
    goro__osyield();
    return;
  }
  goro__mcall(m, g, ACT_YIELD);
}

noreturn void goro_exit(void) {
  g_t *g = goro__getg();
  if (!g) goro__fatal("goro_exit called outside a goroutine");
  if (g == goro__sched.maing) goro__sched.main_result = 0;
  goro__goexit();
}

int64_t goro_id(void) {
  g_t *g = goro__getg();
  return g ? g->id : 0;
}

int goro_lock_thread(void) {
  m_t *m = goro__getm();
  g_t *g = m ? m->curg : NULL;
  if (!g) return GORO_ENOTGOROUTINE;
  if (g->ss) return GORO_EPERM; /* it lives on its P's stack, not a thread's */
  g->lockcount++;
  g->lockedm = m;
  m->lockedg = g;
  return 0;
}

int goro_unlock_thread(void) {
  m_t *m = goro__getm();
  g_t *g = m ? m->curg : NULL;
  if (!g) return GORO_ENOTGOROUTINE;
  if (g->lockcount == 0) return GORO_EPERM;
  if (--g->lockcount == 0) {
    g->lockedm = NULL;
    m->lockedg = NULL;
  }
  return 0;
}

int goro_set_default_stack_size(size_t bytes) {
  if (atomic_load(&goro__sched.running)) return GORO_ERUNNING;
  if (bytes < GORO_STACK_MIN || bytes > GORO_STACK_MAX) return GORO_EINVAL;
  stack_setting = (bytes + GORO_PAGE - 1) & ~(size_t)(GORO_PAGE - 1);
  return 0;
}

/* ------------------------------------------------------------------ */
/* Processors                                                          */
/* ------------------------------------------------------------------ */

p_t *goro__palloc(int id) {
  p_t *p = aligned_alloc(CACHELINE, (sizeof(p_t) + CACHELINE - 1) & ~(size_t)(CACHELINE - 1));
  if (!p) return NULL;
  memset(p, 0, sizeof *p);
  p->id = id;
  p->schedtick = 1; /* so the first slice is not a 61st */
  atomic_store(&p->status, P_DEAD); /* not on the idle list yet */
  goro__timers_p_init(p);
  return p;
}

/* Grow or shrink the set of live Ps.  Shrinking is lazy: a P beyond the
 * new count retires when its M next schedules or when it would go idle. */
static void resize_locked(int n) {
  int old = atomic_load(&goro__sched.gomaxprocs);
  for (int i = old; i < n; i++) {
    p_t *p = goro__sched.allp[i];
    if (!p) {
      p = goro__palloc(i);
      if (!p) {
        n = i;
        break;
      }
      goro__sched.allp[i] = p;
      if (i >= goro__sched.nallp) goro__sched.nallp = i + 1;
    }
    atomic_store(&goro__sched.gomaxprocs, i + 1);
    uint32_t st = atomic_load(&p->status);
    if (st == P_DEAD) { /* fresh or retired (a live one keeps running) */
      p->m = NULL;
      atomic_store(&p->status, P_IDLE);
      p->link = goro__sched.pidle;
      goro__sched.pidle = p;
      atomic_fetch_add(&goro__sched.npidle, 1);
    }
  }
  if (n < old) {
    atomic_store(&goro__sched.gomaxprocs, n);
    /* Retire idle Ps beyond n now; running ones retire themselves. */
    for (p_t **pp = &goro__sched.pidle; *pp;) {
      p_t *p = *pp;
      if (p->id >= n) {
        *pp = p->link;
        p->link = NULL;
        atomic_fetch_sub(&goro__sched.npidle, 1);
        /* retire via pidleput's path */
        goro__pidleput(p);
      } else {
        pp = &p->link;
      }
    }
  }
}

/* Set the user's processor count to n (Ps borrowed for hogs come on top).
 * The sum is computed under sched.lock, so it cannot interleave with a
 * borrow or a return. */
void goro__procresize(int n) {
  goro__lock(&goro__sched.lock);
  resize_locked(n + atomic_load(&goro__sched.nborrowed));
  goro__unlock(&goro__sched.lock);
  if (atomic_load(&goro__sched.running)) goro__wakep();
}

/* Borrow (+1) or give back (-1) a processor for a hogged one (preempt.c). */
void goro__procborrow(int delta) {
  goro__lock(&goro__sched.lock);
  int live = atomic_load(&goro__sched.gomaxprocs);
  if (delta < 0 || live < GORO_MAXPROCS_LIMIT) {
    atomic_fetch_add(&goro__sched.nborrowed, delta);
    resize_locked(live + delta);
  }
  goro__unlock(&goro__sched.lock);
  if (atomic_load(&goro__sched.running)) goro__wakep();
}

int goro_maxprocs(int n) {
  if (n > GORO_MAXPROCS_LIMIT) return GORO_EINVAL;
  if (!atomic_load(&goro__sched.running)) {
    int prev = maxprocs_setting > 0 ? maxprocs_setting : goro__os_ncpu();
    if (n > 0) maxprocs_setting = n;
    return prev;
  }
  /* The user's setting excludes Ps borrowed for hogs (preempt.c). */
  goro__lock(&goro__sched.lock);
  int prev = atomic_load(&goro__sched.gomaxprocs) - atomic_load(&goro__sched.nborrowed);
  if (n > 0 && n < prev && goro__ss_blocks_shrink(n)) {
    /* Under the lock that also guards the choice of homes (sstack.c). */
    goro__unlock(&goro__sched.lock);
    return GORO_EBUSY;
  }
  if (n > 0 && n != prev) resize_locked(n + atomic_load(&goro__sched.nborrowed));
  goro__unlock(&goro__sched.lock);
  if (n > 0 && n != prev) goro__wakep();
  return prev;
}

/* ------------------------------------------------------------------ */
/* goro_run                                                            */
/* ------------------------------------------------------------------ */

typedef struct {
  goro_main_fn fn;
  void *arg;
} main_args_t;

static void main_entry(void *arg) {
  main_args_t *ma = arg;
  goro__sched.main_result = ma->fn(ma->arg);
  goro__goexit();
}

static int parse_env_int(const char *name, long lo, long hi, long *out) {
  const char *s = getenv(name);
  if (!s || !*s) return 1;
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || *end || v < lo || v > hi) {
    fprintf(stderr, "goro: invalid %s=\"%s\": want an integer in [%ld, %ld]\n", name, s, lo, hi);
    return GORO_EINVAL;
  }
  *out = v;
  return 0;
}

static goro__lock_t run_lock; /* held for the whole of a goro_run: one at a time */

static void free_all(void) {
  for (gslab_t *s = slabs, *n; s; s = n) {
    n = s->next;
    for (int i = 0; i < GSLAB; i++) {
      free(s->g[i].name);
      free(s->g[i].timer);
      goro__ss_free(s->g[i].ss); /* shared-stack goroutines left parked */
#ifdef GORO_TSAN
      if (s->g[i].tsan_fiber) __tsan_destroy_fiber(s->g[i].tsan_fiber);
#endif
    }
    free(s);
  }
  slabs = NULL;
  for (int i = 0; i < goro__sched.nallp; i++) {
    p_t *p = goro__sched.allp[i];
    if (!p) continue;
    goro__timers_p_destroy(p);
    if (p->ss_lo) goro__stack_put(NULL, p->ss_lo, GORO_SSTACK_SIZE); /* sstack.c */
    free(p);
  }
  for (m_t *m = goro__sched.allm, *n; m; m = n) {
    n = m->alllink;
    free(m);
  }
  goro__after_shutdown();
}

int goro_run(goro_main_fn main_fn, void *arg) {
  if (!main_fn) return GORO_EINVAL;
  if (!goro__trylock(&run_lock)) return GORO_ERUNNING;
  if (goro__getm()) {
    goro__unlock(&run_lock);
    return GORO_ERUNNING;
  }
  long procs = maxprocs_setting > 0 ? maxprocs_setting : goro__os_ncpu();
  if (procs > GORO_MAXPROCS_LIMIT) procs = GORO_MAXPROCS_LIMIT;
  int r = parse_env_int("GORO_MAXPROCS", 1, GORO_MAXPROCS_LIMIT, &procs);
  long stack = stack_setting ? (long)stack_setting : (long)GORO_STACK_DEFAULT;
  if (r < 0) {
    goro__unlock(&run_lock);
    return r;
  }
  r = parse_env_int("GORO_STACK_SIZE", (long)GORO_STACK_MIN, (long)GORO_STACK_MAX, &stack);
  if (r < 0) {
    goro__unlock(&run_lock);
    return r;
  }
  goro__stack_default = ((size_t)stack + GORO_PAGE - 1) & ~(size_t)(GORO_PAGE - 1);
  long fdtable = GORO_FDTABLE_DEFAULT;
  r = parse_env_int("GORO_FDTABLE", 0, 1L << 24, &fdtable);
  if (r < 0) {
    goro__unlock(&run_lock);
    return r;
  }

  memset(&goro__sched, 0, sizeof goro__sched);
  goro__sched.starttime = goro__nanotime();
  goro__sched.lastpoll = goro__sched.starttime;
  goro__sched.coarsetime = goro__sched.starttime;
  goro__sched.idle_m_timeout = 30 * GORO_SECOND;
  goro__debug_init();
  goro__fdtable_init((int)fdtable); /* before any thread of ours exists */
  if ((r = goro__stack_init()) != 0 || (r = goro__netpoll_init()) != 0) {
    goro__fdtable_fini();
    goro__unlock(&run_lock);
    return r;
  }

  m_t *m0 = calloc(1, sizeof *m0);
  if (!m0) {
    goro__fdtable_fini();
    goro__unlock(&run_lock);
    return GORO_ENOMEM;
  }
  m0->is_main = true;
  m0->thread = pthread_self();
  m0->tid = goro__gettid();
  m0->id = goro__sched.mnext++;
  goro__sched.mcount = 1;
  goro__sched.allm = m0;
  pthread_attr_t attr;
  if (pthread_getattr_np(pthread_self(), &attr) == 0) {
    void *lo;
    size_t sz;
    pthread_attr_getstack(&attr, &lo, &sz);
    m0->g0_lo = lo;
    m0->g0_size = sz;
    pthread_attr_destroy(&attr);
  }
#ifdef GORO_TSAN
  m0->tsan_g0_fiber = __tsan_get_current_fiber();
#endif
  goro__set_tls_m(m0);
  goro__msetup_signals(m0);
  prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);

  /* Ps: P0 for M0, the rest idle. */
  goro__procresize((int)procs);
  goro__lock(&goro__sched.lock);
  p_t *p0 = goro__pidleget();
  /* pidle is a stack; find P0 for determinism */
  if (p0 && p0->id != 0) {
    goro__pidleput(p0);
    for (p_t **pp = &goro__sched.pidle; *pp; pp = &(*pp)->link) {
      if ((*pp)->id == 0) {
        p0 = *pp;
        *pp = p0->link;
        p0->link = NULL;
        atomic_fetch_sub(&goro__sched.npidle, 1);
        break;
      }
    }
  }
  goro__unlock(&goro__sched.lock);
  goro__acquirep(m0, p0);

  atomic_store(&goro__sched.running, 1);
  main_args_t ma = {main_fn, arg};
  int64_t mainid = goro__new_goroutine(main_entry, &ma, 0, NULL, __builtin_return_address(0), false);
  if (mainid < 0) {
    r = (int)mainid;
    goto out;
  }
  /* The main G is the one just queued in runnext. */
  goro__sched.maing = atomic_load(&p0->runnext);
  goro__sysmon_start();

  goro__mstart_loop(m0);

  /* Shutdown: every other M leaves its loop at its next scheduling point. */
  goro__sysmon_stop();
  for (;;) {
    goro__sched_wake_all();
    goro__lock(&goro__sched.lock);
    int live = goro__sched.mcount;
    goro__unlock(&goro__sched.lock);
    if (live <= 1) break;
    struct timespec ts = {0, 200000};
    nanosleep(&ts, NULL);
  }
  for (m_t *m = goro__sched.allm; m; m = m->alllink)
    if (m != m0 && !m->dead) pthread_join(m->thread, NULL);
  r = goro__sched.main_result;
out:
  atomic_store(&goro__sched.running, 0);
  goro__mexit_signals(m0);
  goro__set_tls_m(NULL);
  goro__netpoll_fini();
  goro__fdtable_fini();
  free_all();
  goro__stack_fini();
  memset(&goro__sched, 0, sizeof goro__sched);
  goro__unlock(&run_lock);
  return r;
}
