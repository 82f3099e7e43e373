/*
 * handle_table.h: every live handle with its reference count, and a
 * quarantine of recently released ones, keyed by the handle's value.
 * Sharded; each operation takes one shard's lock for a few instructions.
 */
#ifndef REFSAN_HANDLE_TABLE_H
#define REFSAN_HANDLE_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HT_MAX_HISTORY 64
#define HT_MAX_REFCOUNT ((1u << 22) - 1)
/* OR'ed into handle_table_create's family: the handle is borrowed (spec
 * flag `borrowed`: an up_ref of an object the library handed out).  Its
 * count is the program's references only: acquires and releases from
 * inside the library (HT_EV_INTERNAL) are the library's own references,
 * which refsan never saw taken, and leave the count alone. */
#define HT_CREATE_BORROWED 0x100u

enum ht_status {
	HT_OK,      /* done */
	HT_LIVE,    /* create of a handle already live: counted as acquire */
	HT_DEAD,    /* the handle is in the quarantine (or being released) */
	HT_UNKNOWN, /* never seen, or forgotten */
	HT_FULL,    /* no memory: dropped */
};

/* What the table knows of one handle.  An operation that returns HT_OK
 * fills handle, refcount, family and seq only, and leaves the other
 * fields as they were (handle_table_lookup has the stacks). */
struct ht_info {
	uintptr_t handle;
	unsigned refcount;     /* before the operation */
	unsigned family;
	uint32_t seq;          /* creation sequence (low 32 bits) */
	uint32_t created_stack;
	uint32_t last_acquire_stack;
	uint32_t last_release_stack;
	int32_t creator_tid;   /* 0 unless known */
};

/* A live handle as the report sees it. */
struct ht_view {
	struct ht_info info;
	unsigned nevents;      /* history, oldest first */
	unsigned total_events; /* ever recorded (> nevents: history cut) */
	uint32_t events[HT_MAX_HISTORY]; /* stack id | HT_EV_RELEASE */
};
#define HT_EV_RELEASE 0x80000000u
/* OR'ed into a stack id passed to acquire or release: the call came from
 * inside the library (kept in the history, for indirect leaks). */
#define HT_EV_INTERNAL 0x40000000u
#define HT_EV_STACK(ev) ((ev) & ~(HT_EV_RELEASE | HT_EV_INTERNAL))

/* A release between its two steps. */
struct ht_release {
	uintptr_t handle;
	uint32_t seq;
	uint32_t stack;
	bool final;            /* the count went 1 -> 0 */
};

/* 0 or -ENOMEM.  QUARANTINE released handles remembered; HISTORY events
 * kept per handle (capped at HT_MAX_HISTORY). */
int handle_table_init(size_t quarantine, unsigned history);
/* Forget everything (tests). */
void handle_table_reset(void);

/* Start loading what an operation on H will read (its index slot, the
 * record that slot names), so that the misses
 * overlap the caller's work before the operation (the stack capture).
 * No lock, no effect on the table. */
void handle_table_prefetch(uintptr_t h);
/* True once some shard's index has grown past what the caches hold
 * between two operations (never false again until a reset): before that
 * the prefetch only costs the hash and loads the operation does again. */
extern bool handle_table_large;

enum ht_status handle_table_create(uintptr_t h, unsigned family, uint32_t seq,
				   uint32_t stack, struct ht_info *out);
enum ht_status handle_table_acquire(uintptr_t h, uint32_t stack,
				    struct ht_info *out);
/* Step one: check and mark.  HT_OK with *r filled, or HT_DEAD/HT_UNKNOWN
 * with *out describing the dead handle (nothing changed). */
enum ht_status handle_table_release_begin(uintptr_t h, uint32_t stack,
					  struct ht_info *out,
					  struct ht_release *r);
/* Step two: commit (the count drops for good; at 0 into the quarantine)
 * or roll back (the release did not happen). */
void handle_table_release_end(const struct ht_release *r, bool commit);
/* Both steps at once, for a release with no condition to wait for:
 * HT_OK (out: the handle before), or HT_DEAD/HT_UNKNOWN (nothing done). */
enum ht_status handle_table_release(uintptr_t h, uint32_t stack,
				    struct ht_info *out);
/* The same, with the release's stack asked of STACK_OF(ARG) only when the
 * count reaches 0 (under the shard's lock: it must not call the table).
 * A release that leaves the handle live keeps no stack: its history event
 * holds FLAGS (HT_EV_INTERNAL) alone, which is all the reports read of
 * it (the acquires it matches are counted, not named). */
enum ht_status handle_table_release_lazy(uintptr_t h, uint32_t flags,
					 uint32_t (*stack_of)(void *arg),
					 void *arg, struct ht_info *out);
/* Look a handle up without changing it. */
enum ht_status handle_table_lookup(uintptr_t h, struct ht_info *out);

size_t handle_table_live(void);
/* Table operations done: inserts, acquires (and creates of live
 * handles), committed releases. */
void handle_table_counters(uint64_t *created, uint64_t *acquired,
			   uint64_t *released);
void handle_table_reset_counters(void);
size_t handle_table_dropped(void);
/* Bytes mapped and touched for live entries (for the benchmark). */
size_t handle_table_bytes(void);

/*
 * Call FN for each live handle, one shard at a time under that shard's
 * lock: FN must not call back into the table.
 */
void handle_table_foreach(void (*fn)(const struct ht_view *v, void *arg),
			  void *arg);

/* fork(): take every lock in a fixed order, and release them after. */
void handle_table_lock_all(void);
void handle_table_unlock_all(void);

#endif
