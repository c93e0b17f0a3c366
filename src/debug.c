/* debug.c - GORO_DEBUG settings, deadlock detection, scheduler trace,
 * statistics.
 *
 * Design: all of this reads runtime state and changes none of it, except
 * checkdead, which ends the program.  Readers walk G records through the
 * immutable allnext links without locks (records are never freed while the
 * runtime runs), so a dump can run from a signal handler; the values it
 * prints may be a few nanoseconds stale.
 */
#include "sched.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void goro__debug_init(void) {
  const char *s = getenv("GORO_DEBUG");
  if (!s) return;
  char buf[256];
  snprintf(buf, sizeof buf, "%s", s);
  for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    char *eq = strchr(tok, '=');
    if (!eq) continue;
    *eq = 0;
    long v = atol(eq + 1);
    if (strcmp(tok, "schedtrace") == 0)
      goro__sched.schedtrace_ms = (int)v;
    else if (strcmp(tok, "scheddetail") == 0)
      goro__sched.scheddetail = (int)v;
    else if (strcmp(tok, "partialdeadlock") == 0)
      goro__sched.partialdeadlock = (int)v;
    else if (strcmp(tok, "idlethreadtimeout") == 0 && v > 0)
      goro__sched.idle_m_timeout = (int64_t)v * GORO_MILLISECOND;
    else if (strcmp(tok, "deadlock") == 0)
      atomic_store(&goro__sched.deadlock_off, v == 0);
    else
      fprintf(stderr, "goro: unknown GORO_DEBUG setting \"%s\" ignored\n", tok);
  }
}

/* Called with sched.lock held whenever the number of running Ms may have
 * dropped to zero.  The rule is Go's: no M running goroutine code (M0 and
 * every other M idle or parked for a locked goroutine), no timers pending,
 * nobody in the network poller or a blocking call -> nothing can ever
 * wake anyone. */
void goro__checkdead(void) {
  if (!atomic_load(&goro__sched.running) || atomic_load(&goro__sched.exiting) ||
      atomic_load(&goro__sched.deadlock_off))
    return;
  if (atomic_load(&goro__sched.foreign_users) > 0) return;
  int run = goro__sched.mcount - goro__sched.nmidle - goro__sched.nmidlelocked;
  if (run > 0) return;
  if (run < 0) goro__throw("checkdead: inconsistent M counts (mcount=%d idle=%d locked=%d)",
                           goro__sched.mcount, goro__sched.nmidle, goro__sched.nmidlelocked);
  if (atomic_load(&goro__sched.nsyscall) > 0) return;
  if (atomic_load(&goro__netpoll_waiters) > 0) return;
  if (atomic_load(&goro__sched.runqsize) > 0) return;
  int32_t n = atomic_load(&goro__sched.gomaxprocs);
  for (int32_t i = 0; i < n; i++) {
    p_t *p = goro__sched.allp[i];
    if (!p) continue;
    if (goro__timers_next(p) != -1) return;
    if (!goro__runq_empty(p)) return;
  }
  goro__fatal("all goroutines are asleep - deadlock!");
}

static const char *gstatus_str(g_t *g) {
  switch (atomic_load(&g->status)) {
    case G_RUNNABLE:
      return "runnable";
    case G_RUNNING:
      return "running";
    case G_SYSCALL:
      return "syscall";
    case G_WAITING:
      return goro__waitreason_str(g->waitreason);
    default:
      return "dead";
  }
}

void goro__dump_all(int fd, bool from_signal) {
  (void)from_signal;
  char buf[512];
  m_t *self = goro__getm();
  g_t *selfg = self ? self->curg : NULL;
  int64_t now = goro__nanotime();
  for (g_t *g = goro__sched.allg; g; g = g->allnext) {
    uint32_t st = atomic_load(&g->status);
    if (st == G_IDLE || st == G_DEAD) continue;
    int n = snprintf(buf, sizeof buf, "goroutine %lld [%s", (long long)g->id, gstatus_str(g));
    if (st == G_WAITING && g->waitsince > 0) {
      int64_t mins = (now - g->waitsince) / (60 * GORO_SECOND);
      if (mins >= 1) n += snprintf(buf + n, sizeof buf - (size_t)n, ", %lld minutes", (long long)mins);
    }
    if (g->lockedm) n += snprintf(buf + n, sizeof buf - (size_t)n, ", locked to thread");
    n += snprintf(buf + n, sizeof buf - (size_t)n, "]%s%s%s:\n", g->name ? " \"" : "",
                  g->name ? g->name : "", g->name ? "\"" : "");
    if (write(fd, buf, (size_t)n) < 0) return;
    goro__dump_backtrace(fd, g, g == selfg);
    if (g->parent_id > 0 || g->creator_pc) {
      n = snprintf(buf, sizeof buf, "created by %p in goroutine %lld\n\n", g->creator_pc,
                   (long long)g->parent_id);
    } else {
      n = snprintf(buf, sizeof buf, "\n");
    }
    if (write(fd, buf, (size_t)n) < 0) return;
  }
}

void goro_dump(FILE *f) {
  if (!f) f = stderr;
  fflush(f);
  goro__dump_all(fileno(f), false);
}

void goro__schedtrace(bool detail) {
  char buf[4096];
  int64_t ms = (goro__nanotime() - goro__sched.starttime) / GORO_MILLISECOND;
  int32_t procs = atomic_load(&goro__sched.gomaxprocs);
  int n = snprintf(buf, sizeof buf,
                   "SCHED %lldms: gomaxprocs=%d idleprocs=%d threads=%d spinningthreads=%d "
                   "needspinning=%d idlethreads=%d runqueue=%d",
                   (long long)ms, procs, atomic_load(&goro__sched.npidle), goro__sched.mcount + 1,
                   atomic_load(&goro__sched.nmspinning), atomic_load(&goro__sched.needspinning),
                   goro__sched.nmidle, atomic_load(&goro__sched.runqsize));
  if (detail) {
    n += snprintf(buf + n, sizeof buf - (size_t)n, " gcwaiting=0 nmidlelocked=%d stopwait=0 sysmonwait=0\n",
                  goro__sched.nmidlelocked);
    for (int32_t i = 0; i < procs && n < (int)sizeof buf - 200; i++) {
      p_t *p = goro__sched.allp[i];
      if (!p) continue;
      m_t *pm = p->m;
      n += snprintf(buf + n, sizeof buf - (size_t)n,
                    "  P%d: status=%u schedtick=%u syscalltick=%u m=%lld runqsize=%u gfreecnt=%d\n",
                    p->id, atomic_load(&p->status), p->schedtick, atomic_load(&p->syscalltick),
                    pm ? (long long)pm->id : -1LL, goro__runq_len(p), p->ngfree);
    }
    for (m_t *m = goro__sched.allm; m && n < (int)sizeof buf - 200; m = m->alllink) {
      if (m->dead) continue;
      p_t *mp = m->p;
      g_t *cg = m->curg;
      n += snprintf(buf + n, sizeof buf - (size_t)n,
                    "  M%lld: p=%d curg=%lld spinning=%d blocked=%d lockedg=%lld\n",
                    (long long)m->id, mp ? mp->id : -1, cg ? (long long)cg->id : -1LL, m->spinning,
                    (int)atomic_load(&m->blocked_in_poll), m->lockedg ? (long long)m->lockedg->id : -1LL);
    }
    if (write(2, buf, (size_t)n) < 0) return;
    return;
  }
  n += snprintf(buf + n, sizeof buf - (size_t)n, " [");
  for (int32_t i = 0; i < procs && n < (int)sizeof buf - 20; i++) {
    p_t *p = goro__sched.allp[i];
    n += snprintf(buf + n, sizeof buf - (size_t)n, "%s%u", i ? " " : "", p ? goro__runq_len(p) : 0);
  }
  n += snprintf(buf + n, sizeof buf - (size_t)n, "]\n");
  if (write(2, buf, (size_t)n) < 0) return;
}

void goro_stats(goro_stats_t *out) {
  memset(out, 0, sizeof *out);
  if (!atomic_load(&goro__sched.running)) return;
  for (g_t *g = goro__sched.allg; g; g = g->allnext) {
    switch (atomic_load(&g->status)) {
      case G_RUNNABLE: out->runnable++; break;
      case G_RUNNING: out->running++; break;
      case G_WAITING: out->waiting++; break;
      case G_SYSCALL: out->syscall++; break;
      default: break;
    }
  }
  out->goroutines = atomic_load(&goro__sched.gcount);
  goro__lock(&goro__sched.lock);
  out->threads = goro__sched.mcount;
  out->idle_threads = goro__sched.nmidle;
  goro__unlock(&goro__sched.lock);
  out->spinning_threads = atomic_load(&goro__sched.nmspinning);
  out->procs = atomic_load(&goro__sched.gomaxprocs);
  out->idle_procs = atomic_load(&goro__sched.npidle);
  goro__stack_usage(&out->stack_reserved_bytes, &out->stack_resident_bytes);
  int64_t cs = 0, st = 0;
  for (int i = 0; i < goro__sched.nallp; i++) {
    p_t *p = goro__sched.allp[i];
    if (p) {
      cs += (int64_t)p->ctxswitches;
      st += (int64_t)p->steals;
    }
  }
  out->context_switches = cs;
  out->steals = st;
  out->polls = atomic_load(&goro__sched.polls);
  out->preemptions = atomic_load(&goro__sched.preemptions);
  out->handoffs = atomic_load(&goro__sched.handoffs);
  out->spawned = atomic_load(&goro__sched.spawned);
}
