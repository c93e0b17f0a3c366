/* test_select.c - goro_select: ready cases, default (deadline 0),
 * timeouts, fairness of the random choice, NULL-channel cases, the same
 * channel in several cases, a goroutine selecting both directions on one
 * channel, close while selecting, argument checks, large case counts,
 * foreign threads, and many selects contending on shared channels in
 * different case orders (lock ordering).
 */
#include "runner.h"

#include "../src/chan.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "chan_test_util.h"

GTEST(select_arguments) {
  goro_chan *c = mk(sizeof(int), 1);
  int v = 0;
  goro_case bad[2] = {GORO_CASE_RECV(c, &v), {c, 3, &v, false, 0}};
  ASSERT_ERR(goro_select(bad, 2, 0), GORO_EINVAL);
  bad[1].dir = 0;
  ASSERT_ERR(goro_select(bad, 2, GORO_FOREVER), GORO_EINVAL);
  ASSERT_ERR(goro_select(bad, -1, 0), GORO_EINVAL);
  ASSERT_ERR(goro_select(bad, 65537, 0), GORO_EINVAL);
  ASSERT_ERR(goro_select(NULL, 1, 0), GORO_EINVAL);
  /* No cases: default returns at once, a passed deadline times out. */
  ASSERT_ERR(goro_select(NULL, 0, 0), GORO_EAGAIN);
  ASSERT_ERR(goro_select(NULL, 0, 1), GORO_ETIMEDOUT);
  goro_case nils[3] = {GORO_CASE_RECV(NULL, &v), GORO_CASE_SEND(NULL, &v),
                       GORO_CASE_RECV(NULL, NULL)};
  ASSERT_ERR(goro_select(nils, 3, 0), GORO_EAGAIN);
  ASSERT_ERR(goro_select(nils, 3, goro_now() - 1), GORO_ETIMEDOUT);
  goro_chan_release(c);
}

GTEST(select_ready_cases) {
  goro_chan *a = mk(sizeof(int), 1), *b = mk(sizeof(int), 1);
  int x = 5, y = 0;
  goro_case cs[2] = {GORO_CASE_SEND(a, &x), GORO_CASE_RECV(b, &y)};
  /* Only the send can proceed. */
  ASSERT_EQ(goro_select(cs, 2, GORO_FOREVER), 0);
  ASSERT_EQ(cs[0].err, 0);
  ASSERT_EQ(goro_chan_len(a), 1);
  /* Now neither: a is full, b is empty. */
  ASSERT_ERR(goro_select(cs, 2, 0), GORO_EAGAIN);
  ASSERT_ERR(goro_select(cs, 2, 1), GORO_ETIMEDOUT);
  int z = 9;
  ASSERT_OK(goro_chan_send(b, &z));
  ASSERT_EQ(goro_select(cs, 2, 0), 1);
  ASSERT(cs[1].ok);
  ASSERT_EQ(cs[1].err, 0);
  ASSERT_EQ(y, 9);
  goro_chan_release(a);
  goro_chan_release(b);
}

/* ------------------------------------------------------------------ */
/* fairness                                                            */
/* ------------------------------------------------------------------ */

GTEST(select_fairness) {
  enum { N = 10000 };
  goro_chan *a = mk(sizeof(int), 1), *b = mk(sizeof(int), 1);
  int one = 1, v;
  ASSERT_OK(goro_chan_send(a, &one));
  ASSERT_OK(goro_chan_send(b, &one));
  goro_case cs[2] = {GORO_CASE_RECV(a, &v), GORO_CASE_RECV(b, &v)};
  int cnt[2] = {0, 0};
  for (int i = 0; i < N; i++) {
    int k = goro_select(cs, 2, GORO_FOREVER);
    ASSERT(k == 0 || k == 1);
    cnt[k]++;
    ASSERT_OK(goro_chan_send(k == 0 ? a : b, &one));
  }
  ASSERT_GE(cnt[0], N * 4 / 10);
  ASSERT_GE(cnt[1], N * 4 / 10);
  /* Closed channels are always ready too; three of them. */
  goro_chan *c3[3];
  goro_case cc[3];
  for (int i = 0; i < 3; i++) {
    c3[i] = mk(0, 0);
    ASSERT_OK(goro_chan_close(c3[i]));
    cc[i] = (goro_case)GORO_CASE_RECV(c3[i], NULL);
  }
  int cnt3[3] = {0, 0, 0};
  for (int i = 0; i < N; i++) {
    int k = goro_select(cc, 3, 0);
    ASSERT(k >= 0 && k < 3);
    ASSERT_ERR(cc[k].err, GORO_ECLOSED);
    cnt3[k]++;
  }
  for (int i = 0; i < 3; i++) {
    ASSERT_GE(cnt3[i], N / 3 * 8 / 10);
    goro_chan_release(c3[i]);
  }
  goro_chan_release(a);
  goro_chan_release(b);
}

/* ------------------------------------------------------------------ */
/* NULL channels, duplicate channels                                   */
/* ------------------------------------------------------------------ */

GTEST(select_nil_cases_never_fire) {
  goro_chan *c = mk(sizeof(int), 1);
  int v = 3;
  ASSERT_OK(goro_chan_send(c, &v));
  goro_case cs[4] = {GORO_CASE_RECV(NULL, &v), GORO_CASE_SEND(NULL, &v), GORO_CASE_RECV(c, &v),
                     GORO_CASE_RECV(NULL, NULL)};
  for (int i = 0; i < 100; i++) {
    ASSERT_EQ(goro_select(cs, 4, GORO_FOREVER), 2);
    ASSERT_OK(goro_chan_send(c, &v));
  }
  goro_chan_release(c);
}

typedef struct {
  goro_chan *c;
  int v;
} sv_t;

static void send_after_queued(void *arg) {
  sv_t *s = arg;
  ASSERT_OK(goro_chan_send(s->c, &s->v));
}

GTEST(select_same_channel_several_cases) {
  goro_chan *c = mk(sizeof(int), 0);
  int v[3] = {-1, -1, -1};
  goro_case cs[3] = {GORO_CASE_RECV(c, &v[0]), GORO_CASE_RECV(c, &v[1]),
                     GORO_CASE_RECV(c, &v[2])};
  int hits[3] = {0, 0, 0};
  for (int i = 0; i < 300; i++) {
    sv_t s = {c, i};
    ASSERT_GT(goro_go(send_after_queued, &s), 0);
    int k = goro_select(cs, 3, GORO_FOREVER);
    ASSERT(k >= 0 && k < 3);
    ASSERT_EQ(v[k], i);
    hits[k]++;
    /* No record of this select stays queued. */
    wait_queued(c, 0, 0);
  }
  for (int k = 0; k < 3; k++) ASSERT_GT(hits[k], 0);
  goro_chan_release(c);
}

/* ------------------------------------------------------------------ */
/* self-select (Go's TestSelfSelect)                                   */
/* ------------------------------------------------------------------ */

typedef struct {
  goro_chan *c, *done;
  int p, n;
  bool unbuffered;
} ss_t;

static void self_select(void *arg) {
  ss_t *a = arg;
  for (int i = 0; i < a->n; i++) {
    int out = a->p, in = -1;
    goro_case cs[2] = {GORO_CASE_SEND(a->c, &out), GORO_CASE_RECV(a->c, &in)};
    if (a->p == 1 && i % 2 == 1) {
      goro_case t = cs[0];
      cs[0] = cs[1];
      cs[1] = t;
    }
    int k = goro_select(cs, 2, GORO_FOREVER);
    ASSERT(k == 0 || k == 1);
    if (cs[k].dir == GORO_RECV && a->unbuffered && in == a->p)
      test_fail(__FILE__, __LINE__, "goroutine %d received its own value", a->p);
  }
  int one = 1;
  ASSERT_OK(goro_chan_send(a->done, &one));
}

static void self_select_run(size_t cap) {
  goro_chan *c = mk(sizeof(int), cap), *done = mk(sizeof(int), 2);
  int n = test_stress() >= 1 ? 10000 : 1000;
  ss_t a[2] = {{c, done, 0, n, cap == 0}, {c, done, 1, n, cap == 0}};
  ASSERT_GT(goro_go(self_select, &a[0]), 0);
  ASSERT_GT(goro_go(self_select, &a[1]), 0);
  int x;
  ASSERT_OK(goro_chan_recv(done, &x, NULL));
  ASSERT_OK(goro_chan_recv(done, &x, NULL));
  goro_chan_release(c);
  goro_chan_release(done);
}

GTEST(select_self_unbuffered) { self_select_run(0); }
GTEST(select_self_buffered) { self_select_run(10); }

/* ------------------------------------------------------------------ */
/* closed channels                                                     */
/* ------------------------------------------------------------------ */

GTEST(select_closed_channel_cases) {
  goro_chan *c = mk(sizeof(int), 2);
  int v = 11;
  ASSERT_OK(goro_chan_send(c, &v));
  ASSERT_OK(goro_chan_close(c));
  goro_case s = GORO_CASE_SEND(c, &v);
  ASSERT_EQ(goro_select(&s, 1, GORO_FOREVER), 0);
  ASSERT_ERR(s.err, GORO_ECLOSED);
  int r = -1;
  goro_case rc = GORO_CASE_RECV(c, &r);
  ASSERT_EQ(goro_select(&rc, 1, 0), 0);
  ASSERT(rc.ok);
  ASSERT_EQ(rc.err, 0);
  ASSERT_EQ(r, 11);
  r = -1;
  ASSERT_EQ(goro_select(&rc, 1, 0), 0);
  ASSERT(!rc.ok);
  ASSERT_ERR(rc.err, GORO_ECLOSED);
  ASSERT_EQ(r, 0);
  goro_chan_release(c);
}

typedef struct {
  goro_chan *a, *b;
  int dir;
  _Atomic int res;
  goro_case cs[2];
  int va, vb;
} bs_t;

static void blocked_select(void *arg) {
  bs_t *s = arg;
  s->va = s->vb = 5;
  s->cs[0] = (goro_case){s->a, s->dir, &s->va, true, 1};
  s->cs[1] = (goro_case){s->b, s->dir, &s->vb, true, 1};
  atomic_store(&s->res, goro_select(s->cs, 2, GORO_FOREVER));
}

GTEST(select_close_wakes_blocked_select) {
  for (int dir = GORO_SEND; dir <= GORO_RECV; dir++) {
    bs_t s = {.a = mk(sizeof(int), 0), .b = mk(sizeof(int), 0), .dir = dir, .res = -100};
    ASSERT_GT(goro_go(blocked_select, &s), 0);
    if (dir == GORO_SEND) {
      wait_queued(s.a, 0, 1);
      wait_queued(s.b, 0, 1);
    } else {
      wait_queued(s.a, 1, 0);
      wait_queued(s.b, 1, 0);
    }
    ASSERT_OK(goro_chan_close(s.b));
    while (atomic_load(&s.res) == -100) goro_yield();
    ASSERT_EQ(atomic_load(&s.res), 1);
    ASSERT_ERR(s.cs[1].err, GORO_ECLOSED);
    if (dir == GORO_RECV) {
      ASSERT(!s.cs[1].ok);
      ASSERT_EQ(s.vb, 0);
    }
    wait_queued(s.a, 0, 0);
    goro_chan_release(s.a);
    goro_chan_release(s.b);
  }
}

/* A blocked select is completed by a plain send / receive. */
GTEST(select_blocked_then_completed) {
  for (int dir = GORO_SEND; dir <= GORO_RECV; dir++) {
    bs_t s = {.a = mk(sizeof(int), 0), .b = mk(sizeof(int), 0), .dir = dir, .res = -100};
    ASSERT_GT(goro_go(blocked_select, &s), 0);
    wait_queued(s.a, dir == GORO_RECV, dir == GORO_SEND);
    wait_queued(s.b, dir == GORO_RECV, dir == GORO_SEND);
    int v = 42;
    if (dir == GORO_SEND) {
      ASSERT_OK(goro_chan_recv(s.a, &v, NULL));
      ASSERT_EQ(v, 5);
    } else {
      ASSERT_OK(goro_chan_send(s.a, &v));
    }
    while (atomic_load(&s.res) == -100) goro_yield();
    ASSERT_EQ(atomic_load(&s.res), 0);
    ASSERT_EQ(s.cs[0].err, 0);
    if (dir == GORO_RECV) {
      ASSERT(s.cs[0].ok);
      ASSERT_EQ(s.va, 42);
    }
    wait_queued(s.b, 0, 0);
    goro_chan_release(s.a);
    goro_chan_release(s.b);
  }
}

/* ------------------------------------------------------------------ */
/* many cases                                                          */
/* ------------------------------------------------------------------ */

GTEST(select_many_cases) {
  enum { N = 2000 };
  goro_chan **ch = calloc(N, sizeof *ch);
  goro_case *cs = calloc(N, sizeof *cs);
  int *vals = calloc(N, sizeof *vals);
  for (int i = 0; i < N; i++) {
    ch[i] = mk(sizeof(int), 0);
    cs[i] = (goro_case)GORO_CASE_RECV(ch[i], &vals[i]);
  }
  ASSERT_ERR(goro_select(cs, N, 0), GORO_EAGAIN);
  for (int round = 0; round < 20; round++) {
    int pick = (round * 773) % N;
    sv_t s = {ch[pick], round};
    ASSERT_GT(goro_go(send_after_queued, &s), 0);
    ASSERT_EQ(goro_select(cs, N, GORO_FOREVER), pick);
    ASSERT_EQ(vals[pick], round);
  }
  for (int i = 0; i < N; i++) {
    ASSERT_EQ(qlen(ch[i], &ch[i]->recvq), 0);
    goro_chan_release(ch[i]);
  }
  free(ch);
  free(cs);
  free(vals);
}

/* ------------------------------------------------------------------ */
/* contention in different case orders (lock ordering)                 */
/* ------------------------------------------------------------------ */

enum { NCH = 4 };
typedef struct {
  goro_chan *ch[NCH];
  goro_chan *done, *fin;
  int id, n;
  _Atomic int64_t *sum;
} ct_t;

/* Each worker sends its n values (id-tagged) through a select over all
 * channels in its own rotation, and also receives whatever arrives. */
static void contend(void *arg) {
  ct_t *a = arg;
  int sent = 0;
  int64_t out = 0, in = 0, got = 0;
  while (sent < a->n) {
    goro_case cs[2 * NCH];
    out = (int64_t)a->id * 1000000 + sent + 1;
    for (int i = 0; i < NCH; i++) {
      goro_chan *c = a->ch[(i + a->id) % NCH];
      cs[2 * i] = (goro_case)GORO_CASE_SEND(c, &out);
      cs[2 * i + 1] = (goro_case)GORO_CASE_RECV(c, &in);
    }
    int k = goro_select(cs, 2 * NCH, GORO_FOREVER);
    ASSERT(k >= 0);
    if (cs[k].dir == GORO_SEND) {
      sent++;
      atomic_fetch_add(a->sum, out);
    } else {
      atomic_fetch_sub(a->sum, in);
      got++;
    }
  }
  ASSERT_OK(goro_chan_send(a->done, &got));
}

static void contend_drain(void *arg) {
  ct_t *a = arg;
  int64_t in = 0, got = 0;
  for (;;) {
    goro_case cs[NCH + 1];
    for (int i = 0; i < NCH; i++) cs[i] = (goro_case)GORO_CASE_RECV(a->ch[i], &in);
    cs[NCH] = (goro_case)GORO_CASE_RECV(a->done, NULL);
    int k = goro_select(cs, NCH + 1, GORO_FOREVER);
    if (k == NCH) break;
    atomic_fetch_sub(a->sum, in);
    got++;
  }
  ASSERT_OK(goro_chan_send(a->fin, &got));
}

GTEST(select_contention_lock_order) {
  enum { W = 6 };
  int n = test_stress() >= 1 ? 5000 : 500;
  _Atomic int64_t sum = 0;
  ct_t a[W + 1];
  goro_chan *done = mk(sizeof(int64_t), 0), *stop = mk(0, 0);
  for (int w = 0; w <= W; w++) {
    for (int i = 0; i < NCH; i++) a[w].ch[i] = NULL;
    a[w].done = done;
    a[w].fin = done;
    a[w].id = w;
    a[w].n = n;
    a[w].sum = &sum;
  }
  for (int i = 0; i < NCH; i++) {
    goro_chan *c = mk(sizeof(int64_t), i % 2 ? 3 : 0);
    for (int w = 0; w <= W; w++) a[w].ch[i] = c;
  }
  for (int w = 0; w < W; w++) ASSERT_GT(goro_go(contend, &a[w]), 0);
  /* A drainer makes sure the last senders find a partner. */
  a[W].done = stop;
  ASSERT_GT(goro_go(contend_drain, &a[W]), 0);
  for (int w = 0; w < W; w++) {
    int64_t g;
    ASSERT_OK(goro_chan_recv(done, &g, NULL));
  }
  ASSERT_OK(goro_chan_close(stop));
  int64_t g;
  ASSERT_OK(goro_chan_recv(done, &g, NULL));
  /* Whatever stays buffered is still owed. */
  for (int i = 0; i < NCH; i++) {
    int64_t v;
    while (goro_chan_try_recv(a[0].ch[i], &v, NULL) == 0) atomic_fetch_sub(&sum, v);
  }
  for (int i = 0; i < NCH; i++) wait_queued(a[0].ch[i], 0, 0);
  ASSERT_EQ(atomic_load(&sum), 0);
  for (int i = 0; i < NCH; i++) goro_chan_release(a[0].ch[i]);
  goro_chan_release(done);
  goro_chan_release(stop);
}

/* ------------------------------------------------------------------ */
/* foreign threads                                                     */
/* ------------------------------------------------------------------ */

typedef struct {
  goro_chan *a, *b, *back;
  int n;
} fs_t;

static goro_chan *hs_chan; /* foreign_handshake_* (chan_test_util.h) */

static void *foreign_selector(void *arg) {
  fs_t *f = arg;
  foreign_handshake_thread(hs_chan);
  int64_t sum = 0;
  int v = 0;
  for (int i = 0; i < f->n; i++) {
    goro_case cs[2] = {GORO_CASE_RECV(f->a, &v), GORO_CASE_RECV(f->b, &v)};
    int k = goro_select(cs, 2, GORO_FOREVER);
    ASSERT(k == 0 || k == 1);
    ASSERT(cs[k].ok);
    sum += v;
  }
  ASSERT_OK(goro_chan_send(f->back, &sum));
  return NULL;
}

GTEST(select_foreign_thread) {
  fs_t f = {mk(sizeof(int), 0), mk(sizeof(int), 2), mk(sizeof(int64_t), 0), 4000};
  pthread_t t;
  hs_chan = mk(0, 0);
  ASSERT_OK(pthread_create(&t, NULL, foreign_selector, &f));
  foreign_handshake_goroutine(hs_chan);
  int64_t want = 0;
  for (int i = 0; i < f.n; i++) {
    goro_case cs[2] = {GORO_CASE_SEND(f.a, &i), GORO_CASE_SEND(f.b, &i)};
    ASSERT(goro_select(cs, 2, GORO_FOREVER) >= 0);
    want += i;
  }
  int64_t sum;
  ASSERT_OK(goro_chan_recv(f.back, &sum, NULL));
  ASSERT_EQ(sum, want);
  pthread_join(t, NULL);
  goro_chan_release(hs_chan);
  goro_chan_release(f.a);
  goro_chan_release(f.b);
  goro_chan_release(f.back);
}

/* ------------------------------------------------------------------ */
/* timeouts (need runtime timers)                                      */
/* ------------------------------------------------------------------ */

GTEST(select_timeout) {
  goro_chan *a = mk(sizeof(int), 0), *b = mk(sizeof(int), 0);
  int v;
  goro_case cs[3] = {GORO_CASE_RECV(a, &v), GORO_CASE_SEND(b, &v), GORO_CASE_RECV(NULL, &v)};
  int64_t t0 = goro_now();
  ASSERT_ERR(goro_select(cs, 3, t0 + 20 * GORO_MILLISECOND), GORO_ETIMEDOUT);
  ASSERT_GE(goro_now() - t0, 20 * GORO_MILLISECOND);
  wait_queued(a, 0, 0);
  wait_queued(b, 0, 0);
  t0 = goro_now();
  ASSERT_ERR(goro_select(NULL, 0, t0 + 5 * GORO_MILLISECOND), GORO_ETIMEDOUT);
  ASSERT_GE(goro_now() - t0, 5 * GORO_MILLISECOND);
  /* A select with a deadline that a sender beats. */
  sv_t s = {a, 8};
  ASSERT_GT(goro_go(send_after_queued, &s), 0);
  ASSERT_EQ(goro_select(cs, 3, goro_now() + 10 * GORO_SECOND), 0);
  ASSERT_EQ(v, 8);
  wait_queued(b, 0, 0);
  goro_chan_release(a);
  goro_chan_release(b);
}
