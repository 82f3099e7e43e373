/*
 * engine.c: the meaning of create, acquire, release and use (DESIGN.md,
 * "The spec"), on top of the handle table.
 *
 * Every call here may come from a hook on the hot path: no malloc, no
 * stdio, no lock beyond one table shard's.  Errors are the exception: they
 * are recorded in a fixed log and handed to engine_on_error (set by init),
 * which prints them at once, before the real function runs, so the report
 * is out even if the library then crashes.
 *
 * Calls the library makes to its own functions (c->internal) never create
 * a handle and never raise an error; they only move the count of a handle
 * that is already live.  An idempotent release (the site's flag) of a
 * handle that is not live is the library's no-op: no error, forwarded.
 */
#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#if __has_include(<sys/single_threaded.h>)
#include <sys/single_threaded.h>
#define SINGLE_THREADED() (__libc_single_threaded != 0)
#else
#define SINGLE_THREADED() 0
#endif
#include "arena.h"
#include "engine.h"
#include "handle_table.h"
#include "options.h"

#define MAX_ERRORS 65536

void (*engine_on_error)(const struct engine_error *e);

__thread int engine_tid_cache __attribute__((tls_model("initial-exec")));

int
engine_thread_id_slow(void)
{
	engine_tid_cache = (int)syscall(SYS_gettid);
	return engine_tid_cache;
}

/*
 * Sequence numbers come to each thread in blocks of SEQ_BLOCK, so a create
 * touches no shared cache line.  refsan_checkpoint() bumps the generation;
 * a thread that sees a new generation drops the rest of its block, so
 * every create that happens after a checkpoint gets a number above it.
 */
#define SEQ_BLOCK 256
/* Live handles: each thread batches its changes to the shared counter
 * (flushing whenever the peak may move), so the peak stays exact for one
 * thread and within a few dozen per thread otherwise. */
#define LIVE_BATCH 64
/*
 * The thread's sequence block and live batch.  initial-exec: the shim is
 * preloaded (static TLS), and the default global-dynamic model costs a
 * __tls_get_addr call per access.  One variable, not four: in a shared
 * object each initial-exec variable's offset is a load from the GOT.
 */
static __thread struct {
	uint64_t seq_next, seq_end;
	int64_t live_delta;
	uint32_t seq_gen_seen;
} tls __attribute__((tls_model("initial-exec")));

static struct {
	_Atomic uint64_t seq __attribute__((aligned(64)));
	_Atomic uint32_t seq_gen __attribute__((aligned(64)));
	_Atomic int64_t live __attribute__((aligned(64)));
	_Atomic int64_t peak_live;
	_Atomic uint64_t dropped __attribute__((aligned(64)));
	uint64_t fork_mark;
	struct engine_error *errors;
	_Atomic size_t nerrors;
	_Atomic size_t errors_dropped;
} eng;

int
engine_init(size_t quarantine, unsigned history)
{
	if (!eng.errors) {
		eng.errors = arena_map(MAX_ERRORS * sizeof(*eng.errors));
		if (!eng.errors)
			return -ENOMEM;
	}
	return handle_table_init(quarantine, history);
}

void
engine_reset(void)
{
	handle_table_reset();
	arena_unmap(eng.errors, MAX_ERRORS * sizeof(*eng.errors));
	memset(&eng, 0, sizeof(eng));
	/* This thread's sequence block and live batch belong to the old
	 * table: a fresh one numbers from the start (the unit tests run
	 * in one process when CK_FORK=no). */
	tls.seq_next = tls.seq_end = 0;
	tls.seq_gen_seen = 0;
	tls.live_delta = 0;
}

uint32_t
engine_stack(struct engine_call *c)
{
	if (!c->stack && c->site->capture)
		c->stack = c->site->capture(c);
	return c->stack;
}

static void
raise_error(struct engine_error *e)
{
	if (!e->warning) {
		size_t i = atomic_fetch_add(&eng.nerrors, 1);
		if (i < MAX_ERRORS)
			eng.errors[i] = *e;
		else
			atomic_fetch_add(&eng.errors_dropped, 1);
	}
	if (engine_on_error)
		engine_on_error(e);
}

static uint64_t
next_seq(void)
{
	uint32_t gen = atomic_load_explicit(&eng.seq_gen, memory_order_acquire);

	if (tls.seq_next == tls.seq_end || gen != tls.seq_gen_seen) {
		tls.seq_gen_seen = gen;
		tls.seq_next = atomic_fetch_add_explicit(&eng.seq, SEQ_BLOCK,
						     memory_order_relaxed) +
			   1;
		tls.seq_end = tls.seq_next + SEQ_BLOCK;
	}
	return tls.seq_next++;
}

/*
 * While a program only grows its live set, every create is a new peak and
 * flushes.  As long as glibc says the process has one thread (see
 * handle_table.c's shard_lock: a signal handler reaches here only through
 * the guard), plain loads and stores do it; the locked add and compare-
 * and-swap cost about 30 ns per create at 10^6 live handles.
 */
static void
live_flush(void)
{
	int64_t live, peak;

	if (SINGLE_THREADED()) {
		live = atomic_load_explicit(&eng.live, memory_order_relaxed) +
		       tls.live_delta;
		atomic_store_explicit(&eng.live, live, memory_order_relaxed);
		if (live > atomic_load_explicit(&eng.peak_live,
						memory_order_relaxed))
			atomic_store_explicit(&eng.peak_live, live,
					      memory_order_relaxed);
		tls.live_delta = 0;
		return;
	}
	live = atomic_fetch_add_explicit(&eng.live, tls.live_delta,
					 memory_order_relaxed) +
	       tls.live_delta;
	peak = atomic_load_explicit(&eng.peak_live, memory_order_relaxed);
	tls.live_delta = 0;
	while (live > peak &&
	       !atomic_compare_exchange_weak_explicit(
		       &eng.peak_live, &peak, live, memory_order_relaxed,
		       memory_order_relaxed))
		;
}

static inline void
live_add(int d)
{
	tls.live_delta += d;
	if (tls.live_delta >= LIVE_BATCH || tls.live_delta <= -LIVE_BATCH ||
	    (d > 0 && atomic_load_explicit(&eng.live, memory_order_relaxed) +
				      tls.live_delta >
			      atomic_load_explicit(&eng.peak_live,
						   memory_order_relaxed)))
		live_flush();
}

/*
 * Start the table's misses so that they overlap the stack capture.  Only
 * when there are misses to expect (a table grown past the caches), and a
 * capture to overlap them with: with stack_depth 0 or 1 the capture is a
 * per-thread memo hit (capture.c).  Otherwise the prefetch only costs the
 * hash and loads that the table operation does again right after.
 *
 * With OBJECT (an acquire or release), the object the handle usually
 * points to as well: the library is about to read it, and that miss then
 * overlaps the table's instead of following it.  A prefetch never faults,
 * so a handle that is not an address (an fd, an index) costs one
 * instruction.
 */
static inline bool
prefetch(uintptr_t handle, bool object)
{
	if (!__atomic_load_n(&handle_table_large, __ATOMIC_RELAXED))
		return false;
	if (object)
		__builtin_prefetch((const void *)handle);
	if (refsan_opts.stack_depth > 1)
		handle_table_prefetch(handle);
	return true;
}

static void family_mismatch(const struct ht_info *info,
			    struct engine_call *c);

/* A mismatch only when both sides name families (the test inline, the
 * report out of line). */
static inline void
check_family(const struct ht_info *info, struct engine_call *c)
{
	if (c->site->accept && info->family &&
	    !(c->site->accept & (1ull << info->family)))
		family_mismatch(info, c);
}

static __attribute__((noinline)) void
family_mismatch(const struct ht_info *info, struct engine_call *c)
{
	struct engine_error e;

	memset(&e, 0, sizeof(e));
	e.kind = EE_FAMILY_MISMATCH;
	e.function = c->site->function;
	e.handle = info->handle;
	e.family = info->family;
	e.accept = c->site->accept;
	e.stack = engine_stack(c);
	e.refcount = info->refcount;
	/* The table's answer to an operation holds no stacks: look the
	 * creation stack up (from the quarantine when that was the final
	 * release). */
	{
		struct ht_info full;

		if (handle_table_lookup(info->handle, &full) != HT_UNKNOWN &&
		    full.seq == info->seq)
			e.created_stack = full.created_stack;
	}
	raise_error(&e);
}

static void
dead_handle(enum engine_error_kind kind, enum ht_status st,
	    const struct ht_info *info, struct engine_call *c)
{
	struct engine_error e;

	memset(&e, 0, sizeof(e));
	e.function = c->site->function;
	e.handle = info->handle;
	e.stack = engine_stack(c);
	if (st == HT_DEAD) {
		e.kind = kind;
		e.family = info->family;
		e.last_release_stack = info->last_release_stack;
		e.created_stack = info->created_stack;
	} else {
		/* Never seen: an error only with strict=1. */
		e.kind = EE_INVALID_RELEASE;
		e.warning = !refsan_opts.strict || kind != EE_DOUBLE_RELEASE;
	}
	raise_error(&e);
}

void
engine_create(uintptr_t handle, struct engine_call *c)
{
	struct ht_info info;
	enum ht_status st;
	uint64_t seq;

	if (!handle)
		return;
	if (c->internal) {
		/* Only moves the count of a handle already live: an internal
		 * acquire (through engine_acquire, so that the table's
		 * acquire has one caller, and is inlined there). */
		if (handle_table_lookup(handle, &info) == HT_OK)
			engine_acquire(handle, c);
		return;
	}
	prefetch(handle, false); /* the miss overlaps the capture */
	seq = next_seq();
	/* An up_ref of an object never seen created (`borrowed`): the
	 * library's own references on it are not the program's. */
	st = handle_table_create(handle,
				 c->site->family |
					 (c->site->borrowed ? HT_CREATE_BORROWED : 0),
				 (uint32_t)seq, engine_stack(c), NULL);
	switch (st) {
	case HT_OK:
		live_add(1);
		break;
	case HT_LIVE:
		break;
	default:
		atomic_fetch_add_explicit(&eng.dropped, 1,
					  memory_order_relaxed);
		break;
	}
}

bool
engine_acquire(uintptr_t handle, struct engine_call *c)
{
	struct ht_info info;
	enum ht_status st;

	if (__builtin_expect(!handle, 0))
		return true;
	prefetch(handle, true);
	st = handle_table_acquire(
		handle, engine_stack(c) | (c->internal ? HT_EV_INTERNAL : 0),
		&info);
	if (st == HT_OK) {
		if (!c->internal)
			check_family(&info, c);
	} else if (!c->internal && (st == HT_DEAD || st == HT_UNKNOWN)) {
		dead_handle(EE_USE_AFTER_RELEASE, st, &info, c);
	}
	return true;
}

bool
engine_release_begin(uintptr_t handle, struct engine_call *c,
		     struct engine_release *r)
{
	struct ht_release hr;
	struct ht_info info;
	enum ht_status st;

	memset(r, 0, sizeof(*r));
	if (!handle)
		return true;
	prefetch(handle, true);
	st = handle_table_release_begin(
		handle, engine_stack(c) | (c->internal ? HT_EV_INTERNAL : 0),
		&info, &hr);
	if (st == HT_OK) {
		r->handle = handle;
		r->state = hr.final ? 2 : 1;
		r->stack = hr.stack;
		/* The table's token, kept in the caller's frame. */
		memcpy(&r->token, &hr, sizeof(hr));
		if (!c->internal)
			check_family(&info, c);
		return true;
	}
	if (c->internal || c->site->idempotent)
		return true;
	dead_handle(EE_DOUBLE_RELEASE, st, &info, c);
	if (st == HT_DEAD)
		return refsan_opts.forward_double_release;
	return true;
}

static uint32_t
stack_of_call(void *c)
{
	return engine_stack(c);
}

bool
engine_release(uintptr_t handle, struct engine_call *c)
{
	uint32_t flags = c->internal ? HT_EV_INTERNAL : 0;
	struct ht_info info;
	enum ht_status st;

	if (!handle)
		return true;
	/* The stack is kept by a final release only (see
	 * handle_table_release_lazy): taken when the count reaches 0, unless
	 * the table's misses are ahead (prefetched), which the capture then
	 * overlaps. */
	if (prefetch(handle, true))
		st = handle_table_release(handle, engine_stack(c) | flags,
					  &info);
	else
		st = handle_table_release_lazy(handle, flags, stack_of_call, c,
					       &info);
	if (st == HT_OK) {
		if (info.refcount <= 1)
			live_add(-1);
		if (!c->internal)
			check_family(&info, c);
		return true;
	}
	if (c->internal || c->site->idempotent)
		return true;
	dead_handle(EE_DOUBLE_RELEASE, st, &info, c);
	if (st == HT_DEAD)
		return refsan_opts.forward_double_release;
	return true;
}

void
engine_release_end(struct engine_release *r, bool commit)
{
	struct ht_release hr;

	if (!r->state)
		return;
	memcpy(&hr, &r->token, sizeof(hr));
	handle_table_release_end(&hr, commit);
	if (commit && r->state == 2)
		live_add(-1);
	r->state = 0;
}

bool
engine_use(uintptr_t handle, struct engine_call *c)
{
	struct ht_info info;
	enum ht_status st;

	if (!handle || c->internal)
		return true;
	st = handle_table_lookup(handle, &info);
	if (st == HT_OK)
		check_family(&info, c);
	else
		dead_handle(EE_USE_AFTER_RELEASE, st, &info, c);
	return true;
}

uint64_t
engine_checkpoint(void)
{
	/* Every create from now on, in any thread that sees the new
	 * generation, takes a fresh block above the mark. */
	uint64_t mark = atomic_fetch_add(&eng.seq, 1) + 1;

	atomic_fetch_add_explicit(&eng.seq_gen, 1, memory_order_release);
	tls.seq_next = tls.seq_end; /* this thread too, at once */
	return mark;
}

uint64_t
engine_sequence(void)
{
	return atomic_load(&eng.seq);
}

void
engine_counters(struct engine_counters *out)
{
	int64_t peak;

	live_flush();
	handle_table_counters(&out->created, &out->acquired, &out->released);
	out->live = handle_table_live();
	peak = atomic_load(&eng.peak_live);
	out->peak_live = peak > 0 ? (uint64_t)peak : 0;
	out->errors = atomic_load(&eng.nerrors);
	out->dropped = atomic_load(&eng.dropped) + handle_table_dropped();
}

size_t
engine_errors(const struct engine_error **list)
{
	size_t n = atomic_load(&eng.nerrors);

	*list = eng.errors;
	return n < MAX_ERRORS ? n : MAX_ERRORS;
}

size_t
engine_errors_dropped(void)
{
	return atomic_load(&eng.errors_dropped);
}

void
engine_after_fork_child(void)
{
	engine_tid_cache = 0;
	eng.fork_mark = atomic_load(&eng.seq);
	tls.seq_next = tls.seq_end; /* numbers above the fork mark from now on */
	/* The child's counters start from its own work. */
	handle_table_reset_counters();
	atomic_store(&eng.live, 0);
	tls.live_delta = 0;
	atomic_store(&eng.peak_live, 0);
	atomic_store(&eng.nerrors, 0);
}

uint64_t
engine_fork_mark(void)
{
	return eng.fork_mark;
}

bool
engine_created_here(uint32_t seq)
{
	if (!eng.fork_mark)
		return true;
	return (int32_t)(seq - (uint32_t)eng.fork_mark) > 0;
}

_Static_assert(sizeof(struct ht_release) <= sizeof(((struct engine_release *)0)->token),
	       "the release token fits");
