/*
 * engine.h: the events that move handles, from the C API and from the
 * interposition layer, checked against the handle table; errors found here
 * are reported at once (before the real call runs) and kept for the exit
 * report.
 */
#ifndef REFSAN_ENGINE_H
#define REFSAN_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

/* The calling thread's kernel id, cached (reset in a forked child). */
extern __thread int engine_tid_cache __attribute__((tls_model("initial-exec")));
int engine_thread_id_slow(void);

static inline int
engine_thread_id(void)
{
	return engine_tid_cache ? engine_tid_cache : engine_thread_id_slow();
}

struct engine_call;

/* Where calls come from, the same for all its calls: one hooked function,
 * or one entry of the C API.  Calls point at it rather than copy it. */
struct engine_site {
	const char *function;  /* the spec'd function, or the C API's name */
	unsigned family;       /* create: family id (0 none) */
	uint64_t accept;       /* other roles: accepted families, 0 = any */
	bool idempotent;       /* release: a handle that is not live is the
				  library's no-op (spec flag `idempotent`):
				  no error, and the call is forwarded */
	bool borrowed;         /* create (spec flag `borrowed`): an up_ref;
				  on a first sight the handle counts the
				  program's references only
				  (HT_CREATE_BORROWED) */
	/* Captures the caller's stack and returns its depot id; the engine
	 * calls it at most once per call, and only when it needs a stack. */
	uint32_t (*capture)(struct engine_call *c);
	void *capture_arg;     /* for capture */
};

/* One call that moves a handle. */
struct engine_call {
	const struct engine_site *site;
	bool internal;         /* called from inside the library itself */
	uint32_t stack;        /* 0 until captured */
};

/* A release in two steps: begin before the real call, end after it. */
struct engine_release {
	uintptr_t handle;
	int state;             /* private to the engine: 0 nothing to end */
	uint32_t stack;
	uint64_t token[3];     /* private: the table's release token */
};

/* The stack of this call, captured once. */
uint32_t engine_stack(struct engine_call *c);

void engine_create(uintptr_t handle, struct engine_call *c);
/* Returns true (always forward), as engine_use: the trampoline's fast
 * path calls the three through one pointer type. */
bool engine_acquire(uintptr_t handle, struct engine_call *c);
/*
 * Check and mark a release before the library runs.  Returns true when the
 * real function must run (false: a double or invalid release that is not
 * to be forwarded).  Follow with engine_release_end(commit) once the
 * condition on the return value is known (commit=false rolls back).
 */
bool engine_release_begin(uintptr_t handle, struct engine_call *c,
			  struct engine_release *r);
/* A release with no condition on its result: both steps at once.  Same
 * return value as engine_release_begin. */
bool engine_release(uintptr_t handle, struct engine_call *c);
void engine_release_end(struct engine_release *r, bool commit);
/* A use: the handle must be live.  Returns true (always forward). */
bool engine_use(uintptr_t handle, struct engine_call *c);

/* A mark in the event sequence (refsan_checkpoint): handles created
 * after it, by any thread, have higher sequence numbers. */
uint64_t engine_checkpoint(void);
/* The sequence so far, without making a mark (0: nothing created yet). */
uint64_t engine_sequence(void);

/* An error found by the engine: a misuse, seen at the moment it happens. */
enum engine_error_kind {
	EE_DOUBLE_RELEASE = 1,
	EE_INVALID_RELEASE,
	EE_USE_AFTER_RELEASE,
	EE_FAMILY_MISMATCH,
};

struct engine_error {
	enum engine_error_kind kind;
	bool warning;          /* not an error (strict=0): printed, not counted */
	const char *function;
	uintptr_t handle;
	unsigned family;       /* the handle's family */
	uint64_t accept;       /* family_mismatch: what the function accepts */
	uint32_t stack;        /* the bad call */
	uint32_t last_release_stack;
	uint32_t created_stack;
	unsigned refcount;     /* before the call */
};

/* Set by init: prints an error as it happens (and aborts with
 * halt_on_error).  Called outside every table lock. */
extern void (*engine_on_error)(const struct engine_error *e);

/* Errors recorded so far (not warnings), in order. */
size_t engine_errors(const struct engine_error **list);
size_t engine_errors_dropped(void);

/* Set up the engine's memory; 0 or -ENOMEM. */
int engine_init(size_t quarantine, unsigned history);
/* Forget everything (tests). */
void engine_reset(void);

/* fork(): the child only reports handles created after this point. */
void engine_after_fork_child(void);
/* Was this handle (by creation sequence) created in this process? */
bool engine_created_here(uint32_t seq);
/* Sequence number of the fork point (0 when not a forked child). */
uint64_t engine_fork_mark(void);

/* Counters for reports. */
struct engine_counters {
	uint64_t created, acquired, released, live, peak_live;
	uint64_t errors, dropped;
};
void engine_counters(struct engine_counters *out);

#endif
