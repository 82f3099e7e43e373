/*
 * unwind.h: capture the native stack of the current thread.  libunwind is
 * loaded with dlopen(RTLD_LOCAL) at init, never linked: Debian's libunwind
 * exports backtrace() and _Unwind_*, which would take over the program's
 * own calls to them.
 */
#ifndef REFSAN_UNWIND_H
#define REFSAN_UNWIND_H

#include <stdbool.h>
#include <stdint.h>

/* dlopen libunwind and warm it up.  0, or -1 (then stacks are empty). */
int unwind_init(void);
/*
 * Up to MAX return addresses of the current thread's callers, innermost
 * first, skipping the SKIP innermost frames (unwind_capture's own caller is
 * frame 0).  Returns the count.
 */
unsigned unwind_capture(uintptr_t *pcs, unsigned max, unsigned skip);

/*
 * What a caller derived from a cached stack (its depot id, under a key of
 * the caller's choosing), kept with the cache entry and forgotten when the
 * entry is refilled: a hit then costs no post-processing and no depot
 * lookup.  Per thread; valid until the thread's next capture.
 */
struct unwind_memo {
	uintptr_t key;
	uint32_t id;
	uint32_t flags; /* the caller's */
	uint32_t tag;   /* the caller's */
	uint64_t aux;   /* the caller's */
	uint64_t stamp; /* unique per fill in this thread, never 0 */
};
/* unwind_capture, and *MEMO the entry's memo (NULL when not cached). */
unsigned unwind_capture_memo(uintptr_t *pcs, unsigned max, unsigned skip,
                             struct unwind_memo **memo);

/*
 * unwind_capture_memo, except that when the stack is cached and its memo
 * holds KEY (non-zero), PCS is left alone and *CACHED points at the cached
 * frames instead (valid until the thread's next capture): a caller that
 * finds what it needs in the memo pays no copy.  *CACHED is NULL whenever
 * PCS was filled.
 */
unsigned unwind_capture_keyed(uintptr_t *pcs, unsigned max, unsigned skip,
                              struct unwind_memo **memo, uintptr_t key,
                              const uintptr_t **cached);

/*
 * The frames of this thread's last capture, when it was served or filled
 * by the cache: *PCS[i] was read from the stack at *SP + *SLOTS[i].  False
 * when that capture was not cached.  Valid until the thread's next
 * capture.
 */
bool unwind_last_frames(uintptr_t *sp, const int32_t **slots,
                        const uintptr_t **pcs, unsigned *n);

/* The same stack, always by a full walk (the reference for tests). */
unsigned unwind_capture_slow(uintptr_t *pcs, unsigned max, unsigned skip);
/* Turn the per-thread cache off (1 = on, the default). */
void unwind_set_cache(int enabled);
/* Tests: turn the prediction of a miss's slots off (every miss walks with
 * the cursor). */
void unwind_set_predict(int enabled);

/* Counters since start (tests, benchmarks): misses that filled the cache,
 * misses served by prediction and by the cursor walk. */
struct unwind_stats {
	uint64_t fills;
	uint64_t predicted;
	uint64_t walked;
};
void unwind_stats(struct unwind_stats *out);

/*
 * Set by the interposition layer: called around a capture so hijacked
 * return addresses on the stack can be swapped back (restore=1) and
 * hijacked again afterwards (restore=0).  NULL when nothing is hijacked.
 */
extern void (*unwind_fixup)(int restore);

#endif
