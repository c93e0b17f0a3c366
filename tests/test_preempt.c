/* test_preempt.c - preemption without signals.
 *
 * At one processor, a goroutine that never yields must not keep another
 * goroutine from finishing: the monitor first asks it to yield (honoured at
 * its next runtime call or, in instrumented code, function entry), and if
 * it keeps running in plain C, starts a spare processor for the others.
 */
#include <stdatomic.h>

#include "../src/internal.h"
#include "runner.h"

static _Atomic int stop_flag, worker_done, hog_started;

/* A loop with no calls at all: the only way out for the others is a spare
 * processor. */
static void plain_hog(void *arg) {
  (void)arg;
  atomic_store(&hog_started, 1);
  while (!atomic_load_explicit(&stop_flag, memory_order_relaxed)) {
  }
}

/* A loop that passes a preemption point each iteration. */
static void polite_hog(void *arg) {
  (void)arg;
  atomic_store(&hog_started, 1);
  while (!atomic_load_explicit(&stop_flag, memory_order_relaxed)) goro_preempt_check();
}

static void worker(void *arg) {
  (void)arg;
  volatile unsigned x = 0;
  for (int i = 0; i < 1000; i++) x += (unsigned)i;
  atomic_store(&worker_done, 1);
}

static void run_hog_case(goro_fn hog) {
  atomic_store(&stop_flag, 0);
  atomic_store(&worker_done, 0);
  atomic_store(&hog_started, 0);
  int prev = goro_maxprocs(1);
  ASSERT(goro_go(hog, NULL) > 0);
  /* Let the hog take the processor first. */
  while (!atomic_load(&hog_started)) goro_yield();
  ASSERT(goro_go(worker, NULL) > 0);
  int64_t deadline = goro_now() + 10 * GORO_SECOND;
  while (!atomic_load(&worker_done) && goro_now() < deadline) goro_sleep(GORO_MILLISECOND);
  int done = atomic_load(&worker_done);
  atomic_store(&stop_flag, 1);
  goro_maxprocs(prev);
  ASSERT_EQ(done, 1);
}

GTEST_T(preempt_plain_c_loop_does_not_starve_others, 30000) {
  run_hog_case(plain_hog);
  goro_stats_t st;
  goro_stats(&st);
  /* A loop without calls can only be helped by a spare processor. */
  ASSERT_GT(st.handoffs, 0);
}

GTEST_T(preempt_polite_loop_does_not_starve_others, 30000) {
  run_hog_case(polite_hog);
  goro_stats_t st;
  goro_stats(&st);
  /* Either the hog yielded at a check, or (if the request came while the
   * worker was still on its way) a spare processor ran the worker. */
  ASSERT_GT(st.preemptions + st.handoffs, 0);
}

/* The request itself, without timing: a pending request makes the next
 * check yield, and only once. */
GTEST(preempt_check_yields_on_request) {
  goro_stats_t a, b, c;
  goro_stats(&a);
  atomic_store(&goro__getm()->p->preempt, 1);
  goro_preempt_check();
  goro_stats(&b);
  ASSERT_EQ(b.preemptions, a.preemptions + 1);
  goro_preempt_check();
  goro_stats(&c);
  ASSERT_EQ(c.preemptions, b.preemptions);
}

/* goro_preempt_check is cheap and harmless when nothing is pending. */
GTEST(preempt_check_without_request_is_noop) {
  int64_t id = goro_id();
  for (int i = 0; i < 100000; i++) goro_preempt_check();
  ASSERT_EQ(goro_id(), id);
}
