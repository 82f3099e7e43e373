/*
 * options.c: the parser of REFSAN_OPTIONS and the two renderings of the
 * option list (help=1 and the README table).  Everything is driven by
 * options.inc, so an option is added in one place and its default, parser,
 * help line and documentation cannot drift apart.  Parsing runs once at
 * start, before the hot path exists, so it may use malloc; it never uses
 * stdio streams, because help=1 writes to a file descriptor that may be the
 * program's own stderr while stdio is in an unknown state.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "options.h"

struct refsan_options refsan_opts;

/*
 * Copies of string values.  The header promises they live as long as the
 * process, so they are never freed once a parse succeeds; keeping them on
 * a list keeps them reachable (valgrind calls that "still reachable", not a
 * leak) and lets a failed parse drop exactly what it allocated.
 */
struct str_copy {
	struct str_copy *next;
	char text[];
};

static struct str_copy *str_copies;

struct opt_desc {
	const char *name;
	const char *help;
	size_t off;
	int (*parse)(const struct opt_desc *d, const char *val, void *dst,
	             struct options_err *err);
	void (*show)(const void *src, char *buf, size_t len);
};

/* Defaults, by kind: the value as written in options.inc. */
static opt_uint
def_uint(unsigned v)
{
	return v;
}

static opt_bool
def_bool(int v)
{
	return v != 0;
}

static opt_str
def_str(const char *v)
{
	return v;
}

static opt_signum
def_signum(unsigned v)
{
	return v;
}

static opt_badspec
def_badspec(const char *v)
{
	return strcmp(v, "ignore") == 0 ? ON_BAD_SPEC_IGNORE : ON_BAD_SPEC_EXIT;
}

/* Parsers, by kind.  The value is the text after '=' (may be empty). */
static void
bad_value(struct options_err *err, const char *name, const char *what,
          const char *val)
{
	snprintf(err->msg, sizeof(err->msg), "option '%s' expects %s, got '%s'",
	         name, what, val);
}

/* Plain decimal digits into *out: 0, -ERANGE above MAX, -1 on junk. */
static int
parse_decimal(const char *val, unsigned long long max, unsigned long long *out)
{
	unsigned long long v = 0;
	const char *p;

	if (!*val)
		return -1;
	for (p = val; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
	}
	for (p = val; *p; p++) {
		unsigned d = (unsigned)(*p - '0');

		if (v > (max - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

static int
parse_uint(const struct opt_desc *d, const char *val, void *dst,
           struct options_err *err)
{
	unsigned long long v;
	int r = parse_decimal(val, UINT_MAX, &v);

	if (r == -ERANGE) {
		snprintf(
		        err->msg, sizeof(err->msg),
		        "option '%s' expects an unsigned integer up to %u, got '%s'",
		        d->name, UINT_MAX, val);
		return -EINVAL;
	}
	if (r) {
		bad_value(err, d->name, "an unsigned integer", val);
		return -EINVAL;
	}
	*(opt_uint *)dst = (opt_uint)v;
	return 0;
}

static int
parse_bool(const struct opt_desc *d, const char *val, void *dst,
           struct options_err *err)
{
	if (strcmp(val, "0") && strcmp(val, "1")) {
		bad_value(err, d->name, "0 or 1", val);
		return -EINVAL;
	}
	*(opt_bool *)dst = val[0] == '1';
	return 0;
}

static int
parse_str(const struct opt_desc *d, const char *val, void *dst,
          struct options_err *err)
{
	size_t n = strlen(val);
	struct str_copy *c;

	if (!n) {
		*(opt_str *)dst = "";
		return 0;
	}
	c = malloc(sizeof(*c) + n + 1);
	if (!c) {
		snprintf(err->msg, sizeof(err->msg),
		         "option '%s': out of memory", d->name);
		return -ENOMEM;
	}
	memcpy(c->text, val, n + 1);
	c->next = str_copies;
	str_copies = c;
	*(opt_str *)dst = c->text;
	return 0;
}

static const struct {
	const char *name; /* without the SIG prefix */
	int num;
} signal_names[] = {
	{ "HUP", SIGHUP },   { "INT", SIGINT },       { "QUIT", SIGQUIT },
	{ "ILL", SIGILL },   { "TRAP", SIGTRAP },     { "ABRT", SIGABRT },
	{ "IOT", SIGIOT },   { "BUS", SIGBUS },       { "FPE", SIGFPE },
	{ "KILL", SIGKILL }, { "USR1", SIGUSR1 },     { "SEGV", SIGSEGV },
	{ "USR2", SIGUSR2 }, { "PIPE", SIGPIPE },     { "ALRM", SIGALRM },
	{ "TERM", SIGTERM }, { "STKFLT", SIGSTKFLT }, { "CHLD", SIGCHLD },
	{ "CONT", SIGCONT }, { "STOP", SIGSTOP },     { "TSTP", SIGTSTP },
	{ "TTIN", SIGTTIN }, { "TTOU", SIGTTOU },     { "URG", SIGURG },
	{ "XCPU", SIGXCPU }, { "XFSZ", SIGXFSZ },     { "VTALRM", SIGVTALRM },
	{ "PROF", SIGPROF }, { "WINCH", SIGWINCH },   { "IO", SIGIO },
	{ "POLL", SIGPOLL }, { "PWR", SIGPWR },       { "SYS", SIGSYS },
};

static int
parse_signum(const struct opt_desc *d, const char *val, void *dst,
             struct options_err *err)
{
	const char *name = val;
	unsigned long long v;
	size_t i;

	if (parse_decimal(val, 64, &v) == 0)
		goto check;
	if (strncmp(name, "SIG", 3) == 0)
		name += 3;
	for (i = 0; i < sizeof(signal_names) / sizeof(signal_names[0]); i++) {
		if (strcmp(name, signal_names[i].name) == 0) {
			v = (unsigned long long)signal_names[i].num;
			goto check;
		}
	}
	bad_value(err, d->name,
	          "a signal number (1..64) or a name like SIGUSR1", val);
	return -EINVAL;
check:
	/* A report signal that can never reach the handler is a typo. */
	if (v == SIGKILL || v == SIGSTOP) {
		snprintf(err->msg, sizeof(err->msg),
		         "option '%s': signal %s cannot be caught", d->name,
		         val);
		return -EINVAL;
	}
	*(opt_signum *)dst = (opt_signum)v;
	return 0;
}

static int
parse_badspec(const struct opt_desc *d, const char *val, void *dst,
              struct options_err *err)
{
	if (strcmp(val, "exit") == 0) {
		*(opt_badspec *)dst = ON_BAD_SPEC_EXIT;
	} else if (strcmp(val, "ignore") == 0) {
		*(opt_badspec *)dst = ON_BAD_SPEC_IGNORE;
	} else {
		bad_value(err, d->name, "exit or ignore", val);
		return -EINVAL;
	}
	return 0;
}

/* Renderings of a value for help=1 and the README table. */
static void
show_uint(const void *src, char *buf, size_t len)
{
	snprintf(buf, len, "%u", *(const opt_uint *)src);
}

static void
show_bool(const void *src, char *buf, size_t len)
{
	snprintf(buf, len, "%d", *(const opt_bool *)src ? 1 : 0);
}

static void
show_str(const void *src, char *buf, size_t len)
{
	/* An empty string reads as "not set". */
	const char *s = *(const opt_str *)src;

	snprintf(buf, len, "%s", *s ? s : "—");
}

static void
show_signum(const void *src, char *buf, size_t len)
{
	snprintf(buf, len, "%u", *(const opt_signum *)src);
}

static void
show_badspec(const void *src, char *buf, size_t len)
{
	snprintf(buf, len, "%s",
	         *(const opt_badspec *)src == ON_BAD_SPEC_IGNORE ? "ignore"
	                                                         : "exit");
}

static const struct opt_desc opt_descs[] = {
#define REFSAN_OPTION(kind, name, def, help)                                   \
	{ #name, help, offsetof(struct refsan_options, name), parse_##kind,    \
	  show_##kind },
#include "options.inc"
#undef REFSAN_OPTION
};

#define N_OPTS (sizeof(opt_descs) / sizeof(opt_descs[0]))

void
options_defaults(struct refsan_options *o)
{
#define REFSAN_OPTION(kind, name, def, help) o->name = def_##kind(def);
#include "options.inc"
#undef REFSAN_OPTION
}

/* Edit distance, for "did you mean": keys are short, so O(n*m) is fine. */
static size_t
edit_distance(const char *a, size_t na, const char *b)
{
	size_t nb = strlen(b), row[64], i, j;

	if (na >= 64 || nb >= 64)
		return (size_t)-1;
	for (j = 0; j <= nb; j++)
		row[j] = j;
	for (i = 1; i <= na; i++) {
		size_t diag = row[0], tmp;

		row[0] = i;
		for (j = 1; j <= nb; j++) {
			size_t best = diag + (a[i - 1] != b[j - 1]);

			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			tmp = row[j];
			row[j] = best;
			diag = tmp;
		}
	}
	return row[nb];
}

static void
unknown_key(const char *key, size_t klen, struct options_err *err)
{
	const struct opt_desc *best = NULL;
	size_t best_d = (size_t)-1, i, off;
	int show = klen > 40 ? 40 : (int)klen;
	const char *more = klen > 40 ? "..." : "";

	for (i = 0; i < N_OPTS; i++) {
		size_t d = edit_distance(key, klen, opt_descs[i].name);

		if (d < best_d) {
			best_d = d;
			best = &opt_descs[i];
		}
	}
	if (best && best_d <= 2 && best_d < klen) {
		snprintf(err->msg, sizeof(err->msg),
		         "unknown option '%.*s%s' (did you mean '%s'?)", show,
		         key, more, best->name);
		return;
	}
	off = (size_t)snprintf(err->msg, sizeof(err->msg),
	                       "unknown option '%.*s%s' (known:", show, key,
	                       more);
	for (i = 0; i < N_OPTS && off < sizeof(err->msg); i++)
		off += (size_t)snprintf(err->msg + off, sizeof(err->msg) - off,
		                        "%s %s", i ? "," : "",
		                        opt_descs[i].name);
	if (off < sizeof(err->msg))
		snprintf(err->msg + off, sizeof(err->msg) - off, ")");
}

/* Drop string copies made since MARK (a failed parse). */
static void
drop_copies(struct str_copy *mark)
{
	while (str_copies != mark) {
		struct str_copy *c = str_copies;

		str_copies = c->next;
		free(c);
	}
}

/*
 * One "key=value" item of LEN bytes at P.  A value may be quoted with ' or
 * " (as in ASAN_OPTIONS) to hold a ':'; *END gets where the item ended.
 */
static int
parse_item(struct refsan_options *o, const char *p, const char **end,
           struct options_err *err)
{
	const char *eq, *key = p, *vstart, *vend;
	const struct opt_desc *d = NULL;
	size_t klen, i;
	char *val;
	int r;

	eq = p + strcspn(p, "=:");
	if (*eq != '=' || eq == p) {
		size_t n = strcspn(p, ":");

		snprintf(err->msg, sizeof(err->msg),
		         "expected key=value, got '%.*s%s'",
		         n > 60 ? 60 : (int)n, p, n > 60 ? "..." : "");
		return -EINVAL;
	}
	klen = (size_t)(eq - key);
	for (i = 0; i < N_OPTS; i++) {
		if (strlen(opt_descs[i].name) == klen &&
		    memcmp(opt_descs[i].name, key, klen) == 0) {
			d = &opt_descs[i];
			break;
		}
	}
	if (!d) {
		unknown_key(key, klen, err);
		return -EINVAL;
	}
	vstart = eq + 1;
	if (*vstart == '\'' || *vstart == '"') {
		vend = strchr(vstart + 1, *vstart);
		if (!vend) {
			snprintf(err->msg, sizeof(err->msg),
			         "option '%s': unterminated %c quote in value",
			         d->name, *vstart);
			return -EINVAL;
		}
		*end = vend + 1;
		if (**end && **end != ':') {
			snprintf(
			        err->msg, sizeof(err->msg),
			        "option '%s': expected ':' after the quoted value, got '%c'",
			        d->name, **end);
			return -EINVAL;
		}
		vstart++;
	} else {
		vend = vstart + strcspn(vstart, ":");
		*end = vend;
	}
	val = strndup(vstart, (size_t)(vend - vstart));
	if (!val) {
		snprintf(err->msg, sizeof(err->msg), "out of memory");
		return -ENOMEM;
	}
	r = d->parse(d, val, (char *)o + d->off, err);
	free(val);
	return r;
}

int
options_parse(struct refsan_options *o, const char *str,
              struct options_err *err)
{
	struct str_copy *mark = str_copies;
	struct refsan_options tmp = *o;
	const char *p = str ? str : "";
	int r;

	while (*p) {
		const char *end;

		if (*p == ':') {
			p++;
			continue;
		}
		r = parse_item(&tmp, p, &end, err);
		if (r) {
			drop_copies(mark);
			return r;
		}
		p = end;
	}
	*o = tmp;
	return 0;
}

int
options_set(struct refsan_options *o, const char *key, const char *value,
            struct options_err *err)
{
	struct str_copy *mark = str_copies;
	size_t i;
	int r;

	for (i = 0; i < N_OPTS; i++) {
		if (strcmp(opt_descs[i].name, key) == 0) {
			r = opt_descs[i].parse(&opt_descs[i], value,
			                       (char *)o + opt_descs[i].off, err);
			if (r)
				drop_copies(mark);
			return r;
		}
	}
	unknown_key(key, strlen(key), err);
	return -EINVAL;
}

/* write(2) all of BUF, through EINTR and short writes. */
static void
write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		buf += n;
		len -= (size_t)n;
	}
}

/* Display width of UTF-8 text (the em dash counts as one column). */
static size_t
text_width(const char *s)
{
	size_t w = 0;

	for (; *s; s++)
		w += ((unsigned char)*s & 0xc0) != 0x80;
	return w;
}

void
options_print_help(int fd)
{
	struct refsan_options def;
	size_t wname = strlen("option"), wdef = strlen("default"), i;
	char line[1024], val[64];
	static const char head[] =
	        "refsan options, set as REFSAN_OPTIONS=key=value:key=value\n";

	options_defaults(&def);
	for (i = 0; i < N_OPTS; i++) {
		size_t n = strlen(opt_descs[i].name);

		opt_descs[i].show((char *)&def + opt_descs[i].off, val,
		                  sizeof(val));
		if (n > wname)
			wname = n;
		if (text_width(val) > wdef)
			wdef = text_width(val);
	}
	write_all(fd, head, sizeof(head) - 1);
	for (i = 0; i <= N_OPTS; i++) {
		const char *name = "option", *help = "meaning";
		int n;

		if (i) {
			name = opt_descs[i - 1].name;
			help = opt_descs[i - 1].help;
			opt_descs[i - 1].show((char *)&def +
			                              opt_descs[i - 1].off,
			                      val, sizeof(val));
		} else {
			snprintf(val, sizeof(val), "default");
		}
		/* Pad by display width: printf pads by bytes. */
		n = snprintf(line, sizeof(line), "  %-*s  %s%*s  %s\n",
		             (int)wname, name, val,
		             (int)(wdef - text_width(val)), "", help);
		if (n > 0)
			write_all(fd, line,
			          (size_t)n < sizeof(line) ? (size_t)n
			                                   : sizeof(line) - 1);
	}
}

void
options_write_markdown_table(int fd)
{
	struct refsan_options def;
	char line[1024], val[64];
	static const char head[] =
	        "| key | default | meaning |\n|---|---|---|\n";
	size_t i;

	options_defaults(&def);
	write_all(fd, head, sizeof(head) - 1);
	for (i = 0; i < N_OPTS; i++) {
		int n;

		opt_descs[i].show((char *)&def + opt_descs[i].off, val,
		                  sizeof(val));
		n = snprintf(line, sizeof(line), "| %s | %s | %s |\n",
		             opt_descs[i].name, val, opt_descs[i].help);
		if (n > 0)
			write_all(fd, line,
			          (size_t)n < sizeof(line) ? (size_t)n
			                                   : sizeof(line) - 1);
	}
}
