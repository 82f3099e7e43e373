/*
 * report_json.c: the report for machines (`refsan report`, CI, the pytest
 * plugin), in the versioned schema of docs/json-schema.md.  It holds the
 * same facts as the text report and more (ppid, counters, every misuse
 * error even though the text exit report leaves them to the live output),
 * with stacks stored once and referred to by depot id.
 *
 * The output must parse whatever the program's strings hold: every string
 * goes through outbuf_json_str(), which escapes control bytes and replaces
 * invalid UTF-8.  Layout is fixed (one error, suppression or frame a line)
 * so that the output is byte-for-byte deterministic for golden tests and
 * still readable with less.  Paths are kept as recorded, not made relative:
 * reports of processes with different working directories get merged.
 */
#include <string.h>
#include "arena.h"
#include "outbuf.h"
#include "report.h"

/* A big report is written through this much buffer (fewer write(2)s). */
#define BIG_OUTBUF (256 * 1024)

static void
key(struct outbuf *ob, const char *k)
{
	outbuf_putc(ob, '"');
	outbuf_puts(ob, k);
	outbuf_puts(ob, "\": ");
}

/* ", " then "KEY": */
static void
next_key(struct outbuf *ob, const char *k)
{
	outbuf_puts(ob, ", ");
	key(ob, k);
}

static void
hex_str(struct outbuf *ob, uint64_t v)
{
	outbuf_putc(ob, '"');
	outbuf_hex(ob, v);
	outbuf_putc(ob, '"');
}

static void
bool_val(struct outbuf *ob, bool b)
{
	outbuf_puts(ob, b ? "true" : "false");
}

/* A depot id, or null for "no stack". */
static void
stack_id(struct outbuf *ob, uint32_t id)
{
	if (id)
		outbuf_dec(ob, id);
	else
		outbuf_puts(ob, "null");
}

static void
str_array(struct outbuf *ob, const char *const *v, size_t n)
{
	size_t i;

	outbuf_putc(ob, '[');
	for (i = 0; v && i < n; i++) {
		if (i)
			outbuf_puts(ob, ", ");
		outbuf_json_str(ob, v[i]);
	}
	outbuf_putc(ob, ']');
}

static void
put_error(struct outbuf *ob, const struct report_error *e, bool suppressed)
{
	size_t i;

	outbuf_putc(ob, '{');
	key(ob, "kind");
	outbuf_json_str(ob, report_kind_name(e->kind));
	next_key(ob, "family");
	outbuf_json_str(ob, e->family);
	next_key(ob, "function");
	outbuf_json_str(ob, e->function);
	next_key(ob, "count");
	if (e->kind == KIND_LEAK) {
		outbuf_dec(ob, e->count);
		next_key(ob, "refcount");
		outbuf_dec(ob, e->refcount);
		next_key(ob, "handles");
		outbuf_putc(ob, '[');
		for (i = 0; e->handles && i < e->nhandles; i++) {
			if (i)
				outbuf_puts(ob, ", ");
			hex_str(ob, e->handles[i]);
		}
		outbuf_putc(ob, ']');
		next_key(ob, "indirect");
		bool_val(ob, e->indirect);
		next_key(ob, "stack");
		stack_id(ob, e->stack);
		next_key(ob, "acquire_stacks");
		outbuf_putc(ob, '[');
		for (i = 0; e->acquire_stacks && i < e->nacquire_stacks; i++) {
			if (i)
				outbuf_puts(ob, ", ");
			stack_id(ob, e->acquire_stacks[i]);
		}
		outbuf_putc(ob, ']');
	} else {
		/* A misuse error stands for COUNT occurrences; 0 means one. */
		outbuf_dec(ob, e->count ? e->count : 1);
		next_key(ob, "handle");
		hex_str(ob, e->handle);
		next_key(ob, "stack");
		stack_id(ob, e->stack);
		next_key(ob, "last_release_stack");
		stack_id(ob, e->last_release_stack);
		next_key(ob, "created_stack");
		stack_id(ob, e->created_stack);
		next_key(ob, "expected_family");
		outbuf_json_str(ob, e->expected_family);
	}
	if (suppressed) {
		next_key(ob, "suppressed_by");
		outbuf_json_str(ob, e->suppressed_by);
	}
	outbuf_putc(ob, '}');
}

static void
put_errors(struct outbuf *ob, const char *name, const struct report_error *v,
           size_t n, bool suppressed)
{
	size_t i;

	outbuf_puts(ob, "  ");
	key(ob, name);
	if (!v || !n) {
		outbuf_puts(ob, "[],\n");
		return;
	}
	outbuf_puts(ob, "[\n");
	for (i = 0; i < n; i++) {
		outbuf_puts(ob, "    ");
		put_error(ob, &v[i], suppressed);
		outbuf_puts(ob, i + 1 < n ? ",\n" : "\n");
	}
	outbuf_puts(ob, "  ],\n");
}

static void
put_frame(struct outbuf *ob, const struct report_frame *f)
{
	outbuf_putc(ob, '{');
	if (f->python) {
		key(ob, "python");
		outbuf_puts(ob, "true");
	} else {
		key(ob, "pc");
		hex_str(ob, f->pc);
		next_key(ob, "module");
		outbuf_json_str(ob, f->module);
		next_key(ob, "offset");
		if (f->module)
			hex_str(ob, f->offset);
		else
			outbuf_puts(ob, "null");
	}
	next_key(ob, "function");
	outbuf_json_str(ob, f->function);
	next_key(ob, "file");
	outbuf_json_str(ob, f->file);
	next_key(ob, "line");
	if (f->line)
		outbuf_dec(ob, f->line);
	else
		outbuf_puts(ob, "null");
	outbuf_putc(ob, '}');
}

/*
 * Rendered frames, remembered: a report of 10^5 stacks names a few
 * hundred distinct frames, each rendered once.  Direct-mapped on the
 * frame's fields, which are compared whole (the strings by pointer: one
 * symbol's strings are shared by every frame that names it).
 */
#define FRAME_MEMO_SLOTS 1024
#define FRAME_MEMO_TEXT 488

struct frame_memo {
	struct report_frame key;
	unsigned len;          /* 0: empty */
	char text[FRAME_MEMO_TEXT];
};

static bool
same_frame(const struct report_frame *a, const struct report_frame *b)
{
	return a->python == b->python && a->pc == b->pc &&
	       a->module == b->module && a->offset == b->offset &&
	       a->function == b->function && a->file == b->file &&
	       a->line == b->line;
}

static void
put_frame_memo(struct outbuf *ob, const struct report_frame *f,
	       struct frame_memo *memo)
{
	struct frame_memo *m;
	struct outbuf tmp;
	uint64_t h;

	if (!memo) {
		put_frame(ob, f);
		return;
	}
	h = (uint64_t)f->pc ^ (uint64_t)(uintptr_t)f->function * 31 ^
	    (uint64_t)(uintptr_t)f->file * 17 ^ f->line;
	h *= 0x9e3779b97f4a7c15ull;
	m = &memo[h >> 54]; /* 10 bits: FRAME_MEMO_SLOTS */
	if (m->len && same_frame(&m->key, f)) {
		outbuf_write(ob, m->text, m->len);
		return;
	}
	/* Rendered apart (a frame is far below the 4 KiB buffer: no
	 * flush, so fd -1 is never written to), then kept. */
	outbuf_init(&tmp, -1);
	put_frame(&tmp, f);
	if (!tmp.err && tmp.len <= FRAME_MEMO_TEXT) {
		m->key = *f;
		m->len = (unsigned)tmp.len;
		memcpy(m->text, tmp.p, tmp.len);
	}
	outbuf_write(ob, tmp.p, tmp.len);
}

static void
put_stacks(struct outbuf *ob, const struct report *r)
{
	struct frame_memo *memo =
		r->nstacks > 16 ? arena_map(FRAME_MEMO_SLOTS * sizeof(*memo))
				: NULL;
	bool first = true;
	size_t i;
	unsigned j;

	outbuf_puts(ob, "  ");
	key(ob, "stacks");
	outbuf_putc(ob, '{');
	for (i = 0; r->stacks && i < r->nstacks; i++) {
		const struct report_stack *s = &r->stacks[i];

		/* Id 0 means "no stack" everywhere; it has no entry. */
		if (!s->id)
			continue;
		outbuf_puts(ob, first ? "\n    \"" : ",\n    \"");
		first = false;
		outbuf_dec(ob, s->id);
		outbuf_puts(ob, "\": [");
		for (j = 0; s->frames && j < s->nframes; j++) {
			outbuf_puts(ob, j ? ",\n      " : "\n      ");
			put_frame_memo(ob, &s->frames[j], memo);
		}
		outbuf_puts(ob, j ? "\n    ]" : "]");
	}
	outbuf_puts(ob, first ? "},\n" : "\n  },\n");
	arena_unmap(memo, FRAME_MEMO_SLOTS * sizeof(*memo));
	/* The thread each stack was captured on, when known. */
	outbuf_puts(ob, "  ");
	key(ob, "stack_threads");
	outbuf_putc(ob, '{');
	first = true;
	for (i = 0; r->stacks && i < r->nstacks; i++) {
		const struct report_stack *s = &r->stacks[i];

		if (!s->id || !s->tid)
			continue;
		outbuf_puts(ob, first ? "\"" : ", \"");
		first = false;
		outbuf_dec(ob, s->id);
		outbuf_puts(ob, "\": ");
		outbuf_dec(ob, (uint64_t)s->tid);
	}
	outbuf_puts(ob, "}\n");
}

int
report_write_json(int fd, const struct report *r)
{
	struct outbuf ob;
	size_t i;
	int ret;
	char *big = r->nerrors > 16 ? arena_map(BIG_OUTBUF) : NULL;

	outbuf_init(&ob, fd);
	outbuf_use(&ob, big, BIG_OUTBUF);
	outbuf_puts(&ob, "{\n  ");
	key(&ob, "schema");
	outbuf_dec(&ob, REPORT_SCHEMA);
	next_key(&ob, "tool");
	outbuf_json_str(&ob, "refsan");
	next_key(&ob, "version");
	outbuf_json_str(&ob, REFSAN_VERSION);
	outbuf_puts(&ob, ",\n  ");
	key(&ob, "pid");
	outbuf_sdec(&ob, r->pid);
	next_key(&ob, "ppid");
	outbuf_sdec(&ob, r->ppid);
	next_key(&ob, "final");
	bool_val(&ob, r->final);
	next_key(&ob, "exit_status");
	outbuf_sdec(&ob, r->exit_status);
	outbuf_puts(&ob, ",\n  ");
	key(&ob, "argv");
	str_array(&ob, r->argv, r->argc);
	outbuf_puts(&ob, ",\n  ");
	key(&ob, "specs");
	str_array(&ob, r->specs, r->nspecs);
	outbuf_puts(&ob, ",\n  ");
	key(&ob, "counters");
	outbuf_putc(&ob, '{');
	key(&ob, "created");
	outbuf_dec(&ob, r->counters.created);
	next_key(&ob, "acquired");
	outbuf_dec(&ob, r->counters.acquired);
	next_key(&ob, "released");
	outbuf_dec(&ob, r->counters.released);
	next_key(&ob, "live");
	outbuf_dec(&ob, r->counters.live);
	next_key(&ob, "peak_live");
	outbuf_dec(&ob, r->counters.peak_live);
	outbuf_puts(&ob, "},\n  ");
	key(&ob, "incomplete");
	bool_val(&ob, r->incomplete);
	next_key(&ob, "incomplete_reason");
	outbuf_json_str(&ob, r->incomplete ? r->incomplete_reason : NULL);
	outbuf_puts(&ob, ",\n");
	put_errors(&ob, "errors", r->errors, r->nerrors, false);
	put_errors(&ob, "suppressed", r->suppressed, r->nsuppressed, true);
	outbuf_puts(&ob, "  ");
	key(&ob, "suppressions");
	outbuf_putc(&ob, '[');
	for (i = 0; r->suppressions && i < r->nsuppressions; i++) {
		const struct report_suppression *s = &r->suppressions[i];

		outbuf_puts(&ob, i ? ",\n    {" : "\n    {");
		key(&ob, "rule");
		outbuf_json_str(&ob, s->rule);
		next_key(&ob, "hits");
		outbuf_dec(&ob, s->hits);
		next_key(&ob, "handles");
		outbuf_dec(&ob, s->handles);
		outbuf_putc(&ob, '}');
	}
	outbuf_puts(&ob, i ? "\n  ],\n" : "],\n");
	put_stacks(&ob, r);
	outbuf_puts(&ob, "}\n");
	ret = outbuf_flush(&ob);
	arena_unmap(big, BIG_OUTBUF);
	return ret;
}
