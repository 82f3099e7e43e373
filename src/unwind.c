/*
 * unwind.c: native stacks of the current thread, exact and cheap.
 *
 * libunwind is dlopen'ed RTLD_LOCAL rather than linked: Debian's
 * libunwind.so.8 exports backtrace() and the _Unwind_* family, and a linked
 * copy would interpose them for the whole program.
 *
 * Most captures repeat one seen before: the same call site, at the same
 * depth, in the same thread.  So each thread keeps a small set-associative
 * cache of its recent stacks, keyed by the stack pointer and the return
 * address at the point of capture, holding each frame's program counter
 * and the stack address its return address was read from.  A hit is
 * checked word by word: every return-address slot must still hold the same
 * value, which is exactly the condition for the slow walk to find the same
 * frames (from the same stack pointer, each frame's CFA follows from its
 * pc, and the chain of return addresses is the stack).  Several ways per
 * set matter: an acquire and a release made from one place of the program
 * reach the capture at the same depth, with the same key, and used to
 * evict each other at every call.
 *
 * A miss must not walk with libunwind's cursor: on this kind of machine
 * its step masks signals twice per frame (two system calls, tens of µs per
 * stack).  So a miss first follows the stack with what earlier cursor
 * walks learned, per return address, in a process-wide table: the size of
 * the frame it resumes (from its callee's return-address slot to its own:
 * constant for a frame whose CFA is the stack pointer plus a constant),
 * whether that frame is addressed through rbp (CFA = rbp + 16, as in
 * frame-pointer code, alloca, VLAs, libffi's call frame: then the next
 * slot is the saved rbp + 8, read from the stack, exact whatever the size),
 * whether it saved its caller's rbp just below its return address (so the
 * next frame's rbp can be read), and whether it is the outermost frame.
 * A frame seen with two sizes is followed only through rbp; a signal frame
 * or a pc seen two ways is never followed.  The followed frames are then
 * checked against unw_backtrace (no system calls on a plain stack), the
 * reference: the same pcs and the same end, or the cursor walks.  An
 * unknown frame goes to the cursor at once, without unw_backtrace, whose
 * own fallback through a signal frame would cost as much again.  The
 * cursor walk learns, so a program pays it about once per distinct return
 * address, not once per stack.
 *
 * unwind_capture_slow() (unw_backtrace only) is the reference the tests
 * compare with.
 */
#include <dlfcn.h>
#include <stdatomic.h>
#include <string.h>
#include "arena.h"
#include "unwind.h"
#include "unwind_arch.h"

void (*unwind_fixup)(int restore);

#define CACHE_SETS 32      /* per thread, a power of two */
#define CACHE_WAYS 4       /* entries per set */
#define CACHE_FRAMES 64    /* deeper stacks are not cached */
#define CACHE_THREADS 1024 /* threads with a cache; later ones walk */

/* The process-wide frame sizes, by return address. */
#define PCTAB_SIZE 65536 /* a power of two; about 1 MiB, lazily touched */
#define PCTAB_PROBES 32
#define PC_NOTREADY ((uintptr_t)1 << 63)
/* What the table holds for a return address (see above). */
#define PV_KNOWN ((uint64_t)1 << 32)  /* low 32 bits: the frame's size */
#define PV_FP ((uint64_t)1 << 33)     /* its CFA is rbp + 16 */
#define PV_PUSHED ((uint64_t)1 << 34) /* caller's rbp saved below its RA */
#define PV_DYN ((uint64_t)1 << 35)    /* its size was seen to change */
#define PV_BAD ((uint64_t)1 << 36)    /* never followed */
#define PV_END ((uint64_t)1 << 37)    /* the outermost frame: no caller */

struct cache_entry {
	uintptr_t sp;  /* 0: empty */
	uintptr_t ret; /* the return address into our caller */
	uint16_t skip, max, n;
	uint16_t pad;
	struct unwind_memo memo;    /* the caller's, cleared on refill */
	int32_t slot[CACHE_FRAMES]; /* return-address slot - sp */
	uintptr_t pcs[CACHE_FRAMES];
};

struct thread_cache {
	struct cache_entry e[CACHE_SETS][CACHE_WAYS];
	uint8_t victim[CACHE_SETS];
	uint64_t fills;
	/* The highest return-address slot a cursor walk of this thread
	 * reached: predicted slots are read only below it. */
	uintptr_t stack_hi;
	/* Cursor walks done: prediction starts after PREDICT_AFTER_WALKS,
	 * so that a thread with a few call sites never calls unw_backtrace
	 * (whose first call maps a 256 KiB per-thread trace cache). */
	unsigned walks;
};

struct pc_slot {
	_Atomic uintptr_t pc; /* 0 empty; | PC_NOTREADY while written */
	_Atomic uint64_t val; /* PV_* */
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
static struct pc_slot *pctab;
static _Atomic unsigned caches_used;
static __thread struct thread_cache *my_cache
        __attribute__((tls_model("initial-exec")));
static __thread int my_cache_state __attribute__((tls_model("initial-exec")));
static _Atomic int cache_disabled;
/* The cache entry this thread's last capture hit or filled (NULL: that
 * capture was not cached), for unwind_last_frames. */
static __thread const struct cache_entry *last_entry
        __attribute__((tls_model("initial-exec")));
/*
 * Predicted stacks are checked with unw_backtrace, which gives the thread
 * a trace cache that libunwind 1.6 frees after TSan has torn the thread
 * down: a TSan build walks with the cursor only (slower, as exact).
 */
#if defined(__SANITIZE_THREAD__)
#define PREDICT_DEFAULT_OFF 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define PREDICT_DEFAULT_OFF 1
#endif
#endif
#ifndef PREDICT_DEFAULT_OFF
#define PREDICT_DEFAULT_OFF 0
#endif
static _Atomic int predict_disabled = PREDICT_DEFAULT_OFF;
#define PREDICT_AFTER_WALKS 16
/* Where unwind_capture_keyed's return address sits, from its sp (the same
 * for every call: its frame has a fixed size); 0 until learned. */
static _Atomic int32_t ret_slot;
/* Whether it saves its caller's rbp just below that return address. */
static _Atomic bool self_pushed;

static struct {
	_Atomic uint64_t fills, predicted, walked;
} stats;

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
	p_getcontext =
	        (int (*)(struct unw_ctx *))dlsym(lib, UNWIND_SYM_GETCONTEXT);
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
	    p_is_signal_frame) {
		caches = arena_map(CACHE_THREADS * sizeof(struct thread_cache));
		pctab = arena_map(PCTAB_SIZE * sizeof(struct pc_slot));
	}
	/* Warm up the path captures take: libunwind's lazy set-up happens
	 * here.  Not unw_backtrace when the cursor path is there: it gives
	 * this thread (any thread that happens to run init) a trace cache
	 * that libunwind 1.6 frees in the last round of TSD destructors,
	 * after TSan has torn the thread down, which crashes TSan-built
	 * programs at that thread's exit. */
	if (caches)
		unwind_capture(warm, 8, 0);
	else
		unwind_capture_slow(warm, 8, 0);
	return 0;
}

void
unwind_set_cache(int enabled)
{
	atomic_store(&cache_disabled, !enabled);
}

void
unwind_set_predict(int enabled)
{
	atomic_store(&predict_disabled, !enabled);
}

bool
unwind_last_frames(uintptr_t *sp, const int32_t **slots,
                   const uintptr_t **pcs, unsigned *n)
{
	const struct cache_entry *e = last_entry;

	if (!e)
		return false;
	*sp = e->sp;
	*slots = e->slot;
	*pcs = e->pcs;
	*n = e->n;
	return true;
}

void
unwind_stats(struct unwind_stats *out)
{
	out->fills = atomic_load(&stats.fills);
	out->predicted = atomic_load(&stats.predicted);
	out->walked = atomic_load(&stats.walked);
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

/* ---- frame sizes by pc --------------------------------------------------- */

static inline unsigned
pc_hash(uintptr_t pc)
{
	return (unsigned)((pc * 0x9e3779b97f4a7c15ull) >> 40) &
	       (PCTAB_SIZE - 1);
}

/* The learned value for PC, 0 when unknown. */
static inline uint64_t
pc_get(uintptr_t pc)
{
	unsigned h = pc_hash(pc), i;

	for (i = 0; i < PCTAB_PROBES; i++) {
		struct pc_slot *s = &pctab[(h + i) & (PCTAB_SIZE - 1)];
		uintptr_t k =
		        atomic_load_explicit(&s->pc, memory_order_acquire);

		if (k == pc)
			return atomic_load_explicit(&s->val,
			                            memory_order_relaxed);
		if (!k)
			return 0;
	}
	return 0;
}

/* Two observations of one pc's frame, merged: a size that changes makes
 * the size unusable (PV_DYN); flags that change make the pc unusable. */
static uint64_t
pv_merge(uint64_t old, uint64_t v)
{
	if (!(old & PV_KNOWN))
		return old;
	if ((v & PV_BAD) || (old & (PV_FP | PV_PUSHED | PV_END)) !=
	                            (v & (PV_FP | PV_PUSHED | PV_END)))
		return old | PV_BAD;
	if ((uint32_t)old != (uint32_t)v)
		return old | PV_DYN;
	return old | (v & PV_DYN);
}

/*
 * Record what a cursor walk saw of PC's frame.  Lock-free: a slot is
 * claimed with PC_NOTREADY, its value written, then the pc published;
 * later observations are merged in with a compare-and-swap.
 */
static void
pc_learn(uintptr_t pc, uint64_t v)
{
	unsigned h = pc_hash(pc), i;

	if (!pctab || !pc || (pc & PC_NOTREADY))
		return;
	for (i = 0; i < PCTAB_PROBES; i++) {
		struct pc_slot *s = &pctab[(h + i) & (PCTAB_SIZE - 1)];
		uintptr_t k =
		        atomic_load_explicit(&s->pc, memory_order_acquire);

		if (!k) {
			uintptr_t zero = 0;
			if (!atomic_compare_exchange_strong(&s->pc, &zero,
			                                    pc | PC_NOTREADY)) {
				k = zero;
			} else {
				atomic_store_explicit(&s->val, v,
				                      memory_order_relaxed);
				atomic_store_explicit(&s->pc, pc,
				                      memory_order_release);
				return;
			}
		}
		if ((k & ~PC_NOTREADY) == pc) {
			uint64_t old = atomic_load_explicit(
			        &s->val, memory_order_relaxed);
			uint64_t m;

			/* Being written: wait for the writer's value. */
			if (k & PC_NOTREADY)
				return;
			do {
				m = pv_merge(old, v);
				if (m == old)
					return;
			} while (!atomic_compare_exchange_weak(&s->val, &old,
			                                       m));
			return;
		}
	}
}

/* ---- the cursor walk ----------------------------------------------------- */

/*
 * The slow walk with the cursor, from the frame of CTX (which is the
 * capturing function's own), recording where each return address was read
 * and learning frame sizes.  Frame 0 is the return address into the
 * capturing function's caller.  Returns the count of frames kept (after
 * SKIP), or 0 (and *cacheable false) on trouble.
 *
 * For each frame k (pc ip_k, resumed in function F_k) the next return
 * address sits at slot_{k+1} = CFA_k - 8.  Learned for ip_k: the size
 * slot_{k+1} - slot_k; PV_FP when CFA_k = rbp_k + 16 (F_k addresses its
 * frame through rbp: the size may change, rbp tells); PV_PUSHED when F_k
 * saved its caller's rbp just below its return address (the prologue of
 * frame-pointer code), so that rbp_{k+1} can be read from the stack.
 */
static unsigned
walk(struct unw_ctx *ctx, uintptr_t *pcs, int32_t *slot, unsigned max,
     unsigned skip, uintptr_t sp0, bool *cacheable, uintptr_t *top)
{
	struct unw_cur cur;
	unsigned n = 0, frame = 0;
	uintptr_t prev_ip = 0, prev_slot = 0, prev_rbp = 0;
	bool prev_plain = false, plain;

	*cacheable = true;
	*top = 0;
	if (p_init_local(&cur, ctx) < 0) {
		*cacheable = false;
		return 0;
	}
	/* Frame 0 is this function itself (the context's IP): step first. */
	while (n < max) {
		uintptr_t ip, sp, rbp = 0, s;
		bool sig = p_is_signal_frame(&cur) > 0, has_rbp;

		int st;

		if (sig)
			*cacheable = false;
		st = p_step(&cur);
		if (st <= 0) {
			/* The end of the stack: its last frame has no
			 * caller, whatever the stack it is found in. */
			if (st == 0 && frame > 0 && prev_plain && !sig)
				pc_learn(prev_ip, PV_KNOWN | PV_END);
			break;
		}
		if (p_get_reg(&cur, UNWIND_REG_IP, &ip) < 0 ||
		    p_get_reg(&cur, UNWIND_REG_SP, &sp) < 0) {
			*cacheable = false;
			break;
		}
		has_rbp = p_get_reg(&cur, UNWIND_REG_FP, &rbp) >= 0;
		s = sp + UNWIND_RA_SLOT_FROM_SP;
		plain = !sig && sp >= sp0 && sp - sp0 <= (1u << 30) &&
		        *(uintptr_t *)s == ip;
		if (!plain)
			*cacheable = false;
		if (plain && s > *top)
			*top = s;
		if (frame == 0 && plain) {
			atomic_store_explicit(&ret_slot, (int32_t)(s - sp0),
			                      memory_order_relaxed);
			/* Did the capturing function save rbp below its
			 * return address? */
			atomic_store_explicit(
			        &self_pushed,
			        has_rbp && *(uintptr_t *)(s - 8) == rbp,
			        memory_order_relaxed);
		}
		if (frame > 0 && prev_plain) {
			uint64_t v = PV_KNOWN;
			int64_t d = (int64_t)(s - prev_slot);

			if (!plain || d <= 0 || d >= (1 << 30))
				v |= PV_BAD;
			else
				v |= (uint32_t)d;
			if (prev_rbp + 16 == sp)
				v |= PV_FP;
			if (has_rbp && *(uintptr_t *)(s - 8) == rbp)
				v |= PV_PUSHED;
			pc_learn(prev_ip, v);
		}
		prev_ip = ip;
		prev_slot = s;
		prev_rbp = has_rbp ? rbp : 1;
		prev_plain = plain;
		frame++;
		if (frame <= skip)
			continue;
		pcs[n] = ip;
		slot[n] = (int32_t)(s - sp0);
		n++;
	}
	return n;
}

/* ---- prediction ---------------------------------------------------------- */

/*
 * The stack by the learned frames alone, from the capturing function's
 * sp SP0: the return addresses of frames 0..WANT (frame 0 being the one
 * into the capturing function's caller) into PCS, their slots (from SP0)
 * into SLOT.  A frame addressed through rbp whose callee saved rbp below
 * its return address follows rbp (exact whatever its size); another frame
 * needs a size that never changed.  Reads stay between SP0 and HI (a
 * slot this thread's own walk reached).  Returns the count (*ENDED when
 * the last one is the outermost frame), or -1 as soon as some frame is
 * not known: then nothing else is tried before the cursor walk.
 */
static int
predict(uintptr_t *pcs, int32_t *slot, unsigned want, uintptr_t sp0,
        uintptr_t hi, bool *ended)
{
	int32_t r = atomic_load_explicit(&ret_slot, memory_order_relaxed);
	bool pushed = atomic_load_explicit(&self_pushed, memory_order_relaxed);
	uintptr_t s;
	unsigned j;

	*ended = false;
	if (!r)
		return -1;
	s = sp0 + (intptr_t)r;
	for (j = 0; j < want; j++) {
		uintptr_t pc, next;
		uint64_t v;

		if (s < sp0 || s > hi || s - sp0 > (1u << 30))
			return -1;
		pc = *(const uintptr_t *)s;
		pcs[j] = pc;
		slot[j] = (int32_t)(s - sp0);
		v = pc_get(pc);
		if (!(v & PV_KNOWN) || (v & PV_BAD))
			return -1;
		if (v & PV_END) {
			*ended = true;
			return (int)j + 1;
		}
		if (j + 1 == want)
			break;
		if ((v & PV_FP) && pushed)
			next = *(const uintptr_t *)(s - 8) + 8;
		else if (!(v & PV_DYN))
			next = s + (uint32_t)v;
		else
			return -1;
		if (next <= s)
			return -1;
		pushed = (v & PV_PUSHED) != 0;
		s = next;
	}
	return (int)want;
}

/* ---- capture ------------------------------------------------------------- */

/*
 * The wrappers count as a frame (skip + 1): the barrier keeps the compiler
 * from turning their call into a jump, which would take their frame away
 * and skip one of the caller's frames instead.
 */
__attribute__((noinline)) unsigned
unwind_capture(uintptr_t *pcs, unsigned max, unsigned skip)
{
	unsigned n = unwind_capture_keyed(pcs, max, skip + 1, NULL, 0, NULL);

	__asm__ volatile("" ::: "memory");
	return n;
}

__attribute__((noinline)) unsigned
unwind_capture_memo(uintptr_t *pcs, unsigned max, unsigned skip,
                    struct unwind_memo **memo)
{
	unsigned n = unwind_capture_keyed(pcs, max, skip + 1, memo, 0, NULL);

	__asm__ volatile("" ::: "memory");
	return n;
}

/* Every slot still holds its pc.  Branch-free: a hit, the common case,
 * checks them all anyway, and the loads then overlap.  Two frames a turn
 * (Python's stacks are 30 frames deep and more): half the loop's own
 * instructions. */
static inline bool
entry_valid(const struct cache_entry *e, uintptr_t sp)
{
	uintptr_t d0 = 0, d1 = 0;
	unsigned i, n = e->n;

	for (i = 0; i + 1 < n; i += 2) {
		d0 |= *(const uintptr_t *)(sp + (intptr_t)e->slot[i]) ^
		      e->pcs[i];
		d1 |= *(const uintptr_t *)(sp + (intptr_t)e->slot[i + 1]) ^
		      e->pcs[i + 1];
	}
	if (i < n)
		d0 |= *(const uintptr_t *)(sp + (intptr_t)e->slot[i]) ^
		      e->pcs[i];
	return (d0 | d1) == 0;
}

__attribute__((noinline)) unsigned
unwind_capture_keyed(uintptr_t *pcs, unsigned max, unsigned skip,
                     struct unwind_memo **memo, uintptr_t key,
                     const uintptr_t **cached)
{
	struct thread_cache *tc;
	struct cache_entry *set, *e;
	uintptr_t sp, ret, top = 0;
	struct unw_ctx ctx;
	int32_t slot[CACHE_FRAMES];
	void *buf[CACHE_FRAMES + 2 + 16];
	uintptr_t fr[CACHE_FRAMES + 16];
	int32_t frslot[CACHE_FRAMES + 16];
	unsigned n, w, idx;
	int nb, got;
	bool cacheable;

	if (memo)
		*memo = NULL;
	if (cached)
		*cached = NULL;
	last_entry = NULL;
	if (max == 0 || !p_unw_backtrace)
		return 0;
	if (max > CACHE_FRAMES || skip > 16 ||
	    atomic_load_explicit(&cache_disabled, memory_order_relaxed) ||
	    !(tc = thread_cache())) {
		unsigned n = unwind_capture_slow(pcs, max, skip + 1);

		__asm__ volatile("" ::: "memory");
		return n;
	}
	sp = unwind_current_sp();
	ret = (uintptr_t)__builtin_return_address(0);
	idx = (unsigned)(((sp >> 4) ^ (ret * 0x9e3779b1u) ^ skip) &
	                 (CACHE_SETS - 1));
	set = tc->e[idx];
	if (unwind_fixup)
		unwind_fixup(1);
	for (w = 0; w < CACHE_WAYS; w++) {
		e = &set[w];
		if (e->sp != sp || e->ret != ret || e->skip != skip ||
		    e->max != max || !entry_valid(e, sp))
			continue;
		if (unwind_fixup)
			unwind_fixup(0);
		last_entry = e;
		if (memo)
			*memo = &e->memo;
		/* The caller has what it derived from this stack: no copy. */
		if (cached && key && e->memo.key == key) {
			*cached = e->pcs;
			return e->n;
		}
		memcpy(pcs, e->pcs, e->n * sizeof(uintptr_t));
		return e->n;
	}
	/* Miss: unw_backtrace and the learned frame sizes; else the cursor,
	 * which learns them. */
	got = -1;
	if (!atomic_load_explicit(&predict_disabled, memory_order_relaxed) &&
	    tc->walks >= PREDICT_AFTER_WALKS && tc->stack_hi > sp) {
		bool ended;
		int j = predict(fr, frslot, max + skip, sp, tc->stack_hi,
		                &ended);

		/* Checked against unw_backtrace, the reference: the same
		 * frames, and the stack ends where the prediction says. */
		if (j > (int)skip) {
			nb = p_unw_backtrace(buf, j + (ended ? 2 : 1));
			if (nb == j + 1) {
				int i;

				for (i = 0; i < j; i++)
					if ((uintptr_t)buf[i + 1] != fr[i])
						break;
				if (i == j) {
					got = j - (int)skip;
					memcpy(pcs, fr + skip,
					       (size_t)got * sizeof(*pcs));
					memcpy(slot, frslot + skip,
					       (size_t)got * sizeof(*slot));
				}
			}
		}
		cacheable = got >= 0;
	}
	if (got >= 0) {
		n = (unsigned)got;
		atomic_fetch_add_explicit(&stats.predicted, 1,
		                          memory_order_relaxed);
	} else {
		p_getcontext(&ctx);
		n = walk(&ctx, pcs, slot, max, skip, sp, &cacheable, &top);
		if (top > tc->stack_hi)
			tc->stack_hi = top;
		tc->walks++;
		atomic_fetch_add_explicit(&stats.walked, 1,
		                          memory_order_relaxed);
	}
	if (unwind_fixup)
		unwind_fixup(0);
	if (cacheable && n) {
		/* An empty way, else round robin. */
		for (w = 0; w < CACHE_WAYS && set[w].sp; w++)
			;
		if (w == CACHE_WAYS) {
			w = tc->victim[idx] % CACHE_WAYS;
			tc->victim[idx] = (uint8_t)(w + 1);
		}
		e = &set[w];
		e->sp = 0;
		memcpy(e->slot, slot, n * sizeof(int32_t));
		memcpy(e->pcs, pcs, n * sizeof(uintptr_t));
		e->n = (uint16_t)n;
		e->ret = ret;
		e->skip = (uint16_t)skip;
		e->max = (uint16_t)max;
		e->memo.key = 0;
		e->memo.id = 0;
		e->memo.flags = 0;
		e->memo.tag = 0;
		e->memo.aux = 0;
		e->memo.stamp = ++tc->fills;
		e->sp = sp;
		last_entry = e;
		if (memo)
			*memo = &e->memo;
		atomic_fetch_add_explicit(&stats.fills, 1,
		                          memory_order_relaxed);
	}
	return n;
}
