/* test_core.c - core runtime tests (placeholder while the suite grows). */
#include "runner.h"

static int64_t ran;
static void set_ran(void *arg) { __atomic_store_n(&ran, (int64_t)(intptr_t)arg, __ATOMIC_SEQ_CST); }

GTEST(core_go_and_yield) {
  ASSERT_GT(goro_go(set_ran, (void *)(intptr_t)7), 0);
  for (int i = 0; i < 100000 && __atomic_load_n(&ran, __ATOMIC_SEQ_CST) != 7; i++) goro_yield();
  ASSERT_EQ(__atomic_load_n(&ran, __ATOMIC_SEQ_CST), 7);
}
