/*
 * stack_depot.c: every distinct stack stored once, named by a 32-bit id.
 *
 * A handle record keeps only ids, so a million handles created from one
 * call site cost one stored stack.  Stacks live in one MAP_NORESERVE
 * region, bump-allocated; a chained hash table finds them again.  Lookups
 * read the chains without a lock (nodes are published with release stores
 * and never move or die); an insert takes only its bucket's lock bit.
 * Worst case: when the region is full, depot_put returns 0 ("no stack")
 * and counts the drop; the report then says it is incomplete.
 */
#include <stdatomic.h>
#include <string.h>
#include <sched.h>
#include "arena.h"
#include "stack_depot.h"

#define BUCKET_BITS 20
#define NBUCKETS (1u << BUCKET_BITS)
#define LOCK_BIT 0x80000000u
#define UNIT 8 /* node offsets are counted in 8-byte units */

struct depot_node {
	uint32_t next; /* offset of the next node in the chain, 0 = end */
	uint32_t hash;
	uint32_t id;
	uint32_t n;
	uintptr_t pcs[];
};

static struct {
	char *region; /* nodes; offset 0 is never a node */
	size_t region_size;
	_Atomic size_t used;
	_Atomic uint32_t *buckets;
	_Atomic uint32_t *ids; /* id -> node offset */
	uint32_t max_ids;
	_Atomic uint32_t next_id;
	_Atomic size_t dropped;
} depot;

uint32_t depot_epoch;

int
depot_init(size_t max_bytes)
{
	if (depot.region)
		return 0;
	if (max_bytes < (1u << 20))
		max_bytes = 1u << 20;
	/* Offsets are 31 bits of 8-byte units: at most 16 GiB of stacks. */
	if (max_bytes > ((size_t)LOCK_BIT - 1) * UNIT)
		max_bytes = ((size_t)LOCK_BIT - 1) * UNIT;
	depot.max_ids = (uint32_t)(max_bytes / 32);
	depot.region = arena_map(max_bytes);
	depot.buckets = arena_map(NBUCKETS * sizeof(uint32_t));
	depot.ids = arena_map((size_t)depot.max_ids * sizeof(uint32_t));
	if (!depot.region || !depot.buckets || !depot.ids) {
		arena_unmap(depot.region, max_bytes);
		arena_unmap((void *)depot.buckets, NBUCKETS * sizeof(uint32_t));
		arena_unmap((void *)depot.ids,
			    (size_t)depot.max_ids * sizeof(uint32_t));
		memset(&depot, 0, sizeof(depot));
		return -12; /* -ENOMEM */
	}
	depot.region_size = max_bytes;
	atomic_store(&depot.used, UNIT);
	atomic_store(&depot.next_id, 1);
	return 0;
}

void
depot_reset(void)
{
	if (!depot.region)
		return;
	arena_unmap(depot.region, depot.region_size);
	arena_unmap((void *)depot.buckets, NBUCKETS * sizeof(uint32_t));
	arena_unmap((void *)depot.ids, (size_t)depot.max_ids * sizeof(uint32_t));
	memset(&depot, 0, sizeof(depot));
	depot_epoch++;
}

/* A word-wise hash: each word mixed in whole, no byte loop. */
static uint32_t
hash_words(const uintptr_t *pcs, unsigned n)
{
	uint64_t h = 0x9e3779b97f4a7c15ull ^ n;
	unsigned i;

	for (i = 0; i < n; i++) {
		uint64_t k = pcs[i];
		k *= 0xff51afd7ed558ccdull;
		k ^= k >> 33;
		h ^= k;
		h *= 0xc4ceb9fe1a85ec53ull;
		h ^= h >> 29;
	}
	return (uint32_t)(h ^ (h >> 32));
}

static struct depot_node *
node_at(uint32_t off)
{
	return (struct depot_node *)(depot.region + (size_t)off * UNIT);
}

static uint32_t
chain_find(uint32_t off, uint32_t hash, const uintptr_t *pcs, unsigned n)
{
	while (off) {
		struct depot_node *node = node_at(off);
		if (node->hash == hash && node->n == n &&
		    memcmp(node->pcs, pcs, n * sizeof(uintptr_t)) == 0)
			return node->id;
		off = atomic_load_explicit(
			(_Atomic uint32_t *)&node->next, memory_order_acquire);
	}
	return 0;
}

uint32_t
depot_put(const uintptr_t *pcs, unsigned n)
{
	uint32_t hash, head, id, off;
	_Atomic uint32_t *bucket;
	struct depot_node *node;
	size_t size, at;

	if (!depot.region || n == 0)
		return 0;
	hash = hash_words(pcs, n);
	bucket = &depot.buckets[hash & (NBUCKETS - 1)];
	head = atomic_load_explicit(bucket, memory_order_acquire) & ~LOCK_BIT;
	id = chain_find(head, hash, pcs, n);
	if (id)
		return id;

	/* Not there: lock the bucket, look again, then insert. */
	for (;;) {
		head = atomic_load_explicit(bucket, memory_order_relaxed);
		if (!(head & LOCK_BIT) &&
		    atomic_compare_exchange_weak_explicit(
			    bucket, &head, head | LOCK_BIT,
			    memory_order_acquire, memory_order_relaxed))
			break;
		sched_yield();
	}
	id = chain_find(head, hash, pcs, n);
	if (id)
		goto out;
	size = (sizeof(struct depot_node) + n * sizeof(uintptr_t) + UNIT - 1) &
	       ~(size_t)(UNIT - 1);
	at = atomic_fetch_add(&depot.used, size);
	id = atomic_fetch_add(&depot.next_id, 1);
	if (at + size > depot.region_size || id >= depot.max_ids) {
		atomic_fetch_add(&depot.dropped, 1);
		id = 0;
		goto out;
	}
	off = (uint32_t)(at / UNIT);
	node = node_at(off);
	node->next = head;
	node->hash = hash;
	node->id = id;
	node->n = n;
	memcpy(node->pcs, pcs, n * sizeof(uintptr_t));
	atomic_store_explicit(&depot.ids[id], off, memory_order_release);
	head = off;
out:
	/* Publishes the new head (if any) and drops the lock. */
	atomic_store_explicit(bucket, head, memory_order_release);
	return id;
}

unsigned
depot_get(uint32_t id, const uintptr_t **pcs)
{
	uint32_t off;
	struct depot_node *node;

	*pcs = NULL;
	if (!depot.region || id == 0 || id >= depot.max_ids)
		return 0;
	off = atomic_load_explicit(&depot.ids[id], memory_order_acquire);
	if (!off)
		return 0;
	node = node_at(off);
	*pcs = node->pcs;
	return node->n;
}

size_t
depot_count(void)
{
	uint32_t next = atomic_load(&depot.next_id);
	return next ? next - 1 : 0;
}

size_t
depot_dropped(void)
{
	return atomic_load(&depot.dropped);
}
