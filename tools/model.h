/*
 * model.h: the merged report that `refsan report` and `refsan run` build
 * from the JSON reports of many processes (docs/json-schema.md), and that
 * the renderers (render_*.c) print.
 *
 * Reports of different processes cannot be merged by their numbers: stack
 * ids are per process, and addresses move with ASLR.  So every string is
 * interned, every frame is interned by what stays the same from run to run
 * (Python or native, function, file, line, module, and the module offset
 * only when nothing else names the frame), every stack by its frames, and
 * an error group by its site: kind, family, function and stack.  The same
 * leak site in ten processes is then one group whose count is the sum and
 * whose pids are the ten processes.  The site also has a 64-bit content
 * hash ("site" in the merged JSON, the SARIF fingerprint) computed from the
 * text alone, so it is the same in every run and on every machine that has
 * the same sources at the same paths; a baseline matches sites by it.
 */
#ifndef REFSAN_MODEL_H
#define REFSAN_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "json_read.h"
#include "report.h"

/* Handles listed per leak group, as the shim lists them. */
#define MODEL_MAX_HANDLES 16

struct mframe {
	bool python;
	const char *function; /* interned; NULL: unknown */
	const char *file;
	const char *module;
	unsigned line; /* 0: unknown */
	uint64_t pc;   /* of the first occurrence (informative only) */
	uint64_t offset;
	bool has_offset;
	uint64_t hash; /* content hash */
};

struct mstack {
	uint32_t first; /* index of the first frame id in model.stack_frames */
	uint32_t nframes;
	uint64_t hash; /* content hash of the frames */
};

struct mgroup {
	int kind;              /* enum report_kind, or KIND_COUNT: unknown */
	const char *kind_name; /* interned, as in the input */
	const char *family;
	const char *function;
	const char *expected_family;
	const char *suppressed_by;
	uint64_t count; /* leak: handles; misuse: occurrences */
	unsigned refcount;
	bool indirect;
	uint64_t handles[MODEL_MAX_HANDLES]; /* leak: the first few */
	unsigned nhandles;
	uint64_t handle; /* misuse: the first handle */
	uint32_t stack;  /* model stack ids, 0: none */
	uint32_t last_release_stack;
	uint32_t created_stack;
	int stack_tid; /* threads the stacks were captured on (as
				  the first report has them), 0: unknown */
	int last_release_tid;
	int created_tid;
	uint32_t *acquire_stacks;
	unsigned nacquire_stacks;
	int *pids; /* sorted, unique after model_finish() */
	size_t npids, cap_pids;
	uint64_t site; /* content hash: kind, family, function, stack */
	size_t order;  /* first appearance */
	bool known;    /* in the baseline: does not count */
	bool suppressed;
};

struct mprocess {
	int pid, ppid, exit_status;
	const char **argv; /* interned; NULL entries for null */
	size_t argc;
	bool final;
	bool incomplete;
	const char *incomplete_reason;
	const char *file; /* the report it came from */
	uint64_t nerrors; /* error groups that counted in its own report */
};

struct msuppression {
	const char *rule;
	uint64_t hits, handles;
};

struct model_tables; /* the interning hash tables (merge.c) */

struct model {
	struct model_tables *t;
	/* interned frames and stacks; id 0 of each is unused */
	struct mframe *frames;
	size_t nframes, cap_frames;
	uint32_t *stack_frames; /* frame ids of every stack, back to back */
	size_t nstack_frames, cap_stack_frames;
	struct mstack *stacks;
	size_t nstacks, cap_stacks;
	/* error groups, suppressed groups */
	struct mgroup *groups;
	size_t ngroups, cap_groups;
	struct mprocess *procs;
	size_t nprocs, cap_procs;
	struct msuppression *supps;
	size_t nsupps, cap_supps;
	const char **specs;
	size_t nspecs, cap_specs;
	const char **files; /* merged_from */
	size_t nfiles, cap_files;
	struct {
		uint64_t created, acquired, released, live, peak_live;
	} counters;
	bool final;      /* every report was a final one */
	bool incomplete; /* some report was */
	char *incomplete_reason;
	const char *baseline; /* file name, when one was applied */
	/* After model_finish(): the groups in output order. */
	struct mgroup **order;
	size_t norder;
};

/* Limits on what a report may hold, beyond the JSON reader's. */
#define MODEL_MAX_FILE_BYTES ((size_t)1 << 30)

void model_init(struct model *m);
void model_free(struct model *m);

/*
 * Add the report at PATH (read and parsed here).  On a fault, prints
 * "refsan: error: PATH:LINE:COL: ..." and returns -1; the model is then
 * unusable for output but may be freed.
 */
int model_add_file(struct model *m, const char *path);
/*
 * Add the reports at PATHS[0..N), in that order, reading and parsing the
 * next while merging one.  Stops at the first fault unless KEEP_GOING;
 * -1 when any report could not be added (messages printed).
 */
int model_add_files(struct model *m, char *const *paths, size_t n,
                    bool keep_going);
/* Add a parsed report; NAME for messages. */
int model_add_doc(struct model *m, const struct json_doc *doc,
                  const char *name);

/*
 * Sort: misuse errors in the order they first appeared, then leak groups
 * by count (largest first), suppressed groups last; pids sorted.
 */
void model_finish(struct model *m);

/* Mark groups whose site BASE also has as known. */
void model_apply_baseline(struct model *m, const struct model *base,
                          const char *name);

/* Groups that count (neither known nor suppressed). */
size_t model_counting(const struct model *m);

/* The frames of stack ID (NULL, 0 when ID is 0 or unknown). */
const uint32_t *model_stack(const struct model *m, uint32_t id, size_t *n);

/*
 * The frame to point a person at for group G: in its main stack, after the
 * spec'd function's own frame, the innermost frame whose source file lies
 * under the working directory (the checkout, in CI; a relative path counts
 * too) outside site-packages, else the innermost with a source file (not
 * "<...>").  NULL when no frame has a file.
 */
const struct mframe *model_site_frame(const struct model *m,
                                      const struct mgroup *g);
/* The same rule for any stack; SKIP_FUNCTION: the callee to step over. */
const struct mframe *model_stack_site_frame(const struct model *m,
                                            uint32_t stack,
                                            const char *skip_function);

/* The pid shown in "==PID==" lines: the first report's. */
int model_main_pid(const struct model *m);

/*
 * The model as the shim's report struct (report.h), for its text renderer.
 * Groups become report_errors in output order (misuse then leaks, known
 * and suppressed ones left out unless WITH_ALL); free with
 * model_report_free.
 */
struct model_report {
	struct report r;
	struct report_frame *frames; /* every stack's frames, one block */
};
void model_to_report(const struct model *m, struct model_report *mr,
                     bool with_all);
void model_report_free(struct model_report *mr);
/* The report_error of group G, in the report of model_to_report. */
void model_group_to_error(const struct mgroup *g, struct report_error *e);

#endif
