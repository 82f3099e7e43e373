/*
 * render_junit.c: `refsan report --format junit`, for the test tabs of CI
 * systems (GitLab, Jenkins, Azure, GitHub test reporters), which all read
 * the JUnit XML that pytest and ctest write.  One <testcase> per error
 * group, named by what it is and where, with the site hash so that the
 * same group keeps its name from run to run; its <failure> holds the
 * shim's text block with the stacks.  Errors the baseline knows are
 * skipped test cases; a clean merge is one passing test case, so that the
 * tab shows that refsan ran.
 */
#include <string.h>

#include "render.h"

/* S escaped for XML 1.0 text and attributes.  The text blocks are
 * already free of control bytes and invalid UTF-8 (the shim's renderer);
 * anything else still has them replaced, since XML cannot hold them. */
static void
xml(struct sbuf *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");

	for (; *p; p++) {
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
			sbuf_puts(out, "&apos;");
			break;
		case '\t':
		case '\n':
		case '\r':
			sbuf_add(out, (const char *)p, 1);
			break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				sbuf_printf(out, "\\x%02x", *p);
			else
				sbuf_add(out, (const char *)p, 1);
			break;
		}
	}
}

/* Program text (names, paths) for XML: made printable, then escaped. */
static void
xml_name(struct sbuf *out, const char *s)
{
	struct sbuf t = { 0 };

	sbuf_text(&t, s ? s : "");
	xml(out, t.s ? t.s : "");
	sbuf_free(&t);
}

static void
testcase_head(struct sbuf *out, const struct model *m, const struct mgroup *g,
              struct sbuf *tmp)
{
	const struct mframe *f = model_site_frame(m, g);
	char site[17];

	site_hex(g->site, site);
	tmp->len = 0;
	group_title(g, tmp);
	sbuf_puts(tmp, ", ");
	group_where(m, g, tmp);
	sbuf_printf(tmp, " [site %s]", site);
	sbuf_puts(out, "    <testcase classname=\"refsan.");
	xml_name(out, g->kind_name);
	sbuf_puts(out, "\" name=\"");
	xml(out, tmp->s);
	sbuf_puts(out, "\"");
	if (f) {
		sbuf_puts(out, " file=\"");
		xml_name(out, path_rel(f->file));
		sbuf_puts(out, "\"");
		if (f->line)
			sbuf_printf(out, " line=\"%u\"", f->line);
	}
	sbuf_puts(out, " time=\"0\">\n");
}

int
render_junit(int fd, const struct model *m)
{
	struct text_blocks *tb = text_blocks_new(m);
	struct sbuf out = { 0 }, tmp = { 0 }, block = { 0 };
	size_t i, failures = 0, skipped = 0, tests;
	int r = 0;

	if (!tb)
		return -1;
	for (i = 0; i < m->norder; i++) {
		if (m->order[i]->suppressed)
			continue;
		if (m->order[i]->known)
			skipped++;
		else
			failures++;
	}
	tests = failures + skipped + (failures ? 0 : 1);
	sbuf_puts(&out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
	sbuf_printf(
	        &out,
	        "<testsuites name=\"refsan\" tests=\"%zu\" failures=\"%zu\" "
	        "errors=\"0\" skipped=\"%zu\">\n",
	        tests, failures, skipped);
	sbuf_printf(
	        &out,
	        "  <testsuite name=\"refsan\" tests=\"%zu\" failures=\"%zu\" "
	        "errors=\"0\" skipped=\"%zu\" time=\"0\">\n",
	        tests, failures, skipped);
	sbuf_puts(&out, "    <properties>\n");
	sbuf_printf(&out,
	            "      <property name=\"refsan.version\" value=\"%s\"/>\n",
	            REFSAN_VERSION);
	sbuf_printf(&out,
	            "      <property name=\"refsan.reports\" value=\"%zu\"/>\n",
	            m->nprocs);
	if (m->baseline) {
		sbuf_puts(&out,
		          "      <property name=\"refsan.baseline\" value=\"");
		xml_name(&out, m->baseline);
		sbuf_puts(&out, "\"/>\n");
	}
	sbuf_puts(&out, "    </properties>\n");
	for (i = 0; i < m->norder && !r; i++) {
		const struct mgroup *g = m->order[i];

		if (g->suppressed)
			continue;
		testcase_head(&out, m, g, &tmp);
		if (g->known) {
			sbuf_puts(&out, "      <skipped message=\"known: its "
			                "site is in the baseline ");
			xml_name(&out, m->baseline);
			sbuf_puts(&out, "\"/>\n");
		} else {
			block.len = 0;
			r = text_block(tb, g, &block);
			sbuf_printf(&block, "  in %zu process(es): ", g->npids);
			pid_list(g, 50, &block);
			sbuf_puts(&block, "\n");
			tmp.len = 0;
			group_title(g, &tmp);
			sbuf_puts(&out, "      <failure type=\"");
			xml_name(&out, g->kind_name);
			sbuf_puts(&out, "\" message=\"");
			xml(&out, tmp.s);
			sbuf_puts(&out, "\">");
			xml(&out, block.s);
			sbuf_puts(&out, "</failure>\n");
		}
		sbuf_puts(&out, "    </testcase>\n");
		if (out.len > (1u << 20)) {
			r = r ? r : write_sbuf(fd, &out);
			out.len = 0;
		}
	}
	if (!failures)
		sbuf_printf(
		        &out,
		        "    <testcase classname=\"refsan\" name=\"no handle "
		        "errors in %zu process report(s)\" time=\"0\"/>\n",
		        m->nprocs);
	if (m->incomplete) {
		sbuf_puts(&out, "    <system-err>refsan: warning: a report is "
		                "incomplete: ");
		xml_name(&out, m->incomplete_reason);
		sbuf_puts(&out, "</system-err>\n");
	}
	sbuf_puts(&out, "  </testsuite>\n</testsuites>\n");
	if (!r)
		r = write_sbuf(fd, &out);
	sbuf_free(&out);
	sbuf_free(&tmp);
	sbuf_free(&block);
	text_blocks_free(tb);
	return r;
}
