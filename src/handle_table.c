/*
 * handle_table.c: the live handles and the quarantine of released ones.
 *
 * 64 shards, chosen by a hash of the handle; each has its own spin lock,
 * held for a few instructions and never while the library runs, so threads
 * working on different handles rarely meet.  A shard is an open-addressing
 * table with linear probing and backward-shift deletion (no tombstones),
 * 24 bytes a slot, grown by doubling at 3/4 load: growth maps a new table
 * and unmaps the old one, the only system calls here, O(log n) times in a
 * process's life.  Acquire and release history lives beside the table in
 * fixed-size records that only handles with acquires or partial releases
 * ever get, so a plain create/release handle costs one slot.
 *
 * The quarantine is a second open-addressing table per shard, fixed in
 * size, with a ring that evicts the oldest entry when full.
 */
#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <stddef.h>
#include <string.h>
#include "arena.h"
#include "handle_table.h"

#define NSHARDS 64
#define INITIAL_SLOTS 64
#define HISTORY_CHUNK (64 * 1024)
#define HIST_MAX_CHUNKS 4096

struct handle_entry {
	uintptr_t handle;       /* 0: empty slot */
	uint32_t seq;
	uint32_t created_stack;
	uint32_t info;          /* refcount:23 | pending:1 | family:8 */
	uint32_t history;       /* 1-based index of its history record */
};
_Static_assert(sizeof(struct handle_entry) == 24, "24-byte handle records");

#define RC_MASK 0x007fffffu
#define PENDING 0x00800000u
#define FAMILY_SHIFT 24

struct quarantine_entry {
	uintptr_t handle;       /* 0: empty slot */
	uint32_t seq;
	uint32_t created_stack;
	uint32_t release_stack;
	uint32_t family;
	uint32_t qseq;          /* which ring entry owns it */
	uint32_t pad;
};

struct ring_entry {
	uintptr_t handle;
	uint32_t qseq;
};

/* History: last acquire, last release, and a ring of events. */
struct history_rec {
	uint32_t next_free;     /* free-list link, 1-based; 0 = end */
	uint32_t last_acquire;
	uint32_t last_release;
	uint32_t nevents;       /* total ever pushed */
	uint32_t events[];      /* history_len of them */
};

struct shard {
	atomic_flag lock;
	struct handle_entry *slots;
	size_t mask;            /* slots - 1 */
	size_t count;
	struct quarantine_entry *q;
	size_t qmask;           /* quarantine table size - 1; grows */
	size_t qcount;
	struct ring_entry *ring;
	size_t ring_len, ring_head, ring_count;
	uint32_t qseq;
	/* history records: chunks of records, 1-based global index */
	char **hist_chunks;     /* HIST_MAX_CHUNKS, mapped on first use */
	size_t hist_nchunks;
	uint32_t hist_free;     /* free list head */
	uint32_t hist_used;     /* records handed out from chunks */
	size_t dropped;
	/* Counted under the lock: no shared counter on the hot path. */
	uint64_t created, acquired, released;
} __attribute__((aligned(64)));

static struct {
	struct shard *shards;
	size_t history_len;     /* events per record */
	size_t hist_size;       /* bytes per record */
	size_t hist_per_chunk;
	size_t quarantine_per_shard;
} table;

/*
 * The shard counters are written under the shard lock but read without it
 * (handle_table_live, handle_table_counters from the report thread): a
 * relaxed store of the incremented value is one plain mov on x86-64 and
 * keeps the reader's view race-free.
 */
#define COUNTER_ADD(field, delta) \
	__atomic_store_n(&(field), (field) + (delta), __ATOMIC_RELAXED)

static inline uint64_t
mix(uintptr_t h)
{
	uint64_t k = h;
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdull;
	k ^= k >> 33;
	k *= 0xc4ceb9fe1a85ec53ull;
	k ^= k >> 33;
	return k;
}

static inline struct shard *
shard_of(uintptr_t h, uint64_t *hash)
{
	*hash = mix(h);
	return &table.shards[*hash >> 58]; /* top 6 bits: 64 shards */
}

static inline void
shard_lock(struct shard *s)
{
	unsigned spins = 0;

	while (atomic_flag_test_and_set_explicit(&s->lock,
						 memory_order_acquire)) {
		if (++spins > 64) {
			sched_yield();
			spins = 0;
		} else {
			__builtin_ia32_pause();
		}
	}
}

static inline void
shard_unlock(struct shard *s)
{
	atomic_flag_clear_explicit(&s->lock, memory_order_release);
}

static size_t
pow2_at_least(size_t n)
{
	size_t p = 1;
	while (p < n)
		p <<= 1;
	return p;
}

int
handle_table_init(size_t quarantine, unsigned history)
{
	size_t i;

	if (table.shards)
		return 0;
	if (history > HT_MAX_HISTORY)
		history = HT_MAX_HISTORY;
	table.history_len = history;
	table.hist_size = sizeof(struct history_rec) + history * 4;
	table.hist_per_chunk = HISTORY_CHUNK / table.hist_size;
	table.quarantine_per_shard =
		quarantine ? pow2_at_least((quarantine + NSHARDS - 1) / NSHARDS)
			   : 0;
	table.shards = arena_map(NSHARDS * sizeof(struct shard));
	if (!table.shards)
		return -ENOMEM;
	for (i = 0; i < NSHARDS; i++) {
		struct shard *s = &table.shards[i];
		atomic_flag_clear(&s->lock);
		s->slots = arena_map(INITIAL_SLOTS * sizeof(*s->slots));
		s->mask = INITIAL_SLOTS - 1;
		if (!s->slots)
			goto fail;
		if (table.quarantine_per_shard) {
			s->ring_len = table.quarantine_per_shard;
			s->qmask = (s->ring_len < 64 ? s->ring_len * 2 : 64) - 1;
			s->q = arena_map((s->qmask + 1) * sizeof(*s->q));
			s->ring = arena_map(s->ring_len * sizeof(*s->ring));
			if (!s->q || !s->ring)
				goto fail;
		}
	}
	return 0;
fail:
	handle_table_reset();
	return -ENOMEM;
}

void
handle_table_reset(void)
{
	size_t i, c;

	if (!table.shards)
		return;
	for (i = 0; i < NSHARDS; i++) {
		struct shard *s = &table.shards[i];
		arena_unmap(s->slots, (s->mask + 1) * sizeof(*s->slots));
		if (s->q)
			arena_unmap(s->q, (s->qmask + 1) * sizeof(*s->q));
		arena_unmap(s->ring, s->ring_len * sizeof(*s->ring));
		for (c = 0; c < s->hist_nchunks; c++)
			arena_unmap(s->hist_chunks[c], HISTORY_CHUNK);
		arena_unmap(s->hist_chunks, HIST_MAX_CHUNKS * sizeof(char *));
	}
	arena_unmap(table.shards, NSHARDS * sizeof(struct shard));
	memset(&table, 0, sizeof(table));
}

/* ---- live slots ---- */

static struct handle_entry *
slot_find(struct shard *s, uintptr_t h, uint64_t hash)
{
	size_t i = hash & s->mask;

	for (;;) {
		struct handle_entry *e = &s->slots[i];
		if (e->handle == h)
			return e;
		if (e->handle == 0)
			return NULL;
		i = (i + 1) & s->mask;
	}
}

static struct handle_entry *
slot_insert_at(struct handle_entry *slots, size_t mask, uintptr_t h,
	       uint64_t hash)
{
	size_t i = hash & mask;

	while (slots[i].handle != 0)
		i = (i + 1) & mask;
	slots[i].handle = h;
	return &slots[i];
}

static bool
shard_grow(struct shard *s)
{
	size_t n = (s->mask + 1) * 2, i;
	struct handle_entry *slots = arena_map(n * sizeof(*slots));

	if (!slots)
		return false;
	for (i = 0; i <= s->mask; i++) {
		struct handle_entry *e = &s->slots[i];
		if (e->handle) {
			struct handle_entry *d = slot_insert_at(
				slots, n - 1, e->handle, mix(e->handle));
			*d = *e;
		}
	}
	arena_unmap(s->slots, (s->mask + 1) * sizeof(*s->slots));
	s->slots = slots;
	s->mask = n - 1;
	return true;
}

/*
 * Backward-shift deletion, for both tables (their records start with the
 * handle, 0 meaning empty): empty slot I of the MASK+1 records of ELEM
 * bytes at BASE, moving later records of the probe chain back so that no
 * chain is broken.
 */
static void
backshift_delete(char *base, size_t elem, size_t mask, size_t i)
{
	size_t j = i;

	for (;;) {
		uintptr_t h;
		size_t home;
		j = (j + 1) & mask;
		memcpy(&h, base + j * elem, sizeof(h));
		if (h == 0)
			break;
		home = mix(h) & mask;
		/* Move j into i if its home is not in the cyclic (i, j]. */
		if ((j > i && (home <= i || home > j)) ||
		    (j < i && (home <= i && home > j))) {
			memcpy(base + i * elem, base + j * elem, elem);
			i = j;
		}
	}
	memset(base + i * elem, 0, elem);
}

_Static_assert(offsetof(struct handle_entry, handle) == 0 &&
		       offsetof(struct quarantine_entry, handle) == 0,
	       "both tables' records start with the handle");

static void
slot_delete(struct shard *s, struct handle_entry *e)
{
	backshift_delete((char *)s->slots, sizeof(*e), s->mask,
			 (size_t)(e - s->slots));
	COUNTER_ADD(s->count, -1);
}

/* ---- history ---- */

static struct history_rec *
hist_at(struct shard *s, uint32_t idx)
{
	size_t i = idx - 1;
	return (struct history_rec *)(s->hist_chunks[i / table.hist_per_chunk] +
				      (i % table.hist_per_chunk) *
					      table.hist_size);
}

static uint32_t
hist_alloc(struct shard *s)
{
	uint32_t idx;
	struct history_rec *r;

	if (s->hist_free) {
		idx = s->hist_free;
		r = hist_at(s, idx);
		s->hist_free = r->next_free;
	} else {
		if (s->hist_used == s->hist_nchunks * table.hist_per_chunk) {
			char *chunk;
			if (!s->hist_chunks &&
			    !(s->hist_chunks = arena_map(
				      HIST_MAX_CHUNKS * sizeof(char *))))
				return 0;
			if (s->hist_nchunks == HIST_MAX_CHUNKS)
				return 0;
			chunk = arena_map(HISTORY_CHUNK);
			if (!chunk)
				return 0;
			s->hist_chunks[s->hist_nchunks++] = chunk;
		}
		idx = ++s->hist_used;
		r = hist_at(s, idx);
	}
	memset(r, 0, table.hist_size);
	return idx;
}

static void
hist_free(struct shard *s, uint32_t idx)
{
	struct history_rec *r;

	if (!idx)
		return;
	r = hist_at(s, idx);
	r->next_free = s->hist_free;
	s->hist_free = idx;
}

static void
hist_push(struct shard *s, struct handle_entry *e, uint32_t ev)
{
	struct history_rec *r;

	if (!e->history) {
		e->history = hist_alloc(s);
		if (!e->history) {
			s->dropped++;
			return;
		}
	}
	r = hist_at(s, e->history);
	if (ev & HT_EV_RELEASE)
		r->last_release = HT_EV_STACK(ev);
	else
		r->last_acquire = HT_EV_STACK(ev);
	if (table.history_len)
		r->events[r->nevents % table.history_len] = ev;
	r->nevents++;
}

/* ---- quarantine ---- */

static struct quarantine_entry *
q_find(struct shard *s, uintptr_t h, uint64_t hash)
{
	size_t i = hash & s->qmask;

	if (!s->q)
		return NULL;
	for (;;) {
		struct quarantine_entry *q = &s->q[i];
		if (q->handle == h)
			return q;
		if (q->handle == 0)
			return NULL;
		i = (i + 1) & s->qmask;
	}
}

static void
q_delete(struct shard *s, struct quarantine_entry *q)
{
	backshift_delete((char *)s->q, sizeof(*q), s->qmask,
			 (size_t)(q - s->q));
	s->qcount--;
}

/*
 * The quarantine table grows with use, up to twice the ring, like the live
 * table: a large table probed at random would be paged in whole.  On a
 * failed map it stays as it is (the ring evicts sooner instead).
 */
static bool
q_grow(struct shard *s)
{
	size_t n = (s->qmask + 1) * 2, i;
	struct quarantine_entry *q;

	if (n > s->ring_len * 2)
		return false;
	q = arena_map(n * sizeof(*q));
	if (!q)
		return false;
	for (i = 0; i <= s->qmask; i++) {
		size_t k;
		if (!s->q[i].handle)
			continue;
		for (k = mix(s->q[i].handle) & (n - 1); q[k].handle;
		     k = (k + 1) & (n - 1))
			;
		q[k] = s->q[i];
	}
	arena_unmap(s->q, (s->qmask + 1) * sizeof(*s->q));
	s->q = q;
	s->qmask = n - 1;
	return true;
}

static void
q_put(struct shard *s, const struct handle_entry *e, uint32_t release_stack,
      uint64_t hash)
{
	struct quarantine_entry *q;
	struct ring_entry *slot;

	if (!s->q)
		return;
	if (s->ring_count == s->ring_len) {
		/* Evict the oldest, unless its handle has been re-quarantined
		 * since (then the ring entry is stale). */
		struct ring_entry *old = &s->ring[s->ring_head];
		struct quarantine_entry *oq =
			q_find(s, old->handle, mix(old->handle));
		if (oq && oq->qseq == old->qseq)
			q_delete(s, oq);
		s->ring_head = (s->ring_head + 1) % s->ring_len;
		s->ring_count--;
	}
	q = q_find(s, e->handle, hash);
	if (!q && (s->qcount + 1) * 4 > (s->qmask + 1) * 3 && !q_grow(s) &&
	    s->qcount + 1 > s->qmask) {
		s->dropped++;
		return;
	}
	if (!q) {
		size_t i = hash & s->qmask;
		while (s->q[i].handle != 0)
			i = (i + 1) & s->qmask;
		q = &s->q[i];
		q->handle = e->handle;
		s->qcount++;
	}
	q->seq = e->seq;
	q->created_stack = e->created_stack;
	q->release_stack = release_stack;
	q->family = e->info >> FAMILY_SHIFT;
	q->qseq = ++s->qseq;
	slot = &s->ring[(s->ring_head + s->ring_count) % s->ring_len];
	slot->handle = e->handle;
	slot->qseq = q->qseq;
	s->ring_count++;
}

/* ---- operations ---- */

static void
fill_info(struct shard *s, const struct handle_entry *e, struct ht_info *out)
{
	if (!out)
		return;
	memset(out, 0, sizeof(*out));
	out->handle = e->handle;
	out->refcount = e->info & RC_MASK;
	out->family = e->info >> FAMILY_SHIFT;
	out->seq = e->seq;
	out->created_stack = e->created_stack;
	if (e->history) {
		struct history_rec *r = hist_at(s, e->history);
		out->last_acquire_stack = r->last_acquire;
		out->last_release_stack = r->last_release;
	}
}

static void
fill_dead(const struct quarantine_entry *q, uintptr_t h, struct ht_info *out)
{
	if (!out)
		return;
	memset(out, 0, sizeof(*out));
	out->handle = h;
	if (q) {
		out->family = q->family;
		out->seq = q->seq;
		out->created_stack = q->created_stack;
		out->last_release_stack = q->release_stack;
	}
}

/* A pending final release lost its race with a new create at the same
 * address: finish it now, the address starts a new life. */
static void
finish_pending(struct shard *s, struct handle_entry *e, uint64_t hash)
{
	uint32_t rel = 0;

	if (e->history)
		rel = hist_at(s, e->history)->last_release;
	q_put(s, e, rel, hash);
	hist_free(s, e->history);
	slot_delete(s, e);
	COUNTER_ADD(s->released, 1); /* its release_end will find nothing to commit */
}

enum ht_status
handle_table_create(uintptr_t h, unsigned family, uint32_t seq,
		    uint32_t stack, struct ht_info *out)
{
	uint64_t hash;
	struct shard *s = shard_of(h, &hash);
	struct handle_entry *e;
	struct quarantine_entry *q;

	shard_lock(s);
	e = slot_find(s, h, hash);
	if (e && (e->info & PENDING)) {
		finish_pending(s, e, hash);
		e = NULL;
	}
	if (e) {
		/* Already live: the create counts as an acquire. */
		fill_info(s, e, out);
		if ((e->info & RC_MASK) < HT_MAX_REFCOUNT)
			e->info++;
		hist_push(s, e, stack);
		COUNTER_ADD(s->acquired, 1);
		shard_unlock(s);
		return HT_LIVE;
	}
	if ((s->count + 1) * 4 > (s->mask + 1) * 3 && !shard_grow(s)) {
		s->dropped++;
		shard_unlock(s);
		return HT_FULL;
	}
	/* A new life for a reused address: the old one leaves quarantine. */
	q = q_find(s, h, hash);
	if (q)
		q_delete(s, q);
	e = slot_insert_at(s->slots, s->mask, h, hash);
	e->seq = seq;
	e->created_stack = stack;
	e->info = 1u | ((uint32_t)family << FAMILY_SHIFT);
	e->history = 0;
	COUNTER_ADD(s->count, 1);
	COUNTER_ADD(s->created, 1);
	shard_unlock(s);
	if (out) {
		memset(out, 0, sizeof(*out));
		out->handle = h;
		out->family = family;
		out->seq = seq;
		out->created_stack = stack;
	}
	return HT_OK;
}

enum ht_status
handle_table_acquire(uintptr_t h, uint32_t stack, struct ht_info *out)
{
	uint64_t hash;
	struct shard *s = shard_of(h, &hash);
	struct handle_entry *e;
	enum ht_status st;

	shard_lock(s);
	e = slot_find(s, h, hash);
	if (e && !(e->info & PENDING)) {
		fill_info(s, e, out);
		if ((e->info & RC_MASK) < HT_MAX_REFCOUNT)
			e->info++;
		hist_push(s, e, stack);
		COUNTER_ADD(s->acquired, 1);
		st = HT_OK;
	} else if (e) {
		fill_info(s, e, out);
		st = HT_DEAD;
	} else {
		struct quarantine_entry *q = q_find(s, h, hash);
		fill_dead(q, h, out);
		st = q ? HT_DEAD : HT_UNKNOWN;
	}
	shard_unlock(s);
	return st;
}

enum ht_status
handle_table_release_begin(uintptr_t h, uint32_t stack, struct ht_info *out,
			   struct ht_release *r)
{
	uint64_t hash;
	struct shard *s = shard_of(h, &hash);
	struct handle_entry *e;
	enum ht_status st;

	memset(r, 0, sizeof(*r));
	shard_lock(s);
	e = slot_find(s, h, hash);
	if (e && !(e->info & PENDING)) {
		fill_info(s, e, out);
		r->handle = h;
		r->seq = e->seq;
		r->stack = stack;
		if ((e->info & RC_MASK) <= 1) {
			e->info |= PENDING;
			r->final = true;
		} else {
			e->info--;
		}
		st = HT_OK;
	} else if (e) {
		/* Another thread's final release is in flight. */
		fill_info(s, e, out);
		if (out)
			out->refcount = 0;
		st = HT_DEAD;
	} else {
		struct quarantine_entry *q = q_find(s, h, hash);
		fill_dead(q, h, out);
		st = q ? HT_DEAD : HT_UNKNOWN;
	}
	shard_unlock(s);
	return st;
}

enum ht_status
handle_table_release(uintptr_t h, uint32_t stack, struct ht_info *out)
{
	uint64_t hash;
	struct shard *s = shard_of(h, &hash);
	struct handle_entry *e;
	enum ht_status st;

	shard_lock(s);
	e = slot_find(s, h, hash);
	if (e && !(e->info & PENDING)) {
		fill_info(s, e, out);
		if ((e->info & RC_MASK) <= 1) {
			q_put(s, e, HT_EV_STACK(stack), hash);
			hist_free(s, e->history);
			slot_delete(s, e);
		} else {
			e->info--;
			hist_push(s, e, stack | HT_EV_RELEASE);
		}
		COUNTER_ADD(s->released, 1);
		st = HT_OK;
	} else if (e) {
		fill_info(s, e, out);
		if (out)
			out->refcount = 0;
		st = HT_DEAD;
	} else {
		struct quarantine_entry *q = q_find(s, h, hash);
		fill_dead(q, h, out);
		st = q ? HT_DEAD : HT_UNKNOWN;
	}
	shard_unlock(s);
	return st;
}

void
handle_table_release_end(const struct ht_release *r, bool commit)
{
	uint64_t hash;
	struct shard *s;
	struct handle_entry *e;

	if (!r->handle)
		return;
	s = shard_of(r->handle, &hash);
	shard_lock(s);
	e = slot_find(s, r->handle, hash);
	if (!e || e->seq != r->seq) {
		/* A new create at this address already finished us. */
		shard_unlock(s);
		return;
	}
	if (r->final) {
		if (commit && (e->info & PENDING)) {
			q_put(s, e, HT_EV_STACK(r->stack), hash);
			hist_free(s, e->history);
			slot_delete(s, e);
			COUNTER_ADD(s->released, 1);
			shard_unlock(s);
			return;
		}
		e->info &= ~PENDING;
	} else if (commit) {
		hist_push(s, e, r->stack | HT_EV_RELEASE);
		COUNTER_ADD(s->released, 1);
	} else {
		e->info++;
	}
	shard_unlock(s);
}

enum ht_status
handle_table_lookup(uintptr_t h, struct ht_info *out)
{
	uint64_t hash;
	struct shard *s = shard_of(h, &hash);
	struct handle_entry *e;
	enum ht_status st;

	shard_lock(s);
	e = slot_find(s, h, hash);
	if (e && !(e->info & PENDING)) {
		fill_info(s, e, out);
		st = HT_OK;
	} else if (e) {
		fill_info(s, e, out);
		if (out)
			out->refcount = 0;
		st = HT_DEAD;
	} else {
		struct quarantine_entry *q = q_find(s, h, hash);
		fill_dead(q, h, out);
		st = q ? HT_DEAD : HT_UNKNOWN;
	}
	shard_unlock(s);
	return st;
}

size_t
handle_table_live(void)
{
	size_t i, n = 0;

	if (!table.shards)
		return 0;
	for (i = 0; i < NSHARDS; i++)
		n += __atomic_load_n(&table.shards[i].count, __ATOMIC_RELAXED);
	return n;
}

void
handle_table_counters(uint64_t *created, uint64_t *acquired,
		      uint64_t *released)
{
	size_t i;

	*created = *acquired = *released = 0;
	if (!table.shards)
		return;
	for (i = 0; i < NSHARDS; i++) {
		struct shard *s = &table.shards[i];
		*created += __atomic_load_n(&s->created, __ATOMIC_RELAXED);
		*acquired += __atomic_load_n(&s->acquired, __ATOMIC_RELAXED);
		*released += __atomic_load_n(&s->released, __ATOMIC_RELAXED);
	}
}

void
handle_table_reset_counters(void)
{
	size_t i;

	if (!table.shards)
		return;
	for (i = 0; i < NSHARDS; i++) {
		struct shard *s = &table.shards[i];
		s->created = s->acquired = s->released = 0;
	}
}

size_t
handle_table_dropped(void)
{
	size_t i, n = 0;

	if (!table.shards)
		return 0;
	for (i = 0; i < NSHARDS; i++)
		n += table.shards[i].dropped;
	return n;
}

size_t
handle_table_bytes(void)
{
	size_t i, n = 0;

	if (!table.shards)
		return 0;
	for (i = 0; i < NSHARDS; i++) {
		struct shard *s = &table.shards[i];
		n += (s->mask + 1) * sizeof(struct handle_entry);
		n += s->hist_nchunks * (size_t)HISTORY_CHUNK;
	}
	return n;
}

void
handle_table_foreach(void (*fn)(const struct ht_view *v, void *arg), void *arg)
{
	struct ht_view v;
	size_t i, j, k;

	if (!table.shards)
		return;
	for (i = 0; i < NSHARDS; i++) {
		struct shard *s = &table.shards[i];
		shard_lock(s);
		for (j = 0; j <= s->mask; j++) {
			struct handle_entry *e = &s->slots[j];
			if (!e->handle || (e->info & PENDING))
				continue;
			fill_info(s, e, &v.info);
			v.nevents = 0;
			v.total_events = e->history
						 ? hist_at(s, e->history)->nevents
						 : 0;
			if (e->history && table.history_len) {
				struct history_rec *r = hist_at(s, e->history);
				size_t n = r->nevents, first;
				if (n > table.history_len)
					n = table.history_len;
				first = r->nevents - n;
				for (k = 0; k < n; k++)
					v.events[k] =
						r->events[(first + k) %
							  table.history_len];
				v.nevents = (unsigned)n;
			}
			fn(&v, arg);
		}
		shard_unlock(s);
	}
}

void
handle_table_lock_all(void)
{
	size_t i;

	if (!table.shards)
		return;
	for (i = 0; i < NSHARDS; i++)
		shard_lock(&table.shards[i]);
}

void
handle_table_unlock_all(void)
{
	size_t i;

	if (!table.shards)
		return;
	for (i = 0; i < NSHARDS; i++)
		shard_unlock(&table.shards[i]);
}
