/*
 * render_sarif.c: `refsan report --format sarif`, SARIF 2.1.0 for code
 * scanning (GitHub's upload-sarif, GitLab, IDE viewers), which annotate
 * the source line a result points at.  A result's location is the line
 * that made the call refsan flagged (model_site_frame: the first frame
 * with a source file after the spec'd function's own, Python or C), with
 * a path relative to the working directory (the checkout, in CI) when the
 * file lies under it.  The whole stack goes in codeFlows (outermost call
 * first, as viewers step through it), the other stacks of a misuse error
 * (last release, creation) in relatedLocations, and the site hash in
 * partialFingerprints, so that an alert keeps its identity from run to
 * run.  With a baseline, known results are notes with baselineState
 * "unchanged" and the others "new".
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "outbuf.h"
#include "render.h"

static const struct rule {
	const char *id, *name, *short_text, *full_text;
} rules[KIND_COUNT] = {
	[KIND_LEAK] = { "leak", "HandleLeak", "Handle still live at exit",
	                "A handle created through the library was never released "
	                "down to a reference count of 0 before the process exited. "
	                "The location is the call that created it; release it on "
	                "every path (or fix the unmatched acquire)." },
	[KIND_DOUBLE_RELEASE] = { "double_release", "DoubleRelease",
	                          "Handle released after its count reached 0",
	                          "A release of a handle whose reference count had "
	                          "already reached 0: a use after free in the "
	                          "library. refsan did not pass it on. The related "
	                          "locations show the release that took the count "
	                          "to 0 and the creation." },
	[KIND_INVALID_RELEASE] = { "invalid_release", "InvalidRelease",
	                           "Release of a handle never created",
	                           "A release of a pointer refsan never saw created "
	                           "by a create function of the spec." },
	[KIND_USE_AFTER_RELEASE] = { "use_after_release", "UseAfterRelease",
	                             "Handle used after its last release",
	                             "A function of the spec that needs a live handle "
	                             "was given one whose reference count had reached "
	                             "0." },
	[KIND_FAMILY_MISMATCH] = { "family_mismatch", "FamilyMismatch",
	                           "Handle of the wrong family",
	                           "A handle of one family was passed to a function "
	                           "that accepts other families only." },
};

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
text_obj(struct outbuf *ob, const char *k, const char *text)
{
	key(ob, k);
	outbuf_puts(ob, "{\"text\": ");
	outbuf_json_str(ob, text);
	outbuf_putc(ob, '}');
}

/* A path as a URI reference: relative ones as they are (percent-encoded),
 * absolute ones as file:// URIs. */
static void
uri(struct sbuf *out, const char *path, bool *relative)
{
	const unsigned char *p;

	path = path_rel(path);
	*relative = path[0] != '/';
	if (!*relative)
		sbuf_puts(out, "file://");
	for (p = (const unsigned char *)path; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("/-._~", *p))
			sbuf_add(out, (const char *)p, 1);
		else
			sbuf_printf(out, "%%%02X", *p);
	}
}

static void
physical(struct outbuf *ob, const struct mframe *f)
{
	struct sbuf u = { 0 };
	bool rel;

	uri(&u, f->file, &rel);
	key(ob, "physicalLocation");
	outbuf_puts(ob, "{\"artifactLocation\": {\"uri\": ");
	outbuf_json_str(ob, u.s);
	if (rel)
		outbuf_puts(ob, ", \"uriBaseId\": \"%SRCROOT%\"");
	outbuf_putc(ob, '}');
	if (f->line) {
		outbuf_puts(ob, ", \"region\": {\"startLine\": ");
		outbuf_dec(ob, f->line);
		outbuf_putc(ob, '}');
	}
	outbuf_putc(ob, '}');
	sbuf_free(&u);
}

static void
location(struct outbuf *ob, const struct mframe *f, const char *message, int id)
{
	outbuf_putc(ob, '{');
	if (id >= 0) {
		key(ob, "id");
		outbuf_dec(ob, (uint64_t)id);
		outbuf_puts(ob, ", ");
	}
	physical(ob, f);
	if (f->function) {
		outbuf_puts(
		        ob,
		        ", \"logicalLocations\": [{\"fullyQualifiedName\": ");
		outbuf_json_str(ob, f->function);
		outbuf_puts(ob, ", \"kind\": \"function\"}]");
	}
	if (message) {
		outbuf_puts(ob, ", ");
		text_obj(ob, "message", message);
	}
	outbuf_putc(ob, '}');
}

/* One codeFlow: STACK's frames with files, outermost first. */
static bool
code_flow(struct outbuf *ob, const struct model *m, uint32_t stack,
          const char *what, bool first)
{
	const uint32_t *ids;
	size_t n, i, level = 0;
	bool any = false;

	ids = model_stack(m, stack, &n);
	for (i = 0; i < n; i++)
		if (m->frames[ids[i]].file)
			any = true;
	if (!any)
		return first;
	outbuf_puts(ob, first ? "" : ", ");
	outbuf_puts(ob, "{");
	text_obj(ob, "message", what);
	outbuf_puts(ob, ", \"threadFlows\": [{\"locations\": [");
	for (i = n; i-- > 0;) {
		const struct mframe *f = &m->frames[ids[i]];

		if (!f->file)
			continue;
		outbuf_puts(ob, level ? ", " : "");
		outbuf_puts(ob, "{\"location\": ");
		location(ob, f, f->function ? f->function : "??", -1);
		outbuf_puts(ob, ", \"nestingLevel\": ");
		outbuf_dec(ob, level++);
		outbuf_putc(ob, '}');
	}
	outbuf_puts(ob, "]}]}");
	return false;
}

static bool
related(struct outbuf *ob, const struct model *m, uint32_t stack,
        const char *skip, const char *what, int *id, bool first)
{
	const struct mframe *f = model_stack_site_frame(m, stack, skip);

	if (!f)
		return first;
	outbuf_puts(ob, first ? "" : ", ");
	location(ob, f, what, (*id)++);
	return false;
}

static void
put_result(struct outbuf *ob, const struct model *m, const struct mgroup *g,
           int rule_index, bool first)
{
	const struct mframe *f = model_site_frame(m, g);
	struct sbuf msg = { 0 };
	char site[17];
	bool none;
	int id = 1;
	size_t i;

	outbuf_puts(ob, first ? "\n        {" : ",\n        {");
	key(ob, "ruleId");
	outbuf_json_str(ob, g->kind_name);
	next_key(ob, "ruleIndex");
	outbuf_dec(ob, (uint64_t)rule_index);
	next_key(ob, "level");
	outbuf_json_str(ob, g->known ? "note" : "error");
	if (m->baseline) {
		next_key(ob, "baselineState");
		outbuf_json_str(ob, g->known ? "unchanged" : "new");
	}
	group_title(g, &msg);
	sbuf_puts(&msg, ", ");
	group_where(m, g, &msg);
	sbuf_printf(&msg, "; in %zu process(es) (pid ", g->npids);
	pid_list(g, 8, &msg);
	sbuf_puts(&msg, ")");
	if (g->known)
		sbuf_puts(&msg, "; known: its site is in the baseline");
	outbuf_puts(ob, ", ");
	text_obj(ob, "message", msg.s);
	outbuf_puts(ob, ",\n         ");
	key(ob, "locations");
	outbuf_putc(ob, '[');
	if (f)
		location(ob, f, NULL, -1);
	outbuf_putc(ob, ']');
	outbuf_puts(ob, ",\n         ");
	key(ob, "partialFingerprints");
	site_hex(g->site, site);
	outbuf_puts(ob, "{\"refsanSite/v1\": ");
	outbuf_json_str(ob, site);
	outbuf_putc(ob, '}');
	if (g->kind != KIND_LEAK &&
	    (g->last_release_stack || g->created_stack)) {
		outbuf_puts(ob, ",\n         ");
		key(ob, "relatedLocations");
		outbuf_putc(ob, '[');
		none = related(ob, m, g->last_release_stack, NULL,
		               "its last release (reference count 1 -> 0)", &id,
		               true);
		related(ob, m, g->created_stack, NULL, "it was created here",
		        &id, none);
		outbuf_putc(ob, ']');
	} else if (g->nacquire_stacks) {
		outbuf_puts(ob, ",\n         ");
		key(ob, "relatedLocations");
		outbuf_putc(ob, '[');
		none = true;
		for (i = 0; i < g->nacquire_stacks; i++)
			none = related(ob, m, g->acquire_stacks[i], NULL,
			               "acquired here (no matching release)",
			               &id, none);
		outbuf_putc(ob, ']');
	}
	outbuf_puts(ob, ",\n         ");
	key(ob, "codeFlows");
	outbuf_putc(ob, '[');
	none = code_flow(ob, m, g->stack,
	                 g->kind == KIND_LEAK ? "where it was created"
	                                      : "the offending call",
	                 true);
	none = code_flow(ob, m, g->last_release_stack,
	                 "its last release (reference count 1 -> 0)", none);
	code_flow(ob, m, g->created_stack, "where it was created", none);
	outbuf_putc(ob, ']');
	outbuf_puts(ob, ",\n         ");
	key(ob, "properties");
	outbuf_putc(ob, '{');
	key(ob, "count");
	outbuf_dec(ob, g->count);
	next_key(ob, "family");
	outbuf_json_str(ob, g->family);
	next_key(ob, "function");
	outbuf_json_str(ob, g->function);
	next_key(ob, "pids");
	outbuf_putc(ob, '[');
	for (i = 0; i < g->npids; i++) {
		if (i)
			outbuf_puts(ob, ", ");
		outbuf_sdec(ob, g->pids[i]);
	}
	outbuf_puts(ob, "]}}");
	sbuf_free(&msg);
}

int
render_sarif(int fd, const struct model *m)
{
	const char **extra = NULL; /* rule ids of kinds this refsan does
				      not know */
	size_t nextra = 0, i, j;
	bool first = true;
	struct outbuf ob;
	char cwd[4096];
	int r;

	for (i = 0; i < m->ngroups; i++) {
		const struct mgroup *g = &m->groups[i];

		if (g->kind < KIND_COUNT)
			continue;
		for (j = 0; j < nextra && extra[j] != g->kind_name; j++)
			;
		if (j == nextra) {
			extra = xrealloc(extra, (nextra + 1) * sizeof(*extra));
			extra[nextra++] = g->kind_name;
		}
	}
	outbuf_init(&ob, fd);
	outbuf_puts(&ob, "{\n  \"$schema\": "
	                 "\"https://json.schemastore.org/sarif-2.1.0.json\",\n"
	                 "  \"version\": \"2.1.0\",\n  \"runs\": [\n    {\n"
	                 "      \"tool\": {\"driver\": {\"name\": \"refsan\", "
	                 "\"version\": ");
	outbuf_json_str(&ob, REFSAN_VERSION);
	outbuf_puts(&ob, ", \"semanticVersion\": ");
	outbuf_json_str(&ob, REFSAN_VERSION);
	outbuf_puts(&ob, ", \"rules\": [");
	for (i = 0; i < KIND_COUNT + nextra; i++) {
		const struct rule *ru = i < KIND_COUNT ? &rules[i] : NULL;
		const char *id = ru ? ru->id : extra[i - KIND_COUNT];

		outbuf_puts(&ob, i ? ",\n        {" : "\n        {");
		key(&ob, "id");
		outbuf_json_str(&ob, id);
		next_key(&ob, "name");
		outbuf_json_str(&ob, ru ? ru->name : id);
		outbuf_puts(&ob, ", ");
		text_obj(&ob, "shortDescription",
		         ru ? ru->short_text : "refsan error");
		outbuf_puts(&ob, ", ");
		text_obj(&ob, "fullDescription",
		         ru ? ru->full_text
		            : "An error kind this version of refsan does not "
		              "describe.");
		outbuf_puts(&ob, ", ");
		text_obj(&ob, "help", ru ? ru->full_text : "See the report.");
		outbuf_puts(&ob, ", \"defaultConfiguration\": {\"level\": "
		                 "\"error\"}, \"properties\": {\"tags\": "
		                 "[\"reliability\", \"refcount\"]}}");
	}
	outbuf_puts(&ob, "\n      ]}},\n");
	if (getcwd(cwd, sizeof(cwd))) {
		struct sbuf u = { 0 };
		bool rel;

		uri(&u, cwd, &rel);
		outbuf_puts(&ob,
		            "      \"originalUriBaseIds\": {\"%SRCROOT%\": "
		            "{\"uri\": ");
		sbuf_puts(&u, "/");
		outbuf_json_str(&ob, u.s);
		outbuf_puts(&ob, "}},\n");
		sbuf_free(&u);
	}
	outbuf_puts(&ob, "      \"results\": [");
	for (i = 0; i < m->norder; i++) {
		const struct mgroup *g = m->order[i];
		int ri = g->kind;

		if (g->suppressed)
			continue;
		if (g->kind >= KIND_COUNT)
			for (j = 0; j < nextra; j++)
				if (extra[j] == g->kind_name)
					ri = (int)(KIND_COUNT + j);
		put_result(&ob, m, g, ri, first);
		first = false;
	}
	outbuf_puts(&ob, first ? "]\n    }\n  ]\n}\n"
	                       : "\n      ]\n    }\n  ]\n}\n");
	r = outbuf_flush(&ob);
	free(extra);
	return r;
}
