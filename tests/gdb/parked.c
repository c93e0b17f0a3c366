/* parked.c - a goro program for tests/test_gdb.sh: three goroutines parked
 * on a channel receive two calls deep (the third, goroutine 4, on a
 * shared stack, which other shared-stack goroutines then overwrite: its
 * frames must be read from its saved copy), one sleeping, and the main
 * goroutine stopped in gdb_stop_here (a breakpoint for the live test),
 * after which it aborts (for the core-file test).  With GORO_GDB_WAIT set
 * it waits for stdin to close there instead, for gdb to attach.
 *
 * It checks its own premises, so the script's checks mean something: it
 * prints "parked" only once all four goroutines are really parked, and
 * after gdb has attached and detached it checks that they still are
 * (inspection must not wake anyone).  A failed check prints "parked:
 * assertion failed: ..." and exits with status 3, which test_gdb.sh
 * reports. */
#include <goro.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static goro_chan *never;

#define ASSERT(c)                                                         \
  do {                                                                    \
    if (!(c)) {                                                           \
      fprintf(stderr, "parked: assertion failed: %s (line %d)\n", #c,     \
              __LINE__);                                                  \
      exit(3);                                                            \
    }                                                                     \
  } while (0)

/* Goroutines parked in a channel receive or a sleep right now. */
static int64_t parked_now(void) {
  goro_stats_t st;
  goro_stats(&st);
  return st.waiting;
}

__attribute__((noinline)) void gdb_parked_level2(void) {
  int v;
  bool ok;
  goro_chan_recv(never, &v, &ok);
  __asm__ __volatile__("" ::: "memory");
}

__attribute__((noinline)) static void gdb_parked_worker(void *arg) {
  (void)arg;
  gdb_parked_level2();
  __asm__ __volatile__("" ::: "memory");
}

__attribute__((noinline)) static void gdb_sleeper(void *arg) {
  (void)arg;
  goro_sleep(3600 * GORO_SECOND);
  __asm__ __volatile__("" ::: "memory");
}

static long wait_stdin(void *arg) {
  char c;
  (void)arg;
  return read(0, &c, 1);
}

/* Where the main goroutine waits to be inspected: until stdin closes
 * (GORO_GDB_WAIT set) or not at all (a breakpoint stops it here). */
__attribute__((noinline)) void gdb_stop_here(void) {
  if (getenv("GORO_GDB_WAIT")) goro_blocking(wait_stdin, NULL);
  __asm__ __volatile__("" ::: "memory");
}

static _Atomic int scribblers_done;

/* Runs on the shared stacks after goroutine 4 parked, deep enough to
 * overwrite what its frames left there. */
__attribute__((noinline)) static void gdb_scribbler(void *arg) {
  (void)arg;
  volatile char junk[2048];
  for (size_t i = 0; i < sizeof junk; i++) junk[i] = (char)0xA5;
  goro_sleep(GORO_MILLISECOND);
  atomic_fetch_add(&scribblers_done, 1);
  __asm__ __volatile__("" ::: "memory");
}

static int gdb_main(void *arg) {
  (void)arg;
  ASSERT(goro_chan_make(&never, sizeof(int), 0) == 0);
  for (int i = 0; i < 2; i++) ASSERT(goro_go(gdb_parked_worker, NULL) > 0);
  goro_opts shared = {.flags = GORO_SHARED_STACK};
  ASSERT(goro_go_opts(gdb_parked_worker, NULL, &shared) > 0);
  ASSERT(goro_go(gdb_sleeper, NULL) > 0);
  /* Wait until all four are parked (not a fixed nap: a slow machine). */
  int64_t deadline = goro_now() + 10 * GORO_SECOND;
  while (parked_now() < 4 && goro_now() < deadline) goro_sleep(GORO_MILLISECOND);
  ASSERT(parked_now() == 4);
  /* Spawns go round the processors: four cover goroutine 4's. */
  for (int i = 0; i < 4; i++) ASSERT(goro_go_opts(gdb_scribbler, NULL, &shared) > 0);
  while (atomic_load(&scribblers_done) < 4 && goro_now() < deadline) goro_sleep(GORO_MILLISECOND);
  ASSERT(atomic_load(&scribblers_done) == 4 && parked_now() == 4);
  printf("parked\n");
  fflush(stdout);
  gdb_stop_here();
  ASSERT(parked_now() == 4); /* attaching and detaching woke nobody */
  if (getenv("GORO_GDB_ABORT")) abort();
  return 0;
}

int main(void) {
  int r = goro_run(gdb_main, NULL);
  ASSERT(r == 0);
  return r;
}
