/* bench_skynet.c - the skynet benchmark (Go counterpart: bench/go/skynet.go).
 *
 * 1,111,111 real goroutines in a tree of fan-out 10: each leaf sends its
 * number, each inner node makes its own unbuffered channel, starts ten
 * children, sums the ten values it receives on that channel and sends the
 * sum up.  Metric: ms of wall time for the whole tree, processors = CPU
 * count.  BENCH_QUICK=1 uses a tree of 111,111 goroutines.
 *
 * A node passes each child its arguments in an array on the node's own
 * stack (where Go copies them into the new goroutine): the array stays
 * valid until the node has received all ten results, and a child reads it
 * before sending.  The node releases its channel after the tenth receive;
 * a sender is done with the channel once its value is taken.
 */
#include <goro.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  goro_chan *c;
  int64_t num, size, div;
} sk_t;

static void skynet(void *arg) {
  sk_t a = *(sk_t *)arg;
  if (a.size == 1) {
    goro_chan_send(a.c, &a.num);
    return;
  }
  goro_chan *rc;
  if (goro_chan_make(&rc, sizeof(int64_t), 0) != 0) abort();
  sk_t kids[10];
  for (int64_t i = 0; i < a.div; i++) {
    kids[i] = (sk_t){rc, a.num + i * (a.size / a.div), a.size / a.div, a.div};
    if (goro_go(skynet, &kids[i]) <= 0) abort();
  }
  int64_t sum = 0, v;
  for (int64_t i = 0; i < a.div; i++) {
    goro_chan_recv(rc, &v, NULL);
    sum += v;
  }
  goro_chan_release(rc);
  goro_chan_send(a.c, &sum);
}

static int64_t leaves;

static int bench_main(void *arg) {
  (void)arg;
  goro_chan *c;
  if (goro_chan_make(&c, sizeof(int64_t), 0) != 0) return 1;
  sk_t root = {c, 0, leaves, 10};
  int64_t t0 = goro_now();
  goro_go(skynet, &root);
  int64_t sum;
  goro_chan_recv(c, &sum, NULL);
  int64_t el = goro_now() - t0;
  if (sum != leaves * (leaves - 1) / 2) {
    fprintf(stderr, "skynet: wrong sum %lld, want %lld\n", (long long)sum,
            (long long)(leaves * (leaves - 1) / 2));
    return 1;
  }
  printf("{\"bench\":\"skynet\",\"impl\":\"goro\",\"metric\":\"ms\",\"value\":%.6g}\n",
         (double)el / 1e6);
  fflush(stdout);
  goro_chan_release(c);
  return 0;
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "skynet") != 0) {
    fprintf(stderr, "skynet: unknown benchmark %s\n", argv[1]);
    return 2;
  }
  const char *q = getenv("BENCH_QUICK");
  leaves = (q && *q && strcmp(q, "0") != 0) ? 100000 : 1000000;
  int r = goro_run(bench_main, NULL);
  return r < 0 ? 1 : r;
}
