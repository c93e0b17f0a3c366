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

enum { CONNS = 1000, MSG = 64 };

static int rounds = 100;
static bool shared_stacks; /* the server's connection goroutines */
static char addr[64];
static _Atomic int failed;
static goro_chan *done;

static void emit(const char *metric, double v) {
  printf("{\"bench\":\"echo_1000\",\"impl\":\"goro\",\"metric\":\"%s\",\"value\":%.6g}\n", metric, v);
  fflush(stdout);
}

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

/* Fork with a pipe from the child to this process: returns the child's
 * pid (0 in the child) and the pipe end each side keeps, or -1. */
static pid_t fork_piped(int *fd) {
  int p[2];
  if (pipe(p) != 0) return -1;
  pid_t pid = fork();
  if (pid < 0) return -1;
  close(p[pid == 0 ? 0 : 1]);
  *fd = p[pid == 0 ? 1 : 0];
  return pid;
}

/* One echo_1000 run: fork the server, run the clients here. */
static int run_echo(bool shared, double *rtt_per_s, double *rss_bytes) {
  shared_stacks = shared;
  int fd;
  pid_t pid = fork_piped(&fd);
  if (pid < 0) return 1;
  if (pid == 0) _exit(goro_run(server_main, (void *)(intptr_t)fd));
  char line[32] = {0};
  ssize_t n = read(fd, line, sizeof line - 1);
  close(fd);
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
  *rtt_per_s = (double)CONNS * rounds / ((double)elapsed / 1e9);
  *rss_bytes = (double)rss;
  return 0;
}

/* run_echo in a child process, so that both modes start from this
 * process as it is now (a server forked after a goro_run here would
 * inherit, and count, the client runtime's pages). */
static int run_echo_child(bool shared, double *rtt_per_s, double *rss_bytes) {
  int fd;
  pid_t pid = fork_piped(&fd);
  if (pid < 0) return 1;
  if (pid == 0) {
    double out[2];
    int r = run_echo(shared, &out[0], &out[1]);
    if (r == 0 && write(fd, out, sizeof out) != (ssize_t)sizeof out) r = 1;
    _exit(r);
  }
  double in[2];
  ssize_t n = read(fd, in, sizeof in);
  close(fd);
  int status = 0;
  waitpid(pid, &status, 0);
  if (n != (ssize_t)sizeof in || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return 1;
  *rtt_per_s = in[0];
  *rss_bytes = in[1];
  return 0;
}

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
  double rtt, rss, rtt_own, rss_own;
  if (run_echo_child(true, &rtt, &rss) != 0 || run_echo_child(false, &rtt_own, &rss_own) != 0)
    return 1;
  emit("rtt_per_s", rtt);
  emit("server_rss_bytes", rss);
  emit("rtt_per_s_own_stacks", rtt_own);
  emit("server_rss_bytes_own_stacks", rss_own);
  return 0;
}
