/* runner.c - the test driver behind runner.h.
 *
 * Tests register themselves from constructors (TEST_REG_ in runner.h), so
 * this file never lists them.  `goro_tests` with no test-selecting option
 * runs every test (or those whose name contains one of the filter
 * arguments) in a child process: fork, then exec of /proc/self/exe with
 * `--run NAME`.  Exec rather than a bare fork gives each test a pristine
 * process: no runtime state, threads or sanitizer bookkeeping from the
 * parent, and constructors run afresh.
 *
 * The child is made the leader of a new process group so that a timeout
 * kills it together with anything it started.  Its stdout and stderr go
 * to one pipe that the parent drains while it waits (a full pipe would
 * otherwise stall the child); the captured text is printed, indented, when
 * the test fails, and a crash test passes when it contains the expected
 * text and the exit status matches (death by signal s counts as 128 + s,
 * as a shell reports it).
 *
 * `-j N` keeps up to N children running at once; results are printed in
 * completion order, one TAP-like line each, then the summary line
 * "N passed, N failed[, N skipped]" that CI scripts parse.
 *
 * Inside the child (`--run NAME`, also usable directly under a debugger):
 * a TEST body is called on the main thread; a GTEST or CRASH_TEST body is
 * the main goroutine of goro_run, and goro_run must return 0.  A failed
 * assertion writes "test failure: file:line: message" to stderr and ends
 * the process with _exit(1) (other threads may still be running runtime
 * code, so no exit handlers run).  test_skip exits with status 77.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "runner.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SKIP_STATUS 77
#define FAIL_MARK "test failure: "
#define SKIP_MARK "test skipped: "

static const test_entry **tests;
static size_t ntests, captests;

void test_register(const test_entry *e) {
  if (ntests == captests) {
    captests = captests ? captests * 2 : 64;
    tests = realloc(tests, captests * sizeof *tests);
    if (!tests) {
      fputs("runner: out of memory\n", stderr);
      _exit(2);
    }
  }
  tests[ntests++] = e;
}

int test_stress(void) {
  const char *s = getenv("GORO_TEST_STRESS");
  if (!s || !*s) return 1;
  int v = atoi(s);
  return v < 0 ? 0 : v > 3 ? 3 : v;
}

void test_fail(const char *file, int line, const char *fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  fflush(stdout);
  fprintf(stderr, FAIL_MARK "%s:%d: %s\n", file, line, buf);
  fflush(stderr);
  _exit(1);
}

void test_skip(const char *fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  fflush(stdout);
  fprintf(stderr, SKIP_MARK "%s\n", buf);
  fflush(stderr);
  _exit(SKIP_STATUS);
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double timeout_multiplier(void) {
  const char *s = getenv("GORO_TEST_TIMEOUT_MULTIPLIER");
  double m = s && *s ? atof(s) : 1.0;
  return m > 0 ? m : 1.0;
}

static const test_entry *find_test(const char *name) {
  for (size_t i = 0; i < ntests; i++)
    if (strcmp(tests[i]->name, name) == 0) return tests[i];
  return NULL;
}

/* ------------------------------------------------------------------ */
/* In the child                                                        */
/* ------------------------------------------------------------------ */

static int gtest_main(void *arg) {
  const test_entry *e = arg;
  e->fn();
  return 0;
}

static int run_in_process(const test_entry *e) {
  if (!e->goroutine) {
    e->fn();
  } else {
    int rc = goro_run(gtest_main, (void *)e);
    if (rc != 0) {
      fflush(stdout);
      fprintf(stderr, FAIL_MARK "%s: goro_run returned %d (%s)\n", e->file, rc,
              goro_strerror(rc));
      fflush(stderr);
      _exit(1);
    }
  }
  fflush(stdout);
  fflush(stderr);
  /* Goroutines still alive are abandoned, as when Go's main returns. */
  _exit(0);
}

/* ------------------------------------------------------------------ */
/* In the parent                                                       */
/* ------------------------------------------------------------------ */

typedef struct job {
  const test_entry *e;
  pid_t pid;
  int fd;          /* read end of the child's stdout+stderr, -1 at EOF */
  char *out;
  size_t len, cap;
  int64_t start, deadline;
  int64_t limit_ms;
} job;

static void job_read(job *j) {
  for (;;) {
    if (j->cap - j->len < 4096) {
      j->cap = j->cap ? j->cap * 2 : 8192;
      j->out = realloc(j->out, j->cap + 1);
      if (!j->out) {
        fputs("runner: out of memory\n", stderr);
        exit(2);
      }
    }
    ssize_t n = read(j->fd, j->out + j->len, j->cap - j->len);
    if (n > 0) {
      j->len += (size_t)n;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
      close(j->fd);
      j->fd = -1;
    }
    break;
  }
  if (j->out) j->out[j->len] = 0;
}

static const char *self_exe;

static int job_start(job *j, const test_entry *e) {
  int p[2];
  memset(j, 0, sizeof *j);
  j->e = e;
  if (pipe2(p, O_CLOEXEC) < 0) return -1;
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid < 0) {
    close(p[0]);
    close(p[1]);
    return -1;
  }
  if (pid == 0) {
    setpgid(0, 0);
    struct rlimit rl = {0, 0};
    setrlimit(RLIMIT_CORE, &rl); /* crash tests must not litter cores */
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    dup2(p[1], 1);
    dup2(p[1], 2);
    char *argv[] = {(char *)self_exe, "--run", (char *)e->name, NULL};
    execv("/proc/self/exe", argv);
    execv(self_exe, argv);
    fprintf(stderr, "runner: exec failed: %s\n", strerror(errno));
    _exit(127);
  }
  setpgid(pid, pid); /* also here: no race with the kill on timeout */
  close(p[1]);
  fcntl(p[0], F_SETFL, O_NONBLOCK);
  j->pid = pid;
  j->fd = p[0];
  j->start = now_ms();
  j->limit_ms = (int64_t)(e->timeout_ms * timeout_multiplier());
  const char *cap = getenv("GORO_TEST_TIME_CAP_MS"); /* bounds a whole CI run */
  if (cap && atoll(cap) > 0 && j->limit_ms > atoll(cap)) j->limit_ms = atoll(cap);
  j->deadline = j->start + j->limit_ms;
  return 0;
}

/* The last line of the output containing mark, without the mark. */
static void find_mark(const char *out, const char *mark, char *dst, size_t n) {
  dst[0] = 0;
  if (!out) return;
  const char *p = out, *last = NULL;
  while ((p = strstr(p, mark))) last = p++;
  if (!last) return;
  last += strlen(mark);
  size_t k = strcspn(last, "\n");
  if (k >= n) k = n - 1;
  memcpy(dst, last, k);
  dst[k] = 0;
}

static void print_output(const char *out) {
  if (!out || !*out) return;
  const char *p = out;
  while (*p) {
    size_t k = strcspn(p, "\n");
    printf("#   %.*s\n", (int)k, p);
    p += k;
    if (*p == '\n') p++;
  }
}

enum { R_PASS, R_FAIL, R_SKIP };

static int job_finish(job *j, int status, bool timed_out, int seq) {
  const test_entry *e = j->e;
  int64_t ms = now_ms() - j->start;
  int code = WIFEXITED(status) ? WEXITSTATUS(status)
             : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : -1;
  char why[600] = "";
  int r;
  if (timed_out) {
    snprintf(why, sizeof why, "timed out after %lld ms", (long long)j->limit_ms);
    r = R_FAIL;
  } else if (code == SKIP_STATUS) {
    r = R_SKIP;
    find_mark(j->out, SKIP_MARK, why, sizeof why);
  } else if (e->crash_text) {
    bool has = j->out && strstr(j->out, e->crash_text);
    if (has && code == e->crash_status) {
      r = R_PASS;
    } else {
      r = R_FAIL;
      char fm[400];
      find_mark(j->out, FAIL_MARK, fm, sizeof fm);
      if (fm[0])
        snprintf(why, sizeof why, "%s", fm);
      else
        snprintf(why, sizeof why, "crash test: want status %d and \"%s\", got status %d%s",
                 e->crash_status, e->crash_text, code, has ? "" : " without the text");
    }
  } else if (code == 0) {
    r = R_PASS;
  } else {
    r = R_FAIL;
    find_mark(j->out, FAIL_MARK, why, sizeof why);
    if (!why[0]) {
      if (WIFSIGNALED(status))
        snprintf(why, sizeof why, "killed by signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
      else
        snprintf(why, sizeof why, "exit status %d", code);
    }
  }
  if (r == R_PASS)
    printf("ok %d - %s (%lld ms)\n", seq, e->name, (long long)ms);
  else if (r == R_SKIP)
    printf("ok %d - %s # SKIP %s (%lld ms)\n", seq, e->name, why, (long long)ms);
  else {
    printf("not ok %d - %s (%lld ms): %s\n", seq, e->name, (long long)ms, why);
    print_output(j->out);
  }
  fflush(stdout);
  free(j->out);
  j->out = NULL;
  return r;
}

static bool matches(const test_entry *e, char **filters, int nf) {
  if (nf == 0) return true;
  for (int i = 0; i < nf; i++)
    if (strstr(e->name, filters[i])) return true;
  return false;
}

static int run_all(char **filters, int nf, int jobs) {
  const test_entry **sel = calloc(ntests ? ntests : 1, sizeof *sel);
  size_t nsel = 0;
  for (size_t i = 0; i < ntests; i++)
    if (matches(tests[i], filters, nf)) sel[nsel++] = tests[i];
  if (nsel == 0) {
    fprintf(stderr, "goro_tests: no test matches\n");
    free(sel);
    return 2;
  }
  if (jobs < 1) jobs = 1;
  if ((size_t)jobs > nsel) jobs = (int)nsel;
  job *run = calloc((size_t)jobs, sizeof *run);
  struct pollfd *pfd = calloc((size_t)jobs, sizeof *pfd);
  int *slot_of = calloc((size_t)jobs, sizeof *slot_of);
  bool *busy = calloc((size_t)jobs, sizeof *busy);
  int npass = 0, nfail = 0, nskip = 0, seq = 0, active = 0;
  size_t next = 0;
  int64_t t0 = now_ms();
  printf("1..%zu\n", nsel);
  fflush(stdout);

  while (next < nsel || active > 0) {
    for (int s = 0; s < jobs && next < nsel; s++) {
      if (busy[s]) continue;
      if (job_start(&run[s], sel[next]) < 0) {
        printf("not ok %d - %s (0 ms): cannot start: %s\n", ++seq, sel[next]->name,
               strerror(errno));
        nfail++;
      } else {
        busy[s] = true;
        active++;
      }
      next++;
    }
    if (active == 0) continue;

    /* Wait for output or for the nearest deadline (at most 50 ms, so an
     * exit with the pipe still held by a stray grandchild is noticed). */
    int64_t now = now_ms(), wait = 50;
    int np = 0;
    for (int s = 0; s < jobs; s++) {
      if (!busy[s]) continue;
      if (run[s].deadline - now < wait) wait = run[s].deadline - now;
      if (run[s].fd < 0 && wait > 1) wait = 1; /* output done: reap soon */
      if (run[s].fd >= 0) {
        pfd[np].fd = run[s].fd;
        pfd[np].events = POLLIN;
        slot_of[np++] = s;
      }
    }
    if (wait < 0) wait = 0;
    int pr = poll(pfd, (nfds_t)np, (int)wait);
    if (pr > 0)
      for (int i = 0; i < np; i++)
        if (pfd[i].revents) job_read(&run[slot_of[i]]);

    now = now_ms();
    for (int s = 0; s < jobs; s++) {
      if (!busy[s]) continue;
      job *j = &run[s];
      int status = 0;
      bool timed_out = false;
      pid_t w = waitpid(j->pid, &status, WNOHANG);
      if (w == 0 && now >= j->deadline) {
        /* SIGQUIT first: the runtime prints every goroutine, which is what
         * one needs to see why a test hung. */
        kill(j->pid, SIGQUIT);
        for (int k = 0; k < 40 && waitpid(j->pid, &status, WNOHANG) == 0; k++) {
          if (j->fd >= 0) job_read(j);
          usleep(50 * 1000);
        }
        kill(-j->pid, SIGKILL);
        waitpid(j->pid, &status, 0);
        timed_out = true;
        w = j->pid;
      }
      if (w != j->pid) continue;
      kill(-j->pid, SIGKILL); /* anything the test left behind */
      if (j->fd >= 0) {
        job_read(j);
        if (j->fd >= 0) close(j->fd);
        j->fd = -1;
      }
      int r = job_finish(j, status, timed_out, ++seq);
      if (r == R_PASS) npass++;
      else if (r == R_SKIP) nskip++;
      else nfail++;
      busy[s] = false;
      active--;
    }
  }
  printf("# %zu tests in %.1f s\n", nsel, (now_ms() - t0) / 1000.0);
  if (nskip)
    printf("%d passed, %d failed, %d skipped\n", npass, nfail, nskip);
  else
    printf("%d passed, %d failed\n", npass, nfail);
  fflush(stdout);
  free(run);
  free(pfd);
  free(slot_of);
  free(busy);
  free(sel);
  return nfail ? 1 : 0;
}

static void usage(FILE *f) {
  fputs("usage: goro_tests [-j N] [FILTER...]   run tests (names containing a FILTER)\n"
        "       goro_tests --list [FILTER...]   list test names\n"
        "       goro_tests --run NAME           run one test in this process\n"
        "environment: GORO_TEST_STRESS=0..3, GORO_TEST_TIMEOUT_MULTIPLIER=x,\n"
        "             GORO_TEST_TIME_CAP_MS=ms (upper bound on any test's time limit)\n",
        f);
}

int main(int argc, char **argv) {
  self_exe = argv[0];
  for (size_t i = 0; i < ntests; i++)
    for (size_t k = i + 1; k < ntests; k++)
      if (strcmp(tests[i]->name, tests[k]->name) == 0) {
        fprintf(stderr, "goro_tests: duplicate test name %s (%s, %s)\n", tests[i]->name,
                tests[i]->file, tests[k]->file);
        return 2;
      }

  char *filters[argc > 0 ? argc : 1]; /* the name filters among the arguments */
  int nf = 0, jobs = 1;
  bool list = false;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--run") == 0 || strcmp(a, "--no-fork") == 0) {
      if (i + 1 >= argc) {
        usage(stderr);
        return 2;
      }
      const test_entry *e = find_test(argv[i + 1]);
      if (!e) {
        fprintf(stderr, "goro_tests: no test named %s\n", argv[i + 1]);
        return 2;
      }
      return run_in_process(e);
    } else if (strcmp(a, "--list") == 0) {
      list = true;
    } else if (strcmp(a, "-j") == 0 && i + 1 < argc) {
      jobs = atoi(argv[++i]);
    } else if (strncmp(a, "-j", 2) == 0 && a[2]) {
      jobs = atoi(a + 2);
    } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      usage(stdout);
      return 0;
    } else if (a[0] == '-') {
      usage(stderr);
      return 2;
    } else {
      filters[nf++] = argv[i];
    }
  }
  if (list) {
    for (size_t i = 0; i < ntests; i++)
      if (matches(tests[i], filters, nf)) printf("%s\n", tests[i]->name);
    return 0;
  }
  signal(SIGPIPE, SIG_IGN);
  return run_all(filters, nf, jobs);
}
