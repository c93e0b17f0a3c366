/* bench_chan.c - channel benchmarks; Go counterparts in bench/go/chan.go
 * measure exactly the same things.
 *
 *   pingpong_1p, pingpong_2p  two goroutines bounce an int over two
 *                             unbuffered channels with 1 / 2 processors;
 *                             ns per round trip (ping + pong).
 *   bufchan_1x1, bufchan_4x4  channel of capacity 1024, 1 producer and 1
 *                             consumer / 4 and 4; ns per message (wall /
 *                             total messages), processors = CPU count.
 *   select4                   one goroutine selects in a loop over 4
 *                             unbuffered channels, each fed by its own
 *                             sender; ns per completed select, CPU count.
 *
 * Sizes: pingpong 1e6 round trips, bufchan 4e6 messages, select4 2e6
 * selects; BENCH_QUICK=1 runs a tenth.  Optional argument: one bench name.
 * Completion is reported through channels (Go uses a WaitGroup for
 * bufchan; one extra message per goroutine is noise at these sizes).
 */
#include <goro.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool quick;
static int ncpu;

static long size(long n) { return quick ? n / 10 : n; }

static void emit(const char *bench, const char *metric, double value) {
  printf("{\"bench\":\"%s\",\"impl\":\"goro\",\"metric\":\"%s\",\"value\":%.6g}\n", bench,
         metric, value);
  fflush(stdout);
}

static goro_chan *mk(size_t esz, size_t cap) {
  goro_chan *c;
  if (goro_chan_make(&c, esz, cap) != 0) {
    fprintf(stderr, "bench_chan: goro_chan_make failed\n");
    exit(1);
  }
  return c;
}

/* ---- ping-pong ---- */

typedef struct {
  goro_chan *ping, *pong;
} pp_t;

static void pp_echo(void *arg) {
  pp_t *p = arg;
  long v;
  while (goro_chan_recv(p->ping, &v, NULL) == 0) goro_chan_send(p->pong, &v);
}

static void pingpong(const char *name, int procs) {
  long n = size(1000000);
  int prev = goro_maxprocs(procs);
  pp_t p = {mk(sizeof(long), 0), mk(sizeof(long), 0)};
  goro_go(pp_echo, &p);
  int64_t t0 = goro_now();
  for (long i = 0; i < n; i++) {
    long v;
    goro_chan_send(p.ping, &i);
    goro_chan_recv(p.pong, &v, NULL);
  }
  int64_t el = goro_now() - t0;
  goro_chan_close(p.ping);
  goro_maxprocs(prev);
  emit(name, "ns_per_op", (double)el / (double)n);
  /* The echo goroutine may still be returning from its last receive. */
  goro_sleep(GORO_MILLISECOND);
  goro_chan_release(p.ping);
  goro_chan_release(p.pong);
}

/* ---- buffered producers / consumers ---- */

typedef struct {
  goro_chan *c, *done;
  long n;
} bc_t;

static void bc_prod(void *arg) {
  bc_t *b = arg;
  for (long i = 0; i < b->n; i++) goro_chan_send(b->c, &i);
  goro_chan_send(b->done, NULL);
}

static void bc_cons(void *arg) {
  bc_t *b = arg;
  long v;
  for (long i = 0; i < b->n; i++) goro_chan_recv(b->c, &v, NULL);
  goro_chan_send(b->done, NULL);
}

static void bufchan(const char *name, int producers, int consumers) {
  long n = size(4000000);
  goro_maxprocs(ncpu);
  bc_t prod = {mk(sizeof(long), 1024), mk(0, 0), n / producers};
  bc_t cons = {prod.c, prod.done, n / consumers};
  int64_t t0 = goro_now();
  for (int i = 0; i < producers; i++) goro_go(bc_prod, &prod);
  for (int i = 0; i < consumers; i++) goro_go(bc_cons, &cons);
  for (int i = 0; i < producers + consumers; i++) goro_chan_recv(prod.done, NULL, NULL);
  int64_t el = goro_now() - t0;
  emit(name, "ns_per_op", (double)el / (double)n);
  goro_chan_release(prod.c);
  goro_chan_release(prod.done);
}

/* ---- select over 4 channels ---- */

typedef struct {
  goro_chan *c;
  long n;
} s4_t;

static void s4_send(void *arg) {
  s4_t *s = arg;
  for (long i = 0; i < s->n; i++) goro_chan_send(s->c, &i);
}

static void select4(void) {
  long n = size(2000000);
  goro_maxprocs(ncpu);
  s4_t s[4];
  goro_case cs[4];
  long v;
  for (int i = 0; i < 4; i++) {
    s[i] = (s4_t){mk(sizeof(long), 0), n / 4};
    cs[i] = (goro_case)GORO_CASE_RECV(s[i].c, &v);
    goro_go(s4_send, &s[i]);
  }
  long total = n / 4 * 4;
  int64_t t0 = goro_now();
  for (long i = 0; i < total; i++) goro_select(cs, 4, GORO_FOREVER);
  int64_t el = goro_now() - t0;
  emit("select4", "ns_per_op", (double)el / (double)total);
  goro_sleep(GORO_MILLISECOND);
  for (int i = 0; i < 4; i++) goro_chan_release(s[i].c);
}

static const char *only;

static int bench_main(void *arg) {
  (void)arg;
  ncpu = goro_maxprocs(0);
  bool found = false;
#define RUN(nm, call)                          \
  if (!only || strcmp(only, nm) == 0) {        \
    found = true;                              \
    call;                                      \
  }
  RUN("pingpong_1p", pingpong("pingpong_1p", 1));
  RUN("pingpong_2p", pingpong("pingpong_2p", 2));
  RUN("bufchan_1x1", bufchan("bufchan_1x1", 1, 1));
  RUN("bufchan_4x4", bufchan("bufchan_4x4", 4, 4));
  RUN("select4", select4());
#undef RUN
  if (!found) {
    fprintf(stderr, "bench_chan: unknown benchmark %s\n", only);
    return 2;
  }
  return 0;
}

int main(int argc, char **argv) {
  const char *q = getenv("BENCH_QUICK");
  quick = q && *q && strcmp(q, "0") != 0;
  if (argc > 1) only = argv[1];
  int r = goro_run(bench_main, NULL);
  return r < 0 ? 1 : r;
}
