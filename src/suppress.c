/*
 * suppress.c: suppressions files (DESIGN.md, "Suppressions"), in the
 * KIND:PATTERN form LeakSanitizer users already write.  They let a project
 * adopt refsan while a third-party library still leaks, without losing the
 * count of what was hidden.  Loading runs at start and checks every line
 * (a misspelt kind would otherwise silently suppress nothing); matching
 * runs at report time, never on the hot path.
 */
#include <errno.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text_file.h"
#include "suppress.h"

#define QUOTE_MAX 60
/* Longest line of a suppressions file. */
#define SUPP_LINE_MAX TEXT_LINE_MAX

static const char *const kinds[] = {
	"leak",
	"double_release",
	"invalid_release",
	"use_after_release",
	"family_mismatch",
	"*",
};

static bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' ||
	       c == '\f';
}

static int __attribute__((format(printf, 5, 6)))
fail(const struct suppress *s, unsigned line, unsigned col,
     struct suppress_err *err, const char *fmt, ...)
{
	va_list ap;

	snprintf(err->file, sizeof(err->file), "%s",
	         s->file ? s->file : "<suppressions>");
	err->line = line;
	err->col = col;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

void
suppress_init(struct suppress *s)
{
	memset(s, 0, sizeof(*s));
}

static void
truncate_rules(struct suppress *s, size_t n)
{
	while (s->nrules > n) {
		struct suppress_rule *r = &s->rules[--s->nrules];

		free(r->kind);
		free(r->pattern);
	}
}

void
suppress_free(struct suppress *s)
{
	truncate_rules(s, 0);
	free(s->rules);
	free(s->file);
	suppress_init(s);
}

int
suppress_parse_line(struct suppress *s, const char *line, unsigned lineno,
                    struct suppress_err *err)
{
	const char *p = line, *end = line + strlen(line), *colon, *kend, *pat;
	struct suppress_rule r = { 0 }, *rules;
	size_t klen, i;

	while (p < end && is_space(*p))
		p++;
	while (end > p && is_space(end[-1]))
		end--;
	if (p == end || *p == '#')
		return 0;
	colon = memchr(p, ':', (size_t)(end - p));
	kend = colon;
	while (kend && kend > p && is_space(kend[-1]))
		kend--;
	if (!colon || kend == p) {
		size_t n = (size_t)(end - p);

		return fail(s, lineno, (unsigned)(p - line) + 1, err,
		            "expected KIND:PATTERN, got '%.*s%s'",
		            (int)(n > QUOTE_MAX ? QUOTE_MAX : n), p,
		            n > QUOTE_MAX ? "..." : "");
	}
	klen = (size_t)(kend - p);
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (strlen(kinds[i]) == klen && memcmp(kinds[i], p, klen) == 0)
			break;
	}
	if (i == sizeof(kinds) / sizeof(kinds[0]))
		return fail(
		        s, lineno, (unsigned)(p - line) + 1, err,
		        "unknown kind '%.*s%s' (expected leak, double_release, invalid_release, use_after_release or family_mismatch)",
		        (int)(klen > QUOTE_MAX ? QUOTE_MAX : klen), p,
		        klen > QUOTE_MAX ? "..." : "");
	pat = colon + 1;
	while (pat < end && is_space(*pat))
		pat++;
	if (pat == end)
		return fail(s, lineno, (unsigned)(colon - line) + 2, err,
		            "empty pattern");

	r.kind = strdup(kinds[i]);
	r.pattern = strndup(pat, (size_t)(end - pat));
	r.line = lineno;
	rules = realloc(s->rules, (s->nrules + 1) * sizeof(*rules));
	if (!r.kind || !r.pattern || !rules) {
		if (rules)
			s->rules = rules;
		free(r.kind);
		free(r.pattern);
		return fail(s, lineno, (unsigned)(p - line) + 1, err,
		            "out of memory");
	}
	s->rules = rules;
	s->rules[s->nrules++] = r;
	return 0;
}

int
suppress_load_file(struct suppress *s, const char *path,
                   struct suppress_err *err)
{
	size_t nrules = s->nrules, cap = 0;
	char *old = s->file, *buf = NULL;
	unsigned lineno = 0;
	ssize_t len;
	FILE *f;
	int rc = 0;

	f = fopen(path, "r");
	if (!f) {
		rc = -errno;
		goto read_error;
	}
	s->file = strdup(path);
	if (!s->file) {
		fclose(f);
		s->file = old;
		rc = -ENOMEM;
		goto read_error;
	}
	errno = 0;
	while ((len = text_read_line(f, &buf, &cap)) >= 0) {
		lineno++;
		if (strlen(buf) != (size_t)len) {
			rc = fail(
			        s, lineno, (unsigned)strlen(buf) + 1, err,
			        "NUL byte in the line (is this a text file?)");
			break;
		}
		/* The trailing newline (and a CR before it) is trimmed as
		 * whitespace by the line parser. */
		rc = suppress_parse_line(s, buf, lineno, err);
		if (rc)
			break;
	}
	if (!rc && len == -2)
		rc = fail(s, lineno + 1, 1, err,
		          "line longer than %d bytes (is this a text file?)",
		          SUPP_LINE_MAX);
	if (!rc && len == -3)
		errno = ENOMEM;
	if (!rc && (ferror(f) || len == -3)) {
		rc = -(errno ? errno : EIO);
		fclose(f);
		free(buf);
		free(s->file);
		s->file = old;
		goto read_error;
	}
	free(buf);
	fclose(f);
	if (rc) {
		truncate_rules(s, nrules);
		free(s->file);
		s->file = old;
		return rc;
	}
	free(old);
	return 0;
read_error:
	snprintf(err->file, sizeof(err->file), "%s", path);
	err->line = 0;
	err->col = 0;
	snprintf(err->msg, sizeof(err->msg),
	         "cannot read suppressions file: %s", strerror(-rc));
	return rc;
}

static const char *
base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

/*
 * A glob is matched whole, as fnmatch does; a bare word anywhere in the
 * name, as LSan does.  A glob without '/' is also tried on the base name
 * of a path, so that leak:libfoo.so* matches /usr/lib/libfoo.so.1.
 */
static bool
pattern_matches(const char *pattern, const char *name)
{
	if (!strpbrk(pattern, "*?["))
		return strstr(name, pattern) != NULL;
	if (fnmatch(pattern, name, 0) == 0)
		return true;
	return !strchr(pattern, '/') && strchr(name, '/') &&
	       fnmatch(pattern, base_name(name), 0) == 0;
}

struct suppress_rule *
suppress_match(struct suppress *s, const char *kind, const char *const *names,
               size_t nnames)
{
	size_t i, j;

	for (i = 0; i < s->nrules; i++) {
		struct suppress_rule *r = &s->rules[i];

		if (strcmp(r->kind, "*") && strcmp(r->kind, kind))
			continue;
		for (j = 0; j < nnames; j++) {
			if (names[j] && pattern_matches(r->pattern, names[j]))
				return r;
		}
	}
	return NULL;
}
