/* runner.h - the test harness API.
 *
 * Every test runs in its own forked process with a time limit (scaled by
 * GORO_TEST_TIMEOUT_MULTIPLIER).  Tests register themselves at load time,
 * so a new tests/test_*.c file needs no list edits.
 *
 *   TEST(name) { ... }            plain C test (no runtime started)
 *   GTEST(name) { ... }           body runs as the main goroutine inside
 *                                 goro_run; must return normally
 *   TEST_T(name, ms) / GTEST_T(name, ms)    with a custom time limit
 *   CRASH_TEST(name, "stderr text", status) { ... }
 *                                 body runs as the main goroutine and must
 *                                 make the process die: passes when stderr
 *                                 contains the text and the exit status is
 *                                 `status` (a signal number s is given as
 *                                 128 + s)
 *
 * Assertions print both sides and abort the test process:
 *   ASSERT(c)  ASSERT_EQ(a, b)  ASSERT_NE(a, b)  ASSERT_LT/LE/GT/GE(a, b)
 *   ASSERT_OK(e)  (e == 0, prints goro_strerror otherwise)
 *   ASSERT_ERR(e, code)
 * Values are compared as long long.
 *
 * TEST_SKIP("why") ends a test as skipped.
 *
 * Environment: GORO_TEST_STRESS=0..3 scales stress tests (test_stress()),
 * GORO_TEST_TIMEOUT_MULTIPLIER scales time limits, GORO_TEST_TIME_CAP_MS
 * bounds them (CI uses it to keep one hung test from eating the budget).
 */
#ifndef GORO_TEST_RUNNER_H
#define GORO_TEST_RUNNER_H

#include <goro.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct test_entry {
  const char *name;
  void (*fn)(void);
  int goroutine;     /* run inside goro_run */
  int timeout_ms;
  const char *crash_text; /* non-NULL: crash test */
  int crash_status;
  const char *file;
} test_entry;

void test_register(const test_entry *e);
int test_stress(void);              /* 0..3, default 1 */
void test_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((__noreturn__, format(printf, 3, 4)));
/* End the test as skipped (reported as "ok N - name # SKIP reason" and
 * counted in the summary's "N skipped"). */
void test_skip(const char *fmt, ...) __attribute__((__noreturn__, format(printf, 1, 2)));
#define TEST_SKIP(...) test_skip(__VA_ARGS__)

#define TEST_REG_(name, gor, ms, text, status)                                   \
  static void test_##name(void);                                                \
  __attribute__((constructor)) static void test_reg_##name(void) {              \
    static const test_entry e = {#name, test_##name, gor, ms, text, status,     \
                                 __FILE__};                                     \
    test_register(&e);                                                          \
  }                                                                             \
  static void test_##name(void)

#define TEST(name) TEST_REG_(name, 0, 60000, NULL, 0)
#define TEST_T(name, ms) TEST_REG_(name, 0, ms, NULL, 0)
#define GTEST(name) TEST_REG_(name, 1, 60000, NULL, 0)
#define GTEST_T(name, ms) TEST_REG_(name, 1, ms, NULL, 0)
#define CRASH_TEST(name, text, status) TEST_REG_(name, 1, 60000, text, status)

/* Do `step` (goro_yield(), goro_sleep(...)) until the atomic *c reaches
 * want; fail the test after secs seconds. */
#define WAIT_REACHES(c, want, secs, step)                                               \
  do {                                                                                  \
    int64_t dl_ = goro_now() + (int64_t)(secs)*GORO_SECOND;                             \
    while (atomic_load(c) < (want)) {                                                   \
      if (goro_now() > dl_)                                                             \
        test_fail(__FILE__, __LINE__, "waited %d s for %s to reach %lld, it is %lld",   \
                  (int)(secs), #c, (long long)(want), (long long)atomic_load(c));       \
      step;                                                                             \
    }                                                                                   \
  } while (0)

#define ASSERT(c)                                                   \
  do {                                                              \
    if (!(c)) test_fail(__FILE__, __LINE__, "ASSERT(%s) failed", #c); \
  } while (0)

#define ASSERT_CMP_(a, op, b)                                                      \
  do {                                                                             \
    long long a_ = (long long)(a), b_ = (long long)(b);                            \
    if (!(a_ op b_))                                                               \
      test_fail(__FILE__, __LINE__, "ASSERT(%s %s %s) failed: %lld vs %lld", #a, #op, \
                #b, a_, b_);                                                       \
  } while (0)

#define ASSERT_EQ(a, b) ASSERT_CMP_(a, ==, b)
#define ASSERT_NE(a, b) ASSERT_CMP_(a, !=, b)
#define ASSERT_LT(a, b) ASSERT_CMP_(a, <, b)
#define ASSERT_LE(a, b) ASSERT_CMP_(a, <=, b)
#define ASSERT_GT(a, b) ASSERT_CMP_(a, >, b)
#define ASSERT_GE(a, b) ASSERT_CMP_(a, >=, b)

#define ASSERT_OK(e)                                                                  \
  do {                                                                                \
    long long r_ = (long long)(e);                                                    \
    if (r_ != 0)                                                                      \
      test_fail(__FILE__, __LINE__, "%s returned %lld (%s)", #e, r_, goro_strerror((int)r_)); \
  } while (0)

#define ASSERT_ERR(e, code)                                                            \
  do {                                                                                 \
    long long r_ = (long long)(e);                                                     \
    if (r_ != (long long)(code))                                                       \
      test_fail(__FILE__, __LINE__, "%s returned %lld (%s), want %s", #e, r_,          \
                goro_strerror((int)r_), #code);                                        \
  } while (0)

#endif
