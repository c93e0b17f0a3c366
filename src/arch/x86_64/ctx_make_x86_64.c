/* ctx_make_x86_64.c - lay out a fresh stack for ctx_x86_64_sysv_elf.S.
 *
 * The new context looks like one that called goro__ctx_switch from the
 * start of goro__ctx_trampoline: the switch pops the frame below and
 * "returns" into the trampoline with r13 = entry and r12 = arg.
 */
#ifndef GORO_UCONTEXT
#include <stdint.h>
#include <string.h>

#include "../ctx.h"

void goro__ctx_trampoline(void);

void goro__ctx_make(goro__ctx_t *ctx, char *lo, size_t size, void (*entry)(void *), void *arg) {
  uintptr_t top = ((uintptr_t)lo + size) & ~(uintptr_t)15;
  /* After the switch pops 8 words the trampoline must see rsp % 16 == 0,
   * so the frame starts 16 + 64 bytes below the aligned top; the 16 bytes
   * above it stay zero (a null return address for backtraces). */
  uint64_t *sp = (uint64_t *)(top - 16 - 64);
  memset(sp, 0, 64 + 16);
  uint32_t fp = GORO_MXCSR_DEFAULT;
  uint16_t cw = GORO_X87CW_DEFAULT;
  memcpy((char *)sp, &fp, 4);
  memcpy((char *)sp + 4, &cw, 2);
  sp[3] = (uint64_t)(uintptr_t)entry;  /* r13 */
  sp[4] = (uint64_t)(uintptr_t)arg;    /* r12 */
  sp[7] = (uint64_t)(uintptr_t)goro__ctx_trampoline; /* return address */
  ctx->sp = sp;
}
#endif
