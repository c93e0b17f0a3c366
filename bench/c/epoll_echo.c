/* epoll_echo.c - the kernel floor of echo_1000: the same TCP echo with no
 * runtime at all, to tell how much of a round trip is the kernel's.
 *
 *   echo_1000  A server process (forked first) and this process each run
 *              one thread with one level-triggered epoll loop: the server
 *              reads up to 64 bytes from each readable connection and
 *              writes them back; the client opens 1,000 connections (one
 *              at a time, blocking connect), sends 64 bytes on each, and
 *              on every reply sends the next until each connection has
 *              done 100 round trips (20 with BENCH_QUICK=1).
 *              rtt_per_s: round trips / wall time from the first connect
 *              to the last reply, as in bench_echo.c.
 *
 * Design: the cheapest correct loop for this exchange.  It reads only
 * when epoll says a connection is readable, so each side makes one read
 * and one write per message (goro makes the same two; Go makes three),
 * with plain read(2) rather than goro's recvmsg with TCP_INQ.  It does
 * nothing a general server must do (no handling of short writes, no
 * partial messages: a 64-byte write to an idle loopback connection is
 * never split), so it is a bound, not a competitor.  Not run by
 * tools/bench.sh; see bench/README.md.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { CONNS = 1000, MSG = 64, BATCH = 128 };

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void die(const char *what) {
  perror(what);
  exit(1);
}

static void no_delay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static void watch(int ep, int fd, uint64_t data) {
  struct epoll_event ev = {.events = EPOLLIN, .data.u64 = data};
  if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) die("epoll_ctl");
}

static void serve(int lfd) {
  int ep = epoll_create1(0);
  if (ep < 0) die("epoll_create1");
  watch(ep, lfd, (uint64_t)lfd);
  struct epoll_event evs[BATCH];
  char buf[MSG];
  for (;;) {
    int n = epoll_wait(ep, evs, BATCH, -1);
    for (int i = 0; i < n; i++) {
      int fd = (int)evs[i].data.u64;
      if (fd == lfd) {
        int c;
        while ((c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
          no_delay(c);
          watch(ep, c, (uint64_t)c);
        }
        continue;
      }
      ssize_t r = read(fd, buf, sizeof buf);
      if (r == 0) close(fd);
      if (r > 0 && write(fd, buf, (size_t)r) != r) die("server write");
    }
  }
}

int main(void) {
  const char *q = getenv("BENCH_QUICK");
  int rounds = q && *q && strcmp(q, "0") != 0 ? 20 : 100;
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t salen = sizeof sa;
  if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(lfd, 4096) != 0 ||
      getsockname(lfd, (struct sockaddr *)&sa, &salen) != 0)
    die("listen");
  pid_t server = fork();
  if (server < 0) die("fork");
  if (server == 0) serve(lfd);
  close(lfd);

  static int fds[CONNS], left[CONNS];
  char buf[MSG];
  memset(buf, 'x', sizeof buf);
  int ep = epoll_create1(0);
  if (ep < 0) die("epoll_create1");
  double t0 = now_s();
  for (int i = 0; i < CONNS; i++) {
    int c = socket(AF_INET, SOCK_STREAM, 0);
    if (c < 0 || connect(c, (struct sockaddr *)&sa, sizeof sa) != 0) die("connect");
    no_delay(c);
    fcntl(c, F_SETFL, O_NONBLOCK);
    fds[i] = c;
    left[i] = rounds;
    watch(ep, c, (uint64_t)i);
    if (write(c, buf, sizeof buf) != MSG) die("client write");
  }
  long done = 0;
  int active = CONNS;
  struct epoll_event evs[BATCH];
  while (active > 0) {
    int n = epoll_wait(ep, evs, BATCH, -1);
    for (int k = 0; k < n; k++) {
      int i = (int)evs[k].data.u64;
      ssize_t r = read(fds[i], buf, sizeof buf);
      if (r != MSG) {
        if (r >= 0) {
          fprintf(stderr, "epoll_echo: short or closed reply (%zd bytes)\n", r);
          return 1;
        }
        continue;
      }
      done++;
      if (--left[i] == 0) {
        close(fds[i]);
        active--;
      } else if (write(fds[i], buf, sizeof buf) != MSG) {
        die("client write");
      }
    }
  }
  double elapsed = now_s() - t0;
  printf("{\"bench\":\"echo_1000\",\"impl\":\"c_epoll\",\"metric\":\"rtt_per_s\",\"value\":%.6g}\n",
         (double)done / elapsed);
  kill(server, SIGKILL);
  waitpid(server, NULL, 0);
  return 0;
}
