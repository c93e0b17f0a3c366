/* internal.h - declarations shared by the runtime's modules.
 *
 * Vocabulary (docs/design.md): G = goroutine, M = OS thread, P = processor
 * (the right to run goroutines, with its run queue and caches).  Internal
 * non-static names are goro__<module>_<verb> and hidden.
 *
 * Layering: arch/ctx, os -> stack -> sched (G/M/P, park/ready) -> timer,
 * netpoll -> sema -> chan, select, sync_* -> debug.  Channels, timers,
 * the netpoller and sync code block and wake goroutines only through
 * goro__park / goro__ready and never touch run queues.
 */
#ifndef GORO_INTERNAL_H
#define GORO_INTERNAL_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "goro.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdnoreturn.h>

#include "arch/ctx.h"

#define HIDDEN __attribute__((visibility("hidden")))
#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)
#define NOINLINE __attribute__((noinline))
#define CACHELINE 64
#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

typedef struct goro__g g_t;
typedef struct goro__m m_t;
typedef struct goro__p p_t;
typedef struct goro__sudog sudog_t;
typedef struct goro__rtimer rtimer_t;

/* ------------------------------------------------------------------ */
/* Low-level locks (block the M; held only for short critical sections) */
/* ------------------------------------------------------------------ */

/* One 32-bit futex word: v (0 unlocked, 1 locked) in the low half, the
 * number of threads asleep on it in the high half (lock.c).  Zero is a
 * valid unlocked lock.  Never park a goroutine while holding one except
 * through goro__park's commit, which releases it on the scheduler stack. */
typedef union {
  _Atomic uint32_t word; /* what the kernel compares */
  struct {
    _Atomic uint16_t v;
    _Atomic uint16_t sleepers;
  };
} goro__lock_t;
_Static_assert(sizeof(goro__lock_t) == 4, "goro__lock_t is one futex word");
HIDDEN void goro__lock_slow(goro__lock_t *l);
HIDDEN void goro__unlock_slow(goro__lock_t *l);
static inline void goro__lock(goro__lock_t *l) {
  uint16_t z = 0;
  if (LIKELY(atomic_compare_exchange_strong_explicit(&l->v, &z, 1, memory_order_acquire,
                                                     memory_order_relaxed)))
    return;
  goro__lock_slow(l);
}
static inline bool goro__trylock(goro__lock_t *l) {
  uint16_t z = 0;
  return atomic_compare_exchange_strong_explicit(&l->v, &z, 1, memory_order_acquire,
                                                 memory_order_relaxed);
}
/* Release l; true if a sleeper should be woken (goro__unlock_slow).  The
 * count is read before the release: once l is free, another thread may
 * take it and free the memory it lives in (lock.c on the wake-up this can
 * miss). */
static inline bool goro__unlock_fast(goro__lock_t *l) {
  bool sleepers = atomic_load_explicit(&l->sleepers, memory_order_relaxed) != 0;
  atomic_store_explicit(&l->v, 0, memory_order_release);
  return sleepers;
}
static inline void goro__unlock(goro__lock_t *l) {
  if (UNLIKELY(goro__unlock_fast(l))) goro__unlock_slow(l);
}

/* One-shot-per-use sleep/wake word for an M (Go's note). */
typedef struct { _Atomic uint32_t v; } goro__note_t;
HIDDEN void goro__note_clear(goro__note_t *n);
HIDDEN void goro__note_wake(goro__note_t *n);
HIDDEN void goro__note_sleep(goro__note_t *n);
/* Returns false on timeout (ns relative; < 0 = forever). */
HIDDEN bool goro__note_sleep_for(goro__note_t *n, int64_t ns);

/* ------------------------------------------------------------------ */
/* OS layer (os_linux.c)                                               */
/* ------------------------------------------------------------------ */

HIDDEN int goro__os_ncpu(void);          /* affinity mask and cgroup cpu.max */
HIDDEN int64_t goro__nanotime(void);
/* A deadline as the blocking calls take it (-1 forever, 0 try once, else
 * absolute on goro__nanotime) that leaves no time to wait. */
static inline bool goro__deadline_passed(int64_t deadline) {
  return deadline == 0 || (deadline > 0 && goro__nanotime() >= deadline);
}
HIDDEN void goro__futex_wait(_Atomic uint32_t *addr, uint32_t val, int64_t ns);
HIDDEN void goro__futex_wake(_Atomic uint32_t *addr, int n);
HIDDEN void goro__osyield(void);
HIDDEN uint32_t goro__fastrand(void);    /* per-M xorshift; any thread */
HIDDEN int goro__gettid(void);
/* Threads in this process now (/proc/self/status), or -1. */
HIDDEN int goro__os_thread_count(void);
/* True if threads the runtime did not start may exist (they could still
 * wake goroutines, so no deadlock can be declared).  sched.lock held. */
HIDDEN bool goro__foreign_threads_present(void);
static inline void goro__cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

/* ------------------------------------------------------------------ */
/* Fatal errors (fatal.c)                                              */
/* ------------------------------------------------------------------ */

/* Print "goro: fatal error: <msg>", a dump of every goroutine, and exit
 * with status 2.  Safe to call from any thread, also from a signal handler
 * on the alternate stack. */
HIDDEN noreturn void goro__fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Same, without the goroutine dump (for broken runtime state). */
HIDDEN noreturn void goro__throw(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ------------------------------------------------------------------ */
/* Stacks (stack.c)                                                    */
/* ------------------------------------------------------------------ */

#define GORO_STACK_DEFAULT ((size_t)64 << 10)
#define GORO_STACK_MIN ((size_t)16 << 10)
#define GORO_STACK_MAX ((size_t)1 << 30)
#define GORO_PAGE 4096

HIDDEN extern size_t goro__stack_default; /* slot size, page multiple */

typedef struct goro__stack_cache {
  uint32_t n;
  char *lo[32];
} goro__stack_cache_t;

/* Get a stack of `size` bytes (the default slot size or a custom size).
 * The returned [lo, lo+size) has a guard page at lo.  cache may be NULL.
 * Returns NULL when out of memory or map count (with *err set). */
HIDDEN char *goro__stack_get_slow(goro__stack_cache_t *cache, size_t size, int *err);
HIDDEN void goro__stack_put_slow(goro__stack_cache_t *cache, char *lo, size_t size);
/* The per-P cache hit of get and put (every spawn and exit) inline. */
static inline char *goro__stack_get(goro__stack_cache_t *cache, size_t size, int *err) {
  if (size == 0 && cache && cache->n > 0) return cache->lo[--cache->n];
  return goro__stack_get_slow(cache, size, err);
}
static inline void goro__stack_put(goro__stack_cache_t *cache, char *lo, size_t size) {
  if (size == 0 && cache && cache->n < sizeof cache->lo / sizeof cache->lo[0]) {
    cache->lo[cache->n++] = lo;
    return;
  }
  goro__stack_put_slow(cache, lo, size);
}
HIDDEN void goro__stack_flush(goro__stack_cache_t *cache);
/* Give back the memory of stacks above the cache high-water mark (the
 * monitor calls it; see stack.c). */
HIDDEN void goro__stack_trim(void);
HIDDEN int goro__stack_init(void);
HIDDEN void goro__stack_fini(void);
/* If addr is in a guard page of some goroutine stack, true. */
HIDDEN bool goro__stack_is_guard(const void *addr);
HIDDEN void goro__stack_usage(int64_t *reserved, int64_t *resident);
HIDDEN int goro__stack_guard_mode(void); /* 1 = MADV_GUARD_INSTALL, 2 = mprotect */

/* ------------------------------------------------------------------ */
/* Goroutines                                                          */
/* ------------------------------------------------------------------ */

/* G status.  Who owns the G in each state:
 *  G_IDLE      fresh or recycled record on a free list; nobody.
 *  G_RUNNABLE  on a run queue (or runnext); the queue owns it.  May not yet
 *              have a stack (never ran).
 *  G_RUNNING   executing on an M that holds a P; that M owns it.
 *  G_SYSCALL   in a blocking call between syscall enter/exit; its M owns it,
 *              its P may be taken by the monitor.
 *  G_WAITING   parked; the wait structure that will ready it owns it.
 *  G_DEAD      finished; being recycled by its M.
 * Transitions: IDLE->RUNNABLE (spawn), RUNNABLE->RUNNING (execute),
 * RUNNING->WAITING (park), WAITING->RUNNABLE (ready), RUNNING->RUNNABLE
 * (yield/preempt), RUNNING<->SYSCALL, RUNNING->DEAD->IDLE. */
enum {
  G_IDLE = 0,
  G_RUNNABLE = 1,
  G_RUNNING = 2,
  G_SYSCALL = 3,
  G_WAITING = 4,
  G_DEAD = 6,
};

/* Wait reasons, printed in dumps as Go prints them. */
#define GORO_WAITREASON_MAP(XX)                         \
  XX(WR_NONE, "")                                       \
  XX(WR_CHAN_RECV, "chan receive")                      \
  XX(WR_CHAN_SEND, "chan send")                         \
  XX(WR_CHAN_RECV_NIL, "chan receive (nil chan)")       \
  XX(WR_CHAN_SEND_NIL, "chan send (nil chan)")          \
  XX(WR_SELECT, "select")                               \
  XX(WR_SELECT_NO_CASES, "select (no cases)")           \
  XX(WR_SLEEP, "sleep")                                 \
  XX(WR_IO_WAIT, "IO wait")                             \
  XX(WR_MUTEX, "sync.Mutex.Lock")                       \
  XX(WR_RWMUTEX_RLOCK, "sync.RWMutex.RLock")            \
  XX(WR_RWMUTEX_LOCK, "sync.RWMutex.Lock")              \
  XX(WR_WAITGROUP, "sync.WaitGroup.Wait")               \
  XX(WR_COND, "sync.Cond.Wait")                         \
  XX(WR_SEMA, "semacquire")                             \
  XX(WR_ONCE, "sync.Once.Do")                           \
  XX(WR_TIMER, "timer")                                 \
  XX(WR_BLOCKING, "blocking call")                      \
  XX(WR_RESOLVE, "name resolution")                     \
  XX(WR_PREEMPTED, "preempted")

enum {
#define GORO_XX_WR(name, str) name,
  GORO_WAITREASON_MAP(GORO_XX_WR)
#undef GORO_XX_WR
      WR__COUNT
};
HIDDEN const char *goro__waitreason_str(int wr);

/* A shared-stack goroutine's state (sstack.c), apart from the G record
 * so that other goroutines pay one pointer for it. */
typedef struct goro__gss {
  p_t *home;                 /* its P for life; it runs on home->ss_lo */
  void *buf;                 /* saved stack bytes while off it (len of cap) */
  size_t len, cap;
  void *wait;                /* off-stack waiter records (waitcap bytes) */
  size_t waitcap;
} gss_t;

struct goro__g {
  goro__ctx_t ctx;           /* saved context; valid when not running */
  g_t *schedlink;            /* run queue / free list link */
  _Atomic uint32_t status;   /* G_* */
  _Atomic uint8_t waitreason; /* WR_*, valid when waiting (relaxed: dumps read it) */
  uint8_t external;          /* a foreign thread's pseudo-G (park.c) */
  uint8_t preempt;           /* monitor asked us to yield */
  uint8_t timedout;          /* goro__park_dl: the deadline won */
  int64_t id;
  goro_fn fn;
  void *arg;
  char *stack_lo;            /* NULL until first run */
  size_t stack_size;         /* requested size; 0 = default slot */
  _Atomic int64_t waitsince; /* coarse clock at park (relaxed: dumps read it) */
  void *param;               /* wake payload (winning sudog, or NULL) */
  _Atomic uint32_t selectdone; /* CAS 0->1 by whoever completes a timed/select wait */
  uint32_t lockcount;        /* goro_lock_thread nesting */
  m_t *lockedm;              /* M this G is wired to, or NULL */
  sudog_t *waiting;          /* this G's sudogs during select, in lock order */
  rtimer_t *timer;           /* lazily made timer for sleeps and deadlines */
  gss_t *ss;                 /* shared-stack state (sstack.c), NULL for other Gs */
  _Atomic(void *) waitobj;   /* object waited on (partial deadlock; relaxed) */
  int64_t parent_id;         /* goroutine that created it */
  void *creator_pc;          /* return address in the creator (for dumps) */
  char *name;                /* optional, malloc'd (goro_go_opts) */
  g_t *allnext;              /* allgs list, immutable once linked */
  /* Global run queue batches (runq.c), meaningful on a batch's first G
   * while it is in the global queue; sched.lock. */
  g_t *batchnext, *batchtail;
  uint32_t batchn;
#ifdef GORO_TSAN
  void *tsan_fiber;
#endif
  _Atomic uint32_t ext_wake; /* foreign thread pseudo-G wake word */
};

/* Per-M state.  Fields without a note are touched only by the M itself. */
struct goro__m {
  goro__ctx_t g0ctx;       /* the scheduler context on the thread stack */
  g_t *curg;               /* running goroutine, or NULL on g0 */
  p_t *p;                  /* attached P, or NULL */
  p_t *nextp;              /* P handed over by the waker (under sched.lock) */
  p_t *oldp;               /* P this M had when it entered a blocking call */
  bool dead;               /* thread exited (idle timeout); record kept */
  int64_t id;
  m_t *schedlink;          /* idle-M list (sched.lock) */
  m_t *alllink;            /* all-M list (immutable once linked) */
  goro__note_t park;       /* sleep here when idle */
  bool spinning;           /* looking for work to steal */
  bool is_main;            /* the thread that called goro_run */
  bool exiting;
  _Atomic bool blocked_in_poll;
  g_t *lockedg;            /* G wired to this M */
  /* What the G that just switched to g0 wants done (set by the G). */
  int action;
  g_t *prevg;              /* G switched away from directly; its action is finished
                            * by the G that resumes (goro__mcall fast path) */
  int prevact;
  bool (*commit)(g_t *g, void *arg);
  void *commit_arg;
  uint32_t fastrand;
  pthread_t thread;
  int tid;
  char *g0_lo;             /* thread stack bounds (sanitizers) */
  size_t g0_size;
  void *altstack;
  _Atomic int64_t syscall_since; /* when the current syscall started, 0 if none */
  _Atomic uint32_t syscalltick;
  _Atomic uint32_t *preempt_word; /* this thread's goro__tls_preempt */
#ifdef GORO_TSAN
  void *tsan_g0_fiber;
#endif
};

/* P status (atomic, the P's owner word):
 *  P_IDLE     on the idle list, no M.
 *  P_RUNNING  owned by an M that is running Go code or the scheduler.
 *  P_SYSCALL  its M is in a blocking call; the monitor may CAS it to
 *             P_IDLE and hand it off; the M CASes it back to P_RUNNING on
 *             return (fast path) or looks for another P.
 *  P_DEAD     beyond GOMAXPROCS after a shrink. */
enum { P_IDLE = 0, P_RUNNING = 1, P_SYSCALL = 2, P_DEAD = 3 };

#define RUNQ_SIZE 256

typedef struct goro__timers goro__timers_t; /* per-P timer heap (timer.c) */

struct goro__p {
  int32_t id;
  _Atomic uint32_t status;
  _Atomic(m_t *) m;                /* owner, when running (read racily by sysmon/dumps) */
  p_t *link;                       /* idle-P list (sched.lock) */
  uint32_t schedtick;              /* bumped per new time slice */
  _Atomic uint32_t schedtick_pub;  /* copy the monitor reads */
  _Atomic uint32_t syscalltick;
  /* sysmon's observations */
  uint32_t sysmon_schedtick;
  int64_t sysmon_schedwhen;
  int64_t sysmon_preemptwhen;      /* when sysmon asked this slice to yield (0: not yet) */
  uint32_t sysmon_syscalltick;
  int64_t sysmon_syscallwhen;
  /* id cache */
  int64_t goid_next, goid_end;
  /* free Gs */
  g_t *gfree;
  int32_t ngfree;
  goro__stack_cache_t stacks;
  goro__timers_t *timers;          /* timer.c */
  void *sudogcache;                /* chan.c */
  _Atomic uint64_t ctxswitches, steals; /* written by the owner only (relaxed) */
  _Atomic int64_t spawndelta;      /* owner-written spawns not yet in goro__sched.spawned */
  uint32_t spawnstreak;            /* owner only: spawns since this P last switched goroutines */
  _Atomic uint32_t preempt;        /* monitor: whoever runs here should yield */
  g_t *globrest;                   /* owner only: Gs taken from the global queue under
                                    * sched.lock, to go to the local queue after it */
  bool borrowed;                   /* sysmon only: a P was added because this one is hogged */
  /* run queue: owner pushes at tail; owner and thieves CAS head */
  _Alignas(CACHELINE) _Atomic uint32_t runqhead;
  _Atomic uint32_t runqtail;
  _Atomic(g_t *) runnext;
  /* shared-stack goroutines homed here (sstack.c) */
  char *ss_lo;                     /* their stack, made at first use (owner) */
  _Atomic(g_t *) ssinbox;          /* runnable ones, pushed by any thread */
  g_t *ssq_head;                   /* runnable ones, FIFO (owner) */
  _Atomic int32_t nshared;         /* live ones (changed under sched.lock) */
  _Atomic(g_t *) runq[RUNQ_SIZE];
};

#define GORO_MAXPROCS_LIMIT 1024

/* Global scheduler state. */
typedef struct goro__sched {
  /* Read on every scheduling decision and runtime call, written rarely:
   * kept on lines of their own so the frequently written fields below do
   * not keep invalidating them (false sharing between Ps). */
  _Alignas(CACHELINE) _Atomic int32_t gomaxprocs; /* live Ps: the user's setting + nborrowed */
  _Atomic int32_t nborrowed;    /* Ps added for hogged Ps (preempt.c) */
  _Atomic int32_t running;      /* goro_run active */
  _Atomic int32_t exiting;      /* main returned: Ms exit at the next chance */
  _Atomic int32_t sstack_used;  /* a shared-stack goroutine was ever spawned (sstack.c) */
  g_t *maing;
  int partialdeadlock;          /* debug settings (set before any M starts) */
  int schedtrace_ms;
  int scheddetail;
  int main_result;
  int64_t idle_m_timeout;       /* ns an idle M waits before exiting */
  int64_t starttime;
  _Atomic int32_t deadlock_off; /* tests and shutdown */
  _Atomic int32_t nallp;        /* Ps ever made (written under lock, read anywhere) */
  p_t *allp[GORO_MAXPROCS_LIMIT]; /* Ps 0..gomaxprocs-1 live (lock for writes) */

  /* Written under (or around) sched.lock. */
  _Alignas(CACHELINE) goro__lock_t lock; /* protects: global runq, midle, pidle, allm, counts below */
  g_t *runqhead, *runqtail;     /* global run queue of batches (lock, runq.c) */
  _Atomic int32_t runqsize;
  m_t *midle;                   /* idle Ms (lock) */
  int32_t nmidle;               /* (lock) */
  int32_t nmidlelocked;         /* Ms parked waiting for their locked G (lock) */
  int32_t mcount;               /* Ms started and not exited (lock) */
  int64_t mnext;                /* next M id (lock) */
  m_t *allm;                    /* all Ms ever (lock for writes) */
  p_t *pidle;                   /* idle Ps (lock) */
  g_t *gfree;                   /* global free Gs, batches (lock) */
  _Atomic int32_t ngfree;       /* written under lock, read as a hint */
  _Atomic int32_t retired_work; /* a retired P left timers on P 0 or Gs in the global queue */

  /* The spinning protocol's words: read-modify-written on wake-ups. */
  _Alignas(CACHELINE) _Atomic int32_t npidle;
  _Atomic int32_t nmspinning;
  _Atomic int32_t needspinning;

  /* The poller. */
  _Alignas(CACHELINE) _Atomic int64_t lastpoll; /* 0 = an M is blocked in netpoll now */
  _Atomic int64_t polluntil;    /* when the blocked poller wakes */
  _Atomic int64_t polls;

  /* Written by the monitor every tick, read on every park. */
  _Alignas(CACHELINE) _Atomic int64_t coarsetime; /* goro__nanotime() as of the monitor's last tick */

  /* allgs: every G record ever made (list push under allglock) */
  _Alignas(CACHELINE) goro__lock_t allglock;
  _Atomic(g_t *) allg;          /* list head: pushed under allglock, walked without it */
  _Atomic int64_t goidgen;
  /* counters (batched per P where hot; per-P ones live in struct goro__p) */
  _Atomic int64_t spawned;
  _Atomic int64_t preemptions, handoffs;
  _Atomic int32_t foreign_users; /* foreign threads that used goro objects */
  _Atomic int32_t nsyscall;      /* goroutines in blocking calls */
  _Atomic int32_t nauxthreads;   /* runtime threads that are not Ms (sysmon, resolvers) */
} goro__sched_t;

HIDDEN extern goro__sched_t goro__sched;

/* The thread-local itself, for leaf code that cannot migrate (the
 * function-entry preemption hook). */
HIDDEN extern __thread m_t *goro__tls_m;
/* The current M and G.  Never cache the result across a call that may
 * block: the goroutine may resume on another thread (see DESIGN).  On
 * x86-64 the read is inline asm that loads the thread pointer (%fs) on
 * every use, so the compiler can neither keep a thread's TLS address in a
 * register across a switch nor merge two reads ("memory" orders it with
 * the calls around it); elsewhere it is a call the optimizer cannot see
 * through. */
#if defined(__x86_64__)
static inline __attribute__((always_inline)) m_t *goro__getm(void) {
  m_t *m;
  __asm__ __volatile__("movq goro__tls_m@gottpoff(%%rip), %0\n\tmovq %%fs:(%0), %0"
                       : "=r"(m)
                       :
                       : "memory");
  return m;
}
#else
HIDDEN m_t *goro__getm(void);
#endif
/* A per-thread copy of "the goroutine running here should yield", set by
 * the monitor through m->preempt_word, so the function-entry hook tests a
 * single thread-local word.  Stale values only cost a slow-path check. */
HIDDEN extern __thread _Atomic uint32_t goro__tls_preempt;
/* Owner-only counter bump that racy readers (stats) may read. */
#define GORO_COUNTER_INC(c) \
  atomic_store_explicit(&(c), atomic_load_explicit(&(c), memory_order_relaxed) + 1, memory_order_relaxed)

static inline g_t *goro__getg(void) {
  m_t *m = goro__getm();
  return m ? m->curg : NULL;
}

/* ------------------------------------------------------------------ */
/* park / ready: the only way to block and wake a goroutine (park.c)   */
/* ------------------------------------------------------------------ */

/* Commit callback: runs on the scheduler stack of the M after the G has
 * fully switched out and is G_WAITING.  It typically releases the lock
 * that protects the wait queue the G was put on.  Return false to abort
 * the park (the G resumes at once).  Must not block or park. */
typedef bool (*goro__commit_fn)(g_t *g, void *arg);

/* Park the calling goroutine with the given wait reason.  From a foreign
 * thread, commit runs in place and the thread sleeps on a futex until
 * readied.  Returns after goro__ready(g). */
HIDDEN void goro__park(int reason, goro__commit_fn commit, void *arg);
/* Make a parked goroutine runnable (next on the caller's P).  Callable
 * from goroutines, the scheduler stack (timers, netpoll), foreign threads. */
HIDDEN void goro__ready(g_t *g);
/* goro__ready's uncommon cases (park.c; see ready.h). */
HIDDEN void goro__ready_slow(g_t *g);
/* Make a batch runnable (list linked through schedlink); for netpoll/timers. */
HIDDEN void goro__ready_list(g_t *list);
/* Commit helper: unlock the goro__lock_t passed as arg. */
HIDDEN bool goro__commit_unlock(g_t *g, void *lock);

/* The calling goroutine, or a pseudo-G for a foreign thread (made on first
 * use and kept for the thread's life). */
HIDDEN g_t *goro__curg_or_external(void);

/* ------------------------------------------------------------------ */
/* Scheduler (sched.c)                                                 */
/* ------------------------------------------------------------------ */

HIDDEN void goro__runq_inject(g_t *head, g_t *tail, int n); /* global queue + wake */
HIDDEN void goro__wakep_slow(void);
/* Start a spinning M if a P is idle and nobody spins (see sched.c's
 * protocol).  The two loads are inline: every wake-up asks, and with no
 * idle P (one P busy, all Ps busy) that is all it costs.  Seq-cst loads:
 * the caller's preceding seq-cst RMW or the queue publication they follow
 * is what the protocol pairs them with. */
static inline void goro__wakep(void) {
  if (atomic_load(&goro__sched.nmspinning) != 0 || atomic_load(&goro__sched.npidle) == 0) return;
  goro__wakep_slow();
}
HIDDEN void goro__handoffp(p_t *p);
HIDDEN p_t *goro__pidleget(void);          /* sched.lock held */
/* Take p itself off the idle list if it is there (sched.lock held). */
HIDDEN bool goro__pidletake(p_t *p);
HIDDEN void goro__startm(p_t *p, bool spinning, bool locked_sched);
HIDDEN bool goro__runq_empty(p_t *p);
HIDDEN uint32_t goro__runq_len(p_t *p);
HIDDEN void goro__gosched_preempted(void); /* yield to the global queue, reason preempted */
/* Exact count of goroutines started since goro_run (sums per-P deltas). */
HIDDEN int64_t goro__spawned_count(void);
HIDDEN int64_t goro__new_goroutine(goro_fn fn, void *arg, size_t stack_size, const char *name,
                                   void *creator_pc, bool shared);
/* Called by the G after a preemption-point check says "yield". */
HIDDEN void goro__preempt_park(void);

/* Hooks other modules implement (weak defaults in sched.c). */
/* timer.c: run due timers of p; return the next when (or -1). */
HIDDEN int64_t goro__timers_check(p_t *p, int64_t now);
/* timer.c: earliest timer of p without running anything (or -1). */
HIDDEN int64_t goro__timers_next(p_t *p);
/* True if p has any timer, in one load (the G-to-G switch asks on every
 * park): the heap's earliest deadline is the first member of
 * goro__timers_t (timer.c asserts it), INT64_MAX when empty. */
static inline bool goro__timers_any(p_t *p) {
  return p->timers &&
         atomic_load_explicit((_Atomic int64_t *)(void *)p->timers, memory_order_acquire) != INT64_MAX;
}
HIDDEN void goro__timers_p_init(p_t *p);
HIDDEN void goro__timers_p_destroy(p_t *p);
/* time.c: free goro_after records left at goro_run's end. */
HIDDEN void goro__after_shutdown(void);
/* chan.c: release at goro_run's end (queued goroutines were abandoned). */
HIDDEN void goro__chan_release_at_exit(goro_chan *c);
/* Move every timer of `from` to `to` (GOMAXPROCS shrink). */
HIDDEN void goro__timers_move(p_t *from, p_t *to);
/* A new timer at `when` became the earliest of some P: make sure the
 * blocked poller (or a spinning M) will wake for it. */
HIDDEN void goro__wake_netpoller(int64_t when);

/* netpoll (netpoll_epoll.c). delay < 0 blocks, 0 polls.  Returns readied
 * Gs linked through schedlink (status already set to runnable by
 * goro__ready_list's caller contract: they are G_WAITING on return). */
HIDDEN int goro__netpoll_init(void);
HIDDEN void goro__netpoll_fini(void);
HIDDEN g_t *goro__netpoll(int64_t delay_ns, int *n);
HIDDEN void goro__netpoll_break(void);
HIDDEN bool goro__netpoll_inited(void);
HIDDEN extern _Atomic int32_t goro__netpoll_waiters;

/* fdtable.c: keep the kernel's fd table ahead of the program (see there).
 * goro__fdtable_note is called with every fd the poller registers. */
enum { GORO_FDTABLE_DEFAULT = 4096 };
HIDDEN void goro__fdtable_init(int target);
HIDDEN void goro__fdtable_grow(int fd);
HIDDEN void goro__fdtable_fini(void); /* goro_run's end: join the helper */
HIDDEN extern _Atomic int goro__fdtable_grow_at;
HIDDEN extern _Atomic bool goro__fdtable_helper_running;
static inline void goro__fdtable_note(int fd) {
  if (__builtin_expect(fd >= atomic_load_explicit(&goro__fdtable_grow_at, memory_order_relaxed), 0))
    goro__fdtable_grow(fd);
}

/* sysmon.c */
HIDDEN int goro__sysmon_start(void);
HIDDEN void goro__sysmon_stop(void);
HIDDEN void goro__sysmon_wake(void);
/* A blocking call is starting: make sure the monitor is watching closely. */
HIDDEN void goro__sysmon_syscall_hint(void);

/* debug.c */
HIDDEN void goro__debug_init(void);
HIDDEN void goro__dump_all(int fd, bool from_signal);   /* backtrace.c */
/* Dump every goroutine; uc is the signal context of the faulting thread
 * (or NULL), used for the current goroutine's own frames. */
HIDDEN void goro__dump_all_ctx(int fd, const void *uc);
HIDDEN void goro__dump_one(int fd, g_t *g);
HIDDEN extern int goro__debug_tracebackall;             /* debug.c */
HIDDEN extern int64_t goro__debug_partial_threshold_ns; /* debug.c */
/* partial_deadlock.c: record that the running goroutine used obj; forget
 * obj when it is freed; look for closed sets of blocked goroutines. */
HIDDEN void goro__pd_touch(void *obj);
HIDDEN void goro__pd_forget(void *obj);
HIDDEN void goro__partial_deadlock_poll(int64_t now);
HIDDEN void goro__pd_use_slow(void *obj);
/* Every channel and sync operation reports the object it uses; in the
 * partial-deadlock debug mode this records the goroutine as a user of obj
 * and as waiting on it if the operation parks.  Free otherwise. */
static inline void goro__pd_use(void *obj) {
  if (UNLIKELY(goro__sched.partialdeadlock)) goro__pd_use_slow(obj);
}
/* backtrace.c: print g's stack in Go's frame format (is_self: the caller's
 * own goroutine, which is running). */
HIDDEN void goro__dump_backtrace(int fd, g_t *g, bool is_self);
HIDDEN void goro__checkdead(void); /* sched.lock held */
HIDDEN void goro__schedtrace(bool detail);


/* Diagnostics (dumps, traces, the partial-deadlock snapshot) read fields
 * that their owners write without locks, on purpose: a dump may be a few
 * nanoseconds stale.  These brackets tell the race detector so. */
#ifdef GORO_TSAN
void AnnotateIgnoreReadsBegin(const char *file, int line);
void AnnotateIgnoreReadsEnd(const char *file, int line);
#define RACY_READS_BEGIN() AnnotateIgnoreReadsBegin(__FILE__, __LINE__)
#define RACY_READS_END() AnnotateIgnoreReadsEnd(__FILE__, __LINE__)
#else
#define RACY_READS_BEGIN() ((void)0)
#define RACY_READS_END() ((void)0)
#endif

/* A preemption point: every runtime call passes one. */
HIDDEN void goro__preempt_point_slow(void);
/* One thread-local load: the monitor sets this thread's word together with
 * the P's flag (every tick while the slice stays over 10 ms, so a word left
 * behind on another thread by a migration is set again here soon). */
static inline void goro__preempt_point(void) {
  if (UNLIKELY(atomic_load_explicit(&goro__tls_preempt, memory_order_relaxed)))
    goro__preempt_point_slow();
}

#endif /* GORO_INTERNAL_H */
