/* netpoll.c - poll descriptors: the portable half of the network poller.
 *
 * Purpose: park goroutines on file descriptors until the epoll backend
 * (netpoll_epoll.c) reports them ready, until a deadline passes, or until
 * the descriptor is closed with goro_close.
 *
 * Design:
 *   - One poll descriptor (pd) per registered fd.  A pd is registered with
 *     epoll exactly once, edge-triggered, for EPOLLIN|EPOLLOUT|EPOLLRDHUP.
 *     The epoll data is a tag: bit 63 set (so it can never equal the
 *     backend's own pointer tag), the pd's generation (31 bits) and the
 *     pd's index (32 bits).  The generation is bumped whenever the pd is
 *     closed or reused, and an event whose generation differs from the
 *     pd's is dropped: an event already pulled out of epoll for a closed
 *     fd cannot wake whoever uses that fd number (or that pd) next.
 *   - pds come from a type-stable cache: slabs that are never freed while
 *     the runtime runs, found by index.  A late event, or a goroutine that
 *     wakes after its fd was closed, may still lock a pd that has been
 *     recycled; it sees the generation change and backs off.
 *   - fd -> pd: a two-level table (4096-entry chunks made on first use,
 *     never moved), read without locks.  Written only under reg_lock.
 *   - Per direction (read, write) a pd has a "ready" flag and a list of
 *     waiters.  An event wakes every waiter of its direction, or, if there
 *     is none, sets the flag so the next goroutine that was about to wait
 *     retries its system call instead.  Callers always try the system
 *     call first and wait only after EAGAIN, so with edge triggering no
 *     readiness is lost: data that arrives after the EAGAIN produces a new
 *     edge, and an edge processed before the waiter enlists leaves the flag.
 *   - Several goroutines may wait on one fd and direction (several
 *     acceptors on a listener, a reader and a wait_fd caller).  They are
 *     all woken by one edge and retry; waking only one would lose the
 *     readiness of the others under edge triggering when the woken one
 *     does not drain the socket.  The herd is bounded by the number of
 *     goroutines sharing one fd, which is small in practice.
 *   - Waiter records live on the waiting goroutine's stack.  Deadlines use
 *     goro__park_dl: every waker (event, close) must win
 *     CAS(&g->selectdone, 0, 1) before readying; a loser only unlinks the
 *     record.  So does a wait for both directions (two records).  A lone
 *     record without a deadline is readied by whoever unlinks it under
 *     pd->lock, with no CAS on the goroutine's record.  After waking, the
 *     goroutine always takes the pd lock to unlink itself if still linked,
 *     so a waker holding the lock may touch the record safely.
 *   - Registration: fds made by goro's socket calls are registered when
 *     made (any stale table entry for that number, left by a close(2)
 *     instead of goro_close, is retired).  Other fds are registered on
 *     their first wait and re-armed (EPOLL_CTL_MOD) on every later wait:
 *     if their file was closed with close(2) and the number reused, the
 *     re-arm fails with ENOENT and the fd is registered afresh.
 *   - Reads that skip the call known to fail.  A request/response loop
 *     reads a message, answers, and reads again; that read fails with
 *     EAGAIN almost always (the peer has not answered yet), one wasted
 *     system call per message on each side.  TCP sockets goro makes get
 *     TCP_INQ: every recvmsg then returns, as a control message, how many
 *     bytes it left in the socket (a received FIN counts as one).  The pd
 *     counts read-direction events (revents, under pd->lock); a reader
 *     loads the count before its call, and a call that leaves the socket
 *     empty (or fails with EAGAIN) records that count in `emptied`.  The
 *     next read on that socket waits for an event first if the count is
 *     unchanged: any byte that arrived after the socket was found empty
 *     produces an edge that the poller reports, and counts, after the
 *     count was loaded.  A stale record only costs a call (the count
 *     moved on); concurrent readers each record a count that was true for
 *     their own call, and any of them is safe to wait on.  The record
 *     carries the pd's generation, loaded (before the fd, checked to be
 *     the reader's) when the read looked the pd up: a read racing a
 *     goro_close cannot leave a record that the pd's next connection would
 *     believe.  A hang-up or error event turns the skipping off for good
 *     (a reset is not counted in TCP_INQ).  Reads always make the call
 *     for zero bytes (recvmsg of none waits on TCP), with a deadline of 0
 *     or one that passed, and on a P with other goroutines to run unless
 *     the emptying read was less than 20 us ago: that P polls the network
 *     only once it runs out of work, so bytes already there would wait
 *     behind its queue (up to sysmon's 10 ms) instead of being read.  Go's
 *     poller does not skip (four reads per echoed message instead of two).
 *   - goro__netpoll_waiters counts goroutines parked here (incremented
 *     before parking, decremented by the goroutine after it wakes), so the
 *     scheduler keeps polling and the deadlock detector stays quiet.
 *
 * Locks: reg_lock protects the fd table, the pd free list and slab growth.
 * pd->lock protects every field of the pd and the waiter records linked
 * into it, except the read-skip record (emptied, emptied_ns: atomics that
 * readers write without it; revents is written under it, read without).
 * Order: reg_lock before pd->lock (never the other way).
 *
 * Rejected: Go's lock-free per-direction words (nil/ready/wait/G*) allow a
 * single waiter per direction, which would force a separate mutex per fd to
 * serialize acceptors; the pd lock here is uncontended in the common case
 * (one goroutine per connection) and makes close and deadlines simple.
 * Level-triggered epoll with re-arming (EPOLLONESHOT) costs an epoll_ctl per
 * wait.
 */
#include "sstack.h"
#include "netpoll.h"
#include "timer.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

_Atomic int32_t goro__netpoll_waiters;

enum { DIR_READ = 0, DIR_WRITE = 1 };

typedef struct pd_waiter {
  g_t *g;
  struct pd_waiter *next, *prev;
  uint8_t linked;  /* in the pd's list (pd->lock) */
  uint8_t fired;   /* woken by readiness or close (pd->lock) */
  uint8_t needcas; /* wakers must win CAS(g->selectdone) (pd_park_locked) */
} pd_waiter_t;

struct goro__pd {
  goro__lock_t lock; /* protects the fields below (not idx, freenext) and linked waiters */
  uint32_t seq;      /* generation, 31 bits used in tags (written atomically) */
  uint32_t idx;      /* index in the slabs (immutable) */
  int fd;            /* fd this pd serves, -1 when free (written atomically) */
  uint8_t closing;   /* closed or free: waiters get GORO_ECLOSED */
  uint8_t notsock;   /* writes use write(2), not send(2) */
  uint8_t lazy;      /* registered on first wait (an fd goro did not make) */
  uint8_t inq;       /* TCP socket with TCP_INQ: a read learns whether it emptied it */
  uint8_t rhup;      /* a hang-up or error event was seen: reads are never skipped */
  uint8_t ready[2];
  _Atomic uint32_t revents; /* read-direction events seen (written under lock) */
  _Atomic uint64_t emptied; /* EMPTIED | generation << 32 | revents as seen
                               before a read that left the socket empty; 0
                               when not known empty */
  _Atomic int64_t emptied_ns; /* when that read returned (a hint) */
  pd_waiter_t *head[2], *tail[2];
  struct goro__pd *freenext; /* free list (reg_lock) */
};
typedef goro__pd_t pd_t;

#define PD_SLAB_SHIFT 8
#define PD_SLAB (1u << PD_SLAB_SHIFT)
#define PD_SLABS 65536u /* 16M descriptors */
#define FD_CHUNK_SHIFT 12
#define FD_CHUNK (1u << FD_CHUNK_SHIFT)
#define FD_CHUNKS 16384u /* fds below 64M */
#define TAG_BIT ((uint64_t)1 << 63)
#define EMPTIED ((uint64_t)1 << 63)
/* On a P with other goroutines to run, a read skips the call only this
 * soon after the read that emptied the socket (see goro__pd_read_wait). */
#define SKIP_WHEN_BUSY_NS (20 * GORO_MICROSECOND)
#define SEQ_MASK 0x7fffffffu

static _Atomic(pd_t *) pd_slabs[PD_SLABS];
static uint32_t pd_count;       /* pds made (reg_lock) */
static pd_t *pd_free;           /* reg_lock */
static _Atomic(_Atomic(pd_t *) *) fd_chunks[FD_CHUNKS];
static goro__lock_t reg_lock; /* protects the fd table, pd_free, pd_count, slab growth */

static inline pd_t *pd_at(uint32_t idx) {
  pd_t *slab = atomic_load_explicit(&pd_slabs[idx >> PD_SLAB_SHIFT], memory_order_acquire);
  return slab ? &slab[idx & (PD_SLAB - 1)] : NULL;
}

static inline pd_t *pd_lookup(int fd) {
  if (fd < 0 || ((uint32_t)fd >> FD_CHUNK_SHIFT) >= FD_CHUNKS) return NULL;
  _Atomic(pd_t *) *chunk =
      atomic_load_explicit(&fd_chunks[(uint32_t)fd >> FD_CHUNK_SHIFT], memory_order_acquire);
  if (!chunk) return NULL;
  return atomic_load_explicit(&chunk[(uint32_t)fd & (FD_CHUNK - 1)], memory_order_acquire);
}

static inline uint64_t pd_tag(pd_t *pd) {
  return TAG_BIT | ((uint64_t)(pd->seq & SEQ_MASK) << 32) | pd->idx;
}

/* reg_lock held.  Returns a pd with its lock free, or NULL. */
static pd_t *pd_alloc_locked(void) {
  pd_t *pd = pd_free;
  if (pd) {
    pd_free = pd->freenext;
    pd->freenext = NULL;
    return pd;
  }
  uint32_t idx = pd_count;
  if ((idx >> PD_SLAB_SHIFT) >= PD_SLABS) return NULL;
  if ((idx & (PD_SLAB - 1)) == 0) {
    pd_t *slab = calloc(PD_SLAB, sizeof *slab);
    if (!slab) return NULL;
    for (uint32_t i = 0; i < PD_SLAB; i++) {
      slab[i].idx = idx + i;
      slab[i].fd = -1;
      slab[i].closing = 1;
    }
    atomic_store_explicit(&pd_slabs[idx >> PD_SLAB_SHIFT], slab, memory_order_release);
  }
  pd_count++;
  return pd_at(idx);
}

/* reg_lock held. */
static void pd_free_locked(pd_t *pd) {
  pd->freenext = pd_free;
  pd_free = pd;
}

/* reg_lock held.  The table slot for fd, made on first use. */
static _Atomic(pd_t *) *fd_slot_locked(int fd) {
  uint32_t c = (uint32_t)fd >> FD_CHUNK_SHIFT;
  if (fd < 0 || c >= FD_CHUNKS) return NULL;
  _Atomic(pd_t *) *chunk = atomic_load_explicit(&fd_chunks[c], memory_order_relaxed);
  if (!chunk) {
    chunk = calloc(FD_CHUNK, sizeof *chunk);
    if (!chunk) return NULL;
    atomic_store_explicit(&fd_chunks[c], chunk, memory_order_release);
  }
  return &chunk[(uint32_t)fd & (FD_CHUNK - 1)];
}

static inline void list_push(pd_t *pd, int d, pd_waiter_t *w) {
  w->next = NULL;
  w->prev = pd->tail[d];
  if (pd->tail[d])
    pd->tail[d]->next = w;
  else
    pd->head[d] = w;
  pd->tail[d] = w;
  w->linked = 1;
}

static inline void list_remove(pd_t *pd, int d, pd_waiter_t *w) {
  if (w->prev)
    w->prev->next = w->next;
  else
    pd->head[d] = w->next;
  if (w->next)
    w->next->prev = w->prev;
  else
    pd->tail[d] = w->prev;
  w->next = w->prev = NULL;
  w->linked = 0;
}

/* pd->lock held.  Detach every waiter of direction d; those whose
 * goroutine we win are appended to the list.  Returns how many. */
static int take_waiters(pd_t *pd, int d, g_t **head, g_t **tail) {
  int woke = 0;
  pd_waiter_t *w = pd->head[d];
  pd->head[d] = pd->tail[d] = NULL;
  while (w) {
    pd_waiter_t *next = w->next;
    g_t *g = w->g;
    w->linked = 0;
    w->next = w->prev = NULL;
    /* A lone record without a deadline has only wakers holding pd->lock:
     * no locked instruction on g's (likely cold) record. */
    uint32_t zero = 0;
    if (!w->needcas || atomic_compare_exchange_strong(&g->selectdone, &zero, 1)) {
      w->fired = 1;
      g->schedlink = NULL;
      if (*tail)
        (*tail)->schedlink = g;
      else
        *head = g;
      *tail = g;
      woke++;
    }
    w = next;
  }
  return woke;
}

void goro__netpoll_event(uint64_t data, uint32_t events, g_t **head, g_t **tail, int *n) {
  if (!(data & TAG_BIT)) return;
  pd_t *pd = pd_at((uint32_t)data);
  if (!pd) return;
  uint32_t seq = (uint32_t)(data >> 32) & SEQ_MASK;
  goro__lock(&pd->lock);
  if ((pd->seq & SEQ_MASK) != seq || pd->closing) {
    goro__unlock(&pd->lock);
    return;
  }
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR | EPOLLPRI)) {
    if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
      __atomic_store_n(&pd->rhup, 1, __ATOMIC_RELAXED);
    uint32_t count = atomic_load_explicit(&pd->revents, memory_order_relaxed);
    atomic_store_explicit(&pd->revents, count + 1, memory_order_release);
    int w = take_waiters(pd, DIR_READ, head, tail);
    pd->ready[DIR_READ] = w == 0;
    *n += w;
  }
  if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) {
    int w = take_waiters(pd, DIR_WRITE, head, tail);
    pd->ready[DIR_WRITE] = w == 0;
    *n += w;
  }
  goro__unlock(&pd->lock);
}

/* Mark pd closed and ready every waiter (they see the generation change
 * and return GORO_ECLOSED).  The pd is no longer in the table. */
static void pd_retire(pd_t *pd) {
  g_t *head = NULL, *tail = NULL;
  goro__lock(&pd->lock);
  pd->closing = 1;
  __atomic_store_n(&pd->seq, pd->seq + 1, __ATOMIC_RELEASE);
  __atomic_store_n(&pd->fd, -1, __ATOMIC_RELEASE);
  pd->ready[0] = pd->ready[1] = 0;
  take_waiters(pd, DIR_READ, &head, &tail);
  take_waiters(pd, DIR_WRITE, &head, &tail);
  goro__unlock(&pd->lock);
  goro__ready_list(head);
  goro__lock(&reg_lock);
  pd_free_locked(pd);
  goro__unlock(&reg_lock);
}

/* Register fd.  replace: the fd is fresh (just made by socket/accept), or
 * its old registration is known dead, so any table entry is stale (its fd
 * was closed without goro_close) and is retired.  Otherwise an existing
 * entry is used as is.  lazy: registered by a wait, not by goro's own
 * socket calls.  inq: a TCP socket with TCP_INQ set (reads may skip the
 * call, below).  Returns 0 and the pd, or a negative code (epoll refuses
 * regular files with -EPERM). */
static int pd_register(int fd, bool replace, bool lazy, bool inq, pd_t **out) {
  int epfd = goro__netpoll_epfd();
  if (epfd < 0) return GORO_ENOTRUNNING;
  goro__fdtable_note(fd);
  goro__lock(&reg_lock);
  _Atomic(pd_t *) *slot = fd_slot_locked(fd);
  if (!slot) {
    goro__unlock(&reg_lock);
    return fd < 0 ? GORO_EBADF : GORO_ENOMEM;
  }
  pd_t *old = atomic_load_explicit(slot, memory_order_relaxed);
  if (old && !replace) {
    goro__unlock(&reg_lock);
    *out = old;
    return 0;
  }
  pd_t *pd = pd_alloc_locked();
  if (!pd) {
    goro__unlock(&reg_lock);
    return GORO_ENOMEM;
  }
  goro__lock(&pd->lock);
  __atomic_store_n(&pd->seq, pd->seq + 1, __ATOMIC_RELEASE);
  __atomic_store_n(&pd->fd, fd, __ATOMIC_RELEASE);
  pd->closing = 0;
  pd->notsock = 0;
  __atomic_store_n(&pd->lazy, lazy, __ATOMIC_RELAXED);
  pd->ready[0] = pd->ready[1] = 0;
  __atomic_store_n(&pd->inq, inq, __ATOMIC_RELAXED);
  __atomic_store_n(&pd->rhup, 0, __ATOMIC_RELAXED);
  atomic_store_explicit(&pd->emptied, 0, memory_order_relaxed);
  pd->head[0] = pd->head[1] = pd->tail[0] = pd->tail[1] = NULL;
  struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                           .data.u64 = pd_tag(pd)};
  goro__unlock(&pd->lock);
  int r = epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
  if (r != 0 && errno == EEXIST) r = epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev);
  if (r != 0) {
    int e = errno;
    goro__lock(&pd->lock);
    pd->closing = 1;
    __atomic_store_n(&pd->fd, -1, __ATOMIC_RELEASE);
    goro__unlock(&pd->lock);
    pd_free_locked(pd);
    goro__unlock(&reg_lock);
    return -e;
  }
  atomic_store_explicit(slot, pd, memory_order_release);
  goro__unlock(&reg_lock);
  if (old) pd_retire(old);
  *out = pd;
  return 0;
}

int goro__pd_open(int fd, bool inq) {
  pd_t *pd;
  return pd_register(fd, true, false, inq, &pd);
}

int goro__pd_close(int fd) {
  goro__lock(&reg_lock);
  pd_t *pd = pd_lookup(fd);
  if (pd) {
    _Atomic(pd_t *) *slot = fd_slot_locked(fd);
    atomic_store_explicit(slot, NULL, memory_order_release);
  }
  goro__unlock(&reg_lock);
  if (!pd) return 0;
  int epfd = goro__netpoll_epfd();
  struct epoll_event ev = {0};
  if (epfd >= 0) epoll_ctl(epfd, EPOLL_CTL_DEL, fd, &ev); /* dup'd fds keep it otherwise */
  pd_retire(pd);
  return 1;
}

bool goro__pd_notsock(int fd) {
  pd_t *pd = pd_lookup(fd);
  return pd && __atomic_load_n(&pd->notsock, __ATOMIC_RELAXED);
}

void goro__pd_set_notsock(int fd) {
  pd_t *pd = pd_lookup(fd);
  if (pd) __atomic_store_n(&pd->notsock, 1, __ATOMIC_RELAXED);
}

static int pd_park_locked(pd_t *pd, g_t *g, int events, int64_t deadline);

/* Wait until fd is ready for `events` (GORO_READABLE | GORO_WRITABLE).
 * The caller has just seen EAGAIN (or wants to wait regardless).
 * Returns the directions that fired (> 0; may be a spurious wake-up, the
 * caller retries its call), GORO_ETIMEDOUT, GORO_ECLOSED, or an error. */
int goro__pd_wait(int fd, int events, int64_t deadline) {
  g_t *g = goro__getg();
  if (!g) return GORO_ENOTGOROUTINE;
  events &= GORO_READABLE | GORO_WRITABLE;
  if (!events) return GORO_EINVAL;
  pd_t *pd = pd_lookup(fd);
  if (!pd) {
    int r = pd_register(fd, false, true, false, &pd);
    if (r < 0) return r;
  } else if (__atomic_load_n(&pd->lazy, __ATOMIC_RELAXED)) {
    /* An fd goro did not make may have been closed with close(2) and its
     * number reused; its registration then died with the old file.  A
     * re-arm finds out (ENOENT) at one system call per wait, paid only by
     * such fds; fds made by goro must be closed with goro_close. */
    goro__lock(&pd->lock);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                             .data.u64 = pd_tag(pd)};
    bool live = !pd->closing && pd->fd == fd;
    goro__unlock(&pd->lock);
    if (live && epoll_ctl(goro__netpoll_epfd(), EPOLL_CTL_MOD, fd, &ev) != 0) {
      int e = errno;
      if (e != ENOENT) return -e;
      int r = pd_register(fd, true, true, false, &pd);
      if (r < 0) return r;
    }
  }
  if (goro__deadline_passed(deadline)) return GORO_ETIMEDOUT;

  goro__lock(&pd->lock);
  if (pd->closing || pd->fd != fd) {
    goro__unlock(&pd->lock);
    return GORO_ECLOSED;
  }
  int fired = 0;
  if ((events & GORO_READABLE) && pd->ready[DIR_READ]) {
    pd->ready[DIR_READ] = 0;
    fired |= GORO_READABLE;
  }
  if ((events & GORO_WRITABLE) && pd->ready[DIR_WRITE]) {
    pd->ready[DIR_WRITE] = 0;
    fired |= GORO_WRITABLE;
  }
  if (fired) {
    goro__unlock(&pd->lock);
    return fired;
  }
  return pd_park_locked(pd, g, events, deadline);
}

/* pd->lock held, pd open.  Park g on pd for `events` until an event of
 * those directions, the deadline or a close; releases the lock.  Returns
 * as goro__pd_wait. */
static int pd_park_locked(pd_t *pd, g_t *g, int events, int64_t deadline) {
  uint32_t seq = pd->seq;
  pd_waiter_t wl[2], *w = goro__ss_wait_buf(g, sizeof wl);
  if (!w) w = wl; /* shared-stack goroutines wait with records off their stack */
  memset(w, 0, sizeof wl);
  /* A deadline races its timer, and a wait for both directions has two
   * records either of which may fire: then wakers must win
   * CAS(g->selectdone).  Otherwise the one record's waker, under
   * pd->lock, is the only one. */
  bool needcas = deadline >= 0 || (events & GORO_READABLE && events & GORO_WRITABLE);
  if (needcas) atomic_store(&g->selectdone, 0);
  if (events & GORO_READABLE) {
    w[DIR_READ].g = g;
    w[DIR_READ].needcas = needcas;
    list_push(pd, DIR_READ, &w[DIR_READ]);
  }
  if (events & GORO_WRITABLE) {
    w[DIR_WRITE].g = g;
    w[DIR_WRITE].needcas = needcas;
    list_push(pd, DIR_WRITE, &w[DIR_WRITE]);
  }
  atomic_fetch_add(&goro__netpoll_waiters, 1);
  bool timedout = goro__park_dl(WR_IO_WAIT, goro__commit_unlock, &pd->lock, deadline);
  goro__lock(&pd->lock);
  for (int d = 0; d < 2; d++)
    if (w[d].linked) list_remove(pd, d, &w[d]);
  bool closed = pd->seq != seq;
  goro__unlock(&pd->lock);
  atomic_fetch_sub(&goro__netpoll_waiters, 1);
  if (closed) return GORO_ECLOSED;
  if (timedout) return GORO_ETIMEDOUT;
  int fired = (w[DIR_READ].fired ? GORO_READABLE : 0) | (w[DIR_WRITE].fired ? GORO_WRITABLE : 0);
  return fired ? fired : events;
}

/* ------------------------------------------------------------------ */
/* Reads that skip the attempt known to fail                           */
/* ------------------------------------------------------------------ */

goro__pd_t *goro__pd_inq(int fd, uint32_t *gen) {
  pd_t *pd = pd_lookup(fd);
  if (!pd || !__atomic_load_n(&pd->inq, __ATOMIC_RELAXED)) return NULL;
  /* The generation, then the fd: a pd reused for another fd since the
   * lookup shows that fd (or -1) once the newer generation is seen. */
  *gen = __atomic_load_n(&pd->seq, __ATOMIC_ACQUIRE) & SEQ_MASK;
  return __atomic_load_n(&pd->fd, __ATOMIC_ACQUIRE) == fd ? pd : NULL;
}

/* The record of a read that left the socket empty. */
static inline uint64_t emptied_at(uint32_t gen, uint32_t seen) {
  return EMPTIED | (uint64_t)gen << 32 | seen;
}

bool goro__pd_read_would_wait(int fd) {
  pd_t *pd = pd_lookup(fd);
  if (!pd) return false;
  goro__lock(&pd->lock);
  bool r = __atomic_load_n(&pd->inq, __ATOMIC_RELAXED) &&
           !__atomic_load_n(&pd->rhup, __ATOMIC_RELAXED) && !pd->closing &&
           atomic_load(&pd->emptied) == emptied_at(pd->seq & SEQ_MASK, atomic_load(&pd->revents));
  goro__unlock(&pd->lock);
  return r;
}

/* Wait until a read event newer than `seen` (the count before the read
 * that found the socket empty); the caller has checked that the deadline
 * leaves time.  Returns > 0 to read again, or GORO_ETIMEDOUT /
 * GORO_ECLOSED / GORO_ENOTGOROUTINE. */
static int wait_read_event(pd_t *pd, int fd, uint32_t seen, int64_t deadline) {
  g_t *g = goro__getg();
  if (!g) return GORO_ENOTGOROUTINE;
  goro__lock(&pd->lock);
  if (pd->closing || pd->fd != fd) {
    goro__unlock(&pd->lock);
    return GORO_ECLOSED;
  }
  if (atomic_load_explicit(&pd->revents, memory_order_relaxed) != seen ||
      __atomic_load_n(&pd->rhup, __ATOMIC_RELAXED)) {
    goro__unlock(&pd->lock);
    return GORO_READABLE;
  }
  return pd_park_locked(pd, g, GORO_READABLE, deadline);
}

/* One recvmsg on fd; *inq: the bytes it left in the socket (-1: not
 * told).  Returns bytes or -errno.  Out of line, so that the message
 * header is not in the frame a reader parks in: a shared-stack goroutine
 * keeps that frame while parked. */
static NOINLINE ssize_t recv_counted(int fd, const struct iovec *iov, int iovcnt, int *inq) {
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } ctl;
  struct msghdr mh;
  memset(&mh, 0, sizeof mh);
  mh.msg_iov = (struct iovec *)iov;
  mh.msg_iovlen = (size_t)iovcnt;
  mh.msg_control = ctl.buf;
  mh.msg_controllen = sizeof ctl.buf;
  ssize_t r = recvmsg(fd, &mh, 0);
  if (r < 0) return -errno;
  *inq = -1;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
    if (c->cmsg_level == SOL_TCP && c->cmsg_type == TCP_CM_INQ)
      memcpy(inq, CMSG_DATA(c), sizeof *inq);
  return r;
}

/* Whether the caller's P has other goroutines to run.  It then runs them
 * before it polls the network again. */
static bool p_has_other_work(void) {
  m_t *m = goro__getm();
  p_t *p = m ? m->p : NULL;
  if (!p) return false;
  return !goro__runq_empty(p) || goro__ss_pending(p) ||
         atomic_load_explicit(&goro__sched.runqsize, memory_order_relaxed) > 0;
}

int goro__pd_read_wait(goro__pd_t *pd, uint32_t gen, int fd, int64_t deadline) {
  uint32_t seen = atomic_load_explicit(&pd->revents, memory_order_acquire);
  if (deadline == 0 || __atomic_load_n(&pd->rhup, __ATOMIC_RELAXED) ||
      atomic_load_explicit(&pd->emptied, memory_order_acquire) != emptied_at(gen, seen))
    return 0;
  /* A passed deadline still makes the call once, as on other fds: a
   * polling loop of such reads would never let the poller run.  The
   * clock is read at most once here. */
  int64_t now = 0;
  if (deadline > 0 && (now = goro__nanotime()) >= deadline) return 0;
  /* Bytes that arrived since the socket was found empty are picked up by
   * the next poll of the network, which a P with other goroutines to run
   * makes only when it runs out of them (or sysmon, every 10 ms); the call
   * would have had them at once.  Skipping there is only a good bet right
   * after the emptying read (a request/response loop writing its answer):
   * bytes that come later than that had to wait for the poller anyway
   * when the call failed just before they arrived. */
  if (p_has_other_work()) {
    if (now == 0) now = goro__nanotime();
    if (now - atomic_load_explicit(&pd->emptied_ns, memory_order_relaxed) > SKIP_WHEN_BUSY_NS)
      return 0;
  }
  return wait_read_event(pd, fd, seen, deadline);
}

ssize_t goro__pd_recv_inq(goro__pd_t *pd, uint32_t gen, int fd, const struct iovec *iov,
                          int iovcnt, uint32_t *seen) {
  for (;;) {
    *seen = atomic_load_explicit(&pd->revents, memory_order_acquire);
    int inq;
    ssize_t r = recv_counted(fd, iov, iovcnt, &inq);
    if (r == -EINTR) continue;
    if (r < 0 && r != -EAGAIN) return r;
    bool empty = r < 0 || inq == 0;
    if (r == 0) return 0;
    if (empty) atomic_store_explicit(&pd->emptied_ns, goro__nanotime(), memory_order_relaxed);
    atomic_store_explicit(&pd->emptied, empty ? emptied_at(gen, *seen) : 0, memory_order_release);
    return r;
  }
}

int goro__pd_read_event_wait(goro__pd_t *pd, int fd, uint32_t seen, int64_t deadline) {
  /* Hung up or failed, yet nothing to read: wait the ordinary way. */
  if (__atomic_load_n(&pd->rhup, __ATOMIC_RELAXED)) return goro__pd_wait(fd, GORO_READABLE, deadline);
  if (goro__deadline_passed(deadline)) return GORO_ETIMEDOUT;
  return wait_read_event(pd, fd, seen, deadline);
}

void goro__netpoll_pd_fini(void) {
  goro__resolve_fini();
  for (uint32_t c = 0; c < FD_CHUNKS; c++) {
    _Atomic(pd_t *) *chunk = atomic_load(&fd_chunks[c]);
    if (chunk) {
      free((void *)chunk);
      atomic_store(&fd_chunks[c], NULL);
    }
  }
  for (uint32_t s = 0; s < PD_SLABS; s++) {
    pd_t *slab = atomic_load(&pd_slabs[s]);
    if (!slab) break;
    free(slab);
    atomic_store(&pd_slabs[s], NULL);
  }
  pd_count = 0;
  pd_free = NULL;
  atomic_store(&goro__netpoll_waiters, 0);
}
