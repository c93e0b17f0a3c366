/* test_chan.c - channel tests: make arguments, rendezvous, FIFO order,
 * buffering, close semantics, non-blocking operations and their races,
 * message conservation with many producers and consumers, element
 * sizes, foreign threads, deadlines and the free-with-waiters check.
 *
 * Goroutines report back through channels; "wait until N goroutines are
 * queued on a channel" reads the queues under the channel lock (chan.h)
 * so tests can set up exact waiter orders.
 */
#include "runner.h"

#include "../src/chan.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* helpers                                                             */
/* ------------------------------------------------------------------ */

#include "chan_test_util.h"

/* ------------------------------------------------------------------ */
/* make, len, cap, refs                                                */
/* ------------------------------------------------------------------ */

GTEST(chan_make_arguments) {
  goro_chan *c = (goro_chan *)1;
  ASSERT_ERR(goro_chan_make(&c, 65536, 0), GORO_EINVAL);
  ASSERT(c == NULL);
  ASSERT_ERR(goro_chan_make(&c, 8, ((size_t)1 << 31) + 1), GORO_EINVAL);
  ASSERT_ERR(goro_chan_make(NULL, 8, 0), GORO_EINVAL);
  ASSERT_OK(goro_chan_make(&c, 65535, 2));
  ASSERT_EQ(goro_chan_cap(c), 2);
  ASSERT_EQ(goro_chan_len(c), 0);
  goro_chan_release(c);
  ASSERT_OK(goro_chan_make(&c, 0, 0));
  ASSERT_EQ(goro_chan_cap(c), 0);
  ASSERT(goro_chan_retain(c) == c);
  goro_chan_release(c);
  goro_chan_release(c);
  ASSERT_EQ(goro_chan_len(NULL), 0);
  ASSERT_EQ(goro_chan_cap(NULL), 0);
  ASSERT(goro_chan_retain(NULL) == NULL);
  goro_chan_release(NULL);
}

/* ------------------------------------------------------------------ */
/* unbuffered rendezvous                                               */
/* ------------------------------------------------------------------ */

typedef struct {
  goro_chan *c, *done;
  _Atomic int stage;
  int n;
} rv_t;

static void rv_sender(void *arg) {
  rv_t *r = arg;
  for (int i = 0; i < r->n; i++) {
    atomic_store(&r->stage, 2 * i + 1);
    int v = i * 7;
    ASSERT_OK(goro_chan_send(r->c, &v));
    atomic_store(&r->stage, 2 * i + 2);
  }
  int one = 1;
  ASSERT_OK(goro_chan_send(r->done, &one));
}

GTEST(chan_unbuffered_rendezvous) {
  rv_t r = {mk(sizeof(int), 0), mk(sizeof(int), 1), 0, 100};
  ASSERT_GT(goro_go(rv_sender, &r), 0);
  for (int i = 0; i < r.n; i++) {
    /* The sender cannot get past its send until we receive. */
    wait_queued(r.c, 0, 1);
    ASSERT_EQ(atomic_load(&r.stage), 2 * i + 1);
    int v = -1;
    bool ok = false;
    ASSERT_OK(goro_chan_recv(r.c, &v, &ok));
    ASSERT(ok);
    ASSERT_EQ(v, i * 7);
  }
  int x;
  ASSERT_OK(goro_chan_recv(r.done, &x, NULL));
  /* A waiting receiver gets the value straight from the sender. */
  ASSERT_GT(goro_go(rv_sender, &r), 0);
  for (int i = 0; i < r.n; i++) {
    int v = -1;
    ASSERT_OK(goro_chan_recv(r.c, &v, NULL));
    ASSERT_EQ(v, i * 7);
  }
  ASSERT_OK(goro_chan_recv(r.done, &x, NULL));
  goro_chan_release(r.c);
  goro_chan_release(r.done);
}

/* ------------------------------------------------------------------ */
/* FIFO                                                                */
/* ------------------------------------------------------------------ */

typedef struct {
  goro_chan *c;
  int v;
  _Atomic int res; /* 1 until the operation returned */
} one_t;

static void one_send(void *arg) {
  one_t *o = arg;
  o->res = goro_chan_send(o->c, &o->v);
}
static void one_recv(void *arg) {
  one_t *o = arg;
  bool ok = true;
  o->v = -1;
  int r = goro_chan_recv(o->c, &o->v, &ok);
  if (r == GORO_ECLOSED) ASSERT(!ok);
  o->res = r;
}

GTEST(chan_fifo_buffered) {
  goro_chan *c = mk(sizeof(int), 100);
  for (int i = 0; i < 100; i++) ASSERT_OK(goro_chan_send(c, &i));
  ASSERT_EQ(goro_chan_len(c), 100);
  for (int i = 0; i < 100; i++) {
    int v;
    ASSERT_OK(goro_chan_recv(c, &v, NULL));
    ASSERT_EQ(v, i);
  }
  /* Wrap around the ring many times. */
  int next_in = 0, next_out = 0;
  for (int round = 0; round < 1000; round++) {
    int k = (round * 37) % 100 + 1;
    for (int i = 0; i < k && goro_chan_len(c) < 100; i++) {
      ASSERT_OK(goro_chan_send(c, &next_in));
      next_in++;
    }
    int m = (round * 53) % 100 + 1;
    for (int i = 0; i < m && goro_chan_len(c) > 0; i++) {
      int v;
      ASSERT_OK(goro_chan_recv(c, &v, NULL));
      ASSERT_EQ(v, next_out);
      next_out++;
    }
  }
  goro_chan_release(c);
}

/* Waiting senders are served in arrival order, for unbuffered and full
 * buffered channels (where the buffer keeps its order too), and waiting
 * receivers likewise. */
static void fifo_waiters(size_t cap) {
  goro_chan *c = mk(sizeof(int), cap);
  enum { N = 20 };
  for (int i = 0; i < (int)cap; i++) ASSERT_OK(goro_chan_send(c, &i));
  one_t s[N];
  for (int i = 0; i < N; i++) {
    s[i] = (one_t){c, (int)cap + i, 1};
    ASSERT_GT(goro_go(one_send, &s[i]), 0);
    wait_queued(c, 0, i + 1);
  }
  for (int i = 0; i < (int)cap + N; i++) {
    int v;
    ASSERT_OK(goro_chan_recv(c, &v, NULL));
    ASSERT_EQ(v, i);
  }
  wait_queued(c, 0, 0);
  for (int i = 0; i < N; i++) {
    while (s[i].res == 1) goro_yield();
    ASSERT_OK(s[i].res);
  }
  one_t r[N];
  for (int i = 0; i < N; i++) {
    r[i] = (one_t){c, 0, 1};
    ASSERT_GT(goro_go(one_recv, &r[i]), 0);
    wait_queued(c, i + 1, 0);
  }
  for (int i = 0; i < N; i++) {
    int v = 1000 + i;
    ASSERT_OK(goro_chan_send(c, &v));
  }
  for (int i = 0; i < N; i++) {
    while (r[i].res == 1) goro_yield();
    ASSERT_OK(r[i].res);
    ASSERT_EQ(r[i].v, 1000 + i);
  }
  goro_chan_release(c);
}

GTEST(chan_fifo_waiters_unbuffered) { fifo_waiters(0); }
GTEST(chan_fifo_waiters_buffered) { fifo_waiters(5); }

/* ------------------------------------------------------------------ */
/* buffering, try operations, deadlines that passed                    */
/* ------------------------------------------------------------------ */

GTEST(chan_buffered_capacity_and_try) {
  goro_chan *c = mk(sizeof(int64_t), 3);
  int64_t v = 0;
  bool ok = true;
  ASSERT_ERR(goro_chan_try_recv(c, &v, &ok), GORO_EAGAIN);
  ASSERT(!ok);
  ASSERT_ERR(goro_chan_recv_dl(c, &v, NULL, 0), GORO_ETIMEDOUT);
  ASSERT_ERR(goro_chan_recv_dl(c, &v, NULL, 1), GORO_ETIMEDOUT);
  for (int64_t i = 0; i < 3; i++) {
    ASSERT_OK(goro_chan_try_send(c, &i));
    ASSERT_EQ(goro_chan_len(c), i + 1);
  }
  int64_t x = 99;
  ASSERT_ERR(goro_chan_try_send(c, &x), GORO_EAGAIN);
  ASSERT_ERR(goro_chan_send_dl(c, &x, 0), GORO_ETIMEDOUT);
  ASSERT_ERR(goro_chan_send_dl(c, &x, goro_now() - 1), GORO_ETIMEDOUT);
  ASSERT_EQ(goro_chan_len(c), 3);
  ASSERT_EQ(goro_chan_cap(c), 3);
  for (int64_t i = 0; i < 3; i++) {
    ok = false;
    ASSERT_OK(goro_chan_try_recv(c, &v, &ok));
    ASSERT(ok);
    ASSERT_EQ(v, i);
  }
  ASSERT_EQ(goro_chan_len(c), 0);
  /* Deadline forms succeed when they need not wait. */
  ASSERT_OK(goro_chan_send_dl(c, &x, 0));
  ASSERT_OK(goro_chan_recv_dl(c, &v, NULL, 0));
  ASSERT_EQ(v, 99);
  goro_chan_release(c);

  /* Unbuffered: try fails without a partner, succeeds with one. */
  c = mk(sizeof(int), 0);
  int i = 5;
  ASSERT_ERR(goro_chan_try_send(c, &i), GORO_EAGAIN);
  ASSERT_ERR(goro_chan_try_recv(c, &i, NULL), GORO_EAGAIN);
  one_t r = {c, 0, 1};
  ASSERT_GT(goro_go(one_recv, &r), 0);
  wait_queued(c, 1, 0);
  ASSERT_OK(goro_chan_try_send(c, &i));
  while (r.res == 1) goro_yield();
  ASSERT_OK(r.res);
  ASSERT_EQ(r.v, 5);
  one_t s = {c, 6, 1};
  ASSERT_GT(goro_go(one_send, &s), 0);
  wait_queued(c, 0, 1);
  ASSERT_OK(goro_chan_try_recv(c, &i, NULL));
  ASSERT_EQ(i, 6);
  /* The sender was readied, not run: s lives in this frame until its
   * goro_chan_send has returned and stored its result. */
  while (s.res == 1) goro_yield();
  ASSERT_OK(s.res);
  goro_chan_release(c);
}

GTEST(chan_nil_channel) {
  int v = 1;
  bool ok = true;
  ASSERT_ERR(goro_chan_try_send(NULL, &v), GORO_EAGAIN);
  ASSERT_ERR(goro_chan_try_recv(NULL, &v, &ok), GORO_EAGAIN);
  ASSERT(!ok);
  ASSERT_ERR(goro_chan_send_dl(NULL, &v, 0), GORO_ETIMEDOUT);
  ASSERT_ERR(goro_chan_recv_dl(NULL, &v, NULL, goro_now() - 5), GORO_ETIMEDOUT);
  ASSERT_ERR(goro_chan_close(NULL), GORO_EINVAL);
}

/* ------------------------------------------------------------------ */
/* close                                                               */
/* ------------------------------------------------------------------ */

GTEST(chan_close_drains_then_reports_closed) {
  goro_chan *c = mk(sizeof(int), 4);
  for (int i = 1; i <= 3; i++) ASSERT_OK(goro_chan_send(c, &i));
  ASSERT_OK(goro_chan_close(c));
  ASSERT_ERR(goro_chan_close(c), GORO_ECLOSED);
  int v = 7;
  ASSERT_ERR(goro_chan_send(c, &v), GORO_ECLOSED);
  ASSERT_ERR(goro_chan_try_send(c, &v), GORO_ECLOSED);
  ASSERT_ERR(goro_chan_send_dl(c, &v, 0), GORO_ECLOSED);
  for (int i = 1; i <= 3; i++) {
    bool ok = false;
    ASSERT_OK(goro_chan_recv(c, &v, &ok));
    ASSERT(ok);
    ASSERT_EQ(v, i);
  }
  for (int k = 0; k < 3; k++) {
    bool ok = true;
    v = 42;
    ASSERT_ERR(goro_chan_recv(c, &v, &ok), GORO_ECLOSED);
    ASSERT(!ok);
    ASSERT_EQ(v, 0);
    v = 42;
    ASSERT_ERR(goro_chan_try_recv(c, &v, &ok), GORO_ECLOSED);
    ASSERT_EQ(v, 0);
    ASSERT_ERR(goro_chan_recv_dl(c, NULL, &ok, 0), GORO_ECLOSED);
  }
  ASSERT_EQ(goro_chan_len(c), 0);
  goro_chan_release(c);
}

static void close_wakes_all(size_t cap) {
  enum { N = 10 };
  goro_chan *c = mk(sizeof(int), cap);
  one_t r[N];
  for (int i = 0; i < N; i++) {
    r[i] = (one_t){c, 0, 1};
    ASSERT_GT(goro_go(one_recv, &r[i]), 0);
  }
  wait_queued(c, N, 0);
  ASSERT_OK(goro_chan_close(c));
  for (int i = 0; i < N; i++) {
    while (r[i].res == 1) goro_yield();
    ASSERT_ERR(r[i].res, GORO_ECLOSED);
    ASSERT_EQ(r[i].v, 0);
  }
  goro_chan_release(c);

  c = mk(sizeof(int), cap);
  for (int i = 0; i < (int)cap; i++) ASSERT_OK(goro_chan_send(c, &i));
  one_t s[N];
  for (int i = 0; i < N; i++) {
    s[i] = (one_t){c, 100 + i, 1};
    ASSERT_GT(goro_go(one_send, &s[i]), 0);
  }
  wait_queued(c, 0, N);
  ASSERT_OK(goro_chan_close(c));
  for (int i = 0; i < N; i++) {
    while (s[i].res == 1) goro_yield();
    ASSERT_ERR(s[i].res, GORO_ECLOSED);
  }
  /* The buffered values survive the close. */
  for (int i = 0; i < (int)cap; i++) {
    int v;
    ASSERT_OK(goro_chan_recv(c, &v, NULL));
    ASSERT_EQ(v, i);
  }
  ASSERT_ERR(goro_chan_recv(c, NULL, NULL), GORO_ECLOSED);
  goro_chan_release(c);
}

GTEST(chan_close_wakes_all_unbuffered) { close_wakes_all(0); }
GTEST(chan_close_wakes_all_buffered) { close_wakes_all(3); }

/* ------------------------------------------------------------------ */
/* non-blocking receive races (Go's TestNonblockRecvRace)              */
/* ------------------------------------------------------------------ */

typedef struct {
  goro_chan *c, *done;
} nbr_t;

static void nbr_fn(void *arg) {
  nbr_t *a = arg;
  int v;
  bool ok = true;
  /* The channel holds a value or is closed: never EAGAIN. */
  int r = goro_chan_try_recv(a->c, &v, &ok);
  if (r == GORO_EAGAIN) test_fail(__FILE__, __LINE__, "try_recv missed a value or close");
  ASSERT_OK(goro_chan_send(a->done, &r));
}

GTEST(chan_nonblocking_recv_race) {
  int n = test_stress() >= 1 ? 10000 : 1000;
  nbr_t a = {NULL, mk(sizeof(int), 1)};
  for (int i = 0; i < n; i++) {
    a.c = mk(sizeof(int), 1);
    int one = 1;
    ASSERT_OK(goro_chan_send(a.c, &one));
    ASSERT_GT(goro_go(nbr_fn, &a), 0);
    ASSERT_OK(goro_chan_close(a.c));
    int r;
    ASSERT_OK(goro_chan_recv(a.done, &r, NULL));
    goro_chan_release(a.c);
  }
  goro_chan_release(a.done);
}

/* Try-send racing with a receiver that empties the buffer: a try_send
 * on a channel whose only element is taken must eventually succeed and
 * never lose or duplicate a value. */
typedef struct {
  goro_chan *c, *done;
  int n;
} tsr_t;

static void tsr_consumer(void *arg) {
  tsr_t *a = arg;
  int64_t sum = 0;
  for (int i = 0; i < a->n; i++) {
    int v;
    ASSERT_OK(goro_chan_recv(a->c, &v, NULL));
    sum += v;
  }
  ASSERT_OK(goro_chan_send(a->done, &sum));
}

static void try_send_race(size_t cap) {
  tsr_t a = {mk(sizeof(int), cap), mk(sizeof(int64_t), 1), test_stress() >= 1 ? 100000 : 10000};
  ASSERT_GT(goro_go(tsr_consumer, &a), 0);
  int64_t want = 0;
  for (int i = 0; i < a.n; i++) {
    while (goro_chan_try_send(a.c, &i) == GORO_EAGAIN) goro_yield();
    want += i;
  }
  int64_t sum;
  ASSERT_OK(goro_chan_recv(a.done, &sum, NULL));
  ASSERT_EQ(sum, want);
  goro_chan_release(a.c);
  goro_chan_release(a.done);
}

GTEST(chan_try_send_race_buffered) { try_send_race(1); }
GTEST(chan_try_send_race_unbuffered) { try_send_race(0); }

/* ------------------------------------------------------------------ */
/* many producers, many consumers: every message exactly once           */
/* ------------------------------------------------------------------ */

typedef struct {
  goro_chan *c, *done;
  int id, per;
  _Atomic uint8_t *seen;
  _Atomic int64_t *sum;
} mpmc_t;

static void mpmc_prod(void *arg) {
  mpmc_t *a = arg;
  for (int i = 0; i < a->per; i++) {
    int64_t v = (int64_t)a->id * a->per + i;
    ASSERT_OK(goro_chan_send(a->c, &v));
  }
  int64_t z = -1;
  ASSERT_OK(goro_chan_send(a->done, &z));
}

static void mpmc_cons(void *arg) {
  mpmc_t *a = arg;
  int64_t v, n = 0;
  while (goro_chan_recv(a->c, &v, NULL) == 0) {
    if (atomic_fetch_add(&a->seen[v], 1) != 0)
      test_fail(__FILE__, __LINE__, "message %lld received twice", (long long)v);
    atomic_fetch_add(a->sum, v);
    n++;
  }
  ASSERT_OK(goro_chan_send(a->done, &n));
}

static void mpmc(size_t cap, int np, int nc) {
  int per = (test_stress() >= 1 ? 200000 : 20000) / np;
  int64_t total = (int64_t)per * np;
  goro_chan *c = mk(sizeof(int64_t), cap), *done = mk(sizeof(int64_t), 0);
  _Atomic uint8_t *seen = calloc((size_t)total, 1);
  _Atomic int64_t sum = 0;
  mpmc_t *a = calloc((size_t)(np + nc), sizeof *a);
  for (int i = 0; i < np + nc; i++) {
    a[i] = (mpmc_t){c, done, i, per, seen, &sum};
    ASSERT_GT(goro_go(i < np ? mpmc_prod : mpmc_cons, &a[i]), 0);
  }
  for (int i = 0; i < np; i++) {
    int64_t z;
    ASSERT_OK(goro_chan_recv(done, &z, NULL));
    ASSERT_EQ(z, -1);
  }
  ASSERT_OK(goro_chan_close(c));
  int64_t got = 0;
  for (int i = 0; i < nc; i++) {
    int64_t n;
    ASSERT_OK(goro_chan_recv(done, &n, NULL));
    got += n;
  }
  ASSERT_EQ(got, total);
  ASSERT_EQ(atomic_load(&sum), total * (total - 1) / 2);
  for (int64_t i = 0; i < total; i++) ASSERT_EQ(atomic_load(&seen[i]), 1);
  free(seen);
  free(a);
  goro_chan_release(c);
  goro_chan_release(done);
}

GTEST(chan_mpmc_unbuffered) { mpmc(0, 4, 4); }
GTEST(chan_mpmc_buffered) { mpmc(16, 4, 3); }
GTEST(chan_mpmc_buffered_big) { mpmc(1024, 8, 2); }

/* ------------------------------------------------------------------ */
/* element sizes                                                       */
/* ------------------------------------------------------------------ */

static void zs_sender(void *arg) {
  goro_chan *c = arg;
  for (int i = 0; i < 1000; i++) ASSERT_OK(goro_chan_send(c, NULL));
  ASSERT_OK(goro_chan_close(c));
}

GTEST(chan_zero_size_elements) {
  for (int cap = 0; cap <= 8; cap += 8) {
    goro_chan *c = mk(0, (size_t)cap);
    ASSERT_GT(goro_go(zs_sender, c), 0);
    int n = 0;
    bool ok;
    char dummy = 'x';
    while (goro_chan_recv(c, &dummy, &ok) == 0) {
      ASSERT(ok);
      n++;
    }
    ASSERT(!ok);
    ASSERT_EQ(dummy, 'x'); /* zero bytes are copied and zeroed */
    ASSERT_EQ(n, 1000);
    goro_chan_release(c);
  }
  /* A big zero-size buffer costs nothing. */
  goro_chan *c = mk(0, (size_t)1 << 31);
  for (int i = 0; i < 100; i++) ASSERT_OK(goro_chan_try_send(c, NULL));
  ASSERT_EQ(goro_chan_len(c), 100);
  goro_chan_release(c);
}

enum { BIG = 4096 };
typedef struct {
  goro_chan *c;
  int n;
} big_t;

static void big_fill(unsigned char *b, int seq) {
  for (int j = 0; j < BIG; j++) b[j] = (unsigned char)(seq * 31 + j * 7);
}

static void big_sender(void *arg) {
  big_t a = *(big_t *)arg; /* the caller reuses *arg after the last receive */
  unsigned char *b = malloc(BIG);
  for (int i = 0; i < a.n; i++) {
    big_fill(b, i);
    ASSERT_OK(goro_chan_send(a.c, b));
  }
  free(b);
}

GTEST(chan_large_elements) {
  size_t caps[] = {0, 1, 7};
  for (int k = 0; k < 3; k++) {
    big_t a = {mk(BIG, caps[k]), 500};
    ASSERT_GT(goro_go(big_sender, &a), 0);
    unsigned char *want = malloc(BIG), *got = malloc(BIG);
    for (int i = 0; i < a.n; i++) {
      ASSERT_OK(goro_chan_recv(a.c, got, NULL));
      big_fill(want, i);
      ASSERT(memcmp(want, got, BIG) == 0);
    }
    free(want);
    free(got);
    goro_chan_release(a.c);
  }
  /* Odd sizes, including the largest. */
  size_t sizes[] = {1, 3, 12, 17, 65535};
  for (int k = 0; k < 5; k++) {
    goro_chan *c = mk(sizes[k], 2);
    unsigned char *x = malloc(sizes[k]), *y = malloc(sizes[k]);
    for (size_t j = 0; j < sizes[k]; j++) x[j] = (unsigned char)(j * 13 + k);
    ASSERT_OK(goro_chan_send(c, x));
    ASSERT_OK(goro_chan_send(c, x));
    memset(y, 0, sizes[k]);
    ASSERT_OK(goro_chan_recv(c, y, NULL));
    ASSERT(memcmp(x, y, sizes[k]) == 0);
    ASSERT_OK(goro_chan_recv(c, NULL, NULL)); /* discard */
    free(x);
    free(y);
    goro_chan_release(c);
  }
}

/* ------------------------------------------------------------------ */
/* foreign threads                                                     */
/* ------------------------------------------------------------------ */

typedef struct {
  goro_chan *to_g, *from_g;
  int n;
} ft_t;

static goro_chan *hs_chan; /* foreign_handshake_* (chan_test_util.h) */

static void *foreign_main(void *arg) {
  ft_t *a = arg;
  foreign_handshake_thread(hs_chan);
  for (int i = 0; i < a->n; i++) {
    ASSERT_OK(goro_chan_send(a->to_g, &i));
    int v;
    bool ok;
    ASSERT_OK(goro_chan_recv(a->from_g, &v, &ok));
    ASSERT(ok);
    ASSERT_EQ(v, i * 2);
  }
  ASSERT_OK(goro_chan_close(a->to_g));
  return NULL;
}

GTEST(chan_foreign_thread) {
  size_t caps[] = {0, 4};
  for (int k = 0; k < 2; k++) {
    ft_t a = {mk(sizeof(int), caps[k]), mk(sizeof(int), caps[k]), 2000};
    pthread_t t;
    hs_chan = mk(0, 0);
    ASSERT_OK(pthread_create(&t, NULL, foreign_main, &a));
    foreign_handshake_goroutine(hs_chan);
    int v, n = 0;
    while (goro_chan_recv(a.to_g, &v, NULL) == 0) {
      ASSERT_EQ(v, n);
      v *= 2;
      ASSERT_OK(goro_chan_send(a.from_g, &v));
      n++;
    }
    ASSERT_EQ(n, a.n);
    pthread_join(t, NULL);
    goro_chan_release(hs_chan);
    goro_chan_release(a.to_g);
    goro_chan_release(a.from_g);
  }
}

/* ------------------------------------------------------------------ */
/* deadlines (need runtime timers)                                     */
/* ------------------------------------------------------------------ */

GTEST(chan_deadline_timeouts) {
  goro_chan *c = mk(sizeof(int), 0);
  int v = 0;
  bool ok = true;
  int64_t t0 = goro_now();
  ASSERT_ERR(goro_chan_recv_dl(c, &v, &ok, t0 + 20 * GORO_MILLISECOND), GORO_ETIMEDOUT);
  ASSERT_GE(goro_now() - t0, 20 * GORO_MILLISECOND);
  ASSERT(!ok);
  t0 = goro_now();
  ASSERT_ERR(goro_chan_send_dl(c, &v, t0 + 10 * GORO_MILLISECOND), GORO_ETIMEDOUT);
  ASSERT_GE(goro_now() - t0, 10 * GORO_MILLISECOND);
  wait_queued(c, 0, 0);
  t0 = goro_now();
  ASSERT_ERR(goro_chan_recv_dl(NULL, &v, NULL, t0 + 5 * GORO_MILLISECOND), GORO_ETIMEDOUT);
  ASSERT_GE(goro_now() - t0, 5 * GORO_MILLISECOND);
  /* The channel still works normally afterwards. */
  one_t s = {c, 77, 1};
  ASSERT_GT(goro_go(one_send, &s), 0);
  ASSERT_OK(goro_chan_recv_dl(c, &v, &ok, goro_now() + 10 * GORO_SECOND));
  ASSERT(ok);
  ASSERT_EQ(v, 77);
  while (s.res == 1) goro_yield();
  ASSERT_OK(s.res);
  goro_chan_release(c);
}

/* Deadline waiters served by senders before their deadline, racing with
 * timeouts: every value is received exactly once or reported unsent. */
typedef struct {
  goro_chan *c, *done;
  int n;
} dlr_t;

static void dlr_sender(void *arg) {
  dlr_t *a = arg;
  int64_t sent = 0;
  for (int i = 1; i <= a->n; i++) {
    int r = goro_chan_send_dl(a->c, &i, goro_now() + (i % 3) * GORO_MICROSECOND * 50);
    if (r == 0) sent += i;
    else ASSERT_ERR(r, GORO_ETIMEDOUT);
    if (i % 7 == 0) goro_yield();
  }
  ASSERT_OK(goro_chan_send(a->done, &sent));
}

GTEST(chan_deadline_race) {
  dlr_t a = {mk(sizeof(int), 0), mk(sizeof(int64_t), 0), test_stress() >= 1 ? 20000 : 3000};
  ASSERT_GT(goro_go(dlr_sender, &a), 0);
  int64_t got = 0, sent = -1;
  goro_case cs[2] = {GORO_CASE_RECV(a.c, NULL), GORO_CASE_RECV(a.done, &sent)};
  int v = 0;
  for (;;) {
    int r = goro_chan_recv_dl(a.c, &v, NULL, goro_now() + (v % 2) * GORO_MICROSECOND * 30);
    if (r == 0) {
      got += v;
      continue;
    }
    ASSERT_ERR(r, GORO_ETIMEDOUT);
    cs[0].elem = &v;
    int k = goro_select(cs, 2, 0);
    if (k == 0) got += v;
    if (k == 1) break;
    if (k == GORO_EAGAIN) goro_yield();
  }
  ASSERT_EQ(got, sent);
  wait_queued(a.c, 0, 0);
  goro_chan_release(a.c);
  goro_chan_release(a.done);
}

/* ------------------------------------------------------------------ */
/* misuse                                                              */
/* ------------------------------------------------------------------ */

static void blocked_recv(void *arg) { goro_chan_recv(arg, NULL, NULL); }

CRASH_TEST(chan_free_with_waiters, "goro: fatal error: free of channel with waiting goroutines",
           2) {
  goro_chan *c = mk(sizeof(int), 0);
  ASSERT_GT(goro_go(blocked_recv, c), 0);
  wait_queued(c, 1, 0);
  goro_chan_release(c);
}
