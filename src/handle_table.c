/*
 * handle_table.c: the live handles and the quarantine of released ones.
 *
 * 64 shards, chosen by a hash of the handle; each has its own spin lock,
 * held for a few instructions and never while the library runs, so threads
 * working on different handles rarely meet.
 *
 * Live handles: 20-byte records, kept dense in rows shared by the shards
 * (see REC_CHUNK: mapped in segments when first needed and never moved,
 * so only the records in use are ever touched; freed records are reused
 * from a free list), found through an index of 4-byte slots: open addressing
 * with linear probing and backward-shift deletion (no tombstones), grown
 * by doubling at 3/4 load.  A slot holds the record's 1-based number, a
 * tag (more bits of the hash; the two share 24 bits) and its distance
 * from its home slot (8 bits, 255 = "255 or more"): the distance and tag
 * say which slots can hold a given key, so a lookup reads a record only
 * for a slot of the right home and tag, and a deletion shifts slots back
 * without reading any record.  Memory per live handle: 20 bytes of
 * record plus 4 bytes / load of index (load 3/8 to 3/4): 25 to 31 bytes.
 * Growth takes the shard's place in the next index level (see NLEVELS;
 * committed in one system call: it is written whole) and rehashes the
 * records in order; the old level gives its pages back when the last
 * shard leaves it, and stays mapped (handle_table_prefetch reads without
 * the lock).  Levels, record segments and the ring are the only
 * mappings, O(log n) of them in a process's life, each shared by the 64
 * shards, so that from 2 MiB on they are worth transparent huge pages:
 * at 10^6 live handles the table spans tens of MiB, read at random.
 * Record and ring pages, written in order, are faulted in as they are
 * first written.
 * Worst case: an index of 2^24 slots per shard, so about 12.5 million
 * live and quarantined handles per shard (8 * 10^8 in all);
 * past that a create is dropped and counted.  Acquire and release history
 * lives beside the table in fixed-size records that only handles with
 * acquires or partial releases ever get (the record's creation stack moves
 * into it), so a plain create/release handle costs one record.
 *
 * The quarantine is the released handles' own records: a final release
 * leaves its record in the live index, marked DEAD (which every lookup
 * already reads as not live: DEAD records are PENDING too), with its
 * creation stack in the record and its place in the quarantine ring in
 * the count's bits.  The ring, one per shard (all shards' rings in one
 * mapping, in rows, mapped on first use), is a FIFO of 8-byte entries:
 * the record's number and the release stack.  So a final release reads
 * the index slot and the record it already needed and writes one ring
 * entry, in order: no second index to probe.  When the ring is full its
 * oldest entry is evicted: the record leaves the live index and is freed.
 * The eviction's record and slot are read at random, so each release
 * prefetches those of the entries a few places behind the head, whose
 * turn comes a few releases (of this shard) later.
 * A create of a DEAD address (the common case of an allocator that hands
 * the block just freed straight back) revives the record in place: no
 * index operation at all, and the ring entry goes too when it is the
 * newest, so a program that frees and mallocs the same address over and
 * over keeps one ring entry, not a ring's worth.  An older entry is left
 * in place, stale: an entry is the record's only while the record is DEAD
 * at that place of the ring, which the eviction checks before it frees
 * anything.  Without a quarantine (quarantine=0) a final release deletes
 * the record at once.  Nothing is mapped until a shard is first used.
 *
 * Each thread remembers the record of the last handle it worked on
 * (last_handle): the next operation on that handle (the add_ref after a
 * create, the release after an add_ref, the create of the block an
 * allocator just took back) goes straight to the record, checked under
 * the lock, with no hash and no probe.
 */
#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <stddef.h>
#include <string.h>
#if __has_include(<sys/single_threaded.h>)
#include <sys/single_threaded.h>
#define SINGLE_THREADED() (__libc_single_threaded != 0)
#else
#define SINGLE_THREADED() 0
#endif
#include "arena.h"
#include "handle_table.h"

#define NSHARDS 64
#define INITIAL_SLOTS 1024      /* one page of index */
#define HISTORY_CHUNK (64 * 1024)
/* An index this big in one shard (64 of them: 64 x 16 KiB of index, a
 * few MiB with the records) no longer stays in the caches between two
 * operations on it: from then on handle_table_prefetch pays off. */
#define PREFETCH_MIN_SLOTS 4096
#define HIST_MAX_CHUNKS 4096
#define HISTORY_MOD UINT32_MAX /* see table.history_mask */
/* Slots of a probe chain that handle_table_prefetch looks through. */
#define PREFETCH_PROBES 4

/*
 * Index slots: distance from home:8 | tag:24-R | 1-based record number:R;
 * 0 is empty.  R is the log2 of the index's size (records are fewer
 * than slots); the tag is more bits of the hash, so a
 * slot of the right home and the wrong key is read past without reading
 * its record (at 10^6 handles, R is 15: one slot in 512 is read for
 * nothing).
 */
#define REF_BITS 24
#define LOW24 0x00ffffffu
#define MAX_REFS LOW24
#define MAX_SLOTS ((size_t)1 << REF_BITS)
#define DIST_SAT 255u
#define NONE ((size_t)-1)

/*
 * Records and ring records of all shards live together, in rows: row R
 * holds the chunk R of shard 0, then of shard 1, and so on (a chunk:
 * REC_CHUNK records, or 2^RING_CHUNK_LOG ring entries: a page).  Shards fill at
 * the same pace (the hash spreads handles evenly), so the rows in use are
 * dense and worth transparent huge pages: at 10^6 live handles a record
 * read at random no longer misses the TLB, and 2 MiB of ring costs one
 * fault, not 512.  Record rows come in segments mapped when first needed
 * (segment K holds rows 2^K - 1 to 2^(K+1) - 2, 2^K x 320 KiB), advised
 * for huge pages from 2 MiB on; the ring is one mapping, advised past its
 * first ROWS_SMALL bytes.  A small process only touches the first rows,
 * in 4 KiB pages.
 */
#define REC_CHUNK_LOG 8
#define REC_CHUNK (1u << REC_CHUNK_LOG)
#define RING_CHUNK_LOG 9
#define ROWS_SMALL ((size_t)4 << 20)
#define NRSEGS 17 /* rows 2^17 - 1 > MAX_REFS / REC_CHUNK */
#define MAX_RING (1u << 23) /* a DEAD record's place fits POS_MASK */

struct handle_entry {
	uintptr_t handle;       /* 0: a free record */
	uint32_t seq;           /* a free record: the next free one */
	uint32_t stack;         /* creation stack, or with HAS_HIST the
				 * 1-based history record (which holds it) */
	/* refcount:22 | borrowed:1 | pending:1 | family:6 | dead:1 |
	 * has_hist:1; DEAD: ring place:23 | pending:1 | family:6 | dead:1 | 0 */
	uint32_t info;
} __attribute__((packed, aligned(4)));
_Static_assert(sizeof(struct handle_entry) == 20, "20-byte handle records");

#define RC_MASK 0x003fffffu
#define BORROWED 0x00400000u
#define PENDING 0x00800000u
#define FAMILY_SHIFT 24
#define FAMILY_MASK 0x3fu /* FAMILIES_MAX is 63 */
#define DEAD 0x40000000u
#define HAS_HIST 0x80000000u
/* A DEAD record's place in its shard's ring. */
#define POS_MASK (RC_MASK | BORROWED)
_Static_assert(MAX_RING - 1 <= POS_MASK, "ring places fit a DEAD record");
#define ENTRY_FAMILY(e) (((e)->info >> FAMILY_SHIFT) & FAMILY_MASK)

/* A quarantine ring entry: the record's only while that record is DEAD at
 * this place (see the top of the file). */
struct quarantine_entry {
	uint32_t ref;           /* 1-based record number */
	uint32_t release_stack;
};
_Static_assert(sizeof(struct quarantine_entry) == 8, "8-byte ring entries");

/* History: creation stack, last acquire, last release, a ring of events. */
struct history_rec {
	uint32_t next_free;     /* free-list link, 1-based; 0 = end */
	uint32_t created_stack;
	uint32_t last_acquire;
	uint32_t last_release;
	uint32_t nevents;       /* total ever pushed */
	uint32_t events[];      /* history_len of them */
};

struct shard {
	unsigned char lock;     /* 1: held (see shard_lock) */
	uint32_t rec_used;      /* records handed out from segments */
	uint32_t rec_free;      /* free list head, 1-based; 0 = empty */
	uint32_t id;            /* its place in table.shards */
	uint32_t *idx;          /* live index, NULL until first used */
	unsigned rbits;         /* R of the index */
	uint32_t refmask;       /* (1 << rbits) - 1: the slot's record bits */
	size_t mask;            /* index slots - 1 */
	size_t count;           /* records in the index (DEAD included) */
	size_t ndead;           /* DEAD records */
	/* quarantine: ring_len 0 until first used */
	size_t ring_len, ring_head, ring_count; /* ring_len: a power of two */
	/* history records: chunks of records, 1-based global index */
	char **hist_chunks;     /* HIST_MAX_CHUNKS, mapped on first use */
	size_t hist_nchunks;
	uint32_t hist_free;     /* free list head */
	uint32_t hist_used;     /* records handed out from chunks */
	size_t dropped;
	/* Counted under the lock: no shared counter on the hot path. */
	uint64_t created, acquired, released;
	/* This shard's ring entry 0 (see ring_at), once ring_len is set. */
	struct quarantine_entry *ring_base;
	/* Where rec_at finds this shard's records of segment K (see there),
	 * set by rec_alloc when the shard first takes a record of it: an
	 * address computed in uintptr_t, outside the segment in general. */
	uintptr_t rec_base[NRSEGS];
} __attribute__((aligned(64)));

/*
 * Where the index lives: one mapping, cut into levels.  Level K holds
 * every shard's index of INITIAL_SLOTS << K slots, shard by shard, at
 * 2^K x 256 KiB from the start, so the levels tile the mapping and from
 * K = 3 on (2 MiB) each level is whole huge pages.  Shards grow in step
 * (the hash spreads handles evenly), so a level in use is dense and worth
 * huge pages.  A level is given back in one madvise once the last shard
 * has left it: one TLB flush per level, not one per shard's growth (a
 * flush reaches every CPU the process ran on, tens of microseconds in a
 * VM).  Nothing in a level is unmapped before a reset, so
 * handle_table_prefetch may read an index that has just been replaced.
 */
#define NLEVELS 15 /* INITIAL_SLOTS << 14 == MAX_SLOTS */
#define LEVEL_BYTES(k) (((size_t)NSHARDS * INITIAL_SLOTS * 4) << (k))
#define HUGE_BYTES ((size_t)2 << 20)

struct levels {
	uint32_t *base[NLEVELS];       /* each mapped on first use */
	unsigned entered[NLEVELS];     /* shards that came to level K */
	unsigned left[NLEVELS];        /* ... and that left it since */
};

static struct {
	struct shard *shards;
	size_t history_len;     /* events per record */
	size_t hist_size;       /* bytes per record */
	size_t hist_per_chunk;
	size_t quarantine_per_shard;
	/* Records and ring records of every shard, in rows (see above);
	 * mapped on first use, published with a compare-and-swap. */
	struct handle_entry *recs[NRSEGS];
	struct quarantine_entry *ring;
	struct levels live_lv;
	unsigned char lv_lock; /* the levels' counts: growth only */
	/* Reciprocal of history_len (fastdiv): the hot path divides by it
	 * at every history event, and a 64-bit div costs tens of cycles. */
	uint64_t history_m;
	/* history_len - 1 when history_len is a power of two (the default
	 * 8): the event's place is a mask, one test on the hot path; else
	 * HISTORY_MOD (a remainder, or with history_len 0 no event). */
	uint32_t history_mask;
} table;

bool handle_table_large;

/*
 * This thread's last handle: its shard and record.  A program works on
 * one handle several times in a row (create, add_ref, release; an
 * allocator that hands the freed block straight back to the next create),
 * and then the operation finds the record without the hash and the probe.
 * Checked under the shard's lock: a record in use whose handle is H is
 * H's record (the index never holds two records of one handle; a freed
 * record's handle is 0), and records never move.  TABLE_GEN changes at
 * every reset, which unmaps the shards and records it points into.
 */
static unsigned table_gen = 1;
static __thread struct {
	uintptr_t h;
	struct shard *s;
	struct handle_entry *e;
	uint32_t ref;
	unsigned gen;           /* 0: never set */
} last_handle __attribute__((tls_model("initial-exec")));

/*
 * Remainder of a 32-bit N by a 32-bit D >= 1 through M = 2^64 / D
 * rounded up (Lemire, Kaser, Kurz, "Faster remainder by direct
 * computation", 2019): exact for every 32-bit N.
 */
static inline uint64_t
fast_m(uint32_t d)
{
	return UINT64_MAX / d + 1;
}

static inline uint32_t
fast_mod(uint32_t n, uint64_t m, uint32_t d)
{
	return (uint32_t)(((unsigned __int128)(m * n) * d) >> 64);
}

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

/*
 * A spin lock.  While the process has one thread (glibc's
 * __libc_single_threaded: no thread was ever created through it) there is
 * no one to exclude but a signal handler on this very thread, which only
 * reaches the table through a hook or the API, both behind the guard, so a
 * plain load and store take the lock: the locked exchange costs more than
 * the whole operation it protects (it drains the store buffer).  The flag
 * turns false in pthread_create, which the lock holder never calls, and
 * that thread then sees the lock as it was left.  A thread made by a raw
 * clone() is not seen: glibc does not support that either.
 */
static inline void
shard_lock(struct shard *s)
{
	unsigned spins = 0;

	if (SINGLE_THREADED() && !__atomic_load_n(&s->lock, __ATOMIC_RELAXED)) {
		__atomic_store_n(&s->lock, 1, __ATOMIC_RELAXED);
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
		return;
	}
	while (__atomic_test_and_set(&s->lock, __ATOMIC_ACQUIRE)) {
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
	__atomic_store_n(&s->lock, 0, __ATOMIC_RELEASE);
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
	if (table.shards)
		return 0;
	if (history > HT_MAX_HISTORY)
		history = HT_MAX_HISTORY;
	table.history_len = history;
	table.hist_size = sizeof(struct history_rec) + history * 4;
	table.hist_per_chunk = HISTORY_CHUNK / table.hist_size;
	table.history_m = history ? fast_m(history) : 0;
	table.history_mask = history && !(history & (history - 1))
				     ? history - 1
				     : HISTORY_MOD;
	table.quarantine_per_shard =
		quarantine ? pow2_at_least((quarantine + NSHARDS - 1) / NSHARDS)
			   : 0;
	if (table.quarantine_per_shard > MAX_RING)
		table.quarantine_per_shard = MAX_RING;
	/* Zeroed memory is a cleared lock and an empty shard: every map
	 * waits for the shard's first use. */
	table.shards = arena_map(NSHARDS * sizeof(struct shard));
	if (!table.shards)
		return -ENOMEM;
	for (size_t i = 0; i < NSHARDS; i++)
		table.shards[i].id = (uint32_t)i;
	return 0;
}

/* Bytes of record segment K. */
static size_t
recs_bytes(unsigned k)
{
	return ((size_t)NSHARDS * REC_CHUNK * sizeof(struct handle_entry)) << k;
}

/* A ring shorter than a chunk still takes a chunk's place in row 0. */
static size_t
ring_bytes(void)
{
	size_t n = table.quarantine_per_shard;

	if (n < ((size_t)1 << RING_CHUNK_LOG))
		n = (size_t)1 << RING_CHUNK_LOG;
	return n * NSHARDS * sizeof(struct quarantine_entry);
}

/* Map *SLOT (BYTES, in rows, huge pages past SMALL) once; another thread
 * may win the race. */
static void *
rows_map(void **slot, size_t bytes, size_t small)
{
	void *p = __atomic_load_n(slot, __ATOMIC_ACQUIRE), *expect = NULL;

	if (p)
		return p;
	p = arena_map_rows(bytes, small);
	if (!p)
		return NULL;
	if (!__atomic_compare_exchange_n(slot, &expect, p, false,
					 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		arena_unmap(p, bytes);
		return expect;
	}
	return p;
}

void
handle_table_reset(void)
{
	size_t i, c;

	if (!table.shards)
		return;
	for (i = 0; i < NSHARDS; i++) {
		struct shard *s = &table.shards[i];
		for (c = 0; c < s->hist_nchunks; c++)
			arena_unmap(s->hist_chunks[c], HISTORY_CHUNK);
		if (s->hist_chunks)
			arena_unmap(s->hist_chunks,
				    HIST_MAX_CHUNKS * sizeof(char *));
	}
	for (c = 0; c < NLEVELS; c++) {
		arena_unmap(table.live_lv.base[c], LEVEL_BYTES(c));
	}
	for (c = 0; c < NRSEGS; c++)
		arena_unmap(table.recs[c], recs_bytes((unsigned)c));
	if (table.ring)
		arena_unmap(table.ring, ring_bytes());
	arena_unmap(table.shards, NSHARDS * sizeof(struct shard));
	memset(&table, 0, sizeof(table));
	handle_table_large = false;
	__atomic_store_n(&table_gen, table_gen + 1, __ATOMIC_RELAXED);
}

/* ---- records ---- */

/* Element I of shard ID's share of a row mapping of chunks of 2^LOG. */
static inline __attribute__((always_inline)) size_t
row_index(uint32_t id, size_t i, unsigned log)
{
	size_t low = ((size_t)1 << log) - 1;

	return ((i & ~low) * NSHARDS) | ((size_t)id << log) | (i & low);
}

/* Record REF of shard ID in record segment *K: its index there. */
static inline __attribute__((always_inline)) size_t
rec_index(uint32_t id, uint32_t ref, unsigned *k)
{
	uint32_t i = ref - 1, r1 = (i >> REC_CHUNK_LOG) + 1;

	*k = 31 - (unsigned)__builtin_clz(r1);
	return row_index(id, ((size_t)(r1 - (1u << *k)) << REC_CHUNK_LOG) |
				     (i & (REC_CHUNK - 1)),
			 REC_CHUNK_LOG);
}

/*
 * Record REF of shard S.  rec_index's arithmetic with the parts that do
 * not depend on REF taken out: record I = REF - 1 is in chunk C = I /
 * REC_CHUNK, segment K = log2(C + 1), at row C + 1 - 2^K of it, so at
 * (C - (2^K - 1)) * NSHARDS * REC_CHUNK + id * REC_CHUNK + I % REC_CHUNK;
 * rec_base[K] holds the segment's address less (2^K - 1) rows plus the
 * shard's place in a row (see rec_base_of), so only C and I % REC_CHUNK
 * remain: half the instructions, on every lookup.
 */
static inline __attribute__((always_inline)) struct handle_entry *
rec_at(struct shard *s, uint32_t ref)
{
	uint32_t i = ref - 1;
	/* log2 as clz ^ 31, which compiles to one bsr (31 - clz does not) */
	unsigned k = (unsigned)__builtin_clz((i >> REC_CHUNK_LOG) + 1) ^ 31;
	size_t off = ((size_t)(i & ~(REC_CHUNK - 1)) * NSHARDS) |
		     (i & (REC_CHUNK - 1));

	return (struct handle_entry *)(s->rec_base[k] +
				       off * sizeof(struct handle_entry));
}

/* rec_base[K] of shard ID, for segment K mapped at RECS. */
static uintptr_t
rec_base_of(const struct handle_entry *recs, unsigned k, uint32_t id)
{
	size_t rows = ((size_t)1 << k) - 1;

	return (uintptr_t)recs -
	       rows * NSHARDS * REC_CHUNK * sizeof(struct handle_entry) +
	       (uintptr_t)id * REC_CHUNK * sizeof(struct handle_entry);
}

/* Ring entry P of shard S (its ring mapped: ring_len set). */
static inline __attribute__((always_inline)) struct quarantine_entry *
ring_at(struct shard *s, size_t p)
{
	size_t low = ((size_t)1 << RING_CHUNK_LOG) - 1;

	return &s->ring_base[((p & ~low) * NSHARDS) | (p & low)];
}

/* A record for a new handle: 1-based number, or 0 (no memory). */
static uint32_t
rec_alloc(struct shard *s)
{
	uint32_t ref;
	unsigned k;

	if (s->rec_free) {
		ref = s->rec_free;
		s->rec_free = rec_at(s, ref)->seq;
		return ref;
	}
	if (s->rec_used >= MAX_REFS)
		return 0;
	ref = s->rec_used + 1;
	rec_index(s->id, ref, &k);
	if (!s->rec_base[k]) {
		/* Acquire: another shard's thread may have just mapped it
		 * (a plain mov on x86-64). */
		struct handle_entry *recs =
			__atomic_load_n(&table.recs[k], __ATOMIC_ACQUIRE);
		if (!recs &&
		    !(recs = rows_map((void **)&table.recs[k], recs_bytes(k),
				      recs_bytes(k) >= HUGE_BYTES
					      ? 0
					      : recs_bytes(k))))
			return 0;
		/* (Should the base come out as 0, this runs again next
		 * time, and finds the same.) */
		s->rec_base[k] = rec_base_of(recs, k, s->id);
	}
	s->rec_used = ref;
	return ref;
}

static inline void
rec_release(struct shard *s, uint32_t ref)
{
	struct handle_entry *e = rec_at(s, ref);

	e->handle = 0;
	e->seq = s->rec_free;
	e->info = 0;
	s->rec_free = ref;
}

/* ---- the index ---- */

/* Slots are read unlocked by handle_table_prefetch: stored whole (a
 * plain mov, but race-free for the sanitizers). */
#define SLOT_STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)

/* A slot's distance from home, and its tag and record number. */
static inline uint32_t
slot_make(size_t dist, uint32_t low)
{
	return (uint32_t)(dist < DIST_SAT ? dist : DIST_SAT) << REF_BITS | low;
}

static inline uint32_t
tag_of(uint64_t hash, unsigned rbits)
{
	/* RBITS <= REF_BITS (24 < 32): at 24 the shift leaves no tag bit
	 * below bit 24, so no branch is needed; & 31 only keeps a torn read
	 * in handle_table_prefetch a defined shift. */
	return ((uint32_t)(hash >> 32) << (rbits & 31)) & LOW24;
}

/* The slot that names record REF (whose key hashes to HASH), or NONE. */
static size_t
idx_find_ref(const uint32_t *base, size_t mask, unsigned rbits, uint64_t hash,
	     uint32_t ref)
{
	size_t i;

	for (i = hash & mask; base[i]; i = (i + 1) & mask)
		if ((base[i] & ((1u << rbits) - 1)) == ref)
			return i;
	return NONE;
}

static inline void
idx_insert(uint32_t *base, size_t mask, unsigned rbits, uint64_t hash,
	   uint32_t ref)
{
	size_t i = hash & mask, dist = 0;

	while (base[i]) {
		i = (i + 1) & mask;
		dist++;
	}
	SLOT_STORE(&base[i], slot_make(dist, tag_of(hash, rbits) | ref));
}

/*
 * Backward-shift deletion: empty slot I, moving later slots of the probe
 * chain back so that no chain is broken.  A slot's home comes from its
 * distance; only a saturated one reads its record.
 */
static void
idx_delete(struct shard *s, size_t i)
{
	uint32_t *base = s->idx;
	size_t mask = s->mask, j = i;
	uint32_t refmask = s->refmask;

	for (;;) {
		uint32_t v, d;
		size_t home;
		j = (j + 1) & mask;
		v = base[j];
		if (!v)
			break;
		d = v >> REF_BITS;
		home = d < DIST_SAT ? (j - d) & mask
				    : mix(rec_at(s, v & refmask)->handle) & mask;
		/* Move j into i if its home is not in the cyclic (i, j]. */
		if ((j > i && (home <= i || home > j)) ||
		    (j < i && (home <= i && home > j))) {
			SLOT_STORE(&base[i],
				   slot_make((i - home) & mask, v & LOW24));
			i = j;
		}
	}
	SLOT_STORE(&base[i], 0);
}

/* ---- live records ---- */

/* H's record is E (number REF) of shard S: the next operation of this
 * thread on H goes straight to it. */
static inline __attribute__((always_inline)) void
last_set(uintptr_t h, struct shard *s, struct handle_entry *e, uint32_t ref)
{
	last_handle.h = h;
	last_handle.s = s;
	last_handle.e = e;
	last_handle.ref = ref;
	last_handle.gen = __atomic_load_n(&table_gen, __ATOMIC_RELAXED);
}

/* idx_find on the live index, giving the record as well (found once),
 * its slot *POS and number *REF. */
static inline __attribute__((always_inline)) struct handle_entry *
slot_find(struct shard *s, uintptr_t h, uint64_t hash, size_t *pos,
	  uint32_t *ref)
{
	const uint32_t *base = s->idx;
	size_t mask = s->mask, i;
	uint32_t refmask = s->refmask;
	/* The slot that names H, less its record number: its distance from
	 * home (the probe's, starting at 0) and H's tag, tested in one go. */
	uint32_t want = tag_of(hash, s->rbits);

	if (!base)
		return NULL;
	for (i = hash & mask;; i = (i + 1) & mask) {
		uint32_t v = base[i];
		struct handle_entry *e;

		if (!v)
			return NULL;
		if ((v & ~refmask) == want &&
		    (e = rec_at(s, v & refmask))->handle == h) {
			*pos = i;
			*ref = v & refmask;
			return e;
		}
		/* The next slot is one further from home; DIST_SAT stands
		 * for DIST_SAT or more. */
		if (want < DIST_SAT << REF_BITS)
			want += 1u << REF_BITS;
	}
}

/*
 * Lock H's shard (*SP) and find H's record, NULL if none; *REF its number
 * and *POS its slot, or NONE when the record came from this thread's last
 * handle (see `last_handle`: no probe, so no slot; the rare paths that need
 * one look it up by number).  *HASH is set whenever the result is NULL.
 */
static inline __attribute__((always_inline)) struct handle_entry *
entry_find(uintptr_t h, struct shard **sp, uint64_t *hash, size_t *pos,
	   uint32_t *ref)
{
	struct handle_entry *e;
	struct shard *s;

	if (last_handle.h == h &&
	    last_handle.gen == __atomic_load_n(&table_gen, __ATOMIC_RELAXED)) {
		s = last_handle.s;
		shard_lock(s);
		*sp = s;
		if (last_handle.e->handle == h) {
			*pos = NONE;
			*ref = last_handle.ref;
			return last_handle.e;
		}
		/* Gone since: the probe, in the shard that is H's anyway. */
		*hash = mix(h);
	} else {
		s = shard_of(h, hash);
		shard_lock(s);
		*sp = s;
	}
	e = slot_find(s, h, *hash, pos, ref);
	if (e)
		last_set(h, s, e, *ref);
	return e;
}

static void
lv_lock(void)
{
	while (__atomic_test_and_set(&table.lv_lock, __ATOMIC_ACQUIRE))
		__builtin_ia32_pause();
}

static void
lv_unlock(void)
{
	__atomic_clear(&table.lv_lock, __ATOMIC_RELEASE);
}

/* The level of an index of N slots (at most INITIAL_SLOTS: level 0). */
static unsigned
level_of(size_t n)
{
	return n <= INITIAL_SLOTS
		       ? 0
		       : (unsigned)__builtin_ctzl(n) -
				 (unsigned)__builtin_ctz(INITIAL_SLOTS);
}

/*
 * Shard S's index of N slots in LV: zeros (never used, or given back with
 * its level), committed now when WHOLE (it is about to be written whole),
 * or NULL.
 */
static uint32_t *
level_take(struct levels *lv, struct shard *s, size_t n, bool whole)
{
	unsigned k = level_of(n);
	uint32_t *base = __atomic_load_n(&lv->base[k], __ATOMIC_ACQUIRE), *idx;

	if (!base &&
	    !(base = rows_map((void **)&lv->base[k], LEVEL_BYTES(k),
			      LEVEL_BYTES(k) >= HUGE_BYTES ? 0
							   : LEVEL_BYTES(k))))
		return NULL;
	idx = base + (size_t)s->id * (INITIAL_SLOTS << k);
	lv_lock();
	lv->entered[k]++;
	lv_unlock();
	if (whole)
		arena_populate(idx, n * sizeof(*idx));
	return idx;
}

/* Shard S left its index of N slots: the last one out gives the level's
 * pages back. */
static void
level_leave(struct levels *lv, size_t n)
{
	unsigned k = level_of(n);
	bool empty;

	lv_lock();
	empty = ++lv->left[k] == lv->entered[k];
	if (empty)
		arena_discard(lv->base[k], LEVEL_BYTES(k));
	lv_unlock();
}

/* A bigger index, before an insert that would pass 3/4 load. */
static bool
shard_grow(struct shard *s)
{
	size_t n = s->idx ? (s->mask + 1) * 2 : INITIAL_SLOTS;
	uint32_t *idx, *old, ref;
	unsigned rbits = (unsigned)__builtin_ctzl(n);

	if (n > MAX_SLOTS)
		return false;

	/* A grown index is written whole by the rehash: commit it at once
	 * rather than fault page by page. */
	idx = level_take(&table.live_lv, s, n, s->idx != NULL);
	if (!idx)
		return false;
	/* Records in order, chunk by chunk: no random reads. */
	for (ref = 1; ref <= s->rec_used; ref++) {
		struct handle_entry *e = rec_at(s, ref);
		if (e->handle)
			idx_insert(idx, n - 1, rbits, mix(e->handle), ref);
	}
	/*
	 * Publish for handle_table_prefetch, which reads unlocked: the index
	 * before the mask (a reader that sees this mask sees this index or a
	 * later, bigger one), and the old index stays readable: it stays
	 * mapped, its pages given back with its level's (reading as zeros).
	 */
	old = s->idx;
	__atomic_store_n(&s->idx, idx, __ATOMIC_RELEASE);
	__atomic_store_n(&s->rbits, rbits, __ATOMIC_RELAXED);
	s->refmask = (uint32_t)(n - 1);
	__atomic_store_n(&s->mask, n - 1, __ATOMIC_RELEASE);
	if (n >= PREFETCH_MIN_SLOTS)
		__atomic_store_n(&handle_table_large, true, __ATOMIC_RELAXED);
	if (old)
		level_leave(&table.live_lv, n / 2);
	return true;
}

void
handle_table_prefetch(uintptr_t h)
{
	uint64_t hash;
	struct shard *s;
	uint32_t *idx, v, ref, refmask;
	size_t mask, i, d;
	unsigned rbits, k;
	struct handle_entry *recs;

	if (!table.shards)
		return;
	s = shard_of(h, &hash);
	mask = __atomic_load_n(&s->mask, __ATOMIC_ACQUIRE);
	idx = __atomic_load_n(&s->idx, __ATOMIC_ACQUIRE);
	rbits = __atomic_load_n(&s->rbits, __ATOMIC_RELAXED);
	if (!idx || !mask || rbits > REF_BITS)
		return;
	/*
	 * Unlocked: the index may be growing.  This mask fits this index or
	 * a later, bigger one, and a replaced index stays mapped (as zeros),
	 * so the slot's load is always of mapped memory; the slot may be
	 * stale, so the record's address is clamped to a mapped segment,
	 * and that is only a prefetch (never faults).  A wrong line only
	 * costs the miss it was to save.
	 */
	__builtin_prefetch(&idx[hash & mask]);
	/*
	 * The record: needs the slot's value; the load waits while the
	 * caller goes on (capturing the stack), then the record loads.  The
	 * first slots of the probe chain, not the home slot only: at 3/8 to
	 * 3/4 load a key is a slot or two past its home about as often as at
	 * home, and its slot is in the same line nearly always.
	 */
	refmask = (1u << rbits) - 1;
	for (d = 0;; d++) {
		if (d == PREFETCH_PROBES)
			return;
		v = __atomic_load_n(&idx[(hash + d) & mask], __ATOMIC_RELAXED);
		if (!v)
			return;
		if ((v >> REF_BITS) == d &&
		    (v & LOW24 & ~refmask) == tag_of(hash, rbits))
			break;
	}
	ref = v & refmask;
	if (!ref || ref > MAX_REFS)
		return;
	i = rec_index(s->id, ref, &k);
	recs = __atomic_load_n(&table.recs[k], __ATOMIC_RELAXED);
	if (recs)
		__builtin_prefetch(&recs[i]);
}

/* Delete slot POS, which names record REF, and free the record. */
static void
slot_delete(struct shard *s, size_t pos, uint32_t ref)
{
	idx_delete(s, pos);
	rec_release(s, ref);
	COUNTER_ADD(s->count, -1);
}

/* ---- history ---- */

/*
 * A history record's number (1-based: 0 ends the free list) is its chunk
 * above HIST_SLOT_BITS and 1 + its place in the chunk below: a shift and
 * a mask find it, where a dense number took a division by the records
 * per chunk at every history event.
 */
#define HIST_SLOT_BITS 12
#define HIST_SLOT_MASK ((1u << HIST_SLOT_BITS) - 1)
_Static_assert(HISTORY_CHUNK / sizeof(struct history_rec) < HIST_SLOT_MASK,
	       "a chunk's places fit below HIST_SLOT_BITS");
_Static_assert(((uint64_t)HIST_MAX_CHUNKS << HIST_SLOT_BITS) <= UINT32_MAX,
	       "history record numbers fit 32 bits");

static inline struct history_rec *
hist_at(struct shard *s, uint32_t idx)
{
	return (struct history_rec *)(s->hist_chunks[idx >> HIST_SLOT_BITS] +
				      ((idx & HIST_SLOT_MASK) - 1) *
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
		/* The newest chunk's next place. */
		idx = (uint32_t)(s->hist_nchunks - 1) << HIST_SLOT_BITS |
		      (uint32_t)(s->hist_used + 1 -
				 (s->hist_nchunks - 1) * table.hist_per_chunk);
		s->hist_used++;
		r = hist_at(s, idx);
	}
	/* The header only: events are read below nevents, all written. */
	memset(r, 0, sizeof(*r));
	return idx;
}

static void
hist_free(struct shard *s, const struct handle_entry *e)
{
	struct history_rec *r;

	if (!(e->info & HAS_HIST))
		return;
	r = hist_at(s, e->stack);
	r->next_free = s->hist_free;
	s->hist_free = e->stack;
}

static inline uint32_t
entry_created_stack(struct shard *s, const struct handle_entry *e)
{
	return e->info & HAS_HIST ? hist_at(s, e->stack)->created_stack
				  : e->stack;
}

static inline __attribute__((always_inline)) void
hist_push(struct shard *s, struct handle_entry *e, uint32_t ev)
{
	struct history_rec *r;

	if (!(e->info & HAS_HIST)) {
		uint32_t idx = hist_alloc(s);
		if (!idx) {
			s->dropped++;
			return;
		}
		hist_at(s, idx)->created_stack = e->stack;
		e->stack = idx;
		e->info |= HAS_HIST;
	}
	r = hist_at(s, e->stack);
	if (ev & HT_EV_RELEASE)
		r->last_release = HT_EV_STACK(ev);
	else
		r->last_acquire = HT_EV_STACK(ev);
	if (table.history_mask != HISTORY_MOD)
		r->events[r->nevents & table.history_mask] = ev;
	else if (table.history_len)
		r->events[fast_mod(r->nevents, table.history_m,
				   (uint32_t)table.history_len)] = ev;
	r->nevents++;
}

/* ---- quarantine ---- */

/* Shard S's ring, mapped on its first use; false: no quarantine. */
static __attribute__((noinline)) bool
ring_open(struct shard *s)
{
	struct quarantine_entry *ring;

	if (!table.quarantine_per_shard)
		return false;
	/* Acquire: another shard's thread may have just mapped it. */
	ring = __atomic_load_n(&table.ring, __ATOMIC_ACQUIRE);
	if (!ring &&
	    !(ring = rows_map((void **)&table.ring, ring_bytes(), ROWS_SMALL))) {
		s->dropped++;
		return false;
	}
	s->ring_base = &ring[(size_t)s->id << RING_CHUNK_LOG];
	s->ring_len = table.quarantine_per_shard;
	return true;
}

/* The test inline (every final release makes it), the first use not. */
static inline __attribute__((always_inline)) bool
ring_ready(struct shard *s)
{
	return s->ring_len || ring_open(s);
}

/* Evictions prefetched ahead, in ring entries: the record of the entry
 * this far behind the head, then its index slot half as far (once the
 * record is in, its handle gives the slot).  A shard evicts once every 64
 * releases or so, so this is hundreds of releases ahead. */
#define EVICT_AHEAD 8

static inline void
q_prefetch_evictions(struct shard *s)
{
	size_t m = s->ring_len - 1;
	const struct quarantine_entry *q;
	const struct handle_entry *e;

	__builtin_prefetch(ring_at(s, (s->ring_head + 2 * EVICT_AHEAD) & m));
	q = ring_at(s, (s->ring_head + EVICT_AHEAD) & m);
	if (q->ref)
		__builtin_prefetch(rec_at(s, q->ref));
	q = ring_at(s, (s->ring_head + EVICT_AHEAD / 2) & m);
	if (q->ref && (e = rec_at(s, q->ref))->handle)
		__builtin_prefetch(&s->idx[mix(e->handle) & s->mask]);
}

/* The ring is full: its oldest entry goes, and with it the record it
 * names, out of the index and freed, unless the entry is stale (the
 * record came back to life, and may have died again since). */
static void
q_evict(struct shard *s)
{
	const struct quarantine_entry *q = ring_at(s, s->ring_head);
	struct handle_entry *e = q->ref ? rec_at(s, q->ref) : NULL;

	if (e && (e->info & DEAD) && (e->info & POS_MASK) == s->ring_head) {
		size_t pos = idx_find_ref(s->idx, s->mask, s->rbits,
					  mix(e->handle), q->ref);
		if (pos != NONE)
			slot_delete(s, pos, q->ref);
		COUNTER_ADD(s->ndead, -1);
	}
	s->ring_head = (s->ring_head + 1) & (s->ring_len - 1);
	s->ring_count--;
}

/* A DEAD record comes back to life: its ring entry goes when it is the
 * newest, else it stays, stale. */
static inline void
q_revive(struct shard *s, const struct handle_entry *e)
{
	size_t p = e->info & POS_MASK;

	if (s->ring_count &&
	    p == ((s->ring_head + s->ring_count - 1) & (s->ring_len - 1)))
		s->ring_count--;
	COUNTER_ADD(s->ndead, -1);
}

/* ---- operations ---- */

static inline __attribute__((always_inline)) void
fill_info(struct shard *s, const struct handle_entry *e, struct ht_info *out)
{
	if (!out)
		return;
	memset(out, 0, sizeof(*out));
	out->handle = e->handle;
	out->refcount = e->info & RC_MASK;
	out->family = ENTRY_FAMILY(e);
	out->seq = e->seq;
	if (e->info & HAS_HIST) {
		struct history_rec *r = hist_at(s, e->stack);
		out->created_stack = r->created_stack;
		out->last_acquire_stack = r->last_acquire;
		out->last_release_stack = r->last_release;
	} else {
		out->created_stack = e->stack;
	}
}

/* What an operation that succeeded reports: no stacks (they take the
 * history record's line to read; handle_table_lookup has them), and the
 * fields it does not fill are left alone (four stores saved on every
 * acquire and release). */
static inline __attribute__((always_inline)) void
fill_ok(const struct handle_entry *e, struct ht_info *out)
{
	if (!out)
		return;
	out->handle = e->handle;
	out->refcount = e->info & RC_MASK;
	out->family = ENTRY_FAMILY(e);
	out->seq = e->seq;
}

/* A handle the table does not know (never seen, or forgotten). */
static enum ht_status
not_live(uintptr_t h, struct ht_info *out)
{
	if (out) {
		memset(out, 0, sizeof(*out));
		out->handle = h;
	}
	return HT_UNKNOWN;
}

/*
 * A final release (the count went to 0): the record stays in the index,
 * DEAD, and goes at the ring's tail (see the top of the file), evicting
 * the oldest when the ring is full.  Without a quarantine it goes at once.
 * Inlined: it is half of every create/release pair's table work.
 */
static inline __attribute__((always_inline)) void
entry_kill(struct shard *s, struct handle_entry *e, size_t pos, uint32_t ref,
	   uint32_t release_stack)
{
	struct quarantine_entry *q;
	size_t m, p;

	if (!ring_ready(s)) {
		hist_free(s, e);
		if (pos == NONE)
			pos = idx_find_ref(s->idx, s->mask, s->rbits,
					   mix(e->handle), ref);
		slot_delete(s, pos, ref);
		return;
	}
	m = s->ring_len - 1;
	if (s->ring_count == s->ring_len) {
		/* Never E (it is not DEAD); may shift slots: POS is stale. */
		q_evict(s);
		q_prefetch_evictions(s);
	}
	if (e->info & HAS_HIST) {
		uint32_t created = hist_at(s, e->stack)->created_stack;
		hist_free(s, e);
		e->stack = created;
	}
	p = (s->ring_head + s->ring_count) & m;
	q = ring_at(s, p);
	q->ref = ref;
	q->release_stack = release_stack;
	/* Filling a line of the ring (its last entry): the next line, for
	 * the next releases of this shard.  Not on entering it: a program
	 * that frees and mallocs one address over and over keeps one entry
	 * (see q_revive), at place 0 of a fresh ring, and would prefetch
	 * the same line at every release. */
	if ((p & (64 / sizeof(*q) - 1)) == 64 / sizeof(*q) - 1)
		__builtin_prefetch(ring_at(s, (p + 1) & m), 1);
	s->ring_count++;
	e->info = DEAD | PENDING | (e->info & (FAMILY_MASK << FAMILY_SHIFT)) |
		  (uint32_t)p;
	COUNTER_ADD(s->ndead, 1);
}

/* What a not-live record says: DEAD (quarantined), or a final release in
 * flight in another thread. */
static void
fill_pending(struct shard *s, const struct handle_entry *e,
	     struct ht_info *out)
{
	fill_info(s, e, out);
	if (!out)
		return;
	out->refcount = 0;
	if (e->info & DEAD)
		out->last_release_stack =
			ring_at(s, e->info & POS_MASK)->release_stack;
}

/* A record's new life: count 1, FAMILY (with HT_CREATE_BORROWED). */
static inline void
entry_start(struct handle_entry *e, uintptr_t h, unsigned family,
	    uint32_t seq, uint32_t stack)
{
	e->handle = h;
	e->seq = seq;
	e->stack = stack;
	e->info = 1u | ((uint32_t)(family & FAMILY_MASK) << FAMILY_SHIFT) |
		  (family & HT_CREATE_BORROWED ? BORROWED : 0);
}

static inline void
fill_created(struct ht_info *out, uintptr_t h, unsigned family, uint32_t seq,
	     uint32_t stack)
{
	if (!out)
		return;
	memset(out, 0, sizeof(*out));
	out->handle = h;
	out->family = family & FAMILY_MASK;
	out->seq = seq;
	out->created_stack = stack;
}

enum ht_status
handle_table_create(uintptr_t h, unsigned family, uint32_t seq,
		    uint32_t stack, struct ht_info *out)
{
	uint64_t hash;
	struct shard *s;
	struct handle_entry *e;
	uint32_t ref;
	size_t pos;

	e = entry_find(h, &s, &hash, &pos, &ref);
	if (e && (e->info & PENDING)) {
		/* A released address comes back: a new life in the same
		 * record.  Not DEAD: a final release in flight lost its race
		 * with this create (the library freed the object and the
		 * allocator handed it back), and is done now; its release_end
		 * will find another seq and nothing to commit.  A DEAD
		 * record has no history (entry_kill gave it back). */
		if (e->info & DEAD) {
			q_revive(s, e);
		} else {
			COUNTER_ADD(s->released, 1);
			hist_free(s, e);
		}
		entry_start(e, h, family, seq, stack);
		COUNTER_ADD(s->created, 1);
		shard_unlock(s);
		fill_created(out, h, family, seq, stack);
		return HT_OK;
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
	if (((s->count + 1) * 4 > (s->mask + 1) * 3 && !shard_grow(s)) ||
	    !(ref = rec_alloc(s))) {
		s->dropped++;
		shard_unlock(s);
		return HT_FULL;
	}
	e = rec_at(s, ref);
	entry_start(e, h, family, seq, stack);
	idx_insert(s->idx, s->mask, s->rbits, hash, ref);
	last_set(h, s, e, ref);
	COUNTER_ADD(s->count, 1);
	COUNTER_ADD(s->created, 1);
	shard_unlock(s);
	fill_created(out, h, family, seq, stack);
	return HT_OK;
}

/* A call from inside the library on a borrowed handle: the library's own
 * reference, not counted (HT_CREATE_BORROWED). */
static inline bool
library_own(const struct handle_entry *e, uint32_t stack)
{
	return (e->info & BORROWED) && (stack & HT_EV_INTERNAL);
}

enum ht_status
handle_table_acquire(uintptr_t h, uint32_t stack, struct ht_info *out)
{
	uint64_t hash;
	struct shard *s;
	struct handle_entry *e;
	enum ht_status st;
	uint32_t ref;
	size_t pos;

	e = entry_find(h, &s, &hash, &pos, &ref);
	if (e && !(e->info & PENDING) && library_own(e, stack)) {
		fill_ok(e, out);
		st = HT_OK;
	} else if (e && !(e->info & PENDING)) {
		fill_ok(e, out);
		if ((e->info & RC_MASK) < HT_MAX_REFCOUNT)
			e->info++;
		hist_push(s, e, stack);
		COUNTER_ADD(s->acquired, 1);
		st = HT_OK;
	} else if (e) {
		fill_pending(s, e, out);
		st = HT_DEAD;
	} else {
		st = not_live(h, out);
	}
	shard_unlock(s);
	return st;
}

enum ht_status
handle_table_release_begin(uintptr_t h, uint32_t stack, struct ht_info *out,
			   struct ht_release *r)
{
	uint64_t hash;
	struct shard *s;
	struct handle_entry *e;
	enum ht_status st;
	uint32_t ref;
	size_t pos;

	memset(r, 0, sizeof(*r));
	e = entry_find(h, &s, &hash, &pos, &ref);
	if (e && !(e->info & PENDING) && library_own(e, stack)) {
		fill_ok(e, out); /* r->handle stays 0: nothing to end */
		st = HT_OK;
	} else if (e && !(e->info & PENDING)) {
		fill_ok(e, out);
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
		/* Quarantined, or another thread's final release is in
		 * flight. */
		fill_pending(s, e, out);
		st = HT_DEAD;
	} else {
		st = not_live(h, out);
	}
	shard_unlock(s);
	return st;
}

/* Both of them: the stack, or its maker STACK_OF (then STACK holds the
 * flags alone). */
static inline __attribute__((always_inline)) enum ht_status
release(uintptr_t h, uint32_t stack, uint32_t (*stack_of)(void *arg),
	void *arg, struct ht_info *out)
{
	uint64_t hash;
	struct shard *s;
	struct handle_entry *e;
	enum ht_status st;
	uint32_t ref;
	size_t pos;

	e = entry_find(h, &s, &hash, &pos, &ref);
	if (e && !(e->info & PENDING) && library_own(e, stack)) {
		fill_ok(e, out);
		st = HT_OK;
	} else if (e && !(e->info & PENDING)) {
		fill_ok(e, out);
		if ((e->info & RC_MASK) <= 1) {
			entry_kill(s, e, pos, ref,
				   stack_of ? HT_EV_STACK(stack_of(arg))
					    : HT_EV_STACK(stack));
		} else {
			/* No stack: see handle_table_release_lazy. */
			e->info--;
			hist_push(s, e,
				  (stack & HT_EV_INTERNAL) | HT_EV_RELEASE);
		}
		COUNTER_ADD(s->released, 1);
		st = HT_OK;
	} else if (e) {
		fill_pending(s, e, out);
		st = HT_DEAD;
	} else {
		st = not_live(h, out);
	}
	shard_unlock(s);
	return st;
}

enum ht_status
handle_table_release(uintptr_t h, uint32_t stack, struct ht_info *out)
{
	return release(h, stack, NULL, NULL, out);
}

enum ht_status
handle_table_release_lazy(uintptr_t h, uint32_t flags,
			  uint32_t (*stack_of)(void *arg), void *arg,
			  struct ht_info *out)
{
	return release(h, flags, stack_of, arg, out);
}

void
handle_table_release_end(const struct ht_release *r, bool commit)
{
	uint64_t hash;
	struct shard *s;
	struct handle_entry *e;
	uint32_t ref;
	size_t pos;

	if (!r->handle)
		return;
	e = entry_find(r->handle, &s, &hash, &pos, &ref);
	if (!e || e->seq != r->seq || (e->info & DEAD)) {
		/* A new create at this address already finished us. */
		shard_unlock(s);
		return;
	}
	if (r->final) {
		if (commit && (e->info & PENDING)) {
			entry_kill(s, e, pos, ref, HT_EV_STACK(r->stack));
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
	struct shard *s;
	struct handle_entry *e;
	enum ht_status st;
	uint32_t ref;
	size_t pos;

	e = entry_find(h, &s, &hash, &pos, &ref);
	if (e && !(e->info & PENDING)) {
		fill_info(s, e, out);
		st = HT_OK;
	} else if (e) {
		fill_pending(s, e, out);
		st = HT_DEAD;
	} else {
		st = not_live(h, out);
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
		n += __atomic_load_n(&table.shards[i].count, __ATOMIC_RELAXED) -
		     __atomic_load_n(&table.shards[i].ndead, __ATOMIC_RELAXED);
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
		if (s->idx)
			n += (s->mask + 1) * sizeof(uint32_t);
		n += (size_t)s->rec_used * sizeof(struct handle_entry);
		n += s->hist_nchunks * (size_t)HISTORY_CHUNK;
	}
	return n;
}

void
handle_table_foreach(void (*fn)(const struct ht_view *v, void *arg), void *arg)
{
	struct ht_view v;
	size_t i, k;
	uint32_t ref;

	if (!table.shards)
		return;
	for (i = 0; i < NSHARDS; i++) {
		struct shard *s = &table.shards[i];
		shard_lock(s);
		/* The records in order: sequential reads. */
		for (ref = 1; ref <= s->rec_used; ref++) {
			struct handle_entry *e = rec_at(s, ref);
			if (!e->handle || (e->info & PENDING))
				continue;
			fill_info(s, e, &v.info);
			v.nevents = 0;
			v.total_events = 0;
			if (e->info & HAS_HIST) {
				struct history_rec *r = hist_at(s, e->stack);
				size_t n = r->nevents, first;
				v.total_events = r->nevents;
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
