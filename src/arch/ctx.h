/* ctx.h - the whole machine-dependent surface of the scheduler.
 *
 * goro__ctx_make(ctx, lo, size, entry, arg): lay out a fresh stack
 *   [lo, lo+size) so that the first switch to ctx calls entry(arg) on it.
 *   entry must never return.
 * goro__ctx_switch(from, to): save the callee-saved registers and the FP
 *   control words of the running context into *from, resume *to.  It is
 *   an ordinary call, so every caller-saved register is clobbered.
 *
 * Implementations: arch/x86_64/ctx_x86_64_sysv_elf.S (default on x86-64),
 * arch/generic/ctx_ucontext.c when GORO_UCONTEXT is defined (CMake option
 * GORO_UCONTEXT=ON, and on any other architecture).  The sanitizer and
 * Valgrind hooks are wrapped around these calls in sched.c, not here, so
 * both implementations get them.
 */
#ifndef GORO_ARCH_CTX_H
#define GORO_ARCH_CTX_H

#include <stddef.h>

#if !defined(GORO_UCONTEXT) && !defined(__x86_64__)
#define GORO_UCONTEXT 1
#endif

#ifdef GORO_UCONTEXT
#include <ucontext.h>
typedef struct goro__ctx {
  ucontext_t uc;
} goro__ctx_t;
#else
/* The saved stack pointer; everything else lives on the saved stack:
 *   sp+0x00 mxcsr (4 bytes), x87 control word (2 bytes), pad
 *   sp+0x08 r15  +0x10 r14  +0x18 r13  +0x20 r12  +0x28 rbx  +0x30 rbp
 *   sp+0x38 return address */
typedef struct goro__ctx {
  void *sp;
} goro__ctx_t;
#endif

/* GORO_PLAIN_SWITCH: the assembly switch with nothing wrapped around it
 * -- not ucontext, and no sanitizer, whose fiber bookkeeping expects
 * every change of stack to go through an annotated switch.  The tricks
 * that move between stacks some other way need it: the direct park
 * switch that unlocks (sched.c), a dying goroutine handing its stack to
 * a fresh one (sched.c), and stacks copied in and out (sstack.c). */
#if !defined(GORO_UCONTEXT) && !defined(GORO_ASAN) && !defined(GORO_TSAN)
#define GORO_PLAIN_SWITCH 1
#else
#define GORO_PLAIN_SWITCH 0
#endif

__attribute__((visibility("hidden"))) void goro__ctx_make(goro__ctx_t *ctx, char *lo, size_t size,
                                                          void (*entry)(void *), void *arg);
__attribute__((visibility("hidden"))) void goro__ctx_switch(goro__ctx_t *from, goro__ctx_t *to);
#ifndef GORO_UCONTEXT
/* The FP control state a new context starts with: MXCSR with all
 * exceptions masked, round to nearest; the x87 default control word. */
#define GORO_MXCSR_DEFAULT 0x1F80u
#define GORO_X87CW_DEFAULT 0x037Fu

/* goro__ctx_switch, then release the futex word *lock (0 = free; a value
 * of 2 before the release means sleepers, woken through goro__unlock_slow)
 * once `from` is fully saved and the stack is already `to`'s. */
__attribute__((visibility("hidden"))) void goro__ctx_switch_unlock(goro__ctx_t *from,
                                                                   goro__ctx_t *to, void *lock);
/* Leave the current context for good and run entry(arg) on a fresh frame
 * whose stack pointer is sp (16-byte aligned); see the assembly. */
__attribute__((visibility("hidden"), __noreturn__)) void goro__ctx_restart(void *sp,
                                                                      void (*entry)(void *),
                                                                      void *arg);
#endif

#endif
