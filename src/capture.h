/*
 * capture.h: the stack of a hooked call, as a depot id: the hooked
 * function's entry, its real callers (refsan's and the trampoline's
 * frames dropped), the calling Python code's frames, the thread.
 */
#ifndef REFSAN_CAPTURE_H
#define REFSAN_CAPTURE_H

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

#endif
