/* goro.h - goroutines for C.
 *
 * The one public header of goro: cheap green threads ("goroutines")
 * multiplexed over a few OS threads, with channels, select, timers,
 * a network poller and sync primitives, following Go's semantics.
 *
 * Conventions used throughout:
 *   - Errors are returned, never put in errno: 0 or a count on success,
 *     a negative GORO_E* code on failure.  A goroutine may resume on a
 *     different OS thread after any blocking call, so errno and other
 *     thread-locals read before such a call are not reliable after it.
 *   - Time is int64_t nanoseconds on the monotonic clock (goro_now()).
 *     Every blocking call has a "_dl" form taking an absolute deadline:
 *     GORO_FOREVER (-1) blocks without limit, 0 tries once, anything
 *     else is a goro_now()-based instant.  A passed deadline returns
 *     GORO_ETIMEDOUT.
 *   - Heap objects (channels, timers) are opaque pointers with explicit
 *     ownership, stated in each "Ownership:" line.  Sync primitives are
 *     embeddable structs that are valid when zero-filled, like Go's.
 *   - "Fatal" below means the runtime prints "goro: fatal error: ..."
 *     and a dump of every goroutine to stderr and exits with status 2.
 *
 * Unless a comment says otherwise, functions must be called from a
 * goroutine, i.e. inside goro_run().  Channel and sync functions may
 * also be called from foreign threads (threads not running goroutines);
 * such a thread blocks itself while it waits.
 */
#ifndef GORO_H
#define GORO_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <netdb.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define GORO_EXTERN __attribute__((visibility("default")))
#else
#define GORO_EXTERN
#endif

#define GORO_VERSION_MAJOR 0
#define GORO_VERSION_MINOR 1
#define GORO_VERSION_PATCH 0

/* ------------------------------------------------------------------ */
/* Errors                                                             */
/* ------------------------------------------------------------------ */

/* Where a POSIX errno exists, the code is its negation; goro's own codes
 * are -4000 and below.  Functions that wrap system calls (network, file)
 * may also return any other negated errno; goro_strerror() knows them. */
#define GORO_ERRNO_MAP(XX)                                                   \
  XX(EINVAL, -EINVAL, "invalid argument")                                    \
  XX(ENOMEM, -ENOMEM, "out of memory")                                       \
  XX(EAGAIN, -EAGAIN, "operation would block")                               \
  XX(ETIMEDOUT, -ETIMEDOUT, "deadline exceeded")                             \
  XX(EPERM, -EPERM, "operation not permitted")                               \
  XX(EBADF, -EBADF, "bad file descriptor")                                   \
  XX(EPIPE, -EPIPE, "broken pipe")                                           \
  XX(ECANCELED, -ECANCELED, "operation canceled")                            \
  XX(EMFILE, -EMFILE, "too many open files")                                 \
  XX(ECONNRESET, -ECONNRESET, "connection reset by peer")                    \
  XX(ECONNREFUSED, -ECONNREFUSED, "connection refused")                      \
  XX(EADDRINUSE, -EADDRINUSE, "address already in use")                      \
  XX(EBUSY, -EBUSY, "resource busy")                                         \
  XX(ECLOSED, -4001, "use of closed channel or descriptor")                  \
  XX(ENOTRUNNING, -4002, "goro runtime is not running")                      \
  XX(ENOTGOROUTINE, -4003, "not called from a goroutine")                    \
  XX(ERUNNING, -4004, "goro runtime is already running")                     \
  XX(ENAME, -4005, "name resolution failed")                                 \
  XX(ENOADDR, -4006, "malformed network address")

enum {
#define GORO_XX_ENUM(name, val, msg) GORO_##name = (val),
  GORO_ERRNO_MAP(GORO_XX_ENUM)
#undef GORO_XX_ENUM
};

/* A human-readable message for any GORO_E* code or negated errno.
 * Never returns NULL; the string is static. */
GORO_EXTERN const char *goro_strerror(int err);
/* The symbolic name ("GORO_ETIMEDOUT") of a code, or "GORO_E?" if unknown. */
GORO_EXTERN const char *goro_err_name(int err);

/* ------------------------------------------------------------------ */
/* The runtime and goroutines                                         */
/* ------------------------------------------------------------------ */

#define GORO_FOREVER ((int64_t)-1)

typedef void (*goro_fn)(void *arg);
typedef int (*goro_main_fn)(void *arg);

/* Start the runtime on the calling thread, run main_fn(arg) as goroutine
 * 1, and return its result when it returns.  Goroutines still alive then
 * are abandoned (as when Go's main returns) and every thread the runtime
 * started has exited, so goro_run may be called again.  Returns a negative
 * GORO_E* code if the runtime could not start (bad GORO_MAXPROCS, no
 * memory, already running); main_fn should return non-negative values to
 * keep the two apart.  Environment: GORO_MAXPROCS (processor count),
 * GORO_DEBUG (see docs), GORO_STACK_SIZE (default stack slot, bytes),
 * GORO_FDTABLE (fd table slots to grow to at start; 0: off). */
GORO_EXTERN int goro_run(goro_main_fn main_fn, void *arg);

typedef struct goro_opts {
  size_t stack_size;   /* bytes of stack; 0 = the default slot size */
  const char *name;    /* shown in dumps; copied (up to 31 bytes) */
  unsigned flags;      /* 0 or GORO_SHARED_STACK */
} goro_opts;

/* GORO_SHARED_STACK: for many goroutines that spend their lives waiting,
 * such as one per connection.  The goroutine runs on a 256 KiB stack
 * shared by such goroutines of one processor; when it blocks, the used
 * part of the stack (a few hundred bytes for a handler waiting in
 * goro_read) is copied to the heap, and back when it runs again.  A
 * parked goroutine then costs under 1 KiB instead of a 4 KiB page, for a
 * copy of that size at each switch.  Every goro call works as usual.
 * The rules:
 *  - While it is blocked, no other goroutine or thread may use a pointer
 *    into its stack (the address of a local, a goro_waitgroup or buffer
 *    declared in its function): that memory holds another goroutine's
 *    frames meanwhile.  Values it passes to goro calls are safe.
 *  - It stays on the processor it was given at spawn (spawns go round
 *    the processors); goro_lock_thread returns GORO_EPERM; a blocking
 *    call (goro_blocking, goro_file_read/write, between
 *    goro_syscall_enter/exit) keeps that processor busy instead of
 *    handing it to another thread; GOMAXPROCS cannot be lowered below a
 *    processor hosting such goroutines (goro_maxprocs returns
 *    GORO_EBUSY).
 *  - stack_size must be 0 (GORO_EINVAL otherwise).
 * ASan, TSan and the portable ucontext build accept the flag and give the
 * goroutine a stack of its own. */
#define GORO_SHARED_STACK 1u

/* Start fn(arg) in a new goroutine.  Returns its id (> 0), or GORO_EINVAL
 * (NULL fn, stack size below 16 KiB or above 1 GiB, unknown flags, a
 * stack size with GORO_SHARED_STACK), GORO_ENOMEM, or
 * GORO_ENOTRUNNING outside goro_run.  The goroutine takes a stack only
 * when it first runs.  A goroutine that spawns 128 goroutines without
 * blocking or yielding in between (or whose spawn overflows its
 * processor's run queue) yields, behind them, so a spawning loop cannot
 * pile up unbounded goroutines that have not run yet.
 * goro_go_opts takes optional settings (opts may be NULL). */
GORO_EXTERN int64_t goro_go(goro_fn fn, void *arg);
GORO_EXTERN int64_t goro_go_opts(goro_fn fn, void *arg, const goro_opts *opts);

/* Let other goroutines run (Go's runtime.Gosched): the caller goes to the
 * back of the global run queue, so yielding goroutines share all
 * processors evenly (with one processor, the back of its own queue, which
 * is the same line and much cheaper). */
GORO_EXTERN void goro_yield(void);

/* End the calling goroutine (Go's runtime.Goexit).  Called in the main
 * goroutine, it ends goro_run, which returns 0. */
GORO_EXTERN _Noreturn void goro_exit(void);

/* The calling goroutine's id (> 0), or 0 when not in a goroutine. */
GORO_EXTERN int64_t goro_id(void);

/* Set the number of processors to n (n >= 1) and return the previous
 * value; n <= 0 only queries.  Works before goro_run (sets the value it
 * will start with) and while running.  Returns GORO_EINVAL for n > 1024,
 * GORO_EBUSY (nothing changed) if n would remove a processor that
 * GORO_SHARED_STACK goroutines live on. */
GORO_EXTERN int goro_maxprocs(int n);

/* Wire the calling goroutine to its current OS thread (Go's
 * LockOSThread): it runs only on that thread, and that thread runs
 * nothing else, until a matching goro_unlock_thread.  Calls nest.
 * Returns 0, GORO_ENOTGOROUTINE, or GORO_EPERM in a GORO_SHARED_STACK
 * goroutine.  goro_unlock_thread returns GORO_EPERM if the goroutine is
 * not locked. */
GORO_EXTERN int goro_lock_thread(void);
GORO_EXTERN int goro_unlock_thread(void);

/* Default stack slot size for goroutines started without an explicit
 * size, rounded up to a page.  Only before goro_run; returns GORO_EINVAL
 * outside [16 KiB, 1 GiB] and GORO_ERUNNING while running. */
GORO_EXTERN int goro_set_default_stack_size(size_t bytes);

/* ------------------------------------------------------------------ */
/* Time                                                               */
/* ------------------------------------------------------------------ */

#define GORO_MICROSECOND ((int64_t)1000)
#define GORO_MILLISECOND ((int64_t)1000000)
#define GORO_SECOND ((int64_t)1000000000)

/* Nanoseconds on the monotonic clock.  Callable from any thread. */
GORO_EXTERN int64_t goro_now(void);
/* Park the goroutine for ns nanoseconds (<= 0 just yields) / until the
 * absolute deadline.  Return 0. */
GORO_EXTERN int goro_sleep(int64_t ns);
GORO_EXTERN int goro_sleep_until(int64_t deadline);

/* ------------------------------------------------------------------ */
/* Channels                                                           */
/* ------------------------------------------------------------------ */

typedef struct goro_chan goro_chan;

/* Make a channel of elements of elem_size bytes (0 allowed: a pure
 * signal) with a buffer of cap elements (0 = unbuffered).
 * Ownership: the channel is reference counted; *out holds one reference.
 * goro_chan_retain adds one, goro_chan_release drops one and frees the
 * channel when the last goes.  Releasing the last reference while
 * goroutines still wait on the channel is fatal ("goro: fatal error:
 * free of channel with waiting goroutines").  Returns GORO_EINVAL for
 * elem_size > 65535 or cap > 2^31, GORO_ENOMEM. */
GORO_EXTERN int goro_chan_make(goro_chan **out, size_t elem_size, size_t cap);
GORO_EXTERN goro_chan *goro_chan_retain(goro_chan *c);
GORO_EXTERN void goro_chan_release(goro_chan *c);

/* Send: copies elem_size bytes from elem.  Returns 0, or GORO_ECLOSED if
 * the channel is or becomes closed (Go panics here; the caller can act).
 * A NULL channel blocks forever (the _dl form until its deadline). */
GORO_EXTERN int goro_chan_send(goro_chan *c, const void *elem);
GORO_EXTERN int goro_chan_send_dl(goro_chan *c, const void *elem, int64_t deadline);
/* Returns GORO_EAGAIN instead of blocking. */
GORO_EXTERN int goro_chan_try_send(goro_chan *c, const void *elem);

/* Receive into out (may be NULL to discard).  Returns 0 when a value sent
 * by a sender was received, GORO_ECLOSED when the channel is closed and
 * drained (out is zero-filled).  If ok is not NULL it is set to true
 * exactly when the value came from a send (Go's "v, ok := <-c"). */
GORO_EXTERN int goro_chan_recv(goro_chan *c, void *out, bool *ok);
GORO_EXTERN int goro_chan_recv_dl(goro_chan *c, void *out, bool *ok, int64_t deadline);
/* Returns GORO_EAGAIN instead of blocking. */
GORO_EXTERN int goro_chan_try_recv(goro_chan *c, void *out, bool *ok);

/* Close: waiting receivers get GORO_ECLOSED (after the buffer drains),
 * waiting senders get GORO_ECLOSED.  Returns GORO_ECLOSED if already
 * closed, GORO_EINVAL for NULL. */
GORO_EXTERN int goro_chan_close(goro_chan *c);
GORO_EXTERN size_t goro_chan_len(goro_chan *c);
GORO_EXTERN size_t goro_chan_cap(goro_chan *c);

/* ------------------------------------------------------------------ */
/* select                                                             */
/* ------------------------------------------------------------------ */

enum { GORO_SEND = 1, GORO_RECV = 2 };

typedef struct goro_case {
  goro_chan *chan;  /* NULL: the case never fires (Go's nil channel) */
  int dir;          /* GORO_SEND or GORO_RECV */
  void *elem;       /* value to send / where to receive (may be NULL) */
  bool ok;          /* out, receive: true if the value came from a send */
  int err;          /* out: 0, or GORO_ECLOSED (send on closed channel,
                       receive from closed drained channel) */
} goro_case;

#define GORO_CASE_SEND(c, p) {(c), GORO_SEND, (void *)(p), false, 0}
#define GORO_CASE_RECV(c, p) {(c), GORO_RECV, (void *)(p), false, 0}

/* Wait until one case can proceed, perform it, and return its index.
 * Ready cases are chosen uniformly at random.  deadline 0 is Go's
 * "default" (returns GORO_EAGAIN if nothing is ready), GORO_FOREVER
 * blocks; a passed deadline returns GORO_ETIMEDOUT.  A select with no
 * live cases and no deadline blocks forever.  n may be up to 65536;
 * GORO_EINVAL for a bad dir or n. */
GORO_EXTERN int goro_select(goro_case *cases, int n, int64_t deadline);

/* ------------------------------------------------------------------ */
/* sync: valid when zero-filled; never copy one that is in use        */
/* ------------------------------------------------------------------ */

/* Mutex with Go's normal and starvation modes.  Unlock of an unlocked
 * mutex is fatal ("goro: fatal error: sync: unlock of unlocked mutex").
 * Any goroutine may unlock (as in Go). */
typedef struct goro_mutex { _Alignas(8) uint32_t opaque_[4]; } goro_mutex;
#define GORO_MUTEX_INIT {{0}}
GORO_EXTERN void goro_mutex_lock(goro_mutex *mu);
GORO_EXTERN int goro_mutex_lock_dl(goro_mutex *mu, int64_t deadline);
GORO_EXTERN bool goro_mutex_trylock(goro_mutex *mu);
GORO_EXTERN void goro_mutex_unlock(goro_mutex *mu);

/* Writer-preferring reader/writer lock.  Unlock/RUnlock without a lock is
 * fatal. */
typedef struct goro_rwmutex { _Alignas(8) uint32_t opaque_[8]; } goro_rwmutex;
#define GORO_RWMUTEX_INIT {{0}}
GORO_EXTERN void goro_rwmutex_lock(goro_rwmutex *rw);
GORO_EXTERN int goro_rwmutex_lock_dl(goro_rwmutex *rw, int64_t deadline);
GORO_EXTERN void goro_rwmutex_unlock(goro_rwmutex *rw);
GORO_EXTERN void goro_rwmutex_rlock(goro_rwmutex *rw);
GORO_EXTERN int goro_rwmutex_rlock_dl(goro_rwmutex *rw, int64_t deadline);
GORO_EXTERN void goro_rwmutex_runlock(goro_rwmutex *rw);

/* WaitGroup.  A negative counter is fatal ("goro: fatal error: sync:
 * negative WaitGroup counter"). */
typedef struct goro_waitgroup { _Alignas(8) uint32_t opaque_[4]; } goro_waitgroup;
#define GORO_WAITGROUP_INIT {{0}}
GORO_EXTERN void goro_waitgroup_add(goro_waitgroup *wg, int delta);
GORO_EXTERN void goro_waitgroup_done(goro_waitgroup *wg);
GORO_EXTERN void goro_waitgroup_wait(goro_waitgroup *wg);
GORO_EXTERN int goro_waitgroup_wait_dl(goro_waitgroup *wg, int64_t deadline);

/* Once: fn runs exactly once; every caller returns after it completed. */
typedef struct goro_once { _Alignas(8) uint32_t opaque_[6]; } goro_once;
#define GORO_ONCE_INIT {{0}}
GORO_EXTERN void goro_once_do(goro_once *once, goro_fn fn, void *arg);

/* Cond: wait atomically unlocks mu, parks, and relocks mu before
 * returning (the same mu must be used by all waiters). */
typedef struct goro_cond { _Alignas(8) uint32_t opaque_[8]; } goro_cond;
#define GORO_COND_INIT {{0}}
GORO_EXTERN void goro_cond_wait(goro_cond *cv, goro_mutex *mu);
GORO_EXTERN int goro_cond_wait_dl(goro_cond *cv, goro_mutex *mu, int64_t deadline);
GORO_EXTERN void goro_cond_signal(goro_cond *cv);
GORO_EXTERN void goro_cond_broadcast(goro_cond *cv);

/* Counting semaphore; a zero-filled one has count 0. */
typedef struct goro_sema { _Alignas(8) uint32_t opaque_[2]; } goro_sema;
#define GORO_SEMA_INIT(n) {{(uint32_t)(n), 0}}
GORO_EXTERN void goro_sema_acquire(goro_sema *s);
GORO_EXTERN int goro_sema_acquire_dl(goro_sema *s, int64_t deadline);
GORO_EXTERN bool goro_sema_tryacquire(goro_sema *s);
GORO_EXTERN void goro_sema_release(goro_sema *s);

/* ------------------------------------------------------------------ */
/* Timers                                                             */
/* ------------------------------------------------------------------ */

typedef struct goro_timer goro_timer;

/* One-shot timer (Go's time.NewTimer): after delay ns, the goro_now()
 * value of the firing is sent on goro_timer_chan(t) (an int64_t channel
 * with one slot).  Ownership: the caller owns *out and frees it with
 * goro_timer_free (which stops it); the channel belongs to the timer. */
GORO_EXTERN int goro_timer_make(goro_timer **out, int64_t delay);
/* Periodic timer (Go's time.NewTicker); a slow reader drops ticks.
 * GORO_EINVAL for period <= 0. */
GORO_EXTERN int goro_ticker_make(goro_timer **out, int64_t period);
/* Go's time.AfterFunc: after delay, fn(arg) runs in a new goroutine. */
GORO_EXTERN int goro_after_func(goro_timer **out, int64_t delay, goro_fn fn, void *arg);
GORO_EXTERN goro_chan *goro_timer_chan(goro_timer *t);
/* Stop: true if this call stopped a pending timer.  After it returns no
 * stale value is received from the channel. */
GORO_EXTERN bool goro_timer_stop(goro_timer *t);
/* Reset to fire after delay (tickers: with a new period).  Returns true
 * if the timer had been pending. */
GORO_EXTERN bool goro_timer_reset(goro_timer *t, int64_t delay);
GORO_EXTERN void goro_timer_free(goro_timer *t);
/* Go's time.After: a channel that receives the time after delay.
 * Ownership: the caller holds one reference to *out (goro_chan_release). */
GORO_EXTERN int goro_after(goro_chan **out, int64_t delay);

/* ------------------------------------------------------------------ */
/* Network and file descriptors                                       */
/* ------------------------------------------------------------------ */

/* Descriptors made by these functions are non-blocking and close-on-exec
 * and are registered with the poller; they must be closed with
 * goro_close, which wakes every goroutine waiting on them with
 * GORO_ECLOSED.  network: "tcp", "tcp4", "tcp6", "unix", "udp", "udp4",
 * "udp6".  address: "host:port", "[v6addr]:port", ":port", or a path for
 * unix.  Host names are resolved without blocking a processor.
 * Results: a descriptor / byte count >= 0, or a negative code. */
GORO_EXTERN int goro_listen(const char *network, const char *address, int backlog);
GORO_EXTERN int goro_dial(const char *network, const char *address, int64_t deadline);
/* Bind a UDP socket to address (may be NULL / ":0" for any). */
GORO_EXTERN int goro_udp_bind(const char *network, const char *address);
GORO_EXTERN int goro_accept(int lfd, struct sockaddr *sa, socklen_t *salen);
GORO_EXTERN int goro_accept_dl(int lfd, struct sockaddr *sa, socklen_t *salen, int64_t deadline);
/* read returns 0 at end of stream.  On TCP connections made by goro_dial
 * and goro_accept, a read right after one that emptied the connection
 * waits for the poller to report new input before it makes the system
 * call (which would fail with EAGAIN); a deadline of 0 or one that has
 * passed always makes the call.  Such connections have TCP_NODELAY and
 * TCP_INQ set, so a recvmsg(2) of the caller's own with a control buffer
 * also receives a TCP_CM_INQ message. */
GORO_EXTERN ssize_t goro_read(int fd, void *buf, size_t n);
GORO_EXTERN ssize_t goro_read_dl(int fd, void *buf, size_t n, int64_t deadline);
/* write writes all n bytes unless an error or the deadline intervenes
 * (then the error is returned; bytes already written are lost to the
 * count, as with Go's Write returning n < len and an error). */
GORO_EXTERN ssize_t goro_write(int fd, const void *buf, size_t n);
GORO_EXTERN ssize_t goro_write_dl(int fd, const void *buf, size_t n, int64_t deadline);
GORO_EXTERN ssize_t goro_readv(int fd, const struct iovec *iov, int iovcnt);
GORO_EXTERN ssize_t goro_readv_dl(int fd, const struct iovec *iov, int iovcnt, int64_t deadline);
GORO_EXTERN ssize_t goro_writev(int fd, const struct iovec *iov, int iovcnt);
GORO_EXTERN ssize_t goro_writev_dl(int fd, const struct iovec *iov, int iovcnt, int64_t deadline);
GORO_EXTERN ssize_t goro_sendto(int fd, const void *buf, size_t n, const struct sockaddr *sa,
                                socklen_t salen, int64_t deadline);
GORO_EXTERN ssize_t goro_recvfrom(int fd, void *buf, size_t n, struct sockaddr *sa,
                                  socklen_t *salen, int64_t deadline);
GORO_EXTERN int goro_shutdown(int fd, int how);
GORO_EXTERN int goro_close(int fd);

enum { GORO_READABLE = 1, GORO_WRITABLE = 2 };
/* Wait until any non-blocking fd (pipe, eventfd, a library's socket) is
 * readable and/or writable.  Returns the ready subset of events. */
GORO_EXTERN int goro_wait_fd(int fd, int events, int64_t deadline);

/* getaddrinfo run on a blocking-call thread.  Returns 0, or GORO_ENAME
 * (with the resolver's message in goro_strerror(GORO_ENAME) replaced by
 * gai_strerror in *detail if detail is not NULL). */
GORO_EXTERN int goro_getaddrinfo(const char *node, const char *service,
                                 const struct addrinfo *hints, struct addrinfo **res,
                                 const char **detail);

/* ------------------------------------------------------------------ */
/* Blocking calls                                                     */
/* ------------------------------------------------------------------ */

/* Bracket a call that may block its thread (file I/O, a foreign library):
 * if it lasts more than ~20 us the monitor hands this goroutine's
 * processor to another thread.  Between enter and exit, call no goro
 * function. */
GORO_EXTERN void goro_syscall_enter(void);
GORO_EXTERN void goro_syscall_exit(void);
/* fn(arg) between enter and exit; returns fn's result. */
GORO_EXTERN long goro_blocking(long (*fn)(void *), void *arg);
/* Regular-file I/O through the blocking-call path; off < 0 means the
 * current file offset. */
GORO_EXTERN ssize_t goro_file_read(int fd, void *buf, size_t n, off_t off);
GORO_EXTERN ssize_t goro_file_write(int fd, const void *buf, size_t n, off_t off);

/* ------------------------------------------------------------------ */
/* Diagnostics (no ABI guarantee on goro_stats_t layout yet)          */
/* ------------------------------------------------------------------ */

/* Print every goroutine (id, state or wait reason, wait time, backtrace,
 * creator) in Go's format.  Also on SIGQUIT. */
GORO_EXTERN void goro_dump(FILE *f);

typedef struct goro_stats_t {
  int64_t goroutines;         /* live goroutines, all states */
  int64_t runnable, running, waiting, syscall;
  int64_t threads, idle_threads, spinning_threads;
  int64_t procs, idle_procs;
  int64_t stack_reserved_bytes, stack_resident_bytes;
  int64_t context_switches, steals, polls, preemptions, handoffs;
  int64_t spawned;            /* goroutines started since goro_run */
} goro_stats_t;
GORO_EXTERN void goro_stats(goro_stats_t *out);

/* Preemption check for user code: returns quickly unless the monitor
 * asked the current goroutine to yield.  Builds with
 * -finstrument-functions call it at every function entry (see docs). */
GORO_EXTERN void goro_preempt_check(void);

#ifdef __cplusplus
}
#endif
#endif /* GORO_H */
