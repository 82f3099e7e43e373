/*
 * render_json.c: `refsan report --format json`, the merged report in the
 * schema of docs/json-schema.md (schema 1), so that every reader of one
 * process's report reads a merged one too, plus what only a merge has
 * (fields the schema lets writers add): "pids", "merged_from" and
 * "processes" at the top; "site" and "pids" on each error; and, with a
 * baseline, "baseline" and a "known" array of the errors it already had.
 * Feeding a merged report back to `refsan report` merges correctly: its
 * errors keep their own pids.  Strings go through the shim's JSON string
 * writer (outbuf_json_str), so the output is valid whatever they hold.
 */
#include <stdlib.h>
#include <string.h>

#include "outbuf.h"
#include "render.h"

static void
key(struct outbuf *ob, const char *k)
{
	outbuf_putc(ob, '"');
	outbuf_puts(ob, k);
	outbuf_puts(ob, "\": ");
}

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
stack_id(struct outbuf *ob, uint32_t id)
{
	if (id)
		outbuf_dec(ob, id);
	else
		outbuf_puts(ob, "null");
}

static void
put_group(struct outbuf *ob, const struct mgroup *g)
{
	char site[17];
	size_t i;

	outbuf_putc(ob, '{');
	key(ob, "kind");
	outbuf_json_str(ob, g->kind_name);
	next_key(ob, "family");
	outbuf_json_str(ob, g->family);
	next_key(ob, "function");
	outbuf_json_str(ob, g->function);
	next_key(ob, "count");
	outbuf_dec(ob, g->count);
	if (g->kind == KIND_LEAK) {
		next_key(ob, "refcount");
		outbuf_dec(ob, g->refcount);
		next_key(ob, "handles");
		outbuf_putc(ob, '[');
		for (i = 0; i < g->nhandles; i++) {
			if (i)
				outbuf_puts(ob, ", ");
			hex_str(ob, g->handles[i]);
		}
		outbuf_putc(ob, ']');
		next_key(ob, "indirect");
		outbuf_puts(ob, g->indirect ? "true" : "false");
		next_key(ob, "stack");
		stack_id(ob, g->stack);
		next_key(ob, "acquire_stacks");
		outbuf_putc(ob, '[');
		for (i = 0; i < g->nacquire_stacks; i++) {
			if (i)
				outbuf_puts(ob, ", ");
			stack_id(ob, g->acquire_stacks[i]);
		}
		outbuf_putc(ob, ']');
	} else {
		next_key(ob, "handle");
		hex_str(ob, g->handle);
		next_key(ob, "stack");
		stack_id(ob, g->stack);
		next_key(ob, "last_release_stack");
		stack_id(ob, g->last_release_stack);
		next_key(ob, "created_stack");
		stack_id(ob, g->created_stack);
		next_key(ob, "expected_family");
		outbuf_json_str(ob, g->expected_family);
	}
	if (g->suppressed) {
		next_key(ob, "suppressed_by");
		outbuf_json_str(ob, g->suppressed_by);
	}
	next_key(ob, "site");
	site_hex(g->site, site);
	outbuf_json_str(ob, site);
	next_key(ob, "pids");
	outbuf_putc(ob, '[');
	for (i = 0; i < g->npids; i++) {
		if (i)
			outbuf_puts(ob, ", ");
		outbuf_sdec(ob, g->pids[i]);
	}
	outbuf_puts(ob, "]}");
}

enum which { W_ERRORS, W_KNOWN, W_SUPPRESSED };

static bool
belongs(const struct mgroup *g, enum which w)
{
	switch (w) {
	case W_ERRORS:
		return !g->known && !g->suppressed;
	case W_KNOWN:
		return g->known && !g->suppressed;
	default:
		return g->suppressed;
	}
}

static void
put_groups(struct outbuf *ob, const struct model *m, const char *name,
           enum which w)
{
	bool first = true;
	size_t i;

	outbuf_puts(ob, "  ");
	key(ob, name);
	outbuf_putc(ob, '[');
	for (i = 0; i < m->norder; i++) {
		if (!belongs(m->order[i], w))
			continue;
		outbuf_puts(ob, first ? "\n    " : ",\n    ");
		first = false;
		put_group(ob, m->order[i]);
	}
	outbuf_puts(ob, first ? "],\n" : "\n  ],\n");
}

static void
str_array(struct outbuf *ob, const char *const *v, size_t n)
{
	size_t i;

	outbuf_putc(ob, '[');
	for (i = 0; i < n; i++) {
		if (i)
			outbuf_puts(ob, ", ");
		outbuf_json_str(ob, v[i]);
	}
	outbuf_putc(ob, ']');
}

static void
put_frame(struct outbuf *ob, const struct mframe *f)
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
		if (f->module && f->has_offset)
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

static void
mark(uint8_t *used, uint32_t id)
{
	if (id)
		used[id] = 1;
}

static void
put_stacks(struct outbuf *ob, const struct model *m)
{
	uint8_t *used = xcalloc(m->nstacks ? m->nstacks : 1, 1);
	bool first = true;
	size_t i, j, n;

	/* Only the stacks the errors name (a baseline's are not ours). */
	for (i = 0; i < m->ngroups; i++) {
		const struct mgroup *g = &m->groups[i];

		mark(used, g->stack);
		mark(used, g->last_release_stack);
		mark(used, g->created_stack);
		for (j = 0; j < g->nacquire_stacks; j++)
			mark(used, g->acquire_stacks[j]);
	}
	outbuf_puts(ob, "  ");
	key(ob, "stacks");
	outbuf_putc(ob, '{');
	for (i = 1; i < m->nstacks; i++) {
		const uint32_t *ids;

		if (!used[i])
			continue;
		outbuf_puts(ob, first ? "\n    \"" : ",\n    \"");
		first = false;
		outbuf_dec(ob, i);
		outbuf_puts(ob, "\": [");
		ids = model_stack(m, (uint32_t)i, &n);
		for (j = 0; j < n; j++) {
			outbuf_puts(ob, j ? ",\n      " : "\n      ");
			put_frame(ob, &m->frames[ids[j]]);
		}
		outbuf_puts(ob, j ? "\n    ]" : "]");
	}
	outbuf_puts(ob, first ? "},\n" : "\n  },\n");
	/* The thread of each stack, as the first report naming it with the
	 * group that comes first had it. */
	memset(used, 0, m->nstacks ? m->nstacks : 1);
	outbuf_puts(ob, "  ");
	key(ob, "stack_threads");
	outbuf_putc(ob, '{');
	first = true;
	for (i = 0; i < m->norder; i++) {
		const struct mgroup *g = m->order[i];
		const uint32_t ids[3] = { g->stack, g->last_release_stack,
			                  g->created_stack };
		const int tids[3] = { g->stack_tid, g->last_release_tid,
			              g->created_tid };

		for (j = 0; j < 3; j++) {
			if (!ids[j] || !tids[j] || used[ids[j]])
				continue;
			used[ids[j]] = 1;
			outbuf_puts(ob, first ? "\"" : ", \"");
			first = false;
			outbuf_dec(ob, ids[j]);
			outbuf_puts(ob, "\": ");
			outbuf_dec(ob, (uint64_t)tids[j]);
		}
	}
	outbuf_puts(ob, "}\n");
	free(used);
}

static int
cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

int
render_json(int fd, const struct model *m)
{
	const struct mprocess *p0 = m->nprocs ? &m->procs[0] : NULL;
	struct outbuf ob;
	int status = 0, *pids;
	size_t i, n = 0;

	for (i = 0; i < m->nprocs && !status; i++)
		status = m->procs[i].exit_status;
	pids = xcalloc(m->nprocs, sizeof(*pids));
	for (i = 0; i < m->nprocs; i++)
		pids[i] = m->procs[i].pid;
	qsort(pids, m->nprocs, sizeof(*pids), cmp_int);
	for (i = 0; i < m->nprocs; i++)
		if (!n || pids[n - 1] != pids[i])
			pids[n++] = pids[i];

	outbuf_init(&ob, fd);
	outbuf_puts(&ob, "{\n  ");
	key(&ob, "schema");
	outbuf_dec(&ob, REPORT_SCHEMA);
	next_key(&ob, "tool");
	outbuf_json_str(&ob, "refsan");
	next_key(&ob, "version");
	outbuf_json_str(&ob, REFSAN_VERSION);
	outbuf_puts(&ob, ",\n  ");
	key(&ob, "pid");
	outbuf_sdec(&ob, p0 ? p0->pid : 0);
	next_key(&ob, "ppid");
	outbuf_sdec(&ob, p0 ? p0->ppid : 0);
	next_key(&ob, "final");
	outbuf_puts(&ob, m->final ? "true" : "false");
	next_key(&ob, "exit_status");
	outbuf_sdec(&ob, status);
	outbuf_puts(&ob, ",\n  ");
	key(&ob, "argv");
	if (p0)
		str_array(&ob, p0->argv, p0->argc);
	else
		outbuf_puts(&ob, "[]");
	outbuf_puts(&ob, ",\n  ");
	key(&ob, "specs");
	str_array(&ob, m->specs, m->nspecs);
	outbuf_puts(&ob, ",\n  ");
	key(&ob, "counters");
	outbuf_putc(&ob, '{');
	key(&ob, "created");
	outbuf_dec(&ob, m->counters.created);
	next_key(&ob, "acquired");
	outbuf_dec(&ob, m->counters.acquired);
	next_key(&ob, "released");
	outbuf_dec(&ob, m->counters.released);
	next_key(&ob, "live");
	outbuf_dec(&ob, m->counters.live);
	next_key(&ob, "peak_live");
	outbuf_dec(&ob, m->counters.peak_live);
	outbuf_puts(&ob, "},\n  ");
	key(&ob, "incomplete");
	outbuf_puts(&ob, m->incomplete ? "true" : "false");
	next_key(&ob, "incomplete_reason");
	outbuf_json_str(&ob, m->incomplete ? m->incomplete_reason : NULL);
	outbuf_puts(&ob, ",\n  ");
	key(&ob, "pids");
	outbuf_putc(&ob, '[');
	for (i = 0; i < n; i++) {
		if (i)
			outbuf_puts(&ob, ", ");
		outbuf_sdec(&ob, pids[i]);
	}
	outbuf_puts(&ob, "],\n  ");
	key(&ob, "merged_from");
	str_array(&ob, m->files, m->nfiles);
	outbuf_puts(&ob, ",\n  ");
	key(&ob, "processes");
	outbuf_putc(&ob, '[');
	for (i = 0; i < m->nprocs; i++) {
		const struct mprocess *p = &m->procs[i];

		outbuf_puts(&ob, i ? ",\n    {" : "\n    {");
		key(&ob, "pid");
		outbuf_sdec(&ob, p->pid);
		next_key(&ob, "ppid");
		outbuf_sdec(&ob, p->ppid);
		next_key(&ob, "exit_status");
		outbuf_sdec(&ob, p->exit_status);
		next_key(&ob, "final");
		outbuf_puts(&ob, p->final ? "true" : "false");
		next_key(&ob, "incomplete");
		outbuf_puts(&ob, p->incomplete ? "true" : "false");
		next_key(&ob, "incomplete_reason");
		outbuf_json_str(&ob, p->incomplete_reason);
		next_key(&ob, "errors");
		outbuf_dec(&ob, p->nerrors);
		next_key(&ob, "file");
		outbuf_json_str(&ob, p->file);
		next_key(&ob, "argv");
		str_array(&ob, p->argv, p->argc);
		outbuf_putc(&ob, '}');
	}
	outbuf_puts(&ob, i ? "\n  ],\n  " : "],\n  ");
	key(&ob, "baseline");
	outbuf_json_str(&ob, m->baseline);
	outbuf_puts(&ob, ",\n");
	put_groups(&ob, m, "errors", W_ERRORS);
	if (m->baseline)
		put_groups(&ob, m, "known", W_KNOWN);
	put_groups(&ob, m, "suppressed", W_SUPPRESSED);
	outbuf_puts(&ob, "  ");
	key(&ob, "suppressions");
	outbuf_putc(&ob, '[');
	for (i = 0; i < m->nsupps; i++) {
		outbuf_puts(&ob, i ? ",\n    {" : "\n    {");
		key(&ob, "rule");
		outbuf_json_str(&ob, m->supps[i].rule);
		next_key(&ob, "hits");
		outbuf_dec(&ob, m->supps[i].hits);
		next_key(&ob, "handles");
		outbuf_dec(&ob, m->supps[i].handles);
		outbuf_putc(&ob, '}');
	}
	outbuf_puts(&ob, i ? "\n  ],\n" : "],\n");
	put_stacks(&ob, m);
	outbuf_puts(&ob, "}\n");
	free(pids);
	return outbuf_flush(&ob);
}
