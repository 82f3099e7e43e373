/*
 * spec.h: the spec language (DESIGN.md, "The spec"): which exports of which
 * library create, acquire, release or use a handle.  Parsed once at start;
 * the hot path only reads the resulting rules.
 */
#ifndef REFSAN_SPEC_H
#define REFSAN_SPEC_H

#include <stddef.h>
#include <stdint.h>

enum spec_role { ROLE_CREATE, ROLE_ACQUIRE, ROLE_RELEASE, ROLE_USE };
enum spec_pos { POS_RET, POS_ARG, POS_OUTARG };   /* ret, argN, *argN */
enum spec_cond { COND_NONE, COND_EQ, COND_NE, COND_GE, COND_LT, COND_GT,
		 COND_LE };

#define SPEC_MAX_FAMILIES 63   /* family ids 1..63; 0 = no family */
#define SPEC_MAX_ARG 15        /* argN, N in 0..15 */

struct spec_rule {
	enum spec_role role;
	char *func;            /* exported name or glob (fnmatch) */
	int is_glob;           /* func holds * ? or [ */
	enum spec_pos pos;
	int argn;              /* for POS_ARG / POS_OUTARG */
	enum spec_cond cond;
	int64_t cond_val;      /* "null" parses as 0 */
	unsigned family;       /* create: family id (0: none) */
	uint64_t accept;       /* other roles: bit i = family id i accepted;
				  0 = any family */
	int idempotent;        /* release: releasing a handle that is not
				  live (never created, or already released)
				  is the library's no-op, not an error */
	int borrowed;          /* create: an up_ref; on an object refsan never
				  saw created (a borrowed get0 pointer) the
				  library holds a reference of its own too */
	unsigned lib;          /* index into spec.libs */
	const char *file;      /* spec file the rule came from */
	unsigned line;
};

struct spec_lib {
	char *pattern;         /* glob on the object's file name, "libzoo.so*" */
	const char *file;
	unsigned line;
};

struct spec {
	struct spec_lib *libs;
	size_t nlibs;
	struct spec_rule *rules;
	size_t nrules;
	char *families[SPEC_MAX_FAMILIES + 1]; /* [0] unused */
	unsigned nfamilies;
	char **files;          /* every file loaded, as named by the user */
	size_t nfiles;
	/* parser state while reading one file */
	const char *cur_file;
	unsigned cur_line;
	int cur_lib;           /* -1 before the first library line */
};

struct spec_err {
	char file[256];
	unsigned line;
	unsigned col;          /* 1-based */
	char msg[256];         /* "expected ret, argN or *argN, got 'foo'" */
};

void spec_init(struct spec *s);
void spec_free(struct spec *s);

/*
 * Parse one line (no trailing newline needed) in the context of s->cur_file
 * and s->cur_line.  Returns 0, or -EINVAL with *err filled (file, line,
 * col, msg); *s is untouched on failure.
 */
int spec_parse_line(struct spec *s, const char *line, struct spec_err *err);

/* Load one file. -EINVAL (syntax) or -errno (cannot read) with *err. */
int spec_load_file(struct spec *s, const char *path, struct spec_err *err);

/*
 * Load a comma-separated list of files or bundled profile names (a name
 * without '/' and without ".spec" that is not an existing file is looked up
 * as DIR/NAME.spec in each directory of the colon-separated PROFILE_DIRS).
 */
int spec_load_list(struct spec *s, const char *list, const char *profile_dirs,
		   struct spec_err *err);

/* The id of family NAME, or 0 when the spec never named it. */
unsigned spec_family_id(const struct spec *s, const char *name);

/* Format "refsan: error: FILE:LINE:COL: MSG" into buf. */
void spec_err_format(const struct spec_err *err, char *buf, size_t len);

#endif
