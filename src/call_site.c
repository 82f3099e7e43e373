/*
 * call_site.c: the stack of a hooked call made from native code, memoized
 * at its call site.
 *
 * Above refsan's own frames, a hooked call's stack is its caller's: the
 * return address in the slot the trampoline was entered with (RA_SLOT),
 * then the return addresses the walk read further up.  unwind.c's cache
 * proves a stack unchanged by re-reading every return-address slot it was
 * walked from, but it is keyed at the point of capture, deep inside
 * refsan, so each of its hits also re-reads refsan's own frames (the hook,
 * the engine, the capture: half the slots of a shallow C stack) and then
 * goes through capture.c's memo.  Here each thread keeps, per call site
 * (RA_SLOT, the return address in it, the hooked function), the slots the
 * kept frames of the caller were read from (stack_depth - 1 of them at
 * most) and the depot id the full path gave: a hit is those few loads.
 *
 * Exact by unwind.c's argument, restricted to the frames the report
 * keeps: from the same RA_SLOT, the walk upward depends only on each
 * frame's pc (its rules) and the return addresses it reads, so when every
 * kept frame's slot holds the same return address the walk finds the same
 * kept frames.  An entry is learned only from a capture the unwind cache
 * served or filled, whose frames above the trampoline start at RA_SLOT,
 * and only when the depot's stack is exactly those frames.  The thread id
 * and the depot's epoch are part of the key: a forked child or a reset
 * depot never sees an old id.  Threads past SITE_THREADS take the full
 * path.
 *
 * A Python caller's stack also changes with the line the interpreter is
 * on, which no native slot shows.  Its site keeps the native frames the
 * full path splices (stack_depth - 1 from RA_SLOT, or up to the stack's
 * end: the same argument makes them the same frames) and, instead of an
 * id, a stamp: the key of its stacks in pyframes.c's memo, whose records
 * stand for the interpreter's side (the thread state and the log of the
 * splice's reads, pyframes.c).  The splice is a function of those native
 * frames and those reads, so a hit on both is the full path's stack.  A
 * stamp is new for every site learned, and a record is made under it
 * only from a capture whose frames from RA_SLOT are the site's
 * (capture_hooked_site): it never answers for other native frames.  Such a
 * hit costs the native slots (about 20 from a ctypes or cffi call), the
 * thread state and the log (about four words per Python frame); the full
 * path's unwind cache would also re-read refsan's own frames and look up
 * its memo.
 */
#include <stdatomic.h>
#include "arena.h"
#include "call_site.h"
#include "capture.h"
#include "engine.h"
#include "options.h"
#include "pyframes.h"
#include "stack_depot.h"
#include "unwind.h"

#define SITE_SETS 32      /* per thread, a power of two */
#define SITE_WAYS 2       /* one call site reached from two callers */
#define SITE_FRAMES 32    /* kept frames memoized at most */
#define SITE_THREADS 1024 /* threads with a table; later ones go without */

/*
 * A site's frames: frame I's return address f[I].pc, read from f[I].slot
 * (f[0]: RA_SLOT itself, the caller's return address).  The slots are
 * absolute: RA_SLOT is part of the key, so they are the frames' slots
 * whenever the key matches, and a check costs a load of the slot's
 * address, a load of the slot, an exclusive or and an or (site_hit).
 */
struct site {
	const uintptr_t *ra_slot; /* NULL: empty */
	uintptr_t entry;
	uint32_t tid, epoch, id; /* id 0: a Python caller's site */
	uint32_t n;              /* frames memoized; 0: not memoized */
	uint64_t stamp;          /* a Python caller's: see learn() */
	const void *hint;        /* its memo record that answered last */
	struct capture_frame f[SITE_FRAMES];
};

struct thread_sites {
	uint64_t hits;   /* written by its thread only */
	uint64_t stamps; /* Python sites learned */
	uint8_t victim[SITE_SETS];
	struct site s[SITE_SETS][SITE_WAYS];
};

static struct thread_sites *tables;
static _Atomic unsigned tables_used;
static __thread struct thread_sites *my_table
        __attribute__((tls_model("initial-exec")));
static uintptr_t tramp_lo, tramp_hi;
static __thread bool my_table_tried __attribute__((tls_model("initial-exec")));

int
call_site_init(uintptr_t lo, uintptr_t hi)
{
	tramp_lo = lo;
	tramp_hi = hi;
	if (tables)
		return 0;
	/* Mapped, never touched until a thread uses its table. */
	tables = arena_map(SITE_THREADS * sizeof(*tables));
	return tables ? 0 : -1;
}

uint64_t
call_site_hits(void)
{
	unsigned i, n = atomic_load(&tables_used);
	uint64_t sum = 0;

	for (i = 0; i < n && i < SITE_THREADS; i++)
		sum += __atomic_load_n(&tables[i].hits, __ATOMIC_RELAXED);
	return sum;
}

static struct thread_sites *
table(void)
{
	unsigned i;

	if (my_table_tried)
		return my_table;
	my_table_tried = true;
	if (!tables)
		return NULL;
	i = atomic_fetch_add(&tables_used, 1);
	if (i < SITE_THREADS)
		my_table = &tables[i];
	return my_table;
}

static inline unsigned
set_of(uintptr_t entry, const uintptr_t *ra_slot, uintptr_t ra)
{
	uint64_t k = ((uintptr_t)ra_slot >> 3) + ra * 31 + entry;

	return (unsigned)((k * 0x9e3779b97f4a7c15ull) >> 59) & (SITE_SETS - 1);
}

/* Way S answers for this call: the key, then every kept frame's slot,
 * branch-free (a hit reads them all anyway) and unrolled: a jump into the
 * run of checks at frame n - 1, falling through to frame 1, for the 20
 * and more frames of a Python caller's stack. */
#define SITE_CHECK(i)                                                      \
	case (i) + 1:                                                      \
		d |= *s->f[i].slot ^ s->f[i].pc;                           \
		__attribute__((fallthrough));
static inline __attribute__((always_inline)) bool
site_hit(const struct site *s, uintptr_t entry, const uintptr_t *ra_slot,
         uintptr_t ra)
{
	uintptr_t d = 0;

	if (s->ra_slot != ra_slot || s->f[0].pc != ra || s->entry != entry ||
	    s->tid != (uint32_t)engine_tid_cache || s->epoch != depot_epoch)
		return false;
	_Static_assert(SITE_FRAMES == 32, "one SITE_CHECK per frame");
	switch (s->n) {
		SITE_CHECK(31) SITE_CHECK(30) SITE_CHECK(29) SITE_CHECK(28)
		SITE_CHECK(27) SITE_CHECK(26) SITE_CHECK(25) SITE_CHECK(24)
		SITE_CHECK(23) SITE_CHECK(22) SITE_CHECK(21) SITE_CHECK(20)
		SITE_CHECK(19) SITE_CHECK(18) SITE_CHECK(17) SITE_CHECK(16)
		SITE_CHECK(15) SITE_CHECK(14) SITE_CHECK(13) SITE_CHECK(12)
		SITE_CHECK(11) SITE_CHECK(10) SITE_CHECK(9) SITE_CHECK(8)
		SITE_CHECK(7) SITE_CHECK(6) SITE_CHECK(5) SITE_CHECK(4)
		SITE_CHECK(3) SITE_CHECK(2) SITE_CHECK(1)
	default: /* n is 0 or 1: frame 0 is the key's */
		break;
	}
	return !d;
}
#undef SITE_CHECK

/* Frames I..I+M of the last capture (read at SP + SLOTS[]) as the
 * site's, from RA_SLOT up. */
static bool
take_frames(struct site *s, uintptr_t sp, const int32_t *slots,
            const uintptr_t *pcs, unsigned i, unsigned m,
            const uintptr_t *ra_slot)
{
	unsigned k;

	if (m == 0 || m > SITE_FRAMES)
		return false;
	for (k = 0; k < m; k++) {
		uintptr_t a = sp + (uintptr_t)(intptr_t)slots[i + k];

		if ((a & 7) || a < (uintptr_t)ra_slot)
			return false;
		s->f[k].slot = (const uintptr_t *)a;
		s->f[k].pc = pcs[i + k];
	}
	return true;
}

/*
 * After the full path: remember its frames when they are the depot's.  A
 * Python caller's stack changes with the interpreter's line, which no
 * native slot shows: its site keeps the native frames the splice was
 * given (those the full path copies: stack_depth - 1 from RA_SLOT, or up
 * to the stack's end) and a stamp of its own, the key of its stacks in
 * pyframes.c's memo, which checks the interpreter's side (the thread
 * state and the log of the splice's reads).  A hit on the site then
 * stands for the native frames, the memo for the rest: together, the
 * full path's inputs.  The stamp is new for every site learned, so a
 * record never outlives the frames it was made with.
 */
static void
learn(struct thread_sites *t, struct site *s, uintptr_t entry,
      const uintptr_t *ra_slot, uint32_t tid, uint32_t epoch, uint32_t id)
{
	const int32_t *slots;
	const uintptr_t *pcs, *kept;
	uintptr_t sp;
	unsigned n, i, m, k;

	if (!id || !unwind_last_frames(&sp, &slots, &pcs, &n))
		return;
	/* The trampoline's frame; the caller's frames start above it, at
	 * RA_SLOT. */
	for (i = 0; i < n && !(pcs[i] >= tramp_lo && pcs[i] < tramp_hi); i++)
		;
	if (++i >= n || sp + (uintptr_t)(intptr_t)slots[i] !=
	                        (uintptr_t)ra_slot)
		return;
	/* The depot's stack: the entry, the kept frames, the thread. */
	m = depot_get(id, &kept);
	for (k = 0; k < m && !depot_word_is_python(kept[k]); k++)
		;
	if (k < m) {
		/* A Python caller. */
		m = n - i;
		if (m > refsan_opts.stack_depth - 1)
			m = refsan_opts.stack_depth - 1;
		s->stamp = 0;
		s->n = 0; /* not memoized: the next calls take the full path */
		if (capture_last_python() &&
		    take_frames(s, sp, slots, pcs, i, m, ra_slot)) {
			s->stamp = CAPTURE_SITE_STAMP | ++t->stamps;
			s->hint = NULL;
			s->n = m;
		}
		s->f[0].slot = ra_slot;
		s->f[0].pc = *ra_slot;
		s->entry = entry;
		s->tid = tid;
		s->epoch = epoch;
		s->id = 0;
		s->ra_slot = ra_slot;
		return;
	}
	if (m < 2 || m - 2 > n - i || kept[0] != (entry | DEPOT_EXACT_TAG) ||
	    kept[m - 1] != (DEPOT_THREAD_TAG | tid))
		return;
	m -= 2;
	for (k = 0; k < m; k++)
		if (kept[k + 1] != pcs[i + k])
			return;
	if (!take_frames(s, sp, slots, pcs, i, m, ra_slot))
		return;
	s->entry = entry;
	s->tid = tid;
	s->epoch = epoch;
	s->id = id;
	s->n = m;
	s->stamp = 0;
	s->ra_slot = ra_slot;
}

/* Not memoized here, or not yet (or this thread has no table yet): the
 * full path, then learn into one of the set's ways, in turn. */
static __attribute__((noinline)) uint32_t
miss(uintptr_t entry, const uintptr_t *ra_slot)
{
	uint32_t tid, epoch = depot_epoch, id;
	struct thread_sites *t;
	struct site *s;
	unsigned set, w;

	if (refsan_opts.stack_depth <= 1)
		return capture_hooked(entry, tramp_lo, tramp_hi);
	tid = (uint32_t)engine_thread_id();
	t = table();
	id = capture_hooked(entry, tramp_lo, tramp_hi);
	if (!t)
		return id;
	set = set_of(entry, ra_slot, *ra_slot);
	w = t->victim[set] % SITE_WAYS;
	t->victim[set] = (uint8_t)(w + 1);
	s = &t->s[set][w];
	s->ra_slot = NULL;
	learn(t, s, entry, ra_slot, tid, epoch, id);
	return id;
}

/* A Python caller's site whose memo had no record that holds: the full
 * path, which makes one under the site's stamp. */
static __attribute__((noinline)) uint32_t
python_site_miss(const struct site *s, uintptr_t entry,
                 const uintptr_t *ra_slot)
{
	struct capture_site cs;

	if (!s->n) /* not memoized */
		return capture_hooked(entry, tramp_lo, tramp_hi);
	cs.ra_slot = ra_slot;
	cs.n = s->n;
	cs.f = s->f;
	cs.stamp = s->stamp;
	return capture_hooked_site(entry, tramp_lo, tramp_hi, &cs);
}

/* A Python caller's site whose native frames hold, and whose last
 * record in the memo does not answer: the others, else the full path. */
static __attribute__((noinline)) uint32_t
python_site_search(struct thread_sites *t, struct site *s, uintptr_t entry,
                   const uintptr_t *ra_slot)
{
	uint32_t id;

	if (s->n && (id = pyframes_memo_search(s->stamp, entry, s->tid,
	                                       &s->hint))) {
		__atomic_store_n(&t->hits, t->hits + 1, __ATOMIC_RELAXED);
		return id;
	}
	return python_site_miss(s, entry, ra_slot);
}

/* A Python caller's site whose native frames hold: the memo of its Python
 * stacks, the record that answered last first. */
static __attribute__((noinline)) uint32_t
python_site(struct thread_sites *t, struct site *s, uintptr_t entry,
            const uintptr_t *ra_slot)
{
	uint32_t id;

	if (s->n && (id = pyframes_memo_hinted(s->hint, s->stamp, entry,
	                                       s->tid))) {
		__atomic_store_n(&t->hits, t->hits + 1, __ATOMIC_RELAXED);
		return id;
	}
	return python_site_search(t, s, entry, ra_slot);
}

uint32_t
call_site_capture(uintptr_t entry, const uintptr_t *ra_slot)
{
	struct thread_sites *t = my_table;
	struct site *s;
	uintptr_t ra = *ra_slot;

	/* No table yet, or never: with stack_depth <= 1 capture.c's own
	 * memo serves every call, and miss() hands out no table. */
	if (__builtin_expect(!t || !engine_tid_cache, 0))
		return miss(entry, ra_slot);
	s = t->s[set_of(entry, ra_slot, ra)];
	if (!site_hit(s, entry, ra_slot, ra) &&
	    !site_hit(++s, entry, ra_slot, ra))
		return miss(entry, ra_slot);
	if (!s->id)
		return python_site(t, s, entry, ra_slot);
	__atomic_store_n(&t->hits, t->hits + 1, __ATOMIC_RELAXED);
	return s->id;
}
