/* fatal.c - fatal errors and the signals that lead to them.
 *
 * Design: goro__fatal prints "goro: fatal error: <msg>", then every
 * goroutine (goro__dump_all), then exits with status 2, as Go's throw does.
 * It writes with write(2) from a static buffer so it also works from the
 * SIGSEGV handler, which runs on a per-M alternate signal stack: a
 * goroutine that runs into its stack's guard page cannot run a handler on
 * the stack it just overflowed.  The handler reports a guard-page fault as
 * "stack overflow in goroutine N"; any other fault in a goroutine is
 * reported with the goroutine dump and then re-raised with the default
 * action (so core dumps still happen).  SIGQUIT dumps every goroutine and
 * exits with status 2 (Go's behaviour).
 *
 * Invariants: only one thread prints a fatal error (the others spin), so
 * messages do not interleave.
 */
#include "sched.h"

#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>

#define ALTSTACK_SIZE (128 << 10)

/* backtrace.c: dump every goroutine; the one on this thread is walked
 * from the signal's ucontext. */
HIDDEN void goro__dump_all_ctx(int fd, const void *uc);

static _Atomic int fatal_once;
static struct sigaction old_segv, old_bus, old_quit;
static _Atomic int handlers_installed;
static sigset_t main_mask; /* signal mask of the thread that called goro_run */

static void write_all(int fd, const char *s, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, s, n);
    if (w <= 0) return;
    s += w;
    n -= (size_t)w;
  }
}

static noreturn void fatal_v(bool dump, int status, const char *fmt, va_list ap) {
  if (atomic_exchange(&fatal_once, 1)) {
    for (;;) pause(); /* another thread is already reporting */
  }
  static char buf[1024];
  int n = snprintf(buf, sizeof buf, "goro: fatal error: ");
  n += vsnprintf(buf + n, sizeof buf - (size_t)n, fmt, ap);
  if (n > (int)sizeof buf - 2) n = (int)sizeof buf - 2;
  buf[n++] = '\n';
  write_all(2, buf, (size_t)n);
  if (dump) {
    write_all(2, "\n", 1);
    goro__dump_all(2, true);
  }
  _exit(status);
}

noreturn void goro__fatal(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fatal_v(true, 2, fmt, ap);
}

noreturn void goro__throw(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fatal_v(true, 2, fmt, ap);
}

static void chain(int sig, siginfo_t *si, void *uc, struct sigaction *old) {
  if (old->sa_flags & SA_SIGINFO) {
    if (old->sa_sigaction) {
      old->sa_sigaction(sig, si, uc);
      return;
    }
  } else if (old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN) {
    old->sa_handler(sig);
    return;
  }
  /* Default action: restore it.  A real fault repeats when we return and
   * kills us; a signal that was sent (kill, raise: si_code <= 0) does not
   * repeat, so send it again (SA_NODEFER: delivered at once). */
  signal(sig, SIG_DFL);
  if (si->si_code <= 0) raise(sig);
}

static void on_fault(int sig, siginfo_t *si, void *uc) {
  m_t *m = goro__getm();
  g_t *g = m ? m->curg : NULL;
  if (g && goro__stack_is_guard(si->si_addr)) {
    if (atomic_exchange(&fatal_once, 1)) {
      for (;;) pause();
    }
    char buf[256];
    int n = snprintf(buf, sizeof buf,
                     "goro: fatal error: stack overflow in goroutine %lld\n"
                     "[signal %s: fault address %p in the guard page of a %zu-byte stack]\n\n",
                     (long long)g->id, sig == SIGSEGV ? "SIGSEGV" : "SIGBUS", si->si_addr,
                     g->stack_size ? g->stack_size : goro__stack_default);
    write_all(2, buf, (size_t)n);
    goro__dump_all_ctx(2, uc);
    _exit(2);
  }
  if (g && !atomic_load(&fatal_once)) {
    atomic_store(&fatal_once, 1);
    char buf[256];
    int n = snprintf(buf, sizeof buf,
                     "goro: unexpected signal %s (fault address %p) in goroutine %lld\n\n",
                     sig == SIGSEGV ? "SIGSEGV" : "SIGBUS", si->si_addr, (long long)g->id);
    write_all(2, buf, (size_t)n);
    goro__dump_all_ctx(2, uc);
  }
  chain(sig, si, uc, sig == SIGSEGV ? &old_segv : &old_bus);
}

static void on_quit(int sig, siginfo_t *si, void *uc) {
  (void)sig;
  if (atomic_exchange(&fatal_once, 1)) {
    for (;;) pause();
  }
  /* Go prints "SIGQUIT: quit", then "PC=... m=N sigcode=N", then every
   * goroutine. */
  char buf[160];
  m_t *m = goro__getm();
  uintptr_t pc = 0;
#if defined(__x86_64__)
  pc = (uintptr_t)((ucontext_t *)uc)->uc_mcontext.gregs[REG_RIP];
#endif
  int n;
  if (m)
    n = snprintf(buf, sizeof buf, "SIGQUIT: quit\nPC=%#lx m=%lld sigcode=%d\n\n", (unsigned long)pc,
                 (long long)m->id, si ? si->si_code : 0);
  else
    n = snprintf(buf, sizeof buf, "SIGQUIT: quit\nPC=%#lx m=nil sigcode=%d\n\n", (unsigned long)pc,
                 si ? si->si_code : 0);
  write_all(2, buf, (size_t)n);
  goro__dump_all_ctx(2, m && m->curg ? uc : NULL);
  _exit(2);
}

void goro__msetup_signals(m_t *m) {
  if (!m->altstack) m->altstack = malloc(ALTSTACK_SIZE);
  if (m->altstack) {
    stack_t ss = {.ss_sp = m->altstack, .ss_size = ALTSTACK_SIZE, .ss_flags = 0};
    sigaltstack(&ss, NULL);
  }
  /* A new M starts with every signal blocked (sched.c: newm) so that no
   * handler runs before its alternate stack exists; now it may take the
   * signals the thread that called goro_run takes.  Without this, a fault
   * in a goroutine on any other M would kill the process silently. */
  if (m->is_main) {
    pthread_sigmask(SIG_SETMASK, NULL, &main_mask);
  } else {
    pthread_sigmask(SIG_SETMASK, &main_mask, NULL);
  }
  if (m->is_main && !atomic_exchange(&handlers_installed, 1)) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &old_segv);
    sigaction(SIGBUS, &sa, &old_bus);
    sa.sa_sigaction = on_quit;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigaction(SIGQUIT, &sa, &old_quit);
  }
}

void goro__mexit_signals(m_t *m) {
  stack_t ss = {.ss_sp = NULL, .ss_size = 0, .ss_flags = SS_DISABLE};
  sigaltstack(&ss, NULL);
  free(m->altstack);
  m->altstack = NULL;
  if (m->is_main && atomic_exchange(&handlers_installed, 0)) {
    sigaction(SIGSEGV, &old_segv, NULL);
    sigaction(SIGBUS, &old_bus, NULL);
    sigaction(SIGQUIT, &old_quit, NULL);
  }
}
