/*
 * stack_depot.h: stacks deduplicated into 32-bit ids.  A stack is an array
 * of words: native program counters (innermost first) and, tagged with
 * DEPOT_PY_TAG, Python frames (see pyframes.h), stored once and found again
 * by a word-wise hash.  Lock-free lookup; a bucket lock only on insert.
 */
#ifndef REFSAN_STACK_DEPOT_H
#define REFSAN_STACK_DEPOT_H

#include <stddef.h>
#include <stdint.h>

/* A word with this bit set (and not bit 62) is a Python frame id, not a
 * program counter. */
#define DEPOT_PY_TAG ((uintptr_t)1 << 63)
/* Both bits: the id of the thread the stack was captured on, last word. */
#define DEPOT_THREAD_TAG ((uintptr_t)3 << 62)
#define DEPOT_TAG_MASK ((uintptr_t)3 << 62)

static inline int
depot_word_is_python(uintptr_t w)
{
	return (w & DEPOT_TAG_MASK) == DEPOT_PY_TAG;
}
/* A program counter with this bit set is an exact address (a hooked
 * function's entry), not a return address: symbolize it as is, not pc-1. */
#define DEPOT_EXACT_TAG ((uintptr_t)1 << 62)

/* Map the depot's arena; 0 or -ENOMEM. */
int depot_init(size_t max_bytes);
/* The id of the stack PCS[0..N) (stored if new); 0 when full (counted). */
uint32_t depot_put(const uintptr_t *pcs, unsigned n);
/* The frames of ID; returns their count, 0 for id 0 or unknown. */
unsigned depot_get(uint32_t id, const uintptr_t **pcs);
/* Stacks stored, and stacks dropped because the depot was full. */
size_t depot_count(void);
size_t depot_dropped(void);
/* Forget everything (tests). */
void depot_reset(void);
/* Bumped by depot_reset: ids memoized outside the depot (capture.c) are
 * only good for the epoch they were made in. */
extern uint32_t depot_epoch;

#endif
