/* sysmon.c - the monitor thread: retakes Ps, requests preemption, polls.
 *
 * Design (Go's sysmon): a thread without a P that wakes every 20 us while
 * it has work to do, backing off to 10 ms when idle.  Each tick it
 *  1. hands off the P of any M that has been in a blocking call across two
 *     ticks (>= 20 us), unless nothing is waiting for that P and other Ps
 *     are idle, and the call is younger than 10 ms;
 *  2. asks the goroutine running on any P for 10 ms in one time slice to
 *     yield at its next preemption point (p->preempt and the thread's own
 *     request word); if it still has not after another 10 ms and no P is
 *     idle, borrows one more P for the other goroutines (see preempt.c);
 *  3. polls the network if nobody has for 10 ms;
 *  4. prints the scheduler trace when GORO_DEBUG=schedtrace=N.
 * It is not counted as an M for deadlock detection.
 *
 * Locking: reads P fields racily by design (atomics); takes sched.lock only
 * through goro__handoffp and the netpoll injection.
 */
#include "sstack.h"
#include "sched.h"

#include <pthread.h>
#include <signal.h>

#define FORCE_PREEMPT_NS (10 * GORO_MILLISECOND)

static pthread_t sysmon_thread;
static goro__note_t sysmon_note;
static _Atomic int sysmon_stop_flag;
static bool sysmon_running;
/* The monitor's current sleep between ticks; a goroutine entering a
 * blocking call wakes a backed-off monitor so the hand-off happens after
 * ~20 us, not after a 10 ms nap (goro__sysmon_syscall_hint). */
static _Atomic int64_t sysmon_delay;
static _Atomic int sysmon_kicked;

HIDDEN bool goro__preempt_hog(p_t *p, m_t *m); /* preempt.c */
HIDDEN void goro__preempt_hog_done(p_t *p);

static int retake(int64_t now) {
  int n = 0;
  int32_t procs = atomic_load(&goro__sched.gomaxprocs);
  for (int32_t i = 0; i < procs; i++) {
    p_t *p = goro__sched.allp[i];
    if (!p) continue;
    uint32_t s = atomic_load(&p->status);
    if (s == P_RUNNING) {
      uint32_t t = atomic_load_explicit(&p->schedtick_pub, memory_order_relaxed);
      if (p->sysmon_schedtick != t) {
        p->sysmon_schedtick = t;
        p->sysmon_schedwhen = now;
        p->sysmon_preemptwhen = 0;
        goro__preempt_hog_done(p);
      } else if (now - p->sysmon_schedwhen >= FORCE_PREEMPT_NS) {
        /* Ask whatever runs there to yield: the P's flag for runtime
         * calls, the thread's word for the function-entry hook. */
        atomic_store(&p->preempt, 1);
        m_t *pm = atomic_load(&p->m);
        if (pm && pm->preempt_word) atomic_store_explicit(pm->preempt_word, 1, memory_order_relaxed);
        /* A goroutine that ignored the request for another 10 ms is a
         * hog (the request itself may be older than this slice's start
         * as sysmon saw it, so time it separately). */
        if (p->sysmon_preemptwhen == 0)
          p->sysmon_preemptwhen = now;
        else if (now - p->sysmon_preemptwhen >= FORCE_PREEMPT_NS && pm && goro__preempt_hog(p, pm))
          n++;
      }
    } else {
      goro__preempt_hog_done(p);
    }
    if (s == P_SYSCALL) {
      uint32_t t = atomic_load(&p->syscalltick);
      if (p->sysmon_syscalltick != t) {
        p->sysmon_syscalltick = t;
        p->sysmon_syscallwhen = now;
        continue;
      }
      if (goro__runq_empty(p) && !goro__ss_pending(p) &&
          atomic_load(&goro__sched.nmspinning) + atomic_load(&goro__sched.npidle) > 0 &&
          now - p->sysmon_syscallwhen < FORCE_PREEMPT_NS)
        continue;
      uint32_t want = P_SYSCALL;
      if (atomic_compare_exchange_strong(&p->status, &want, P_IDLE)) {
        atomic_fetch_add(&p->syscalltick, 1);
        atomic_fetch_add(&goro__sched.handoffs, 1);
        goro__handoffp(p);
        n++;
      }
    }
  }
  return n;
}

static void *sysmon_main(void *arg) {
  (void)arg;
  int64_t delay = 20 * GORO_MICROSECOND;
  int idle = 0;
  int64_t lasttrace = goro__nanotime();
  int64_t lastdeadcheck = lasttrace;
  while (!atomic_load(&sysmon_stop_flag)) {
    atomic_store_explicit(&sysmon_delay, delay, memory_order_relaxed);
    goro__note_sleep_for(&sysmon_note, delay);
    goro__note_clear(&sysmon_note);
    if (atomic_load(&sysmon_stop_flag)) break;
    if (atomic_exchange(&sysmon_kicked, 0)) {
      /* A blocking call started: watch closely again. */
      delay = 20 * GORO_MICROSECOND;
      idle = 0;
    }
    int64_t now = goro__nanotime();
    atomic_store_explicit(&goro__sched.coarsetime, now, memory_order_relaxed);
    /* 3. poll the network if nobody has for 10 ms */
    int64_t lp = atomic_load(&goro__sched.lastpoll);
    if (goro__netpoll_inited() && atomic_load(&goro__netpoll_waiters) > 0 && lp != 0 &&
        now - lp > 10 * GORO_MILLISECOND &&
        atomic_compare_exchange_strong(&goro__sched.lastpoll, &lp, now)) {
      int cnt = 0;
      g_t *list = goro__netpoll(0, &cnt);
      if (list) goro__ready_list(list); /* no P here: global queue + wakep */
    }
    /* Deadlock re-check while everything is idle: the check made when
     * the last M went idle may have been inconclusive (threads of unknown
     * origin were still alive then). */
    if (now - lastdeadcheck > 100 * GORO_MILLISECOND &&
        atomic_load(&goro__sched.npidle) == atomic_load(&goro__sched.gomaxprocs)) {
      lastdeadcheck = now;
      goro__lock(&goro__sched.lock);
      goro__checkdead();
      goro__unlock(&goro__sched.lock);
    }
    if (goro__sched.partialdeadlock) goro__partial_deadlock_poll(now);
    goro__stack_trim();
    int took = retake(now);
    if (took) {
      idle = 0;
      delay = 20 * GORO_MICROSECOND;
    } else if (++idle > 50) {
      delay *= 2;
      if (delay > 10 * GORO_MILLISECOND) delay = 10 * GORO_MILLISECOND;
    }
    if (goro__sched.schedtrace_ms > 0) {
      int64_t every = (int64_t)goro__sched.schedtrace_ms * GORO_MILLISECOND;
      if (delay > every) delay = every;
      if (now - lasttrace >= every) {
        lasttrace = now;
        goro__schedtrace(goro__sched.scheddetail != 0);
      }
    }
  }
  return NULL;
}

int goro__sysmon_start(void) {
  atomic_store(&sysmon_stop_flag, 0);
  goro__note_clear(&sysmon_note);
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int r = pthread_create(&sysmon_thread, NULL, sysmon_main, NULL);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  sysmon_running = r == 0;
  if (sysmon_running) atomic_fetch_add(&goro__sched.nauxthreads, 1);
  return -r;
}

void goro__sysmon_stop(void) {
  if (!sysmon_running) return;
  atomic_store(&sysmon_stop_flag, 1);
  goro__note_wake(&sysmon_note);
  pthread_join(sysmon_thread, NULL);
  sysmon_running = false;
  atomic_fetch_sub(&goro__sched.nauxthreads, 1);
}

void goro__sysmon_wake(void) { goro__note_wake(&sysmon_note); }

void goro__sysmon_syscall_hint(void) {
  if (atomic_load_explicit(&sysmon_delay, memory_order_relaxed) > 200 * GORO_MICROSECOND &&
      atomic_exchange(&sysmon_kicked, 1) == 0) {
    atomic_store_explicit(&sysmon_delay, 20 * GORO_MICROSECOND, memory_order_relaxed);
    goro__note_wake(&sysmon_note);
  }
}
