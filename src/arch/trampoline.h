/*
 * trampoline.h: the architecture-neutral face of the trampolines
 * (src/arch/<cpu>/trampoline.S).  The assembly knows nothing of specs or
 * handles: it saves the argument registers, asks interpose.c what to do,
 * and either tail-jumps to the real function with every register and the
 * stack exactly as the caller left them, or, for rules that need the
 * return value, hijacks the return address so that interpose_leave() runs
 * when the real function returns.  The register layouts and the argument
 * reader live in the arch directory (tramp_arch.h).
 */
#ifndef REFSAN_TRAMPOLINE_H
#define REFSAN_TRAMPOLINE_H

#include <stdint.h>
#include "tramp_arch.h"

/*
 * A fixed pool of stubs, one per hooked function: stub I loads I and jumps
 * to the generic entry.  Built by the assembler, so no page is ever made
 * writable and executable.
 */
extern const char tramp_pool[];
extern const unsigned tramp_pool_count;
extern const unsigned tramp_pool_stride;
/* Where a hijacked return address points. */
extern const char tramp_exit[];
extern const char tramp_entry[];
extern const char tramp_entry_ret[];
/* Where stub I jumps: tramp_entry, or tramp_entry_ret for a hook whose
 * rule reads only the return value. */
extern const void *tramp_targets[];
/* Every byte of trampoline code lies in [tramp_text_start, tramp_text_end):
 * stack captures drop the frames up to the last one in it. */
extern const char tramp_text_start[];
extern const char tramp_text_end[];

static inline uintptr_t
tramp_stub(unsigned i)
{
	return (uintptr_t)tramp_pool + (uintptr_t)i * tramp_pool_stride;
}

static inline int
tramp_is_code(uintptr_t pc)
{
	return pc >= (uintptr_t)tramp_text_start &&
	       pc < (uintptr_t)tramp_text_end;
}

/* What the entry does next (returned in two registers). */
struct tramp_next {
	uintptr_t target; /* the address to jump to, 0: skip the call */
	uintptr_t call;   /* 1: RA_SLOT holds tramp_exit; enter the target
			     by a call that pushes it again (the CPU then
			     predicts the returns) */
};

/*
 * Called by stub IDX's entry with the saved argument registers, the place
 * the return address lives (RA_SLOT, writable: hijacking it makes the
 * function return through tramp_exit) and the first stack-passed argument.
 * Returns the address to jump to with everything restored, or 0 to skip
 * the call and return 0 (integer and floating point) to the caller.
 */
struct tramp_next interpose_enter(struct tramp_regs *regs, unsigned idx,
                                  uintptr_t *ra_slot,
                                  const uintptr_t *stack_args);

/*
 * Called by tramp_exit with the saved return registers.  First writes the
 * original return address of the call whose hijacked return address was
 * in RA_SLOT back there (so an unwinder walking from the leave hook sees a
 * normal frame; aborts when the shadow stack has no such call), then pops
 * the call and tells the engine.  Returns the original return address.
 */
uintptr_t interpose_leave(struct tramp_retregs *regs, uintptr_t *ra_slot);

/*
 * The exported dlsym/dlvsym entries call this first.  done=0: the entry
 * tail-jumps to the real function with the caller's own return address
 * (RTLD_NEXT depends on it); done=1: ADDR is the answer.
 */
struct tramp_dlsym_res {
	uintptr_t done;
	void *addr;
};
struct tramp_dlsym_res interpose_dlsym(void *handle, const char *name,
                                       const char *version);
/* The real functions, taken from libc's own symbol table. */
extern void *interpose_real_dlsym;
extern void *interpose_real_dlvsym;

#endif
