/* backtrace.c - goroutine dumps in Go's format (goro_dump, SIGQUIT, fatal
 * errors) and the stack walking and symbolization behind them.
 *
 * Design: every live G is printed as
 *     goroutine N [status or wait reason, M minutes, locked to thread]:
 *     function(...)
 *     \tfile:line +0xoff
 *     created by function in goroutine P
 *     \tfile:line +0xoff
 * with a blank line between goroutines.  Stacks are walked through the
 * frame-pointer chain (the library and the tests are built with
 * -fno-omit-frame-pointer; user code without frame pointers loses frames,
 * it does not crash the dump):
 *  - a parked or preempted G from its saved context (arch/ctx.h: the saved
 *    rbp and the return address at ctx.sp+0x30/+0x38), up to the
 *    trampoline that started it, whose frame has a null frame pointer;
 *  - the G calling goro_dump from its own current frame;
 *  - the G that took a signal from the signal's ucontext (rip, rbp);
 *  - a G running on another thread, or inside a blocking call, has no
 *    stable stack: "goroutine running on other thread; stack unavailable"
 *    (Go prints the same).
 * Every read of another goroutine's stack goes through process_vm_readv on
 * our own pid, which fails with EFAULT instead of faulting, so a guard
 * page, a stack being recycled under us or a corrupt chain cannot crash
 * the dumper (falls back to bounds-checked direct reads where the syscall
 * is unavailable).  Reads are batched: one syscall fetches the top 2 KiB
 * of a parked stack, which holds the whole chain in the common case.
 *
 * Symbolization: libbacktrace (shipped with GCC; see cmake/extra_libs.cmake)
 * gives function, file:line and inlined frames from DWARF, and the
 * function's start (for +0xoff) from the symbol table, for static
 * functions too.  Without it, dladdr() gives exported names only and the
 * location line shows the object file and the offset in it (usable with
 * addr2line).  Results are cached by pc in a fixed table, so dumping
 * 100,000 goroutines parked at the same few call sites symbolizes each
 * site once.  Runtime frames (anything compiled from the library's src/
 * directory, or named goro_*) are hidden like Go hides runtime.* frames,
 * unless GORO_DEBUG=tracebackall=1.
 *
 * Signal safety: no malloc on this path.  Output is formatted by hand into
 * a buffer and written with write(2).  The big static buffers and the
 * symbol cache are taken with a try-lock; a dump that finds them busy (a
 * concurrent goro_dump, or a signal that interrupted a dump on the same
 * thread) uses small stack buffers and skips the cache instead of
 * waiting, so a dump never deadlocks.  libbacktrace allocates with mmap
 * and is documented async-signal-safe; dladdr takes the loader lock and is
 * only used when libbacktrace is not built in.
 *
 * Consistency: there is no stop-the-world.  Goroutines that change state
 * during a dump may show a stale header or a truncated stack; each frame
 * printed was read from the stack the goroutine had at that moment.
 *
 * Rejected: libunwind/DWARF CFI unwinding (an extra dependency, and the
 * CFI of the switch code would have to describe the saved frame);
 * backtrace_symbols (mallocs, exported names only).
 */
#include "sstack.h"
#include "sched.h"

#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <ucontext.h>
#include <unistd.h>

#ifdef GORO_HAVE_LIBBACKTRACE
#include <backtrace.h>
#endif

/* Defined in debug.c (GORO_DEBUG=tracebackall=1). */
HIDDEN extern int goro__debug_tracebackall;
/* Public to fatal.c: dump with the ucontext of the signal being handled. */
HIDDEN void goro__dump_all_ctx(int fd, const void *uc);
/* Public to partial_deadlock.c: dump one goroutine (header + stack). */
HIDDEN void goro__dump_one(int fd, g_t *g);

#define MAX_FRAMES 100      /* Go prints at most 100 frames per goroutine */
#define MAX_INLINE 4        /* inlined levels kept per pc */
#define NAME_MAX_LEN 160
#define FILE_MAX_LEN 240

/* ------------------------------------------------------------------ */
/* Output                                                              */
/* ------------------------------------------------------------------ */

typedef struct {
  int fd;          /* >= 0: write(2) here */
  FILE *f;         /* else fwrite here */
  bool failed;
  size_t n, cap;
  char *buf;
} out_t;

static void out_flush(out_t *o) {
  size_t off = 0;
  while (off < o->n && !o->failed) {
    if (o->fd >= 0) {
      ssize_t w = write(o->fd, o->buf + off, o->n - off);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) {
        o->failed = true;
        break;
      }
      off += (size_t)w;
    } else {
      size_t w = fwrite(o->buf + off, 1, o->n - off, o->f);
      if (w == 0) o->failed = true;
      off += w;
    }
  }
  o->n = 0;
}

static void out_mem(out_t *o, const char *s, size_t n) {
  while (n > 0) {
    if (o->n == o->cap) out_flush(o);
    size_t k = o->cap - o->n;
    if (k > n) k = n;
    memcpy(o->buf + o->n, s, k);
    o->n += k;
    s += k;
    n -= k;
  }
}

static void out_str(out_t *o, const char *s) { out_mem(o, s, strlen(s)); }

static void out_dec(out_t *o, long long v) {
  char t[24];
  int i = sizeof t;
  unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
  do {
    t[--i] = (char)('0' + u % 10);
    u /= 10;
  } while (u);
  if (v < 0) t[--i] = '-';
  out_mem(o, t + i, sizeof t - (size_t)i);
}

static void out_hex(out_t *o, uintptr_t v) {
  char t[20];
  int i = sizeof t;
  do {
    t[--i] = "0123456789abcdef"[v & 15];
    v >>= 4;
  } while (v);
  t[--i] = 'x';
  t[--i] = '0';
  out_mem(o, t + i, sizeof t - (size_t)i);
}

/* ------------------------------------------------------------------ */
/* Fault-proof memory reads                                            */
/* ------------------------------------------------------------------ */

static _Atomic int vm_read_broken; /* process_vm_readv refused (seccomp, old kernel) */

/* Copy n bytes at src into dst without faulting.  Returns false if any
 * byte is unreadable.  bounds_ok: the caller checked src is inside a live
 * mapping (used only when the syscall is not available). */
static bool read_mem(void *dst, uintptr_t src, size_t n, bool bounds_ok) {
  if (!atomic_load_explicit(&vm_read_broken, memory_order_relaxed)) {
    struct iovec l = {dst, n}, r = {(void *)src, n};
    int saved = errno;
    ssize_t k = process_vm_readv(getpid(), &l, 1, &r, 1, 0);
    int e = errno;
    errno = saved;
    if (k == (ssize_t)n) return true;
    if (k >= 0 || e == EFAULT || e == ESRCH || e == EINTR) return false;
    atomic_store(&vm_read_broken, 1); /* ENOSYS, EPERM: use plain reads */
  }
  if (!bounds_ok) return false;
  memcpy(dst, (const void *)src, n);
  return true;
}

/* A window of a goroutine stack fetched in one read. */
typedef struct {
  uintptr_t lo, hi;       /* readable stack range (guard page excluded) */
  uintptr_t wlo, whi;     /* cached window */
  char *win;
  size_t wcap;
  g_t *saved;             /* a parked shared-stack G: read its saved copy */
} stk_t;

static bool stk_read2(stk_t *s, uintptr_t addr, uintptr_t out[2]) {
  if (addr < s->lo || addr + 2 * sizeof(uintptr_t) > s->hi || (addr & 7)) return false;
  if (s->saved)
    return goro__ss_read_word(s->saved, addr, &out[0]) &&
           goro__ss_read_word(s->saved, addr + sizeof(uintptr_t), &out[1]);
  if (addr >= s->wlo && addr + 16 <= s->whi) {
    memcpy(out, s->win + (addr - s->wlo), 16);
    return true;
  }
  uintptr_t end = addr + s->wcap;
  if (end > s->hi) end = s->hi;
  if (read_mem(s->win, addr, end - addr, true)) {
    s->wlo = addr;
    s->whi = end;
    memcpy(out, s->win, 16);
    return true;
  }
  s->wlo = s->whi = 0;
  return read_mem(out, addr, 16, true);
}

/* ------------------------------------------------------------------ */
/* Symbolization                                                       */
/* ------------------------------------------------------------------ */

typedef struct {
  const char *func, *file; /* NULL when unknown */
  int line;
} sframe_t;

typedef struct {
  uintptr_t key;          /* looked-up address; 0 = empty slot */
  uintptr_t start;        /* function entry, 0 unknown */
  uintptr_t objbase;      /* fallback: object base address */
  const char *objname;    /* fallback: object path (loader-owned string) */
  int n;                  /* inline levels in fr, innermost first */
  sframe_t fr[MAX_INLINE];
  uint16_t used;
  char strs[2 * MAX_INLINE * 96];
} sym_t;

#ifdef GORO_HAVE_LIBBACKTRACE
static struct backtrace_state *bt_state;
static _Atomic int bt_init; /* 0 not yet, 1 being made, 2 ready */

static void bt_error(void *data, const char *msg, int errnum) {
  (void)data;
  (void)msg;
  (void)errnum;
}

static struct backtrace_state *bt_get(void) {
  int s = atomic_load(&bt_init);
  if (s == 2) return bt_state;
  int zero = 0;
  if (s == 0 && atomic_compare_exchange_strong(&bt_init, &zero, 1)) {
    bt_state = backtrace_create_state(NULL, 1, bt_error, NULL);
    atomic_store(&bt_init, 2);
    return bt_state;
  }
  /* Another thread is making it; do not wait long (it may be us, in a
   * signal that interrupted the first dump). */
  for (int i = 0; i < 100000 && atomic_load(&bt_init) != 2; i++) goro__cpu_relax();
  return atomic_load(&bt_init) == 2 ? bt_state : NULL;
}
#endif

static const char *sym_keep(sym_t *s, const char *str, size_t max) {
  if (!str) return NULL;
  size_t n = strnlen(str, max);
  if (s->used + n + 1 > sizeof s->strs) {
    /* Keep the tail of long paths, the head of long names. */
    size_t room = sizeof s->strs - s->used;
    if (room < 8) return NULL;
    n = room - 1;
  }
  char *d = s->strs + s->used;
  memcpy(d, str, n);
  d[n] = 0;
  s->used = (uint16_t)(s->used + n + 1);
  return d;
}

#ifdef GORO_HAVE_LIBBACKTRACE
static int bt_pcinfo_cb(void *data, uintptr_t pc, const char *file, int line, const char *func) {
  (void)pc;
  sym_t *s = data;
  if (s->n >= MAX_INLINE) return 1;
  if (!func && !file) return 0;
  sframe_t *f = &s->fr[s->n++];
  f->func = sym_keep(s, func, NAME_MAX_LEN);
  f->file = sym_keep(s, file, FILE_MAX_LEN);
  f->line = line;
  return 0;
}

static void bt_syminfo_cb(void *data, uintptr_t pc, const char *name, uintptr_t val,
                          uintptr_t size) {
  (void)pc;
  (void)size;
  sym_t *s = data;
  if (!name) return;
  s->start = val;
  if (s->n == 0) {
    sframe_t *f = &s->fr[s->n++];
    f->func = sym_keep(s, name, NAME_MAX_LEN);
    f->file = NULL;
    f->line = 0;
  }
}
#endif

static void symbolize_uncached(uintptr_t addr, sym_t *s) {
  memset(s, 0, offsetof(sym_t, strs));
  s->key = addr;
#ifdef GORO_HAVE_LIBBACKTRACE
  struct backtrace_state *st = bt_get();
  if (st) {
    backtrace_pcinfo(st, addr, bt_pcinfo_cb, bt_error, s);
    backtrace_syminfo(st, addr, bt_syminfo_cb, bt_error, s);
  }
#endif
  if (s->n == 0 || s->start == 0) {
    Dl_info di;
    if (dladdr((void *)addr, &di)) {
      s->objname = di.dli_fname;
      s->objbase = (uintptr_t)di.dli_fbase;
      if (di.dli_sname && di.dli_saddr) {
        if (s->n == 0) {
          s->fr[0].func = sym_keep(s, di.dli_sname, NAME_MAX_LEN);
          s->fr[0].file = NULL;
          s->fr[0].line = 0;
          s->n = 1;
        }
        if (!s->start) s->start = (uintptr_t)di.dli_saddr;
      }
    }
  }
}

/* The cache: open addressing by pc, no deletion; full means "stop
 * caching".  Guarded by a try-lock (never waited on). */
#define SYMCACHE_SIZE 1024
static sym_t symcache[SYMCACHE_SIZE];
static int symcache_n;
static _Atomic int symcache_busy;

/* Fill *tmp or return a cached entry for addr. */
static const sym_t *symbolize(uintptr_t addr, sym_t *tmp) {
  if (atomic_exchange_explicit(&symcache_busy, 1, memory_order_acquire)) {
    symbolize_uncached(addr, tmp);
    return tmp;
  }
  size_t h = (size_t)((addr * 0x9E3779B97F4A7C15ULL) >> 54) & (SYMCACHE_SIZE - 1);
  const sym_t *r = NULL;
  for (int i = 0; i < SYMCACHE_SIZE; i++) {
    sym_t *e = &symcache[(h + (size_t)i) & (SYMCACHE_SIZE - 1)];
    if (e->key == addr) {
      r = e;
      break;
    }
    if (e->key == 0) {
      if (symcache_n < SYMCACHE_SIZE * 3 / 4) {
        symbolize_uncached(addr, e);
        symcache_n++;
        r = e;
      }
      break;
    }
  }
  if (!r) {
    symbolize_uncached(addr, tmp);
    r = tmp;
  }
  atomic_store_explicit(&symcache_busy, 0, memory_order_release);
  return r;
}

/* ------------------------------------------------------------------ */
/* Runtime frames                                                      */
/* ------------------------------------------------------------------ */

static size_t srcdir_len(void) {
  /* __FILE__ is this file's path as the build gave it; its directory is
   * the library's src/ (arch/ files are below it). */
  const char *slash = strrchr(__FILE__, '/');
  return slash ? (size_t)(slash - __FILE__) + 1 : 0;
}

static bool runtime_frame(const sframe_t *f) {
  size_t n = srcdir_len();
  if (f->file && n && strncmp(f->file, __FILE__, n) == 0) return true;
  if (f->func && strncmp(f->func, "goro_", 5) == 0) return true;
  return false;
}

static bool is_trampoline(uintptr_t pc) {
#if !defined(GORO_UCONTEXT) && defined(__x86_64__)
  extern void goro__ctx_trampoline(void);
  uintptr_t t = (uintptr_t)&goro__ctx_trampoline;
  return pc >= t && pc < t + 32;
#else
  (void)pc;
  return false;
#endif
}

/* ------------------------------------------------------------------ */
/* Frames                                                              */
/* ------------------------------------------------------------------ */

typedef struct {
  uintptr_t pc[MAX_FRAMES + 1];
  bool ret[MAX_FRAMES + 1]; /* pc is a return address (look up pc-1) */
  int n;
  bool more;                /* the chain went on past the array */
} frames_t;

/* Follow the frame-pointer chain from (pc0, fp) inside s's range. */
static void walk(stk_t *s, uintptr_t pc0, bool pc0_ret, uintptr_t fp, frames_t *fr) {
  fr->n = 0;
  fr->more = false;
  if (pc0 == 0) return;
  fr->pc[fr->n] = pc0;
  fr->ret[fr->n++] = pc0_ret;
  while (fp) {
    uintptr_t w[2];
    if (!stk_read2(s, fp, w)) break;
    uintptr_t next = w[0], ret = w[1];
    if (ret == 0 || is_trampoline(ret)) break;
    if (fr->n == MAX_FRAMES + 1) {
      fr->more = true;
      break;
    }
    fr->pc[fr->n] = ret;
    fr->ret[fr->n++] = true;
    if (next <= fp) break;
    fp = next;
  }
}

static void print_location(out_t *o, const sym_t *sy, const sframe_t *f, uintptr_t pc,
                           bool with_off) {
  out_mem(o, "\t", 1);
  if (f && f->file) {
    out_str(o, f->file);
    out_mem(o, ":", 1);
    out_dec(o, f->line);
    if (with_off && sy->start && pc >= sy->start) {
      out_mem(o, " +", 2);
      out_hex(o, pc - sy->start);
    }
  } else if (sy->objname) {
    out_str(o, sy->objname);
    out_mem(o, " +", 2);
    out_hex(o, pc - sy->objbase);
  } else {
    out_str(o, "?");
    out_mem(o, " pc=", 4);
    out_hex(o, pc);
  }
  out_mem(o, "\n", 1);
}

/* Print one frame (several if inlined).  `only_visible`: skip runtime
 * frames.  Returns the number of lines-pairs printed. */
static int print_frame(out_t *o, uintptr_t pc, bool is_ret, bool only_visible) {
  sym_t tmp;
  const sym_t *sy = symbolize(is_ret ? pc - 1 : pc, &tmp);
  int printed = 0;
  if (sy->n == 0) {
    out_str(o, "?(...)\n");
    print_location(o, sy, NULL, pc, true);
    return 1;
  }
  for (int i = 0; i < sy->n; i++) {
    const sframe_t *f = &sy->fr[i];
    if (only_visible && runtime_frame(f)) continue;
    out_str(o, f->func ? f->func : "?");
    out_str(o, "(...)\n");
    /* Like Go: the pc offset only on the physical (outermost) frame. */
    print_location(o, sy, f, pc, i == sy->n - 1);
    printed++;
  }
  return printed;
}

static bool frame_visible(uintptr_t pc, bool is_ret) {
  sym_t tmp;
  const sym_t *sy = symbolize(is_ret ? pc - 1 : pc, &tmp);
  if (sy->n == 0) return true;
  for (int i = 0; i < sy->n; i++)
    if (!runtime_frame(&sy->fr[i])) return true;
  return false;
}

static void print_frames(out_t *o, const frames_t *fr) {
  bool all = goro__debug_tracebackall != 0;
  if (!all) {
    /* A stack made only of runtime frames is shown whole, rather than as
     * nothing at all. */
    bool any = false;
    for (int i = 0; i < fr->n && !any; i++) any = frame_visible(fr->pc[i], fr->ret[i]);
    if (!any) all = true;
  }
  int printed = 0;
  for (int i = 0; i < fr->n && printed < MAX_FRAMES; i++)
    printed += print_frame(o, fr->pc[i], fr->ret[i], !all);
  if (fr->more || printed > MAX_FRAMES) out_str(o, "...additional frames elided...\n");
}

/* ------------------------------------------------------------------ */
/* One goroutine                                                       */
/* ------------------------------------------------------------------ */

static inline size_t gsize(g_t *g) { return g->stack_size ? g->stack_size : goro__stack_default; }

static void stk_init(stk_t *s, g_t *g, char *win, size_t wcap) {
  s->lo = (uintptr_t)g->stack_lo + GORO_PAGE;
  s->hi = (uintptr_t)g->stack_lo + gsize(g);
  s->wlo = s->whi = 0;
  s->win = win;
  s->wcap = wcap;
  s->saved = NULL;
}

/* Where a parked G stopped: the return address into the function that
 * switched away, and the frame pointer it saved.  False if unknown. */
static bool saved_regs(stk_t *s, g_t *g, uintptr_t *pc, uintptr_t *fp) {
#if !defined(GORO_UCONTEXT) && defined(__x86_64__)
  uintptr_t sp = (uintptr_t)g->ctx.sp;
  uintptr_t w[2];
  if (!stk_read2(s, sp + 0x30, w)) return false;
  *fp = w[0];
  *pc = w[1];
  return *pc != 0;
#elif defined(__x86_64__)
  (void)s;
  *fp = (uintptr_t)g->ctx.uc.uc_mcontext.gregs[REG_RBP];
  *pc = (uintptr_t)g->ctx.uc.uc_mcontext.gregs[REG_RIP];
  return *pc != 0;
#else
  (void)s;
  (void)g;
  (void)pc;
  (void)fp;
  return false;
#endif
}

static const char *gstatus(g_t *g, uint32_t st) {
  switch (st) {
    case G_RUNNABLE: return "runnable";
    case G_RUNNING: return "running";
    case G_SYSCALL: return "syscall";
    case G_WAITING: {
      const char *r = goro__waitreason_str(atomic_load_explicit(&g->waitreason, memory_order_relaxed));
      return r && *r ? r : "waiting";
    }
    default: return "dead";
  }
}

typedef struct {
  out_t *o;
  g_t *self;            /* the G running on this thread, if any */
  const void *uc;       /* signal context of self, if any */
  uintptr_t self_fp;    /* self's frame when not in a signal */
  uintptr_t self_pc;
  char *win;
  size_t wcap;
  int64_t now;
} dumpctx_t;

static void print_header(out_t *o, g_t *g, uint32_t st, int64_t now) {
  out_str(o, "goroutine ");
  out_dec(o, (long long)g->id);
  out_str(o, " [");
  out_str(o, gstatus(g, st));
  int64_t since = atomic_load_explicit(&g->waitsince, memory_order_relaxed);
  if (st == G_WAITING && since > 0) {
    int64_t mins = (now - since) / (60 * GORO_SECOND);
    if (mins >= 1) {
      out_str(o, ", ");
      out_dec(o, (long long)mins);
      out_str(o, mins == 1 ? " minute" : " minutes");
    }
  }
  if (g->lockedm) out_str(o, ", locked to thread");
  const char *name = g->name;
  if (name) {
    out_str(o, ", \"");
    out_str(o, name);
    out_str(o, "\"");
  }
  out_str(o, "]:\n");
}

static void print_stack(dumpctx_t *d, g_t *g, uint32_t st) {
  out_t *o = d->o;
  frames_t fr;
  stk_t s;
  if (g == d->self) {
    if (!g->stack_lo) goto unavailable;
    stk_init(&s, g, d->win, d->wcap);
    uintptr_t pc = d->self_pc, fp = d->self_fp;
    bool ret = true;
    if (d->uc) {
#if defined(__x86_64__)
      const ucontext_t *uc = d->uc;
      pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
      fp = (uintptr_t)uc->uc_mcontext.gregs[REG_RBP];
      uintptr_t sp = (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
      ret = false;
      if (sp < s.lo - GORO_PAGE || sp >= s.hi) goto unavailable;
#else
      goto unavailable;
#endif
    }
    walk(&s, pc, ret, fp, &fr);
    print_frames(o, &fr);
    return;
  }
  if (st == G_RUNNING || st == G_SYSCALL) goto unavailable;
  if (!g->stack_lo) {
    /* Never ran: show where it will start. */
    if (st == G_RUNNABLE && g->fn) {
      print_frame(o, (uintptr_t)g->fn, false, false);
      return;
    }
    goto unavailable;
  }
  stk_init(&s, g, d->win, d->wcap);
  /* Another goroutine may be running on a shared stack; a parked one's
   * frames are in its saved copy (best effort, as every read here). */
  if (g->ss) s.saved = g;
  uintptr_t pc, fp;
  if (!saved_regs(&s, g, &pc, &fp)) goto unavailable;
  walk(&s, pc, true, fp, &fr);
  print_frames(o, &fr);
  return;
unavailable:
  out_str(o, "\tgoroutine running on other thread; stack unavailable\n");
}

static void print_creator(out_t *o, g_t *g) {
  if (g == goro__sched.maing || !g->creator_pc) return;
  uintptr_t pc = (uintptr_t)g->creator_pc;
  sym_t tmp;
  const sym_t *sy = symbolize(pc - 1, &tmp);
  const sframe_t *f = sy->n ? &sy->fr[0] : NULL;
  out_str(o, "created by ");
  out_str(o, f && f->func ? f->func : "?");
  if (g->parent_id > 0) {
    out_str(o, " in goroutine ");
    out_dec(o, (long long)g->parent_id);
  }
  out_mem(o, "\n", 1);
  print_location(o, sy, f, pc, true);
}

static void dump_g(dumpctx_t *d, g_t *g) {
  uint32_t st = atomic_load_explicit(&g->status, memory_order_acquire);
  if (st == G_IDLE || st == G_DEAD) return;
  print_header(d->o, g, st, d->now);
  print_stack(d, g, st);
  print_creator(d->o, g);
}

/* ------------------------------------------------------------------ */
/* Entry points                                                        */
/* ------------------------------------------------------------------ */

#define BIG_OUT (64 << 10)
#define BIG_WIN (2 << 10)
static char big_out[BIG_OUT];
static char big_win[BIG_WIN];
static _Atomic int big_busy;

typedef void (*dump_body_fn)(dumpctx_t *d, void *arg);

static NOINLINE void dump_with(int fd, FILE *f, const void *uc, uintptr_t self_fp, uintptr_t self_pc,
                               dump_body_fn body, void *arg) {
  char small_out[512], small_win[256];
  bool big = !atomic_exchange_explicit(&big_busy, 1, memory_order_acquire);
  out_t o = {.fd = fd, .f = f, .buf = big ? big_out : small_out,
             .cap = big ? sizeof big_out : sizeof small_out};
  m_t *m = goro__getm();
  dumpctx_t d = {.o = &o, .self = m ? m->curg : NULL, .uc = uc, .self_fp = self_fp,
                 .self_pc = self_pc, .win = big ? big_win : small_win,
                 .wcap = big ? sizeof big_win : sizeof small_win, .now = goro__nanotime()};
  body(&d, arg);
  out_flush(&o);
  if (big) atomic_store_explicit(&big_busy, 0, memory_order_release);
}

static void body_all(dumpctx_t *d, void *arg) {
  (void)arg;
  bool first = true;
  RACY_READS_BEGIN();
  /* The goroutine on this thread first, as Go does. */
  if (d->self && d->self->id > 0) {
    dump_g(d, d->self);
    first = false;
  }
  for (g_t *g = goro__sched.allg; g; g = g->allnext) {
    if (g == d->self) continue;
    uint32_t st = atomic_load_explicit(&g->status, memory_order_relaxed);
    if (st == G_IDLE || st == G_DEAD) continue;
    if (!first) out_mem(d->o, "\n", 1);
    first = false;
    dump_g(d, g);
  }
  RACY_READS_END();
}

static void body_one(dumpctx_t *d, void *arg) {
  RACY_READS_BEGIN();
  dump_g(d, arg);
  RACY_READS_END();
}

static void body_stack(dumpctx_t *d, void *arg) { print_stack(d, arg, atomic_load(&((g_t *)arg)->status)); }

void goro__dump_all_ctx(int fd, const void *uc) {
  uintptr_t *fp = __builtin_frame_address(0); /* fp[0]: caller's frame, fp[1]: return address */
  dump_with(fd, NULL, uc, fp[0], fp[1], body_all, NULL);
}

void goro__dump_all(int fd, bool from_signal) {
  (void)from_signal;
  uintptr_t *fp = __builtin_frame_address(0); /* fp[0]: caller's frame, fp[1]: return address */
  dump_with(fd, NULL, NULL, fp[0], fp[1], body_all, NULL);
}

void goro__dump_one(int fd, g_t *g) {
  uintptr_t *fp = __builtin_frame_address(0); /* fp[0]: caller's frame, fp[1]: return address */
  dump_with(fd, NULL, NULL, fp[0], fp[1], body_one, g);
}

void goro__dump_backtrace(int fd, g_t *g, bool is_self) {
  (void)is_self;
  uintptr_t *fp = __builtin_frame_address(0); /* fp[0]: caller's frame, fp[1]: return address */
  dump_with(fd, NULL, NULL, fp[0], fp[1], body_stack, g);
}

NOINLINE void goro_dump(FILE *f) {
  if (!f) f = stderr;
  fflush(f);
  int fd = fileno(f);
  uintptr_t *fp = __builtin_frame_address(0); /* fp[0]: caller's frame, fp[1]: return address */
  dump_with(fd, fd >= 0 ? NULL : f, NULL, fp[0], fp[1],
            body_all, NULL);
  if (fd < 0) fflush(f);
}
