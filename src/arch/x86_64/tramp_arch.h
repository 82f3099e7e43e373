/*
 * tramp_arch.h (x86-64): the register blocks trampoline.S saves, and how
 * a hook reads the N-th integer-class argument of the SysV ABI from them.
 * Layouts must match the offsets in trampoline.S.
 */
#ifndef REFSAN_TRAMP_ARCH_H
#define REFSAN_TRAMP_ARCH_H

#include <elf.h>
#include <stdint.h>
#include "tramp_layout.h"

/* The relocations that bind a call or a function pointer to a symbol. */
#define TRAMP_R_JUMP_SLOT R_X86_64_JUMP_SLOT
#define TRAMP_R_GLOB_DAT R_X86_64_GLOB_DAT

/* Saved at function entry (208 bytes, 16-aligned). */
struct tramp_regs {
	uintptr_t gpr[6]; /* rdi rsi rdx rcx r8 r9: integer args 0..5 */
	uintptr_t rax;    /* varargs: count of vector registers used */
	uintptr_t r10;    /* static chain */
	uintptr_t r11;    /* stub index (scratch); after interpose_enter,
			     tramp_next.call */
	uintptr_t pad;
	uint8_t xmm[8][16]; /* xmm0..7: floating-point args */
};

/* Saved when a hijacked function returns (48 bytes). */
struct tramp_retregs {
	uintptr_t rax;
	uintptr_t rdx;
	uint8_t xmm0[16];
	uint8_t xmm1[16];
};

/*
 * Integer-class argument N (pointers and integers only: floating-point
 * arguments travel in xmm registers and do not count).  The first six are
 * in registers, the rest on the caller's stack above the return address.
 */
static inline uintptr_t
tramp_arg(const struct tramp_regs *r, const uintptr_t *stack_args, unsigned n)
{
	return n < 6 ? r->gpr[n] : stack_args[n - 6];
}

/* The integer return value. */
static inline uintptr_t
tramp_retval(const struct tramp_retregs *r)
{
	return r->rax;
}

#endif
