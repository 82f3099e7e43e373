/*
 * options.h: REFSAN_OPTIONS, parsed once at load into one struct that the
 * rest of the shim reads.  The list itself is options.inc.
 */
#ifndef REFSAN_OPTIONS_H
#define REFSAN_OPTIONS_H

#include <stdbool.h>

typedef unsigned opt_uint;
typedef bool opt_bool;
typedef const char *opt_str;    /* never NULL; "" when unset */
typedef unsigned opt_signum;    /* 0 or a signal number 1..64 */
typedef unsigned opt_badspec;   /* ON_BAD_SPEC_EXIT or ON_BAD_SPEC_IGNORE */

enum { ON_BAD_SPEC_EXIT = 0, ON_BAD_SPEC_IGNORE = 1 };

struct refsan_options {
#define REFSAN_OPTION(kind, name, def, help) opt_##kind name;
#include "options.inc"
#undef REFSAN_OPTION
};

struct options_err {
	/* "unknown option 'foo' (known: spec, log_path, ...)": room for a
	 * 40-byte key and the whole list of known ones */
	char msg[512];
};

/* The options the shim runs with (set by init). */
extern struct refsan_options refsan_opts;

/* Fill *o with every default. */
void options_defaults(struct refsan_options *o);

/*
 * Parse "k=v:k=v" over *o (which holds defaults or earlier values).
 * Returns 0, or -EINVAL with err->msg naming the key and what was expected;
 * *o is untouched on failure.  String values point into memory owned by
 * the options module (copies), valid for the life of the process.
 */
int options_parse(struct refsan_options *o, const char *str,
		  struct options_err *err);

/*
 * Set one option from its raw VALUE, taken whole: no quoting and no ':'
 * splitting (REFSAN_SPEC=/path/with:colon.spec).  Same errors as
 * options_parse.
 */
int options_set(struct refsan_options *o, const char *key, const char *value,
		struct options_err *err);

/* Write every option with its default and meaning to FD (help=1). */
void options_print_help(int fd);

/* Write the README's "| key | default | meaning |" table to FD. */
void options_write_markdown_table(int fd);

#endif
