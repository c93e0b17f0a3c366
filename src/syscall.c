/* syscall.c - blocking calls: the P stays behind for another thread.
 *
 * Design (Go's entersyscall/exitsyscall, lazy handoff): entering a call
 * detaches the P from the M and marks it P_SYSCALL without waking anyone,
 * so a call that returns quickly just takes the same P back with one CAS.
 * The monitor (sysmon.c) retakes a P that has stayed in P_SYSCALL across
 * two of its ticks (>= 20 us) and hands it to another M with goro__handoffp.
 * On return the goroutine CASes its old P back, else takes an idle P, else
 * queues itself globally and its M goes idle.
 *
 * Invariants: between enter and exit the goroutine calls no goro function
 * (m->p is NULL); the M does not change (no switch happens inside).
 */
#include "sched.h"

#include <unistd.h>

void goro_syscall_enter(void) {
  m_t *m = goro__getm();
  g_t *g = m ? m->curg : NULL;
  if (!g || !m->p) return; /* foreign thread: nothing to hand off */
  /* A shared-stack goroutine keeps its P: another M would run other
   * goroutines on the stack it is still executing on (sstack.c). */
  if (g->ss) return;
  p_t *p = m->p;
  atomic_store(&g->status, G_SYSCALL);
  atomic_store_explicit(&m->syscall_since, goro__nanotime(), memory_order_relaxed);
  atomic_fetch_add(&p->syscalltick, 1);
  atomic_fetch_add(&goro__sched.nsyscall, 1);
  m->oldp = p;
  m->p = NULL;
  p->m = NULL;
  atomic_store(&p->status, P_SYSCALL);
  goro__sysmon_syscall_hint();
}

void goro_syscall_exit(void) {
  m_t *m = goro__getm();
  g_t *g = m ? m->curg : NULL;
  if (!g || atomic_load(&g->status) != G_SYSCALL) return;
  p_t *p = m->oldp;
  m->oldp = NULL;
  atomic_store_explicit(&m->syscall_since, 0, memory_order_relaxed);
  atomic_fetch_sub(&goro__sched.nsyscall, 1);
  uint32_t s = P_SYSCALL;
  if (atomic_compare_exchange_strong(&p->status, &s, P_RUNNING)) {
    /* Fast path: our P is still ours. */
    m->p = p;
    p->m = m;
    atomic_store(&g->status, G_RUNNING);
    return;
  }
  goro__lock(&goro__sched.lock);
  p_t *np = atomic_load(&goro__sched.exiting) ? NULL : goro__pidleget();
  goro__unlock(&goro__sched.lock);
  if (np) {
    goro__acquirep(m, np);
    atomic_store(&g->status, G_RUNNING);
    return;
  }
  /* No P anywhere: run later, from the global queue. */
  atomic_store(&g->status, G_RUNNING);
  goro__mcall(m, g, ACT_SYSCALL_EXIT);
}

long goro_blocking(long (*fn)(void *), void *arg) {
  if (!fn) return GORO_EINVAL;
  goro_syscall_enter();
  long r = fn(arg);
  goro_syscall_exit();
  return r;
}

ssize_t goro_file_read(int fd, void *buf, size_t n, off_t off) {
  goro_syscall_enter();
  ssize_t r = off < 0 ? read(fd, buf, n) : pread(fd, buf, n, off);
  int e = r < 0 ? errno : 0; /* read before any switch can happen */
  goro_syscall_exit();
  return r < 0 ? -e : r;
}

ssize_t goro_file_write(int fd, const void *buf, size_t n, off_t off) {
  goro_syscall_enter();
  size_t done = 0;
  int e = 0;
  while (done < n) {
    ssize_t r = off < 0 ? write(fd, (const char *)buf + done, n - done)
                        : pwrite(fd, (const char *)buf + done, n - done, off + (off_t)done);
    if (r < 0) {
      if (errno == EINTR) continue;
      e = errno;
      break;
    }
    done += (size_t)r;
  }
  goro_syscall_exit();
  return e ? -e : (ssize_t)done;
}
