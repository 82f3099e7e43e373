/*
 * trampoline.S (x86-64, SysV): signature-agnostic trampolines and the
 * dlsym/dlvsym entries of the shim.
 *
 * A hooked function's GOT slot or dlsym answer points at one stub of a
 * fixed pool; the stub loads its index into r11 (scratch at function entry)
 * and jumps to tramp_entry.  tramp_entry saves every argument register
 * (rdi..r9, rax for varargs, r10, xmm0-7), leaves the stack arguments where
 * they are, and calls interpose_enter().  Then it restores everything, pops
 * its own frame and tail-jumps to the address interpose_enter() returned, so
 * that the real function sees exactly the stack and registers the caller
 * set up, return address included (when that is tramp_exit, through
 * tramp_call: see there); or, when told to skip the call, returns 0 in rax,
 * rdx, xmm0 and xmm1.
 *
 * When a rule needs the return value, interpose_enter() has replaced the
 * return address with tramp_exit (the original kept on a per-thread shadow
 * stack).  tramp_exit saves rax, rdx, xmm0 and xmm1 (the x87 stack, where
 * long doubles come back, is never touched), calls interpose_leave(),
 * which first puts the original return address back in the slot just
 * above the stub's frame, so the stub is an ordinary frame (CFI below) for
 * an unwinder running inside the hook, and returns through it.
 *
 * A hook whose rule reads a register argument before the call and needs
 * nothing after it (add_ref, release, use: the hook's `fast` names the
 * engine's entry for its role) is done by tramp_entry itself once the
 * registers are saved: it takes the guard, saves errno, builds the
 * struct hook_call and calls that entry, with no interpose_enter() and
 * nothing decided twice; anything unusual takes interpose_enter().
 *
 * tramp_exit does the same for a rule whose handle is the return value
 * with no condition on it (a create: the hook's `leave_fast`) when the
 * shadow entry on top is the call's own: it pops it, return address back
 * first, and calls the engine; anything else takes interpose_leave().
 *
 * A hook whose rule reads only the return value (a create returning its
 * handle) needs nothing before the call but the hijack.  Its stub enters
 * by tramp_entry_ret, which does that itself when nothing is unusual (refsan ready, not
 * inside refsan, this thread's shadow stack mapped and not full, no stale
 * or tail-call entry on top of it): it pushes the shadow entry exactly as
 * interpose_enter() would, with five scratch registers pushed and popped
 * and no call, and every other case falls through to interpose_enter().
 *
 * Every call into C is made with rsp 16-byte aligned.
 */

#include "tramp_layout.h"

	.text

	.globl	tramp_text_start
	.hidden	tramp_text_start
tramp_text_start:

	.hidden	interpose_enter
	.hidden	interpose_leave
	.hidden	interpose_dlsym
	.hidden	interpose_real_dlsym
	.hidden	interpose_real_dlvsym
	.hidden	hooks
	.hidden	refsan_state
	.hidden	refsan_active
	.hidden	refsan_thread

/* Saved register block: matches struct tramp_regs in tramp_arch.h. */
#define R_RDI	0
#define R_RSI	8
#define R_RDX	16
#define R_RCX	24
#define R_R8	32
#define R_R9	40
#define R_RAX	48
#define R_R10	56
#define R_R11	64
#define R_XMM	80
/* Beyond struct tramp_regs, for the fast path: the struct hook_call it
 * passes, the caller's errno, and the call's target. */
#define R_HC	208
#define R_ERRNO	232
#define R_TARGET 240
#define R_SIZE	256

/* tramp_entry_ret's five scratch registers, pushed in the other order. */
	.macro	POP_SCRATCH
	popq	%rdi
	.cfi_adjust_cfa_offset -8
	popq	%rsi
	.cfi_adjust_cfa_offset -8
	popq	%rdx
	.cfi_adjust_cfa_offset -8
	popq	%rcx
	.cfi_adjust_cfa_offset -8
	popq	%rax
	.cfi_adjust_cfa_offset -8
	.endm

/* OUT (a 32-bit register) = whether the call is internal: HOOK (a
 * struct hook *) was patched into its own library's GOT, or RA (the
 * return address) lies in that library's text.  As interpose_enter(). */
	.macro	INTERNAL hook, ra, out
	movzbl	HOOK_OWN(\hook), \out
	cmpq	HOOK_LO(\hook), \ra
	jb	9f
	cmpq	HOOK_HI(\hook), \ra
	jae	9f
	movl	$1, \out
9:
	.endm

/* The argument registers back from tramp_entry's frame (r11 is the
 * caller's to set). */
	.macro	RESTORE_ARGS
	movq	R_RDI(%rsp), %rdi
	movq	R_RSI(%rsp), %rsi
	movq	R_RDX(%rsp), %rdx
	movq	R_RCX(%rsp), %rcx
	movq	R_R8(%rsp), %r8
	movq	R_R9(%rsp), %r9
	movq	R_RAX(%rsp), %rax
	movq	R_R10(%rsp), %r10
	movdqa	R_XMM+0*16(%rsp), %xmm0
	movdqa	R_XMM+1*16(%rsp), %xmm1
	movdqa	R_XMM+2*16(%rsp), %xmm2
	movdqa	R_XMM+3*16(%rsp), %xmm3
	movdqa	R_XMM+4*16(%rsp), %xmm4
	movdqa	R_XMM+5*16(%rsp), %xmm5
	movdqa	R_XMM+6*16(%rsp), %xmm6
	movdqa	R_XMM+7*16(%rsp), %xmm7
	.endm

	.p2align 4
	.globl	tramp_entry_ret
	.hidden	tramp_entry_ret
	.globl	tramp_entry
	.hidden	tramp_entry
	.type	tramp_entry, @function
tramp_entry_ret:
	.cfi_startproc
	/* rsp = return address slot; r11 = stub index */
	pushq	%rax
	.cfi_adjust_cfa_offset 8
	pushq	%rcx
	.cfi_adjust_cfa_offset 8
	pushq	%rdx
	.cfi_adjust_cfa_offset 8
	pushq	%rsi
	.cfi_adjust_cfa_offset 8
	pushq	%rdi
	.cfi_adjust_cfa_offset 8
#define F_RA_SLOT 40			/* from rsp, after the five pushes */
	imulq	$HOOK_SIZE, %r11, %rax
	leaq	hooks(%rip), %rcx
	addq	%rcx, %rax		/* rax = &hooks[idx] */
	cmpl	$TRAMP_INIT_READY, refsan_state(%rip)
	jne	.Lslow
	cmpb	$0, refsan_active(%rip)
	je	.Lslow
	movq	refsan_thread@gottpoff(%rip), %rdx /* rdx: this thread's words, at fs:rdx */
	cmpl	$0, %fs:T_IN_SHIM(%rdx)
	jne	.Lslow			/* inside refsan: interpose_enter forwards */
	movq	F_RA_SLOT(%rsp), %rsi	/* rsi = the return address */
	leaq	tramp_exit(%rip), %rcx
	cmpq	%rcx, %rsi
	je	.Lslow			/* tail-called by a hijacked function */
	movq	%fs:T_SHADOW(%rdx), %rcx /* rcx = this thread's shadow stack */
	testq	%rcx, %rcx
	jz	.Lslow			/* not mapped yet */
	movl	%fs:T_SHADOW_DEPTH(%rdx), %edi /* its depth */
	cmpl	$SHADOW_MAX, %edi
	jae	.Lslow			/* full */
	imulq	$SHADOW_ENT_SIZE, %rdi, %rdi
	addq	%rcx, %rdi		/* rdi = &shadow[depth], the new entry */
	cmpq	%rcx, %rdi		/* depth 0? */
	leaq	F_RA_SLOT(%rsp), %rcx	/* rcx = ra_slot */
	je	1f
	/* The entry on top must belong to a caller, deeper in the stack
	 * (a higher slot); anything else (left by a longjmp, or a hijacked
	 * function that tail-called us) is interpose_enter's to sort out. */
	cmpq	%rcx, SE_SLOT-SHADOW_ENT_SIZE(%rdi)
	jbe	.Lslow
1:	movq	%rcx, SE_SLOT(%rdi)
	movq	%rsi, SE_ORIG(%rdi)
	movq	$0, SE_ARG(%rdi)
	movl	%r11d, SE_IDX(%rdi)
	movl	HOOK_GEN(%rax), %r11d
	movl	%r11d, SE_GEN(%rdi)
	movb	$0, SE_RELEASED(%rdi)
	movb	$0, SE_FIXED(%rdi)
	INTERNAL %rax, %rsi, %r11d
	movb	%r11b, SE_INTERNAL(%rdi)
	/* Publish the entry, then hijack (a signal handler in between sees
	 * a consistent stack, as with interpose_enter). */
	addl	$1, %fs:T_SHADOW_DEPTH(%rdx)
	leaq	tramp_exit(%rip), %r11
	movq	%r11, (%rcx)
	movq	HOOK_REAL(%rax), %r11
	POP_SCRATCH
	jmp	tramp_call
.Lslow:
	.cfi_adjust_cfa_offset 40
	POP_SCRATCH
tramp_entry:
	/* rsp = return address slot; r11 = stub index */
	pushq	%rbp
	.cfi_def_cfa_offset 16
	.cfi_offset %rbp, -16
	movq	%rsp, %rbp
	.cfi_def_cfa_register %rbp
	subq	$R_SIZE, %rsp
	movq	%rdi, R_RDI(%rsp)
	movq	%rsi, R_RSI(%rsp)
	movq	%rdx, R_RDX(%rsp)
	movq	%rcx, R_RCX(%rsp)
	movq	%r8, R_R8(%rsp)
	movq	%r9, R_R9(%rsp)
	movq	%rax, R_RAX(%rsp)
	movq	%r10, R_R10(%rsp)
	movq	%r11, R_R11(%rsp)
	movdqa	%xmm0, R_XMM+0*16(%rsp)
	movdqa	%xmm1, R_XMM+1*16(%rsp)
	movdqa	%xmm2, R_XMM+2*16(%rsp)
	movdqa	%xmm3, R_XMM+3*16(%rsp)
	movdqa	%xmm4, R_XMM+4*16(%rsp)
	movdqa	%xmm5, R_XMM+5*16(%rsp)
	movdqa	%xmm6, R_XMM+6*16(%rsp)
	movdqa	%xmm7, R_XMM+7*16(%rsp)
	/* The fast path: a rule whose hook names an engine entry (an
	 * acquire, use or unconditional release of a register argument)
	 * and nothing unusual (refsan ready, not inside it, errno's address
	 * known, not tail-called by a hijacked function) calls the engine
	 * itself, as interpose_enter() would. */
	imulq	$HOOK_SIZE, %r11, %rax
	leaq	hooks(%rip), %rcx
	addq	%rcx, %rax		/* rax = &hooks[idx] */
	movq	HOOK_FAST(%rax), %r8	/* read once: a reused stub may change it */
	testq	%r8, %r8
	jz	.Lgeneric
	cmpl	$TRAMP_INIT_READY, refsan_state(%rip)
	jne	.Lgeneric
	cmpb	$0, refsan_active(%rip)
	je	.Lgeneric
	movq	8(%rbp), %rsi		/* rsi = the return address */
	leaq	tramp_exit(%rip), %rcx
	cmpq	%rcx, %rsi
	je	.Lgeneric
	movq	refsan_thread@gottpoff(%rip), %rdx /* this thread's words, at fs:rdx */
	movq	%fs:T_ERRNO_AT(%rdx), %rcx /* rcx = &errno, once set */
	testq	%rcx, %rcx
	jz	.Lgeneric
	cmpl	$0, %fs:T_IN_SHIM(%rdx)
	jne	.Lgeneric		/* inside refsan: interpose_enter forwards */
	movl	$1, %fs:T_IN_SHIM(%rdx)	/* the guard */
	movl	(%rcx), %ecx
	movl	%ecx, R_ERRNO(%rsp)
	movq	HOOK_REAL(%rax), %rcx
	movq	%rcx, R_TARGET(%rsp)
	movzbl	HOOK_FAST_ARGN(%rax), %ecx
	movq	R_RDI(%rsp,%rcx,8), %rdi /* the handle: argument N */
	testq	%rdi, %rdi
	jz	.Lfast_out		/* NULL: nothing to track */
	INTERNAL %rax, %rsi, %edx
	leaq	HOOK_SITE(%rax), %rcx
	movq	%rcx, R_HC+HC_SITE(%rsp)
	movb	%dl, R_HC+HC_INTERNAL(%rsp)
	movl	$0, R_HC+HC_STACK(%rsp)
	leaq	8(%rbp), %rcx
	movq	%rcx, R_HC+HC_RA_SLOT(%rsp)
	leaq	R_HC(%rsp), %rsi
	call	*%r8
	testb	%al, %al
	jnz	.Lfast_out
	movq	$0, R_TARGET(%rsp)	/* not forwarded: return 0 */
.Lfast_out:
	movq	refsan_thread@gottpoff(%rip), %rdx
	movq	%fs:T_ERRNO_AT(%rdx), %rcx
	movl	R_ERRNO(%rsp), %esi
	movl	%esi, (%rcx)
	movl	$0, %fs:T_IN_SHIM(%rdx)
	movq	R_TARGET(%rsp), %r11	/* target, or 0 to skip */
	RESTORE_ARGS
	leave
	.cfi_remember_state
	.cfi_def_cfa %rsp, 8
	.cfi_same_value %rbp
	testq	%r11, %r11		/* a plain jump to it */
	jz	.Lskip
	jmp	*%r11
	.cfi_restore_state
.Lgeneric:
	movq	%rsp, %rdi		/* regs */
	movl	%r11d, %esi		/* idx */
	leaq	8(%rbp), %rdx		/* ra_slot */
	leaq	16(%rbp), %rcx		/* stack_args */
	call	interpose_enter
	movq	%rax, %r11		/* target, or 0 to skip */
	movq	%rdx, R_R11(%rsp)	/* 1: enter it by tramp_call */
	RESTORE_ARGS
	cmpq	$0, R_R11(%rsp)		/* neither mov nor leave sets flags */
	leave
	.cfi_def_cfa %rsp, 8
	.cfi_same_value %rbp
	jne	tramp_call
	testq	%r11, %r11
	jz	.Lskip
	jmp	*%r11
.Lskip:	/* skipped (a double release not passed on): return 0 */
	xorl	%eax, %eax
	xorl	%edx, %edx
	pxor	%xmm0, %xmm0
	pxor	%xmm1, %xmm1
	ret
	.cfi_endproc
	.size	tramp_entry, .-tramp_entry

/*
 * The exit stub, and tramp_call just before it.  When the return address
 * slot holds tramp_exit as the real function is entered (interpose_enter
 * hijacked it, or a hijacked function tail-called this one), tramp_entry
 * enters it by tramp_call: drop the slot and `call` the function, which
 * pushes the very same return address (tramp_exit, the next instruction)
 * in the very same slot, so the function sees the same stack; but now the
 * CPU's return stack buffer holds it too, so the function's ret to
 * tramp_exit and tramp_exit's own ret are predicted, where a plain jump
 * made both mispredict at every hijacked call.
 *
 * This code is covered by an FDE with an undefined return address, so an
 * unwinder that meets tramp_exit as a return address (pc - 1 is the call;
 * a hijacked call still running, seen by gdb) stops cleanly there instead
 * of walking garbage; refsan's own captures swap the originals back first
 * (unwind_fixup).
 */
#define X_RAX	0
#define X_RDX	8
#define X_XMM0	16
#define X_XMM1	32
/* Beyond struct tramp_retregs, for the fast path. */
#define X_HC	48
#define X_ERRNO	72
#define X_SIZE	80

	.p2align 4
	.type	tramp_exit_fde, @function
tramp_exit_fde:
	.cfi_startproc
	.cfi_undefined %rip
tramp_call:
	leaq	8(%rsp), %rsp		/* the slot: call writes it again */
	call	*%r11
	.globl	tramp_exit
	.hidden	tramp_exit
tramp_exit:
	/* The real function has returned: rsp is 16-aligned and the slot
	 * just below it held the hijacked return address. */
	subq	$8, %rsp		/* the return address slot again */
	pushq	%rbp
	movq	%rsp, %rbp
	/* From here the frame is a normal one: the original return address
	 * is at rbp+8 once interpose_leave() has put it back. */
	.cfi_def_cfa %rbp, 16
	.cfi_offset %rbp, -16
	.cfi_offset %rip, -8
	subq	$X_SIZE, %rsp
	movq	%rax, X_RAX(%rsp)
	movq	%rdx, X_RDX(%rsp)
	movdqa	%xmm0, X_XMM0(%rsp)
	movdqa	%xmm1, X_XMM1(%rsp)
	/* The fast path: the entry on top of the shadow stack is this
	 * call's, its hook names an engine entry for the return value (a
	 * create), the stub was not reused meanwhile, and nothing is
	 * unusual: pop the entry as interpose_leave() would (return address
	 * back first), then call that entry. */
	movq	refsan_thread@gottpoff(%rip), %r10 /* this thread's words, at fs:r10 */
	movl	%fs:T_SHADOW_DEPTH(%r10), %edx /* rdx = the depth */
	testl	%edx, %edx
	jz	.Lx_generic
	subl	$1, %edx
	imulq	$SHADOW_ENT_SIZE, %rdx, %rdi
	addq	%fs:T_SHADOW(%r10), %rdi /* rdi = the entry on top */
	leaq	8(%rbp), %rsi		/* rsi = ra_slot */
	cmpq	%rsi, SE_SLOT(%rdi)
	jne	.Lx_generic		/* left by a longjmp, or not ours */
	cmpb	$0, SE_RELEASED(%rdi)
	jne	.Lx_generic
	movl	SE_IDX(%rdi), %eax
	imulq	$HOOK_SIZE, %rax, %rax
	leaq	hooks(%rip), %rcx
	addq	%rcx, %rax		/* rax = its hook */
	movq	HOOK_LEAVE_FAST(%rax), %r8 /* read once */
	testq	%r8, %r8
	jz	.Lx_generic
	movl	HOOK_GEN(%rax), %ecx
	cmpl	%ecx, SE_GEN(%rdi)
	jne	.Lx_generic		/* the stub was reused */
	cmpl	$TRAMP_INIT_READY, refsan_state(%rip)
	jne	.Lx_generic
	movq	%fs:T_ERRNO_AT(%r10), %rcx /* rcx = &errno, once set */
	testq	%rcx, %rcx
	jz	.Lx_generic
	cmpl	$0, %fs:T_IN_SHIM(%r10)
	jne	.Lx_generic
	/* Pop: the return address back, then the depth. */
	movq	SE_ORIG(%rdi), %r11
	movq	%r11, (%rsi)
	movzbl	SE_INTERNAL(%rdi), %r9d
	movl	%edx, %fs:T_SHADOW_DEPTH(%r10)
	movq	X_RAX(%rsp), %rdi	/* the handle */
	testq	%rdi, %rdi
	jz	.Lx_out
	movl	$1, %fs:T_IN_SHIM(%r10)	/* the guard */
	movl	(%rcx), %ecx
	movl	%ecx, X_ERRNO(%rsp)
	leaq	HOOK_SITE(%rax), %rcx
	movq	%rcx, X_HC+HC_SITE(%rsp)
	movb	%r9b, X_HC+HC_INTERNAL(%rsp)
	movl	$0, X_HC+HC_STACK(%rsp)
	movq	%rsi, X_HC+HC_RA_SLOT(%rsp)
	leaq	X_HC(%rsp), %rsi
	call	*%r8
	movq	refsan_thread@gottpoff(%rip), %r10
	movq	%fs:T_ERRNO_AT(%r10), %rcx
	movl	X_ERRNO(%rsp), %edx
	movl	%edx, (%rcx)
	movl	$0, %fs:T_IN_SHIM(%r10)
	jmp	.Lx_out
.Lx_generic:
	movq	%rsp, %rdi		/* regs */
	leaq	8(%rbp), %rsi		/* ra_slot */
	call	interpose_leave		/* puts the return address back
					 * first: a normal frame from there */
.Lx_out:
	movq	X_RAX(%rsp), %rax
	movq	X_RDX(%rsp), %rdx
	movdqa	X_XMM0(%rsp), %xmm0
	movdqa	X_XMM1(%rsp), %xmm1
	leave
	.cfi_def_cfa %rsp, 8
	.cfi_same_value %rbp
	ret
	.cfi_endproc
	.size	tramp_exit_fde, .-tramp_exit_fde

/*
 * dlsym and dlvsym, the only target-related names the shim exports.
 * interpose_dlsym() decides; when it passes, jump to the real function
 * with the caller's return address in place, so that RTLD_NEXT lookups
 * made by other preloads still resolve relative to their caller.
 */
	.p2align 4
	.globl	dlsym
	.type	dlsym, @function
dlsym:
	.cfi_startproc
	endbr64
	pushq	%rdi
	.cfi_adjust_cfa_offset 8
	pushq	%rsi
	.cfi_adjust_cfa_offset 8
	pushq	%rdx
	.cfi_adjust_cfa_offset 8
	xorl	%edx, %edx		/* no version */
	call	interpose_dlsym
	popq	%rcx			/* rdx, not needed by dlsym */
	.cfi_adjust_cfa_offset -8
	popq	%rsi
	.cfi_adjust_cfa_offset -8
	popq	%rdi
	.cfi_adjust_cfa_offset -8
	testq	%rax, %rax
	jz	1f
	movq	%rdx, %rax
	ret
1:	jmp	*interpose_real_dlsym(%rip)
	.cfi_endproc
	.size	dlsym, .-dlsym

	.p2align 4
	.globl	dlvsym
	.type	dlvsym, @function
dlvsym:
	.cfi_startproc
	endbr64
	pushq	%rdi
	.cfi_adjust_cfa_offset 8
	pushq	%rsi
	.cfi_adjust_cfa_offset 8
	pushq	%rdx
	.cfi_adjust_cfa_offset 8
	call	interpose_dlsym
	movq	%rdx, %rcx		/* the answer, if done */
	popq	%rdx
	.cfi_adjust_cfa_offset -8
	popq	%rsi
	.cfi_adjust_cfa_offset -8
	popq	%rdi
	.cfi_adjust_cfa_offset -8
	testq	%rax, %rax
	jz	1f
	movq	%rcx, %rax
	ret
1:	jmp	*interpose_real_dlvsym(%rip)
	.cfi_endproc
	.size	dlvsym, .-dlvsym

/*
 * The stub pool: stub I is `endbr64; mov $I, %r11d; jmp *tramp_targets[I]`,
 * 16 bytes.  At their first instruction the return address is at rsp,
 * which is what the default CFI says.  tramp_targets[I] is tramp_entry or
 * tramp_entry_ret, set when the stub is given a hook (interpose.c), before
 * any pointer to the stub is handed out.
 */
#define POOL_COUNT	4096
#define POOL_STRIDE	16

	.p2align 4
	.globl	tramp_pool
	.hidden	tramp_pool
	.type	tramp_pool, @function
tramp_pool:
	.cfi_startproc
	.set	stub_index, 0
	.rept	POOL_COUNT
	endbr64
	movl	$stub_index, %r11d
	jmp	*tramp_targets+8*stub_index(%rip)
	.p2align 4, 0xcc
	.set	stub_index, stub_index + 1
	.endr
	.cfi_endproc
	.size	tramp_pool, .-tramp_pool

	.globl	tramp_text_end
	.hidden	tramp_text_end
tramp_text_end:

	.section .rodata
	.p2align 2
	.globl	tramp_pool_count
	.hidden	tramp_pool_count
tramp_pool_count:
	.long	POOL_COUNT
	.globl	tramp_pool_stride
	.hidden	tramp_pool_stride
tramp_pool_stride:
	.long	POOL_STRIDE

	.bss
	.p2align 6
	.globl	tramp_targets
	.hidden	tramp_targets
	.type	tramp_targets, @object
tramp_targets:
	.zero	8 * POOL_COUNT
	.size	tramp_targets, .-tramp_targets

	.section .note.GNU-stack, "", @progbits
