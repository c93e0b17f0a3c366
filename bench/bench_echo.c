/* bench_echo.c - TCP echo round trips through the network poller.
 *
 *   echo_1000  A TCP echo server on 127.0.0.1 runs in its own forked
 *              process (one goroutine per connection, 64-byte reads echoed
 *              back).  This process opens 1,000 connections from 1,000
 *              goroutines, each doing 100 round trips of 64 bytes (write
 *              64, read 64; 20 with BENCH_QUICK=1).
 *              rtt_per_s: total round trips / wall time from the first dial
 *              to the last reply.  server_rss_bytes: the server process's
 *              peak resident set (VmHWM).  The server's connection
 *              goroutines use GORO_SHARED_STACK, as goro.h recommends for
 *              such goroutines; the same run with ordinary stacks is
 *              reported as rtt_per_s_own_stacks and
 *              server_rss_bytes_own_stacks (no Go counterpart).
 *
 * Same shape as bench/go/echo.go.  The server is forked before either
 * runtime starts, so each process has its own runtime and nothing of the
 * client is counted in the server's memory.
 */
#include <goro.h>

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "bench_util.h"

enum { CONNS = 1000, MSG = 64 };

static int rounds = 100;
static bool shared_stacks; /* the server's connection goroutines */
static char addr[64];
static _Atomic int failed;
static goro_chan *done;


/* ---- server process ---- */

static void serve(void *arg) {
  int fd = (int)(intptr_t)arg;
  char buf[MSG];
  for (;;) {
    ssize_t n = goro_read(fd, buf, sizeof buf);
    if (n <= 0) break;
    if (goro_write(fd, buf, (size_t)n) < 0) break;
  }
  goro_close(fd);
}

static int server_main(void *arg) {
  int wfd = (int)(intptr_t)arg;
  int lfd = goro_listen("tcp", "127.0.0.1:0", 4096);
  if (lfd < 0) {
    fprintf(stderr, "bench_echo: listen: %s\n", goro_strerror(lfd));
    return 1;
  }
  struct sockaddr_in sa;
  socklen_t len = sizeof sa;
  getsockname(lfd, (struct sockaddr *)&sa, &len);
  char line[32];
  int n = snprintf(line, sizeof line, "%d\n", ntohs(sa.sin_port));
  if (write(wfd, line, (size_t)n) != n) return 1;
  close(wfd);
  for (;;) {
    int fd = goro_accept(lfd, NULL, NULL);
    if (fd < 0) {
      goro_sleep(GORO_MILLISECOND);
      continue;
    }
    goro_opts o = {.flags = shared_stacks ? GORO_SHARED_STACK : 0};
    goro_go_opts(serve, (void *)(intptr_t)fd, &o);
  }
}

/* ---- client process ---- */

static void client(void *arg) {
  (void)arg;
  int fd = -1;
  for (int t = 0; t < 50; t++) {
    fd = goro_dial("tcp", addr, GORO_FOREVER);
    if (fd >= 0) break;
    goro_sleep(10 * GORO_MILLISECOND);
  }
  if (fd < 0) {
    atomic_fetch_add(&failed, 1);
    goro_chan_send(done, NULL);
    return;
  }
  char msg[MSG], reply[MSG];
  memset(msg, 'x', sizeof msg);
  for (int r = 0; r < rounds; r++) {
    if (goro_write(fd, msg, MSG) != MSG) {
      atomic_fetch_add(&failed, 1);
      break;
    }
    size_t got = 0;
    while (got < MSG) {
      ssize_t n = goro_read(fd, reply + got, MSG - got);
      if (n <= 0) break;
      got += (size_t)n;
    }
    if (got < MSG) {
      atomic_fetch_add(&failed, 1);
      break;
    }
  }
  goro_close(fd);
  goro_chan_send(done, NULL);
}

static int client_main(void *arg) {
  int64_t *elapsed = arg;
  goro_chan_make(&done, 0, CONNS);
  int64_t t0 = goro_now();
  for (int i = 0; i < CONNS; i++) goro_go(client, NULL);
  for (int i = 0; i < CONNS; i++) goro_chan_recv(done, NULL, NULL);
  *elapsed = goro_now() - t0;
  goro_chan_release(done);
  return 0;
}

static long long peak_rss(pid_t pid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  char line[256];
  long long kb = -1;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "VmHWM: %lld kB", &kb) == 1) break;
  fclose(f);
  return kb < 0 ? -1 : kb * 1024;
}

/* One echo_1000 run: fork the server, run the clients here, emit the
 * two metrics (with suffix appended to their names). */
static int run_echo(bool shared, const char *suffix) {
  shared_stacks = shared;
  int p[2];
  if (pipe(p) != 0) return 1;
  pid_t pid = fork();
  if (pid < 0) return 1;
  if (pid == 0) {
    close(p[0]);
    _exit(goro_run(server_main, (void *)(intptr_t)p[1]));
  }
  close(p[1]);
  char line[32] = {0};
  ssize_t n = read(p[0], line, sizeof line - 1);
  close(p[0]);
  if (n <= 0) {
    fprintf(stderr, "bench_echo: server gave no port\n");
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return 1;
  }
  snprintf(addr, sizeof addr, "127.0.0.1:%d", atoi(line));
  int64_t elapsed = 0;
  int r = goro_run(client_main, &elapsed);
  long long rss = peak_rss(pid);
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  if (r != 0 || atomic_load(&failed) > 0) {
    fprintf(stderr, "bench_echo: %d connections failed\n", atomic_load(&failed));
    return 1;
  }
  char metric[64];
  snprintf(metric, sizeof metric, "rtt_per_s%s", suffix);
  emit("echo_1000", metric, (double)CONNS * rounds / ((double)elapsed / 1e9));
  snprintf(metric, sizeof metric, "server_rss_bytes%s", suffix);
  emit("echo_1000", metric, (double)rss);
  return 0;
}

static int run_shared(void *arg) { return run_echo(true, (const char *)arg); }
static int run_own(void *arg) { return run_echo(false, (const char *)arg); }

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "echo_1000") != 0) {
    fprintf(stderr, "bench_echo: unknown benchmark %s\n", argv[1]);
    return 2;
  }
  const char *q = getenv("BENCH_QUICK");
  if (q && *q && strcmp(q, "0") != 0) rounds = 20;
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  /* Each mode in a child of this process as it is now: a server forked
   * after a goro_run here would inherit, and count, the client runtime's
   * pages. */
  if (run_in_child("bench_echo", "echo_1000", 600, run_shared, "") != 0) return 1;
  return run_in_child("bench_echo", "echo_1000 (own stacks)", 600, run_own, "_own_stacks");
}
