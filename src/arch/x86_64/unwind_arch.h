/*
 * unwind_arch.h (x86-64): what the cached unwinder needs to know of the
 * machine: libunwind's entry points for local unwinding (their names carry
 * the architecture), and where a call leaves its return address: the word
 * just below the caller's stack pointer after the call returns (CFA - 8).
 */
#ifndef REFSAN_UNWIND_ARCH_H
#define REFSAN_UNWIND_ARCH_H

#define UNWIND_SYM_GETCONTEXT "_Ux86_64_getcontext"
#define UNWIND_SYM_INIT_LOCAL "_ULx86_64_init_local"
#define UNWIND_SYM_STEP "_ULx86_64_step"
#define UNWIND_SYM_GET_REG "_ULx86_64_get_reg"
#define UNWIND_SYM_IS_SIGNAL_FRAME "_ULx86_64_is_signal_frame"
#define UNWIND_REG_IP 16 /* UNW_X86_64_RIP */
#define UNWIND_REG_SP 7  /* UNW_X86_64_RSP */
#define UNWIND_REG_FP 6  /* UNW_X86_64_RBP */
/* The return address into a frame sits this far from that frame's SP. */
#define UNWIND_RA_SLOT_FROM_SP (-8)

static inline uintptr_t
unwind_current_sp(void)
{
	uintptr_t sp;

	__asm__ volatile("mov %%rsp, %0" : "=r"(sp));
	return sp;
}

#endif
