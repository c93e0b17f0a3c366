/* test_chan_stress.c - moves many messages through a random mixture of
 * channels (unbuffered and buffered), plain/try/deadline operations,
 * selects with and without timeouts, and channels closed while in use,
 * and checks that every message arrives exactly once (count, sum and a
 * per-id seen map).
 *
 * Shape: NCH channels; the first half are closed only after every
 * producer has finished, the second half are closed at random moments by
 * a closer goroutine.  A producer whose send fails with GORO_ECLOSED,
 * GORO_EAGAIN or GORO_ETIMEDOUT still owns the message and tries again
 * another way, so no message may be lost; a consumer stops using a
 * channel once it reports GORO_ECLOSED (closed and drained) and exits when
 * all have.  Size: ~1e5 messages at GORO_TEST_STRESS=0, 2e6 at 1, more
 * above.
 */
#include "runner.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

enum { NCH = 8, NPROD = 6, NCONS = 5 };

typedef struct {
  goro_chan *ch[NCH];
  goro_chan *done;
  int64_t per;          /* messages per producer */
  _Atomic uint8_t *seen;
  _Atomic int64_t sum, count;
  _Atomic int closed_early;
  _Atomic int producers_left;
} st_t;

typedef struct {
  st_t *s;
  int id;
  uint64_t rng;
} worker_t;

static uint32_t rnd(worker_t *w) {
  w->rng ^= w->rng << 13;
  w->rng ^= w->rng >> 7;
  w->rng ^= w->rng << 17;
  return (uint32_t)(w->rng >> 16);
}

static int64_t short_deadline(worker_t *w) {
  return goro_now() + (int64_t)(rnd(w) % 50) * GORO_MICROSECOND;
}

/* One attempt to send v; returns true when it was sent. */
static bool send_once(worker_t *w, int64_t v) {
  st_t *s = w->s;
  goro_chan *c = s->ch[rnd(w) % NCH];
  int r;
  switch (rnd(w) % 6) {
  case 0:
    r = goro_chan_send(c, &v);
    break;
  case 1:
    r = goro_chan_try_send(c, &v);
    if (r == GORO_EAGAIN) goro_yield();
    break;
  case 2:
    r = goro_chan_send_dl(c, &v, short_deadline(w));
    break;
  default: {
    /* select over 1..4 channels, with NULL cases sprinkled in. */
    goro_case cs[5];
    int n = 1 + (int)(rnd(w) % 4);
    for (int i = 0; i < n; i++)
      cs[i] = (goro_case)GORO_CASE_SEND(i == 0 || rnd(w) % 9 ? s->ch[rnd(w) % NCH] : NULL, &v);
    int64_t dl = rnd(w) % 3 == 0 ? GORO_FOREVER : rnd(w) % 2 ? 0 : short_deadline(w);
    int k = goro_select(cs, n, dl);
    if (k < 0) {
      if (k == GORO_EAGAIN) goro_yield();
      else ASSERT(k == GORO_ETIMEDOUT);
      return false;
    }
    r = cs[k].err;
    break;
  }
  }
  if (r == 0) return true;
  if (r != GORO_EAGAIN && r != GORO_ETIMEDOUT && r != GORO_ECLOSED)
    test_fail(__FILE__, __LINE__, "send returned %d", r);
  return false;
}

static void producer(void *arg) {
  worker_t *w = arg;
  st_t *s = w->s;
  for (int64_t i = 0; i < s->per; i++) {
    int64_t v = w->id * s->per + i;
    while (!send_once(w, v)) {
    }
  }
  atomic_fetch_sub(&s->producers_left, 1);
  ASSERT_OK(goro_chan_send(s->done, NULL));
}

static void got(st_t *s, int64_t v) {
  ASSERT(v >= 0 && v < s->per * NPROD);
  if (atomic_fetch_add(&s->seen[v], 1) != 0)
    test_fail(__FILE__, __LINE__, "message %lld received twice", (long long)v);
  atomic_fetch_add(&s->sum, v);
  atomic_fetch_add(&s->count, 1);
}

static void consumer(void *arg) {
  worker_t *w = arg;
  st_t *s = w->s;
  bool live[NCH];
  int nlive = NCH;
  for (int i = 0; i < NCH; i++) live[i] = true;
  while (nlive > 0) {
    int64_t v = -1;
    bool ok = false;
    uint32_t op = rnd(w) % 6;
    if (op < 3) {
      int i = (int)(rnd(w) % NCH);
      while (!live[i]) i = (i + 1) % NCH;
      /* Never block forever on one channel: the last producer may be
       * blocked on another one (selects over all live ones may block). */
      int r = op == 0 ? goro_chan_recv_dl(s->ch[i], &v, &ok, goro_now() + GORO_MILLISECOND)
              : op == 1 ? goro_chan_try_recv(s->ch[i], &v, &ok)
                        : goro_chan_recv_dl(s->ch[i], &v, &ok, short_deadline(w));
      if (r == 0) {
        ASSERT(ok);
        got(s, v);
      } else if (r == GORO_ECLOSED) {
        ASSERT(!ok);
        ASSERT_EQ(v, 0);
        live[i] = false;
        nlive--;
      } else if (r == GORO_EAGAIN) {
        goro_yield();
      } else {
        ASSERT_ERR(r, GORO_ETIMEDOUT);
      }
      continue;
    }
    /* select over every live channel, in a random rotation, plus NULLs. */
    goro_case cs[NCH + 1];
    int idx[NCH + 1], n = 0, rot = (int)(rnd(w) % NCH);
    for (int j = 0; j < NCH; j++) {
      int i = (j + rot) % NCH;
      if (!live[i]) continue;
      idx[n] = i;
      cs[n++] = (goro_case)GORO_CASE_RECV(s->ch[i], &v);
    }
    idx[n] = -1;
    cs[n++] = (goro_case)GORO_CASE_RECV(NULL, &v);
    int64_t dl = op == 3 ? GORO_FOREVER : op == 4 ? 0 : short_deadline(w);
    int k = goro_select(cs, n, dl);
    if (k >= 0) {
      ASSERT(idx[k] >= 0);
      if (cs[k].err == 0) {
        ASSERT(cs[k].ok);
        got(s, v);
      } else {
        ASSERT_ERR(cs[k].err, GORO_ECLOSED);
        ASSERT(!cs[k].ok);
        live[idx[k]] = false;
        nlive--;
      }
    } else if (k == GORO_EAGAIN) {
      goro_yield();
    } else {
      ASSERT_ERR(k, GORO_ETIMEDOUT);
    }
  }
  ASSERT_OK(goro_chan_send(s->done, NULL));
}

/* Closes the second half of the channels at random moments while the
 * producers run. */
static void closer(void *arg) {
  worker_t *w = arg;
  st_t *s = w->s;
  for (int i = NCH / 2; i < NCH; i++) {
    int64_t until = goro_now() + (int64_t)(rnd(w) % 20) * GORO_MILLISECOND / (test_stress() + 1);
    while (goro_now() < until && atomic_load(&s->producers_left) > 0) goro_yield();
    ASSERT_OK(goro_chan_close(s->ch[i]));
    atomic_fetch_add(&s->closed_early, 1);
  }
  ASSERT_OK(goro_chan_send(s->done, NULL));
}

GTEST_T(chan_stress_mixture, 300000) {
  int lvl = test_stress();
  int64_t total = lvl == 0 ? 100000 : lvl == 1 ? 2000000 : 8000000;
  st_t *s = calloc(1, sizeof *s);
  s->per = total / NPROD;
  total = s->per * NPROD;
  s->seen = calloc((size_t)total, 1);
  ASSERT(s->seen);
  size_t caps[NCH] = {0, 1, 64, 0, 0, 4, 1024, 0};
  for (int i = 0; i < NCH; i++) ASSERT_OK(goro_chan_make(&s->ch[i], sizeof(int64_t), caps[i]));
  ASSERT_OK(goro_chan_make(&s->done, 0, 0));
  atomic_store(&s->producers_left, NPROD);
  worker_t w[NPROD + NCONS + 1];
  for (int i = 0; i < NPROD + NCONS + 1; i++) {
    w[i] = (worker_t){s, i, 0x9E3779B97F4A7C15ull * (uint64_t)(i + 1) ^ (uint64_t)goro_now()};
    if (!w[i].rng) w[i].rng = 1;
  }
  for (int i = 0; i < NPROD; i++) ASSERT_GT(goro_go(producer, &w[i]), 0);
  for (int i = 0; i < NCONS; i++) ASSERT_GT(goro_go(consumer, &w[NPROD + i]), 0);
  ASSERT_GT(goro_go(closer, &w[NPROD + NCONS]), 0);
  /* Producers and the closer finish first (consumers need the final
   * closes); count done signals until then. */
  for (int i = 0; i < NPROD + 1; i++) ASSERT_OK(goro_chan_recv(s->done, NULL, NULL));
  ASSERT_EQ(atomic_load(&s->producers_left), 0);
  ASSERT_EQ(atomic_load(&s->closed_early), NCH - NCH / 2);
  for (int i = 0; i < NCH / 2; i++) ASSERT_OK(goro_chan_close(s->ch[i]));
  for (int i = 0; i < NCONS; i++) ASSERT_OK(goro_chan_recv(s->done, NULL, NULL));
  ASSERT_EQ(atomic_load(&s->count), total);
  ASSERT_EQ(atomic_load(&s->sum), total * (total - 1) / 2);
  for (int64_t i = 0; i < total; i++)
    if (atomic_load(&s->seen[i]) != 1)
      test_fail(__FILE__, __LINE__, "message %lld seen %d times", (long long)i,
                (int)atomic_load(&s->seen[i]));
  for (int i = 0; i < NCH; i++) {
    ASSERT_EQ(goro_chan_len(s->ch[i]), 0);
    goro_chan_release(s->ch[i]);
  }
  goro_chan_release(s->done);
  free(s->seen);
  free(s);
}

/* Pure throughput: unbuffered and buffered pipelines of goroutines, each
 * stage forwarding everything it gets; the sink checks order. */
typedef struct {
  goro_chan *in, *out;
} stage_t;

static void stage(void *arg) {
  stage_t *st = arg;
  int64_t v;
  while (goro_chan_recv(st->in, &v, NULL) == 0) ASSERT_OK(goro_chan_send(st->out, &v));
  ASSERT_OK(goro_chan_close(st->out));
}

GTEST_T(chan_stress_pipeline, 300000) {
  enum { STAGES = 16 };
  int64_t n = test_stress() == 0 ? 50000 : 1000000;
  goro_chan *ch[STAGES + 1];
  for (int i = 0; i <= STAGES; i++) ASSERT_OK(goro_chan_make(&ch[i], sizeof(int64_t), i % 3 ? 0 : 8));
  stage_t st[STAGES];
  for (int i = 0; i < STAGES; i++) {
    st[i] = (stage_t){ch[i], ch[i + 1]};
    ASSERT_GT(goro_go(stage, &st[i]), 0);
  }
  /* Feed from a goroutine, drain here. */
  int64_t next = 0, v;
  for (int64_t i = 0; i < n; i++) {
    goro_case cs[2] = {GORO_CASE_SEND(ch[0], &i), GORO_CASE_RECV(ch[STAGES], &v)};
    for (;;) {
      int k = goro_select(cs, 2, GORO_FOREVER);
      ASSERT(k == 0 || k == 1);
      if (k == 0) break;
      ASSERT_EQ(v, next);
      next++;
    }
  }
  ASSERT_OK(goro_chan_close(ch[0]));
  while (goro_chan_recv(ch[STAGES], &v, NULL) == 0) {
    ASSERT_EQ(v, next);
    next++;
  }
  ASSERT_EQ(next, n);
  for (int i = 0; i <= STAGES; i++) goro_chan_release(ch[i]);
}
