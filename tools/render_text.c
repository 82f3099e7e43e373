/*
 * render_text.c: `refsan report --format text`, the merged report as the
 * shim prints one.  Each error block comes from the shim's own renderer
 * (render_common.c's text_block), so a merged report reads like any
 * other; what the merge adds is one line per block naming the processes
 * when more than one report was read, a list of the errors the baseline
 * already knew, and a SUMMARY over everything.
 */
#include <stdio.h>
#include <string.h>

#include "render.h"

/* Blocks are flushed in pieces of about this size. */
#define FLUSH_AT (1u << 20)

static int
flush_some(int fd, struct sbuf *out, bool force)
{
	int r;

	if (!force && out->len < FLUSH_AT)
		return 0;
	r = write_sbuf(fd, out);
	out->len = 0;
	return r;
}

static int
put_group(int fd, struct text_blocks *tb, const struct model *m,
          const struct mgroup *g, struct sbuf *out)
{
	int r = text_block(tb, g, out);

	if (r)
		return r;
	if (m->nprocs > 1) {
		sbuf_printf(out, "  in %zu process(es): ", g->npids);
		pid_list(g, 20, out);
		sbuf_puts(out, "\n");
	}
	sbuf_puts(out, "\n");
	return flush_some(fd, out, false);
}

int
render_text(int fd, const struct model *m)
{
	struct text_blocks *tb = text_blocks_new(m);
	struct sbuf out = { 0 };
	struct totals t;
	bool leaks = false;
	size_t i;
	int r = 0, pass;

	if (!tb)
		return -1;
	model_totals(m, &t);
	if (!m->final)
		sbuf_printf(&out,
		            "==%d==refsan: report of live handles (not an exit "
		            "report)\n\n",
		            model_main_pid(m));
	for (i = 0; i < m->norder && !r; i++) {
		const struct mgroup *g = m->order[i];

		if (g->known || g->suppressed)
			continue;
		if (g->kind == KIND_LEAK)
			leaks = true;
		else
			r = put_group(fd, tb, m, g, &out);
	}
	if (leaks && m->final) {
		int pid = model_main_pid(m);

		/* The process of the largest leak, rather than one that may
		 * have had none. */
		for (i = 0; i < m->norder; i++) {
			const struct mgroup *g = m->order[i];

			if (g->kind == KIND_LEAK && !g->known &&
			    !g->suppressed && g->npids) {
				pid = g->pids[0];
				break;
			}
		}
		sbuf_printf(&out,
		            "==%d==ERROR: refsan: detected handle leaks\n\n",
		            pid);
	}
	/* Direct leaks first, then indirect ones (as the shim). */
	for (pass = 0; pass < 2 && !r; pass++)
		for (i = 0; i < m->norder && !r; i++) {
			const struct mgroup *g = m->order[i];

			if (g->kind == KIND_LEAK && !g->known &&
			    !g->suppressed && g->indirect == (pass == 1))
				r = put_group(fd, tb, m, g, &out);
		}
	if (t.known_groups && !r) {
		sbuf_puts(&out,
		          "Known errors (their sites are in the baseline ");
		sbuf_text(&out, m->baseline);
		sbuf_puts(&out, "; they do not count):\n");
		for (i = 0; i < m->norder; i++) {
			const struct mgroup *g = m->order[i];

			if (!g->known)
				continue;
			sbuf_puts(&out, "  known: ");
			group_title(g, &out);
			sbuf_puts(&out, ", ");
			group_where(m, g, &out);
			sbuf_puts(&out, "\n");
			if ((r = flush_some(fd, &out, false)))
				break;
		}
		sbuf_puts(&out, "\n");
	}
	if (m->nsupps) {
		static const char rule[] =
		        "-----------------------------------------------------\n";

		sbuf_puts(&out, rule);
		sbuf_puts(&out, "Suppressions used:\n");
		sbuf_puts(&out, "  count      handles suppression\n");
		for (i = 0; i < m->nsupps; i++) {
			sbuf_printf(&out, "%7llu %12llu ",
			            (unsigned long long)m->supps[i].hits,
			            (unsigned long long)m->supps[i].handles);
			sbuf_text(&out, m->supps[i].rule);
			sbuf_puts(&out, "\n");
		}
		sbuf_puts(&out, rule);
		sbuf_puts(&out, "\n");
	}
	if (m->incomplete) {
		sbuf_puts(&out, "refsan: warning: this report is incomplete: ");
		sbuf_text(&out, m->incomplete_reason ? m->incomplete_reason
		                                     : "reason unknown");
		sbuf_puts(&out, "\n");
	}
	summary_line(m, &t, &out);
	if (!r)
		r = flush_some(fd, &out, true);
	sbuf_free(&out);
	text_blocks_free(tb);
	return r;
}

int
render_run_summary(int fd, const struct model *m)
{
	struct sbuf out = { 0 };
	struct totals t;
	size_t i, shown = 0;
	int r;

	model_totals(m, &t);
	sbuf_printf(&out, "refsan: %zu process(es) reported", m->nprocs);
	if (m->nprocs)
		sbuf_printf(&out, "; %llu had errors",
		            (unsigned long long)t.procs_with_errors);
	sbuf_puts(&out, ".\n");
	for (i = 0; i < m->norder; i++) {
		const struct mgroup *g = m->order[i];

		if (g->known || g->suppressed)
			continue;
		if (shown++ == 50) {
			sbuf_printf(&out,
			            "  ... and %zu more (refsan report "
			            "--format text shows them all)\n",
			            model_counting(m) - 50);
			break;
		}
		sbuf_puts(&out, "  ");
		group_title(g, &out);
		sbuf_puts(&out, ", ");
		group_where(m, g, &out);
		sbuf_puts(&out, g->npids > 1 ? "; pids " : "; pid ");
		pid_list(g, 8, &out);
		sbuf_puts(&out, "\n");
	}
	if (m->incomplete) {
		sbuf_puts(&out, "refsan: warning: a report is incomplete: ");
		sbuf_text(&out, m->incomplete_reason ? m->incomplete_reason
		                                     : "reason unknown");
		sbuf_puts(&out, "\n");
	}
	summary_line(m, &t, &out);
	r = write_sbuf(fd, &out);
	sbuf_free(&out);
	return r;
}
