/*
 * guard.h: the per-thread re-entrancy guard.  A hook or API call that finds
 * it taken (refsan calling a hooked function itself, or a signal handler
 * interrupting a hook) only forwards.
 */
#ifndef REFSAN_GUARD_H
#define REFSAN_GUARD_H

#include <stdbool.h>

/*
 * The per-thread words of every hooked call: the guard, and (interpose.c's)
 * the shadow stack of hijacked returns and the address of errno.  One TLS
 * variable, not four: in a shared object each initial-exec variable costs
 * a load of its offset from the GOT, and the trampolines reach all of
 * them from one (offsets in arch/.../tramp_layout.h).
 */
struct shadow_ent;
struct refsan_thread {
	int in_shim;                /* the guard */
	unsigned shadow_depth;      /* pending hijacked calls */
	struct shadow_ent *shadow;  /* their entries, mapped at the first */
	int *errno_at;              /* &errno, once known */
};
extern __thread struct refsan_thread refsan_thread
        __attribute__((tls_model("initial-exec")));

static inline bool
guard_enter(void)
{
	if (refsan_thread.in_shim)
		return false;
	refsan_thread.in_shim = 1;
	return true;
}

static inline void
guard_exit(void)
{
	refsan_thread.in_shim = 0;
}

#endif
