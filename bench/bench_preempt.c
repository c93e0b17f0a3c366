/* bench_preempt.c - cost of the function-entry preemption check.
 *
 * This file is compiled with -finstrument-functions (see the top-level
 * CMakeLists.txt), the mode users enable for their own code so that a
 * goroutine looping through function calls yields when the monitor asks.
 * call_instrumented() gets the entry/exit hooks; call_plain() is the same
 * function with no_instrument_function.  Both are called in the same tight
 * loop from a goroutine; the difference is the per-call cost of the check.
 *
 *   preempt_check_cost  ns per call added by the hooks (metric ns_per_call)
 *   call_plain          ns per plain call (for scale)
 */
#include <goro.h>
#include <stdio.h>
#include <stdlib.h>

#define NOINSTR __attribute__((no_instrument_function))

static NOINSTR void emit(const char *bench, const char *metric, double v) {
  printf("{\"bench\":\"%s\",\"impl\":\"goro\",\"metric\":\"%s\",\"value\":%.4g}\n", bench, metric, v);
  fflush(stdout);
}

__attribute__((noinline)) static unsigned call_instrumented(unsigned x) {
  __asm__ __volatile__("");
  return x * 3 + 1;
}

__attribute__((noinline)) NOINSTR static unsigned call_plain(unsigned x) {
  __asm__ __volatile__("");
  return x * 3 + 1;
}

static long iters;
static double best_plain = 1e9, best_instr = 1e9;

static NOINSTR void run(void *arg) {
  (void)arg;
  for (int rep = 0; rep < 5; rep++) {
    unsigned x = 1;
    int64_t t0 = goro_now();
    for (long i = 0; i < iters; i++) x = call_plain(x);
    int64_t t1 = goro_now();
    for (long i = 0; i < iters; i++) x = call_instrumented(x);
    int64_t t2 = goro_now();
    if (x == 42) puts("");
    double p = (double)(t1 - t0) / iters, q = (double)(t2 - t1) / iters;
    if (p < best_plain) best_plain = p;
    if (q < best_instr) best_instr = q;
  }
}

static NOINSTR int main_fn(void *arg) {
  (void)arg;
  run(NULL);
  return 0;
}

NOINSTR int main(int argc, char **argv) {
  if (argc > 1 && argv[1][0] != 'p') return 0; /* only preempt_check_cost here */
  iters = getenv("BENCH_QUICK") ? 10000000 : 100000000;
  if (goro_run(main_fn, NULL) != 0) return 1;
  emit("call_plain", "ns_per_call", best_plain);
  emit("preempt_check_cost", "ns_per_call", best_instr - best_plain);
  return 0;
}
