/*
 * render_common.c: what the renderers of render.h share: the shim's text
 * block for one error group (so that `refsan report` prints errors exactly
 * as the shim does, through the shim's own renderer, src/report_text.c),
 * titles and locations of groups, relative paths, and the totals and
 * SUMMARY line.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "render.h"

struct text_blocks {
	const struct model *m;
	struct model_report mr;
	int fd; /* a memfd the shim's renderer writes into */
	char *buf;
	size_t cap;
};

struct text_blocks *
text_blocks_new(const struct model *m)
{
	struct text_blocks *tb = xcalloc(1, sizeof(*tb));

	tb->m = m;
	tb->fd = memfd_create("refsan-text", MFD_CLOEXEC);
	if (tb->fd < 0) {
		free(tb);
		return NULL;
	}
	model_to_report(m, &tb->mr, false);
	return tb;
}

void
text_blocks_free(struct text_blocks *tb)
{
	if (!tb)
		return;
	close(tb->fd);
	model_report_free(&tb->mr);
	free(tb->buf);
	free(tb);
}

/* model_to_report lists stack i at index i - 1. */
static void
set_tid(struct text_blocks *tb, uint32_t id, int tid)
{
	if (id && id <= tb->mr.r.nstacks && tb->mr.r.stacks[id - 1].id == id)
		tb->mr.r.stacks[id - 1].tid = tid;
}

int
text_block(struct text_blocks *tb, const struct mgroup *g, struct sbuf *out)
{
	struct report_error e;
	off_t end;
	size_t n, skip = 0;
	ssize_t r;
	int err;

	model_group_to_error(g, &e);
	/* An unknown kind: the shape of an invalid release, retitled. */
	if (g->kind >= KIND_COUNT)
		e.kind = KIND_INVALID_RELEASE;
	tb->mr.r.pid = g->npids ? g->pids[0] : model_main_pid(tb->m);
	if (ftruncate(tb->fd, 0) || lseek(tb->fd, 0, SEEK_SET))
		return -errno;
	/* The threads of this group's stacks ("in thread N"): stacks are
	 * shared by groups, threads belong to one process's report. */
	set_tid(tb, g->stack, g->stack_tid);
	set_tid(tb, g->last_release_stack, g->last_release_tid);
	set_tid(tb, g->created_stack, g->created_tid);
	err = report_write_text_error(tb->fd, &tb->mr.r, &e);
	set_tid(tb, g->stack, 0);
	set_tid(tb, g->last_release_stack, 0);
	set_tid(tb, g->created_stack, 0);
	if (err)
		return err;
	end = lseek(tb->fd, 0, SEEK_CUR);
	if (end < 0)
		return -errno;
	n = (size_t)end;
	if (n + 1 > tb->cap) {
		tb->cap = n + 1;
		tb->buf = xrealloc(tb->buf, tb->cap);
	}
	r = pread(tb->fd, tb->buf, n, 0);
	if (r < 0)
		return -errno;
	n = (size_t)r;
	/* The block ends with a blank line; the caller decides. */
	if (n >= 2 && tb->buf[n - 1] == '\n' && tb->buf[n - 2] == '\n')
		n--;
	if (g->kind >= KIND_COUNT) {
		char *nl = memchr(tb->buf, '\n', n);

		skip = nl ? (size_t)(nl - tb->buf) : n;
		sbuf_printf(out, "==%d==ERROR: refsan: ", (int)tb->mr.r.pid);
		sbuf_text(out, g->kind_name);
		sbuf_printf(out, " of handle 0x%llx",
		            (unsigned long long)g->handle);
		if (g->family) {
			sbuf_puts(out, " (family ");
			sbuf_text(out, g->family);
			sbuf_puts(out, ")");
		}
	}
	sbuf_add(out, tb->buf + skip, n - skip);
	return 0;
}

/* Length of the valid UTF-8 sequence at P (not C1 controls), or 0. */
static size_t
utf8_ok(const unsigned char *p)
{
	unsigned c = p[0];
	size_t n, i;
	uint32_t cp;

	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if (cp < 0xa0 || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return n;
}

void
sbuf_text(struct sbuf *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "??");

	while (*p) {
		size_t n;

		if (*p >= 0x20 && *p < 0x7f) {
			sbuf_add(out, (const char *)p, 1);
			p++;
			continue;
		}
		n = *p >= 0x80 ? utf8_ok(p) : 0;
		if (n) {
			sbuf_add(out, (const char *)p, n);
			p += n;
		} else {
			sbuf_printf(out, "\\x%02x", *p);
			p++;
		}
	}
}

const char *
path_rel(const char *path)
{
	static char cwd[PATH_MAX];
	static size_t cwdlen;
	static int ready;

	if (!ready) {
		ready = 1;
		if (getcwd(cwd, sizeof(cwd)) && cwd[0] == '/' && cwd[1])
			cwdlen = strlen(cwd);
	}
	if (path && cwdlen && strncmp(path, cwd, cwdlen) == 0 &&
	    path[cwdlen] == '/' && path[cwdlen + 1])
		return path + cwdlen + 1;
	return path;
}

void
group_title(const struct mgroup *g, struct sbuf *out)
{
	switch (g->kind) {
	case KIND_LEAK:
		sbuf_printf(out, "%s %llu handle(s)",
		            g->indirect ? "indirect leak of" : "leak of",
		            (unsigned long long)g->count);
		if (g->family) {
			sbuf_puts(out, " of family ");
			sbuf_text(out, g->family);
		}
		sbuf_printf(out, " (reference count %u)", g->refcount);
		break;
	case KIND_DOUBLE_RELEASE:
		sbuf_puts(out, "double release");
		break;
	case KIND_USE_AFTER_RELEASE:
		sbuf_puts(out, "use after release");
		break;
	case KIND_INVALID_RELEASE:
		sbuf_puts(out, "invalid release (handle never created)");
		break;
	case KIND_FAMILY_MISMATCH:
		sbuf_puts(out, "family mismatch: a ");
		sbuf_text(out, g->family ? g->family : "family-less");
		sbuf_puts(out, " handle passed to a function that accepts ");
		sbuf_text(out, g->expected_family ? g->expected_family
		                                  : "another family");
		break;
	default:
		sbuf_text(out, g->kind_name);
		break;
	}
	if (g->kind != KIND_LEAK && g->kind != KIND_FAMILY_MISMATCH &&
	    g->family) {
		sbuf_puts(out, " of a ");
		sbuf_text(out, g->family);
		sbuf_puts(out, " handle");
	}
	if (g->kind != KIND_LEAK && g->count > 1)
		sbuf_printf(out, " (%llu times)", (unsigned long long)g->count);
}

void
group_where(const struct model *m, const struct mgroup *g, struct sbuf *out)
{
	const struct mframe *f = model_site_frame(m, g);

	if (g->function) {
		sbuf_puts(out, g->kind == KIND_LEAK ? "created by " : "in ");
		sbuf_text(out, g->function);
	}
	if (!f)
		return;
	sbuf_puts(out, g->function ? ", from " : "");
	sbuf_text(out, f->function);
	sbuf_puts(out, " ");
	sbuf_text(out, path_rel(f->file));
	if (f->line)
		sbuf_printf(out, ":%u", f->line);
}

void
pid_list(const struct mgroup *g, size_t max, struct sbuf *out)
{
	size_t i;

	for (i = 0; i < g->npids && i < max; i++)
		sbuf_printf(out, "%s%d", i ? ", " : "", g->pids[i]);
	if (g->npids > max)
		sbuf_printf(out, " and %zu more", g->npids - max);
}

void
site_hex(uint64_t site, char buf[17])
{
	snprintf(buf, 17, "%016llx", (unsigned long long)site);
}

int
write_sbuf(int fd, const struct sbuf *b)
{
	size_t off = 0;

	while (off < b->len) {
		ssize_t n = write(fd, b->s + off, b->len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		off += (size_t)n;
	}
	return 0;
}

static int
cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

void
model_totals(const struct model *m, struct totals *t)
{
	size_t i;

	memset(t, 0, sizeof(*t));
	for (i = 0; i < m->ngroups; i++) {
		const struct mgroup *g = &m->groups[i];
		int k = g->kind < KIND_COUNT ? g->kind : KIND_COUNT;

		if (g->suppressed)
			continue;
		if (g->known) {
			t->known_groups++;
			t->known_handles += g->count;
			continue;
		}
		t->n[k] += g->count;
		if (k == KIND_LEAK)
			t->leak_sites++;
	}
	for (i = 0; i < m->nsupps; i++)
		t->suppressed += m->supps[i].hits;
	if (!t->suppressed)
		for (i = 0; i < m->ngroups; i++)
			if (m->groups[i].suppressed)
				t->suppressed += m->groups[i].npids;
	/* Processes with an error that counts: the union of their pids. */
	{
		size_t n = 0, j;
		int *pids;

		for (i = 0; i < m->ngroups; i++)
			if (!m->groups[i].known && !m->groups[i].suppressed)
				n += m->groups[i].npids;
		pids = xcalloc(n, sizeof(*pids));
		n = 0;
		for (i = 0; i < m->ngroups; i++)
			if (!m->groups[i].known && !m->groups[i].suppressed)
				for (j = 0; j < m->groups[i].npids; j++)
					pids[n++] = m->groups[i].pids[j];
		qsort(pids, n, sizeof(*pids), cmp_int);
		for (i = 0; i < n; i++)
			if (!i || pids[i] != pids[i - 1])
				t->procs_with_errors++;
		free(pids);
	}
}

void
summary_line(const struct model *m, const struct totals *t, struct sbuf *out)
{
	static const char *const what[KIND_COUNT + 1] = {
		[KIND_DOUBLE_RELEASE] = " double release(s)",
		[KIND_INVALID_RELEASE] = " invalid release(s)",
		[KIND_USE_AFTER_RELEASE] = " use(s) after release",
		[KIND_FAMILY_MISMATCH] = " family mismatch(es)",
		[KIND_COUNT] = " other error(s)",
	};
	bool first = true;
	int k;

	/* The shim's SUMMARY line (src/report_text.c), over the merge. */
	sbuf_puts(out, m->final ? "SUMMARY: refsan: " : "refsan: ");
	if (t->leak_sites) {
		sbuf_printf(out, "%llu %s handle(s) from %llu site(s)",
		            (unsigned long long)t->n[KIND_LEAK],
		            m->final ? "leaked" : "live",
		            (unsigned long long)t->leak_sites);
		first = false;
	} else if (!m->final) {
		sbuf_puts(out, "no live handles");
		first = false;
	}
	for (k = 0; k <= KIND_COUNT; k++) {
		if (!what[k] || !t->n[k])
			continue;
		sbuf_printf(out, "%s%llu%s", first ? "" : ", ",
		            (unsigned long long)t->n[k], what[k]);
		first = false;
	}
	if (first)
		sbuf_printf(out, "no errors; %llu handle(s) created, %llu live",
		            (unsigned long long)m->counters.created,
		            (unsigned long long)m->counters.live);
	if (t->suppressed)
		sbuf_printf(out, " (%llu suppressed)",
		            (unsigned long long)t->suppressed);
	if (m->nprocs > 1 && !first)
		sbuf_printf(out, " in %llu of %zu process(es)",
		            (unsigned long long)t->procs_with_errors,
		            m->nprocs);
	if (t->known_groups)
		sbuf_printf(
		        out,
		        " (%llu known error(s) in the baseline, not counted)",
		        (unsigned long long)t->known_groups);
	sbuf_puts(out, ".\n");
}
