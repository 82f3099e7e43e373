/*
 * suppress.h: suppressions files (DESIGN.md, "Suppressions"), one
 * KIND:PATTERN rule a line, matched at report time against the function,
 * file and module names of every frame of an error's stack.
 */
#ifndef REFSAN_SUPPRESS_H
#define REFSAN_SUPPRESS_H

#include <stddef.h>

struct suppress_rule {
	char *kind;            /* leak, double_release, invalid_release,
				  use_after_release, family_mismatch, or "*" */
	char *pattern;         /* fnmatch glob; a bare word matches as *word* */
	unsigned line;
	unsigned long hits;    /* errors it suppressed */
	unsigned long handles; /* handles in those errors (leak counts) */
};

struct suppress {
	struct suppress_rule *rules;
	size_t nrules;
	char *file;
};

struct suppress_err {
	char file[256];
	unsigned line;
	unsigned col;
	char msg[256];
};

void suppress_init(struct suppress *s);
void suppress_free(struct suppress *s);
/* 0, or -EINVAL/-errno with *err naming the file, line and what was expected. */
int suppress_load_file(struct suppress *s, const char *path,
		       struct suppress_err *err);
int suppress_parse_line(struct suppress *s, const char *line, unsigned lineno,
			struct suppress_err *err);

/*
 * The first rule of KIND whose pattern matches any of the NAMES (function,
 * file and module names of the error's frames; NULL entries skipped), or
 * NULL.
 */
struct suppress_rule *suppress_match(struct suppress *s, const char *kind,
				     const char *const *names, size_t nnames);

#endif
