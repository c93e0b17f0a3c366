/* test_net.c - the network poller and socket API, on loopback only
 * (127.0.0.1, ::1, unix sockets, pipes). */
#include "runner.h"

#include "../src/netpoll.h"

#include <arpa/inet.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <pthread.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* helpers                                                             */
/* ------------------------------------------------------------------ */

static int local_port(int fd) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0) return -1;
  if (ss.ss_family == AF_INET) return ntohs(((struct sockaddr_in *)&ss)->sin_port);
  return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

static int listen_local(int *port) {
  int lfd = goro_listen("tcp", "127.0.0.1:0", 128);
  ASSERT_GE(lfd, 0);
  *port = local_port(lfd);
  ASSERT_GT(*port, 0);
  return lfd;
}

static int dial_local(int port) {
  char addr[64];
  snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
  int fd = goro_dial("tcp", addr, GORO_FOREVER);
  ASSERT_GE(fd, 0);
  return fd;
}

/* Listen on a local port and connect to it: *lfd the listener, *c the
 * dialing end; returns the accepted end. */
static int connect_pair(int *lfd, int *c) {
  int port;
  *lfd = listen_local(&port);
  *c = dial_local(port);
  int s = goro_accept(*lfd, NULL, NULL);
  ASSERT_GE(s, 0);
  return s;
}

static void read_full(int fd, void *buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = goro_read(fd, (char *)buf + got, n - got);
    if (r <= 0) test_fail(__FILE__, __LINE__, "read_full: %zd (%s)", r, goro_strerror((int)r));
    got += (size_t)r;
  }
}

/* Echo every connection accepted on the listener passed as arg, one
 * goroutine per connection, until accept fails. */
static void echo_conn(void *arg) {
  int fd = (int)(intptr_t)arg;
  char buf[4096];
  for (;;) {
    ssize_t r = goro_read(fd, buf, sizeof buf);
    if (r <= 0) break;
    if (goro_write(fd, buf, (size_t)r) != r) break;
  }
  goro_close(fd);
}

static void echo_server(void *arg) {
  int lfd = (int)(intptr_t)arg;
  for (;;) {
    int fd = goro_accept(lfd, NULL, NULL);
    if (fd < 0) break;
    goro_go(echo_conn, (void *)(intptr_t)fd);
  }
}

/* A countdown on a buffered channel: done() sends, wait(n) receives n. */
typedef struct {
  goro_chan *ch;
} latch;
static void latch_init(latch *l, size_t n) { ASSERT_OK(goro_chan_make(&l->ch, 0, n)); }
static void latch_done(latch *l) { ASSERT_OK(goro_chan_send(l->ch, NULL)); }
static void latch_wait(latch *l, size_t n) {
  for (size_t i = 0; i < n; i++) ASSERT_OK(goro_chan_recv(l->ch, NULL, NULL));
  goro_chan_release(l->ch);
}

static void raise_nofile(void) {
  struct rlimit rl;
  ASSERT_OK(getrlimit(RLIMIT_NOFILE, &rl));
  rl.rlim_cur = rl.rlim_max;
  ASSERT_OK(setrlimit(RLIMIT_NOFILE, &rl));
}

/* ------------------------------------------------------------------ */
/* basics                                                              */
/* ------------------------------------------------------------------ */

typedef struct {
  int fd;
  const char *p;
  size_t n;
  latch *wg;
} big_writer_arg;

static void big_writer(void *arg) {
  big_writer_arg *a = arg;
  ASSERT_EQ(goro_write(a->fd, a->p, a->n), a->n);
  latch_done(a->wg);
}

GTEST_T(net_tcp_echo, 20000) {
  int port;
  int lfd = listen_local(&port);
  goro_go(echo_server, (void *)(intptr_t)lfd);
  int fd = dial_local(port);
  char msg[] = "hello, goroutines";
  ASSERT_EQ(goro_write(fd, msg, sizeof msg), sizeof msg);
  char back[sizeof msg];
  read_full(fd, back, sizeof back);
  ASSERT(memcmp(msg, back, sizeof msg) == 0);

  /* A larger transfer than the socket buffers: write and read concurrently. */
  enum { BIG = 4 << 20 };
  char *out = malloc(BIG), *in = malloc(BIG);
  for (int i = 0; i < BIG; i++) out[i] = (char)(i * 7 + (i >> 11));
  latch wg;
  latch_init(&wg, 1);
  big_writer_arg wa = {fd, out, BIG, &wg};
  goro_go(big_writer, &wa);
  read_full(fd, in, BIG);
  latch_wait(&wg, 1);
  ASSERT(memcmp(out, in, BIG) == 0);
  free(out);
  free(in);
  ASSERT_OK(goro_close(fd));
  ASSERT_OK(goro_close(lfd));
}

GTEST_T(net_accept_addr_and_readv_writev, 20000) {
  int port;
  int lfd = listen_local(&port);
  int c = dial_local(port);
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  int s = goro_accept(lfd, (struct sockaddr *)&ss, &len);
  ASSERT_GE(s, 0);
  ASSERT_EQ(ss.ss_family, AF_INET);
  ASSERT_EQ(len, sizeof(struct sockaddr_in));
  ASSERT_EQ(((struct sockaddr_in *)&ss)->sin_addr.s_addr, htonl(INADDR_LOOPBACK));
  ASSERT_EQ(ntohs(((struct sockaddr_in *)&ss)->sin_port), local_port(c));
  /* accepted fds are non-blocking and close-on-exec */
  ASSERT(fcntl(s, F_GETFL) & O_NONBLOCK);
  ASSERT(fcntl(s, F_GETFD) & FD_CLOEXEC);

  char a[] = "abc", b[] = "defgh";
  struct iovec wv[2] = {{a, 3}, {b, 5}};
  ASSERT_EQ(goro_writev(c, wv, 2), 8);
  char x[4], y[4];
  struct iovec rv[2] = {{x, 4}, {y, 4}};
  size_t got = 0;
  while (got < 8) {
    ssize_t r = goro_readv(s, rv, 2);
    ASSERT_GT(r, 0);
    got += (size_t)r;
    /* only the whole message in one go is checked below */
    ASSERT_EQ(got, 8);
  }
  ASSERT(memcmp(x, "abcd", 4) == 0 && memcmp(y, "efgh", 4) == 0);
  goro_close(c);
  goro_close(s);
  goro_close(lfd);
}

static void acceptor(void *arg) {
  void **a = arg;
  int lfd = (int)(intptr_t)a[0];
  goro_chan *ch = a[1];
  for (;;) {
    int fd = goro_accept(lfd, NULL, NULL);
    if (fd < 0) {
      int r = fd;
      goro_chan_send(ch, &r);
      return;
    }
    int one = 1;
    goro_chan_send(ch, &one);
    goro_close(fd);
  }
}

GTEST_T(net_many_acceptors_and_close_wakes_them, 20000) {
  int port;
  int lfd = listen_local(&port);
  goro_chan *ch;
  ASSERT_OK(goro_chan_make(&ch, sizeof(int), 64));
  void *args[2] = {(void *)(intptr_t)lfd, ch};
  for (int i = 0; i < 4; i++) goro_go(acceptor, args);
  goro_sleep(10 * GORO_MILLISECOND);
  int conns[20];
  for (int i = 0; i < 20; i++) conns[i] = dial_local(port);
  for (int i = 0; i < 20; i++) {
    int v;
    ASSERT_OK(goro_chan_recv(ch, &v, NULL));
    ASSERT_EQ(v, 1);
  }
  for (int i = 0; i < 20; i++) goro_close(conns[i]);
  /* All four acceptors are parked on the listener; closing it wakes each
   * with GORO_ECLOSED, promptly. */
  goro_sleep(10 * GORO_MILLISECOND);
  int64_t t0 = goro_now();
  ASSERT_OK(goro_close(lfd));
  for (int i = 0; i < 4; i++) {
    int v;
    ASSERT_OK(goro_chan_recv(ch, &v, NULL));
    /* A parked acceptor gets GORO_ECLOSED; one that happened to be
     * between a wake-up and its retry finds the fd gone (EBADF). */
    ASSERT(v == GORO_ECLOSED || v == GORO_EBADF);
  }
  ASSERT_LT(goro_now() - t0, 500 * GORO_MILLISECOND);
  goro_chan_release(ch);
}

static void blocked_reader(void *arg) {
  void **a = arg;
  int fd = (int)(intptr_t)a[0];
  goro_chan *ch = a[1];
  char buf[16];
  int r = (int)goro_read(fd, buf, sizeof buf);
  goro_chan_send(ch, &r);
}

GTEST_T(net_close_wakes_reader, 20000) {
  int lfd, c;
  int s = connect_pair(&lfd, &c);
  goro_chan *ch;
  ASSERT_OK(goro_chan_make(&ch, sizeof(int), 1));
  void *args[2] = {(void *)(intptr_t)c, ch};
  goro_go(blocked_reader, args);
  goro_sleep(20 * GORO_MILLISECOND);
  int dummy;
  ASSERT_ERR(goro_chan_try_recv(ch, &dummy, NULL), GORO_EAGAIN); /* still blocked */
  int64_t t0 = goro_now();
  ASSERT_OK(goro_close(c));
  int r;
  ASSERT_OK(goro_chan_recv(ch, &r, NULL));
  ASSERT_EQ(r, GORO_ECLOSED);
  ASSERT_LT(goro_now() - t0, 200 * GORO_MILLISECOND);
  goro_chan_release(ch);
  goro_close(s);
  goro_close(lfd);
}

/* ------------------------------------------------------------------ */
/* EMFILE on accept                                                     */
/* ------------------------------------------------------------------ */

typedef struct {
  int lfd;
  _Atomic int emfiles;
  _Atomic int accepted;
  _Atomic int exited; /* the server's last access to this struct */
} emfile_srv;

static void emfile_server(void *arg) {
  emfile_srv *s = arg;
  for (;;) {
    int fd = goro_accept(s->lfd, NULL, NULL);
    if (fd == GORO_EMFILE) {
      atomic_fetch_add(&s->emfiles, 1);
      goro_sleep(2 * GORO_MILLISECOND); /* back off, as Go's servers do */
      continue;
    }
    if (fd < 0) break;
    atomic_fetch_add(&s->accepted, 1);
    goro_go(echo_conn, (void *)(intptr_t)fd);
  }
  atomic_store(&s->exited, 1);
}

GTEST_T(net_accept_emfile_keeps_serving, 20000) {
  struct rlimit rl;
  ASSERT_OK(getrlimit(RLIMIT_NOFILE, &rl));
  rl.rlim_cur = 256;
  ASSERT_OK(setrlimit(RLIMIT_NOFILE, &rl));
  int port;
  emfile_srv s = {.lfd = listen_local(&port)};
  goro_go(emfile_server, &s);
  int c1 = dial_local(port);
  char b[2];
  ASSERT_EQ(goro_write(c1, "a", 1), 1);
  read_full(c1, b, 1);
  ASSERT_EQ(atomic_load(&s.accepted), 1);

  /* Use up every descriptor but one, then dial with it: the kernel
   * completes the connection, and the server's accept gets EMFILE. */
  int dummies[300], nd = 0;
  for (;;) {
    int d = dup(0 <= c1 ? c1 : 0);
    if (d < 0) break;
    ASSERT_LT(nd, 300);
    dummies[nd++] = d;
  }
  ASSERT_GT(nd, 1);
  close(dummies[--nd]);
  int c2 = dial_local(port);
  for (int i = 0; i < 200 && atomic_load(&s.emfiles) == 0; i++) goro_sleep(GORO_MILLISECOND);
  ASSERT_GT(atomic_load(&s.emfiles), 0);
  ASSERT_EQ(atomic_load(&s.accepted), 1);
  /* The first connection is still served. */
  ASSERT_EQ(goro_write(c1, "b", 1), 1);
  read_full(c1, b, 1);
  ASSERT_EQ(b[0], 'b');
  /* Free some descriptors: the pending connection gets accepted and served. */
  for (int i = 0; i < 8; i++) close(dummies[--nd]);
  ASSERT_EQ(goro_write(c2, "c", 1), 1);
  read_full(c2, b, 1);
  ASSERT_EQ(b[0], 'c');
  ASSERT_EQ(atomic_load(&s.accepted), 2);
  while (nd > 0) close(dummies[--nd]);
  goro_close(c1);
  goro_close(c2);
  goro_close(s.lfd);
  /* s lives in this frame: the server reads it until its accept fails. */
  WAIT_REACHES(&s.exited, 1, 10, goro_sleep(GORO_MILLISECOND));
}

/* ------------------------------------------------------------------ */
/* resets, half-close                                                  */
/* ------------------------------------------------------------------ */

static void reset_close(int fd) {
  struct linger lg = {1, 0};
  ASSERT_OK(setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg));
  ASSERT_OK(goro_close(fd));
}

GTEST_T(net_peer_reset, 20000) {
  int lfd, c;
  /* read sees the reset (the reader is parked when it arrives) */
  int s = connect_pair(&lfd, &c);
  goro_chan *ch;
  ASSERT_OK(goro_chan_make(&ch, sizeof(int), 1));
  void *args[2] = {(void *)(intptr_t)c, ch};
  goro_go(blocked_reader, args);
  goro_sleep(10 * GORO_MILLISECOND);
  reset_close(s);
  int r;
  ASSERT_OK(goro_chan_recv(ch, &r, NULL));
  ASSERT_ERR(r, GORO_ECONNRESET);
  goro_close(c);

  /* write sees the reset */
  c = dial_local(local_port(lfd));
  s = goro_accept(lfd, NULL, NULL);
  ASSERT_GE(s, 0);
  reset_close(s);
  goro_sleep(10 * GORO_MILLISECOND);
  ASSERT_ERR(goro_write(c, "x", 1), GORO_ECONNRESET);
  /* and later writes fail with a broken pipe, without killing us */
  ASSERT_ERR(goro_write(c, "x", 1), GORO_EPIPE);
  goro_close(c);
  goro_chan_release(ch);
  goro_close(lfd);
}

GTEST_T(net_half_close, 20000) {
  int lfd, c;
  int s = connect_pair(&lfd, &c);
  ASSERT_EQ(goro_write(c, "ping", 4), 4);
  ASSERT_OK(goro_shutdown(c, SHUT_WR));
  char buf[8];
  read_full(s, buf, 4);
  ASSERT(memcmp(buf, "ping", 4) == 0);
  ASSERT_EQ(goro_read(s, buf, sizeof buf), 0); /* end of stream */
  ASSERT_EQ(goro_write(s, "pong", 4), 4);      /* the other way still works */
  ASSERT_OK(goro_close(s));
  read_full(c, buf, 4);
  ASSERT(memcmp(buf, "pong", 4) == 0);
  ASSERT_EQ(goro_read(c, buf, sizeof buf), 0);
  goro_close(c);
  goro_close(lfd);
}

/* ------------------------------------------------------------------ */
/* reads after a read that emptied the socket                           */
/* ------------------------------------------------------------------ */

/* A TCP read that empties the socket lets the next read wait for an event
 * without trying the call first (netpoll.c).  Every case below would hang
 * if a read were skipped while bytes, an end of stream or a reset were
 * pending; the deadlines turn such a hang into a failure. */

#define SOON (goro_now() + 2 * GORO_SECOND)

/* Until fd has n bytes queued (the kernel may finish a loopback send's
 * delivery after the send returns, on a loaded machine). */
static void wait_bytes(int fd, int n) {
  int64_t dl = goro_now() + 5 * GORO_SECOND;
  for (int avail = 0; avail < n; goro_sleep(100 * GORO_MICROSECOND)) {
    ASSERT_OK(ioctl(fd, FIONREAD, &avail));
    ASSERT_LT(goro_now(), dl);
  }
}

static void delayed_write(void *arg) {
  void **a = arg;
  goro_sleep(5 * GORO_MILLISECOND);
  size_t n = (size_t)(intptr_t)a[1];
  ASSERT_EQ(goro_write((int)(intptr_t)a[0], a[2], n), (ssize_t)n);
}

/* Both ends of a TCP connection, dialed and accepted, skip the call after
 * a read that emptied the socket, and make it again once bytes are
 * pending or the peer hung up. */
/* delayed_write's arguments; writes once a goroutine waits in the poller
 * (the reader: nothing else in the test waits there). */
static void write_when_reader_waits(void *arg) {
  void **a = arg;
  while (atomic_load(&goro__netpoll_waiters) == 0) goro_sleep(50 * GORO_MICROSECOND);
  size_t n = (size_t)(intptr_t)a[1];
  ASSERT_EQ(goro_write((int)(intptr_t)a[0], a[2], n), (ssize_t)n);
}

GTEST_T(net_read_skips_call_after_emptying, 20000) {
  int lfd, c;
  int s = connect_pair(&lfd, &c);
  char buf[16];
  /* The writes come from another goroutine once the reader waits in the poller, so
   * that the poller has counted the event before the read that takes the
   * bytes (a read that beats the poller to its bytes records a count the
   * event then moves on: its next read makes the call, and fails). */
  char ping[] = "ping", pong[] = "pong", six[] = "abcdef";
  for (int round = 0; round < 10; round++) {
    void *a[3] = {(void *)(intptr_t)c, (void *)(intptr_t)4, ping};
    ASSERT_GT(goro_go(write_when_reader_waits, a), 0);
    read_full(s, buf, 4);
    ASSERT(goro__pd_read_would_wait(s));
    void *b[3] = {(void *)(intptr_t)s, (void *)(intptr_t)4, pong};
    ASSERT_GT(goro_go(write_when_reader_waits, b), 0);
    read_full(c, buf, 4);
    ASSERT(goro__pd_read_would_wait(c));
  }
  /* Reads in smaller pieces than arrived: not empty after the first. */
  void *a[3] = {(void *)(intptr_t)c, (void *)(intptr_t)6, six};
  ASSERT_GT(goro_go(write_when_reader_waits, a), 0);
  ASSERT_EQ(goro_read_dl(s, buf, 3, SOON), 3);
  ASSERT(!goro__pd_read_would_wait(s));
  ASSERT_EQ(goro_read_dl(s, buf, 3, SOON), 3);
  ASSERT(goro__pd_read_would_wait(s));
  /* A hang-up turns the skipping off. */
  ASSERT_OK(goro_shutdown(c, SHUT_WR));
  ASSERT_EQ(goro_read_dl(s, buf, sizeof buf, SOON), 0);
  ASSERT(!goro__pd_read_would_wait(s));
  /* Sockets that are not TCP never skip. */
  int p[2];
  ASSERT_OK(pipe2(p, O_NONBLOCK));
  ASSERT_EQ(write(p[1], "x", 1), 1);
  ASSERT_EQ(goro_read(p[0], buf, 1), 1);
  ASSERT(!goro__pd_read_would_wait(p[0]));
  close(p[0]);
  close(p[1]);
  goro_close(c);
  goro_close(s);
  goro_close(lfd);
}

typedef struct {
  int fd;
  ssize_t r;
} foreign_read_arg;

static void *foreign_read(void *arg) {
  foreign_read_arg *a = arg;
  char b[4];
  a->r = goro_read(a->fd, b, sizeof b);
  return NULL;
}

/* Reads that must make the call even though the socket was left empty:
 * zero bytes asked for, a deadline that passed, a thread that is not a
 * goroutine (and so cannot wait). */
GTEST_T(net_read_edge_cases_after_emptying, 20000) {
  int lfd, c;
  int s = connect_pair(&lfd, &c);
  char buf[8];
  ASSERT_EQ(goro_write(c, "x", 1), 1);
  read_full(s, buf, 1);
  /* Nothing pending: zero-byte reads return 0 at once, like read(2). */
  ASSERT_EQ(goro_read(s, buf, 0), 0);
  struct iovec none[2] = {{buf, 0}, {buf + 1, 0}};
  ASSERT_EQ(goro_readv(s, none, 2), 0);
  ASSERT_EQ(goro_readv(s, none, 0), 0);
  /* A passed deadline still makes the call once: the bytes are read. */
  ASSERT_EQ(goro_write(c, "hello", 5), 5);
  wait_bytes(s, 5);
  ASSERT_EQ(goro_read_dl(s, buf, sizeof buf, goro_now() - 1), 5);
  ASSERT_ERR(goro_read_dl(s, buf, sizeof buf, goro_now() - 1), GORO_ETIMEDOUT);
  /* A thread that is not a goroutine gets an error, not a crash. */
  foreign_read_arg fa = {s, 0};
  pthread_t t;
  ASSERT_OK(pthread_create(&t, NULL, foreign_read, &fa));
  ASSERT_OK(pthread_join(t, NULL));
  ASSERT_ERR(fa.r, GORO_ENOTGOROUTINE);
  goro_close(c);
  goro_close(s);
  goro_close(lfd);
}

static _Atomic int spin_stop, spinners_done, first_spinner_ran, reader_waited_first;

/* Keeps a processor busy.  The first one to run notes whether a goroutine
 * (the reader: nothing else in the test waits there) was waiting in the
 * poller when it started. */
static void spin_until_stopped(void *arg) {
  (void)arg;
  if (atomic_exchange(&first_spinner_ran, 1) == 0)
    atomic_store(&reader_waited_first, atomic_load(&goro__netpoll_waiters) > 0);
  int64_t limit = goro_now() + 200 * GORO_MILLISECOND;
  while (!atomic_load(&spin_stop) && goro_now() < limit) {
  }
  atomic_fetch_add(&spinners_done, 1);
}

/* Bytes already queued when a read comes some time after the one that
 * emptied the socket are read at once, even when every processor is
 * busy: the read makes the call instead of waiting in the poller (whose
 * next poll would come only when the processors run out of work, or from
 * sysmon within 10 ms). */
GTEST_T(net_read_queued_bytes_on_busy_processors, 20000) {
  int lfd, c;
  int s = connect_pair(&lfd, &c);
  char buf[8];
  for (int round = 0; round < 5; round++) {
    ASSERT_EQ(goro_write(c, "a", 1), 1);
    read_full(s, buf, 1); /* empties the socket */
    ASSERT_EQ(write(c, "b", 1), 1); /* plain write: this goroutine keeps running */
    int avail = 0;
    while (avail == 0) ASSERT_OK(ioctl(s, FIONREAD, &avail));
    int64_t t = goro_now();
    while (goro_now() - t < 200 * GORO_MICROSECOND) {
    }
    atomic_store(&spin_stop, 0);
    atomic_store(&spinners_done, 0);
    atomic_store(&first_spinner_ran, 0);
    atomic_store(&reader_waited_first, 0);
    int spinners = 2 * goro_maxprocs(0) + 1;
    for (int i = 0; i < spinners; i++) ASSERT_GT(goro_go(spin_until_stopped, NULL), 0);
    ssize_t r = goro_read_dl(s, buf, 1, goro_now() + 5 * GORO_SECOND);
    atomic_store(&spin_stop, 1);
    ASSERT_EQ(r, 1);
    ASSERT_EQ(buf[0], 'b');
    WAIT_REACHES(&spinners_done, spinners, 10, goro_sleep(GORO_MILLISECOND));
    /* With one processor, a spinner runs before the read returns only if
     * the reader waited in the poller, or was preempted (then it was not
     * waiting when the spinner started).  With more processors spinners
     * run anyway. */
    if (goro_maxprocs(0) == 1) ASSERT(!atomic_load(&reader_waited_first));
  }
  goro_close(c);
  goro_close(s);
  goro_close(lfd);
}

GTEST_T(net_read_after_partial_read, 20000) {
  int lfd, c;
  int s = connect_pair(&lfd, &c);
  char out[128], in[128];
  for (int i = 0; i < (int)sizeof out; i++) out[i] = (char)i;
  for (int round = 0; round < 20; round++) {
    /* The reader empties the socket (parks), then 128 bytes arrive in
     * one segment and it reads them 64 at a time: the second read must
     * not wait for another event. */
    void *a[3] = {(void *)(intptr_t)s, (void *)(intptr_t)sizeof out, out};
    ASSERT_GT(goro_go(delayed_write, a), 0);
    memset(in, 0, sizeof in);
    ASSERT_EQ(goro_read_dl(c, in, 64, SOON), 64);
    ASSERT_EQ(goro_read_dl(c, in + 64, 64, SOON), 64);
    ASSERT(memcmp(in, out, sizeof in) == 0);
    /* Already here: a deadline-0 read still tries the call. */
    ASSERT_EQ(goro_write(s, out, 3), 3);
    wait_bytes(c, 3);
    ASSERT_EQ(goro_read_dl(c, in, 3, 0), 3);
    ASSERT_ERR(goro_read_dl(c, in, 3, 0), GORO_ETIMEDOUT);
    /* readv reads the same way. */
    ASSERT_EQ(goro_write(s, out, 10), 10);
    struct iovec iov[2] = {{in, 4}, {in + 4, 2}};
    ASSERT_EQ(goro_readv_dl(c, iov, 2, SOON), 6);
    ASSERT_EQ(goro_readv_dl(c, iov, 2, SOON), 4);
    ASSERT(memcmp(in, out + 6, 4) == 0);
  }
  goro_close(c);
  goro_close(s);
  goro_close(lfd);
}

/* The end of stream and a reset that arrive right behind the data are
 * seen by the read after the one that took the data. */
GTEST_T(net_read_after_data_then_fin_or_reset, 20000) {
  int port;
  int lfd = listen_local(&port);
  char buf[16];
  for (int round = 0; round < 100; round++) {
    bool reset = round % 2;
    int c = dial_local(port);
    int s = goro_accept(lfd, NULL, NULL);
    ASSERT_GE(s, 0);
    if (round % 4 < 2) {
      /* The reader empties the socket first, then parks. */
      ASSERT_ERR(goro_read_dl(c, buf, sizeof buf, 0), GORO_ETIMEDOUT);
    }
    ASSERT_EQ(goro_write(s, "0123456789", 10), 10);
    if (reset)
      reset_close(s);
    else
      ASSERT_OK(goro_shutdown(s, SHUT_WR));
    ssize_t r = goro_read_dl(c, buf, 10, SOON);
    if (r == 10) {
      ASSERT(memcmp(buf, "0123456789", 10) == 0);
      r = goro_read_dl(c, buf, sizeof buf, SOON);
    }
    if (reset)
      ASSERT(r == GORO_ECONNRESET || r == 0);
    else
      ASSERT_EQ(r, 0);
    if (!reset) goro_close(s);
    goro_close(c);
  }
  goro_close(lfd);
}

typedef struct {
  int fd;
  _Atomic long bytes, sum;
  latch *done;
} shared_reader;

static void small_reader(void *arg) {
  shared_reader *a = arg;
  unsigned char buf[7];
  for (size_t want = 1;; want = want % sizeof buf + 1) {
    ssize_t r = goro_read_dl(a->fd, buf, want, SOON);
    if (r <= 0) {
      ASSERT_EQ(r, 0); /* end of stream, never a timeout */
      break;
    }
    long sum = 0;
    for (ssize_t i = 0; i < r; i++) sum += buf[i];
    atomic_fetch_add(&a->bytes, r);
    atomic_fetch_add(&a->sum, sum);
  }
  latch_done(a->done);
}

/* Two goroutines read one socket in small pieces while the writer sends
 * chunks of every size, sometimes pausing so that the readers park: every
 * byte is read once, and both see the end of stream. */
GTEST_T(net_read_shared_socket_small_pieces, 20000) {
  int lfd, c;
  int s = connect_pair(&lfd, &c);
  latch done;
  latch_init(&done, 2);
  shared_reader a = {.fd = c, .done = &done};
  ASSERT_GT(goro_go(small_reader, &a), 0);
  ASSERT_GT(goro_go(small_reader, &a), 0);
  unsigned char chunk[61];
  long total = 0, sum = 0;
  for (int i = 0; i < 400 * test_stress() + 100; i++) {
    size_t n = (size_t)(i * 7 % (int)sizeof chunk) + 1;
    for (size_t j = 0; j < n; j++) {
      chunk[j] = (unsigned char)(i + j);
      sum += chunk[j];
    }
    ASSERT_EQ(goro_write(s, chunk, n), (ssize_t)n);
    total += (long)n;
    if (i % 5 == 0) goro_sleep(100 * GORO_MICROSECOND);
    else if (i % 3 == 0) goro_yield();
  }
  ASSERT_OK(goro_shutdown(s, SHUT_WR));
  latch_wait(&done, 2);
  ASSERT_EQ(atomic_load(&a.bytes), total);
  ASSERT_EQ(atomic_load(&a.sum), sum);
  goro_close(c);
  goro_close(s);
  goro_close(lfd);
}

/* ------------------------------------------------------------------ */
/* deadlines                                                           */
/* ------------------------------------------------------------------ */

#define MS GORO_MILLISECOND

GTEST_T(net_deadlines, 20000) {
  int port;
  int lfd = listen_local(&port);
  /* deadline 0: try once */
  ASSERT_ERR(goro_accept_dl(lfd, NULL, NULL, 0), GORO_ETIMEDOUT);
  /* a real deadline on accept */
  int64_t t0 = goro_now();
  ASSERT_ERR(goro_accept_dl(lfd, NULL, NULL, t0 + 50 * MS), GORO_ETIMEDOUT);
  int64_t dt = goro_now() - t0;
  ASSERT_GE(dt, 50 * MS);
  ASSERT_LT(dt, 1000 * MS);
  /* a passed deadline */
  ASSERT_ERR(goro_accept_dl(lfd, NULL, NULL, goro_now() - 1), GORO_ETIMEDOUT);

  int c = dial_local(port);
  int s = goro_accept_dl(lfd, NULL, NULL, goro_now() + 1000 * MS);
  ASSERT_GE(s, 0);
  char buf[64];
  ASSERT_ERR(goro_read_dl(c, buf, sizeof buf, 0), GORO_ETIMEDOUT);
  t0 = goro_now();
  ASSERT_ERR(goro_read_dl(c, buf, sizeof buf, t0 + 30 * MS), GORO_ETIMEDOUT);
  dt = goro_now() - t0;
  ASSERT_GE(dt, 30 * MS);
  ASSERT_LT(dt, 1000 * MS);
  /* data before the deadline wins */
  ASSERT_EQ(goro_write(s, "z", 1), 1);
  ASSERT_EQ(goro_read_dl(c, buf, sizeof buf, goro_now() + 1000 * MS), 1);

  /* write: fill the pipe (the peer does not read), then time out */
  int small = 4096;
  setsockopt(c, SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
  setsockopt(s, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  enum { CHUNK = 1 << 20 };
  char *big = calloc(1, CHUNK);
  t0 = goro_now();
  ssize_t w = goro_write_dl(c, big, CHUNK, t0 + 50 * MS);
  ASSERT_ERR(w, GORO_ETIMEDOUT);
  dt = goro_now() - t0;
  ASSERT_GE(dt, 50 * MS);
  ASSERT_LT(dt, 1000 * MS);
  free(big);
  goro_close(c);
  goro_close(s);
  goro_close(lfd);

  /* dial: a listener that never accepts, with a full backlog, drops
   * further SYNs; a dial then times out. */
  int l2 = goro_listen("tcp", "127.0.0.1:0", 1);
  ASSERT_GE(l2, 0);
  char addr[64];
  snprintf(addr, sizeof addr, "127.0.0.1:%d", local_port(l2));
  int held[16], nh = 0;
  bool timed_out = false;
  while (nh < 16) {
    t0 = goro_now();
    int fd = goro_dial("tcp", addr, t0 + 100 * MS);
    if (fd == GORO_ETIMEDOUT) {
      dt = goro_now() - t0;
      ASSERT_GE(dt, 100 * MS);
      ASSERT_LT(dt, 1000 * MS);
      timed_out = true;
      break;
    }
    ASSERT_GE(fd, 0);
    held[nh++] = fd;
  }
  ASSERT(timed_out);
  while (nh > 0) goro_close(held[--nh]);
  goro_close(l2);
}

/* ------------------------------------------------------------------ */
/* pipes, unix, udp, ipv6, resolver                                     */
/* ------------------------------------------------------------------ */

static void late_writer(void *arg) {
  int fd = (int)(intptr_t)arg;
  goro_sleep(20 * MS);
  ASSERT_EQ(goro_write(fd, "p", 1), 1);
}

GTEST_T(net_wait_fd_pipe, 20000) {
  int p[2];
  ASSERT_OK(pipe2(p, O_NONBLOCK | O_CLOEXEC));
  /* a pipe with room is writable at once; an empty one is not readable */
  ASSERT_EQ(goro_wait_fd(p[1], GORO_WRITABLE, GORO_FOREVER), GORO_WRITABLE);
  ASSERT_ERR(goro_wait_fd(p[0], GORO_READABLE, 0), GORO_ETIMEDOUT);
  ASSERT_ERR(goro_wait_fd(p[0], GORO_READABLE, goro_now() + 20 * MS), GORO_ETIMEDOUT);
  goro_go(late_writer, (void *)(intptr_t)p[1]);
  int64_t t0 = goro_now();
  ASSERT_EQ(goro_wait_fd(p[0], GORO_READABLE, GORO_FOREVER), GORO_READABLE);
  ASSERT_GE(goro_now() - t0, 10 * MS);
  char c;
  ASSERT_EQ(goro_read(p[0], &c, 1), 1);
  ASSERT_EQ(c, 'p');
  /* goro_read/goro_write on a pipe (not a socket) park and resume too */
  goro_go(late_writer, (void *)(intptr_t)p[1]);
  ASSERT_EQ(goro_read(p[0], &c, 1), 1);
  ASSERT_EQ(c, 'p');
  /* both directions asked: the ready subset comes back */
  ASSERT_EQ(goro_wait_fd(p[1], GORO_READABLE | GORO_WRITABLE, GORO_FOREVER), GORO_WRITABLE);
  goro_close(p[0]);
  goro_close(p[1]);
}

/* A goroutine waiting for both directions has two waiter records; one
 * event may fire both (readable and writable at once), and only one
 * wake-up may ready it (a second would find it runnable: fatal). */
typedef struct {
  int fd;
  _Atomic int result;
  goro_chan *done;
} both_wait_t;

static void wait_both(void *arg) {
  both_wait_t *w = arg;
  atomic_store(&w->result, goro_wait_fd(w->fd, GORO_READABLE | GORO_WRITABLE, GORO_FOREVER));
  goro_chan_send(w->done, NULL);
}

/* Start wait_both and return once it is parked in the poller.  A wait
 * may also return at once on a readiness flag left by an earlier edge
 * (the caller then retries its call): such a wait is started again. */
static void start_parked_wait_both(both_wait_t *w) {
  for (int tries = 0; tries < 100; tries++) {
    atomic_store(&w->result, 0);
    ASSERT_GT(goro_go(wait_both, w), 0);
    int64_t dl = goro_now() + 5 * GORO_SECOND;
    while (atomic_load(&goro__netpoll_waiters) == 0 && atomic_load(&w->result) == 0) {
      ASSERT(goro_now() < dl);
      goro_sleep(20 * GORO_MICROSECOND);
    }
    if (atomic_load(&goro__netpoll_waiters) > 0) return;
    ASSERT_OK(goro_chan_recv(w->done, NULL, NULL)); /* returned without parking */
  }
  ASSERT(!"the wait never parked");
}

GTEST_T(net_wait_fd_both_directions_wakes_once, 20000) {
  int sv[2];
  ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv));
  int small = 4096;
  setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
  setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  static char junk[65536];
  both_wait_t w = {.fd = sv[0]};
  ASSERT_OK(goro_chan_make(&w.done, 0, 0));
  for (int round = 0; round < 50; round++) {
    /* sv[0]: nothing to read, no room to write. */
    while (write(sv[0], junk, sizeof junk) > 0) {
    }
    start_parked_wait_both(&w);
    /* Make it readable and writable with nothing in between. */
    ASSERT_EQ(write(sv[1], "x", 1), 1);
    while (read(sv[1], junk, sizeof junk) > 0) {
    }
    ASSERT_OK(goro_chan_recv(w.done, NULL, NULL));
    int r = atomic_load(&w.result);
    ASSERT(r > 0 && (r & ~(GORO_READABLE | GORO_WRITABLE)) == 0);
    char c;
    ASSERT_EQ(read(sv[0], &c, 1), 1);
  }
  /* And a close that wakes the same kind of wait. */
  while (write(sv[0], junk, sizeof junk) > 0) {
  }
  start_parked_wait_both(&w);
  ASSERT_OK(goro_close(sv[0]));
  ASSERT_OK(goro_chan_recv(w.done, NULL, NULL));
  ASSERT_EQ(atomic_load(&w.result), GORO_ECLOSED);
  close(sv[1]);
  goro_chan_release(w.done);
}

GTEST_T(net_pipe_closed_reader_is_epipe, 20000) {
  /* Writing to a pipe whose reader is gone returns GORO_EPIPE; the
   * process is not killed by SIGPIPE. */
  int p[2];
  ASSERT_OK(pipe2(p, O_NONBLOCK | O_CLOEXEC));
  ASSERT_EQ(goro_write(p[1], "a", 1), 1);
  goro_close(p[0]);
  ASSERT_ERR(goro_write(p[1], "b", 1), GORO_EPIPE);
  struct iovec iov = {"c", 1};
  ASSERT_ERR(goro_writev(p[1], &iov, 1), GORO_EPIPE);
  goro_close(p[1]);
}

GTEST_T(net_wait_fd_survives_plain_close_and_reuse, 20000) {
  /* A pipe goro did not make, waited on, then closed with close(2): the
   * next pipe may get the same numbers and must still be waitable. */
  int p[2], q[2];
  ASSERT_OK(pipe2(p, O_NONBLOCK | O_CLOEXEC));
  goro_go(late_writer, (void *)(intptr_t)p[1]);
  ASSERT_EQ(goro_wait_fd(p[0], GORO_READABLE, GORO_FOREVER), GORO_READABLE);
  goro_sleep(5 * MS); /* let the writer finish with p[1] */
  close(p[0]);
  close(p[1]);
  ASSERT_OK(pipe2(q, O_NONBLOCK | O_CLOEXEC));
  ASSERT_EQ(q[0], p[0]);
  goro_go(late_writer, (void *)(intptr_t)q[1]);
  ASSERT_EQ(goro_wait_fd(q[0], GORO_READABLE, goro_now() + 5000 * MS), GORO_READABLE);
  char c;
  ASSERT_EQ(goro_read(q[0], &c, 1), 1);
  ASSERT_EQ(c, 'p');
  goro_close(q[0]);
  goro_close(q[1]);
}

GTEST_T(net_unix_sockets, 20000) {
  char path[108];
  snprintf(path, sizeof path, "/tmp/goro-test-%d.sock", (int)getpid());
  unlink(path);
  int lfd = goro_listen("unix", path, 16);
  ASSERT_GE(lfd, 0);
  goro_go(echo_server, (void *)(intptr_t)lfd);
  int c = goro_dial("unix", path, GORO_FOREVER);
  ASSERT_GE(c, 0);
  ASSERT_EQ(goro_write(c, "unix!", 5), 5);
  char buf[5];
  read_full(c, buf, 5);
  ASSERT(memcmp(buf, "unix!", 5) == 0);
  goro_close(c);
  goro_close(lfd);
  unlink(path);

  /* abstract namespace */
  char name[64];
  snprintf(name, sizeof name, "@goro-test-%d", (int)getpid());
  lfd = goro_listen("unix", name, 16);
  ASSERT_GE(lfd, 0);
  goro_go(echo_server, (void *)(intptr_t)lfd);
  c = goro_dial("unix", name, GORO_FOREVER);
  ASSERT_GE(c, 0);
  ASSERT_EQ(goro_write(c, "abst", 4), 4);
  read_full(c, buf, 4);
  ASSERT(memcmp(buf, "abst", 4) == 0);
  goro_close(c);
  goro_close(lfd);

  /* A listener that does not accept: once its backlog is full, a dial
   * fails with GORO_EAGAIN at once, as in Go (nothing is in progress
   * that a wait could see finish). */
  snprintf(name, sizeof name, "@goro-test-full-%d", (int)getpid());
  lfd = goro_listen("unix", name, 1);
  ASSERT_GE(lfd, 0);
  int held[64], nh = 0, r = 0;
  while (nh < 64 && (r = goro_dial("unix", name, GORO_FOREVER)) >= 0) held[nh++] = r;
  ASSERT_ERR(r, GORO_EAGAIN);
  while (nh > 0) goro_close(held[--nh]);
  goro_close(lfd);
}

GTEST_T(net_udp, 20000) {
  int a = goro_udp_bind("udp4", "127.0.0.1:0");
  ASSERT_GE(a, 0);
  int b = goro_udp_bind("udp", "127.0.0.1:0");
  ASSERT_GE(b, 0);
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)local_port(b)),
                           .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  char buf[64];
  struct sockaddr_storage from;
  socklen_t fl = sizeof from;
  /* nothing yet: times out */
  ASSERT_ERR(goro_recvfrom(b, buf, sizeof buf, (struct sockaddr *)&from, &fl, goro_now() + 20 * MS),
             GORO_ETIMEDOUT);
  for (int i = 0; i < 10; i++) {
    char msg[16];
    int n = snprintf(msg, sizeof msg, "dgram %d", i);
    ASSERT_EQ(goro_sendto(a, msg, (size_t)n, (struct sockaddr *)&to, sizeof to, GORO_FOREVER), n);
    fl = sizeof from;
    ssize_t r = goro_recvfrom(b, buf, sizeof buf, (struct sockaddr *)&from, &fl, GORO_FOREVER);
    ASSERT_EQ(r, n);
    ASSERT(memcmp(buf, msg, (size_t)n) == 0);
    ASSERT_EQ(ntohs(((struct sockaddr_in *)&from)->sin_port), local_port(a));
  }
  /* a connected ("dialed") UDP socket with read/write */
  char addr[64];
  snprintf(addr, sizeof addr, "127.0.0.1:%d", local_port(b));
  int c = goro_dial("udp", addr, GORO_FOREVER);
  ASSERT_GE(c, 0);
  ASSERT_EQ(goro_write(c, "hey", 3), 3);
  ASSERT_EQ(goro_read(b, buf, sizeof buf), 3);
  ASSERT(memcmp(buf, "hey", 3) == 0);
  goro_close(a);
  goro_close(b);
  goro_close(c);
}

GTEST_T(net_ipv6_loopback, 20000) {
  int lfd = goro_listen("tcp6", "[::1]:0", 16);
  if (lfd == -EADDRNOTAVAIL || lfd == -EAFNOSUPPORT) TEST_SKIP("no IPv6 loopback");
  ASSERT_GE(lfd, 0);
  goro_go(echo_server, (void *)(intptr_t)lfd);
  char addr[64];
  snprintf(addr, sizeof addr, "[::1]:%d", local_port(lfd));
  int c = goro_dial("tcp", addr, GORO_FOREVER);
  ASSERT_GE(c, 0);
  ASSERT_EQ(goro_write(c, "six", 3), 3);
  char buf[3];
  read_full(c, buf, 3);
  ASSERT(memcmp(buf, "six", 3) == 0);
  goro_close(c);
  goro_close(lfd);
}

GTEST_T(net_bad_addresses, 20000) {
  ASSERT_ERR(goro_listen("tcp", "127.0.0.1", 1), GORO_ENOADDR);
  ASSERT_ERR(goro_listen("tcp", "::1:80", 1), GORO_ENOADDR);
  ASSERT_ERR(goro_listen("sctp", "127.0.0.1:0", 1), GORO_EINVAL);
  ASSERT_ERR(goro_dial("tcp", "127.0.0.1:99999", GORO_FOREVER), GORO_ENOADDR);
  /* nobody listens on a port we just closed */
  int port;
  int lfd = listen_local(&port);
  goro_close(lfd);
  char addr[64];
  snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
  ASSERT_ERR(goro_dial("tcp", addr, GORO_FOREVER), GORO_ECONNREFUSED);
  /* address in use */
  lfd = listen_local(&port);
  snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
  ASSERT_ERR(goro_listen("tcp", addr, 1), GORO_EADDRINUSE);
  goro_close(lfd);
}

GTEST_T(net_getaddrinfo, 20000) {
  struct addrinfo hints = {.ai_socktype = SOCK_STREAM};
  struct addrinfo *res = NULL;
  ASSERT_OK(goro_getaddrinfo("localhost", "80", &hints, &res, NULL));
  ASSERT(res != NULL);
  bool loop = false;
  for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
    if (ai->ai_family == AF_INET &&
        ((struct sockaddr_in *)ai->ai_addr)->sin_addr.s_addr == htonl(INADDR_LOOPBACK))
      loop = true;
    if (ai->ai_family == AF_INET6 &&
        IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr))
      loop = true;
  }
  ASSERT(loop);
  freeaddrinfo(res);
  /* a failure carries the resolver's message */
  struct addrinfo nh = {.ai_flags = AI_NUMERICHOST};
  const char *detail = NULL;
  ASSERT_ERR(goro_getaddrinfo("not-a-number", "80", &nh, &res, &detail), GORO_ENAME);
  ASSERT(detail != NULL && *detail);
  /* names go through the resolver in goro_dial */
  int port;
  int lfd = listen_local(&port);
  goro_go(echo_server, (void *)(intptr_t)lfd);
  char addr[64];
  snprintf(addr, sizeof addr, "localhost:%d", port);
  int c = goro_dial("tcp4", addr, GORO_FOREVER);
  ASSERT_GE(c, 0);
  ASSERT_EQ(goro_write(c, "n", 1), 1);
  char b;
  read_full(c, &b, 1);
  goro_close(c);
  goro_close(lfd);
}

static void resolve_many(void *arg) {
  latch *wg = arg;
  struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_family = AF_INET};
  struct addrinfo *res = NULL;
  ASSERT_OK(goro_getaddrinfo("localhost", "1", &hints, &res, NULL));
  freeaddrinfo(res);
  latch_done(wg);
}

GTEST_T(net_getaddrinfo_concurrent, 20000) {
  /* More callers than resolver threads; all finish, none hold a processor. */
  latch wg;
  latch_init(&wg, 32);
  for (int i = 0; i < 32; i++) goro_go(resolve_many, &wg);
  latch_wait(&wg, 32);
}

/* ------------------------------------------------------------------ */
/* many connections on one processor                                    */
/* ------------------------------------------------------------------ */

typedef struct {
  int port;
  int id;
  latch *wg;
  _Atomic int64_t *bytes;
} client_arg;

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
enum { MANY_ROUNDS = 2, MANY_MSG = 1500 }; /* every connection still checked */
#else
enum { MANY_ROUNDS = 8, MANY_MSG = 1500 };
#endif

static void many_client(void *arg) {
  client_arg *a = arg;
  int fd = dial_local(a->port);
  unsigned char out[MANY_MSG], in[MANY_MSG];
  for (int r = 0; r < MANY_ROUNDS; r++) {
    size_t n = (size_t)(1 + (a->id * 31 + r * 977) % MANY_MSG);
    for (size_t i = 0; i < n; i++) out[i] = (unsigned char)(a->id * 13 + r * 7 + i);
    ASSERT_EQ(goro_write(fd, out, n), n);
    read_full(fd, in, n);
    for (size_t i = 0; i < n; i++)
      if (in[i] != out[i])
        test_fail(__FILE__, __LINE__, "conn %d round %d byte %zu: %u != %u", a->id, r, i, in[i], out[i]);
    atomic_fetch_add(a->bytes, (int64_t)n);
  }
  ASSERT_OK(goro_shutdown(fd, SHUT_WR));
  char b;
  ASSERT_EQ(goro_read(fd, &b, 1), 0);
  goro_close(fd);
  latch_done(a->wg);
}

GTEST_T(net_2000_connections_one_proc, 120000) {
  raise_nofile();
  int old = goro_maxprocs(1);
  int port;
  int lfd = goro_listen("tcp", "127.0.0.1:0", 4096);
  ASSERT_GE(lfd, 0);
  port = local_port(lfd);
  goro_go(echo_server, (void *)(intptr_t)lfd);
  enum { N = 2000 };
  static client_arg args[N];
  latch wg;
  latch_init(&wg, N);
  _Atomic int64_t bytes = 0;
  int64_t want = 0;
  for (int i = 0; i < N; i++) {
    args[i] = (client_arg){port, i, &wg, &bytes};
    for (int r = 0; r < MANY_ROUNDS; r++) want += 1 + (i * 31 + r * 977) % MANY_MSG;
    ASSERT_GT(goro_go(many_client, &args[i]), 0);
  }
  latch_wait(&wg, N);
  ASSERT_EQ(atomic_load(&bytes), want);
  goro_close(lfd);
  goro_maxprocs(old);
}
