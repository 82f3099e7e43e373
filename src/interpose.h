/*
 * interpose.h: how the spec'd functions get intercepted.  dlsym/dlvsym
 * answers and GOT/PLT slots that bind into a spec'd library are pointed at
 * per-function trampolines (src/arch/<cpu>/trampoline.S); the hooks behind
 * them call the engine.
 */
#ifndef REFSAN_INTERPOSE_H
#define REFSAN_INTERPOSE_H

#include <stdint.h>
#include "spec.h"

/*
 * Called by init once the spec is loaded (state READY): resolves the real
 * dlsym, sets unwind_fixup, and patches the GOT slots of every object
 * loaded so far.  Returns 0.
 */
int interpose_init(const struct spec *s);

/*
 * Look for objects loaded since the last scan (cheap when there are none:
 * one dl_iterate_phdr step) and patch them.  The dlsym entry calls it on
 * every lookup; anything else that learns of a new library may too.
 */
void interpose_rescan(void);

/* Counters for the report and the tests. */
struct interpose_stats {
	uint64_t hooks;         /* trampolines handed out */
	uint64_t slots_patched; /* GOT slots pointed at trampolines */
	uint64_t pool_full;     /* functions left untracked: no stub left */
	uint64_t shadow_full;   /* calls untracked: shadow stack full */
	uint64_t shadow_stale;  /* shadow entries dropped (longjmp past a
				    hijacked call) */
	uint64_t recycled;      /* stubs of unloaded libraries handed out
				    again */
};
void interpose_get_stats(struct interpose_stats *out);

/* Creator-like exports of RELEASE_FN's library that no rule names, for
 * the hint on a release of a handle never seen created. */
size_t interpose_creator_hint(const char *release_fn, char *buf, size_t len,
			      const char **lib);

#endif
