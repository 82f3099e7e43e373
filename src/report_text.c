/*
 * report_text.c: the report as people read it, in the shape of the
 * sanitizers' reports that DESIGN.md fixes ("==PID==ERROR: refsan: ...",
 * numbered frames innermost first, a SUMMARY line that CI logs are grepped
 * for).  Misuse errors are printed the moment they happen, one at a time,
 * by report_write_text_error(); the exit report then holds the leaks, the
 * suppressions used and the SUMMARY counting everything, and repeats the
 * misuse errors only when the model asks for it (print_misuse).  An
 * on-demand report (final false) lists live handles under its own title
 * and never says ERROR: nothing has gone wrong yet.
 *
 * Every string from the program (function, file, module and family names)
 * goes through outbuf_text_str(), so control bytes cannot forge lines or
 * drive the terminal.  File paths under the working directory are shown
 * relative to it, as the compilers and sanitizers do; the JSON keeps them
 * whole.
 */
#include <limits.h>
#include <stdbool.h>
#include <unistd.h>

#include "arena.h"
#include "outbuf.h"
#include "report.h"

/* A big report is written through this much buffer: a 65 MB report in
 * 260 write(2) calls rather than 16,000. */
#define BIG_OUTBUF (256 * 1024)

struct text_ctx {
	struct outbuf ob;
	const struct report *r;
	size_t cwdlen; /* 0: show paths as they are */
	char cwd[PATH_MAX];
};

static void
ctx_init(struct text_ctx *c, int fd, const struct report *r)
{
	size_t n = 0;

	outbuf_init(&c->ob, fd);
	c->r = r;
	c->cwdlen = 0;
	/* The root is no useful base: paths under it stay absolute. */
	if (!getcwd(c->cwd, sizeof(c->cwd)) || c->cwd[0] != '/')
		return;
	while (c->cwd[n])
		n++;
	if (n > 1)
		c->cwdlen = n;
}

static void
put_pid_prefix(struct text_ctx *c)
{
	outbuf_puts(&c->ob, "==");
	outbuf_sdec(&c->ob, c->r->pid);
	outbuf_puts(&c->ob, "==");
}

/* PATH relative to the working directory when it lies under it. */
static void
put_path(struct text_ctx *c, const char *path)
{
	size_t i;

	if (c->cwdlen && path[0] == '/') {
		for (i = 0; i < c->cwdlen && path[i] == c->cwd[i]; i++)
			;
		if (i == c->cwdlen && path[i] == '/' && path[i + 1]) {
			outbuf_text_str(&c->ob, path + i + 1);
			return;
		}
	}
	outbuf_text_str(&c->ob, path);
}

static void
put_file_line(struct text_ctx *c, const struct report_frame *f)
{
	outbuf_putc(&c->ob, ' ');
	put_path(c, f->file);
	if (f->line) {
		outbuf_putc(&c->ob, ':');
		outbuf_dec(&c->ob, f->line);
	}
}

/*
 * Native:  #N 0xPC in FUNCTION FILE:LINE (MODULE+0xOFF)
 *          #N 0xPC in FUNCTION (MODULE+0xOFF)      no file
 *          #N 0xPC (MODULE+0xOFF)                  no function (as LSan)
 * Python:  #N in QUALNAME FILE:LINE
 */
static void
put_frame(struct text_ctx *c, unsigned n, const struct report_frame *f)
{
	struct outbuf *ob = &c->ob;

	outbuf_puts(ob, "    #");
	outbuf_dec(ob, n);
	if (f->python) {
		outbuf_puts(ob, " in ");
		if (f->function)
			outbuf_text_str(ob, f->function);
		else
			outbuf_puts(ob, "??");
		if (f->file)
			put_file_line(c, f);
		outbuf_putc(ob, '\n');
		return;
	}
	outbuf_putc(ob, ' ');
	outbuf_hex(ob, f->pc);
	if (f->function || f->file) {
		outbuf_puts(ob, " in ");
		if (f->function)
			outbuf_text_str(ob, f->function);
		else
			outbuf_puts(ob, "??");
		if (f->file)
			put_file_line(c, f);
	}
	outbuf_puts(ob, " (");
	if (f->module) {
		outbuf_text_str(ob, f->module);
		outbuf_putc(ob, '+');
		outbuf_hex(ob, f->offset);
	} else {
		outbuf_puts(ob, "<unknown module>");
	}
	outbuf_puts(ob, ")\n");
}

static void
put_stack(struct text_ctx *c, uint32_t id)
{
	const struct report_stack *s = report_find_stack(c->r, id);
	unsigned i;

	if (!s || !s->nframes || !s->frames) {
		outbuf_puts(&c->ob, "    <no stack recorded>\n");
		return;
	}
	for (i = 0; i < s->nframes; i++)
		put_frame(c, i, &s->frames[i]);
}

/* ", in thread 4243" when the stack was not taken on the main thread. */
static void
put_thread(struct text_ctx *c, uint32_t id, const char *sep)
{
	const struct report_stack *s = report_find_stack(c->r, id);

	if (!s || !s->tid || s->tid == c->r->pid)
		return;
	outbuf_puts(&c->ob, sep);
	outbuf_puts(&c->ob, "in thread ");
	outbuf_dec(&c->ob, (uint64_t)s->tid);
}

static void
put_handle(struct text_ctx *c, uintptr_t h)
{
	outbuf_puts(&c->ob, " of handle ");
	outbuf_hex(&c->ob, h);
}

static void
put_family_note(struct text_ctx *c, const char *family)
{
	if (!family)
		return;
	outbuf_puts(&c->ob, " (family ");
	outbuf_text_str(&c->ob, family);
	outbuf_putc(&c->ob, ')');
}

static void
put_misuse(struct text_ctx *c, const struct report_error *e)
{
	struct outbuf *ob = &c->ob;
	bool last_release = false, created = false;

	put_pid_prefix(c);
	outbuf_puts(ob, "ERROR: refsan: ");
	switch (e->kind) {
	case KIND_DOUBLE_RELEASE:
		outbuf_puts(ob, "double release");
		put_handle(c, e->handle);
		put_family_note(c, e->family);
		last_release = created = true;
		break;
	case KIND_USE_AFTER_RELEASE:
		outbuf_puts(ob, "use after release");
		put_handle(c, e->handle);
		put_family_note(c, e->family);
		last_release = created = true;
		break;
	case KIND_INVALID_RELEASE:
		outbuf_puts(ob, "invalid release");
		put_handle(c, e->handle);
		outbuf_puts(ob, " (never created)");
		break;
	case KIND_FAMILY_MISMATCH:
		outbuf_puts(ob, "family mismatch: handle ");
		outbuf_hex(ob, e->handle);
		if (e->family) {
			outbuf_puts(ob, " of family ");
			outbuf_text_str(ob, e->family);
		} else {
			outbuf_puts(ob, " of no family");
		}
		outbuf_puts(ob, " passed to ");
		outbuf_text_str(ob, e->function ? e->function : "??");
		outbuf_puts(ob, ", which accepts ");
		outbuf_text_str(ob, e->expected_family ? e->expected_family
		                                       : "another family");
		created = true;
		break;
	default:
		outbuf_puts(ob, report_kind_name(e->kind));
		put_handle(c, e->handle);
		put_family_note(c, e->family);
		break;
	}
	put_thread(c, e->stack, " ");
	outbuf_putc(ob, '\n');
	put_stack(c, e->stack);
	if (last_release) {
		outbuf_puts(ob, "  its last release (reference count 1 -> 0) "
		                "was here");
		put_thread(c, e->last_release_stack, ", ");
		outbuf_puts(ob, ":\n");
		put_stack(c, e->last_release_stack);
	}
	if (created) {
		outbuf_puts(ob, "  it was created here");
		put_thread(c, e->created_stack, ", ");
		outbuf_puts(ob, ":\n");
		put_stack(c, e->created_stack);
	}
	outbuf_putc(ob, '\n');
}

static void
put_leak(struct text_ctx *c, const struct report_error *e)
{
	struct outbuf *ob = &c->ob;
	size_t i;

	if (c->r->final)
		outbuf_puts(ob, e->indirect ? "Indirect leak of " : "Leak of ");
	else
		outbuf_puts(ob, e->indirect ? "Live (indirect): " : "Live: ");
	outbuf_dec(ob, e->count);
	outbuf_puts(ob, " handle(s)");
	if (e->family) {
		outbuf_puts(ob, " of family ");
		outbuf_text_str(ob, e->family);
	}
	outbuf_puts(ob, " (reference count ");
	outbuf_dec(ob, e->refcount);
	outbuf_puts(ob, ") created from:\n");
	put_stack(c, e->stack);
	for (i = 0; i < e->nacquire_stacks && e->acquire_stacks; i++) {
		outbuf_puts(ob, "  acquired here (no matching release):\n");
		put_stack(c, e->acquire_stacks[i]);
	}
	outbuf_putc(ob, '\n');
}

static void
put_suppressions(struct text_ctx *c)
{
	struct outbuf *ob = &c->ob;
	static const char rule[] =
	        "-----------------------------------------------------\n";
	size_t i;

	if (!c->r->nsuppressions || !c->r->suppressions)
		return;
	outbuf_puts(ob, rule);
	outbuf_puts(ob, "Suppressions used:\n");
	outbuf_puts(ob, "  count      handles suppression\n");
	for (i = 0; i < c->r->nsuppressions; i++) {
		const struct report_suppression *s = &c->r->suppressions[i];

		outbuf_dec_width(ob, s->hits, 7);
		outbuf_putc(ob, ' ');
		outbuf_dec_width(ob, s->handles, 12);
		outbuf_putc(ob, ' ');
		outbuf_text_str(ob, s->rule);
		outbuf_putc(ob, '\n');
	}
	outbuf_puts(ob, rule);
	outbuf_putc(ob, '\n');
}

/* A misuse error stands for COUNT occurrences; 0 means one. */
static uint64_t
occurrences(const struct report_error *e)
{
	return e->count ? e->count : 1;
}

static void
put_part(struct outbuf *ob, bool *first, uint64_t n, const char *what)
{
	if (!*first)
		outbuf_puts(ob, ", ");
	*first = false;
	outbuf_dec(ob, n);
	outbuf_puts(ob, what);
}

/*
 * "SUMMARY: refsan: 3 leaked handle(s) from 1 site(s), 1 double
 * release(s) (2 suppressed)."  Kinds with no error are left out.  The
 * on-demand report says what is live instead, without SUMMARY, so that a
 * log grepped for SUMMARY finds exit reports only.
 */
static void
put_summary(struct text_ctx *c)
{
	static const char *const what[KIND_COUNT] = {
		[KIND_DOUBLE_RELEASE] = " double release(s)",
		[KIND_INVALID_RELEASE] = " invalid release(s)",
		[KIND_USE_AFTER_RELEASE] = " use(s) after release",
		[KIND_FAMILY_MISMATCH] = " family mismatch(es)",
	};
	const struct report *r = c->r;
	struct outbuf *ob = &c->ob;
	uint64_t n[KIND_COUNT] = { 0 }, sites = 0, suppressed;
	bool first = true;
	size_t i;
	int k;

	for (i = 0; i < r->nerrors; i++) {
		const struct report_error *e = &r->errors[i];

		if (e->kind == KIND_LEAK) {
			n[KIND_LEAK] += e->count;
			sites++;
		} else if ((unsigned)e->kind < KIND_COUNT) {
			n[e->kind] += occurrences(e);
		}
	}
	suppressed = r->nsuppressed;
	if (!suppressed && r->suppressions)
		for (i = 0; i < r->nsuppressions; i++)
			suppressed += r->suppressions[i].hits;

	outbuf_puts(ob, r->final ? "SUMMARY: refsan: " : "refsan: ");
	if (sites) {
		outbuf_dec(ob, n[KIND_LEAK]);
		outbuf_puts(ob, r->final ? " leaked handle(s) from "
		                         : " live handle(s) from ");
		outbuf_dec(ob, sites);
		outbuf_puts(ob, " site(s)");
		first = false;
	} else if (!r->final) {
		outbuf_puts(ob, "no live handles");
		first = false;
	}
	for (k = 0; k < KIND_COUNT; k++)
		if (what[k] && n[k])
			put_part(ob, &first, n[k], what[k]);
	if (first) {
		outbuf_puts(ob, "no errors; ");
		outbuf_dec(ob, r->counters.created);
		outbuf_puts(ob, " handle(s) created, ");
		outbuf_dec(ob, r->counters.live);
		outbuf_puts(ob, " live");
	}
	if (suppressed) {
		outbuf_puts(ob, " (");
		outbuf_dec(ob, suppressed);
		outbuf_puts(ob, " suppressed)");
	}
	outbuf_puts(ob, ".\n");
}

int
report_write_text_error(int fd, const struct report *r,
                        const struct report_error *e)
{
	struct text_ctx c;

	ctx_init(&c, fd, r);
	if (e->kind == KIND_LEAK)
		put_leak(&c, e);
	else
		put_misuse(&c, e);
	return outbuf_flush(&c.ob);
}

int
report_write_text(int fd, const struct report *r)
{
	struct text_ctx c;
	bool leaks = false;
	size_t i;
	int pass, ret;
	char *big = r->nerrors > 16 ? arena_map(BIG_OUTBUF) : NULL;

	ctx_init(&c, fd, r);
	outbuf_use(&c.ob, big, BIG_OUTBUF);
	for (i = 0; i < r->nerrors; i++)
		if (r->errors[i].kind == KIND_LEAK)
			leaks = true;
	if (!r->final) {
		put_pid_prefix(&c);
		outbuf_puts(&c.ob,
		            "refsan: report of live handles (not an exit "
		            "report)\n\n");
	}
	if (r->print_misuse)
		for (i = 0; i < r->nerrors; i++)
			if (r->errors[i].kind != KIND_LEAK)
				put_misuse(&c, &r->errors[i]);
	if (leaks && r->final) {
		put_pid_prefix(&c);
		outbuf_puts(&c.ob, "ERROR: refsan: detected handle leaks\n\n");
	}
	/* Direct leaks first, then indirect ones, each in the given order. */
	for (pass = 0; pass < 2; pass++)
		for (i = 0; i < r->nerrors; i++)
			if (r->errors[i].kind == KIND_LEAK &&
			    r->errors[i].indirect == (pass == 1))
				put_leak(&c, &r->errors[i]);
	put_suppressions(&c);
	if (r->incomplete) {
		outbuf_puts(&c.ob, "refsan: warning: this report is "
		                   "incomplete: ");
		outbuf_text_str(&c.ob, r->incomplete_reason
		                               ? r->incomplete_reason
		                               : "reason unknown");
		outbuf_putc(&c.ob, '\n');
	}
	put_summary(&c);
	ret = outbuf_flush(&c.ob);
	arena_unmap(big, BIG_OUTBUF);
	return ret;
}
