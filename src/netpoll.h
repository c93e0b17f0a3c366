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
HIDDEN int goro__pd_open(int fd, bool notsock);
HIDDEN int goro__pd_wait(int fd, int events, int64_t deadline);
HIDDEN int goro__pd_close(int fd);
HIDDEN bool goro__pd_notsock(int fd);
HIDDEN void goro__pd_set_notsock(int fd);
/* resolve.c: join the resolver threads (from goro__netpoll_pd_fini). */
HIDDEN void goro__resolve_fini(void);
#endif
