/*
 * report.c: `refsan report`, which reads the JSON reports of many
 * processes (one CI job, or the shards of many), merges them by error site
 * (model.h), optionally sets aside the sites a baseline already had, and
 * renders the result for people (text), machines (json), CI test tabs
 * (junit) or code scanning (sarif).  Its exit status gates CI: 0 when no
 * error counts, the exitcode (23) otherwise, 2 for bad input.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "model.h"
#include "render.h"
#include "render_html.h"

static const char usage[] =
        "usage: refsan report [--format text|json|junit|sarif|html]\n"
        "                     [--baseline FILE] [--output FILE] [--exitcode N]\n"
        "                     REPORT.json|DIR...\n"
        "\n"
        "Merges the JSON reports of one or many processes (a directory stands\n"
        "for the *.json files in it) and renders them; the same error site in\n"
        "many processes is one group.  With --baseline (an earlier merged or\n"
        "single report), errors at sites the baseline has are listed as known\n"
        "and do not count.  Exit status: 0 when no error counts, the exitcode\n"
        "(23) when some do, 2 on bad arguments or input.\n";

enum format { F_TEXT, F_JSON, F_JUNIT, F_SARIF, F_HTML };

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Append the *.json files of DIR, sorted, to *files. */
static int
add_dir(const char *dir, char ***files, size_t *n, size_t *cap)
{
	struct dirent *de;
	size_t first = *n;
	DIR *d = opendir(dir);

	if (!d) {
		cli_error("%s: cannot read the directory: %s", dir,
		          strerror(errno));
		return -1;
	}
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' || !str_ends_with(de->d_name, ".json"))
			continue;
		if (*n == *cap) {
			*cap = *cap ? *cap * 2 : 64;
			*files = xrealloc(*files, *cap * sizeof(**files));
		}
		(*files)[(*n)++] = xasprintf("%s%s%s", dir,
		                             str_ends_with(dir, "/") ? "" : "/",
		                             de->d_name);
	}
	closedir(d);
	if (*n - first > 1)
		qsort(*files + first, *n - first, sizeof(**files), cmp_str);
	return 0;
}

/* Output to PATH through a temporary file renamed into place, so that a
 * CI step never reads a half-written report. */
struct output {
	int fd;
	char *path, *tmp;
	bool direct; /* not a regular file: written in place */
};

static int
output_open(struct output *o, const char *path)
{
	memset(o, 0, sizeof(*o));
	if (!path || strcmp(path, "-") == 0) {
		o->fd = 1;
		return 0;
	}
	/* Something that is not a regular file (/dev/null, a pipe, a
	 * terminal) is written as it is: renaming over it would replace it. */
	{
		struct stat st;
		if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
			o->fd = open(path, O_WRONLY | O_CLOEXEC);
			if (o->fd < 0) {
				cli_error("%s: cannot write the output: %s",
				          path, strerror(errno));
				return -1;
			}
			o->direct = true;
			return 0;
		}
	}
	o->path = xstrdup(path);
	o->tmp = xasprintf("%s.tmp.XXXXXX", path);
	o->fd = mkostemp(o->tmp, O_CLOEXEC);
	if (o->fd < 0) {
		cli_error("%s: cannot write the output: %s", path,
		          strerror(errno));
		free(o->path);
		free(o->tmp);
		return -1;
	}
	fchmod(o->fd, 0644);
	return 0;
}

static int
output_close(struct output *o, bool ok)
{
	int r = 0;

	if (o->direct)
		return close(o->fd) == 0 && ok ? 0 : -1;
	if (!o->path)
		return 0;
	if (close(o->fd) && ok) {
		cli_error("%s: %s", o->path, strerror(errno));
		ok = false;
	}
	if (ok && rename(o->tmp, o->path)) {
		cli_error("%s: cannot write the output: %s", o->path,
		          strerror(errno));
		ok = false;
	}
	if (!ok) {
		unlink(o->tmp);
		r = -1;
	}
	free(o->path);
	free(o->tmp);
	return r;
}

int
cmd_report(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "baseline", required_argument, NULL, 'b' },
		{ "output", required_argument, NULL, 'o' },
		{ "exitcode", required_argument, NULL, 'e' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *baseline = NULL, *output = NULL;
	enum format fmt = F_TEXT;
	struct model m, base;
	struct output out;
	char **files = NULL;
	size_t nfiles = 0, cap = 0, i;
	int c, status = EXIT_USAGE, exitcode = EXIT_ERRORS_DEF, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+f:b:o:h", longopts, NULL)) !=
	       -1) {
		switch (c) {
		case 'f':
			if (strcmp(optarg, "text") == 0)
				fmt = F_TEXT;
			else if (strcmp(optarg, "json") == 0)
				fmt = F_JSON;
			else if (strcmp(optarg, "junit") == 0)
				fmt = F_JUNIT;
			else if (strcmp(optarg, "sarif") == 0)
				fmt = F_SARIF;
			else if (strcmp(optarg, "html") == 0)
				fmt = F_HTML;
			else {
				cli_error(
				        "--format: expected text, json, junit, "
				        "sarif or html, got '%s'",
				        optarg);
				return EXIT_USAGE;
			}
			break;
		case 'b':
			baseline = optarg;
			break;
		case 'o':
			output = optarg;
			break;
		case 'e': {
			char *end;
			long v = strtol(optarg, &end, 10);

			if (!*optarg || *end || v < 0 || v > 255) {
				cli_error(
				        "--exitcode: expected 0..255, got '%s'",
				        optarg);
				return EXIT_USAGE;
			}
			exitcode = (int)v;
			break;
		}
		case 'h':
			fputs(usage, stdout);
			return EXIT_CLEAN;
		default:
			fputs(usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		cli_error("report: expected one or more REPORT.json files");
		fputs(usage, stderr);
		return EXIT_USAGE;
	}
	for (i = (size_t)optind; i < (size_t)argc; i++) {
		struct stat st;

		if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
			if (add_dir(argv[i], &files, &nfiles, &cap))
				goto free_files;
			continue;
		}
		if (nfiles == cap) {
			cap = cap ? cap * 2 : 64;
			files = xrealloc(files, cap * sizeof(*files));
		}
		files[nfiles++] = xstrdup(argv[i]);
	}
	if (!nfiles) {
		cli_error("report: no *.json report in the directories given");
		goto free_files;
	}
	model_init(&m);
	model_init(&base);
	if (model_add_files(&m, files, nfiles, false))
		goto free_models;
	model_finish(&m);
	if (baseline) {
		if (model_add_file(&base, baseline))
			goto free_models;
		model_apply_baseline(&m, &base, baseline);
	}
	if (output_open(&out, output))
		goto free_models;
	switch (fmt) {
	case F_JSON:
		r = render_json(out.fd, &m);
		break;
	case F_JUNIT:
		r = render_junit(out.fd, &m);
		break;
	case F_SARIF:
		r = render_sarif(out.fd, &m);
		break;
	case F_HTML:
		r = render_html(out.fd, &m);
		break;
	default:
		r = render_text(out.fd, &m);
		break;
	}
	if (r)
		cli_error("%s: cannot write the output: %s",
		          output ? output : "standard output",
		          r < 0 ? strerror(-r) : "error");
	if (output_close(&out, r == 0) || r)
		goto free_models;
	if (output && fmt != F_TEXT) {
		/* The file is for machines; people get the SUMMARY line. */
		struct totals t;
		struct sbuf line = { 0 };

		model_totals(&m, &t);
		summary_line(&m, &t, &line);
		fputs(line.s, stderr);
		sbuf_free(&line);
	}
	status = model_counting(&m) ? exitcode : EXIT_CLEAN;
free_models:
	model_free(&m);
	model_free(&base);
free_files:
	for (i = 0; i < nfiles; i++)
		free(files[i]);
	free(files);
	return status;
}
