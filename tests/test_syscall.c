/* test_syscall.c - blocking calls: the processor is handed to another
 * thread while a goroutine sits in a long system call, regular-file I/O
 * through the blocking-call path, and idle threads made by a burst of
 * blocking calls are released again. */
#include "runner.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static long sleep_ms(void *arg) {
  long ms = (long)(intptr_t)arg;
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0) {
  }
  return ms;
}

typedef struct {
  goro_chan *done;     /* int64_t: finish time */
  _Atomic int blocked_done;
} blk_ctx;

static void blocker(void *arg) {
  blk_ctx *c = arg;
  ASSERT_EQ(goro_blocking(sleep_ms, (void *)(intptr_t)1000), 1000);
  atomic_store(&c->blocked_done, 1);
  int64_t t = mono_ns();
  goro_chan_send(c->done, &t);
}

/* Ping-pong over channels and yields: needs a processor all the time. */
static void worker(void *arg) {
  blk_ctx *c = arg;
  volatile uint64_t x = 0;
  for (int i = 0; i < 2000; i++) {
    for (int k = 0; k < 100; k++) x += (uint64_t)k * i;
    goro_yield();
  }
  int64_t t = mono_ns();
  goro_chan_send(c->done, &t);
}

GTEST_T(syscall_blocking_call_frees_processor, 20000) {
  int old = goro_maxprocs(1);
  blk_ctx c = {0};
  ASSERT_OK(goro_chan_make(&c.done, sizeof(int64_t), 16));
  int64_t t0 = mono_ns();
  goro_go(blocker, &c);
  goro_yield(); /* let the blocker enter its call on our only processor */
  enum { W = 8 };
  for (int i = 0; i < W; i++) goro_go(worker, &c);
  /* The workers finish long before the 1 s call returns. */
  for (int i = 0; i < W; i++) {
    int64_t t;
    ASSERT_OK(goro_chan_recv(c.done, &t, NULL));
    ASSERT_LT(t - t0, 500 * GORO_MILLISECOND);
  }
  ASSERT_EQ(atomic_load(&c.blocked_done), 0);
  int64_t t;
  ASSERT_OK(goro_chan_recv(c.done, &t, NULL));
  ASSERT_EQ(atomic_load(&c.blocked_done), 1);
  ASSERT_GE(t - t0, 1000 * GORO_MILLISECOND);
  goro_stats_t st;
  goro_stats(&st);
  ASSERT_GE(st.handoffs, 1);
  goro_chan_release(c.done);
  goro_maxprocs(old);
}

/* goro_file_read on a pipe that gets data only after a second. */
typedef struct {
  int fd;
  goro_chan *done;
} pipe_ctx;

static void *late_pipe_writer(void *arg) {
  int fd = (int)(intptr_t)arg;
  sleep_ms((void *)(intptr_t)1000);
  ssize_t r = write(fd, "late", 4);
  (void)r;
  return NULL;
}

static void pipe_reader(void *arg) {
  pipe_ctx *c = arg;
  char buf[8];
  ssize_t r = goro_file_read(c->fd, buf, sizeof buf, -1);
  ASSERT_EQ(r, 4);
  ASSERT(memcmp(buf, "late", 4) == 0);
  int64_t t = mono_ns();
  goro_chan_send(c->done, &t);
}

GTEST_T(syscall_file_read_pipe_blocks_thread_not_processor, 20000) {
  int old = goro_maxprocs(1);
  int p[2];
  ASSERT_OK(pipe2(p, O_CLOEXEC)); /* blocking pipe: read blocks the thread */
  pipe_ctx c = {p[0], NULL};
  ASSERT_OK(goro_chan_make(&c.done, sizeof(int64_t), 16));
  blk_ctx wc = {c.done, 0};
  int64_t t0 = mono_ns();
  goro_go(pipe_reader, &c);
  goro_yield();
  pthread_t th;
  ASSERT_OK(pthread_create(&th, NULL, late_pipe_writer, (void *)(intptr_t)p[1]));
  enum { W = 4 };
  for (int i = 0; i < W; i++) goro_go(worker, &wc);
  for (int i = 0; i < W; i++) {
    int64_t t;
    ASSERT_OK(goro_chan_recv(c.done, &t, NULL));
    ASSERT_LT(t - t0, 500 * GORO_MILLISECOND);
  }
  int64_t t;
  ASSERT_OK(goro_chan_recv(c.done, &t, NULL));
  ASSERT_GE(t - t0, 900 * GORO_MILLISECOND);
  pthread_join(th, NULL);
  close(p[0]);
  close(p[1]);
  goro_chan_release(c.done);
  goro_maxprocs(old);
}

GTEST_T(syscall_file_read_write_regular_file, 20000) {
  char path[] = "/tmp/goro-syscall-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  unlink(path);
  enum { N = 1 << 20 };
  unsigned char *out = malloc(N), *in = malloc(N);
  for (int i = 0; i < N; i++) out[i] = (unsigned char)(i * 131 + (i >> 9));
  /* at the current offset */
  ASSERT_EQ(goro_file_write(fd, out, N / 2, -1), N / 2);
  ASSERT_EQ(goro_file_write(fd, out + N / 2, N / 2, -1), N / 2);
  ASSERT_EQ(lseek(fd, 0, SEEK_CUR), N);
  /* at explicit offsets, leaving the offset alone */
  ASSERT_EQ(goro_file_read(fd, in, N, 0), N);
  ASSERT(memcmp(in, out, N) == 0);
  ASSERT_EQ(lseek(fd, 0, SEEK_CUR), N);
  ASSERT_EQ(goro_file_write(fd, "XYZ", 3, 1000), 3);
  memset(in, 0, 16);
  ASSERT_EQ(goro_file_read(fd, in, 5, 999), 5);
  ASSERT_EQ(in[0], out[999]);
  ASSERT(memcmp(in + 1, "XYZ", 3) == 0);
  ASSERT_EQ(in[4], out[1003]);
  /* sequential reads from the current offset, then end of file */
  ASSERT_EQ(lseek(fd, N - 10, SEEK_SET), N - 10);
  ASSERT_EQ(goro_file_read(fd, in, 64, -1), 10);
  ASSERT(memcmp(in, out + N - 10, 10) == 0);
  ASSERT_EQ(goro_file_read(fd, in, 64, -1), 0);
  /* errors come back as negative codes */
  ASSERT_ERR(goro_file_read(-1, in, 1, -1), GORO_EBADF);
  free(out);
  free(in);
  close(fd);
}

/* Idle threads made by a burst of blocking calls go away again. */
static void burst_call(void *arg) {
  goro_chan *done = arg;
  goro_blocking(sleep_ms, (void *)(intptr_t)300);
  goro_chan_send(done, NULL);
}

static int idle_main(void *arg) {
  (void)arg;
  goro_maxprocs(1);
  goro_stats_t st;
  goro_stats(&st);
  int64_t before = st.threads;
  goro_chan *done;
  ASSERT_OK(goro_chan_make(&done, 0, 16));
  enum { B = 8 };
  for (int i = 0; i < B; i++) {
    goro_go(burst_call, done);
    goro_yield(); /* each call is entered on our processor, then handed off */
  }
  int64_t peak = 0;
  for (int i = 0; i < B; i++) {
    goro_stats(&st);
    if (st.threads > peak) peak = st.threads;
    ASSERT_OK(goro_chan_recv(done, NULL, NULL));
  }
  ASSERT_GE(peak, before + 3);
  /* idlethreadtimeout=100: within a couple of seconds the extra threads exit. */
  int64_t t0 = mono_ns();
  for (;;) {
    goro_stats(&st);
    if (st.threads <= before + 1) break;
    if (mono_ns() - t0 > 3 * GORO_SECOND)
      test_fail(__FILE__, __LINE__, "threads still %lld (before %lld, peak %lld)", (long long)st.threads,
                (long long)before, (long long)peak);
    goro_sleep(20 * GORO_MILLISECOND);
  }
  goro_chan_release(done);
  return 0;
}

TEST_T(syscall_idle_threads_released, 20000) {
  setenv("GORO_DEBUG", "idlethreadtimeout=100", 1);
  ASSERT_EQ(goro_run(idle_main, NULL), 0);
}
