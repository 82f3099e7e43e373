/*
 * spec_check.c: `refsan spec check`, which parses specs exactly as the
 * shim does (src/spec.c, the same code) so that a CI step can reject a bad
 * spec before any test runs, and, given the library, says which of the
 * spec's functions it exports and which it lacks: a typo in a function
 * name is otherwise only a warning when the library loads, and a glob
 * that matches nothing silently tracks nothing.  The library is read from
 * its file (elf_exports.c), never loaded.
 *
 * Exit status: 0 when the spec parses (and, with --lib, every named
 * function is exported and every glob matches something), 1 when
 * functions are missing, 2 when a spec does not parse or a file cannot be
 * read.
 */
#include <fnmatch.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "elf_exports.h"
#include "refsan_paths.h"
#include "spec.h"

static const char usage[] =
        "usage: refsan spec check FILE... [--lib LIB]\n"
        "\n"
        "Parses the specs (files or bundled profile names) as the shim does\n"
        "and prints their rules.  With --lib (a path or a soname such as\n"
        "libsqlite3.so.0), lists which functions of the spec the library\n"
        "exports, which it lacks, and what each glob matches, reading the\n"
        "library's dynamic symbol table without loading it.\n"
        "Exit status: 0 all good, 1 functions missing, 2 bad spec or file.\n";

static const char *const role_names[] = { "create", "acquire", "release",
	                                  "use" };

static const char *
base_name(const char *p)
{
	const char *s = strrchr(p, '/');

	return s ? s + 1 : p;
}

/* Whether library section LIB of S applies to the file at PATH/REAL. */
static bool
lib_matches(const struct spec *s, unsigned lib, const char *path,
            const char *real)
{
	return fnmatch(s->libs[lib].pattern, base_name(path), 0) == 0 ||
	       (real && fnmatch(s->libs[lib].pattern, base_name(real), 0) == 0);
}

/* Edit distance of A and B (both at most 63 bytes compared). */
static unsigned
distance(const char *a, const char *b)
{
	unsigned row[64], i, j, la = (unsigned)strlen(a),
	                        lb = (unsigned)strlen(b);

	if (la > 63)
		la = 63;
	if (lb > 63)
		lb = 63;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		unsigned prev = row[0], cur;

		row[0] = i;
		for (j = 1; j <= lb; j++) {
			cur = row[j];
			row[j] = a[i - 1] == b[j - 1] ? prev : 1 + prev;
			if (row[j] > cur + 1)
				row[j] = cur + 1;
			if (row[j] > row[j - 1] + 1)
				row[j] = row[j - 1] + 1;
			prev = cur;
		}
	}
	return row[lb];
}

/* The export closest to NAME, when close enough to be a typo. */
static const char *
closest(const struct elf_exports *ex, const char *name)
{
	const char *best = NULL;
	unsigned bd = 3, d;
	size_t i;

	for (i = 0; i < ex->n; i++) {
		d = distance(name, ex->names[i]);
		if (d < bd) {
			bd = d;
			best = ex->names[i];
		}
	}
	return best;
}

static int
check_lib(const struct spec *s, const char *lib)
{
	struct elf_exports ex;
	char err[256], *path, *real;
	size_t i, j, missing = 0, matched_sections = 0, checked = 0;
	bool *use_lib;

	path = elf_find_library(lib);
	if (!path) {
		cli_error("--lib %s: library not found (give its path, or a "
		          "soname the dynamic linker finds)",
		          lib);
		return EXIT_USAGE;
	}
	if (elf_exports_read(path, &ex, err, sizeof(err))) {
		cli_error("--lib %s: %s", path, err);
		free(path);
		return EXIT_USAGE;
	}
	real = realpath(path, NULL);
	use_lib = xcalloc(s->nlibs ? s->nlibs : 1, sizeof(*use_lib));
	for (i = 0; i < s->nlibs; i++) {
		use_lib[i] = lib_matches(s, (unsigned)i, path, real);
		matched_sections += use_lib[i];
	}
	if (!matched_sections) {
		printf("note: no library section of the spec matches %s;"
		       " checking every rule against it\n",
		       base_name(real ? real : path));
		for (i = 0; i < s->nlibs; i++)
			use_lib[i] = true;
	}
	printf("%s: %zu exported function(s)\n", path, ex.n);
	for (i = 0; i < s->nrules; i++) {
		const struct spec_rule *r = &s->rules[i];

		if (r->lib >= s->nlibs || !use_lib[r->lib])
			continue;
		checked++;
		if (!r->is_glob) {
			bool ok = elf_exports_has(&ex, r->func);

			printf("  %-8s %-28s %s", role_names[r->role], r->func,
			       ok ? "exported" : "MISSING: not exported");
			if (!ok) {
				const char *near = closest(&ex, r->func);

				printf(" (%s:%u)", r->file, r->line);
				if (near)
					printf("; did you mean %s?", near);
				missing++;
			}
			printf("\n");
			continue;
		}
		{
			size_t n = 0;

			for (j = 0; j < ex.n; j++)
				if (fnmatch(r->func, ex.names[j], 0) == 0)
					n++;
			printf("  %-8s %-28s glob: %zu match(es)%s",
			       role_names[r->role], r->func, n,
			       n ? ":"
			         : " (MISSING: the glob matches nothing)");
			for (j = 0; j < ex.n; j++)
				if (fnmatch(r->func, ex.names[j], 0) == 0)
					printf(" %s", ex.names[j]);
			if (!n) {
				printf(" (%s:%u)", r->file, r->line);
				missing++;
			}
			printf("\n");
		}
	}
	if (missing)
		printf("refsan: %zu of %zu rule(s) name functions %s does not "
		       "export\n",
		       missing, checked, base_name(path));
	else
		printf("refsan: all %zu rule(s) name functions %s exports\n",
		       checked, base_name(path));
	free(use_lib);
	free(real);
	free(path);
	elf_exports_free(&ex);
	return missing ? 1 : EXIT_CLEAN;
}

int
cmd_spec_check(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "lib", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *lib = NULL, *env = getenv("REFSAN_PROFILE_PATH");
	struct sbuf list = { 0 }, dirs = { 0 };
	struct spec_err err;
	struct spec s;
	char msg[1024];
	size_t i;
	int c, status;

	optind = 1;
	while ((c = getopt_long(argc, argv, "l:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'l':
			lib = optarg;
			break;
		case 'h':
			fputs(usage, stdout);
			return EXIT_CLEAN;
		default:
			fputs(usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		cli_error("spec check: expected a spec file");
		fputs(usage, stderr);
		return EXIT_USAGE;
	}
	for (i = (size_t)optind; i < (size_t)argc; i++) {
		if (list.len)
			sbuf_puts(&list, ",");
		sbuf_puts(&list, argv[i]);
	}
	if (env && *env)
		sbuf_printf(&dirs, "%s:", env);
	{
		char dir[4096], *rel, *real;

		/* Profiles installed beside this refsan. */
		if (self_exe_dir(dir, sizeof(dir))) {
			rel = xasprintf("%s/" REFSAN_BIN_TO_PROFILES, dir);
			real = realpath(rel, NULL);
			if (real)
				sbuf_printf(&dirs, "%s:", real);
			free(real);
			free(rel);
		}
	}
	sbuf_puts(&dirs, REFSAN_PROFILE_DIRS);
	spec_init(&s);
	if (spec_load_list(&s, list.s, dirs.s, &err)) {
		spec_err_format(&err, msg, sizeof(msg));
		fprintf(stderr, "%s\n", msg);
		status = EXIT_USAGE;
		goto out;
	}
	printf("%s: ok: %zu rule(s) in %zu library section(s)", list.s,
	       s.nrules, s.nlibs);
	if (s.nfamilies) {
		printf(", families:");
		for (i = 1; i <= s.nfamilies; i++)
			printf("%s %s", i > 1 ? "," : "", s.families[i]);
	}
	printf("\n");
	for (i = 0; i < s.nlibs; i++)
		printf("  library %s (%s:%u)\n", s.libs[i].pattern,
		       s.libs[i].file, s.libs[i].line);
	status = lib ? check_lib(&s, lib) : EXIT_CLEAN;
out:
	spec_free(&s);
	sbuf_free(&list);
	sbuf_free(&dirs);
	return status;
}
