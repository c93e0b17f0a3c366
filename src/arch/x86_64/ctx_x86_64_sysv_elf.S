/* ctx_x86_64_sysv_elf.S - context switch for x86-64, System V ABI, ELF.
 * Contract: src/arch/ctx.h.
 *
 * Only what the ABI says a callee must preserve is saved: rbx, rbp,
 * r12-r15, rsp, the return address, MXCSR's control bits and the x87
 * control word.  Saved frame, growing down from the switching context's
 * stack pointer:
 *   +0x00 mxcsr (4) | x87 cw (2) | pad (2)
 *   +0x08 r15   +0x10 r14   +0x18 r13   +0x20 r12   +0x28 rbx   +0x30 rbp
 *   +0x38 return address (pushed by the call to goro__ctx_switch)
 * goro__ctx_t is a single word holding that stack pointer.
 */
	.text

/* void goro__ctx_switch(goro__ctx_t *from (rdi), goro__ctx_t *to (rsi)) */
	.globl	goro__ctx_switch
	.hidden	goro__ctx_switch
	.type	goro__ctx_switch, @function
	.p2align 4
goro__ctx_switch:
	.cfi_startproc
	pushq	%rbp                    /* save rbp */
	.cfi_adjust_cfa_offset 8
	pushq	%rbx                    /* save rbx */
	.cfi_adjust_cfa_offset 8
	pushq	%r12                    /* save r12 */
	.cfi_adjust_cfa_offset 8
	pushq	%r13                    /* save r13 */
	.cfi_adjust_cfa_offset 8
	pushq	%r14                    /* save r14 */
	.cfi_adjust_cfa_offset 8
	pushq	%r15                    /* save r15 */
	.cfi_adjust_cfa_offset 8
	subq	$8, %rsp                /* room for the FP control words */
	.cfi_adjust_cfa_offset 8
	stmxcsr	(%rsp)                  /* save MXCSR */
	fnstcw	4(%rsp)                 /* save x87 control word */
	movq	%rsp, (%rdi)            /* from->sp = rsp */
	movq	(%rsi), %rsp            /* rsp = to->sp: now on the other stack */
	ldmxcsr	(%rsp)                  /* restore MXCSR */
	fldcw	4(%rsp)                 /* restore x87 control word */
	addq	$8, %rsp
	popq	%r15                    /* restore r15 */
	popq	%r14                    /* restore r14 */
	popq	%r13                    /* restore r13 */
	popq	%r12                    /* restore r12 */
	popq	%rbx                    /* restore rbx */
	popq	%rbp                    /* restore rbp */
	ret                             /* to the resumed context's caller */
	.cfi_endproc
	.size	goro__ctx_switch, .-goro__ctx_switch

/* void goro__ctx_switch_unlock(goro__ctx_t *from (rdi), goro__ctx_t *to (rsi),
 *                              goro__lock_t *lock (rdx)):
 * goro__ctx_switch that also releases a goro__lock_t once the switching
 * context is fully saved and the stack pointer is already on `to`'s stack
 * (so a waker that resumes `from` the moment the lock is free finds a
 * complete context, and nothing, not even a signal frame, is pushed on
 * `from`'s stack after that).  The park of a goroutine whose commit is a
 * plain unlock (channels, semaphores, the netpoller) uses it on the direct
 * G-to-G path, so the woken-up side has nothing left to finish.  A lock
 * with sleepers (goro__lock_t.sleepers) is woken through goro__unlock_slow, called
 * on `to`'s stack below its saved frame (rsp is 16-byte aligned there). */
	.globl	goro__ctx_switch_unlock
	.hidden	goro__ctx_switch_unlock
	.type	goro__ctx_switch_unlock, @function
	.p2align 4
goro__ctx_switch_unlock:
	.cfi_startproc
	pushq	%rbp
	.cfi_adjust_cfa_offset 8
	pushq	%rbx
	.cfi_adjust_cfa_offset 8
	pushq	%r12
	.cfi_adjust_cfa_offset 8
	pushq	%r13
	.cfi_adjust_cfa_offset 8
	pushq	%r14
	.cfi_adjust_cfa_offset 8
	pushq	%r15
	.cfi_adjust_cfa_offset 8
	subq	$8, %rsp
	.cfi_adjust_cfa_offset 8
	stmxcsr	(%rsp)
	fnstcw	4(%rsp)
	movq	%rsp, (%rdi)            /* from is saved */
	movq	(%rsi), %rsp            /* now on to's stack */
	movzwl	2(%rdx), %eax           /* sleepers, read first: goro__unlock_fast */
	movw	$0, (%rdx)              /* unlock */
	testl	%eax, %eax
	je	1f
	movq	%rdx, %rdi
	call	goro__unlock_slow       /* wake a sleeper of the lock */
1:
	ldmxcsr	(%rsp)
	fldcw	4(%rsp)
	addq	$8, %rsp
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbx
	popq	%rbp
	ret
	.cfi_endproc
	.size	goro__ctx_switch_unlock, .-goro__ctx_switch_unlock

/* First code run on a fresh stack: goro__ctx_make stored entry in r13 and
 * its argument in r12.  rsp is 16-byte aligned here, as a call needs. */
	.globl	goro__ctx_trampoline
	.hidden	goro__ctx_trampoline
	.type	goro__ctx_trampoline, @function
	.p2align 4
goro__ctx_trampoline:
	.cfi_startproc
	.cfi_undefined rip              /* outermost frame: unwinders stop here */
	xorl	%ebp, %ebp              /* frame-pointer chain ends here */
	movq	%r12, %rdi              /* arg */
	callq	*%r13                   /* entry(arg); never returns */
	ud2

/* void goro__ctx_restart(void *sp (rdi), void (*entry)(void *) (rsi),
 *                        void *arg (rdx)): abandon the current context
 * and call entry(arg) on a fresh frame at sp (16-byte aligned).  Used
 * when a dying goroutine hands its own stack to a goroutine that has
 * never run.  It lives inside the trampoline's first 32 bytes, so the
 * return address it leaves is recognized as an outermost frame by the
 * dump walker and the gdb extension (both stop at the trampoline). */
	.globl	goro__ctx_restart
	.hidden	goro__ctx_restart
	.type	goro__ctx_restart, @function
goro__ctx_restart:
	movq	%rdi, %rsp
	xorl	%ebp, %ebp
	movq	%rdx, %rdi
	callq	*%rsi                   /* entry(arg); never returns */
	ud2
	.size	goro__ctx_restart, .-goro__ctx_restart
	.cfi_endproc
	.size	goro__ctx_trampoline, goro__ctx_restart-goro__ctx_trampoline

	.section .note.GNU-stack,"",@progbits
