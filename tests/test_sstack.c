/* test_sstack.c - shared-stack goroutines (GORO_SHARED_STACK).
 *
 * What must hold: such a goroutine's locals and frames survive every kind
 * of wait (each switch copies its stack out and back in); values it sends
 * or receives while parked go through records off its stack; it runs
 * only on its home processor; the runtime refuses what would break that
 * (goro_lock_thread, shrinking GOMAXPROCS under it, bad options); dumps
 * show a parked one's frames; and a parked one costs well under a page.
 * Sanitizer and ucontext builds accept the flag and use ordinary stacks,
 * so the behavioural tests run there too; the placement and memory tests
 * need the real thing.
 */
#include "runner.h"

#include "../src/internal.h"
#include "../src/sstack.h"

#include <arpa/inet.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#define NOINLINE_TEST __attribute__((noinline))
#define NO_TAIL_CALL() __asm__ __volatile__("" ::: "memory")

static const goro_opts shared_opts = {.flags = GORO_SHARED_STACK};

static int64_t go_shared(goro_fn fn, void *arg) { return goro_go_opts(fn, arg, &shared_opts); }

/* Check, where shared stacks are built in, that the caller is on its
 * home processor and on its shared stack. */
static void assert_at_home(void) {
#if GORO_HAVE_SSTACK
  m_t *m = goro__getm();
  g_t *g = m->curg;
  ASSERT(g->ss);
  ASSERT(m->p == g->ss->home);
  char here;
  ASSERT((char *)&here > g->ss->home->ss_lo && (char *)&here < g->ss->home->ss_lo + GORO_SSTACK_SIZE);
#endif
}

/* ------------------------------------------------------------------ */
/* Frames survive every kind of wait                                   */
/* ------------------------------------------------------------------ */

enum { WAIT_KINDS = 8 };

static goro_chan *feed;        /* unbuffered, fed by the test */
static goro_mutex contended = GORO_MUTEX_INIT;
static goro_waitgroup gate = GORO_WAITGROUP_INIT;
static goro_mutex cmu = GORO_MUTEX_INIT;
static goro_cond ccv = GORO_COND_INIT;
static int cgen;
static _Atomic int frames_ok, frames_bad;

/* One wait of kind k; every kind parks for real most of the time. */
static void wait_once(int k) {
  switch (k) {
    case 0: ASSERT_OK(goro_sleep(GORO_MILLISECOND)); break;
    case 1: goro_yield(); break;
    case 2: {
      long v = 0;
      ASSERT_OK(goro_chan_recv(feed, &v, NULL));
      ASSERT_EQ(v, 42);
      break;
    }
    case 3:
      goro_mutex_lock(&contended);
      goro_sleep(100 * GORO_MICROSECOND);
      goro_mutex_unlock(&contended);
      break;
    case 4: goro_waitgroup_wait(&gate); break;
    case 5: {
      goro_mutex_lock(&cmu);
      int g0 = cgen;
      while (cgen == g0) goro_cond_wait(&ccv, &cmu);
      goro_mutex_unlock(&cmu);
      break;
    }
    case 6: {
      goro_chan *c = NULL; /* a nil channel with a deadline: a timed park */
      ASSERT_ERR(goro_chan_recv_dl(c, NULL, NULL, goro_now() + GORO_MILLISECOND), GORO_ETIMEDOUT);
      break;
    }
    default: {
      long v = 0;
      goro_case cs[2] = {{.chan = feed, .dir = GORO_RECV, .elem = &v},
                         {.chan = NULL, .dir = GORO_RECV, .elem = NULL}};
      ASSERT_EQ(goro_select(cs, 2, GORO_FOREVER), 0);
      ASSERT_EQ(v, 42);
      break;
    }
  }
}

/* Recurse with a patterned frame at each level, wait at the bottom, then
 * check every level on the way back. */
static NOINLINE_TEST int deep(int id, int level, int kind) {
  volatile unsigned char pat[200];
  for (size_t i = 0; i < sizeof pat; i++) pat[i] = (unsigned char)(id * 31 + level * 7 + i);
  int r = 0;
  if (level == 0) {
    assert_at_home();
    wait_once(kind);
    assert_at_home();
  } else {
    r = deep(id, level - 1, kind);
  }
  for (size_t i = 0; i < sizeof pat; i++)
    if (pat[i] != (unsigned char)(id * 31 + level * 7 + i)) return -1;
  return r;
  NO_TAIL_CALL();
}

static void frames_worker(void *arg) {
  int id = (int)(intptr_t)arg;
  for (int k = 0; k < WAIT_KINDS; k++) {
    if (deep(id, 1 + (id + k) % 20, k) == 0)
      atomic_fetch_add(&frames_ok, 1);
    else
      atomic_fetch_add(&frames_bad, 1);
  }
}

GTEST_T(sstack_frames_survive_every_wait, 60000) {
  int n = test_stress() == 0 ? 40 : 200;
  ASSERT_OK(goro_chan_make(&feed, sizeof(long), 0));
  goro_waitgroup_add(&gate, 1);
  for (int i = 0; i < n; i++) ASSERT_GT(go_shared(frames_worker, (void *)(intptr_t)i), 0);
  /* Release each kind of wait in turn until every worker is done. */
  int64_t dl = goro_now() + 50 * GORO_SECOND;
  int released_gate = 0;
  while (atomic_load(&frames_ok) + atomic_load(&frames_bad) < n * WAIT_KINDS) {
    ASSERT_LT(goro_now(), dl);
    long v = 42;
    while (goro_chan_send_dl(feed, &v, goro_now() + 200 * GORO_MICROSECOND) == 0) {
    }
    goro_mutex_lock(&cmu);
    cgen++;
    goro_cond_broadcast(&ccv);
    goro_mutex_unlock(&cmu);
    if (!released_gate && goro_sleep(5 * GORO_MILLISECOND) == 0) {
      goro_waitgroup_done(&gate);
      released_gate = 1;
    }
    goro_sleep(GORO_MILLISECOND);
  }
  ASSERT_EQ(atomic_load(&frames_bad), 0);
  ASSERT_EQ(atomic_load(&frames_ok), n * WAIT_KINDS);
  goro_chan_release(feed);
}

/* ------------------------------------------------------------------ */
/* Values sent and received while parked                               */
/* ------------------------------------------------------------------ */

typedef struct {
  long a, b, c, d, e; /* 40 bytes: not the 8-byte fast path */
} big_t;

static goro_chan *bigc, *longc, *donec;

static void big_receiver(void *arg) {
  (void)arg;
  for (;;) {
    big_t v;
    memset(&v, 0, sizeof v);
    bool ok = false;
    if (goro_chan_recv(bigc, &v, &ok) == GORO_ECLOSED) break;
    ASSERT(ok);
    ASSERT_EQ(v.b, v.a * 2);
    ASSERT_EQ(v.e, v.a + 5);
    long got = v.a;
    ASSERT_OK(goro_chan_send(longc, &got)); /* parks: longc is unbuffered */
  }
  ASSERT_OK(goro_chan_send(donec, NULL));
}

static void big_sender(void *arg) {
  long base = (long)(intptr_t)arg;
  for (long i = 0; i < 100; i++) {
    big_t v = {.a = base + i, .b = 2 * (base + i), .c = 0, .d = 0, .e = base + i + 5};
    if (i % 2) {
      ASSERT_OK(goro_chan_send(bigc, &v));
    } else {
      goro_case cs[1] = {{.chan = bigc, .dir = GORO_SEND, .elem = &v}};
      ASSERT_EQ(goro_select(cs, 1, GORO_FOREVER), 0);
      ASSERT_OK(cs[0].err);
    }
  }
  ASSERT_OK(goro_chan_send(donec, NULL));
}

GTEST(sstack_channel_values_while_parked) {
  enum { SENDERS = 8, RECEIVERS = 8 };
  ASSERT_OK(goro_chan_make(&bigc, sizeof(big_t), 0));
  ASSERT_OK(goro_chan_make(&longc, sizeof(long), 0));
  ASSERT_OK(goro_chan_make(&donec, 0, SENDERS + RECEIVERS));
  for (int i = 0; i < RECEIVERS; i++) ASSERT_GT(go_shared(big_receiver, NULL), 0);
  for (int i = 0; i < SENDERS; i++) ASSERT_GT(go_shared(big_sender, (void *)(intptr_t)(i * 1000)), 0);
  /* Every value once, received here by select into a local. */
  static char seen[SENDERS * 1000];
  memset(seen, 0, sizeof seen);
  for (int i = 0; i < SENDERS * 100; i++) {
    long v = -1;
    goro_case cs[1] = {{.chan = longc, .dir = GORO_RECV, .elem = &v}};
    ASSERT_EQ(goro_select(cs, 1, GORO_FOREVER), 0);
    ASSERT(v >= 0 && v < SENDERS * 1000 && v % 1000 < 100);
    ASSERT_EQ(seen[v], 0);
    seen[v] = 1;
  }
  for (int i = 0; i < SENDERS; i++) ASSERT_OK(goro_chan_recv(donec, NULL, NULL));
  ASSERT_OK(goro_chan_close(bigc));
  for (int i = 0; i < RECEIVERS; i++) ASSERT_OK(goro_chan_recv(donec, NULL, NULL));
  goro_chan_release(bigc);
  goro_chan_release(longc);
  goro_chan_release(donec);
}

/* ------------------------------------------------------------------ */
/* A select with deadlines and closes, parked in every case             */
/* ------------------------------------------------------------------ */

static goro_chan *sel_in, *sel_out, *sel_quit, *sel_done;

static void selecter(void *arg) {
  (void)arg;
  long pending = -1;
  for (;;) {
    long in = 0;
    goro_case cs[3] = {{.chan = pending < 0 ? sel_in : NULL, .dir = GORO_RECV, .elem = &in},
                       {.chan = pending >= 0 ? sel_out : NULL, .dir = GORO_SEND, .elem = &pending},
                       {.chan = sel_quit, .dir = GORO_RECV, .elem = NULL}};
    int r = goro_select(cs, 3, goro_now() + 2 * GORO_MILLISECOND);
    if (r == GORO_ETIMEDOUT) continue;
    ASSERT_GE(r, 0);
    if (r == 0) {
      ASSERT_EQ(pending, -1);
      pending = in;
    } else if (r == 1) {
      pending = -1;
    } else {
      break;
    }
  }
  ASSERT_EQ(pending, -1);
  ASSERT_OK(goro_chan_send(sel_done, NULL));
}

GTEST_T(sstack_select_forwards_every_value, 60000) {
  enum { WORKERS = 16 };
  long n = test_stress() == 0 ? 2000 : 20000;
  ASSERT_OK(goro_chan_make(&sel_in, sizeof(long), 0));
  ASSERT_OK(goro_chan_make(&sel_out, sizeof(long), 0));
  ASSERT_OK(goro_chan_make(&sel_quit, 0, 0));
  ASSERT_OK(goro_chan_make(&sel_done, 0, WORKERS));
  for (int i = 0; i < WORKERS; i++) ASSERT_GT(go_shared(selecter, NULL), 0);
  long sent = 0, recvd = 0, sum = 0;
  while (recvd < n) {
    long v = sent + 1, out = 0;
    goro_case cs[2] = {{.chan = sent < n ? sel_in : NULL, .dir = GORO_SEND, .elem = &v},
                       {.chan = sel_out, .dir = GORO_RECV, .elem = &out}};
    int r = goro_select(cs, 2, GORO_FOREVER);
    if (r == 0) {
      sent++;
    } else {
      ASSERT_EQ(r, 1);
      recvd++;
      sum += out;
    }
  }
  ASSERT_EQ(sum, n * (n + 1) / 2);
  ASSERT_OK(goro_chan_close(sel_quit));
  for (int i = 0; i < WORKERS; i++) ASSERT_OK(goro_chan_recv(sel_done, NULL, NULL));
  goro_chan_release(sel_in);
  goro_chan_release(sel_out);
  goro_chan_release(sel_quit);
  goro_chan_release(sel_done);
}

/* ------------------------------------------------------------------ */
/* The network: an echo server whose handlers use shared stacks         */
/* ------------------------------------------------------------------ */

static void echo_handler(void *arg) {
  int fd = (int)(intptr_t)arg;
  char buf[64];
  for (;;) {
    ssize_t n = goro_read(fd, buf, sizeof buf);
    if (n <= 0) break;
    assert_at_home();
    if (goro_write(fd, buf, (size_t)n) != n) break;
  }
  goro_close(fd);
}

static void echo_acceptor(void *arg) {
  int lfd = (int)(intptr_t)arg;
  for (;;) {
    int fd = goro_accept(lfd, NULL, NULL);
    if (fd < 0) return;
    ASSERT_GT(go_shared(echo_handler, (void *)(intptr_t)fd), 0);
  }
}

static char echo_addr[64];
static goro_chan *echo_done;

static void echo_client(void *arg) {
  int id = (int)(intptr_t)arg;
  int fd = goro_dial("tcp", echo_addr, GORO_FOREVER);
  ASSERT_GE(fd, 0);
  for (int r = 0; r < 20; r++) {
    char msg[48], got[48];
    for (size_t i = 0; i < sizeof msg; i++) msg[i] = (char)(id + r + i);
    ASSERT_EQ(goro_write(fd, msg, sizeof msg), (ssize_t)sizeof msg);
    size_t have = 0;
    while (have < sizeof got) {
      ssize_t n = goro_read(fd, got + have, sizeof got - have);
      ASSERT_GT(n, 0);
      have += (size_t)n;
    }
    ASSERT_EQ(memcmp(msg, got, sizeof msg), 0);
  }
  goro_close(fd);
  ASSERT_OK(goro_chan_send(echo_done, NULL));
}

GTEST_T(sstack_echo_server_handlers, 60000) {
  int conns = test_stress() == 0 ? 50 : 300;
  int lfd = goro_listen("tcp", "127.0.0.1:0", 1024);
  ASSERT_GE(lfd, 0);
  struct sockaddr_in sa;
  socklen_t len = sizeof sa;
  ASSERT_OK(getsockname(lfd, (struct sockaddr *)&sa, &len));
  snprintf(echo_addr, sizeof echo_addr, "127.0.0.1:%d", ntohs(sa.sin_port));
  ASSERT_OK(goro_chan_make(&echo_done, 0, (size_t)conns));
  ASSERT_GT(goro_go(echo_acceptor, (void *)(intptr_t)lfd), 0);
  for (int i = 0; i < conns; i++) ASSERT_GT(goro_go(echo_client, (void *)(intptr_t)i), 0);
  for (int i = 0; i < conns; i++) ASSERT_OK(goro_chan_recv(echo_done, NULL, NULL));
  goro_close(lfd);
  goro_chan_release(echo_done);
}

/* ------------------------------------------------------------------ */
/* What is refused                                                     */
/* ------------------------------------------------------------------ */

static goro_chan *misc_done;

static void lock_thread_refused(void *arg) {
  (void)arg;
  ASSERT_ERR(goro_lock_thread(), GORO_EPERM);
  ASSERT_OK(goro_chan_send(misc_done, NULL));
}

static long slow_call(void *arg) {
  usleep((useconds_t)(intptr_t)arg);
  return 7;
}

static void blocking_keeps_p(void *arg) {
  (void)arg;
  ASSERT_EQ(goro_blocking(slow_call, (void *)(intptr_t)20000), 7);
  assert_at_home();
  ASSERT_OK(goro_chan_send(misc_done, NULL));
}

GTEST(sstack_options_and_refusals) {
  goro_opts bad = {.flags = 0x80};
  ASSERT_ERR(goro_go_opts(lock_thread_refused, NULL, &bad), GORO_EINVAL);
  goro_opts sized = {.flags = GORO_SHARED_STACK, .stack_size = 1 << 20};
  ASSERT_ERR(goro_go_opts(lock_thread_refused, NULL, &sized), GORO_EINVAL);
  ASSERT_OK(goro_chan_make(&misc_done, 0, 0));
#if GORO_HAVE_SSTACK
  ASSERT_GT(go_shared(lock_thread_refused, NULL), 0);
  ASSERT_OK(goro_chan_recv(misc_done, NULL, NULL));
#endif
  ASSERT_GT(go_shared(blocking_keeps_p, NULL), 0);
  ASSERT_OK(goro_chan_recv(misc_done, NULL, NULL));
  goro_chan_release(misc_done);
}

static goro_chan *hold;

static void held(void *arg) {
  (void)arg;
  ASSERT_OK(goro_chan_recv(hold, NULL, NULL));
}

GTEST(sstack_gomaxprocs_cannot_cut_a_home) {
  int prev = goro_maxprocs(3);
  ASSERT_GT(prev, 0);
  ASSERT_OK(goro_chan_make(&hold, 0, 0));
  /* Homes go round the processors: three goroutines cover all three. */
  for (int i = 0; i < 3; i++) ASSERT_GT(go_shared(held, NULL), 0);
  goro_sleep(5 * GORO_MILLISECOND);
#if GORO_HAVE_SSTACK
  ASSERT_ERR(goro_maxprocs(1), GORO_EBUSY);
  ASSERT_EQ(goro_maxprocs(0), 3);
#endif
  ASSERT_EQ(goro_maxprocs(4), 3); /* growing is always fine */
  for (int i = 0; i < 3; i++) ASSERT_OK(goro_chan_send(hold, NULL));
  /* Once they have ended, the processors may go. */
  int64_t dl = goro_now() + 10 * GORO_SECOND;
  int r;
  while ((r = goro_maxprocs(1)) == GORO_EBUSY) {
    ASSERT_LT(goro_now(), dl);
    goro_sleep(GORO_MILLISECOND);
  }
  ASSERT_EQ(r, 4);
  goro_maxprocs(prev);
  goro_chan_release(hold);
}

/* ------------------------------------------------------------------ */
/* Dumps and memory                                                    */
/* ------------------------------------------------------------------ */

static goro_chan *dump_never;

static NOINLINE_TEST void sstack_parked_marker(void) {
  volatile char pad[300];
  pad[0] = 1;
  goro_chan_recv(dump_never, NULL, NULL);
  (void)pad[0];
  NO_TAIL_CALL();
}

static void sstack_dump_worker(void *arg) {
  (void)arg;
  sstack_parked_marker();
  NO_TAIL_CALL();
}

static void sstack_busy_sibling(void *arg) {
  /* Runs on the same shared stacks meanwhile, overwriting them. */
  (void)arg;
  for (int i = 0; i < 50; i++) goro_sleep(100 * GORO_MICROSECOND);
}

GTEST(sstack_dump_shows_parked_frames) {
  ASSERT_OK(goro_chan_make(&dump_never, 0, 0));
  int64_t id = go_shared(sstack_dump_worker, NULL);
  ASSERT_GT(id, 0);
  for (int i = 0; i < 8; i++) ASSERT_GT(go_shared(sstack_busy_sibling, NULL), 0);
  goro_sleep(20 * GORO_MILLISECOND);
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  ASSERT(f);
  goro_dump(f);
  fclose(f);
  char want[64];
  snprintf(want, sizeof want, "goroutine %lld [chan receive]:\n", (long long)id);
  const char *g = strstr(buf, want);
  if (!g) test_fail(__FILE__, __LINE__, "no \"%s\" in:\n%s", want, buf);
  const char *next = strstr(g + 1, "\n\ngoroutine ");
  const char *m = strstr(g, "sstack_parked_marker(...)\n\t");
  const char *w = strstr(g, "sstack_dump_worker(...)\n\t");
  if (!m || !w || (next && (m > next || w > next)))
    test_fail(__FILE__, __LINE__, "parked shared-stack frames missing:\n%s", buf);
  free(buf);
  ASSERT_OK(goro_chan_close(dump_never));
  goro_sleep(5 * GORO_MILLISECOND);
  goro_chan_release(dump_never);
}

static long rss_bytes(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  ASSERT(f);
  long size = 0, res = 0;
  ASSERT_EQ(fscanf(f, "%ld %ld", &size, &res), 2);
  fclose(f);
  return res * sysconf(_SC_PAGESIZE);
}

static goro_chan *park_here;
static _Atomic int parked_count;

static void park_worker(void *arg) {
  (void)arg;
  atomic_fetch_add(&parked_count, 1);
  goro_chan_recv(park_here, NULL, NULL);
}

GTEST_T(sstack_parked_cost_below_half_a_page, 60000) {
#if !GORO_HAVE_SSTACK
  TEST_SKIP("shared stacks are not built in (sanitizer or ucontext build)");
#endif
  enum { N = 5000 };
  ASSERT_OK(goro_chan_make(&park_here, 0, 0));
  /* Warm the runtime's own structures first. */
  for (int i = 0; i < 100; i++) ASSERT_GT(go_shared(park_worker, NULL), 0);
  WAIT_REACHES(&parked_count, 100, 10, goro_sleep(GORO_MILLISECOND));
  goro_sleep(10 * GORO_MILLISECOND);
  long before = rss_bytes();
  for (int i = 0; i < N; i++) ASSERT_GT(go_shared(park_worker, NULL), 0);
  WAIT_REACHES(&parked_count, 100 + N, 20, goro_sleep(GORO_MILLISECOND));
  goro_sleep(10 * GORO_MILLISECOND);
  long per = (rss_bytes() - before) / N;
  printf("# %ld bytes per parked shared-stack goroutine\n", per);
  ASSERT_LT(per, 2048);
  ASSERT_OK(goro_chan_close(park_here));
  goro_sleep(20 * GORO_MILLISECOND);
  goro_chan_release(park_here);
}

#pragma GCC diagnostic ignored "-Winfinite-recursion"
static NOINLINE_TEST int sstack_recurse(int depth) {
  volatile char frame[4096];
  frame[0] = (char)depth;
  frame[sizeof frame - 1] = (char)depth;
  return sstack_recurse(depth + 1) + frame[0] + frame[sizeof frame - 1];
}

static void sstack_overflow_fn(void *arg) {
  (void)arg;
  sstack_recurse(0);
}

CRASH_TEST(sstack_overflow_is_reported, "goro: fatal error: stack overflow in goroutine", 2) {
  ASSERT_GT(go_shared(sstack_overflow_fn, NULL), 0);
  int64_t dl = goro_now() + 20 * GORO_SECOND;
  while (goro_now() < dl) goro_sleep(GORO_MILLISECOND);
}
