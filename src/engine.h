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

/* One call that moves a handle. */
struct engine_call {
	const char *function;  /* the spec'd function, or the C API's name */
	unsigned family;       /* create: family id (0 none) */
	uint64_t accept;       /* other roles: accepted families, 0 = any */
	bool internal;         /* called from inside the library itself */
	/* Captures the caller's stack and returns its depot id; the engine
	 * calls it at most once per call, and only when it needs a stack. */
	uint32_t (*capture)(struct engine_call *c);
	void *capture_arg;     /* for capture */
	uint32_t stack;        /* 0 until captured */
};

/* A release in two steps: begin before the real call, end after it. */
struct engine_release {
	uintptr_t handle;
	int state;             /* private to the engine */
	uint32_t stack;
};

/* The stack of this call, captured once. */
uint32_t engine_stack(struct engine_call *c);

void engine_create(uintptr_t handle, struct engine_call *c);
void engine_acquire(uintptr_t handle, struct engine_call *c);
/*
 * Check and mark a release before the library runs.  Returns true when the
 * real function must run (false: a double or invalid release that is not
 * to be forwarded).  Follow with engine_release_end(commit) once the
 * condition on the return value is known (commit=false rolls back).
 */
bool engine_release_begin(uintptr_t handle, struct engine_call *c,
			  struct engine_release *r);
void engine_release_end(struct engine_release *r, bool commit);
/* A use: the handle must be live.  Returns true (always forward). */
bool engine_use(uintptr_t handle, struct engine_call *c);

/* A mark in the event sequence (refsan_checkpoint). */
uint64_t engine_checkpoint(void);

/* Counters for reports. */
struct engine_counters {
	uint64_t created, acquired, released, live, peak_live;
	uint64_t errors, dropped;
};
void engine_counters(struct engine_counters *out);

#endif
