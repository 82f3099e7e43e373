/*
 * capture.c: the stack of a hooked call, memoized.
 *
 * The native stack comes from unwind.c's per-thread cache.  Its memo
 * holds what was derived from that exact stack last time, keyed by the
 * hooked function: for a C caller, the depot id itself; for a Python
 * caller, a mark that sends the capture to pyframes.c's per-thread memo,
 * keyed by the native stack (the cache entry's stamp), the function and
 * the thread state, and checked by reading again every word of the
 * interpreter's memory the splice read (its log).  A hit there returns the
 * id the full path would compute (tests check it against the full path
 * with other lines, callers, depths and code objects), without the
 * splice's frame ids or the depot's hash.
 *
 * Most calls do not get here: call_site.c answers for a call site seen
 * before, a Python caller's too, from the same Python memo keyed by the
 * site (capture_hooked_site splices for a site whose memo had no record
 * and makes one under the site's stamp, once its frames are checked to be
 * the site's).
 */
#include <string.h>
#include "capture.h"
#include "engine.h"
#include "options.h"
#include "pyframes.h"
#include "stack_depot.h"
#include "unwind.h"

#define CAPTURE_MAX 256  /* frames looked at per capture */
#define CAPTURE_SLACK 16 /* refsan's own frames above the trampoline */

/* unwind_memo.flags: the stack holds the eval loop's frames (look in the
 * Python memo). */
#define MEMO_PYTHON 1u

/*
 * With stack_depth 0 or 1 a stack is the hooked entry and the thread id,
 * nothing else: its id depends only on (entry, tid, depot epoch), so each
 * thread keeps them in a small direct-mapped table and the depot's hash,
 * chain walk and compare are skipped (they were a fifth of the cost of an
 * intercepted call there).
 */
#define SHORT_MEMO 8 /* direct-mapped by a hash of the entry */
static __thread struct short_memo {
	uintptr_t entry;
	uint32_t tid, epoch, id;
} short_memo[SHORT_MEMO] __attribute__((tls_model("initial-exec")));

/* depth 0 or 1, not in the memo: from the depot, then memoized. */
static __attribute__((noinline)) uint32_t
capture_short(struct short_memo *m, uintptr_t entry, uint32_t tid,
              uint32_t epoch)
{
	uintptr_t pcs[2];

	pcs[0] = entry | DEPOT_EXACT_TAG; /* an entry, not a return */
	pcs[1] = DEPOT_THREAD_TAG | tid;
	m->entry = entry;
	m->tid = tid;
	m->epoch = epoch;
	m->id = depot_put(pcs, 2);
	return m->id;
}

/* This thread's last capture: a Python stack in pyframes.c's memo (for
 * call_site.c's learning). */
static __thread bool last_python __attribute__((tls_model("initial-exec")));

bool
capture_last_python(void)
{
	return last_python;
}

/*
 * The native frames of this capture, SRC[I..I+COPIED) (I: the frame after
 * the trampoline), are SITE's: the same return addresses, read from the
 * same slots.  Only then does a memo record keyed by the site stand for
 * this stack.
 */
static bool
site_matches(const struct capture_site *site, const uintptr_t *src,
             unsigned i, unsigned copied)
{
	const int32_t *slots;
	const uintptr_t *pcs;
	uintptr_t sp;
	unsigned n, k;

	if (copied != site->n || !unwind_last_frames(&sp, &slots, &pcs, &n) ||
	    i + copied > n)
		return false;
	for (k = 0; k < copied; k++)
		if (src[i + k] != site->f[k].pc ||
		    sp + (uintptr_t)(intptr_t)slots[i + k] !=
		            (uintptr_t)site->f[k].slot)
			return false;
	return true;
}

static __attribute__((noinline)) uint32_t
capture_full(uintptr_t entry, uintptr_t lo, uintptr_t hi, unsigned depth,
             const struct capture_site *site)
{
	uintptr_t raw[CAPTURE_MAX], pcs[CAPTURE_MAX + 1];
	unsigned n, i, k = 0, want, first = 0;
	struct unwind_memo *memo = NULL;
	const uintptr_t *cached = NULL, *src = raw;
	struct pf_fp fp;
	bool have_fp = false;
	/* Part of every stack: a memo made before a fork is not the
	 * child's. */
	uint32_t tid = (uint32_t)engine_thread_id(), id;

	last_python = false;
	if (depth > CAPTURE_MAX)
		depth = CAPTURE_MAX;
	pcs[k++] = entry | DEPOT_EXACT_TAG; /* an entry, not a return */
	if (depth > 1) {
		want = depth + CAPTURE_SLACK;
		if (want > CAPTURE_MAX)
			want = CAPTURE_MAX;
		n = unwind_capture_keyed(raw, want, 0, &memo, entry, &cached);
		if (cached)
			src = cached;
		if (memo && memo->key == entry && memo->id &&
		    memo->tag == tid) {
			/* The same native stack into the same function. */
			if (!(memo->flags & MEMO_PYTHON))
				return memo->id;
			/* From a site: splice, to memoize under its key. */
			id = site ? 0
			          : pyframes_memo_get(memo->stamp, entry, tid,
			                              NULL);
			if (id) {
				last_python = true;
				return id;
			}
		}
		for (i = 0; i < n && !(src[i] >= lo && src[i] < hi); i++)
			;
		first = ++i;
		for (; i < n && k < depth; i++)
			pcs[k++] = src[i];
		if (refsan_opts.python_frames) {
			if (site && !site_matches(site, src, first, k - 1))
				site = NULL;
			k = pyframes_splice_fp(pcs, k, depth, &fp);
			have_fp = true;
			if (memo && fp.python) {
				memo->key = entry;
				memo->tag = tid;
				memo->flags = MEMO_PYTHON;
				memo->id = 1; /* look in the Python memo */
			}
		}
	}
	pcs[k++] = DEPOT_THREAD_TAG | tid;
	id = depot_put(pcs, k);
	if (memo && memo->key == entry && memo->tag == tid &&
	    (memo->flags & MEMO_PYTHON)) {
		if (have_fp)
			last_python = pyframes_memo_put(site ? site->stamp
			                                     : memo->stamp,
			                                entry, tid, &fp, id);
	} else if (memo) {
		for (i = 0; i < k && !depot_word_is_python(pcs[i]); i++)
			;
		if (i == k) {
			memo->key = entry;
			memo->tag = tid;
			memo->flags = 0;
			memo->id = id;
		}
	}
	return id;
}

uint32_t
capture_hooked_site(uintptr_t entry, uintptr_t lo, uintptr_t hi,
                    const struct capture_site *site)
{
	unsigned depth = refsan_opts.stack_depth;

	if (depth <= 1)
		return capture_hooked(entry, lo, hi);
	return capture_full(entry, lo, hi, depth, site);
}

__attribute__((noinline)) uint32_t
capture_hooked(uintptr_t entry, uintptr_t lo, uintptr_t hi)
{
	unsigned depth = refsan_opts.stack_depth;

	/* The short case first, without the full capture's 4 KiB frame. */
	if (depth <= 1) {
		uint32_t tid = (uint32_t)engine_thread_id();
		uint32_t epoch = depot_epoch;
		struct short_memo *m =
		        &short_memo[(entry * 0x9e3779b97f4a7c15ull) >> 61];

		if (m->entry == entry && m->tid == tid && m->epoch == epoch &&
		    m->id)
			return m->id;
		return capture_short(m, entry, tid, epoch);
	}
	return capture_full(entry, lo, hi, depth, NULL);
}
