/*
 * test-handle_table.c: the handle table's life of a handle (create,
 * acquire, two-step release, quarantine, address reuse, growth) and its
 * behaviour under threads, checked against a plain model.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "unit.h"
#include "arena.h"
#include "handle_table.h"

static void
setup(void)
{
	ck_assert_int_eq(handle_table_init(1024, 8), 0);
}

static void
teardown(void)
{
	handle_table_reset();
}

static void
release(uintptr_t h, uint32_t stack)
{
	struct ht_info info;
	struct ht_release r;

	ck_assert_int_eq(handle_table_release_begin(h, stack, &info, &r),
			 HT_OK);
	handle_table_release_end(&r, true);
}

START_TEST(create_release_quarantine)
{
	struct ht_info info;
	struct ht_release r;

	ck_assert_int_eq(handle_table_create(0x1000, 3, 1, 11, &info), HT_OK);
	ck_assert_uint_eq(handle_table_live(), 1);
	ck_assert_int_eq(handle_table_lookup(0x1000, &info), HT_OK);
	ck_assert_uint_eq(info.refcount, 1);
	ck_assert_uint_eq(info.family, 3);
	ck_assert_uint_eq(info.created_stack, 11);
	release(0x1000, 22);
	ck_assert_uint_eq(handle_table_live(), 0);
	/* A second release finds it in quarantine with both stacks. */
	ck_assert_int_eq(handle_table_release_begin(0x1000, 33, &info, &r),
			 HT_DEAD);
	ck_assert_uint_eq(info.created_stack, 11);
	ck_assert_uint_eq(info.last_release_stack, 22);
	ck_assert_uint_eq(info.family, 3);
	ck_assert_int_eq(handle_table_lookup(0x2000, &info), HT_UNKNOWN);
}
END_TEST

START_TEST(acquire_counts_and_history)
{
	struct ht_info info;

	handle_table_create(0x10, 0, 1, 5, NULL);
	ck_assert_int_eq(handle_table_acquire(0x10, 6, &info), HT_OK);
	ck_assert_uint_eq(info.refcount, 1); /* before the acquire */
	ck_assert_int_eq(handle_table_acquire(0x10, 7, NULL), HT_OK);
	release(0x10, 8);
	ck_assert_int_eq(handle_table_lookup(0x10, &info), HT_OK);
	ck_assert_uint_eq(info.refcount, 2);
	ck_assert_uint_eq(info.last_acquire_stack, 7);
	ck_assert_uint_eq(info.last_release_stack, 8);
	release(0x10, 9);
	release(0x10, 10);
	ck_assert_int_eq(handle_table_lookup(0x10, &info), HT_DEAD);
	ck_assert_uint_eq(info.last_release_stack, 10);
}
END_TEST

START_TEST(rollback_keeps_the_handle)
{
	struct ht_info info;
	struct ht_release r, r2;

	handle_table_create(0x20, 0, 1, 5, NULL);
	ck_assert_int_eq(handle_table_release_begin(0x20, 6, &info, &r), HT_OK);
	ck_assert(r.final);
	/* While the final release is in flight, another one is dead. */
	ck_assert_int_eq(handle_table_release_begin(0x20, 7, &info, &r2),
			 HT_DEAD);
	handle_table_release_end(&r, false);
	ck_assert_int_eq(handle_table_lookup(0x20, &info), HT_OK);
	ck_assert_uint_eq(info.refcount, 1);
	ck_assert_uint_eq(handle_table_live(), 1);
	/* A partial release rolled back restores the count. */
	handle_table_acquire(0x20, 8, NULL);
	ck_assert_int_eq(handle_table_release_begin(0x20, 9, &info, &r), HT_OK);
	ck_assert(!r.final);
	handle_table_release_end(&r, false);
	handle_table_lookup(0x20, &info);
	ck_assert_uint_eq(info.refcount, 2);
}
END_TEST

/* handle_table_release_lazy's stack maker: counts its calls. */
static unsigned lazy_calls;

static uint32_t
lazy_stack(void *arg)
{
	lazy_calls++;
	return (uint32_t)(uintptr_t)arg;
}

static void
keep_view(const struct ht_view *v, void *arg)
{
	*(struct ht_view *)arg = *v;
}

START_TEST(lazy_release_asks_for_the_final_stack_only)
{
	struct ht_info info;
	struct ht_view v;

	lazy_calls = 0;
	handle_table_create(0x60, 1, 1, 5, NULL);
	handle_table_acquire(0x60, 6, NULL);
	/* Not final: no stack asked for, and the event holds none. */
	ck_assert_int_eq(handle_table_release_lazy(0x60, 0, lazy_stack,
						   (void *)(uintptr_t)7, &info),
			 HT_OK);
	ck_assert_uint_eq(info.refcount, 2);
	ck_assert_uint_eq(lazy_calls, 0);
	memset(&v, 0, sizeof(v));
	handle_table_foreach(keep_view, &v);
	ck_assert_uint_eq(v.nevents, 2);
	ck_assert_uint_eq(v.events[0], 6);
	ck_assert_uint_eq(v.events[1], HT_EV_RELEASE);
	/* Final: asked once, kept for the double release. */
	ck_assert_int_eq(handle_table_release_lazy(0x60, 0, lazy_stack,
						   (void *)(uintptr_t)8, &info),
			 HT_OK);
	ck_assert_uint_eq(lazy_calls, 1);
	ck_assert_int_eq(handle_table_release_lazy(0x60, 0, lazy_stack,
						   (void *)(uintptr_t)9, &info),
			 HT_DEAD);
	ck_assert_uint_eq(lazy_calls, 1);
	ck_assert_uint_eq(info.last_release_stack, 8);
	ck_assert_uint_eq(info.created_stack, 5);
	/* The library's own release of its reference to a borrowed handle
	 * (not counted): no stack asked for either. */
	handle_table_create(0x70, 1 | HT_CREATE_BORROWED, 2, 10, NULL);
	handle_table_acquire(0x70, 11, NULL);
	ck_assert_int_eq(handle_table_release_lazy(0x70, HT_EV_INTERNAL,
						   lazy_stack,
						   (void *)(uintptr_t)12, &info),
			 HT_OK);
	ck_assert_uint_eq(lazy_calls, 1);
}
END_TEST

START_TEST(reuse_starts_a_new_life)
{
	struct ht_info info;
	struct ht_release r;

	handle_table_create(0x30, 1, 1, 5, NULL);
	release(0x30, 6);
	/* The same address from a new create: live again, other family. */
	ck_assert_int_eq(handle_table_create(0x30, 2, 2, 7, &info), HT_OK);
	handle_table_lookup(0x30, &info);
	ck_assert_uint_eq(info.family, 2);
	ck_assert_uint_eq(info.created_stack, 7);
	ck_assert_uint_eq(info.last_release_stack, 0);
	/* A create that races a pending final release finishes it first. */
	ck_assert_int_eq(handle_table_release_begin(0x30, 8, &info, &r), HT_OK);
	ck_assert_int_eq(handle_table_create(0x30, 1, 3, 9, &info), HT_OK);
	handle_table_release_end(&r, true); /* stale token: no effect */
	ck_assert_int_eq(handle_table_lookup(0x30, &info), HT_OK);
	ck_assert_uint_eq(info.created_stack, 9);
	ck_assert_uint_eq(handle_table_live(), 1);
}
END_TEST

START_TEST(create_of_live_handle_is_an_acquire)
{
	struct ht_info info;

	handle_table_create(0x40, 0, 1, 5, NULL);
	ck_assert_int_eq(handle_table_create(0x40, 0, 2, 6, &info), HT_LIVE);
	handle_table_lookup(0x40, &info);
	ck_assert_uint_eq(info.refcount, 2);
	ck_assert_uint_eq(info.created_stack, 5);
}
END_TEST

struct count {
	size_t n, refs;
};

static void
count_view(const struct ht_view *v, void *arg)
{
	struct count *c = arg;

	c->n++;
	c->refs += v->info.refcount;
}

START_TEST(final_release_stays_dead_in_the_index)
{
	struct ht_info info;
	struct count c = { 0, 0 };
	uint64_t created, acquired, released;
	uintptr_t h;

	/* The final release leaves the record in the index, DEAD: dead to
	 * every lookup, with its stacks, not counted live, not listed. */
	handle_table_create(0x50, 4, 1, 5, NULL);
	handle_table_acquire(0x50, 6, NULL);
	ck_assert_int_eq(handle_table_release(0x50, 7, &info), HT_OK);
	ck_assert_uint_eq(info.refcount, 2);
	ck_assert_int_eq(handle_table_release(0x50, 8, &info), HT_OK);
	ck_assert_uint_eq(handle_table_live(), 0);
	handle_table_foreach(count_view, &c);
	ck_assert_uint_eq(c.n, 0);
	ck_assert_int_eq(handle_table_release(0x50, 9, &info), HT_DEAD);
	ck_assert_uint_eq(info.created_stack, 5);
	ck_assert_uint_eq(info.last_release_stack, 8);
	ck_assert_uint_eq(info.family, 4);
	ck_assert_int_eq(handle_table_acquire(0x50, 10, &info), HT_DEAD);
	ck_assert_uint_eq(info.last_release_stack, 8);
	ck_assert_int_eq(handle_table_lookup(0x50, &info), HT_DEAD);
	ck_assert_uint_eq(info.refcount, 0);
	/* The same address comes back: a new life, no history of the old. */
	ck_assert_int_eq(handle_table_create(0x50, 3, 2, 11, &info), HT_OK);
	ck_assert_uint_eq(handle_table_live(), 1);
	ck_assert_int_eq(handle_table_lookup(0x50, &info), HT_OK);
	ck_assert_uint_eq(info.refcount, 1);
	ck_assert_uint_eq(info.family, 3);
	ck_assert_uint_eq(info.created_stack, 11);
	ck_assert_uint_eq(info.last_acquire_stack, 0);
	ck_assert_uint_eq(info.last_release_stack, 0);
	/* Other final releases keep theirs too (as long as the ring holds
	 * them), stacks intact, whatever shard each lands in. */
	for (h = 0x1000; h < 0x1000 + 64 * 16; h += 16)
		handle_table_create(h, 1, (uint32_t)h, (uint32_t)h + 1, NULL);
	for (h = 0x1000; h < 0x1000 + 64 * 16; h += 16)
		ck_assert_int_eq(handle_table_release(h, (uint32_t)h + 2, NULL),
				 HT_OK);
	ck_assert_uint_eq(handle_table_live(), 1);
	for (h = 0x1000; h < 0x1000 + 64 * 16; h += 16) {
		ck_assert_int_eq(handle_table_lookup(h, &info), HT_DEAD);
		ck_assert_uint_eq(info.created_stack, (uint32_t)h + 1);
		ck_assert_uint_eq(info.last_release_stack, (uint32_t)h + 2);
		ck_assert_uint_eq(info.seq, (uint32_t)h);
	}
	handle_table_counters(&created, &acquired, &released);
	ck_assert_uint_eq(created, 2 + 64);
	ck_assert_uint_eq(acquired, 1);
	ck_assert_uint_eq(released, 2 + 64);
}
END_TEST

START_TEST(growth_keeps_everything)
{
	const uintptr_t n = 200000;
	struct count c = { 0, 0 };
	uintptr_t i;

	for (i = 1; i <= n; i++)
		ck_assert_int_eq(
			handle_table_create(i * 16, 0, (uint32_t)i, 1, NULL),
			HT_OK);
	ck_assert_uint_eq(handle_table_live(), n);
	/* Remove every other one: backward-shift deletion must keep every
	 * probe chain intact. */
	for (i = 1; i <= n; i += 2)
		release(i * 16, 2);
	for (i = 1; i <= n; i++) {
		struct ht_info info;
		enum ht_status st = handle_table_lookup(i * 16, &info);
		/* Released ones are dead, or forgotten past the quarantine. */
		if (i % 2)
			ck_assert(st == HT_DEAD || st == HT_UNKNOWN);
		else
			ck_assert_int_eq(st, HT_OK);
	}
	handle_table_foreach(count_view, &c);
	ck_assert_uint_eq(c.n, n / 2);
	ck_assert_uint_eq(c.refs, n / 2);
}
END_TEST

START_TEST(quarantine_evicts_oldest)
{
	struct ht_info info;
	uintptr_t i;

	/* 1024 entries over 64 shards: 16 per shard.  Release 100k
	 * handles: early ones are forgotten, the last one is not. */
	for (i = 1; i <= 100000; i++) {
		handle_table_create(i * 8, 0, (uint32_t)i, 1, NULL);
		release(i * 8, 2);
	}
	ck_assert_int_eq(handle_table_lookup(8, &info), HT_UNKNOWN);
	ck_assert_int_eq(handle_table_lookup(100000 * 8, &info), HT_DEAD);
	ck_assert_uint_eq(handle_table_live(), 0);
}
END_TEST

static void
grab_view(const struct ht_view *v, void *arg)
{
	*(struct ht_view *)arg = *v;
}

START_TEST(history_ring)
{
	struct ht_view last;
	uintptr_t h = 0x50;
	uint32_t s;
	unsigned k;

	handle_table_create(h, 0, 1, 1, NULL);
	for (s = 100; s < 120; s++)
		handle_table_acquire(h, s, NULL);
	release(h, 200);
	memset(&last, 0, sizeof(last));
	handle_table_foreach(grab_view, &last);
	ck_assert_uint_eq(last.info.handle, h);
	ck_assert_uint_eq(last.info.refcount, 20);
	/* The newest 8 events, oldest first: 112..119, then the release. */
	ck_assert_uint_eq(last.nevents, 8);
	for (k = 0; k < 7; k++)
		ck_assert_uint_eq(last.events[k], 113 + k);
	ck_assert_uint_eq(last.events[7], 200 | HT_EV_RELEASE);
	ck_assert_uint_eq(last.info.last_acquire_stack, 119);
	ck_assert_uint_eq(last.info.last_release_stack, 200);
}
END_TEST

/* A fresh table keeping HISTORY events per handle, where handle 0x50 was
 * created (stack 1), acquired 20 times (stacks 100..119) and released
 * once (stack 200): its view in *LAST, filled with FILL first. */
static void
twenty_acquires(unsigned history, int fill, struct ht_view *last)
{
	uintptr_t h = 0x50;
	uint32_t s;

	handle_table_reset();
	ck_assert_int_eq(handle_table_init(1024, history), 0);
	handle_table_create(h, 0, 1, 1, NULL);
	for (s = 100; s < 120; s++)
		handle_table_acquire(h, s, NULL);
	release(h, 200);
	memset(last, fill, sizeof(*last));
	handle_table_foreach(grab_view, last);
}

/* A history that is not a power of two (a remainder, not a mask, places
 * the events) or none at all (no events, the last stacks kept). */
START_TEST(history_ring_any_length)
{
	struct ht_view last;
	unsigned k;

	twenty_acquires(5, 0, &last);
	ck_assert_uint_eq(last.info.refcount, 20);
	/* The newest 5 of 21 events, oldest first: 116..119, the release. */
	ck_assert_uint_eq(last.nevents, 5);
	ck_assert_uint_eq(last.total_events, 21);
	for (k = 0; k < 4; k++)
		ck_assert_uint_eq(last.events[k], 116 + k);
	ck_assert_uint_eq(last.events[4], 200 | HT_EV_RELEASE);

	twenty_acquires(0, 0xff, &last);
	ck_assert_uint_eq(last.info.refcount, 20);
	ck_assert_uint_eq(last.nevents, 0);
	ck_assert_uint_eq(last.total_events, 21);
	ck_assert_uint_eq(last.info.created_stack, 1);
	ck_assert_uint_eq(last.info.last_acquire_stack, 119);
	ck_assert_uint_eq(last.info.last_release_stack, 200);
}
END_TEST

/* Threads: each works on its own handles and on a shared pool. */
#define THREADS 4
#define OPS 200000

static void *
worker(void *arg)
{
	uintptr_t base = (uintptr_t)arg << 32, i;

	for (i = 1; i <= OPS; i++) {
		uintptr_t h = base + i * 16;
		struct ht_info info;
		struct ht_release r;
		handle_table_create(h, 0, (uint32_t)i, 1, NULL);
		handle_table_acquire(h, 2, NULL);
		handle_table_release_begin(h, 3, &info, &r);
		handle_table_release_end(&r, true);
		if (i % 3)
			continue; /* keep a third of them */
		handle_table_release_begin(h, 4, &info, &r);
		handle_table_release_end(&r, true);
	}
	return NULL;
}

START_TEST(threads_exact_counts)
{
	pthread_t t[THREADS];
	uintptr_t i;
	struct count c = { 0, 0 };

	for (i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, worker, (void *)(i + 1));
	for (i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	handle_table_foreach(count_view, &c);
	ck_assert_uint_eq(c.n, THREADS * (OPS - OPS / 3));
	ck_assert_uint_eq(handle_table_live(), c.n);
	ck_assert_uint_eq(c.refs, c.n);
}
END_TEST

START_TEST(no_memory_is_counted)
{
	uintptr_t i;
	enum ht_status st = HT_OK;

	arena_fail_next(-1);
	for (i = 1; i <= 100000 && st != HT_FULL; i++)
		st = handle_table_create(i * 16, 0, (uint32_t)i, 1, NULL);
	arena_fail_next(0);
	ck_assert_int_eq(st, HT_FULL);
	ck_assert_uint_gt(handle_table_dropped(), 0);
}
END_TEST

/* ---- the layout: index over records, quarantine ring ---- */

/* An assertion for loops of many thousand checks: check records every
 * ck_assert it passes (a write each), this only the ones that fail. */
#define CHECK(x)                                                         \
	do {                                                             \
		if (!(x))                                                \
			ck_abort_msg("%s:%d: %s", __FILE__, __LINE__, #x); \
	} while (0)
#define CHECK_EQ(a, b) CHECK((a) == (b))
#define CHECK_LE(a, b) CHECK((a) <= (b))

/* The table's hash (a bijection) and its inverse: keys whose hashes are
 * chosen, to build probe chains on purpose. */
static uint64_t
inv_mul(uint64_t a)
{
	uint64_t x = a; /* Newton: x = x * (2 - a * x), 6 steps for 64 bits */
	int i;

	for (i = 0; i < 6; i++)
		x *= 2 - a * x;
	return x;
}

static uintptr_t
key_with_hash(uint64_t h)
{
	h ^= h >> 33;
	h *= inv_mul(0xc4ceb9fe1a85ec53ull);
	h ^= h >> 33;
	h *= inv_mul(0xff51afd7ed558ccdull);
	h ^= h >> 33;
	return (uintptr_t)h;
}

START_TEST(long_chains_and_deletion)
{
	/* 600 keys of one shard with one home slot: a probe chain longer
	 * than the slots' distance field (255), deleted from the middle. */
	enum { N = 600 };
	static uintptr_t k[N];
	struct ht_info info;
	struct count c = { 0, 0 };
	unsigned i;

	for (i = 0; i < N; i++) {
		k[i] = key_with_hash(((uint64_t)(i + 1) << 24) | 0x2a5);
		CHECK_EQ(handle_table_create(k[i], 1, i + 1, i + 1,
						     NULL), HT_OK);
	}
	for (i = 0; i < N; i++) {
		CHECK_EQ(handle_table_lookup(k[i], &info), HT_OK);
		CHECK_EQ(info.created_stack, i + 1);
	}
	for (i = 0; i < N; i += 3)
		release(k[i], 1000 + i);
	for (i = 0; i < N; i++) {
		enum ht_status st = handle_table_lookup(k[i], &info);
		if (i % 3 == 0) {
			CHECK(st == HT_DEAD || st == HT_UNKNOWN);
		} else {
			CHECK_EQ(st, HT_OK);
			CHECK_EQ(info.seq, i + 1);
		}
	}
	/* Back to life (records reused from the free list). */
	for (i = 0; i < N; i += 3)
		CHECK_EQ(handle_table_create(k[i], 2, 5000 + i, 7, NULL),
				 HT_OK);
	for (i = 0; i < N; i += 3) {
		CHECK_EQ(handle_table_lookup(k[i], &info), HT_OK);
		CHECK_EQ(info.seq, 5000 + i);
		CHECK_EQ(info.family, 2);
	}
	handle_table_foreach(count_view, &c);
	CHECK_EQ(c.n, N);
	CHECK_EQ(handle_table_live(), N);
}
END_TEST

/* A plain model: random handles (high bits too) in all 64 shards,
 * created, acquired, released at random, through growth and reuse. */
START_TEST(random_against_model)
{
	enum { SPACE = 20000, NOPS = 200000 };
	static uint32_t rc[SPACE], created[SPACE], acq_last[SPACE];
	static bool ever[SPACE];
	uint64_t x = 0x9e3779b97f4a7c15ull;
	struct count c = { 0, 0 };
	size_t live = 0, i;
	struct ht_info info;

	handle_table_reset();
	CHECK_EQ(handle_table_init(1u << 20, 8), 0);
	memset(rc, 0, sizeof(rc));
	memset(ever, 0, sizeof(ever));
	for (i = 0; i < NOPS; i++) {
		unsigned k, op;
		uintptr_t h;
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		k = (unsigned)(x % SPACE);
		op = (unsigned)((x >> 32) % 4);
		h = ((uintptr_t)k * 0x9e3779b97f4a7c15ull) | 8;
		if (!rc[k] || op == 0) {
			enum ht_status st = handle_table_create(
				h, 1 + k % 60, (uint32_t)i, 1 + k, &info);
			if (rc[k]) {
				CHECK_EQ(st, HT_LIVE);
				acq_last[k] = 1 + k;
			} else {
				CHECK_EQ(st, HT_OK);
				created[k] = 1 + k;
				acq_last[k] = 0;
				live++;
			}
			rc[k]++;
			ever[k] = true;
		} else if (op == 1) {
			CHECK_EQ(handle_table_acquire(h, 7 + k, &info),
					 HT_OK);
			CHECK_EQ(info.refcount, rc[k]);
			acq_last[k] = 7 + k;
			rc[k]++;
		} else {
			CHECK_EQ(handle_table_release(h, 9, &info),
					 HT_OK);
			CHECK_EQ(info.refcount, rc[k]);
			if (--rc[k] == 0)
				live--;
		}
		if (i % 256 == 0)
			CHECK_EQ(handle_table_live(), live);
	}
	CHECK_EQ(handle_table_live(), live);
	for (i = 0; i < SPACE; i++) {
		uintptr_t h = ((uintptr_t)i * 0x9e3779b97f4a7c15ull) | 8;
		enum ht_status st = handle_table_lookup(h, &info);
		if (rc[i]) {
			CHECK_EQ(st, HT_OK);
			CHECK_EQ(info.refcount, rc[i]);
			CHECK_EQ(info.created_stack, created[i]);
			CHECK_EQ(info.family, 1 + i % 60);
			CHECK_EQ(info.last_acquire_stack, acq_last[i]);
		} else if (ever[i]) {
			/* The quarantine holds a million: nothing forgotten. */
			CHECK_EQ(st, HT_DEAD);
			CHECK_EQ(info.created_stack, created[i]);
			CHECK_EQ(info.last_release_stack, 9);
		} else {
			CHECK_EQ(st, HT_UNKNOWN);
		}
	}
	handle_table_foreach(count_view, &c);
	CHECK_EQ(c.n, live);
	CHECK_EQ(handle_table_dropped(), 0);
}
END_TEST

START_TEST(reused_address_keeps_the_ring)
{
	/* 16 ring records per shard.  One address freed and reused over and
	 * over (malloc's way) leaves the ring each time it comes back, so it
	 * never pushes older released handles out. */
	struct ht_info info;
	uintptr_t i;
	size_t before;

	for (i = 1; i <= 256; i++) {
		handle_table_create(i * 64, 0, (uint32_t)i, 1, NULL);
		release(i * 64, 2);
	}
	/* Released records stay in the table until evicted: the first life
	 * of the new address takes a record of its own, and then no more. */
	for (i = 0; i < 20000; i++) {
		if (i == 1)
			before = handle_table_bytes();
		CHECK_EQ(handle_table_create(0x777770, 0, (uint32_t)i,
						     3, NULL), HT_OK);
		release(0x777770, 4);
	}
	for (i = 1; i <= 256; i++)
		CHECK_EQ(handle_table_lookup(i * 64, &info), HT_DEAD);
	CHECK_EQ(handle_table_lookup(0x777770, &info), HT_DEAD);
	CHECK_EQ(info.last_release_stack, 4);
	CHECK_EQ(handle_table_bytes(), before);
}
END_TEST

/* Key I of shard SHARD (the top 6 bits of the hash). */
static uintptr_t
shard_key(unsigned shard, uint64_t i)
{
	/* i + 1: key 0 would be handle 0 (for shard 0), never a handle. */
	return key_with_hash((uint64_t)shard << 58 |
			     ((i + 1) * 0x9e3779b97f4a7c1ull >> 6));
}

static void
check_shard(unsigned shard, uint64_t n, bool live)
{
	struct ht_info info;
	uint64_t i;

	for (i = 0; i < n; i++)
		CHECK_EQ(handle_table_lookup(shard_key(shard, i), &info),
			 live ? HT_OK : HT_DEAD);
}

START_TEST(index_levels_in_any_order)
{
	/* Indexes of one size share a level with the other shards', given
	 * back when the last shard leaves it.  Shards grow out of step here:
	 * shard 1 stays at a level that shard 0 has left, shard 2 comes to a
	 * level after it was given back (and must find it empty). */
	enum { L1 = 1000, L2 = 2000, L3 = 5000 };
	struct count c = { 0, 0 };
	uint64_t i;

	handle_table_reset();
	CHECK_EQ(handle_table_init(1u << 20, 8), 0);
	for (i = 0; i < L3; i++)
		CHECK_EQ(handle_table_create(shard_key(0, i), 0, 1, 1, NULL),
			 HT_OK);
	for (i = 0; i < L2; i++)
		CHECK_EQ(handle_table_create(shard_key(1, i), 0, 1, 1, NULL),
			 HT_OK);
	check_shard(0, L3, true);
	check_shard(1, L2, true);
	for (i = L2; i < L3; i++)
		CHECK_EQ(handle_table_create(shard_key(1, i), 0, 1, 1, NULL),
			 HT_OK);
	for (i = 0; i < L1; i++)
		CHECK_EQ(handle_table_create(shard_key(2, i), 0, 1, 1, NULL),
			 HT_OK);
	for (i = L1; i < L3; i++)
		CHECK_EQ(handle_table_create(shard_key(2, i), 0, 1, 1, NULL),
			 HT_OK);
	for (i = 0; i < 3; i++)
		check_shard((unsigned)i, L3, true);
	/* Into the quarantine (16,384 a shard), whose index grows through
	 * levels the same way. */
	for (i = 0; i < L3; i++)
		release(shard_key(1, i), 2);
	check_shard(0, L3, true);
	check_shard(1, L3, false);
	CHECK_EQ(handle_table_live(), 2 * L3);
	handle_table_foreach(count_view, &c);
	CHECK_EQ(c.n, 2 * L3);
	for (i = 0; i < L3; i++)
		release(shard_key(0, i), 2);
	for (i = 0; i < L3; i++)
		release(shard_key(2, i), 2);
	CHECK_EQ(handle_table_live(), 0);
}
END_TEST

/* ---- the quarantine: DEAD records in the index, a ring of entries ---- */

START_TEST(eviction_oldest_first)
{
	/* 16 ring entries per shard, all in shard 0: the 40 released ones
	 * leave in the order they came, the 16 newest stay, with stacks. */
	struct ht_info info;
	uint64_t i;

	for (i = 0; i < 40; i++) {
		CHECK_EQ(handle_table_create(shard_key(0, i), 5, (uint32_t)i,
					     100 + (uint32_t)i, NULL),
			 HT_OK);
		CHECK_EQ(handle_table_release(shard_key(0, i),
					      200 + (uint32_t)i, NULL),
			 HT_OK);
		if (i >= 16)
			CHECK_EQ(handle_table_lookup(shard_key(0, i - 16),
						     &info),
				 HT_UNKNOWN);
	}
	for (i = 24; i < 40; i++) {
		CHECK_EQ(handle_table_lookup(shard_key(0, i), &info), HT_DEAD);
		CHECK_EQ(info.seq, i);
		CHECK_EQ(info.family, 5);
		CHECK_EQ(info.created_stack, 100 + i);
		CHECK_EQ(info.last_release_stack, 200 + i);
		CHECK_EQ(info.refcount, 0);
	}
	CHECK_EQ(handle_table_live(), 0);
	/* Forgotten records went back to the free list: 16 kept, and
	 * a 17th for the next create. */
	{
		size_t before = handle_table_bytes();
		CHECK_EQ(handle_table_create(shard_key(0, 1000), 0, 1, 1,
					     NULL),
			 HT_OK);
		CHECK_EQ(handle_table_bytes(), before);
	}
}
END_TEST

START_TEST(double_release_after_many_releases)
{
	/* A handle with history (acquired) released for good, then 15 more
	 * final releases in its shard: still DEAD, both stacks kept; the
	 * 16th pushes it out. */
	struct ht_info info;
	struct ht_release r;
	uintptr_t h = shard_key(3, 0);
	uint64_t i;

	handle_table_create(h, 2, 77, 11, NULL);
	handle_table_acquire(h, 12, NULL);
	release(h, 13);
	release(h, 14);
	for (i = 1; i <= 15; i++) {
		handle_table_create(shard_key(3, i), 0, 1, 1, NULL);
		release(shard_key(3, i), 2);
	}
	CHECK_EQ(handle_table_release_begin(h, 15, &info, &r), HT_DEAD);
	CHECK_EQ(info.created_stack, 11);
	CHECK_EQ(info.last_release_stack, 14);
	CHECK_EQ(info.seq, 77);
	CHECK_EQ(info.family, 2);
	CHECK_EQ(handle_table_release(h, 15, &info), HT_DEAD);
	CHECK_EQ(handle_table_acquire(h, 15, &info), HT_DEAD);
	CHECK_EQ(info.last_release_stack, 14);
	handle_table_create(shard_key(3, 16), 0, 1, 1, NULL);
	release(shard_key(3, 16), 2);
	CHECK_EQ(handle_table_release(h, 15, &info), HT_UNKNOWN);
}
END_TEST

START_TEST(revival_leaves_a_stale_entry)
{
	/* A DEAD handle that is not the newest comes back to life: its ring
	 * entry stays, stale, and its eviction must leave the live record
	 * alone, and the record's next death its own entry. */
	struct ht_info info;
	uintptr_t h = shard_key(7, 0);
	uint64_t i;

	handle_table_create(h, 1, 1, 10, NULL);
	release(h, 20);
	for (i = 1; i <= 5; i++) {
		handle_table_create(shard_key(7, i), 0, 1, 1, NULL);
		release(shard_key(7, i), 2);
	}
	CHECK_EQ(handle_table_create(h, 4, 2, 30, &info), HT_OK);
	CHECK_EQ(handle_table_live(), 1);
	/* Twice around the ring: the stale entry goes, h stays. */
	for (i = 6; i <= 40; i++) {
		handle_table_create(shard_key(7, i), 0, 1, 1, NULL);
		release(shard_key(7, i), 2);
	}
	CHECK_EQ(handle_table_lookup(h, &info), HT_OK);
	CHECK_EQ(info.seq, 2);
	CHECK_EQ(info.family, 4);
	CHECK_EQ(info.created_stack, 30);
	CHECK_EQ(info.last_release_stack, 0);
	CHECK_EQ(handle_table_live(), 1);
	/* Dead again, then revived while the newest: the entry goes, so
	 * fifteen more releases keep the older ones. */
	release(h, 40);
	CHECK_EQ(handle_table_lookup(h, &info), HT_DEAD);
	CHECK_EQ(info.last_release_stack, 40);
	CHECK_EQ(info.created_stack, 30);
	CHECK_EQ(handle_table_lookup(shard_key(7, 25), &info), HT_UNKNOWN);
	CHECK_EQ(handle_table_create(h, 4, 3, 50, NULL), HT_OK);
	release(h, 60);
	CHECK_EQ(handle_table_lookup(shard_key(7, 26), &info), HT_DEAD);
	CHECK_EQ(handle_table_lookup(h, &info), HT_DEAD);
	CHECK_EQ(info.seq, 3);
	CHECK_EQ(info.last_release_stack, 60);
	CHECK_EQ(handle_table_live(), 0);
}
END_TEST

START_TEST(no_quarantine_forgets_at_once)
{
	struct ht_info info;
	size_t before;

	handle_table_reset();
	CHECK_EQ(handle_table_init(0, 8), 0);
	handle_table_create(shard_key(0, 0), 0, 1, 1, NULL);
	before = handle_table_bytes();
	release(shard_key(0, 0), 2);
	CHECK_EQ(handle_table_lookup(shard_key(0, 0), &info), HT_UNKNOWN);
	CHECK_EQ(handle_table_live(), 0);
	/* The record is free again (for its shard). */
	CHECK_EQ(handle_table_create(shard_key(0, 1), 0, 1, 1, NULL), HT_OK);
	CHECK_EQ(handle_table_bytes(), before);
}
END_TEST

START_TEST(rows_are_aligned_and_advised)
{
	/* 8 MiB in rows: 2 MiB-aligned, zeros, writable; huge pages advised
	 * past the first 4 MiB only (a small process keeps 4 KiB pages). */
	size_t size = (size_t)8 << 20, small = (size_t)4 << 20;
	char *p = arena_map_rows(size, small), line[256];
	bool seen_small = false, seen_large = false;
	uintptr_t lo = 0, hi = 0;
	FILE *f;

	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq((uintptr_t)p & ((2u << 20) - 1), 0);
	ck_assert_int_eq(p[0] | p[size - 1] | p[small], 0);
	p[0] = p[size - 1] = 1;
	f = fopen("/proc/self/smaps", "r");
	if (f) {
		while (fgets(line, sizeof(line), f)) {
			unsigned long a, b;
			/* A header line (other lines may start with hex
			 * digits too: "AnonHugePages"). */
			if (sscanf(line, "%lx-%lx ", &a, &b) == 2) {
				lo = a;
				hi = b;
				continue;
			}
			if (strncmp(line, "VmFlags:", 8))
				continue;
			/* The mapping may have merged with a neighbour. */
			if (lo <= (uintptr_t)p && (uintptr_t)p < hi) {
				seen_small = true;
				ck_assert_ptr_null(strstr(line, " hg"));
				ck_assert_uint_eq(hi, (uintptr_t)p + small);
			} else if (lo == (uintptr_t)p + small) {
				seen_large = true;
				ck_assert_ptr_nonnull(strstr(line, " hg"));
			}
		}
		fclose(f);
		ck_assert(seen_small && seen_large);
	}
	arena_unmap(p, size);
}
END_TEST

/* History records of one shard over several chunks (about 1260 records
 * a chunk at history 8), some freed and taken again: each handle keeps
 * its own. */
struct hist_check {
	unsigned n, bad;
};

static void
check_hist_view(const struct ht_view *v, void *arg)
{
	struct hist_check *c = arg;
	uint32_t i = v->info.seq;

	c->n++;
	if (v->info.created_stack != 10000 + i ||
	    v->info.last_acquire_stack != 20000 + i ||
	    v->nevents != (i % 3 ? 1u : 3u) ||
	    v->events[v->nevents - 1] != 20000 + i)
		c->bad++;
}

START_TEST(history_records_across_chunks)
{
	struct hist_check c = { 0, 0 };
	uint32_t i, n = 4000;

	for (i = 0; i < n; i++) {
		CHECK_EQ(handle_table_create(shard_key(5, i), 0, i, 10000 + i,
					     NULL),
			 HT_OK);
		CHECK_EQ(handle_table_acquire(shard_key(5, i), 20000 + i,
					      NULL),
			 HT_OK);
	}
	/* Every third: its history record freed (a final release), then a
	 * new life that takes one from the free list. */
	for (i = 0; i < n; i += 3) {
		release(shard_key(5, i), 1);
		release(shard_key(5, i), 1);
		CHECK_EQ(handle_table_create(shard_key(5, i), 0, i, 10000 + i,
					     NULL),
			 HT_OK);
		CHECK_EQ(handle_table_acquire(shard_key(5, i), 7, NULL),
			 HT_OK);
		release(shard_key(5, i), 1);
		CHECK_EQ(handle_table_acquire(shard_key(5, i), 20000 + i,
					      NULL),
			 HT_OK);
	}
	handle_table_foreach(check_hist_view, &c);
	CHECK_EQ(c.n, n);
	CHECK_EQ(c.bad, 0);
}
END_TEST

START_TEST(memory_per_handle)
{
	/* 100,000 live handles: records and index, at most 32 bytes each
	 * (20-byte records, 4-byte slots at 3/8 to 3/4 load). */
	uintptr_t i;

	for (i = 1; i <= 100000; i++)
		handle_table_create(i * 48, 0, (uint32_t)i, 1, NULL);
	CHECK_LE(handle_table_bytes(), 100000 * 32);
	/* Released and created again (the same addresses, so the same
	 * shards): records come from the free list, nothing grows. */
	for (i = 1; i <= 100000; i += 2)
		release(i * 48, 2);
	{
		size_t before = handle_table_bytes();
		for (i = 1; i <= 100000; i += 2)
			CHECK_EQ(handle_table_create(i * 48, 0,
							     (uint32_t)i, 1,
							     NULL),
					 HT_OK);
		CHECK_EQ(handle_table_bytes(), before);
		CHECK_EQ(handle_table_live(), 100000);
	}
}
END_TEST

/*
 * The table goes straight to this thread's last handle's record (no hash,
 * no probe).  These run the other operations on another thread, so that
 * this thread's last handle stays the one under test.
 */
static void
on_another_thread(void *(*fn)(void *), void *arg)
{
	pthread_t t;

	CHECK_EQ(pthread_create(&t, NULL, fn, arg), 0);
	CHECK_EQ(pthread_join(t, NULL), 0);
}

/* In shard 5: 16 final releases (the ring's length there: 1024 / 64),
 * which evict the oldest entry, then a create that takes the evicted
 * record from the free list. */
static void *
fill_ring_and_reuse(void *arg)
{
	uint64_t i;

	(void)arg;
	for (i = 1; i <= 16; i++) {
		handle_table_create(shard_key(5, i), 0, 1, 1, NULL);
		release(shard_key(5, i), 2);
	}
	handle_table_create(shard_key(5, 100), 7, 9, 70, NULL);
	return NULL;
}

START_TEST(last_handle_whose_record_went_to_another)
{
	struct ht_info info;
	uintptr_t h = shard_key(5, 0);

	CHECK_EQ(handle_table_create(h, 3, 1, 10, NULL), HT_OK);
	release(h, 20);
	on_another_thread(fill_ring_and_reuse, NULL);
	/* h's record was evicted and is shard_key(5, 100)'s now (the free
	 * list gives the last freed first): h is unknown, and the other
	 * keeps its count. */
	CHECK_EQ(handle_table_acquire(h, 30, &info), HT_UNKNOWN);
	CHECK_EQ(handle_table_release(h, 30, &info), HT_UNKNOWN);
	CHECK_EQ(handle_table_lookup(shard_key(5, 100), &info), HT_OK);
	CHECK_EQ(info.refcount, 1);
	CHECK_EQ(info.family, 7);
	CHECK_EQ(info.created_stack, 70);
	CHECK_EQ(handle_table_live(), 1);
}
END_TEST

START_TEST(last_handle_after_a_reset)
{
	struct ht_info info;
	uintptr_t h = shard_key(9, 0);

	CHECK_EQ(handle_table_create(h, 3, 1, 10, NULL), HT_OK);
	handle_table_reset();
	CHECK_EQ(handle_table_init(1024, 8), 0);
	CHECK_EQ(handle_table_lookup(h, &info), HT_UNKNOWN);
	CHECK_EQ(handle_table_create(h, 4, 2, 11, NULL), HT_OK);
	CHECK_EQ(handle_table_lookup(h, &info), HT_OK);
	CHECK_EQ(info.refcount, 1);
	CHECK_EQ(info.created_stack, 11);
}
END_TEST

/* 2,000 more handles in shard 2: its index grows (1,024 slots, then
 * 2,048 and 4,096), every slot moves. */
static void *
grow_shard_2(void *arg)
{
	uint64_t i;

	(void)arg;
	for (i = 1; i <= 2000; i++)
		handle_table_create(shard_key(2, i), 0, 1, 1, NULL);
	return NULL;
}

START_TEST(last_handle_deleted_after_growth)
{
	/* Without a quarantine a final release deletes the index slot: for
	 * the last handle, found without a probe, the slot is looked up by
	 * its record's number, in the index as it is now. */
	struct ht_info info;
	uintptr_t h = shard_key(2, 0);
	uint64_t i;

	handle_table_reset();
	CHECK_EQ(handle_table_init(0, 8), 0);
	CHECK_EQ(handle_table_create(h, 0, 1, 1, NULL), HT_OK);
	on_another_thread(grow_shard_2, NULL);
	CHECK_EQ(handle_table_release(h, 2, &info), HT_OK);
	CHECK_EQ(handle_table_lookup(h, &info), HT_UNKNOWN);
	for (i = 1; i <= 2000; i++)
		CHECK_EQ(handle_table_lookup(shard_key(2, i), &info), HT_OK);
	CHECK_EQ(handle_table_live(), 2000);
}
END_TEST

UNIT_SUITE(handle_table_suite)
{
	Suite *s = suite_create("handle_table");
	TCase *tc = tcase_create("life");
	TCase *tt = tcase_create("threads");
	TCase *tl = tcase_create("layout");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, create_release_quarantine);
	tcase_add_test(tc, acquire_counts_and_history);
	tcase_add_test(tc, rollback_keeps_the_handle);
	tcase_add_test(tc, reuse_starts_a_new_life);
	tcase_add_test(tc, lazy_release_asks_for_the_final_stack_only);
	tcase_add_test(tc, create_of_live_handle_is_an_acquire);
	tcase_add_test(tc, final_release_stays_dead_in_the_index);
	tcase_add_test(tc, growth_keeps_everything);
	tcase_add_test(tc, quarantine_evicts_oldest);
	tcase_add_test(tc, history_ring);
	tcase_add_test(tc, history_ring_any_length);
	tcase_add_test(tc, no_memory_is_counted);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(tl, setup, teardown);
	tcase_set_timeout(tl, 60);
	tcase_add_test(tl, long_chains_and_deletion);
	tcase_add_test(tl, random_against_model);
	tcase_add_test(tl, reused_address_keeps_the_ring);
	tcase_add_test(tl, memory_per_handle);
	tcase_add_test(tl, history_records_across_chunks);
	tcase_add_test(tl, index_levels_in_any_order);
	tcase_add_test(tl, rows_are_aligned_and_advised);
	tcase_add_test(tl, eviction_oldest_first);
	tcase_add_test(tl, double_release_after_many_releases);
	tcase_add_test(tl, revival_leaves_a_stale_entry);
	tcase_add_test(tl, no_quarantine_forgets_at_once);
	suite_add_tcase(s, tl);
	tcase_add_checked_fixture(tt, setup, teardown);
	tcase_set_timeout(tt, 60);
	tcase_add_test(tt, threads_exact_counts);
	tcase_add_test(tt, last_handle_whose_record_went_to_another);
	tcase_add_test(tt, last_handle_after_a_reset);
	tcase_add_test(tt, last_handle_deleted_after_growth);
	suite_add_tcase(s, tt);
	return s;
}
