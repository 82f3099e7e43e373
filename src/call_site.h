/*
 * call_site.h: the stack of a hooked call made from native code, memoized
 * at its call site (the return-address slot the trampoline was entered
 * with), so that a call site seen before costs a few loads and compares.
 */
#ifndef REFSAN_CALL_SITE_H
#define REFSAN_CALL_SITE_H

#include <stdbool.h>
#include <stdint.h>

/* Map the per-thread tables (at init); [TRAMP_LO, TRAMP_HI) is the
 * trampolines' code (see capture_hooked).  0, or -1: every call takes
 * capture_hooked's path. */
int call_site_init(uintptr_t tramp_lo, uintptr_t tramp_hi);

/*
 * The depot id capture_hooked(ENTRY, TRAMP_LO, TRAMP_HI) would return for
 * a call whose caller's return address is in RA_SLOT (no hijacked return
 * address above it: the caller checks).  Same result, memoized.
 */
uint32_t call_site_capture(uintptr_t entry, const uintptr_t *ra_slot);

/* Calls the memo answered since start, all threads (verbosity=2). */
uint64_t call_site_hits(void);

#endif
