/* readme_example.c - the example program of README.md, kept identical to
 * it (tools/check-readme.sh checks): start goroutines, collect their
 * results over a channel, wait for them with a WaitGroup, and select
 * with a timeout. */
#include <goro.h>
#include <stdio.h>

static goro_chan *results; /* int values, unbuffered */
static goro_waitgroup wg = GORO_WAITGROUP_INIT;

static void square(void *arg) {
  int n = (int)(intptr_t)arg, v = n * n;
  goro_chan_send(results, &v);
  goro_waitgroup_done(&wg);
}

static void closer(void *arg) {
  (void)arg;
  goro_waitgroup_wait(&wg); /* every worker has sent its value */
  goro_chan_close(results);
}

static int main_goroutine(void *arg) {
  (void)arg;
  goro_chan_make(&results, sizeof(int), 0);
  for (int i = 1; i <= 10; i++) {
    goro_waitgroup_add(&wg, 1);
    goro_go(square, (void *)(intptr_t)i);
  }
  goro_go(closer, NULL);

  /* Receive until the channel is closed, but wait at most 1 s for each. */
  int v, sum = 0, r;
  while ((r = goro_chan_recv_dl(results, &v, NULL, goro_now() + GORO_SECOND)) == 0)
    sum += v;
  printf("sum of squares 1..10 = %d (%s)\n", sum, goro_err_name(r));

  /* Go's select { case v = <-idle: case <-time.After(50ms): } */
  goro_chan *idle, *timeout;
  goro_chan_make(&idle, sizeof(int), 0);
  goro_after(&timeout, 50 * GORO_MILLISECOND);
  int64_t fired_at;
  goro_case cases[] = {GORO_CASE_RECV(idle, &v), GORO_CASE_RECV(timeout, &fired_at)};
  int which = goro_select(cases, 2, GORO_FOREVER);
  printf("select: %s\n", which == 1 ? "timed out after 50 ms" : "received a value");

  goro_chan_release(timeout);
  goro_chan_release(idle);
  goro_chan_release(results);
  return 0;
}

int main(void) { return goro_run(main_goroutine, NULL); }
