/* test_core.c - tests of the core runtime: spawning, parking, the spread
 * of work over processors, yield fairness, thread locking, stacks, the
 * errno-migration hazard, repeated goro_run, argument checking and the
 * error-code table.
 *
 * Waiting in these tests is done by yielding in a loop on an atomic
 * counter, with a deadline that fails the test with a clear message
 * (rather than leaving it to the runner's time limit).  Sizes scale with
 * test_stress(): GORO_TEST_STRESS=0 (used under sanitizers and Valgrind)
 * shrinks the million-goroutine tests tenfold.
 */
#include "runner.h"

#include "../src/internal.h"

#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* ThreadSanitizer tracks every goroutine as a thread of its own and dies
 * past 8128 live ones, so under TSan the tests keep fewer goroutines alive
 * at once (the same totals, in batches, where that preserves the test). */
#ifdef GORO_TSAN
#define LIVE_LIMIT 4000
#else
#define LIVE_LIMIT INT64_MAX
#endif

static int tid(void) { return (int)syscall(SYS_gettid); }

/* Yield until *c reaches want; fail after `secs` seconds. */
#define WAIT_FOR(c, want, secs) WAIT_REACHES(c, want, secs, goro_yield())

/* A countdown latch built on park/ready, for a main goroutine that must
 * block (not yield) while others work. */
typedef struct {
  goro__lock_t lock;
  int left;
  g_t *waiter;
} latch_t;

static void latch_done(latch_t *l) {
  goro__lock(&l->lock);
  g_t *w = NULL;
  if (--l->left == 0) {
    w = l->waiter;
    l->waiter = NULL;
  }
  goro__unlock(&l->lock);
  if (w) goro__ready(w);
}

static void latch_wait(latch_t *l) {
  goro__lock(&l->lock);
  if (l->left == 0) {
    goro__unlock(&l->lock);
    return;
  }
  l->waiter = goro__getg();
  goro__park(WR_SEMA, goro__commit_unlock, &l->lock);
}

static int count_lines(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  int n = 0, ch;
  while ((ch = getc(f)) != EOF)
    if (ch == '\n') n++;
  fclose(f);
  return n;
}

static int count_tasks(void) {
  DIR *d = opendir("/proc/self/task");
  if (!d) return -1;
  int n = 0;
  struct dirent *de;
  while ((de = readdir(d)))
    if (de->d_name[0] != '.') n++;
  closedir(d);
  return n;
}

/* ------------------------------------------------------------------ */
/* A million goroutines                                                */
/* ------------------------------------------------------------------ */

static _Atomic int64_t mil_done;
static _Atomic uint8_t *mil_seen;

static void mil_fn(void *arg) {
  atomic_fetch_add(&mil_seen[(intptr_t)arg], 1);
  atomic_fetch_add(&mil_done, 1);
}

GTEST_T(core_million_goroutines, 120000) {
  const int64_t n = test_stress() >= 1 ? 1000000 : 100000;
  mil_seen = calloc((size_t)n, 1);
  ASSERT(mil_seen);
  goro_stats_t s0, s1;
  goro_stats(&s0);
  for (int64_t i = 0; i < n; i++) {
    if (i % LIVE_LIMIT == 0) WAIT_FOR(&mil_done, i, 100);
    ASSERT_GT(goro_go(mil_fn, (void *)(intptr_t)i), 0);
  }
  WAIT_FOR(&mil_done, n, 100);
  for (int64_t i = 0; i < n; i++)
    if (atomic_load(&mil_seen[i]) != 1)
      test_fail(__FILE__, __LINE__, "goroutine %lld ran %d times", (long long)i,
                (int)atomic_load(&mil_seen[i]));
  ASSERT_EQ(atomic_load(&mil_done), n);
  goro_stats(&s1);
  ASSERT_EQ(s1.spawned - s0.spawned, n);
  /* All of them end: the live count returns to where it was. */
  int64_t dl = goro_now() + 10 * GORO_SECOND;
  for (;;) {
    goro_stats(&s1);
    if (s1.goroutines <= s0.goroutines) break;
    if (goro_now() > dl) ASSERT_LE(s1.goroutines, s0.goroutines);
    goro_yield();
  }
  free((void *)mil_seen);
}

/* ------------------------------------------------------------------ */
/* Spawn back-pressure: a spawning loop that never blocks does not run  */
/* ahead of its goroutines without bound                                */
/* ------------------------------------------------------------------ */

static _Atomic int64_t bp_started;

static void bp_fn(void *arg) {
  (void)arg;
  atomic_fetch_add(&bp_started, 1);
}

GTEST(core_spawn_loop_backpressure) {
  /* 100,000 spawns in a loop with no blocking call: the spawner yields
   * whenever 128 goroutines wait in its run queue, so spawned-but-not-
   * started goroutines stay within a few run queues (256 slots each), at
   * one P as at several (without it, all 100,000 queued up before the
   * first ran). */
  const int64_t n = 100000;
  int64_t base = atomic_load(&bp_started), worst = 0;
  for (int64_t i = 0; i < n; i++) {
    ASSERT_GT(goro_go(bp_fn, NULL), 0);
    int64_t behind = (i + 1) - (atomic_load(&bp_started) - base);
    if (behind > worst) worst = behind;
  }
  WAIT_FOR(&bp_started, base + n, 100);
  if (worst > 8 * 256)
    test_fail(__FILE__, __LINE__, "%lld spawned goroutines had not started at once",
              (long long)worst);
}

/* ------------------------------------------------------------------ */
/* 100,000 parked goroutines: guard pages split no mappings            */
/* ------------------------------------------------------------------ */

static goro__lock_t park_lock;
static g_t **park_list;
static int64_t park_n; /* park_lock */
static _Atomic int64_t park_woken;

static void parker(void *arg) {
  (void)arg;
  goro__lock(&park_lock);
  park_list[park_n++] = goro__getg();
  goro__park(WR_SEMA, goro__commit_unlock, &park_lock);
  atomic_fetch_add(&park_woken, 1);
}

/* Wait until `want` goroutines are on the list.  Holding park_lock proves
 * each listed goroutine has finished switching out: its commit released
 * the lock. */
static void wait_parked(int64_t want) {
  int64_t dl = goro_now() + 60 * GORO_SECOND;
  for (;;) {
    goro__lock(&park_lock);
    int64_t k = park_n;
    goro__unlock(&park_lock);
    if (k == want) return;
    if (goro_now() > dl)
      test_fail(__FILE__, __LINE__, "only %lld of %lld goroutines parked", (long long)k,
                (long long)want);
    goro_yield();
  }
}

GTEST_T(core_100k_parked_maps_flat, 120000) {
  if (goro__stack_guard_mode() == 2)
    TEST_SKIP("guard pages use mprotect here (no MADV_GUARD_INSTALL)");
  int64_t first = 1000, n = test_stress() >= 1 ? 100000 : 10000;
  if (n > LIVE_LIMIT) n = LIVE_LIMIT;
  park_list = calloc((size_t)n, sizeof *park_list);
  ASSERT(park_list);
  for (int64_t i = 0; i < first; i++) ASSERT_GT(goro_go(parker, NULL), 0);
  wait_parked(first);
  int maps0 = count_lines("/proc/self/maps");
  ASSERT_GT(maps0, 0);
  for (int64_t i = first; i < n; i++) ASSERT_GT(goro_go(parker, NULL), 0);
  wait_parked(n);
  int maps1 = count_lines("/proc/self/maps");
#ifndef GORO_TSAN /* TSan maps shadow memory for every stack it sees */
  ASSERT_LT(maps1 - maps0, 50);
#else
  (void)maps1;
#endif

  goro__lock(&park_lock);
  for (int64_t i = 0; i < n; i++)
    ASSERT_EQ(atomic_load(&park_list[i]->status), G_WAITING);
  goro__unlock(&park_lock);
  ASSERT_EQ(atomic_load(&park_woken), 0);

  goro__lock(&park_lock);
  int64_t k = park_n;
  goro__unlock(&park_lock);
  for (int64_t i = 0; i < k; i++) goro__ready(park_list[i]);
  WAIT_FOR(&park_woken, n, 60);
  ASSERT_EQ(atomic_load(&park_woken), n);
  free(park_list);
}

/* ------------------------------------------------------------------ */
/* Work spreads over every P                                           */
/* ------------------------------------------------------------------ */

#define SPREAD_G 8
static _Atomic int spread_tid[SPREAD_G][64];
static latch_t spread_latch;

static void spinner(void *arg) {
  int idx = (int)(intptr_t)arg;
  int64_t end = goro_now() + 300 * GORO_MILLISECOND;
  int k = 0;
  volatile uint64_t x = 0;
  while (goro_now() < end) {
    for (int i = 0; i < 20000; i++) x += (uint64_t)i;
    if (k < 64) atomic_store(&spread_tid[idx][k++], tid());
  }
  latch_done(&spread_latch);
}

GTEST_T(core_work_spreads_over_ps, 20000) {
  int procs = goro_maxprocs(0);
  if (procs == 1) TEST_SKIP("GORO_MAXPROCS=1");
  spread_latch.left = SPREAD_G;
  for (int i = 0; i < SPREAD_G; i++) ASSERT_GT(goro_go(spinner, (void *)(intptr_t)i), 0);
  /* Block rather than yield: a yielding main goroutine would keep the
   * second M busy with itself instead of stealing. */
  latch_wait(&spread_latch);
  int distinct[64], nd = 0;
  for (int i = 0; i < SPREAD_G; i++)
    for (int k = 0; k < 64; k++) {
      int t = atomic_load(&spread_tid[i][k]);
      if (!t) continue;
      bool seen = false;
      for (int d = 0; d < nd; d++) seen |= distinct[d] == t;
      if (!seen && nd < 64) distinct[nd++] = t;
    }
  /* CPU-bound goroutines ran on at least two OS threads at once... */
  ASSERT_GE(nd, 2);
  goro_stats_t st;
  goro_stats(&st);
  ASSERT_EQ(st.procs, procs);
  ASSERT_GE(st.threads, 2);
}

/* ------------------------------------------------------------------ */
/* Yield is fair                                                       */
/* ------------------------------------------------------------------ */

#define FAIR_G 8
static _Atomic int64_t fair_count[FAIR_G];
static _Atomic int fair_stop, fair_exited;

static void yielder(void *arg) {
  int idx = (int)(intptr_t)arg;
  while (!atomic_load(&fair_stop)) {
    atomic_fetch_add(&fair_count[idx], 1);
    goro_yield();
  }
  atomic_fetch_add(&fair_exited, 1);
}

GTEST(core_yield_is_fair) {
  for (int i = 0; i < FAIR_G; i++) ASSERT_GT(goro_go(yielder, (void *)(intptr_t)i), 0);
  int64_t end = goro_now() + 300 * GORO_MILLISECOND;
  while (goro_now() < end) goro_yield();
  atomic_store(&fair_stop, 1);
  WAIT_FOR(&fair_exited, FAIR_G, 10);
  int64_t lo = INT64_MAX, hi = 0;
  for (int i = 0; i < FAIR_G; i++) {
    int64_t c = atomic_load(&fair_count[i]);
    if (c < lo) lo = c;
    if (c > hi) hi = c;
  }
  ASSERT_GE(lo, 100);      /* every one made progress */
  ASSERT_LE(hi, lo * 4);   /* and none starved the others */
}

/* ------------------------------------------------------------------ */
/* Many goroutines spawning at once                                    */
/* ------------------------------------------------------------------ */

#define SPAWNERS 100
#define CHILDREN 1000
#ifdef GORO_TSAN
#define LIVE_CHILDREN (LIVE_LIMIT / SPAWNERS)
#else
#define LIVE_CHILDREN CHILDREN
#endif
static _Atomic uint8_t child_seen[SPAWNERS * CHILDREN];
static _Atomic int64_t child_done, spawners_done;

static void child_fn(void *arg) {
  atomic_fetch_add(&child_seen[(intptr_t)arg], 1);
  atomic_fetch_add(&child_done, 1);
}

static void spawner_fn(void *arg) {
  intptr_t base = (intptr_t)arg * CHILDREN;
  for (intptr_t k = 0; k < LIVE_CHILDREN; k++)
    if (goro_go(child_fn, (void *)(base + k)) <= 0) abort();
  atomic_fetch_add(&spawners_done, 1);
}

GTEST(core_spawn_from_many_goroutines) {
  goro_stats_t s0, s1;
  goro_stats(&s0);
  for (intptr_t i = 0; i < SPAWNERS; i++) ASSERT_GT(goro_go(spawner_fn, (void *)i), 0);
  WAIT_FOR(&spawners_done, SPAWNERS, 60);
  WAIT_FOR(&child_done, SPAWNERS * LIVE_CHILDREN, 60);
  for (int i = 0; i < SPAWNERS * CHILDREN; i++)
    if (atomic_load(&child_seen[i]) != (i % CHILDREN < LIVE_CHILDREN))
      test_fail(__FILE__, __LINE__, "child %d ran %d times", i, (int)atomic_load(&child_seen[i]));
  goro_stats(&s1);
  ASSERT_EQ(s1.spawned - s0.spawned, SPAWNERS + SPAWNERS * LIVE_CHILDREN);
}

/* ------------------------------------------------------------------ */
/* goro_lock_thread                                                    */
/* ------------------------------------------------------------------ */

static _Atomic int lt_locked_tid; /* tid of the locked thread while locked, else 0 */
static _Atomic int lt_violation, lt_stop, lt_exited;
static _Atomic int64_t lt_work;

static void lt_busy(void *arg) {
  (void)arg;
  while (!atomic_load(&lt_stop)) {
    int locked = atomic_load(&lt_locked_tid);
    if (locked && tid() == locked) atomic_store(&lt_violation, 1);
    atomic_fetch_add(&lt_work, 1);
    goro_yield();
  }
  atomic_fetch_add(&lt_exited, 1);
}

GTEST(core_lock_thread_keeps_thread) {
  ASSERT_ERR(goro_unlock_thread(), GORO_EPERM);
  for (int i = 0; i < 4; i++) ASSERT_GT(goro_go(lt_busy, NULL), 0);
  ASSERT_OK(goro_lock_thread());
  ASSERT_OK(goro_lock_thread()); /* nests */
  int t0 = tid();
  m_t *m0 = goro__getm();
  atomic_store(&lt_locked_tid, t0);
  int64_t w0 = atomic_load(&lt_work);
  for (int i = 0; i < 2000; i++) {
    goro_yield();
    ASSERT_EQ(tid(), t0);
    ASSERT(goro__getm() == m0);
  }
  /* Others kept running meanwhile, and never on the locked thread. */
  ASSERT_GT(atomic_load(&lt_work) - w0, 100);
  atomic_store(&lt_locked_tid, 0);
  ASSERT_EQ(atomic_load(&lt_violation), 0);
  ASSERT_OK(goro_unlock_thread());
  ASSERT_OK(goro_unlock_thread());
  ASSERT_ERR(goro_unlock_thread(), GORO_EPERM);
  atomic_store(&lt_stop, 1);
  WAIT_FOR(&lt_exited, 4, 10);
}

/* The M-level lock (lock.c): unlock is a plain store and a load of the
 * sleeper count.  Threads that hold it for milliseconds push the others
 * into the futex sleep; exclusion must hold and every one must get
 * through (a lost wake-up would only delay a sleeper by its 1 ms bound). */
enum { MLOCK_THREADS = 4, MLOCK_ITERS = 3000 };
static goro__lock_t mlock;
static int mlock_inside;          /* guarded by mlock */
static long mlock_count;          /* guarded by mlock */
static _Atomic int mlock_saw_sleeper, mlock_overlap;

static void *mlock_worker(void *arg) {
  (void)arg;
  for (int i = 0; i < MLOCK_ITERS; i++) {
    goro__lock(&mlock);
    if (mlock_inside++) atomic_store(&mlock_overlap, 1);
    mlock_count++;
    if (i % 500 == 0) {
      usleep(2000); /* long enough for the others to go to sleep */
      if (atomic_load(&mlock.sleepers)) atomic_store(&mlock_saw_sleeper, 1);
    }
    mlock_inside--;
    goro__unlock(&mlock);
  }
  return NULL;
}

TEST(core_mlock_exclusion_with_sleepers) {
  pthread_t t[MLOCK_THREADS];
  for (int i = 0; i < MLOCK_THREADS; i++) ASSERT_OK(pthread_create(&t[i], NULL, mlock_worker, NULL));
  for (int i = 0; i < MLOCK_THREADS; i++) ASSERT_OK(pthread_join(t[i], NULL));
  ASSERT_EQ(atomic_load(&mlock_overlap), 0);
  ASSERT_EQ(mlock_count, (long)MLOCK_THREADS * MLOCK_ITERS);
  ASSERT_EQ(atomic_load(&mlock_saw_sleeper), 1); /* the sleep path ran */
  ASSERT_EQ(atomic_load(&mlock.word), 0);        /* free, nobody counted asleep */
}

TEST(core_lock_thread_outside_goroutine) {
  ASSERT_ERR(goro_lock_thread(), GORO_ENOTGOROUTINE);
  ASSERT_ERR(goro_unlock_thread(), GORO_ENOTGOROUTINE);
}

/* ------------------------------------------------------------------ */
/* Stacks                                                              */
/* ------------------------------------------------------------------ */

#pragma GCC diagnostic ignored "-Winfinite-recursion"
static NOINLINE int recurse(int depth) {
  volatile char frame[4096];
  frame[0] = (char)depth;
  frame[sizeof frame - 1] = (char)depth;
  return recurse(depth + 1) + frame[0] + frame[sizeof frame - 1];
}

static void overflow_fn(void *arg) {
  (void)arg;
  recurse(0);
}

CRASH_TEST(core_stack_overflow_is_reported, "goro: fatal error: stack overflow in goroutine", 2) {
  ASSERT_GT(goro_go(overflow_fn, NULL), 0);
  int64_t dl = goro_now() + 20 * GORO_SECOND;
  while (goro_now() < dl) goro_yield();
}

static _Atomic int64_t big_sum;
static _Atomic int big_done;

static NOINLINE void big_stack_fn(void *arg) {
  (void)arg;
  enum { N = 900 << 10 };
  volatile char buf[N];
  for (size_t i = 0; i < N; i += 512) buf[i] = (char)(i >> 9);
  int64_t s = 0;
  for (size_t i = 0; i < N; i += 512) s += buf[i];
  atomic_store(&big_sum, s);
  atomic_store(&big_done, 1);
}

GTEST(core_custom_stack_size) {
  goro_opts o = {.stack_size = 1 << 20, .name = "big-stack"};
  ASSERT_GT(goro_go_opts(big_stack_fn, NULL, &o), 0);
  WAIT_FOR(&big_done, 1, 30);
  int64_t want = 0;
  for (size_t i = 0; i < (900 << 10); i += 512) want += (char)(i >> 9);
  ASSERT_EQ(atomic_load(&big_sum), want);
}

/* ------------------------------------------------------------------ */
/* The errno-migration hazard                                          */
/* ------------------------------------------------------------------ */

/* An opaque way to ask for errno's address afresh: the compiler cannot
 * reuse an earlier __errno_location() result through the pointer. */
static int *(*volatile errno_loc)(void) = __errno_location;

static _Atomic int hz_stop, hz_exited;
static void hz_busy(void *arg) {
  (void)arg;
  volatile uint64_t x = 0;
  while (!atomic_load(&hz_stop)) {
    for (int i = 0; i < 2000; i++) x += (uint64_t)i;
    goro_yield();
  }
  atomic_fetch_add(&hz_exited, 1);
}

static long short_block(void *arg) {
  (void)arg;
  struct timespec ts = {0, 200 * 1000};
  nanosleep(&ts, NULL);
  return 0;
}

/* A goroutine that took &errno before a blocking point and resumes on
 * another M holds the old thread's errno; only a fresh look is right.
 * The runtime's own accessor goro__getm() must follow the move.  The
 * blocking point is a blocking call: its processor is handed to another
 * thread meanwhile, so the goroutine often resumes elsewhere. */
GTEST(core_errno_location_migrates) {
  int prev = goro_maxprocs(2);
  for (int i = 0; i < 4; i++) ASSERT_GT(goro_go(hz_busy, NULL), 0);
  int migrations = 0;
  int64_t dl = goro_now() + 20 * GORO_SECOND;
  for (int i = 0; i < 200000 && migrations < 20 && goro_now() < dl; i++) {
    int *before = errno_loc();
    int t0 = tid();
    goro_blocking(short_block, NULL);
    int t1 = tid();
    int *after = errno_loc();
    m_t *m = goro__getm();
    ASSERT(m != NULL);
    ASSERT_EQ(m->tid, t1);
    if (t1 != t0) {
      migrations++;
      /* The hazard: the errno address taken before the yield belongs to
       * the thread we left. */
      ASSERT(before != after);
    } else {
      ASSERT(before == after);
    }
  }
  ASSERT_GT(migrations, 0);
  atomic_store(&hz_stop, 1);
  WAIT_FOR(&hz_exited, 4, 10);
  goro_maxprocs(prev);
}

/* A locked main goroutine that yields with nothing else running: its M
 * gives the P away and parks until another M hands the goroutine back.
 * The deadlock check once ran in between and saw every M idle (the hand
 * back had already happened): "all goroutines are asleep". */
static _Atomic int lm_ran;
static void lm_child(void *arg) {
  (void)arg;
  atomic_fetch_add(&lm_ran, 1);
}

static int locked_main(void *arg) {
  (void)arg;
  if (goro_lock_thread() != 0) return 1;
  int t0 = tid();
  for (int i = 0; i < 300; i++) {
    if (goro_go(lm_child, NULL) <= 0) return 2;
    goro_yield();
    if (tid() != t0) return 3;
  }
  /* A spawning loop: back-pressure yields every 128 spawns. */
  for (int i = 0; i < 3000; i++) {
    if (goro_go(lm_child, NULL) <= 0) return 2;
    if (tid() != t0) return 3;
  }
  while (atomic_load(&lm_ran) < 3300) goro_yield();
  if (tid() != t0) return 3;
  return goro_unlock_thread() == 0 ? 0 : 4;
}

TEST(core_locked_main_yields_alone) {
  atomic_store(&lm_ran, 0);
  ASSERT_EQ(goro_run(locked_main, NULL), 0);
  ASSERT_EQ(atomic_load(&lm_ran), 3300);
}

/* ------------------------------------------------------------------ */
/* goro_run again and again                                            */
/* ------------------------------------------------------------------ */

static _Atomic int64_t rr_count;
static void rr_child(void *arg) { atomic_fetch_add(&rr_count, (intptr_t)arg); }

static int rr_main(void *arg) {
  int v = (int)(intptr_t)arg;
  atomic_store(&rr_count, 0);
  for (int i = 0; i < 1000; i++)
    if (goro_go(rr_child, (void *)(intptr_t)v) <= 0) return -1;
  int64_t dl = goro_now() + 20 * GORO_SECOND;
  while (atomic_load(&rr_count) < 1000LL * v && goro_now() < dl) goro_yield();
  return atomic_load(&rr_count) == 1000LL * v ? v : -2;
}

static void *thread_nop(void *arg) { return arg; }

TEST(core_run_repeatedly) {
  ASSERT_EQ(goro_id(), 0);
  /* Sanitizer runtimes start a helper thread of their own at the first
   * pthread_create: make that happen before taking the baseline. */
  pthread_t th;
  ASSERT_OK(pthread_create(&th, NULL, thread_nop, NULL));
  ASSERT_OK(pthread_join(th, NULL));
  int tasks0 = count_tasks();
  ASSERT_GT(tasks0, 0);
  int prev = goro_maxprocs(2);
  for (int v = 1; v <= 3; v++) {
    ASSERT_EQ(goro_run(rr_main, (void *)(intptr_t)(v * 7)), v * 7);
    ASSERT_EQ(count_tasks(), tasks0);
    ASSERT_EQ(goro_id(), 0);
  }
  goro_maxprocs(prev);
}

static int nested_run_main(void *arg) {
  (void)arg;
  return -goro_run(nested_run_main, NULL); /* positive GORO_ERUNNING magnitude */
}

TEST(core_run_inside_run) {
  ASSERT_EQ(goro_run(nested_run_main, NULL), -GORO_ERUNNING);
  ASSERT_ERR(goro_run(NULL, NULL), GORO_EINVAL);
}

/* ------------------------------------------------------------------ */
/* Bad arguments                                                       */
/* ------------------------------------------------------------------ */

static void nop(void *arg) { (void)arg; }

GTEST(core_bad_arguments) {
  ASSERT_ERR(goro_go(NULL, NULL), GORO_EINVAL);
  ASSERT_ERR(goro_go_opts(NULL, NULL, NULL), GORO_EINVAL);
  goro_opts huge = {.stack_size = (size_t)4 << 30};
  ASSERT_ERR(goro_go_opts(nop, NULL, &huge), GORO_EINVAL);
  goro_opts tiny = {.stack_size = 1024};
  ASSERT_ERR(goro_go_opts(nop, NULL, &tiny), GORO_EINVAL);
  ASSERT_ERR(goro_maxprocs(GORO_MAXPROCS_LIMIT + 1), GORO_EINVAL);
  ASSERT_ERR(goro_set_default_stack_size(1 << 20), GORO_ERUNNING);
  ASSERT_GT(goro_go_opts(nop, NULL, NULL), 0);
}

TEST(core_go_outside_run) {
  ASSERT_ERR(goro_go(nop, NULL), GORO_ENOTRUNNING);
  ASSERT_ERR(goro_go_opts(nop, NULL, NULL), GORO_ENOTRUNNING);
  ASSERT_EQ(goro_id(), 0);
  ASSERT_ERR(goro_set_default_stack_size(1024), GORO_EINVAL);
  ASSERT_ERR(goro_set_default_stack_size((size_t)2 << 30), GORO_EINVAL);
}

static int never_main(void *arg) {
  *(int *)arg = 1;
  return 0;
}

/* Run goro_run with GORO_MAXPROCS=val; return its result and what it
 * wrote to stderr. */
static int run_with_env(const char *val, char *err, size_t errn, int *ran) {
  FILE *tmp = tmpfile();
  ASSERT(tmp);
  fflush(stderr);
  int saved = dup(2);
  ASSERT_GE(saved, 0);
  dup2(fileno(tmp), 2);
  setenv("GORO_MAXPROCS", val, 1);
  int rc = goro_run(never_main, ran);
  unsetenv("GORO_MAXPROCS");
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  rewind(tmp);
  size_t k = fread(err, 1, errn - 1, tmp);
  err[k] = 0;
  fclose(tmp);
  return rc;
}

TEST(core_bad_maxprocs_env) {
  char err[1024];
  const char *bad[] = {"abc", "0", "-3", "2x", "100000"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    int ran = 0;
    ASSERT_ERR(run_with_env(bad[i], err, sizeof err, &ran), GORO_EINVAL);
    ASSERT_EQ(ran, 0);
    if (!strstr(err, "GORO_MAXPROCS"))
      test_fail(__FILE__, __LINE__, "no message naming GORO_MAXPROCS for \"%s\": \"%s\"", bad[i],
                err);
  }
  ASSERT(getenv("GORO_MAXPROCS") == NULL);
  int ran = 0;
  ASSERT_OK(run_with_env("1", err, sizeof err, &ran));
  ASSERT_EQ(ran, 1);
}

/* ------------------------------------------------------------------ */
/* goro_maxprocs at run time                                           */
/* ------------------------------------------------------------------ */

static _Atomic int64_t mp_count;
static void mp_fn(void *arg) {
  (void)arg;
  atomic_fetch_add(&mp_count, 1);
}

static void mp_batch(int64_t *expect) {
  for (int i = 0; i < 1000; i++) ASSERT_GT(goro_go(mp_fn, NULL), 0);
  *expect += 1000;
  WAIT_FOR(&mp_count, *expect, 30);
}

GTEST(core_maxprocs_at_run_time) {
  int64_t expect = 0;
  int start = goro_maxprocs(0);
  ASSERT_GE(start, 1);
  goro_stats_t st;
  int sizes[] = {3, 1, 4, 2, 1, 2};
  int prev = start;
  for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
    ASSERT_EQ(goro_maxprocs(sizes[i]), prev);
    ASSERT_EQ(goro_maxprocs(0), sizes[i]);
    mp_batch(&expect);
    goro_stats(&st);
    ASSERT_EQ(st.procs, sizes[i]);
    prev = sizes[i];
  }
  ASSERT_EQ(atomic_load(&mp_count), expect);
}

/* ------------------------------------------------------------------ */
/* Error codes                                                         */
/* ------------------------------------------------------------------ */

TEST(core_error_names_and_messages) {
  int n = 0;
#define CHECK_CODE(name, val, msg)                                         \
  do {                                                                     \
    ASSERT_LT(GORO_##name, 0);                                             \
    ASSERT_EQ(strcmp(goro_err_name(GORO_##name), "GORO_" #name), 0);       \
    ASSERT_EQ(strcmp(goro_strerror(GORO_##name), msg), 0);                 \
    n++;                                                                   \
  } while (0);
  GORO_ERRNO_MAP(CHECK_CODE)
#undef CHECK_CODE
  ASSERT_EQ(n, 19);
  /* Distinct codes. */
  int codes[] = {
#define LIST_CODE(name, val, msg) GORO_##name,
      GORO_ERRNO_MAP(LIST_CODE)
#undef LIST_CODE
  };
  for (int i = 0; i < n; i++)
    for (int k = i + 1; k < n; k++) ASSERT_NE(codes[i], codes[k]);
  ASSERT_EQ(strcmp(goro_err_name(-9999), "GORO_E?"), 0);
  ASSERT_EQ(strcmp(goro_err_name(12345), "GORO_E?"), 0);
  ASSERT(goro_strerror(-9999) != NULL);
  ASSERT(goro_strerror(12345) != NULL);
  /* Other negated errnos get the system's message. */
  ASSERT_EQ(strcmp(goro_strerror(-ENOENT), strerror(ENOENT)), 0);
  ASSERT(goro_strerror(0) != NULL);
}
