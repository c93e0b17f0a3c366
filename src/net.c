/* net.c - sockets and descriptors on top of the poll descriptors.
 *
 * Purpose: goro_listen/dial/accept/read/write/... with Go's semantics: every
 * call first tries the system call on the non-blocking fd and, on EAGAIN,
 * parks the goroutine on the fd's poll descriptor (netpoll.c), then
 * retries.  The thread is never blocked; errors are returned as negative
 * codes, errno is read right after the failing call, before anything that
 * can switch goroutines.
 *
 * Addresses: "host:port", "[v6]:port", ":port" (wildcard for listen,
 * loopback for dial, as in Go), numeric hosts parsed in place, names
 * resolved with goro_getaddrinfo (resolver threads, no processor held).
 * "unix" takes a path ("@name" = abstract namespace).  "tcp"/"udp" with an
 * empty or wildcard host listen dual-stack on [::] when IPv6 exists.
 *
 * Writes to sockets use send/sendmsg with MSG_NOSIGNAL so a dead peer
 * yields GORO_EPIPE instead of killing the process with SIGPIPE; an fd that
 * turns out not to be a socket is remembered in its poll descriptor and
 * written with write/writev with SIGPIPE held back on the thread.
 *
 * Dialed and accepted TCP connections get TCP_NODELAY, as in Go, and
 * TCP_INQ: their reads (goro_read, goro_readv) use recvmsg, learn whether
 * they emptied the socket, and then wait for the poller before the next
 * call instead of failing with EAGAIN first (netpoll.c).
 *
 * Preemption: every call passes a preemption point, so a goroutine that
 * never has to wait (a fast echo loop) still yields to others.
 *
 * Rejected: a per-fd object with reference counts (Go's netFD/fdMutex)
 * would make close race-free against concurrent use of the same number,
 * but the API speaks plain fds; using an fd after goro_close is the
 * caller's bug, as with close(2).
 */
#include "netpoll.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* Address parsing                                                     */
/* ------------------------------------------------------------------ */

enum { NET_TCP = 1, NET_UDP = 2, NET_UNIX = 3 };

typedef struct {
  int kind;     /* NET_* */
  int family;   /* AF_UNSPEC (either), AF_INET, AF_INET6, AF_UNIX */
} netspec_t;

static int parse_network(const char *network, netspec_t *ns) {
  if (!network) return GORO_EINVAL;
  static const struct {
    const char *name;
    int kind, family;
  } tab[] = {{"tcp", NET_TCP, AF_UNSPEC},  {"tcp4", NET_TCP, AF_INET}, {"tcp6", NET_TCP, AF_INET6},
             {"udp", NET_UDP, AF_UNSPEC},  {"udp4", NET_UDP, AF_INET}, {"udp6", NET_UDP, AF_INET6},
             {"unix", NET_UNIX, AF_UNIX}};
  for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++) {
    if (strcmp(network, tab[i].name) == 0) {
      ns->kind = tab[i].kind;
      ns->family = tab[i].family;
      return 0;
    }
  }
  return GORO_EINVAL;
}

/* Split "host:port" / "[host]:port" / ":port" into host and port strings. */
static int split_hostport(const char *addr, char *host, size_t hostsz, char *port, size_t portsz) {
  if (!addr) return GORO_ENOADDR;
  const char *h, *he, *p;
  if (addr[0] == '[') {
    h = addr + 1;
    he = strchr(h, ']');
    if (!he || he[1] != ':') return GORO_ENOADDR;
    p = he + 2;
  } else {
    const char *colon = strrchr(addr, ':');
    if (!colon) return GORO_ENOADDR;
    if (memchr(addr, ':', (size_t)(colon - addr))) return GORO_ENOADDR; /* v6 needs [] */
    h = addr;
    he = colon;
    p = colon + 1;
  }
  size_t hl = (size_t)(he - h), pl = strlen(p);
  if (hl >= hostsz || pl == 0 || pl >= portsz) return GORO_ENOADDR;
  memcpy(host, h, hl);
  host[hl] = 0;
  memcpy(port, p, pl + 1);
  return 0;
}

/* A numeric port, -1 for a service name, -2 for a number out of range. */
static int parse_port(const char *s) {
  if (!*s) return -1;
  long v = 0;
  for (const char *c = s; *c; c++) {
    if (*c < '0' || *c > '9') return -1;
    if (v <= 65535) v = v * 10 + (*c - '0');
  }
  return v > 65535 ? -2 : (int)v;
}

#define MAX_ADDRS 8

typedef struct {
  struct sockaddr_storage ss;
  socklen_t len;
} addr_t;

static bool ipv6_available(void) {
  static _Atomic int cached; /* 0 unknown, 1 yes, 2 no */
  int c = atomic_load_explicit(&cached, memory_order_relaxed);
  if (c) return c == 1;
  int fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  bool ok = false;
  if (fd >= 0) {
    struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
  }
  atomic_store_explicit(&cached, ok ? 1 : 2, memory_order_relaxed);
  return ok;
}

/* Resolve address for network.  passive: for listen/bind (empty host =
 * wildcard), else for dial (empty host = loopback).  Fills up to MAX_ADDRS
 * candidates, IPv4 first for dual-stack names (as Go prefers when the
 * first answer fails). *wild is set for a dual-stack wildcard. */
/* An IPv4 / IPv6 socket address for addr and port into *out. */
static void put_in4(addr_t *out, struct in_addr addr, int port) {
  struct sockaddr_in *a = (struct sockaddr_in *)&out->ss;
  memset(a, 0, sizeof *a);
  a->sin_family = AF_INET;
  a->sin_port = htons((uint16_t)port);
  a->sin_addr = addr;
  out->len = sizeof *a;
}

static void put_in6(addr_t *out, struct in6_addr addr, int port) {
  struct sockaddr_in6 *a = (struct sockaddr_in6 *)&out->ss;
  memset(a, 0, sizeof *a);
  a->sin6_family = AF_INET6;
  a->sin6_port = htons((uint16_t)port);
  a->sin6_addr = addr;
  out->len = sizeof *a;
}

static int resolve(const netspec_t *ns, const char *address, bool passive, addr_t *out, int *nout,
                   bool *dualstack) {
  *nout = 0;
  if (dualstack) *dualstack = false;
  if (ns->kind == NET_UNIX) {
    if (!address || !*address) return GORO_ENOADDR;
    struct sockaddr_un *un = (struct sockaddr_un *)&out[0].ss;
    memset(un, 0, sizeof *un);
    un->sun_family = AF_UNIX;
    size_t l = strlen(address);
    if (l >= sizeof un->sun_path) return GORO_ENOADDR;
    memcpy(un->sun_path, address, l);
    if (address[0] == '@') un->sun_path[0] = 0; /* abstract */
    out[0].len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + l + (address[0] == '@' ? 0 : 1));
    *nout = 1;
    return 0;
  }
  char host[256], port[64];
  int r;
  if (!address)
    address = ":0";
  if ((r = split_hostport(address, host, sizeof host, port, sizeof port)) != 0) return r;
  int portnum = parse_port(port);
  if (portnum == -2) return GORO_ENOADDR;
  bool wildcard = host[0] == 0 || strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0;
  if (portnum >= 0 && (host[0] == 0 || (passive && wildcard && ns->family == AF_UNSPEC))) {
    /* Empty host: wildcard (listen) or loopback (dial). */
    bool v6 = ns->family == AF_INET6 ||
              (ns->family == AF_UNSPEC && passive && ipv6_available());
    if (ns->family == AF_UNSPEC && passive && v6 && strcmp(host, "0.0.0.0") == 0) v6 = false;
    if (v6) {
      put_in6(&out[0], passive ? in6addr_any : in6addr_loopback, portnum);
      if (dualstack) *dualstack = ns->family == AF_UNSPEC;
    } else {
      struct in_addr a4 = {htonl(passive ? INADDR_ANY : INADDR_LOOPBACK)};
      put_in4(&out[0], a4, portnum);
    }
    *nout = 1;
    return 0;
  }
  if (portnum >= 0) {
    struct in_addr a4;
    struct in6_addr a6;
    if (ns->family != AF_INET6 && inet_pton(AF_INET, host, &a4) == 1) {
      put_in4(&out[0], a4, portnum);
      *nout = 1;
      return 0;
    }
    if (ns->family != AF_INET && inet_pton(AF_INET6, host, &a6) == 1) {
      put_in6(&out[0], a6, portnum);
      *nout = 1;
      return 0;
    }
  }
  /* A name (or a service name, or a scoped v6 address): the resolver. */
  struct addrinfo hints;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = ns->family;
  hints.ai_socktype = ns->kind == NET_UDP ? SOCK_DGRAM : SOCK_STREAM;
  hints.ai_flags = (passive ? AI_PASSIVE : 0) | (portnum >= 0 ? AI_NUMERICSERV : 0);
  struct addrinfo *res = NULL;
  r = goro_getaddrinfo(host[0] ? host : NULL, port, &hints, &res, NULL);
  if (r != 0) return r;
  int n = 0;
  /* IPv4 answers first, then IPv6: loopback names resolve to both. */
  for (int pass = 0; pass < 2; pass++) {
    for (struct addrinfo *ai = res; ai && n < MAX_ADDRS; ai = ai->ai_next) {
      if ((pass == 0) != (ai->ai_family == AF_INET)) continue;
      if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) continue;
      if (ai->ai_addrlen > sizeof out[n].ss) continue;
      memcpy(&out[n].ss, ai->ai_addr, ai->ai_addrlen);
      out[n].len = ai->ai_addrlen;
      n++;
    }
  }
  freeaddrinfo(res);
  if (n == 0) return GORO_ENAME;
  *nout = n;
  return 0;
}

/* ------------------------------------------------------------------ */
/* Sockets                                                             */
/* ------------------------------------------------------------------ */

/* A TCP connection: no Nagle delay (as in Go), and TCP_INQ so that reads
 * learn whether they emptied the socket (netpoll.c); returns whether the
 * kernel took TCP_INQ. */
static bool tune_tcp(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return setsockopt(fd, IPPROTO_TCP, TCP_INQ, &one, sizeof one) == 0;
}

/* Register fd, just made, with the poller (inq: tune_tcp took TCP_INQ).
 * Returns fd, or a negative code with fd closed. */
static int register_fd(int fd, bool inq) {
  int r = goro__pd_open(fd, inq);
  if (r < 0) {
    close(fd);
    return r;
  }
  return fd;
}

/* A non-blocking, close-on-exec socket registered with the poller. */
static int new_socket(int family, int type) {
  int fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  return register_fd(fd, false);
}

static int bind_socket(const netspec_t *ns, const addr_t *a, bool dualstack, int backlog) {
  int type = ns->kind == NET_UDP ? SOCK_DGRAM : SOCK_STREAM;
  int fd = new_socket(a->ss.ss_family, type);
  if (fd < 0) return fd;
  int one = 1, zero = 0;
  if (ns->kind != NET_UNIX) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (a->ss.ss_family == AF_INET6)
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, dualstack ? &zero : &one, sizeof one);
  if (bind(fd, (const struct sockaddr *)&a->ss, a->len) != 0) {
    int e = errno;
    goro_close(fd);
    return -e;
  }
  if (ns->kind != NET_UDP) {
    if (backlog <= 0) backlog = SOMAXCONN;
    if (listen(fd, backlog) != 0) {
      int e = errno;
      goro_close(fd);
      return -e;
    }
  }
  return fd;
}

static int listen_on(const netspec_t *ns, const char *address, int backlog) {
  addr_t addrs[MAX_ADDRS];
  int n;
  bool dual;
  int r = resolve(ns, address, true, addrs, &n, &dual);
  if (r < 0) return r;
  int last = GORO_ENOADDR;
  for (int i = 0; i < n; i++) {
    int fd = bind_socket(ns, &addrs[i], dual, backlog);
    if (fd >= 0) return fd;
    last = fd;
    if (dual && addrs[i].ss.ss_family == AF_INET6) {
      /* No working IPv6 stack after all: fall back to IPv4 wildcard. */
      struct sockaddr_in *a4 = (struct sockaddr_in *)&addrs[i].ss;
      uint16_t port = ((struct sockaddr_in6 *)&addrs[i].ss)->sin6_port;
      memset(a4, 0, sizeof *a4);
      a4->sin_family = AF_INET;
      a4->sin_port = port;
      a4->sin_addr.s_addr = htonl(INADDR_ANY);
      addrs[i].len = sizeof *a4;
      fd = bind_socket(ns, &addrs[i], false, backlog);
      if (fd >= 0) return fd;
      last = fd;
    }
  }
  return last;
}

int goro_listen(const char *network, const char *address, int backlog) {
  goro__preempt_point();
  netspec_t ns;
  if (parse_network(network, &ns) != 0) return GORO_EINVAL;
  return listen_on(&ns, address, backlog);
}

int goro_udp_bind(const char *network, const char *address) {
  goro__preempt_point();
  netspec_t ns;
  if (parse_network(network, &ns) != 0 || ns.kind != NET_UDP) return GORO_EINVAL;
  return listen_on(&ns, address ? address : ":0", 0);
}

/* The socket is registered with the poller after connect(2): a TCP socket
 * that has not connected yet polls as hung up (EPOLLHUP), and that event
 * would turn off the read skipping of netpoll.c for the connection's
 * life. */
static int dial_one(const netspec_t *ns, const addr_t *a, int64_t deadline) {
  int type = ns->kind == NET_UDP ? SOCK_DGRAM : SOCK_STREAM;
  int fd = socket(a->ss.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  bool inq = ns->kind == NET_TCP && tune_tcp(fd);
  int rc = connect(fd, (const struct sockaddr *)&a->ss, a->len);
  int e = rc == 0 ? 0 : errno;
  /* EAGAIN from a unix socket: the listener's backlog is full; nothing is
   * in progress (Go returns the error too). */
  if (rc != 0 && (e != EINPROGRESS && e != EINTR && (e != EAGAIN || a->ss.ss_family == AF_UNIX))) {
    close(fd);
    return -e;
  }
  if ((fd = register_fd(fd, inq)) < 0) return fd;
  if (rc == 0) return fd;
  /* Connecting: wait until writable, then ask how it went. */
  for (;;) {
    int w = goro__pd_wait(fd, GORO_WRITABLE, deadline);
    if (w < 0) {
      goro_close(fd);
      return w;
    }
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    if (err == 0) {
      /* Writable with no error may be spurious: check we are connected. */
      struct sockaddr_storage peer;
      socklen_t pl = sizeof peer;
      if (getpeername(fd, (struct sockaddr *)&peer, &pl) == 0) return fd;
      if (errno != ENOTCONN) {
        err = errno;
      } else {
        continue;
      }
    }
    if (err == EINPROGRESS || err == EALREADY || err == EINTR) continue;
    goro_close(fd);
    return -err;
  }
}

int goro_dial(const char *network, const char *address, int64_t deadline) {
  goro__preempt_point();
  netspec_t ns;
  if (parse_network(network, &ns) != 0) return GORO_EINVAL;
  addr_t addrs[MAX_ADDRS];
  int n;
  int r = resolve(&ns, address, false, addrs, &n, NULL);
  if (r < 0) return r;
  int last = GORO_ENOADDR;
  for (int i = 0; i < n; i++) {
    int fd = dial_one(&ns, &addrs[i], deadline);
    if (fd >= 0) return fd;
    last = fd;
    if (fd == GORO_ETIMEDOUT) break;
  }
  return last;
}

/* ------------------------------------------------------------------ */
/* Accept, read, write                                                  */
/* ------------------------------------------------------------------ */

/* A non-blocking call on fd failed with err (an errno value).  Returns 0
 * if it should simply be tried again (EINTR, or fd became ready in the
 * `events` direction), else the negative code to return: the call's
 * error, or the wait's (deadline, close). */
static int retry_or_fail(int err, int fd, int events, int64_t deadline) {
  if (err == EINTR) return 0;
  if (err != EAGAIN) return -err;
  int w = goro__pd_wait(fd, events, deadline);
  return w < 0 ? w : 0;
}

int goro_accept_dl(int lfd, struct sockaddr *sa, socklen_t *salen, int64_t deadline) {
  goro__preempt_point();
  for (;;) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    int fd = accept4(lfd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      bool inq = (ss.ss_family == AF_INET || ss.ss_family == AF_INET6) && tune_tcp(fd);
      if ((fd = register_fd(fd, inq)) < 0) return fd;
      if (sa && salen) {
        socklen_t cp = len < *salen ? len : *salen;
        memcpy(sa, &ss, cp);
        *salen = len;
      }
      return fd;
    }
    int e = errno;
    if (e == ECONNABORTED) continue;
    /* EMFILE/ENFILE are returned: the caller keeps serving. */
    int f = retry_or_fail(e, lfd, GORO_READABLE, deadline);
    if (f < 0) return f;
  }
}

int goro_accept(int lfd, struct sockaddr *sa, socklen_t *salen) {
  return goro_accept_dl(lfd, sa, salen, GORO_FOREVER);
}

/* A read on a TCP connection with TCP_INQ (netpoll.c): the waits park
 * from this frame, not from deeper ones, so that a parked shared-stack
 * goroutine keeps as little stack as with the ordinary path. */
static ssize_t read_tcp(goro__pd_t *pd, uint32_t gen, int fd, const struct iovec *iov, int iovcnt,
                        int64_t deadline) {
  int w = goro__pd_read_wait(pd, gen, fd, deadline);
  if (w < 0) return w;
  for (;;) {
    uint32_t seen;
    ssize_t r = goro__pd_recv_inq(pd, gen, fd, iov, iovcnt, &seen);
    if (r != -EAGAIN) return r;
    w = goro__pd_read_event_wait(pd, fd, seen, deadline);
    if (w < 0) return w;
  }
}

ssize_t goro_read_dl(int fd, void *buf, size_t n, int64_t deadline) {
  goro__preempt_point();
  uint32_t gen;
  goro__pd_t *pd = n > 0 ? goro__pd_inq(fd, &gen) : NULL; /* a 0-byte recv would wait */
  if (pd) return read_tcp(pd, gen, fd, &(struct iovec){buf, n}, 1, deadline);
  for (;;) {
    ssize_t r = read(fd, buf, n);
    if (r >= 0) return r;
    int f = retry_or_fail(errno, fd, GORO_READABLE, deadline);
    if (f < 0) return f;
  }
}

ssize_t goro_read(int fd, void *buf, size_t n) { return goro_read_dl(fd, buf, n, GORO_FOREVER); }

/* Whether a valid iovec array asks for any bytes (a read of none returns 0
 * at once; recvmsg of none on an empty TCP socket would wait). */
static bool iov_bytes(const struct iovec *iov, int iovcnt) {
  if (iovcnt <= 0 || iovcnt > IOV_MAX) return false;
  for (int i = 0; i < iovcnt; i++)
    if (iov[i].iov_len) return true;
  return false;
}

/* write/writev on a non-socket (a pipe) with SIGPIPE held back: blocked
 * on this thread for the call, and a SIGPIPE the call raised is taken
 * before unblocking, so a closed reader yields -EPIPE as on sockets (Go's
 * behaviour for descriptors other than stdout/stderr).  No goroutine switch
 * can happen in between, so the thread's mask is restored on the same
 * thread. */
static ssize_t write_nosigpipe(int fd, const void *buf, const struct iovec *iov, int iovcnt,
                               size_t n) {
  sigset_t pipeset, old;
  sigemptyset(&pipeset);
  sigaddset(&pipeset, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipeset, &old);
  ssize_t r = iov ? writev(fd, iov, iovcnt) : write(fd, buf, n);
  int e = r < 0 ? errno : 0;
  if (e == EPIPE && !sigismember(&old, SIGPIPE)) {
    struct timespec zero = {0, 0};
    while (sigtimedwait(&pipeset, NULL, &zero) < 0 && errno == EINTR) {
    }
  }
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  return r >= 0 ? r : -e;
}

/* One write attempt: send with MSG_NOSIGNAL on sockets, write otherwise.
 * Returns bytes or -errno. */
static ssize_t write_once(int fd, const void *buf, size_t n) {
  if (!goro__pd_notsock(fd)) {
    ssize_t r = send(fd, buf, n, MSG_NOSIGNAL);
    if (r >= 0) return r;
    int e = errno;
    if (e != ENOTSOCK) return -e;
    goro__pd_set_notsock(fd);
  }
  return write_nosigpipe(fd, buf, NULL, 0, n);
}

static ssize_t writev_once(int fd, const struct iovec *iov, int iovcnt) {
  if (!goro__pd_notsock(fd)) {
    struct msghdr mh;
    memset(&mh, 0, sizeof mh);
    mh.msg_iov = (struct iovec *)iov;
    mh.msg_iovlen = (size_t)iovcnt;
    ssize_t r = sendmsg(fd, &mh, MSG_NOSIGNAL);
    if (r >= 0) return r;
    int e = errno;
    if (e != ENOTSOCK) return -e;
    goro__pd_set_notsock(fd);
  }
  return write_nosigpipe(fd, NULL, iov, iovcnt, 0);
}

ssize_t goro_write_dl(int fd, const void *buf, size_t n, int64_t deadline) {
  goro__preempt_point();
  size_t done = 0;
  for (;;) {
    ssize_t r = write_once(fd, (const char *)buf + done, n - done);
    if (r >= 0) {
      done += (size_t)r;
      if (done >= n) return (ssize_t)done;
      continue;
    }
    int f = retry_or_fail((int)-r, fd, GORO_WRITABLE, deadline);
    if (f < 0) return f;
  }
}

ssize_t goro_write(int fd, const void *buf, size_t n) {
  return goro_write_dl(fd, buf, n, GORO_FOREVER);
}

ssize_t goro_readv_dl(int fd, const struct iovec *iov, int iovcnt, int64_t deadline) {
  goro__preempt_point();
  uint32_t gen;
  goro__pd_t *pd = iov_bytes(iov, iovcnt) ? goro__pd_inq(fd, &gen) : NULL;
  if (pd) return read_tcp(pd, gen, fd, iov, iovcnt, deadline);
  for (;;) {
    ssize_t r = readv(fd, iov, iovcnt);
    if (r >= 0) return r;
    int f = retry_or_fail(errno, fd, GORO_READABLE, deadline);
    if (f < 0) return f;
  }
}

ssize_t goro_readv(int fd, const struct iovec *iov, int iovcnt) {
  return goro_readv_dl(fd, iov, iovcnt, GORO_FOREVER);
}

/* Writes every byte of every buffer (like goro_write). */
ssize_t goro_writev_dl(int fd, const struct iovec *iov, int iovcnt, int64_t deadline) {
  goro__preempt_point();
  if (iovcnt < 0 || iovcnt > IOV_MAX) return GORO_EINVAL;
  size_t total = 0;
  for (int i = 0; i < iovcnt; i++) total += iov[i].iov_len;
  struct iovec local[16], *cur = (struct iovec *)iov, *copy = NULL;
  int cnt = iovcnt;
  size_t done = 0;
  ssize_t ret;
  for (;;) {
    ssize_t r = writev_once(fd, cur, cnt);
    if (r >= 0) {
      done += (size_t)r;
      if (done >= total) {
        ret = (ssize_t)done;
        break;
      }
      /* Partial: advance through a private copy of the vector. */
      if (!copy) {
        copy = cnt <= 16 ? local : malloc((size_t)cnt * sizeof *copy);
        if (!copy) {
          ret = GORO_ENOMEM;
          break;
        }
        memcpy(copy, cur, (size_t)cnt * sizeof *copy);
        cur = copy;
      }
      size_t adv = (size_t)r;
      while (cnt > 0 && adv >= cur->iov_len) {
        adv -= cur->iov_len;
        cur++;
        cnt--;
      }
      if (cnt > 0) {
        cur->iov_base = (char *)cur->iov_base + adv;
        cur->iov_len -= adv;
      }
      continue;
    }
    int f = retry_or_fail((int)-r, fd, GORO_WRITABLE, deadline);
    if (f < 0) {
      ret = f;
      break;
    }
  }
  if (copy && copy != local) free(copy);
  return ret;
}

ssize_t goro_writev(int fd, const struct iovec *iov, int iovcnt) {
  return goro_writev_dl(fd, iov, iovcnt, GORO_FOREVER);
}

ssize_t goro_sendto(int fd, const void *buf, size_t n, const struct sockaddr *sa, socklen_t salen,
                    int64_t deadline) {
  goro__preempt_point();
  for (;;) {
    ssize_t r = sendto(fd, buf, n, MSG_NOSIGNAL, sa, sa ? salen : 0);
    if (r >= 0) return r;
    int f = retry_or_fail(errno, fd, GORO_WRITABLE, deadline);
    if (f < 0) return f;
  }
}

ssize_t goro_recvfrom(int fd, void *buf, size_t n, struct sockaddr *sa, socklen_t *salen,
                      int64_t deadline) {
  goro__preempt_point();
  for (;;) {
    ssize_t r = recvfrom(fd, buf, n, 0, sa, sa ? salen : NULL);
    if (r >= 0) return r;
    int f = retry_or_fail(errno, fd, GORO_READABLE, deadline);
    if (f < 0) return f;
  }
}

int goro_shutdown(int fd, int how) {
  return shutdown(fd, how) == 0 ? 0 : -errno;
}

int goro_close(int fd) {
  if (fd < 0) return GORO_EBADF;
  goro__pd_close(fd); /* wakes waiters with GORO_ECLOSED, unregisters */
  return close(fd) == 0 ? 0 : -errno;
}

int goro_wait_fd(int fd, int events, int64_t deadline) {
  goro__preempt_point();
  events &= GORO_READABLE | GORO_WRITABLE;
  if (!events || fd < 0) return GORO_EINVAL;
  for (;;) {
    struct pollfd pfd = {.fd = fd,
                         .events = (short)(((events & GORO_READABLE) ? POLLIN : 0) |
                                           ((events & GORO_WRITABLE) ? POLLOUT : 0))};
    int r = poll(&pfd, 1, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    if (r > 0) {
      if (pfd.revents & POLLNVAL) return GORO_EBADF;
      int got = 0;
      if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) got |= GORO_READABLE;
      if (pfd.revents & (POLLOUT | POLLHUP | POLLERR)) got |= GORO_WRITABLE;
      got &= events;
      if (got) return got;
    }
    int w = goro__pd_wait(fd, events, deadline);
    if (w == -EPERM) return events; /* regular files: always ready */
    if (w < 0) return w;
  }
}
