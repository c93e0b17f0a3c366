/* test_fdtable.c - the runtime keeps the kernel's fd table ahead of the
 * program (src/fdtable.c): goro_run grows it to GORO_FDTABLE slots before
 * any runtime thread exists, a helper thread grows it again once the
 * poller sees fds past half of it, GORO_FDTABLE=0 turns both off, and bad
 * values are refused.  The kernel's table size is read from FDSize in
 * /proc/self/status. */
#include "runner.h"

#include <pthread.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* A field of /proc/self/status ("FDSize:", "Threads:"), or -1. */
static int status_field(const char *name) {
  FILE *f = fopen("/proc/self/status", "r");
  if (!f) return -1;
  char line[256];
  int v = -1;
  size_t n = strlen(name);
  while (fgets(line, sizeof line, f))
    if (strncmp(line, name, n) == 0) {
      v = atoi(line + n);
      break;
    }
  fclose(f);
  return v;
}

static int fdsize(void) { return status_field("FDSize:"); }

/* Make the soft fd limit at least `want` (within the hard limit) and return
 * it. */
static int raise_soft_limit(int want) {
  struct rlimit rl;
  ASSERT_OK(getrlimit(RLIMIT_NOFILE, &rl));
  if (rl.rlim_cur < (rlim_t)want) {
    rl.rlim_cur = rl.rlim_max < (rlim_t)want ? rl.rlim_max : (rlim_t)want;
    ASSERT_OK(setrlimit(RLIMIT_NOFILE, &rl));
  }
  return rl.rlim_cur > 1 << 24 ? 1 << 24 : (int)rl.rlim_cur;
}

static void need_proc(void) {
  if (fdsize() < 0) TEST_SKIP("no /proc/self/status");
}

static int report_fdsize(void *arg) {
  *(int *)arg = fdsize();
  return 0;
}

/* Run goro_run with GORO_FDTABLE=setting (NULL: unset) and return the
 * table size its main goroutine saw; *before gets the size before the
 * run.  Skips if the table already has `enough` slots, where the run
 * could show nothing. */
static int fdsize_in_run(const char *setting, int enough, int *before) {
  *before = fdsize();
  if (*before >= enough) TEST_SKIP("table already %d slots", *before);
  if (setting)
    setenv("GORO_FDTABLE", setting, 1);
  else
    unsetenv("GORO_FDTABLE");
  int inside = -1;
  ASSERT_OK(goro_run(report_fdsize, &inside));
  return inside;
}

TEST(fdtable_grown_when_run_starts) {
  need_proc();
  int lim = raise_soft_limit(8192);
  int want = lim < 4096 ? lim : 4096, before;
  ASSERT_GE(fdsize_in_run(NULL, want, &before), want);
  ASSERT_GE(fdsize(), want); /* the kernel never shrinks it */
}

TEST(fdtable_setting_chooses_the_size) {
  need_proc();
  raise_soft_limit(8192);
  int before;
  ASSERT_EQ(fdsize_in_run("1024", 1024, &before), 1024);
}

TEST(fdtable_zero_turns_it_off) {
  need_proc();
  raise_soft_limit(8192);
  int before;
  int inside = fdsize_in_run("0", 4096, &before);
  ASSERT_EQ(inside, before);
}

TEST(fdtable_capped_at_the_soft_limit) {
  need_proc();
  struct rlimit rl;
  ASSERT_OK(getrlimit(RLIMIT_NOFILE, &rl));
  if (rl.rlim_max < 512) TEST_SKIP("hard fd limit %ld", (long)rl.rlim_max);
  rl.rlim_cur = 512;
  ASSERT_OK(setrlimit(RLIMIT_NOFILE, &rl));
  int before;
  ASSERT_EQ(fdsize_in_run("100000", 512, &before), 512);
}

static int never_main(void *arg) {
  *(int *)arg = 1;
  return 0;
}

TEST(fdtable_bad_setting_refused) {
  const char *bad[] = {"abc", "-1", "16777217", "12k"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    setenv("GORO_FDTABLE", bad[i], 1);
    int ran = 0;
    ASSERT_ERR(goro_run(never_main, &ran), GORO_EINVAL);
    ASSERT_EQ(ran, 0);
  }
}

/* Open UDP sockets through goro until one is past half the table, then
 * wait for the helper: the table must double before the program ever
 * needs a slot past its end.  The table starts at its size when the test
 * begins (at least the kernel's 256 once it has grown at all). */
enum { SOCKS_MAX = 1024 };

static int grows_ahead_main(void *arg) {
  int size = *(int *)arg;
  ASSERT_EQ(fdsize(), size);
  static int fds[SOCKS_MAX];
  int n = 0, last = -1, past_half = size / 2 + size / 8;
  while (n < SOCKS_MAX && last < past_half) {
    last = goro_udp_bind("udp", "127.0.0.1:0");
    ASSERT_GE(last, 0);
    fds[n++] = last;
  }
  ASSERT_GE(last, past_half);
  ASSERT_LT(last, size);
  int64_t deadline = goro_now() + 5 * GORO_SECOND;
  while (fdsize() < 2 * size && goro_now() < deadline) goro_sleep(GORO_MILLISECOND);
  ASSERT_GE(fdsize(), 2 * size);
  for (int i = 0; i < n; i++) ASSERT_OK(goro_close(fds[i]));
  return 0;
}

TEST_T(fdtable_grows_ahead_of_the_fds, 20000) {
  need_proc();
  raise_soft_limit(8192);
  int size = fdsize();
  if (size > 1024) TEST_SKIP("table already %d slots", size);
  char v[16];
  snprintf(v, sizeof v, "%d", size);
  setenv("GORO_FDTABLE", v, 1);
  ASSERT_OK(goro_run(grows_ahead_main, &size));
}

/* A process that already has a thread of its own: goro_run must not wait
 * a grace period itself; a helper grows the table, and goro_run's end
 * joins it (the thread count is back to what it was). */
static pthread_mutex_t hold_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t hold_cv = PTHREAD_COND_INITIALIZER;
static int hold_release;

static void *holder(void *arg) {
  (void)arg;
  pthread_mutex_lock(&hold_mu);
  while (!hold_release) pthread_cond_wait(&hold_cv, &hold_mu);
  pthread_mutex_unlock(&hold_mu);
  return NULL;
}

static int multithreaded_main(void *arg) {
  int want = *(int *)arg;
  int64_t deadline = goro_now() + 5 * GORO_SECOND;
  while (fdsize() < want && goro_now() < deadline) goro_sleep(GORO_MILLISECOND);
  ASSERT_GE(fdsize(), want);
  return 0;
}

TEST_T(fdtable_grown_by_a_helper_when_threads_exist, 20000) {
  need_proc();
  int lim = raise_soft_limit(8192);
  int want = lim < 4096 ? lim : 4096;
  if (fdsize() >= want) TEST_SKIP("table already %d slots", fdsize());
  unsetenv("GORO_FDTABLE");
  pthread_t t;
  ASSERT_OK(pthread_create(&t, NULL, holder, NULL));
  int threads = status_field("Threads:");
  ASSERT_GE(threads, 2);
  ASSERT_OK(goro_run(multithreaded_main, &want));
  ASSERT_EQ(status_field("Threads:"), threads);
  pthread_mutex_lock(&hold_mu);
  hold_release = 1;
  pthread_cond_signal(&hold_cv);
  pthread_mutex_unlock(&hold_mu);
  ASSERT_OK(pthread_join(t, NULL));
}

/* Several goroutines on every processor open sockets at once, across
 * several thresholds: helpers are started and joined while notes race
 * (the point of running this under TSan), every socket opens, and no
 * helper is left when goro_run returns. */
enum { RACERS = 4, RACER_SOCKS = 300 };

typedef struct {
  goro_chan *done;
  int fds[RACER_SOCKS];
} racer_t;

static void racer(void *arg) {
  racer_t *r = arg;
  for (int i = 0; i < RACER_SOCKS; i++) {
    r->fds[i] = goro_udp_bind("udp", "127.0.0.1:0");
    ASSERT_GE(r->fds[i], 0);
    if (i % 16 == 0) goro_yield();
  }
  goro_chan_send(r->done, NULL);
}

static int racing_main(void *arg) {
  (void)arg;
  static racer_t rs[RACERS];
  goro_chan *done;
  ASSERT_OK(goro_chan_make(&done, 0, RACERS));
  for (int k = 0; k < RACERS; k++) {
    rs[k].done = done;
    ASSERT_GT(goro_go(racer, &rs[k]), 0);
  }
  for (int k = 0; k < RACERS; k++) ASSERT_OK(goro_chan_recv(done, NULL, NULL));
  for (int k = 0; k < RACERS; k++)
    for (int i = 0; i < RACER_SOCKS; i++) ASSERT_OK(goro_close(rs[k].fds[i]));
  goro_chan_release(done);
  return 0;
}

TEST_T(fdtable_concurrent_growth, 30000) {
  need_proc();
  raise_soft_limit(8192);
  if (fdsize() > 256) TEST_SKIP("table already %d slots", fdsize());
  setenv("GORO_FDTABLE", "256", 1);
  int ran = 0; /* first a run that opens nothing: a sanitizer's own thread, */
  ASSERT_OK(goro_run(never_main, &ran)); /* started lazily, exists from then on */
  ASSERT_EQ(fdsize(), 256);
  int threads = status_field("Threads:");
  for (int round = 0; round < 1 + test_stress(); round++) ASSERT_OK(goro_run(racing_main, NULL));
  ASSERT_EQ(status_field("Threads:"), threads);
}
