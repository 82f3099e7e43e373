/*
 * spec.c: the parser of spec files (DESIGN.md, "The spec").  A spec is the
 * user's only way to tell refsan what a handle is, and a mistake in it
 * either hides real bugs or floods a run with false ones, so the parser is
 * strict: every line is checked in full, and an error names the file, the
 * line, the 1-based column of the offending token, what was expected and
 * what was found.  Parsing runs once at start, before anything is
 * intercepted, so it may use malloc and stdio freely.  Loading is
 * all-or-nothing: a line or a file that fails leaves the spec as it was.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "text_file.h"
#include "spec.h"

/* Longest token text quoted back in a message. */
#define QUOTE_MAX 60
/* Longest line of a spec file. */
#define SPEC_LINE_MAX TEXT_LINE_MAX

struct tok {
	const char *p;
	size_t len;
	unsigned col;
};

/* Walks the tokens of one line, up to its comment. */
struct cursor {
	const char *line;
	const char *pos;
	const char *end;
	unsigned after; /* column just after the last token read */
};

/* What a spec holds, to undo a load that failed half-way. */
struct snapshot {
	size_t nlibs, nrules, nfiles;
	unsigned nfamilies;
	const char *cur_file;
	unsigned cur_line;
	int cur_lib;
};

static bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' ||
	       c == '\f';
}

static bool
is_ident(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_';
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static void
cursor_init(struct cursor *c, const char *line)
{
	c->line = line;
	c->pos = line;
	c->end = line + strcspn(line, "#");
	c->after = 1;
}

static bool
next_tok(struct cursor *c, struct tok *t)
{
	while (c->pos < c->end && is_space(*c->pos))
		c->pos++;
	if (c->pos >= c->end)
		return false;
	t->p = c->pos;
	while (c->pos < c->end && !is_space(*c->pos))
		c->pos++;
	t->len = (size_t)(c->pos - t->p);
	t->col = (unsigned)(t->p - c->line) + 1;
	c->after = (unsigned)(c->pos - c->line) + 1;
	return true;
}

static bool
tok_is(const struct tok *t, const char *s)
{
	return strlen(s) == t->len && memcmp(t->p, s, t->len) == 0;
}

static bool
tok_starts(const struct tok *t, const char *s)
{
	size_t n = strlen(s);

	return t->len >= n && memcmp(t->p, s, n) == 0;
}

/* Text quoted in messages: at most QUOTE_MAX bytes, then "...". */
#define Q(p, n)                                                                \
	(int)((n) > QUOTE_MAX ? QUOTE_MAX : (n)), (p),                         \
	        ((n) > QUOTE_MAX ? "..." : "")

static int __attribute__((format(printf, 4, 5)))
fail(const struct spec *s, struct spec_err *err, unsigned col, const char *fmt,
     ...)
{
	va_list ap;

	snprintf(err->file, sizeof(err->file), "%s",
	         s->cur_file ? s->cur_file : "<spec>");
	err->line = s->cur_line;
	err->col = col;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int
parse_library(struct spec *s, struct cursor *c, struct spec_err *err)
{
	struct spec_lib *libs;
	struct tok glob, extra;
	char *pattern;

	if (!next_tok(c, &glob))
		return fail(
		        s, err, c->after,
		        "expected a library file name glob after 'library'");
	if (next_tok(c, &extra))
		return fail(
		        s, err, extra.col,
		        "unexpected '%.*s%s' after the library glob (one glob a line)",
		        Q(extra.p, extra.len));
	pattern = strndup(glob.p, glob.len);
	if (!pattern)
		return fail(s, err, glob.col, "out of memory");
	libs = realloc(s->libs, (s->nlibs + 1) * sizeof(*libs));
	if (!libs) {
		free(pattern);
		return fail(s, err, glob.col, "out of memory");
	}
	s->libs = libs;
	libs[s->nlibs].pattern = pattern;
	libs[s->nlibs].file = s->cur_file;
	libs[s->nlibs].line = s->cur_line;
	s->cur_lib = (int)s->nlibs++;
	return 0;
}

/*
 * A C identifier, or a glob of one: identifier characters, '*', '?', and
 * bracket sets like [a-z] or [!_].
 */
static int
check_func(const struct spec *s, const struct tok *t, struct spec_err *err)
{
	size_t i, open = 0;
	bool in_set = false;

	if (is_digit(t->p[0]))
		return fail(s, err, t->col,
		            "function name '%.*s%s' starts with a digit",
		            Q(t->p, t->len));
	for (i = 0; i < t->len; i++) {
		char ch = t->p[i];

		if (in_set) {
			if (ch == ']' && i > open + 1) {
				in_set = false;
				continue;
			}
			if (is_ident(ch) || ch == '-' ||
			    ((ch == '!' || ch == '^') && i == open + 1))
				continue;
		} else {
			if (ch == '[') {
				in_set = true;
				open = i;
				continue;
			}
			if (is_ident(ch) || ch == '*' || ch == '?')
				continue;
		}
		return fail(
		        s, err, t->col + (unsigned)i,
		        "invalid character '%c' in function name '%.*s%s' (expected a C identifier or a glob of one)",
		        ch, Q(t->p, t->len));
	}
	if (in_set)
		return fail(s, err, t->col + (unsigned)open,
		            "unterminated '[' in function glob '%.*s%s'",
		            Q(t->p, t->len));
	return 0;
}

static int
parse_handle(const struct spec *s, const struct tok *t, struct spec_rule *r,
             struct spec_err *err)
{
	const char *digits;
	size_t n, i;
	unsigned v = 0;

	if (tok_is(t, "ret")) {
		r->pos = POS_RET;
		return 0;
	}
	if (tok_starts(t, "*arg")) {
		r->pos = POS_OUTARG;
		digits = t->p + 4;
	} else if (tok_starts(t, "arg")) {
		r->pos = POS_ARG;
		digits = t->p + 3;
	} else {
		goto bad;
	}
	n = t->len - (size_t)(digits - t->p);
	if (!n)
		goto bad;
	for (i = 0; i < n; i++) {
		if (!is_digit(digits[i]))
			goto bad;
		if (v <= SPEC_MAX_ARG)
			v = v * 10 + (unsigned)(digits[i] - '0');
	}
	if (v > SPEC_MAX_ARG)
		return fail(s, err, t->col,
		            "argument index %.*s%s out of range (0..%d)",
		            Q(digits, n), SPEC_MAX_ARG);
	/* A create may take its handle from argN: the address of a
	 * caller's struct that the call initialises (zlib's z_stream). */
	r->argn = (int)v;
	return 0;
bad:
	return fail(s, err, t->col, "expected ret, argN or *argN, got '%.*s%s'",
	            Q(t->p, t->len));
}

/* An integer (decimal or 0x hex, maybe negative) or "null", LEN bytes. */
static int
parse_value(const char *p, size_t len, int64_t *out)
{
	bool neg = false, hex = false;
	uint64_t v = 0, limit;
	size_t i = 0;

	if (len == 4 && memcmp(p, "null", 4) == 0) {
		*out = 0;
		return 0;
	}
	if (i < len && p[i] == '-') {
		neg = true;
		i++;
	}
	if (i + 1 < len && p[i] == '0' &&
	    (p[i + 1] == 'x' || p[i + 1] == 'X')) {
		hex = true;
		i += 2;
	}
	if (i == len)
		return -EINVAL;
	/*
	 * Positive values may use the whole unsigned range (ret==0xffffffff
	 * ffffffff is ret==-1); negative ones stop at INT64_MIN.
	 */
	limit = neg ? (uint64_t)INT64_MAX + 1 : UINT64_MAX;
	for (; i < len; i++) {
		unsigned d;
		char ch = p[i];

		if (is_digit(ch))
			d = (unsigned)(ch - '0');
		else if (hex && ch >= 'a' && ch <= 'f')
			d = (unsigned)(ch - 'a' + 10);
		else if (hex && ch >= 'A' && ch <= 'F')
			d = (unsigned)(ch - 'A' + 10);
		else
			return -EINVAL;
		if (v > (limit - d) / (hex ? 16 : 10))
			return -ERANGE;
		v = v * (hex ? 16 : 10) + d;
	}
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return 0;
}

static int
parse_cond(const struct spec *s, const struct tok *t, struct spec_rule *r,
           struct spec_err *err)
{
	static const struct {
		const char *text;
		enum spec_cond cond;
	} ops[] = {
		{ "==", COND_EQ }, { "!=", COND_NE }, { ">=", COND_GE },
		{ "<=", COND_LE }, { "<", COND_LT },  { ">", COND_GT },
	};
	const char *p = t->p + 3, *end = t->p + t->len;
	size_t i, oplen = 0;
	int rc;

	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		oplen = strlen(ops[i].text);
		if ((size_t)(end - p) >= oplen &&
		    memcmp(p, ops[i].text, oplen) == 0)
			break;
	}
	if (i == sizeof(ops) / sizeof(ops[0])) {
		if (p == end)
			return fail(
			        s, err, t->col + 3,
			        "expected a comparison (==, !=, <, <=, > or >=) right after 'ret', as in ret==0");
		return fail(
		        s, err, t->col + 3,
		        "expected a comparison (==, !=, <, <=, > or >=) after 'ret', got '%.*s%s'",
		        Q(p, (size_t)(end - p)));
	}
	r->cond = ops[i].cond;
	p += oplen;
	rc = parse_value(p, (size_t)(end - p), &r->cond_val);
	if (rc == -ERANGE)
		return fail(s, err, (unsigned)(t->col + (p - t->p)),
		            "value '%.*s%s' out of range for a 64-bit integer",
		            Q(p, (size_t)(end - p)));
	if (rc && p == end)
		return fail(
		        s, err, (unsigned)(t->col + (p - t->p)),
		        "expected an integer or null after 'ret%s', got nothing",
		        ops[i].text);
	if (rc)
		return fail(
		        s, err, (unsigned)(t->col + (p - t->p)),
		        "expected an integer or null after 'ret%s', got '%.*s%s'",
		        ops[i].text, Q(p, (size_t)(end - p)));
	return 0;
}

/* Families a line names that the spec does not know yet. */
struct new_families {
	const char *name[SPEC_MAX_FAMILIES];
	size_t len[SPEC_MAX_FAMILIES];
	unsigned n;
};

static unsigned
family_lookup(const struct spec *s, const struct new_families *nf,
              const char *p, size_t len)
{
	unsigned i;

	for (i = 1; i <= s->nfamilies; i++) {
		if (strlen(s->families[i]) == len &&
		    memcmp(s->families[i], p, len) == 0)
			return i;
	}
	for (i = 0; i < nf->n; i++) {
		if (nf->len[i] == len && memcmp(nf->name[i], p, len) == 0)
			return s->nfamilies + 1 + i;
	}
	return 0;
}

static bool
is_family_char(char c)
{
	return is_ident(c) || c == '-' || c == '.';
}

static int
parse_family(const struct spec *s, const struct tok *t, struct spec_rule *r,
             struct new_families *nf, struct spec_err *err)
{
	const char *val = t->p + 7, *end = t->p + t->len, *p = val;
	unsigned count = 0;

	if (val == end)
		return fail(
		        s, err, t->col + 7,
		        "expected a family name after 'family=', got nothing");
	while (p <= end) {
		const char *q = p;
		unsigned col = (unsigned)(t->col + (p - t->p)), id;

		while (q < end && *q != ',')
			q++;
		if (q == p)
			return fail(s, err, col,
			            "empty family name in '%.*s%s'",
			            Q(t->p, t->len));
		for (const char *x = p; x < q; x++) {
			if (!is_family_char(*x))
				return fail(
				        s, err, (unsigned)(t->col + (x - t->p)),
				        "invalid character '%c' in family name '%.*s%s' (expected letters, digits, '_', '-' or '.')",
				        *x, Q(p, (size_t)(q - p)));
		}
		id = family_lookup(s, nf, p, (size_t)(q - p));
		if (!id) {
			if (s->nfamilies + nf->n >= SPEC_MAX_FAMILIES)
				return fail(
				        s, err, col,
				        "too many families (at most %d), at '%.*s%s'",
				        SPEC_MAX_FAMILIES,
				        Q(p, (size_t)(q - p)));
			nf->name[nf->n] = p;
			nf->len[nf->n] = (size_t)(q - p);
			id = s->nfamilies + 1 + nf->n++;
		}
		count++;
		r->family = id;
		r->accept |= 1ULL << id;
		p = q + 1;
	}
	if (r->role == ROLE_CREATE && count > 1)
		return fail(
		        s, err, t->col + 7,
		        "a create gives its handle exactly one family, got '%.*s%s'",
		        Q(val, (size_t)(end - val)));
	if (r->role == ROLE_CREATE)
		r->accept = 0;
	else
		r->family = 0;
	return 0;
}

/* A flag word T (`idempotent`, `borrowed`): once per rule, on the role it
 * applies to (ALLOWED); APPLIES_TO says which for the error. */
static int
parse_flag(const struct spec *s, struct spec_err *err, const struct tok *t,
           bool allowed, const char *applies_to, int *flag)
{
	if (*flag)
		return fail(s, err, t->col, "duplicate %.*s", (int)t->len, t->p);
	if (!allowed)
		return fail(s, err, t->col, "'%.*s' applies to %s", (int)t->len,
		            t->p, applies_to);
	*flag = 1;
	return 0;
}

/* The optional parts after the handle, in any order: a condition,
 * family=, and the flags `idempotent` (on a release) and `borrowed` (on a
 * create). */
static int
parse_options(const struct spec *s, struct cursor *c, struct spec_rule *r,
              struct new_families *nf, struct spec_err *err)
{
	bool have_cond = false, have_family = false;
	struct tok t;
	int rc;

	while (next_tok(c, &t)) {
		size_t id = 0;

		while (id < t.len && is_ident(t.p[id]))
			id++;
		if (tok_starts(&t, "family=")) {
			if (have_family)
				return fail(s, err, t.col, "duplicate family=");
			have_family = true;
			rc = parse_family(s, &t, r, nf, err);
		} else if (tok_is(&t, "idempotent")) {
			rc = parse_flag(s, err, &t, r->role == ROLE_RELEASE,
			                "a release only (a release of a handle that is not live is then the library's no-op)",
			                &r->idempotent);
		} else if (tok_is(&t, "borrowed")) {
			rc = parse_flag(s, err, &t, r->role == ROLE_CREATE,
			                "a create only (an up_ref of an object the library may also hold)",
			                &r->borrowed);
		} else if (id == 3 && tok_starts(&t, "ret") &&
		           (t.len == 3 || strchr("=!<>", t.p[3]))) {
			if (have_cond)
				return fail(s, err, t.col,
				            "duplicate condition");
			have_cond = true;
			rc = parse_cond(s, &t, r, err);
		} else if (id && id < t.len && t.p[id] == '=' &&
		           (id + 1 == t.len || t.p[id + 1] != '=')) {
			return fail(
			        s, err, t.col,
			        "unknown option '%.*s%s' (expected family=NAME)",
			        Q(t.p, id));
		} else {
			return fail(
			        s, err, t.col,
			        "expected a condition like ret==0, family=NAME, idempotent or borrowed, got '%.*s%s'",
			        Q(t.p, t.len));
		}
		if (rc)
			return rc;
	}
	return 0;
}

static int
parse_rule(struct spec *s, struct cursor *c, const struct tok *role,
           struct spec_err *err)
{
	static const char *const roles[] = { "create", "acquire", "release",
		                             "use" };
	struct spec_rule r = { 0 }, *rules;
	struct new_families nf = { .n = 0 };
	char *fam[SPEC_MAX_FAMILIES] = { 0 };
	struct tok func, handle;
	unsigned i;
	int rc;

	for (i = 0; i < 4; i++) {
		if (tok_is(role, roles[i]))
			break;
	}
	if (i == 4)
		return fail(
		        s, err, role->col,
		        "expected a role (create, acquire, release or use), got '%.*s%s'",
		        Q(role->p, role->len));
	r.role = (enum spec_role)i;
	if (s->cur_lib < 0)
		return fail(s, err, role->col,
		            "rule before any 'library' line");
	if (!next_tok(c, &func))
		return fail(
		        s, err, c->after,
		        "expected a function name or glob after '%s', got end of line",
		        roles[i]);
	rc = check_func(s, &func, err);
	if (rc)
		return rc;
	if (!next_tok(c, &handle))
		return fail(s, err, c->after,
		            "expected ret, argN or *argN, got end of line");
	rc = parse_handle(s, &handle, &r, err);
	if (rc)
		return rc;
	rc = parse_options(s, c, &r, &nf, err);
	if (rc)
		return rc;

	/* Allocate everything first, so that failing leaves *s as it was. */
	r.func = strndup(func.p, func.len);
	if (!r.func)
		goto nomem;
	for (i = 0; i < nf.n; i++) {
		fam[i] = strndup(nf.name[i], nf.len[i]);
		if (!fam[i])
			goto nomem;
	}
	rules = realloc(s->rules, (s->nrules + 1) * sizeof(*rules));
	if (!rules)
		goto nomem;
	s->rules = rules;

	r.is_glob = strpbrk(r.func, "*?[") != NULL;
	r.lib = (unsigned)s->cur_lib;
	r.file = s->cur_file;
	r.line = s->cur_line;
	rules[s->nrules++] = r;
	for (i = 0; i < nf.n; i++)
		s->families[++s->nfamilies] = fam[i];
	return 0;
nomem:
	free(r.func);
	for (i = 0; i < nf.n; i++)
		free(fam[i]);
	return fail(s, err, role->col, "out of memory");
}

int
spec_parse_line(struct spec *s, const char *line, struct spec_err *err)
{
	struct cursor c;
	struct tok t;

	cursor_init(&c, line);
	if (!next_tok(&c, &t))
		return 0;
	if (tok_is(&t, "library"))
		return parse_library(s, &c, err);
	return parse_rule(s, &c, &t, err);
}

void
spec_init(struct spec *s)
{
	memset(s, 0, sizeof(*s));
	s->cur_lib = -1;
}

static void
snapshot_take(const struct spec *s, struct snapshot *snap)
{
	snap->nlibs = s->nlibs;
	snap->nrules = s->nrules;
	snap->nfiles = s->nfiles;
	snap->nfamilies = s->nfamilies;
	snap->cur_file = s->cur_file;
	snap->cur_line = s->cur_line;
	snap->cur_lib = s->cur_lib;
}

/* Free what was added since SNAP (arrays keep their size: harmless). */
static void
snapshot_restore(struct spec *s, const struct snapshot *snap)
{
	while (s->nlibs > snap->nlibs)
		free(s->libs[--s->nlibs].pattern);
	while (s->nrules > snap->nrules)
		free(s->rules[--s->nrules].func);
	while (s->nfamilies > snap->nfamilies) {
		free(s->families[s->nfamilies]);
		s->families[s->nfamilies--] = NULL;
	}
	while (s->nfiles > snap->nfiles)
		free(s->files[--s->nfiles]);
	s->cur_file = snap->cur_file;
	s->cur_line = snap->cur_line;
	s->cur_lib = snap->cur_lib;
}

void
spec_free(struct spec *s)
{
	struct snapshot empty = { .cur_lib = -1 };

	snapshot_restore(s, &empty);
	free(s->libs);
	free(s->rules);
	free(s->files);
	spec_init(s);
}

static bool
file_known(const struct spec *s, const char *name)
{
	size_t i;

	for (i = 0; i < s->nfiles; i++) {
		if (strcmp(s->files[i], name) == 0)
			return true;
	}
	return false;
}

static int
read_error(struct spec *s, const char *path, int e, struct spec_err *err)
{
	snprintf(err->file, sizeof(err->file), "%s", path);
	err->line = 0;
	err->col = 0;
	snprintf(err->msg, sizeof(err->msg), "cannot read spec file: %s",
	         strerror(e));
	return -e;
}

/*
 * Load PATH and record it in s->files as NAME (what the user wrote: a file
 * name, or a profile name).  When the two differ, the entry holds
 * "NAME\0PATH" in one allocation, so that rules and errors can name the
 * file actually read while s->files reads as the user's list.
 */
static int
load_file(struct spec *s, const char *path, const char *name,
          struct spec_err *err)
{
	struct snapshot snap;
	size_t nlen = strlen(name), plen = strlen(path), cap = 0;
	char **files, *entry, *buf = NULL;
	const char *real;
	ssize_t len;
	FILE *f;
	int rc = 0;

	if (file_known(s, name))
		return 0;
	snapshot_take(s, &snap);
	f = fopen(path, "r");
	if (!f)
		return read_error(s, path, errno, err);
	entry = malloc(nlen + 1 + plen + 1);
	files = realloc(s->files, (s->nfiles + 1) * sizeof(*files));
	if (files)
		s->files = files;
	if (!entry || !files) {
		free(entry);
		fclose(f);
		return read_error(s, path, ENOMEM, err);
	}
	memcpy(entry, name, nlen + 1);
	real = entry;
	if (strcmp(name, path)) {
		memcpy(entry + nlen + 1, path, plen + 1);
		real = entry + nlen + 1;
	}
	s->files[s->nfiles++] = entry;

	s->cur_file = real;
	s->cur_line = 0;
	s->cur_lib = -1; /* each file opens its own library sections */
	errno = 0;
	while ((len = text_read_line(f, &buf, &cap)) >= 0) {
		char *line = buf;
		size_t n = (size_t)len;

		s->cur_line++;
		if (n && line[n - 1] == '\n')
			line[--n] = '\0';
		if (n && line[n - 1] == '\r')
			line[--n] = '\0';
		if (s->cur_line == 1 && n >= 3 &&
		    memcmp(line, "\xef\xbb\xbf", 3) == 0) {
			line += 3; /* a UTF-8 byte order mark */
			n -= 3;
		}
		if (strlen(line) != n) {
			rc = fail(
			        s, err, (unsigned)strlen(line) + 1,
			        "NUL byte in the line (is this a text file?)");
			goto out;
		}
		rc = spec_parse_line(s, line, err);
		if (rc)
			goto out;
	}
	if (len == -2) {
		s->cur_line++;
		rc = fail(s, err, 1,
		          "line longer than %d bytes (is this a text file?)",
		          SPEC_LINE_MAX);
	} else if (len == -3) {
		rc = read_error(s, path, ENOMEM, err);
	} else if (ferror(f)) {
		rc = read_error(s, path, errno ? errno : EIO, err);
	}
out:
	free(buf);
	fclose(f);
	if (rc) {
		snapshot_restore(s, &snap);
		return rc;
	}
	s->cur_file = snap.cur_file;
	s->cur_line = snap.cur_line;
	s->cur_lib = snap.cur_lib;
	return 0;
}

int
spec_load_file(struct spec *s, const char *path, struct spec_err *err)
{
	return load_file(s, path, path, err);
}

static bool
has_suffix(const char *s, size_t len, const char *suffix)
{
	size_t n = strlen(suffix);

	return len >= n && memcmp(s + len - n, suffix, n) == 0;
}

/* Find profile NAME as DIR/NAME.spec; a malloc'd path, or NULL. */
static char *
find_profile(const char *name, const char *dirs)
{
	const char *d = dirs ? dirs : "";

	while (*d) {
		size_t dlen = strcspn(d, ":");
		char *path;

		if (dlen &&
		    asprintf(&path, "%.*s/%s.spec", (int)dlen, d, name) >= 0) {
			if (access(path, F_OK) == 0)
				return path;
			free(path);
		}
		d += dlen;
		if (*d == ':')
			d++;
	}
	return NULL;
}

static int
unknown_profile(const char *name, const char *dirs, struct spec_err *err)
{
	const char *d = dirs ? dirs : "";
	size_t off;
	bool first = true;

	err->file[0] = '\0';
	err->line = 0;
	err->col = 0;
	off = (size_t)snprintf(err->msg, sizeof(err->msg),
	                       "unknown profile '%.*s%s' (",
	                       Q(name, strlen(name)));
	while (*d && off < sizeof(err->msg)) {
		size_t dlen = strcspn(d, ":");

		if (dlen) {
			off += (size_t)snprintf(
			        err->msg + off, sizeof(err->msg) - off,
			        "%s%.*s", first ? "looked in " : ", ",
			        (int)dlen, d);
			first = false;
		}
		d += dlen;
		if (*d == ':')
			d++;
	}
	if (off < sizeof(err->msg))
		snprintf(err->msg + off, sizeof(err->msg) - off,
		         "%s) and no such file",
		         first ? "no profile directories" : "");
	return -ENOENT;
}

int
spec_load_list(struct spec *s, const char *list, const char *profile_dirs,
               struct spec_err *err)
{
	struct snapshot snap;
	const char *p = list ? list : "";
	int rc = 0;

	snapshot_take(s, &snap);
	while (*p && !rc) {
		size_t len = strcspn(p, ",");
		const char *next = p + len + (p[len] == ',');
		char *item, *path;

		/* Items may be padded ("a.spec, sqlite3"); empty ones skipped. */
		while (len && is_space(*p)) {
			p++;
			len--;
		}
		while (len && is_space(p[len - 1]))
			len--;
		if (!len) {
			p = next;
			continue;
		}
		item = strndup(p, len);
		if (!item) {
			rc = read_error(s, "", ENOMEM, err);
			break;
		}
		if (strchr(item, '/') || has_suffix(item, len, ".spec") ||
		    access(item, F_OK) == 0) {
			rc = load_file(s, item, item, err);
		} else if ((path = find_profile(item, profile_dirs))) {
			rc = load_file(s, path, item, err);
			free(path);
		} else {
			rc = unknown_profile(item, profile_dirs, err);
		}
		free(item);
		p = next;
	}
	if (rc)
		snapshot_restore(s, &snap);
	return rc;
}

unsigned
spec_family_id(const struct spec *s, const char *name)
{
	unsigned i;

	if (!name)
		return 0;
	for (i = 1; i <= s->nfamilies; i++) {
		if (strcmp(s->families[i], name) == 0)
			return i;
	}
	return 0;
}

void
spec_err_format(const struct spec_err *err, char *buf, size_t len)
{
	if (!err->file[0])
		snprintf(buf, len, "refsan: error: %s", err->msg);
	else if (!err->line)
		snprintf(buf, len, "refsan: error: %s: %s", err->file,
		         err->msg);
	else if (!err->col)
		snprintf(buf, len, "refsan: error: %s:%u: %s", err->file,
		         err->line, err->msg);
	else
		snprintf(buf, len, "refsan: error: %s:%u:%u: %s", err->file,
		         err->line, err->col, err->msg);
}
