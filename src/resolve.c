/* resolve.c - goro_getaddrinfo on resolver threads.
 *
 * Purpose: getaddrinfo blocks (DNS round trips, files, NSS modules) and
 * needs far more stack than a goroutine's slot (glibc's resolver and NSS
 * plug-ins can use tens of KiB).  So it runs on a small pool of resolver
 * threads, each with an ordinary thread stack; the calling goroutine parks
 * (wait reason "name resolution") without holding a processor or a thread.
 *
 * Protocol: the request lives on the caller's stack (valid while it is
 * parked).  The caller queues it and parks; the park's commit CASes
 * req->state QUEUED -> PARKED, and aborts the park if it finds DONE (the
 * answer was already there).  The resolver sets DONE with an exchange and
 * readies the goroutine only if it saw PARKED, so the goroutine is readied
 * exactly once and only after it has fully switched out; after the
 * exchange the resolver never touches the request again.
 * While parked the goroutine counts in goro__netpoll_waiters, which keeps
 * the deadlock detector quiet: an answer will come from outside.
 *
 * Threads: started on demand up to RESOLVERS (no idle one and fewer than
 * RESOLVERS running), then kept until the runtime shuts down
 * (goro__resolve_fini, called from the poller's shutdown), which joins them;
 * requests still queued or finishing then belong to abandoned goroutines
 * and are dropped (a resolver checks the stop flag before readying).
 * Resolver threads block every signal so that runtime signals land on
 * runtime threads.
 *
 * Locks: pool.mu (a pthread mutex: resolver threads are not Ms) protects
 * the queue, thread counts and the stop flag; never held across
 * getaddrinfo or a park.
 *
 * Rejected: running getaddrinfo inline between goro_syscall_enter/exit
 * would keep the runtime's thread-count semantics but overflows small
 * goroutine stacks; getaddrinfo_a spawns a thread per request.
 */
#include "sstack.h"
#include "internal.h"

#include <pthread.h>
#include <signal.h>
#include <string.h>

#define RESOLVERS 4

enum { REQ_QUEUED = 0, REQ_PARKED = 1, REQ_DONE = 2 };

typedef struct req {
  const char *node, *service;
  const struct addrinfo *hints;
  struct addrinfo *res;
  int rc;
  g_t *g;
  _Atomic uint32_t state;
  struct req *next;
} req_t;

static struct {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  req_t *head, *tail;
  int nthreads, nidle;
  bool stop;
  pthread_t threads[RESOLVERS];
} pool = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

HIDDEN void goro__resolve_fini(void);

static void *resolver_main(void *arg) {
  (void)arg;
  pthread_mutex_lock(&pool.mu);
  for (;;) {
    while (!pool.head && !pool.stop) {
      pool.nidle++;
      pthread_cond_wait(&pool.cv, &pool.mu);
      pool.nidle--;
    }
    if (pool.stop) break;
    req_t *r = pool.head;
    pool.head = r->next;
    if (!pool.head) pool.tail = NULL;
    pthread_mutex_unlock(&pool.mu);

    r->rc = getaddrinfo(r->node, r->service, r->hints, &r->res);

    pthread_mutex_lock(&pool.mu);
    if (pool.stop) {
      /* The runtime is going away and the goroutine with it. */
      if (r->rc == 0) freeaddrinfo(r->res);
      break;
    }
    g_t *g = r->g;
    if (atomic_exchange(&r->state, REQ_DONE) == REQ_PARKED) goro__ready(g);
  }
  pthread_mutex_unlock(&pool.mu);
  return NULL;
}

/* pool.mu held. */
static void maybe_start_thread(void) {
  if (pool.nidle > 0 || pool.nthreads >= RESOLVERS) return;
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pthread_t t;
  if (pthread_create(&t, NULL, resolver_main, NULL) == 0) {
    pool.threads[pool.nthreads++] = t;
    atomic_fetch_add(&goro__sched.nauxthreads, 1);
  }
  pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static bool resolve_commit(g_t *g, void *arg) {
  (void)g;
  req_t *r = arg;
  uint32_t q = REQ_QUEUED;
  return atomic_compare_exchange_strong(&r->state, &q, REQ_PARKED);
}

int goro_getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                     struct addrinfo **res, const char **detail) {
  if (!res || (!node && !service)) return GORO_EINVAL;
  *res = NULL;
  g_t *g = goro__getg();
  req_t rl, *r = &rl;
  /* A shared-stack goroutine's request, and the strings and hints the
   * resolver thread reads, live off its stack while it waits. */
  size_t nlen = node ? strlen(node) + 1 : 0, slen = service ? strlen(service) + 1 : 0;
  char *rec = goro__ss_wait_buf(g, GORO_SS_ALIGN(sizeof(req_t)) +
                                       GORO_SS_ALIGN(sizeof(struct addrinfo)) + nlen + slen);
  if (rec) {
    r = (req_t *)(void *)rec;
    char *p = rec + GORO_SS_ALIGN(sizeof(req_t));
    if (hints) {
      struct addrinfo *h = (struct addrinfo *)(void *)p;
      *h = (struct addrinfo){.ai_flags = hints->ai_flags,
                             .ai_family = hints->ai_family,
                             .ai_socktype = hints->ai_socktype,
                             .ai_protocol = hints->ai_protocol};
      hints = h;
    }
    p += GORO_SS_ALIGN(sizeof(struct addrinfo));
    if (node) node = memcpy(p, node, nlen);
    p += nlen;
    if (service) service = memcpy(p, service, slen);
  }
  memset(r, 0, sizeof *r);
  r->node = node;
  r->service = service;
  r->hints = hints;
  r->g = g;
  if (!g) {
    /* Not a goroutine: blocking this thread is what the caller expects. */
    r->rc = getaddrinfo(node, service, hints, &r->res);
  } else {
    goro__preempt_point();
    atomic_store(&r->state, REQ_QUEUED);
    pthread_mutex_lock(&pool.mu);
    if (pool.stop) {
      pthread_mutex_unlock(&pool.mu);
      return GORO_ENOTRUNNING;
    }
    if (pool.tail)
      pool.tail->next = r;
    else
      pool.head = r;
    pool.tail = r;
    maybe_start_thread();
    if (pool.nthreads == 0) {
      /* No thread could be started: resolve here after all. */
      pool.head = pool.tail = NULL;
      pthread_mutex_unlock(&pool.mu);
      goro_syscall_enter();
      r->rc = getaddrinfo(node, service, hints, &r->res);
      goro_syscall_exit();
    } else {
      pthread_cond_signal(&pool.cv);
      pthread_mutex_unlock(&pool.mu);
      atomic_fetch_add(&goro__netpoll_waiters, 1);
      goro__park(WR_RESOLVE, resolve_commit, r);
      atomic_fetch_sub(&goro__netpoll_waiters, 1);
    }
  }
  if (r->rc != 0) {
    if (detail) *detail = gai_strerror(r->rc);
    return GORO_ENAME;
  }
  if (detail) *detail = NULL;
  *res = r->res;
  return 0;
}

void goro__resolve_fini(void) {
  pthread_mutex_lock(&pool.mu);
  pool.stop = true;
  pthread_cond_broadcast(&pool.cv);
  int n = pool.nthreads;
  pthread_mutex_unlock(&pool.mu);
  for (int i = 0; i < n; i++) pthread_join(pool.threads[i], NULL);
  pthread_mutex_lock(&pool.mu);
  pool.nthreads = 0;
  pool.nidle = 0;
  pool.head = pool.tail = NULL;
  pool.stop = false;
  pthread_mutex_unlock(&pool.mu);
}
