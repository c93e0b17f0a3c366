/* fdtable.c - keep the kernel's file-descriptor table ahead of the program.
 *
 * Why: Linux sizes a process's fd table in powers of two (64, 128, 256,
 * ...) and doubles it when an fd is needed past its end.  When more than
 * one thread shares the table, the thread that grows it first waits for an
 * RCU grace period (expand_fdtable calls synchronize_rcu), and every other
 * thread that needs an fd past the old end waits with it.  On the 2-CPU
 * machine the bench runs on, the wait was 10-15 ms per doubling (seen with
 * sched_switch traces: socket() asleep in expand_files).  In goro that
 * thread is an M holding a P, and socket/accept4 are not treated as
 * blocking calls, so every goroutine of the P stalls with it: echo_1000's
 * client sat idle on both CPUs for two such waits while dialling its 1,000
 * connections.  A single-threaded process grows the table without waiting.
 *
 * What this file does:
 *  1. goro_run, before it starts the monitor or any M, has the table grown
 *     to hold GORO_FDTABLE fds (default GORO_FDTABLE_DEFAULT, capped at the
 *     RLIMIT_NOFILE soft limit; 0 turns this file off).  One fcntl
 *     F_DUPFD_CLOEXEC of a temporary eventfd to number N-1 makes the kernel
 *     grow to at least N; the duplicate is closed at once and the table
 *     never shrinks.  If the process already has other threads (the host's,
 *     or a sanitizer's), that first growth is handed to a helper thread
 *     instead, so goro_run does not wait a grace period.
 *  2. Every fd the poller registers (goro__pd_open and goro_wait_fd, see
 *     netpoll.c) is compared with half the size grown to; at or past it, a
 *     short-lived helper thread doubles the table (or more, to
 *     cover the fd seen).  The helper waits out the grace period; Ms keep
 *     allocating below the old end meanwhile, which the kernel allows
 *     without waiting.  goro_run's end joins the helper (goro__fdtable_fini),
 *     so no thread of the runtime outlives it.
 *
 * State, all atomics, no lock:
 *  - `covered`: fds below it fit the table as this file last grew it;
 *    within a run it only grows (max).
 *  - `goro__fdtable_grow_at`: the note's threshold.  Half of covered;
 *    covered itself once the soft limit is reached, so a raised limit is
 *    noticed; INT_MAX when off or after a growth failed (no fd or thread
 *    to spare: the kernel grows on demand from then on, as without this
 *    file).
 *  - `goro__fdtable_helper_running`: one helper at a time, set by its
 *    starter and cleared by the helper; the deadlock check counts it as a
 *    runtime thread.
 *  - `claim`: held while a helper is started or joined; its holder alone
 *    touches `helper` (the thread to join) and `helper_unjoined`.
 *
 * Cost: the kernel keeps 8 bytes and 3 bits per slot: 33 KB for 4,096.
 *
 * Alternatives rejected: growing to the whole soft limit at start (it is
 * 1,048,576 in common container setups: 8 MB of kernel memory per
 * process); growing on the M inside an enter/exit-syscall pair (the
 * goroutine that crosses the line, often the accept loop, still waits the
 * grace period); growing in the monitor thread (no preemption or syscall
 * handoff for the length of the wait).  fds the program opens itself
 * without goro are not seen; the kernel grows for them on demand as
 * before.
 */
#include "internal.h"

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

_Atomic int goro__fdtable_grow_at = INT_MAX;
static _Atomic int covered;
_Atomic bool goro__fdtable_helper_running;
/* `claim` is held (true) while a thread starts or joins a helper; only its
 * holder touches `helper` and `helper_unjoined`, so the helper itself,
 * which may finish before pthread_create has returned, never does. */
static _Atomic bool claim;
static pthread_t helper;
static bool helper_unjoined;

enum { FDTABLE_MIN = 64 }; /* the kernel's first table */

static int soft_limit(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
  if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > INT_MAX) return INT_MAX;
  return (int)rl.rlim_cur;
}

/* Have the kernel's table hold fds below `want`, lowered to the soft limit
 * (F_DUPFD refuses numbers at or past it).  Returns the bound now held, or
 * 0 if nothing could be done.  May wait a grace period (see above). */
static int grow_to(int want) {
  int lim = soft_limit();
  if (want > lim) want = lim;
  if (want <= 0) return 0;
  int e = eventfd(0, EFD_CLOEXEC);
  if (e < 0) return 0;
  int d = fcntl(e, F_DUPFD_CLOEXEC, want - 1);
  if (d >= 0) close(d);
  close(e);
  return d >= 0 ? want : 0;
}

/* covered = max(covered, n); then the threshold for the next growth. */
static void set_covered(int n) {
  int c = atomic_load(&covered);
  while (n > c && !atomic_compare_exchange_weak(&covered, &c, n)) {
  }
  if (n > c) c = n;
  atomic_store(&goro__fdtable_grow_at, c >= soft_limit() ? c : c / 2);
}

static void *helper_main(void *arg) {
  int got = grow_to((int)(intptr_t)arg);
  if (got > 0)
    set_covered(got);
  else /* no fd to spare, or refused: leave growing to the kernel from now on */
    atomic_store(&goro__fdtable_grow_at, INT_MAX);
  atomic_store(&goro__fdtable_helper_running, false);
  return NULL;
}

/* Take `claim` when no helper is running; false if one is, or if another
 * thread holds the claim. */
static bool claim_idle(void) {
  if (atomic_load(&goro__fdtable_helper_running)) return false;
  bool f = false;
  if (!atomic_compare_exchange_strong(&claim, &f, true)) return false;
  if (!atomic_load(&goro__fdtable_helper_running)) return true;
  atomic_store(&claim, false);
  return false;
}

/* Start a helper that grows the table to hold fds below `want`.  False if
 * one is already at work or none could be started. */
static bool start_helper(int want) {
  if (!claim_idle()) return false;
  if (helper_unjoined) pthread_join(helper, NULL); /* finished: not running */
  helper_unjoined = false;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 64 * 1024);
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old); /* the helper takes no signals */
  atomic_store(&goro__fdtable_helper_running, true);
  int r = pthread_create(&helper, &attr, helper_main, (void *)(intptr_t)want);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  pthread_attr_destroy(&attr);
  if (r != 0) { /* no thread: leave growing to the kernel from now on */
    atomic_store(&goro__fdtable_helper_running, false);
    atomic_store(&goro__fdtable_grow_at, INT_MAX);
  } else {
    helper_unjoined = true;
  }
  atomic_store(&claim, false);
  return r == 0;
}

void goro__fdtable_fini(void) {
  while (!claim_idle()) { /* a running helper takes one grace period */
    struct timespec ts = {0, 200000};
    nanosleep(&ts, NULL);
  }
  if (helper_unjoined) pthread_join(helper, NULL);
  helper_unjoined = false;
  atomic_store(&goro__fdtable_grow_at, INT_MAX);
  atomic_store(&claim, false);
}

void goro__fdtable_init(int target) {
  atomic_store(&covered, 0);
  if (target <= 0) {
    atomic_store(&goro__fdtable_grow_at, INT_MAX);
    return;
  }
  if (target < FDTABLE_MIN) target = FDTABLE_MIN;
  /* One thread (this one): grow here, no grace period.  Otherwise, or if
   * the count is unknown, let a helper wait it; until it is done the
   * threshold stays at the kernel's first table so the note retries. */
  if (goro__os_thread_count() == 1) {
    int got = grow_to(target);
    set_covered(got > 0 ? got : FDTABLE_MIN);
    return;
  }
  set_covered(FDTABLE_MIN);
  start_helper(target);
}

void goro__fdtable_grow(int fd) {
  int c = atomic_load(&covered);
  if (c < FDTABLE_MIN) c = FDTABLE_MIN;
  int want = c;
  do { /* at least double, more if the fd seen needs it */
    if (want > INT_MAX / 2) { /* nothing larger to ask for */
      atomic_store(&goro__fdtable_grow_at, INT_MAX);
      return;
    }
    want *= 2;
  } while (want <= fd);
  start_helper(want);
}
