/* netpoll.h - the contract between the portable poller (netpoll.c) and a
 * backend (netpoll_epoll.c). */
#ifndef GORO_NETPOLL_H
#define GORO_NETPOLL_H
#include "internal.h"

/* Backend: the epoll descriptor, for registering fds. */
HIDDEN int goro__netpoll_epfd(void);
/* Portable half: an event for the registration tagged `data` arrived;
 * append the goroutines it readies (linked through schedlink, still
 * G_WAITING) to head/tail and count them in *n. */
HIDDEN void goro__netpoll_event(uint64_t data, uint32_t events, g_t **head, g_t **tail, int *n);
/* Portable half: release poll descriptors at shutdown. */
HIDDEN void goro__netpoll_pd_fini(void);
/* Poll descriptors (netpoll.c), used by net.c. */
/* Register an fd goro made; inq: a TCP socket with TCP_INQ set (below). */
HIDDEN int goro__pd_open(int fd, bool inq);
HIDDEN int goro__pd_wait(int fd, int events, int64_t deadline);
HIDDEN int goro__pd_close(int fd);
HIDDEN bool goro__pd_notsock(int fd);
HIDDEN void goro__pd_set_notsock(int fd);
/* TCP sockets with TCP_INQ set: each read learns whether it emptied the
 * socket, and the next read waits for an event first instead of making the
 * call that would fail with EAGAIN. */
typedef struct goro__pd goro__pd_t;
struct iovec;
/* fd's pd and its generation (for goro__pd_read_wait / goro__pd_recv_inq),
 * or NULL: read the ordinary way. */
HIDDEN goro__pd_t *goro__pd_inq(int fd, uint32_t *gen);
/* Before the first call of a read: if the last read emptied the socket and
 * no event came since, wait for one.  Returns >= 0 to make the call, or
 * GORO_ETIMEDOUT / GORO_ECLOSED / GORO_ENOTGOROUTINE. */
HIDDEN int goro__pd_read_wait(goro__pd_t *pd, uint32_t gen, int fd, int64_t deadline);
/* One recvmsg (retried on EINTR), recording whether it left the socket
 * empty: bytes, 0 at end of stream, or -errno; on -EAGAIN, *seen is the
 * event count to pass to goro__pd_read_event_wait. */
HIDDEN ssize_t goro__pd_recv_inq(goro__pd_t *pd, uint32_t gen, int fd, const struct iovec *iov,
                                 int iovcnt, uint32_t *seen);
/* After -EAGAIN: wait for an event newer than seen.  Returns >= 0 to make
 * the call again, or GORO_ETIMEDOUT / GORO_ECLOSED / GORO_ENOTGOROUTINE.
 * The caller (net.c) loops and parks from its own frame: a shared-stack
 * goroutine keeps every frame below the park while parked. */
HIDDEN int goro__pd_read_event_wait(goro__pd_t *pd, int fd, uint32_t seen, int64_t deadline);
/* Whether the next read on fd would wait for an event first (tests). */
HIDDEN bool goro__pd_read_would_wait(int fd);
/* resolve.c: join the resolver threads (from goro__netpoll_pd_fini). */
HIDDEN void goro__resolve_fini(void);
#endif
