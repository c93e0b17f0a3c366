/* netpoll_epoll.c - the Linux backend of the network poller.
 *
 * Design: one epoll instance per runtime, created at start; an eventfd in
 * it breaks a blocked poller (Go's netpollBreak, with a flag that
 * coalesces concurrent breaks into one write).  Timeouts use epoll_pwait2
 * (nanoseconds, Linux >= 5.11) so the idle poller wakes exactly at the next
 * timer; on ENOSYS it falls back to epoll_wait, rounding up to whole
 * milliseconds.  Descriptor events are handed to the portable half
 * (netpoll.c, goro__netpoll_event), which knows the poll descriptors.
 *
 * Invariants: only one M blocks in goro__netpoll at a time (the scheduler
 * arbitrates with sched.lastpoll); non-blocking polls may run concurrently
 * with it.
 */
#include "netpoll.h"

#include <errno.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_epoll_pwait2
#define SYS_epoll_pwait2 441
#endif

static int epfd = -1;
static int breakfd = -1;
static _Atomic uint32_t break_pending;
static _Atomic int have_pwait2 = 1;
static char break_tag; /* its address marks the eventfd's events */

int goro__netpoll_init(void) {
  epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) return -errno;
  breakfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (breakfd < 0) {
    int e = errno;
    close(epfd);
    epfd = -1;
    return -e;
  }
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &break_tag};
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, breakfd, &ev) != 0) {
    int e = errno;
    close(breakfd);
    close(epfd);
    epfd = breakfd = -1;
    return -e;
  }
  atomic_store(&break_pending, 0);
  return 0;
}

void goro__netpoll_fini(void) {
  goro__netpoll_pd_fini();
  if (breakfd >= 0) close(breakfd);
  if (epfd >= 0) close(epfd);
  epfd = breakfd = -1;
}

bool goro__netpoll_inited(void) { return epfd >= 0; }

int goro__netpoll_epfd(void) { return epfd; }

void goro__netpoll_break(void) {
  if (epfd < 0) return;
  if (atomic_exchange(&break_pending, 1) != 0) return;
  uint64_t one = 1;
  for (;;) {
    ssize_t r = write(breakfd, &one, sizeof one);
    if (r >= 0 || errno != EINTR) break;
  }
}

g_t *goro__netpoll(int64_t delay, int *n) {
  struct epoll_event evs[128];
  int cnt;
  *n = 0;
  if (epfd < 0) return NULL;
  atomic_fetch_add(&goro__sched.polls, 1);
  if (atomic_load(&have_pwait2)) {
    struct timespec ts, *tsp = NULL;
    if (delay >= 0) {
      if (delay > 1000000 * GORO_SECOND) delay = 1000000 * GORO_SECOND;
      ts.tv_sec = delay / GORO_SECOND;
      ts.tv_nsec = delay % GORO_SECOND;
      tsp = &ts;
    }
    cnt = (int)syscall(SYS_epoll_pwait2, epfd, evs, 128, tsp, NULL, 0);
    if (cnt < 0 && errno == ENOSYS) {
      atomic_store(&have_pwait2, 0);
      return goro__netpoll(delay, n);
    }
  } else {
    int ms;
    if (delay < 0)
      ms = -1;
    else if (delay == 0)
      ms = 0;
    else if (delay < GORO_MILLISECOND)
      ms = 1;
    else if (delay < 1000000000LL * GORO_MILLISECOND)
      ms = (int)(delay / GORO_MILLISECOND);
    else
      ms = 1000000000;
    cnt = epoll_wait(epfd, evs, 128, ms);
  }
  if (cnt < 0) return NULL; /* EINTR: the caller recomputes */
  g_t *head = NULL, *tail = NULL;
  for (int i = 0; i < cnt; i++) {
    if (evs[i].data.ptr == &break_tag) {
      if (delay != 0) {
        uint64_t v;
        ssize_t r = read(breakfd, &v, sizeof v);
        (void)r;
        atomic_store(&break_pending, 0);
      }
      continue;
    }
    goro__netpoll_event(evs[i].data.u64, evs[i].events, &head, &tail, n);
  }
  return head;
}
