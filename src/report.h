/*
 * report.h: one report model, built from the handle table, the error log
 * and the stack depot at report time, then rendered as text
 * (report_text.c, the shape of DESIGN.md) and as JSON (report_json.c, the
 * versioned schema of docs/json-schema.md).
 */
#ifndef REFSAN_REPORT_H
#define REFSAN_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define REPORT_SCHEMA 1

enum report_kind {
	KIND_LEAK,
	KIND_DOUBLE_RELEASE,
	KIND_INVALID_RELEASE,
	KIND_USE_AFTER_RELEASE,
	KIND_FAMILY_MISMATCH,
	KIND_COUNT
};

/* "leak", "double_release", ... */
const char *report_kind_name(enum report_kind k);

struct report_frame {
	bool python;           /* a Python frame: function, file, line only */
	uintptr_t pc;
	const char *module;    /* base name */
	uintptr_t offset;      /* pc - module base */
	const char *function;  /* NULL if unknown */
	const char *file;      /* NULL if unknown; shown relative to cwd
				  when shorter */
	unsigned line;         /* 0 if unknown */
};

struct report_stack {
	uint32_t id;           /* depot id, the key used in JSON */
	struct report_frame *frames;
	unsigned nframes;
	int tid;               /* thread it was captured on; 0 unknown */
};

struct report_error {
	enum report_kind kind;
	const char *family;    /* NULL: no family */
	const char *function;  /* the spec'd function (or C API name) */
	/* leak */
	uint64_t count;        /* handles in the group */
	unsigned refcount;     /* reference count of the group's handles */
	uintptr_t *handles;    /* the first few of them (nhandles <= count) */
	size_t nhandles;
	bool indirect;         /* only referenced on behalf of another leak */
	uint32_t *acquire_stacks; /* unmatched acquires */
	size_t nacquire_stacks;
	/* misuse */
	uintptr_t handle;
	const char *expected_family; /* family_mismatch: what was accepted */
	/* stacks (depot ids, 0 = none) */
	uint32_t stack;        /* leak: the creation stack; misuse: the bad call */
	uint32_t last_release_stack;
	uint32_t created_stack;
	/* suppression that matched, or NULL */
	const char *suppressed_by;
};

struct report_suppression {
	const char *rule;      /* "leak:create_cached_dog" */
	uint64_t hits;         /* errors suppressed */
	uint64_t handles;      /* handles in them */
};

struct report {
	int pid;
	int ppid;
	const char *const *argv;
	size_t argc;
	int exit_status;       /* the status the process exits with */
	const char *const *specs;
	size_t nspecs;
	struct {
		uint64_t created, acquired, released, live, peak_live;
	} counters;
	bool incomplete;       /* drops or internal failures: facts missing */
	const char *incomplete_reason;
	bool final;            /* the exit report (else an on-demand one) */
	bool print_misuse;     /* text: render the misuse errors too; by
				  default only leaks and the summary, since
				  each misuse error was printed live with
				  report_write_text_error() */
	struct report_error *errors;        /* not suppressed; leaks last */
	size_t nerrors;
	struct report_error *suppressed;
	size_t nsuppressed;
	struct report_suppression *suppressions; /* rules with hits */
	size_t nsuppressions;
	struct report_stack *stacks;        /* every stack named above */
	size_t nstacks;
};

/* The stack with depot id ID in R, or NULL. */
const struct report_stack *report_find_stack(const struct report *r,
					     uint32_t id);

/* Render R as text (DESIGN.md's shape) to FD; 0 or -errno. */
int report_write_text(int fd, const struct report *r);
/* Render one misuse error as it is printed the moment it happens. */
int report_write_text_error(int fd, const struct report *r,
			    const struct report_error *e);
/* Render R as JSON to FD; 0 or -errno. */
int report_write_json(int fd, const struct report *r);

#endif
