/* os_linux.c - the operating-system layer: futex, clock, CPU count.
 *
 * Design: the only file that knows about Linux system-call details used by
 * the scheduler (the netpoller has its own backend file).  The CPU count
 * follows Go 1.25: the CPUs of this process's affinity mask, lowered to
 * ceil(quota/period) of a cgroup v2 cpu.max limit (but not below 2 when
 * the mask allows 2), so a container's quota is honoured.
 */
#include "internal.h"

#include <fcntl.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

void goro__futex_wait(_Atomic uint32_t *addr, uint32_t val, int64_t ns) {
  struct timespec ts, *tsp = NULL;
  if (ns >= 0) {
    ts.tv_sec = ns / 1000000000;
    ts.tv_nsec = ns % 1000000000;
    tsp = &ts;
  }
  syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, val, tsp, NULL, 0);
}

void goro__futex_wake(_Atomic uint32_t *addr, int n) {
  syscall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}

int64_t goro__nanotime(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t goro_now(void) { return goro__nanotime(); }

void goro__osyield(void) { sched_yield(); }

int goro__gettid(void) { return (int)syscall(SYS_gettid); }

/* xorshift32 per thread; the seed mixes the thread id and the clock. */
static __thread uint32_t rand_state;
NOINLINE uint32_t goro__fastrand(void) {
  uint32_t x = rand_state;
  if (UNLIKELY(x == 0)) {
    x = (uint32_t)goro__nanotime() ^ ((uint32_t)goro__gettid() * 2654435761u);
    if (x == 0) x = 1;
  }
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  rand_state = x;
  return x;
}

/* cgroup v2: "max 100000" or "150000 100000" in <cgroup dir>/cpu.max. */
static int cgroup_cpu_limit(void) {
  char path[512] = "/sys/fs/cgroup";
  FILE *f = fopen("/proc/self/cgroup", "r");
  if (f) {
    char line[512];
    while (fgets(line, sizeof line, f)) {
      if (strncmp(line, "0::", 3) == 0) {
        line[strcspn(line, "\n")] = 0;
        snprintf(path, sizeof path, "/sys/fs/cgroup%.480s", line + 3);
        break;
      }
    }
    fclose(f);
  }
  int limit = 0;
  /* Walk up the hierarchy: the tightest limit wins. */
  for (;;) {
    char file[600];
    snprintf(file, sizeof file, "%s/cpu.max", path);
    FILE *c = fopen(file, "r");
    if (c) {
      char q[32];
      long long period = 0;
      if (fscanf(c, "%31s %lld", q, &period) == 2 && strcmp(q, "max") != 0 && period > 0) {
        long long quota = atoll(q);
        int n = (int)((quota + period - 1) / period);
        if (n < 1) n = 1;
        if (limit == 0 || n < limit) limit = n;
      }
      fclose(c);
    }
    char *slash = strrchr(path, '/');
    if (!slash || strcmp(path, "/sys/fs/cgroup") == 0) break;
    *slash = 0;
  }
  return limit;
}

int goro__os_ncpu(void) {
  cpu_set_t set;
  int n = 0;
  if (sched_getaffinity(0, sizeof set, &set) == 0) n = CPU_COUNT(&set);
  if (n <= 0) n = (int)sysconf(_SC_NPROCESSORS_ONLN);
  if (n <= 0) n = 1;
  int lim = cgroup_cpu_limit();
  if (lim > 0) {
    if (lim < 2) lim = 2; /* Go 1.25's floor: a fractional quota still gets 2 */
    if (lim < n) n = lim;
  }
  return n;
}

int goro__os_thread_count(void) {
  FILE *f = fopen("/proc/self/status", "r");
  if (!f) return -1;
  char line[128];
  int n = -1;
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, "Threads:", 8) == 0) {
      n = atoi(line + 8);
      break;
    }
  }
  fclose(f);
  return n;
}

bool goro__foreign_threads_present(void) {
  if (atomic_load(&goro__sched.foreign_users) > 0) return true;
  int n = goro__os_thread_count();
  if (n < 0) return false;
  /* Ms still alive (mcount), the monitor, and auxiliary runtime threads.
   * An M that is exiting has already left mcount: it also counts as
   * "maybe foreign" for an instant, and the monitor checks again later. */
  int known = goro__sched.mcount + atomic_load(&goro__sched.nauxthreads) +
              atomic_load(&goro__fdtable_helper_running);
#ifdef GORO_TSAN
  known += 1; /* ThreadSanitizer's own background thread */
#endif
  return n > known;
}
