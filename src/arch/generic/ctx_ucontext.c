/* ctx_ucontext.c - portable context switch on makecontext/swapcontext.
 *
 * The fallback for architectures without an assembly switch and a build
 * option everywhere (GORO_UCONTEXT=ON).  swapcontext also saves and
 * restores the signal mask with a system call, so it is roughly 20x slower
 * than the assembly switch; it exists for portability and to cross-check
 * the assembly in CI.
 */
#include "../ctx.h"

#ifdef GORO_UCONTEXT
#include <stdint.h>
#include <stdlib.h>

static void trampoline(unsigned hi, unsigned lo_entry_hi, unsigned lo_entry_lo, unsigned lo_arg) {
  /* makecontext passes ints; rebuild the two pointers. */
  void (*entry)(void *) = (void (*)(void *))(((uintptr_t)lo_entry_hi << 32) | lo_entry_lo);
  void *arg = (void *)(((uintptr_t)hi << 32) | lo_arg);
  entry(arg);
  abort();
}

void goro__ctx_make(goro__ctx_t *ctx, char *lo, size_t size, void (*entry)(void *), void *arg) {
  getcontext(&ctx->uc);
  ctx->uc.uc_stack.ss_sp = lo;
  ctx->uc.uc_stack.ss_size = size;
  ctx->uc.uc_link = NULL;
  uintptr_t e = (uintptr_t)entry, a = (uintptr_t)arg;
  makecontext(&ctx->uc, (void (*)(void))trampoline, 4, (unsigned)(a >> 32), (unsigned)(e >> 32),
              (unsigned)e, (unsigned)a);
}

void goro__ctx_switch(goro__ctx_t *from, goro__ctx_t *to) { swapcontext(&from->uc, &to->uc); }
#endif
