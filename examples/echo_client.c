/* echo_client.c - load generator for echo_server.
 *
 *   echo_client [-n conns] [-r rounds] [-s size] [-H hold_seconds] [-j] address
 *
 * Opens `conns` connections (one goroutine each; default 100), waits until
 * all are established, then each does `rounds` round trips (default 100) of
 * `size` bytes (default 64), checking every byte that comes back.  Reports
 * round trips per second over the whole run.  With -H the connections stay
 * open that many seconds after the run (to hold many concurrent
 * connections from several client processes); -j prints a JSON line.
 * Exit status 0 on success, 1 if any connection failed. */
#include <goro.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static struct {
  const char *addr;
  int conns, rounds, size, hold;
  bool json;
  goro_chan *ready, *start, *done, *release;
  _Atomic int failures;
} cfg = {.conns = 100, .rounds = 100, .size = 64};

static void fail(int id, const char *what, long r) {
  if (atomic_fetch_add(&cfg.failures, 1) < 5)
    fprintf(stderr, "echo_client: conn %d: %s: %s\n", id, what, goro_strerror((int)r));
}

static void conn(void *arg) {
  int id = (int)(intptr_t)arg;
  int fd = goro_dial("tcp", cfg.addr, goro_now() + 30 * GORO_SECOND);
  int ok = fd >= 0;
  if (!ok) fail(id, "dial", fd);
  goro_chan_send(cfg.ready, &ok);
  goro_chan_recv(cfg.start, NULL, NULL); /* closed when everyone is ready */
  if (ok) {
    unsigned char *out = malloc((size_t)cfg.size), *in = malloc((size_t)cfg.size);
    for (int r = 0; r < cfg.rounds && ok; r++) {
      for (int i = 0; i < cfg.size; i++) out[i] = (unsigned char)(id + r + i);
      ssize_t w = goro_write(fd, out, (size_t)cfg.size);
      if (w < 0) {
        fail(id, "write", w);
        ok = 0;
        break;
      }
      int got = 0;
      while (got < cfg.size) {
        ssize_t n = goro_read(fd, in + got, (size_t)(cfg.size - got));
        if (n <= 0) {
          fail(id, n == 0 ? "read: unexpected end of stream" : "read", n);
          ok = 0;
          break;
        }
        got += (int)n;
      }
      if (ok && memcmp(in, out, (size_t)cfg.size) != 0) {
        fail(id, "echo mismatch", 0);
        ok = 0;
      }
    }
    free(out);
    free(in);
  }
  goro_chan_send(cfg.done, NULL);
  if (cfg.hold > 0) goro_chan_recv(cfg.release, NULL, NULL);
  if (fd >= 0) goro_close(fd);
  goro_chan_send(cfg.done, NULL);
}

static int run(void *arg) {
  (void)arg;
  goro_chan_make(&cfg.ready, sizeof(int), 1024);
  goro_chan_make(&cfg.start, 0, 0);
  goro_chan_make(&cfg.done, 0, 1024);
  goro_chan_make(&cfg.release, 0, 0);
  int64_t t_dial = goro_now();
  for (int i = 0; i < cfg.conns; i++) {
    if (goro_go(conn, (void *)(intptr_t)i) < 0) {
      fprintf(stderr, "echo_client: cannot start goroutine %d\n", i);
      return 1;
    }
  }
  int connected = 0;
  for (int i = 0; i < cfg.conns; i++) {
    int ok;
    goro_chan_recv(cfg.ready, &ok, NULL);
    connected += ok;
  }
  int64_t t0 = goro_now();
  goro_chan_close(cfg.start);
  for (int i = 0; i < cfg.conns; i++) goro_chan_recv(cfg.done, NULL, NULL);
  int64_t t1 = goro_now();
  double secs = (double)(t1 - t0) / 1e9;
  double rtts = (double)connected * cfg.rounds / secs;
  if (cfg.json)
    printf("{\"bench\":\"echo_client\",\"impl\":\"goro\",\"conns\":%d,\"rounds\":%d,\"size\":%d,"
           "\"metric\":\"rtt_per_s\",\"value\":%.0f}\n",
           cfg.conns, cfg.rounds, cfg.size, rtts);
  else
    printf("echo_client: %d/%d connections (dialed in %.3f s), %d round trips of %d bytes each: "
           "%.3f s, %.0f round trips/s\n",
           connected, cfg.conns, (double)(t0 - t_dial) / 1e9, cfg.rounds, cfg.size, secs, rtts);
  fflush(stdout);
  if (cfg.hold > 0) {
    fprintf(stderr, "echo_client: holding %d connections for %d s\n", connected, cfg.hold);
    goro_sleep((int64_t)cfg.hold * GORO_SECOND);
  }
  goro_chan_close(cfg.release);
  for (int i = 0; i < cfg.conns; i++) goro_chan_recv(cfg.done, NULL, NULL);
  return atomic_load(&cfg.failures) ? 1 : 0;
}

int main(int argc, char **argv) {
  int c;
  while ((c = getopt(argc, argv, "n:r:s:H:j")) != -1) {
    switch (c) {
      case 'n': cfg.conns = atoi(optarg); break;
      case 'r': cfg.rounds = atoi(optarg); break;
      case 's': cfg.size = atoi(optarg); break;
      case 'H': cfg.hold = atoi(optarg); break;
      case 'j': cfg.json = true; break;
      default:
        fprintf(stderr, "usage: %s [-n conns] [-r rounds] [-s size] [-H hold_s] [-j] address\n", argv[0]);
        return 2;
    }
  }
  if (optind >= argc || cfg.conns <= 0 || cfg.rounds < 0 || cfg.size <= 0) {
    fprintf(stderr, "usage: %s [-n conns] [-r rounds] [-s size] [-H hold_s] [-j] address\n", argv[0]);
    return 2;
  }
  cfg.addr = argv[optind];
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  int r = goro_run(run, NULL);
  return r < 0 ? 2 : r;
}
