/*
 * guard.h: the per-thread re-entrancy guard.  A hook or API call that finds
 * it taken (refsan calling a hooked function itself, or a signal handler
 * interrupting a hook) only forwards.
 */
#ifndef REFSAN_GUARD_H
#define REFSAN_GUARD_H

#include <stdbool.h>

extern __thread int refsan_in_shim __attribute__((tls_model("initial-exec")));

static inline bool
guard_enter(void)
{
	if (refsan_in_shim)
		return false;
	refsan_in_shim = 1;
	return true;
}

static inline void
guard_exit(void)
{
	refsan_in_shim = 0;
}

#endif
