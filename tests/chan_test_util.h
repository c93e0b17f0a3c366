/* chan_test_util.h - helpers shared by the channel and select tests:
 * count a channel's queued waiters (under its lock), wait until a given
 * number of goroutines is queued, make a channel or fail the test, and
 * the handshake with a foreign thread. */
#ifndef GORO_CHAN_TEST_UTIL_H
#define GORO_CHAN_TEST_UTIL_H

#include "../src/chan.h"
#include "runner.h"

static inline int qlen(goro_chan *c, goro__waitq_t *q) {
  goro__lock(&c->lock);
  int n = 0;
  for (sudog_t *s = atomic_load(&q->first); s; s = s->next) n++;
  goro__unlock(&c->lock);
  return n;
}

/* Yield until c has exactly nr queued receivers and ns queued senders. */
static inline void wait_queued(goro_chan *c, int nr, int ns) {
  int64_t dl = goro_now() + 20 * GORO_SECOND;
  while (qlen(c, &c->recvq) != nr || qlen(c, &c->sendq) != ns) {
    if (goro_now() > dl)
      test_fail(__FILE__, __LINE__, "waiters: recv %d send %d, want %d %d", qlen(c, &c->recvq),
                qlen(c, &c->sendq), nr, ns);
    goro_yield();
  }
}

static inline goro_chan *mk(size_t esz, size_t cap) {
  goro_chan *c = NULL;
  ASSERT_OK(goro_chan_make(&c, esz, cap));
  ASSERT(c);
  return c;
}

/* The deadlock detector keeps quiet only once a foreign thread has
 * waited on a goro object, so before a goroutine blocks on a thread that
 * has just started, the thread parks in a receive and the goroutine
 * completes it with try_send (yielding, never parking) - a handshake. */
static inline void foreign_handshake_thread(goro_chan *hs) {
  ASSERT_OK(goro_chan_recv(hs, NULL, NULL));
}
static inline void foreign_handshake_goroutine(goro_chan *hs) {
  int64_t dl = goro_now() + 20 * GORO_SECOND;
  while (goro_chan_try_send(hs, NULL) == GORO_EAGAIN) {
    ASSERT_LT(goro_now(), dl);
    goro_yield();
  }
}

#endif
