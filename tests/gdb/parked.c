/* parked.c - a goro program for tests/test_gdb.sh: three goroutines parked
 * on a channel receive two calls deep, one sleeping, and the main
 * goroutine stopped in gdb_stop_here (a breakpoint for the live test),
 * after which it aborts (for the core-file test).  With GORO_GDB_WAIT set
 * it waits for stdin to close there instead, for gdb to attach. */
#include <goro.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static goro_chan *never;

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

static int gdb_main(void *arg) {
  (void)arg;
  goro_chan_make(&never, sizeof(int), 0);
  for (int i = 0; i < 3; i++) goro_go(gdb_parked_worker, NULL);
  goro_go(gdb_sleeper, NULL);
  goro_sleep(50 * GORO_MILLISECOND); /* let them park */
  printf("parked\n");
  fflush(stdout);
  gdb_stop_here();
  if (getenv("GORO_GDB_ABORT")) abort();
  return 0;
}

int main(void) { return goro_run(gdb_main, NULL); }
