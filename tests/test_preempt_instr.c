/* test_preempt_instr.c - the function-entry preemption mode.
 *
 * Compiled with -finstrument-functions (top-level CMakeLists.txt), as a
 * user would compile code that loops through function calls.  At one
 * processor such a loop is preempted at a function entry: the other
 * goroutine finishes without a spare processor being needed.
 */
#include <stdatomic.h>

#include "../src/internal.h"
#include "runner.h"

static _Atomic int stop_flag, worker_done, hog_started;

__attribute__((noinline)) static unsigned step(unsigned x) {
  __asm__ __volatile__("");
  return x * 7 + 3;
}

static void calling_hog(void *arg) {
  (void)arg;
  unsigned x = 1;
  atomic_store(&hog_started, 1);
  while (!atomic_load_explicit(&stop_flag, memory_order_relaxed)) x = step(x);
  if (x == 42) atomic_store(&worker_done, 2);
}

static void worker(void *arg) {
  (void)arg;
  atomic_store(&worker_done, 1);
}

GTEST_T(preempt_instrumented_function_entry, 30000) {
  goro_stats_t before, after;
  int prev = goro_maxprocs(1);
  goro_stats(&before);
  ASSERT(goro_go(calling_hog, NULL) > 0);
  while (!atomic_load(&hog_started)) goro_yield();
  ASSERT(goro_go(worker, NULL) > 0);
  int64_t deadline = goro_now() + 10 * GORO_SECOND;
  while (!atomic_load(&worker_done) && goro_now() < deadline) goro_sleep(GORO_MILLISECOND);
  int done = atomic_load(&worker_done);
  atomic_store(&stop_flag, 1);
  goro_stats(&after);
  goro_maxprocs(prev);
  ASSERT_EQ(done, 1);
  ASSERT_GT(after.preemptions + after.handoffs, before.preemptions + before.handoffs);
}

/* The hook itself: with a request pending on this thread and P, entering
 * an instrumented function yields. */
GTEST(preempt_instrumented_hook_yields_on_request) {
  goro_stats_t a, b;
  goro_stats(&a);
  m_t *m = goro__getm();
  atomic_store(&m->p->preempt, 1);
  atomic_store(m->preempt_word, 1);
  unsigned x = step(1);
  goro_stats(&b);
  ASSERT_EQ(x, 10);
  ASSERT_EQ(b.preemptions, a.preemptions + 1);
}
