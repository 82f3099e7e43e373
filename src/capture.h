/*
 * capture.h: the stack of a hooked call, as a depot id: the hooked
 * function's entry, its real callers (refsan's and the trampoline's
 * frames dropped), the calling Python code's frames, the thread.
 */
#ifndef REFSAN_CAPTURE_H
#define REFSAN_CAPTURE_H

#include <stdbool.h>
#include <stdint.h>

/*
 * ENTRY is the hooked function's address; frames up to the first one in
 * [TRAMP_LO, TRAMP_HI) (the trampoline's code, refsan's own frames above
 * it) are dropped.  Hot path: a repeated call site costs the cache check
 * of its native stack, and with Python callers the walk of their frame
 * chain; no copy, no depot lookup.
 */
uint32_t capture_hooked(uintptr_t entry, uintptr_t tramp_lo,
                        uintptr_t tramp_hi);

/*
 * A call site of call_site.c whose caller is Python code: the slot above
 * the trampoline (RA_SLOT), the native frames from it that the stack is
 * made of (N of them: frame I's return address F[I].pc, read from
 * F[I].slot; F[0].slot is RA_SLOT), and the key of its stacks in
 * pyframes.c's memo (STAMP: CAPTURE_SITE_STAMP set, so never one of
 * unwind.c's).
 */
#define CAPTURE_SITE_STAMP ((uint64_t)1 << 63)
struct capture_frame {
	const uintptr_t *slot;
	uintptr_t pc;
};
struct capture_site {
	const uintptr_t *ra_slot;
	unsigned n;
	const struct capture_frame *f;
	uint64_t stamp;
};

/* capture_hooked, from SITE: a Python stack it splices is memoized under
 * SITE->stamp, when its native frames are exactly the site's. */
uint32_t capture_hooked_site(uintptr_t entry, uintptr_t tramp_lo,
                             uintptr_t tramp_hi,
                             const struct capture_site *site);

/* Whether this thread's last capture_hooked was a Python caller's stack
 * that pyframes.c's memo holds (under the unwind cache entry's stamp). */
bool capture_last_python(void);

#endif
