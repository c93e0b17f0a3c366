/* echo_server.c - a TCP echo server with one goroutine per connection.
 *
 *   echo_server [address]        (default 127.0.0.1:9000)
 *
 * Every accepted connection gets its own goroutine that reads and writes
 * back until the peer closes.  Running out of descriptors (EMFILE) is
 * reported once and the server keeps serving the connections it has,
 * backing off briefly before accepting again, as Go's net/http does.
 * Once a second, while anything happens, prints the open connections, the
 * echoes (reads answered) per second and the server's resident memory.
 * The connection goroutines use GORO_SHARED_STACK (see goro.h): a parked
 * one keeps only the bytes of stack it uses (its 2 KiB buffer and a few
 * hundred bytes of frames) instead of a page. */
#include <goro.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

static _Atomic long live, total, echoes;

/* Resident memory of this process in bytes (VmRSS). */
static long rss_bytes(void) {
  FILE *f = fopen("/proc/self/status", "r");
  if (!f) return -1;
  char line[128];
  long kb = -1;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "VmRSS: %ld kB", &kb) == 1) break;
  fclose(f);
  return kb < 0 ? -1 : kb * 1024;
}

static void serve(void *arg) {
  int fd = (int)(intptr_t)arg;
  char buf[2048];
  for (;;) {
    ssize_t n = goro_read(fd, buf, sizeof buf);
    if (n <= 0) break;
    if (goro_write(fd, buf, (size_t)n) < 0) break;
    atomic_fetch_add_explicit(&echoes, 1, memory_order_relaxed);
  }
  goro_close(fd);
  atomic_fetch_sub(&live, 1);
}

static void reporter(void *arg) {
  (void)arg;
  long last = -1, last_echoes = 0;
  int64_t t0 = goro_now();
  for (;;) {
    goro_sleep(GORO_SECOND);
    int64_t t1 = goro_now();
    long l = atomic_load(&live), e = atomic_load(&echoes);
    if (l != last || e != last_echoes) {
      double per_s = (double)(e - last_echoes) * 1e9 / (double)(t1 - t0);
      fprintf(stderr, "echo_server: %ld connections open, %.0f echoes/s, %ld served, rss %.1f MiB\n",
              l, per_s, atomic_load(&total), (double)rss_bytes() / (1 << 20));
      last = l;
      last_echoes = e;
    }
    t0 = t1;
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
    static const goro_opts per_connection = {.flags = GORO_SHARED_STACK};
    if (goro_go_opts(serve, (void *)(intptr_t)fd, &per_connection) < 0) {
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
