/* echo_server.c - a TCP echo server with one goroutine per connection.
 *
 *   echo_server [address]        (default 127.0.0.1:9000)
 *
 * Every accepted connection gets its own goroutine that reads and writes
 * back until the peer closes.  Running out of descriptors (EMFILE) is
 * reported once and the server keeps serving the connections it has,
 * backing off briefly before accepting again, as Go's net/http does.
 * Prints the live connection count every few seconds while it changes. */
#include <goro.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

static _Atomic long live, total;

static void serve(void *arg) {
  int fd = (int)(intptr_t)arg;
  char buf[2048];
  for (;;) {
    ssize_t n = goro_read(fd, buf, sizeof buf);
    if (n <= 0) break;
    if (goro_write(fd, buf, (size_t)n) < 0) break;
  }
  goro_close(fd);
  atomic_fetch_sub(&live, 1);
}

static void reporter(void *arg) {
  (void)arg;
  long last = -1;
  for (;;) {
    goro_sleep(2 * GORO_SECOND);
    long l = atomic_load(&live);
    if (l != last) {
      fprintf(stderr, "echo_server: %ld connections open, %ld served\n", l, atomic_load(&total));
      last = l;
    }
  }
}

static int run(void *arg) {
  const char *addr = arg;
  int lfd = goro_listen("tcp", addr, 4096);
  if (lfd < 0) {
    fprintf(stderr, "echo_server: listen %s: %s\n", addr, goro_strerror(lfd));
    return 1;
  }
  fprintf(stderr, "echo_server: listening on %s\n", addr);
  goro_go(reporter, NULL);
  bool warned = false;
  for (;;) {
    int fd = goro_accept(lfd, NULL, NULL);
    if (fd == GORO_EMFILE || fd == -ENFILE) {
      if (!warned) fprintf(stderr, "echo_server: accept: %s; retrying\n", goro_strerror(fd));
      warned = true;
      goro_sleep(5 * GORO_MILLISECOND);
      continue;
    }
    if (fd < 0) {
      fprintf(stderr, "echo_server: accept: %s\n", goro_strerror(fd));
      return 1;
    }
    atomic_fetch_add(&live, 1);
    atomic_fetch_add(&total, 1);
    if (goro_go(serve, (void *)(intptr_t)fd) < 0) {
      goro_close(fd);
      atomic_fetch_sub(&live, 1);
    }
  }
}

int main(int argc, char **argv) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  const char *addr = argc > 1 ? argv[1] : "127.0.0.1:9000";
  int r = goro_run(run, (void *)addr);
  return r < 0 ? 2 : r;
}
