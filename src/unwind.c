/*
 * unwind.c: native stacks of the current thread, exact and cheap.
 *
 * libunwind is dlopen'ed RTLD_LOCAL rather than linked: Debian's
 * libunwind.so.8 exports backtrace() and the _Unwind_* family, and a linked
 * copy would interpose them for the whole program.
 *
 * A full unwind costs ~250 ns and, with several threads, meets the others
 * on the loader's lock.  Most captures repeat one seen before: the same
 * call site, at the same depth, in the same thread.  So each thread keeps
 * a small cache of its recent stacks, keyed by the stack pointer and the
 * return address at the point of capture, holding each frame's program
 * counter and the stack address its return address was read from.  A hit
 * is checked word by word: every return-address slot must still hold the
 * same value, which is exactly the condition for the slow walk to find the
 * same frames (the chain of return addresses is the stack).  Only a miss
 * walks with libunwind's cursor, which also yields the slots to cache.
 * Frames whose slot is not "caller's SP - 8" (signal frames) are never
 * cached.  unwind_capture_slow() is the reference the tests compare with.
 */
#include <dlfcn.h>
#include <stdatomic.h>
#include <string.h>
#include "arena.h"
#include "unwind.h"
#include "unwind_arch.h"

void (*unwind_fixup)(int restore);

#define CACHE_WAYS 64       /* entries per thread (direct-mapped) */
#define CACHE_FRAMES 64     /* deeper stacks are not cached */
#define CACHE_THREADS 1024  /* threads with a cache; later ones walk */

struct cache_entry {
	uintptr_t sp;       /* 0: empty */
	uintptr_t ret;      /* the return address into our caller */
	uint16_t skip, max, n;
	uint16_t pad;
	struct unwind_memo memo;      /* the caller's, cleared on refill */
	int32_t slot[CACHE_FRAMES];   /* return-address slot - sp */
	uintptr_t pcs[CACHE_FRAMES];
};

struct thread_cache {
	struct cache_entry e[CACHE_WAYS];
};

/* Enough space for libunwind's unw_context_t / unw_cursor_t on x86-64. */
struct unw_ctx {
	uint64_t words[256];
};
struct unw_cur {
	uint64_t words[256];
};

static int (*p_unw_backtrace)(void **buffer, int size);
static int (*p_getcontext)(struct unw_ctx *);
static int (*p_init_local)(struct unw_cur *, struct unw_ctx *);
static int (*p_step)(struct unw_cur *);
static int (*p_get_reg)(struct unw_cur *, int, uintptr_t *);
static int (*p_is_signal_frame)(struct unw_cur *);

static struct thread_cache *caches;
static _Atomic unsigned caches_used;
static __thread struct thread_cache *my_cache
	__attribute__((tls_model("initial-exec")));
static __thread int my_cache_state __attribute__((tls_model("initial-exec")));
static _Atomic int cache_disabled;

int
unwind_init(void)
{
	void *lib;
	uintptr_t warm[8];

	if (p_unw_backtrace)
		return 0;
	lib = dlopen(REFSAN_LIBUNWIND_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!lib)
		return -1;
	p_unw_backtrace = (int (*)(void **, int))dlsym(lib, "unw_backtrace");
	p_getcontext = (int (*)(struct unw_ctx *))dlsym(lib,
							 UNWIND_SYM_GETCONTEXT);
	p_init_local = (int (*)(struct unw_cur *, struct unw_ctx *))dlsym(
		lib, UNWIND_SYM_INIT_LOCAL);
	p_step = (int (*)(struct unw_cur *))dlsym(lib, UNWIND_SYM_STEP);
	p_get_reg = (int (*)(struct unw_cur *, int, uintptr_t *))dlsym(
		lib, UNWIND_SYM_GET_REG);
	p_is_signal_frame = (int (*)(struct unw_cur *))dlsym(
		lib, UNWIND_SYM_IS_SIGNAL_FRAME);
	if (!p_unw_backtrace)
		return -1;
	if (p_getcontext && p_init_local && p_step && p_get_reg &&
	    p_is_signal_frame)
		caches = arena_map(CACHE_THREADS * sizeof(struct thread_cache));
	/* Warm the path in use up: libunwind's lazy set-up happens here.
	 * Not unw_backtrace when the cursor path is in use: its first call
	 * on a thread maps and fills a 256 KiB trace cache (issue 6, W1
	 * peak RSS); unwind_capture falls back to it when it is the one. */
	unwind_capture(warm, 8, 0);
	return 0;
}

void
unwind_set_cache(int enabled)
{
	atomic_store(&cache_disabled, !enabled);
}

__attribute__((noinline)) unsigned
unwind_capture_slow(uintptr_t *pcs, unsigned max, unsigned skip)
{
	void *buf[256 + 16];
	int n, want;

	if (!p_unw_backtrace || max == 0)
		return 0;
	skip += 1; /* this function */
	if (max > 256)
		max = 256;
	if (skip > 16)
		skip = 16;
	want = (int)(max + skip);
	if (unwind_fixup)
		unwind_fixup(1);
	n = p_unw_backtrace(buf, want);
	if (unwind_fixup)
		unwind_fixup(0);
	if (n <= (int)skip)
		return 0;
	n -= (int)skip;
	memcpy(pcs, buf + skip, (size_t)n * sizeof(void *));
	return (unsigned)n;
}

static struct thread_cache *
thread_cache(void)
{
	unsigned i;

	if (my_cache_state)
		return my_cache;
	my_cache_state = 1;
	if (!caches)
		return NULL;
	i = atomic_fetch_add(&caches_used, 1);
	if (i < CACHE_THREADS)
		my_cache = &caches[i];
	return my_cache;
}

/*
 * The slow walk with the cursor, recording where each return address was
 * read.  Returns the count, or 0 (and *cacheable false) on trouble.
 */
static unsigned
walk(struct unw_ctx *ctx, uintptr_t *pcs, int32_t *slot, unsigned max,
     unsigned skip, uintptr_t sp0, bool *cacheable)
{
	struct unw_cur cur;
	unsigned n = 0, frame = 0;

	*cacheable = true;
	if (p_init_local(&cur, ctx) < 0) {
		*cacheable = false;
		return 0;
	}
	/* Frame 0 is this function itself (the context's IP): step first. */
	while (n < max) {
		uintptr_t ip, sp;
		if (p_is_signal_frame(&cur) > 0)
			*cacheable = false;
		if (p_step(&cur) <= 0)
			break;
		if (p_get_reg(&cur, UNWIND_REG_IP, &ip) < 0 ||
		    p_get_reg(&cur, UNWIND_REG_SP, &sp) < 0) {
			*cacheable = false;
			break;
		}
		frame++;
		if (frame <= skip)
			continue;
		pcs[n] = ip;
		slot[n] = (int32_t)(sp + UNWIND_RA_SLOT_FROM_SP - sp0);
		if (sp < sp0 || sp - sp0 > (1u << 30) ||
		    *(uintptr_t *)(sp + UNWIND_RA_SLOT_FROM_SP) != ip)
			*cacheable = false;
		n++;
	}
	return n;
}

__attribute__((noinline)) unsigned
unwind_capture(uintptr_t *pcs, unsigned max, unsigned skip)
{
	return unwind_capture_memo(pcs, max, skip + 1, NULL);
}

__attribute__((noinline)) unsigned
unwind_capture_memo(uintptr_t *pcs, unsigned max, unsigned skip,
		    struct unwind_memo **memo)
{
	struct thread_cache *tc;
	struct cache_entry *e;
	uintptr_t sp, ret;
	struct unw_ctx ctx;
	int32_t slot[CACHE_FRAMES];
	unsigned n, i;
	bool cacheable;

	if (memo)
		*memo = NULL;
	if (max == 0 || !p_unw_backtrace)
		return 0;
	if (max > CACHE_FRAMES || atomic_load_explicit(&cache_disabled,
						       memory_order_relaxed) ||
	    !(tc = thread_cache()))
		return unwind_capture_slow(pcs, max, skip + 1);
	sp = unwind_current_sp();
	ret = (uintptr_t)__builtin_return_address(0);
	e = &tc->e[((sp >> 4) ^ (ret * 0x9e3779b1u) ^ skip) % CACHE_WAYS];
	if (unwind_fixup)
		unwind_fixup(1);
	if (e->sp == sp && e->ret == ret && e->skip == skip && e->max == max) {
		for (i = 0; i < e->n; i++)
			if (*(const uintptr_t *)(sp + (intptr_t)e->slot[i]) !=
			    e->pcs[i])
				break;
		if (i == e->n) {
			if (unwind_fixup)
				unwind_fixup(0);
			memcpy(pcs, e->pcs, e->n * sizeof(uintptr_t));
			if (memo)
				*memo = &e->memo;
			return e->n;
		}
	}
	/* Miss: walk, and remember the walk when every slot is plain. */
	p_getcontext(&ctx);
	n = walk(&ctx, pcs, slot, max, skip, sp, &cacheable);
	if (unwind_fixup)
		unwind_fixup(0);
	if (cacheable && n) {
		e->sp = 0;
		memcpy(e->slot, slot, n * sizeof(int32_t));
		memcpy(e->pcs, pcs, n * sizeof(uintptr_t));
		e->n = (uint16_t)n;
		e->ret = ret;
		e->skip = (uint16_t)skip;
		e->max = (uint16_t)max;
		e->memo.key = 0;
		e->memo.id = 0;
		e->sp = sp;
		if (memo)
			*memo = &e->memo;
	}
	return n;
}
