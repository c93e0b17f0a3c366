/* debug.c - GORO_DEBUG settings, global deadlock detection, the scheduler
 * trace and goro_stats.  (Goroutine dumps live in backtrace.c.)
 *
 * Design: all of this reads runtime state and changes none of it, except
 * checkdead, which ends the program.  Readers walk G records through the
 * immutable allnext links without locks (records are never freed while the
 * runtime runs) and read counters racily, so values may be a few
 * nanoseconds stale; nothing here is used for decisions except checkdead,
 * which runs under sched.lock.
 *
 * GORO_DEBUG is a comma-separated list of name=value:
 *   schedtrace=MS        print a SCHED line every MS ms (from the monitor)
 *   scheddetail=1        with schedtrace: one line per P, M and G as well
 *   tracebackall=1       show runtime frames (src/ and goro_*) in dumps
 *   partialdeadlock=1    report goroutines blocked forever on a channel or
 *                        lock while others run (partial_deadlock.c)
 *   partialdeadlockms=MS how long a goroutine must have been blocked before
 *                        it can be reported (default 1000)
 *   idlethreadtimeout=MS how long an idle thread waits before exiting
 *   deadlock=0           turn off the global deadlock check
 */
#include "sstack.h"
#include "sched.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

HIDDEN int goro__debug_tracebackall;                /* backtrace.c reads it */
HIDDEN int64_t goro__debug_partial_threshold_ns;    /* partial_deadlock.c reads it */
HIDDEN void goro__partial_deadlock_poll(int64_t now); /* partial_deadlock.c */

void goro__debug_init(void) {
  goro__debug_tracebackall = 0;
  goro__debug_partial_threshold_ns = GORO_SECOND;
  const char *s = getenv("GORO_DEBUG");
  if (!s) return;
  char buf[256];
  snprintf(buf, sizeof buf, "%s", s);
  for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    char *eq = strchr(tok, '=');
    if (!eq) {
      fprintf(stderr, "goro: GORO_DEBUG setting \"%s\" has no value; ignored\n", tok);
      continue;
    }
    *eq = 0;
    long v = atol(eq + 1);
    if (strcmp(tok, "schedtrace") == 0)
      goro__sched.schedtrace_ms = (int)v;
    else if (strcmp(tok, "scheddetail") == 0)
      goro__sched.scheddetail = (int)v;
    else if (strcmp(tok, "tracebackall") == 0)
      goro__debug_tracebackall = v != 0;
    else if (strcmp(tok, "partialdeadlock") == 0)
      goro__sched.partialdeadlock = (int)v;
    else if (strcmp(tok, "partialdeadlockms") == 0 && v > 0)
      goro__debug_partial_threshold_ns = (int64_t)v * GORO_MILLISECOND;
    else if (strcmp(tok, "idlethreadtimeout") == 0 && v > 0)
      goro__sched.idle_m_timeout = (int64_t)v * GORO_MILLISECOND;
    else if (strcmp(tok, "deadlock") == 0)
      atomic_store(&goro__sched.deadlock_off, v == 0);
    else
      fprintf(stderr, "goro: unknown GORO_DEBUG setting \"%s\" ignored\n", tok);
  }
}

/* Called with sched.lock held whenever the number of running Ms may have
 * dropped to zero (an M goes idle, parks for its locked goroutine, or
 * exits).  The rule is Go's: no M running goroutine code (every M idle or
 * parked for a locked goroutine; an M in a blocking call or blocked in the
 * network poller is not idle), no goroutine runnable, no timer pending in
 * any P, nobody waiting on the network -> nothing can ever wake anyone.
 * Foreign threads that used goro objects may still wake someone, so their
 * presence disables the check. */
void goro__checkdead(void) {
  if (!atomic_load(&goro__sched.running) || atomic_load(&goro__sched.exiting)) return;
  if (goro__sched.partialdeadlock) goro__partial_deadlock_poll(goro__nanotime());
  if (atomic_load(&goro__sched.deadlock_off)) return;
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
    if (!goro__runq_empty(p) || goro__ss_pending(p)) return;
  }
  /* Threads the runtime did not start (a C library's callback thread
   * holding a goro mutex, say) may still wake someone. */
  if (goro__foreign_threads_present()) return;
  goro__fatal("all goroutines are asleep - deadlock!");
}

/* ------------------------------------------------------------------ */
/* Scheduler trace (Go's SCHED lines)                                  */
/* ------------------------------------------------------------------ */

typedef struct {
  char buf[4096];
  size_t n;
} tbuf_t;

static void tflush(tbuf_t *t) {
  size_t off = 0;
  while (off < t->n) {
    ssize_t w = write(2, t->buf + off, t->n - off);
    if (w <= 0) break;
    off += (size_t)w;
  }
  t->n = 0;
}

static void tprintf(tbuf_t *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tprintf(tbuf_t *t, const char *fmt, ...) {
  if (t->n > sizeof t->buf - 512) tflush(t);
  va_list ap;
  va_start(ap, fmt);
  int k = vsnprintf(t->buf + t->n, sizeof t->buf - t->n, fmt, ap);
  va_end(ap);
  if (k < 0) return;
  t->n += (size_t)k < sizeof t->buf - t->n ? (size_t)k : sizeof t->buf - t->n - 1;
}

/* "nil" or the number, as Go prints ids of absent objects. */
static const char *idstr(char *b, size_t n, long long id, bool present) {
  if (!present) return "nil";
  snprintf(b, n, "%lld", id);
  return b;
}


static void schedtrace_locked(bool detail);

void goro__schedtrace(bool detail) {
  /* Counts under sched.lock, like Go's schedtrace; the per-P/M/G detail
   * is read as it is. */
  goro__lock(&goro__sched.lock);
  RACY_READS_BEGIN();
  schedtrace_locked(detail);
  RACY_READS_END();
  goro__unlock(&goro__sched.lock);
}

static void schedtrace_locked(bool detail) {
  static tbuf_t t; /* only the monitor thread calls this */
  char b1[24], b2[24], b3[24];
  int64_t ms = (goro__nanotime() - goro__sched.starttime) / GORO_MILLISECOND;
  int32_t procs = atomic_load(&goro__sched.gomaxprocs);
  /* threads counts the monitor, as Go's mcount() counts sysmon. */
  tprintf(&t,
          "SCHED %lldms: gomaxprocs=%d idleprocs=%d threads=%d spinningthreads=%d "
          "needspinning=%d idlethreads=%d runqueue=%d",
          (long long)ms, procs, atomic_load(&goro__sched.npidle), goro__sched.mcount + 1,
          atomic_load(&goro__sched.nmspinning), atomic_load(&goro__sched.needspinning),
          goro__sched.nmidle, atomic_load(&goro__sched.runqsize));
  if (!detail) {
    tprintf(&t, " [");
    for (int32_t i = 0; i < procs; i++) {
      p_t *p = goro__sched.allp[i];
      tprintf(&t, "%s%u", i ? " " : "", p ? goro__runq_len(p) : 0);
    }
    tprintf(&t, "]\n");
    tflush(&t);
    return;
  }
  tprintf(&t, " gcwaiting=false nmidlelocked=%d stopwait=0 sysmonwait=false\n",
          goro__sched.nmidlelocked);
  for (int32_t i = 0; i < procs; i++) {
    p_t *p = goro__sched.allp[i];
    if (!p) continue;
    m_t *pm = p->m;
    tprintf(&t, "  P%d: status=%u schedtick=%u syscalltick=%u m=%s runqsize=%u gfreecnt=%d\n", p->id,
            atomic_load(&p->status), atomic_load_explicit(&p->schedtick_pub, memory_order_relaxed),
            atomic_load(&p->syscalltick), idstr(b1, sizeof b1, pm ? (long long)pm->id : 0, pm),
            goro__runq_len(p), p->ngfree);
  }
  for (m_t *m = goro__sched.allm; m; m = m->alllink) {
    if (m->dead) continue;
    p_t *mp = m->p;
    g_t *cg = m->curg;
    g_t *lg = m->lockedg;
    tprintf(&t,
            "  M%lld: p=%s curg=%s mallocing=0 throwing=0 preemptoff= locks=0 dying=0 "
            "spinning=%s blocked=%s lockedg=%s\n",
            (long long)m->id, idstr(b1, sizeof b1, mp ? mp->id : 0, mp),
            idstr(b2, sizeof b2, cg ? (long long)cg->id : 0, cg), m->spinning ? "true" : "false",
            atomic_load(&m->blocked_in_poll) ? "true" : "false",
            idstr(b3, sizeof b3, lg ? (long long)lg->id : 0, lg));
  }
  for (g_t *g = goro__sched.allg; g; g = g->allnext) {
    uint32_t st = atomic_load(&g->status);
    if (st == G_IDLE || st == G_DEAD) continue;
    m_t *lm = g->lockedm;
    /* m= is the M running it; only known for running ones. */
    m_t *rm = NULL;
    if (st == G_RUNNING || st == G_SYSCALL)
      for (m_t *m = goro__sched.allm; m; m = m->alllink)
        if (!m->dead && m->curg == g) rm = m;
    tprintf(&t, "  G%lld: status=%u(%s) m=%s lockedm=%s\n", (long long)g->id, st,
            st == G_WAITING ? goro__waitreason_str(atomic_load_explicit(&g->waitreason, memory_order_relaxed)) : "",
            idstr(b1, sizeof b1, rm ? (long long)rm->id : 0, rm),
            idstr(b2, sizeof b2, lm ? (long long)lm->id : 0, lm));
  }
  tflush(&t);
}

/* ------------------------------------------------------------------ */
/* goro_stats                                                          */
/* ------------------------------------------------------------------ */

void goro_stats(goro_stats_t *out) {
  memset(out, 0, sizeof *out);
  if (!atomic_load(&goro__sched.running)) return;
  for (g_t *g = goro__sched.allg; g; g = g->allnext) {
    switch (atomic_load_explicit(&g->status, memory_order_relaxed)) {
      case G_RUNNABLE: out->runnable++; break;
      case G_RUNNING: out->running++; break;
      case G_WAITING: out->waiting++; break;
      case G_SYSCALL: out->syscall++; break;
      default: break;
    }
  }
  /* The scheduler batches its goroutine counters per P (up to 64 behind),
   * so the live count comes from the scan; `spawned` may lag by that much
   * per P. */
  out->goroutines = out->runnable + out->running + out->waiting + out->syscall;
  goro__lock(&goro__sched.lock);
  out->threads = goro__sched.mcount;
  out->idle_threads = goro__sched.nmidle;
  goro__unlock(&goro__sched.lock);
  out->spinning_threads = atomic_load(&goro__sched.nmspinning);
  out->procs = atomic_load(&goro__sched.gomaxprocs) - atomic_load(&goro__sched.nborrowed);
  out->idle_procs = atomic_load(&goro__sched.npidle);
  goro__stack_usage(&out->stack_reserved_bytes, &out->stack_resident_bytes);
  int64_t cs = 0, st = 0;
  int nallp = atomic_load(&goro__sched.nallp);
  for (int i = 0; i < nallp; i++) {
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
  out->spawned = goro__spawned_count();
}
