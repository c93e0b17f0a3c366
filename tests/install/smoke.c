/* smoke.c - the install smoke test: a program built against an installed
 * goro (through pkg-config or find_package) that spawns goroutines, talks
 * over a channel and checks the result.  Exit status 0 means it works. */
#include <goro.h>
#include <stdio.h>

enum { N = 100 };

static goro_chan *results;

static void worker(void *arg) {
  int v = (int)(intptr_t)arg;
  v *= v;
  goro_chan_send(results, &v);
}

static int main_goroutine(void *arg) {
  (void)arg;
  if (goro_chan_make(&results, sizeof(int), 0) != 0) return 10;
  for (int i = 1; i <= N; i++)
    if (goro_go(worker, (void *)(intptr_t)i) <= 0) return 11;
  long sum = 0;
  for (int i = 0; i < N; i++) {
    int v;
    if (goro_chan_recv(results, &v, NULL) != 0) return 12;
    sum += v;
  }
  goro_chan_release(results);
  return sum == (long)N * (N + 1) * (2 * N + 1) / 6 ? 42 : 13;
}

int main(void) {
  int rc = goro_run(main_goroutine, NULL);
  printf("goro %d.%d.%d smoke: goro_run returned %d\n", GORO_VERSION_MAJOR, GORO_VERSION_MINOR,
         GORO_VERSION_PATCH, rc);
  return rc == 42 ? 0 : 1;
}
