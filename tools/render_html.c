/*
 * render_html.c: `refsan report --format html`, one self-contained page
 * to open from a CI artifact or a mail attachment: no network, no other
 * file.  The summary (program, processes, counters, errors by kind) is
 * written here as HTML, so that it reads even where scripts do not run;
 * the table of error groups and the flame graph of live handles are built
 * by the page's own script (tools/html/report.js) from a JSON data block:
 * the model's strings, frames and stacks interned once each, and one small
 * object per group, so that 10,000 leak sites make a page of a few
 * megabytes rather than a DOM node per handle.
 *
 * Names in a report come from the program (functions, files, Python
 * qualnames, argv) and may be anything.  Here they are made printable as
 * in the text report, then escaped for where they go: HTML text and
 * attributes as character references; the data block as JSON in which
 * '<', '>' and '&' are \u escapes, so that no "</script>" or "<!--" can
 * end or bend the element.  The script builds its DOM with textContent
 * and setAttribute only, and the page's Content-Security-Policy allows the
 * one stylesheet and the one script whose SHA-256 embed.py computed at
 * build time: nothing else can run, nothing can be fetched.  A hash rather
 * than a nonce keeps the output the same from run to run.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "html_assets.h"
#include "render.h"
#include "render_html.h"

/* Pids and handles listed per group in the data block. */
#define HTML_MAX_PIDS 20
#define HTML_MAX_HANDLES 4
/* Processes listed in the summary. */
#define HTML_MAX_PROCS 1000

#define NONE UINT32_MAX

/* S for HTML text and double- or single-quoted attribute values. */
static void
html(struct sbuf *out, const char *s)
{
	struct sbuf t = { 0 };
	const char *p;

	sbuf_text(&t, s);
	for (p = t.s ? t.s : ""; *p; p++) {
		switch (*p) {
		case '&':
			sbuf_puts(out, "&amp;");
			break;
		case '<':
			sbuf_puts(out, "&lt;");
			break;
		case '>':
			sbuf_puts(out, "&gt;");
			break;
		case '"':
			sbuf_puts(out, "&quot;");
			break;
		case '\'':
			sbuf_puts(out, "&#39;");
			break;
		default:
			sbuf_add(out, p, 1);
			break;
		}
	}
	sbuf_free(&t);
}

/* S as a JSON string that may stand inside a <script> element: after
 * sbuf_text only printable ASCII and valid UTF-8 from U+00A0 remain;
 * of those, the characters that mean something to the HTML parser or
 * end a JavaScript line become \u escapes. */
static void
data_str(struct sbuf *out, const char *s)
{
	struct sbuf t = { 0 };
	const unsigned char *p;

	sbuf_text(&t, s);
	sbuf_puts(out, "\"");
	for (p = (const unsigned char *)(t.s ? t.s : ""); *p; p++) {
		switch (*p) {
		case '"':
			sbuf_puts(out, "\\\"");
			break;
		case '\\':
			sbuf_puts(out, "\\\\");
			break;
		case '<':
			sbuf_puts(out, "\\u003c");
			break;
		case '>':
			sbuf_puts(out, "\\u003e");
			break;
		case '&':
			sbuf_puts(out, "\\u0026");
			break;
		case 0xe2:
			if (p[1] == 0x80 && (p[2] == 0xa8 || p[2] == 0xa9)) {
				sbuf_puts(out,
				          p[2] == 0xa8 ? "\\u2028" : "\\u2029");
				p += 2;
				break;
			}
			/* fall through */
		default:
			sbuf_add(out, (const char *)p, 1);
			break;
		}
	}
	sbuf_puts(out, "\"");
	sbuf_free(&t);
}

/*
 * The strings of the data block, each once.  The model interns its
 * strings, so a pointer stands for its text (path_rel of an interned path
 * is a fixed suffix of it); two pointers to equal text only cost a
 * duplicate.
 */
struct strtab {
	const char **keys;
	uint32_t *ids;
	size_t cap; /* a power of 2 */
	const char **list;
	size_t n, cap_list;
};

static size_t
ptr_hash(const void *p, size_t cap)
{
	uint64_t h = (uint64_t)(uintptr_t)p * 0x9e3779b97f4a7c15ull;

	return (size_t)(h >> 32) & (cap - 1);
}

static void
strtab_grow(struct strtab *t)
{
	size_t cap = t->cap ? t->cap * 2 : 1024, i, j;
	const char **keys = xcalloc(cap, sizeof(*keys));
	uint32_t *ids = xcalloc(cap, sizeof(*ids));

	for (i = 0; i < t->cap; i++) {
		if (!t->keys[i])
			continue;
		for (j = ptr_hash(t->keys[i], cap); keys[j];
		     j = (j + 1) & (cap - 1))
			;
		keys[j] = t->keys[i];
		ids[j] = t->ids[i];
	}
	free(t->keys);
	free(t->ids);
	t->keys = keys;
	t->ids = ids;
	t->cap = cap;
}

/* The index of S in the table, NONE for NULL. */
static uint32_t
strtab_id(struct strtab *t, const char *s)
{
	size_t i;

	if (!s)
		return NONE;
	if ((t->n + 1) * 2 > t->cap)
		strtab_grow(t);
	for (i = ptr_hash(s, t->cap); t->keys[i]; i = (i + 1) & (t->cap - 1))
		if (t->keys[i] == s)
			return t->ids[i];
	if (t->n == t->cap_list) {
		t->cap_list = t->cap_list ? t->cap_list * 2 : 1024;
		t->list = xrealloc(t->list, t->cap_list * sizeof(*t->list));
	}
	t->keys[i] = s;
	t->ids[i] = (uint32_t)t->n;
	t->list[t->n] = s;
	return (uint32_t)t->n++;
}

static void
strtab_free(struct strtab *t)
{
	free(t->keys);
	free(t->ids);
	free(t->list);
}

/* What the data block holds: the frames and stacks the groups name,
 * renumbered from 0 in the order of first use. */
struct html_data {
	const struct model *m;
	struct strtab st;
	uint32_t *frame_out; /* model frame id -> index + 1, 0: unused */
	uint32_t *frames;    /* index -> model frame id */
	size_t nframes;
	uint32_t *stack_out;
	uint32_t *stacks;
	size_t nstacks;
};

static uint32_t
use_frame(struct html_data *d, uint32_t id)
{
	const struct mframe *f = &d->m->frames[id];

	if (!d->frame_out[id]) {
		d->frames[d->nframes++] = id;
		d->frame_out[id] = (uint32_t)d->nframes;
		strtab_id(&d->st, f->function);
		strtab_id(&d->st, path_rel(f->file));
		if (!f->python)
			strtab_id(&d->st, f->module);
	}
	return d->frame_out[id] - 1;
}

/* The index of stack ID in the data block; NONE for none or unknown. */
static uint32_t
use_stack(struct html_data *d, uint32_t id)
{
	const uint32_t *ids;
	size_t n, i;

	if (!id || id >= d->m->nstacks)
		return NONE;
	if (!d->stack_out[id]) {
		ids = model_stack(d->m, id, &n);
		for (i = 0; i < n; i++)
			if (ids[i] && ids[i] < d->m->nframes)
				use_frame(d, ids[i]);
		d->stacks[d->nstacks++] = id;
		d->stack_out[id] = (uint32_t)d->nstacks;
	}
	return d->stack_out[id] - 1;
}

static void
collect(struct html_data *d, const struct model *m)
{
	size_t i, j;

	memset(d, 0, sizeof(*d));
	d->m = m;
	d->frame_out = xcalloc(m->nframes + 1, sizeof(uint32_t));
	d->frames = xcalloc(m->nframes + 1, sizeof(uint32_t));
	d->stack_out = xcalloc(m->nstacks + 1, sizeof(uint32_t));
	d->stacks = xcalloc(m->nstacks + 1, sizeof(uint32_t));
	for (i = 0; i < m->norder; i++) {
		const struct mgroup *g = m->order[i];

		strtab_id(&d->st, g->kind_name);
		strtab_id(&d->st, g->family);
		strtab_id(&d->st, g->function);
		strtab_id(&d->st, g->expected_family);
		strtab_id(&d->st, g->suppressed_by);
		use_stack(d, g->stack);
		use_stack(d, g->last_release_stack);
		use_stack(d, g->created_stack);
		for (j = 0; j < g->nacquire_stacks; j++)
			use_stack(d, g->acquire_stacks[j]);
	}
}

static void
html_data_free(struct html_data *d)
{
	strtab_free(&d->st);
	free(d->frame_out);
	free(d->frames);
	free(d->stack_out);
	free(d->stacks);
}

/* ,"KEY":N with the string index of S, or nothing for NULL. */
static void
key_str(struct html_data *d, struct sbuf *out, const char *key, const char *s)
{
	uint32_t id = strtab_id(&d->st, s);

	if (id != NONE)
		sbuf_printf(out, ",\"%s\":%u", key, id);
}

static void
key_stack(struct html_data *d, struct sbuf *out, const char *key, uint32_t id)
{
	uint32_t k = use_stack(d, id);

	if (k != NONE)
		sbuf_printf(out, ",\"%s\":%u", key, k);
}

static void
data_group(struct html_data *d, struct sbuf *out, const struct mgroup *g)
{
	const struct mframe *site = model_site_frame(d->m, g);
	char hex[17];
	size_t i;

	sbuf_printf(out, "{\"k\":%u", strtab_id(&d->st, g->kind_name));
	key_str(d, out, "fa", g->family);
	key_str(d, out, "fn", g->function);
	key_str(d, out, "ef", g->expected_family);
	key_str(d, out, "sb", g->suppressed_by);
	sbuf_printf(out, ",\"n\":%llu", (unsigned long long)g->count);
	if (g->kind == KIND_LEAK)
		sbuf_printf(out, ",\"rc\":%u", g->refcount);
	if (g->indirect)
		sbuf_puts(out, ",\"ind\":1");
	if (g->known)
		sbuf_puts(out, ",\"known\":1");
	if (g->suppressed)
		sbuf_puts(out, ",\"sup\":1");
	key_stack(d, out, "st", g->stack);
	key_stack(d, out, "lr", g->last_release_stack);
	key_stack(d, out, "cr", g->created_stack);
	if (g->stack_tid || g->last_release_tid || g->created_tid)
		sbuf_printf(out, ",\"t\":[%d,%d,%d]", g->stack_tid,
		            g->last_release_tid, g->created_tid);
	if (g->nacquire_stacks) {
		sbuf_puts(out, ",\"aq\":[");
		for (i = 0; i < g->nacquire_stacks; i++) {
			uint32_t k = use_stack(d, g->acquire_stacks[i]);

			if (k == NONE)
				sbuf_printf(out, "%snull", i ? "," : "");
			else
				sbuf_printf(out, "%s%u", i ? "," : "", k);
		}
		sbuf_puts(out, "]");
	}
	if (site && site > d->m->frames &&
	    (size_t)(site - d->m->frames) < d->m->nframes)
		sbuf_printf(out, ",\"at\":%u",
		            use_frame(d, (uint32_t)(site - d->m->frames)));
	site_hex(g->site, hex);
	sbuf_printf(out, ",\"site\":\"%s\",\"np\":%zu,\"p\":[", hex, g->npids);
	for (i = 0; i < g->npids && i < HTML_MAX_PIDS; i++)
		sbuf_printf(out, "%s%d", i ? "," : "", g->pids[i]);
	sbuf_puts(out, "],\"h\":[");
	if (g->kind == KIND_LEAK) {
		for (i = 0; i < g->nhandles && i < HTML_MAX_HANDLES; i++)
			sbuf_printf(out, "%s\"0x%llx\"", i ? "," : "",
			            (unsigned long long)g->handles[i]);
	} else {
		sbuf_printf(out, "\"0x%llx\"", (unsigned long long)g->handle);
	}
	sbuf_puts(out, "]}");
}

/* Flushes OUT to FD when it has grown past a megabyte. */
static int
flush_big(int fd, struct sbuf *out)
{
	int r = 0;

	if (out->len > (1u << 20)) {
		r = write_sbuf(fd, out);
		out->len = 0;
	}
	return r;
}

/*
 * The data block: {"v":1, "final", "s": strings, "f": frames as [python,
 * function, file, line, module, offset], "k": stacks as frame indexes
 * innermost first, "g": groups in the model's order}; string, frame and
 * stack references are indexes, absent fields mean none.
 */
static int
write_data(int fd, struct sbuf *out, const struct model *m)
{
	struct html_data d;
	size_t i, j;
	int r = 0;

	collect(&d, m);
	sbuf_printf(out, "{\"v\":1,\"final\":%s,\"g\":[",
	            m->final ? "true" : "false");
	for (i = 0; i < m->norder && !r; i++) {
		sbuf_puts(out, i ? ",\n" : "\n");
		data_group(&d, out, m->order[i]);
		r = flush_big(fd, out);
	}
	sbuf_puts(out, "],\n\"f\":[");
	for (i = 0; i < d.nframes && !r; i++) {
		const struct mframe *f = &m->frames[d.frames[i]];
		uint32_t fn = strtab_id(&d.st, f->function);
		uint32_t file = strtab_id(&d.st, path_rel(f->file));
		uint32_t mod = f->python ? NONE : strtab_id(&d.st, f->module);

		sbuf_printf(out, "%s[%d,", i ? ",\n" : "\n", f->python);
		sbuf_printf(out, fn == NONE ? "null," : "%u,", fn);
		sbuf_printf(out, file == NONE ? "null," : "%u,", file);
		sbuf_printf(out, f->line ? "%u," : "null,", f->line);
		sbuf_printf(out, mod == NONE ? "null," : "%u,", mod);
		if (!f->python && f->has_offset)
			sbuf_printf(out, "\"0x%llx\"]",
			            (unsigned long long)f->offset);
		else
			sbuf_puts(out, "null]");
		r = flush_big(fd, out);
	}
	sbuf_puts(out, "],\n\"k\":[");
	for (i = 0; i < d.nstacks && !r; i++) {
		const uint32_t *ids;
		size_t n, k = 0;

		ids = model_stack(m, d.stacks[i], &n);
		sbuf_puts(out, i ? ",\n[" : "\n[");
		for (j = 0; j < n; j++)
			if (ids[j] && ids[j] < m->nframes)
				sbuf_printf(out, "%s%u", k++ ? "," : "",
				            d.frame_out[ids[j]] - 1);
		sbuf_puts(out, "]");
		r = flush_big(fd, out);
	}
	sbuf_puts(out, "],\n\"s\":[");
	for (i = 0; i < d.st.n && !r; i++) {
		sbuf_puts(out, i ? ",\n" : "\n");
		data_str(out, d.st.list[i]);
		r = flush_big(fd, out);
	}
	sbuf_puts(out, "]}");
	html_data_free(&d);
	return r;
}

/* ARGV as a command line: arguments with spaces or quotes in '...'. */
static void
html_argv(struct sbuf *out, const struct mprocess *p)
{
	size_t i;

	if (!p->argc) {
		sbuf_puts(out, "(unknown)");
		return;
	}
	for (i = 0; i < p->argc; i++) {
		const char *a = p->argv[i];

		if (i)
			sbuf_puts(out, " ");
		if (!a) {
			sbuf_puts(out, "??");
		} else if (!*a || strpbrk(a, " \t\"'\\$`;&|<>()*?[]{}")) {
			sbuf_puts(out, "'");
			html(out, a);
			sbuf_puts(out, "'");
		} else {
			html(out, a);
		}
	}
}

static void
stat_row(struct sbuf *out, const char *label, unsigned long long n,
         const char *note)
{
	sbuf_printf(out, "<tr><th scope=\"row\">%s</th><td>%llu</td>", label,
	            n);
	if (note)
		sbuf_printf(out, "<td class=\"muted\">%s</td>", note);
	sbuf_puts(out, "</tr>\n");
}

static void
write_head(struct sbuf *out, const struct model *m)
{
	sbuf_puts(out, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
	               "<meta charset=\"utf-8\">\n");
	sbuf_printf(out,
	            "<meta http-equiv=\"Content-Security-Policy\" "
	            "content=\"default-src 'none'; script-src '%s'; "
	            "style-src '%s'; img-src data:; base-uri 'none'; "
	            "form-action 'none'\">\n",
	            HTML_JS_SHA256, HTML_CSS_SHA256);
	sbuf_puts(out,
	          "<meta name=\"viewport\" content=\"width=device-width, "
	          "initial-scale=1\">\n"
	          "<meta name=\"generator\" content=\"refsan " REFSAN_VERSION
	          "\">\n<title>refsan report");
	if (m->nprocs && m->procs[0].argc) {
		sbuf_puts(out, ": ");
		html_argv(out, &m->procs[0]);
	}
	sbuf_puts(out, "</title>\n<style>");
	sbuf_add(out, html_css, sizeof(html_css) - 1);
	sbuf_puts(out, "</style>\n</head>\n");
}

static void
write_program(struct sbuf *out, const struct model *m)
{
	size_t i;

	sbuf_puts(out, "<div class=\"card\" id=\"program\">\n<h2>Program</h2>\n"
	               "<p class=\"argv\"><code>");
	if (m->nprocs)
		html_argv(out, &m->procs[0]);
	else
		sbuf_puts(out, "(no report)");
	sbuf_puts(out, "</code></p>\n<p>");
	if (m->nprocs == 1) {
		sbuf_printf(out, "pid %d, exit status %d", m->procs[0].pid,
		            m->procs[0].exit_status);
	} else {
		sbuf_printf(out, "%zu processes: pids ", m->nprocs);
		for (i = 0; i < m->nprocs && i < 8; i++)
			sbuf_printf(out, "%s%d", i ? ", " : "",
			            m->procs[i].pid);
		if (m->nprocs > 8)
			sbuf_printf(out, " and %zu more", m->nprocs - 8);
	}
	sbuf_puts(out, "</p>\n");
	if (m->nspecs) {
		sbuf_puts(out, "<p class=\"muted\">spec ");
		for (i = 0; i < m->nspecs; i++) {
			sbuf_puts(out, i ? ", <code>" : "<code>");
			html(out, path_rel(m->specs[i]));
			sbuf_puts(out, "</code>");
		}
		sbuf_puts(out, "</p>\n");
	}
	if (m->nprocs > 1) {
		sbuf_puts(out, "<details><summary>Every process</summary>\n"
		               "<table class=\"procs\"><thead><tr><th>pid</th>"
		               "<th>parent</th><th>exit</th><th>errors</th>"
		               "<th>command</th></tr></thead><tbody>\n");
		for (i = 0; i < m->nprocs && i < HTML_MAX_PROCS; i++) {
			const struct mprocess *p = &m->procs[i];

			sbuf_printf(out,
			            "<tr><td>%d</td><td>%d</td><td>%d</td>"
			            "<td>%llu</td><td><code>",
			            p->pid, p->ppid, p->exit_status,
			            (unsigned long long)p->nerrors);
			html_argv(out, p);
			sbuf_puts(out, "</code></td></tr>\n");
		}
		sbuf_puts(out, "</tbody></table>\n");
		if (m->nprocs > HTML_MAX_PROCS)
			sbuf_printf(out,
			            "<p class=\"muted\">and %zu more</p>\n",
			            m->nprocs - HTML_MAX_PROCS);
		sbuf_puts(out, "</details>\n");
	}
	sbuf_puts(out, "</div>\n");
}

static void
write_counters(struct sbuf *out, const struct model *m)
{
	sbuf_puts(out,
	          "<div class=\"card\" id=\"counters\">\n<h2>Handles</h2>\n"
	          "<table class=\"stats\">\n");
	stat_row(out, "created", m->counters.created, NULL);
	stat_row(out, "acquired", m->counters.acquired, NULL);
	stat_row(out, "released", m->counters.released, NULL);
	stat_row(out, m->final ? "live at exit" : "live", m->counters.live,
	         NULL);
	stat_row(out, "peak live", m->counters.peak_live,
	         m->nprocs > 1 ? "(sum over processes)" : NULL);
	sbuf_puts(out, "</table>\n</div>\n");
}

static void
write_errors(struct sbuf *out, const struct model *m, const struct totals *t)
{
	static const char *const names[KIND_COUNT + 1] = {
		[KIND_LEAK] = "leaked handles",
		[KIND_DOUBLE_RELEASE] = "double releases",
		[KIND_INVALID_RELEASE] = "invalid releases",
		[KIND_USE_AFTER_RELEASE] = "uses after release",
		[KIND_FAMILY_MISMATCH] = "family mismatches",
		[KIND_COUNT] = "other errors",
	};
	char note[64];
	bool any = false;
	int k;

	sbuf_puts(out, "<div class=\"card\" id=\"error-counts\">\n"
	               "<h2>Errors</h2>\n<table class=\"stats\">\n");
	for (k = 0; k <= KIND_COUNT; k++) {
		if (!t->n[k])
			continue;
		any = true;
		note[0] = 0;
		if (k == KIND_LEAK)
			snprintf(note, sizeof(note), "from %llu site(s)",
			         (unsigned long long)t->leak_sites);
		stat_row(out, names[k], t->n[k], note[0] ? note : NULL);
	}
	if (!any)
		sbuf_puts(out,
		          "<tr><th scope=\"row\">none</th><td></td></tr>\n");
	if (t->suppressed)
		stat_row(out, "suppressed", t->suppressed, NULL);
	if (t->known_groups)
		stat_row(out, "known (baseline)", t->known_groups, "group(s)");
	sbuf_puts(out, "</table>\n</div>\n");
}

static void
write_body(struct sbuf *out, const struct model *m)
{
	struct totals t;
	struct sbuf line = { 0 };

	model_totals(m, &t);
	summary_line(m, &t, &line);
	if (line.len && line.s[line.len - 1] == '\n')
		line.s[--line.len] = 0;
	sbuf_puts(out,
	          "<body>\n<header class=\"top\">\n<h1>refsan report</h1>\n"
	          "<p class=\"summary\" id=\"summary\">");
	html(out, line.s);
	sbuf_printf(out,
	            "</p>\n<p class=\"muted\">refsan " REFSAN_VERSION
	            ", %zu report(s) merged",
	            m->nprocs);
	if (m->baseline) {
		sbuf_puts(out, ", baseline <code>");
		html(out, path_rel(m->baseline));
		sbuf_puts(out, "</code>");
	}
	sbuf_puts(out, "</p>\n");
	if (m->incomplete) {
		sbuf_puts(out, "<p class=\"warn\">A report is incomplete: ");
		html(out, m->incomplete_reason ? m->incomplete_reason
		                               : "facts are missing");
		sbuf_puts(out,
		          ". Absent errors are no proof of absence.</p>\n");
	}
	if (!m->final)
		sbuf_puts(out, "<p class=\"warn\">Not a final report: the "
		               "handles listed are live at the moment it was "
		               "written, not leaks.</p>\n");
	sbuf_puts(out, "</header>\n<main>\n<section class=\"cards\">\n");
	write_program(out, m);
	write_counters(out, m);
	write_errors(out, m, &t);
	sbuf_printf(out,
	            "</section>\n<section id=\"flame-section\">\n"
	            "<h2>Handles live %s by creation stack</h2>\n"
	            "<div id=\"flame-bar\"></div>\n<div id=\"flame\"></div>\n"
	            "</section>\n<section id=\"groups-section\">\n"
	            "<h2>Error groups</h2>\n<div id=\"filters\"></div>\n"
	            "<div id=\"groups\"></div>\n</section>\n"
	            "<noscript><p class=\"warn\">The table of error groups and "
	            "the flame graph need JavaScript; <code>refsan report "
	            "--format text</code> prints the same errors.</p>"
	            "</noscript>\n</main>\n",
	            m->final ? "at exit" : "now");
	sbuf_free(&line);
}

int
render_html(int fd, const struct model *m)
{
	struct sbuf out = { 0 };
	int r;

	write_head(&out, m);
	write_body(&out, m);
	sbuf_puts(&out, "<script type=\"application/json\" id=\"data\">");
	r = write_data(fd, &out, m);
	sbuf_puts(&out, "</script>\n<script>");
	sbuf_add(&out, html_js, sizeof(html_js) - 1);
	sbuf_puts(&out, "</script>\n</body>\n</html>\n");
	if (!r)
		r = write_sbuf(fd, &out);
	sbuf_free(&out);
	return r;
}
