/*
 * report.c: builds the one report model (report.h) from the engine's error
 * log, the live handles of the table and the stack depot, applies the
 * suppressions, and writes the text and JSON reports where the options
 * say.  Report time only: this file may allocate, symbolize and sort.
 *
 * Leaks are grouped by creation stack, family and reference count, and
 * sorted by count, largest first.  For a handle whose count was raised by
 * acquires, the acquires that no release matched come from its history:
 * each release cancels the latest acquire still open.
 */
#include <errno.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "arena.h"
#include "call_site.h"
#include "families.h"
#include "handle_table.h"
#include "interpose.h"
#include "options.h"
#include "pyframes.h"
#include "report_build.h"
#include "safe_write.h"
#include "stack_depot.h"
#include "symbolize.h"
#include "unwind.h"

#define MAX_HANDLES_LISTED 16
#define MAX_ACQUIRE_STACKS 4

struct report_context report_ctx;

/* interpose.c is in the shim, not in the core the unit tests link. */
void interpose_get_stats(struct interpose_stats *out) __attribute__((weak));

/* ---- growable arrays, report time only ---- */

struct vec {
	void *data;
	size_t n, cap, elem;
};

static void *
vec_push(struct vec *v)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 64;
		void *d = realloc(v->data, cap * v->elem);
		if (!d)
			return NULL;
		v->data = d;
		v->cap = cap;
	}
	return (char *)v->data + v->n++ * v->elem;
}

/* ---- live handles ---- */

struct leak_rec {
	uintptr_t handle;
	uint32_t created_stack;
	uint32_t refcount;
	uint8_t family;
	uint32_t acq;           /* its unmatched acquires: 1 + index in
				 * collect.acqs, 0 none */
	uint8_t nacq;
	bool indirect;
};

/* Unmatched acquires of one leak, newest last: kept aside (few leaks have
 * any), so that a leak record is small (a million are sorted). */
struct acq_set {
	uint32_t s[MAX_ACQUIRE_STACKS];
};

struct collect {
	struct vec leaks;       /* mapped (arena), not malloc'ed */
	struct vec acqs;
	uint64_t mark;
	bool oom;
	/* Stack id -> the same without its thread word, 0 not known yet:
	 * one word per id the depot had when the walk began (NULL: none). */
	uint32_t *canon;
	size_t ncanon;
};

/*
 * Leaks group by where they were created, whatever thread did it: the
 * stack without its thread word (stored as a stack of its own).
 */
static uint32_t
without_thread(struct collect *c, uint32_t id)
{
	const uintptr_t *pcs;
	unsigned n;
	uint32_t canon;

	if (id < c->ncanon && c->canon[id])
		return c->canon[id];
	n = depot_get(id, &pcs);
	canon = id;
	if (n && (pcs[n - 1] & DEPOT_TAG_MASK) == DEPOT_THREAD_TAG) {
		uintptr_t copy[256 + 1];
		if (n - 1 <= 256) {
			memcpy(copy, pcs, (n - 1) * sizeof(uintptr_t));
			canon = n > 1 ? depot_put(copy, n - 1) : 0;
			if (!canon && n > 1)
				canon = id;
		}
	}
	if (id < c->ncanon)
		c->canon[id] = canon;
	return canon;
}

/*
 * The leak vector: a million records and more, so mapped with its pages
 * committed at once (one system call, not a fault per page) and grown by
 * mapping anew.
 */
static void *
leak_push(struct vec *v)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 1024;
		void *d = arena_map_populate(cap * v->elem);
		if (!d)
			return NULL;
		if (v->n)
			memcpy(d, v->data, v->n * v->elem);
		arena_unmap(v->data, v->cap * v->elem);
		v->data = d;
		v->cap = cap;
	}
	return (char *)v->data + v->n++ * v->elem;
}

static void
collect_one(const struct ht_view *v, void *arg)
{
	struct collect *c = arg;
	struct leak_rec *l;
	struct acq_set acq;
	uint32_t open[HT_MAX_HISTORY + 1];
	unsigned nopen = 0, i;

	if (!engine_created_here(v->info.seq))
		return;
	if (c->mark && (int32_t)(v->info.seq - (uint32_t)c->mark) <= 0)
		return;
	l = leak_push(&c->leaks);
	if (!l) {
		c->oom = true;
		return;
	}
	memset(l, 0, sizeof(*l));
	l->handle = v->info.handle;
	l->created_stack = without_thread(c, v->info.created_stack);
	l->family = v->info.family;
	l->refcount = v->info.refcount;
	int outside = 1; /* the creation's reference */
	bool complete = v->total_events == v->nevents;
	unsigned head = 0;

	/*
	 * Which references are still held?  With the whole history, releases
	 * give back the oldest references first, the creation's before any
	 * acquire's (an extra add_ref without its release is the usual bug,
	 * and this points at it).  With a cut history, the newest acquires.
	 */
	if (complete)
		open[nopen++] = 0; /* the creation */
	for (i = 0; i < v->nevents; i++) {
		uint32_t ev = v->events[i];
		if (!(ev & HT_EV_INTERNAL))
			outside += ev & HT_EV_RELEASE ? -1 : 1;
		if (ev & HT_EV_RELEASE) {
			if (complete) {
				if (head < nopen)
					head++;
			} else if (nopen) {
				nopen--;
			}
		} else if (nopen < HT_MAX_HISTORY) {
			open[nopen++] = HT_EV_STACK(ev);
		}
	}
	/* Every reference the program took was given back: what is left
	 * was taken by the library itself, on behalf of another handle.
	 * Only a complete history can tell. */
	l->indirect = outside <= 0 && complete;
	/* The open acquires, newest first, at most refcount of them. */
	while (nopen > head && l->nacq < MAX_ACQUIRE_STACKS &&
	       l->nacq < l->refcount) {
		uint32_t st = open[--nopen];
		if (st)
			acq.s[l->nacq++] = st;
	}
	if (l->nacq) {
		struct acq_set *as = vec_push(&c->acqs);
		if (as) {
			*as = acq;
			l->acq = (uint32_t)c->acqs.n;
		} else {
			l->nacq = 0;
			c->oom = true;
		}
	}
}

static int
leak_cmp(const void *a, const void *b)
{
	const struct leak_rec *x = a, *y = b;

	if (x->indirect != y->indirect)
		return x->indirect ? 1 : -1;
	if (x->created_stack != y->created_stack)
		return x->created_stack < y->created_stack ? -1 : 1;
	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	if (x->refcount != y->refcount)
		return x->refcount < y->refcount ? -1 : 1;
	if (x->handle != y->handle)
		return x->handle < y->handle ? -1 : 1;
	return 0;
}

static int
leak_cmp_at(const void *a, const void *b, void *arg)
{
	const struct leak_rec *l = arg;

	return leak_cmp(&l[*(const uint32_t *)a], &l[*(const uint32_t *)b]);
}

/*
 * The N leaks of L in leak_cmp's order, as indexes into L, or NULL (no
 * memory): a counting sort on (indirect, creation stack), stack ids being
 * small and dense, then each stack's few handles sorted.  A million leaks
 * are never moved or compared as a whole.
 */
static uint32_t *
leak_order(const struct leak_rec *l, size_t n)
{
	uint32_t maxid = 0, *order, *end;
	size_t i, b, nb;

	if (n > UINT32_MAX)
		return NULL;
	for (i = 0; i < n; i++)
		if (l[i].created_stack > maxid)
			maxid = l[i].created_stack;
	nb = 2 * ((size_t)maxid + 1);
	order = malloc(n * sizeof(*order));
	end = calloc(nb + 1, sizeof(*end));
	if (!order || !end) {
		free(order);
		free(end);
		return NULL;
	}
#define BUCKET(x) \
	((x)->indirect ? (size_t)maxid + 1 + (x)->created_stack : (x)->created_stack)
	for (i = 0; i < n; i++)
		end[BUCKET(&l[i]) + 1]++;
	for (b = 1; b <= nb; b++)
		end[b] += end[b - 1];
	/* end[b] is where bucket b begins; after the scatter, where it ends. */
	for (i = 0; i < n; i++)
		order[end[BUCKET(&l[i])]++] = (uint32_t)i;
#undef BUCKET
	for (b = 0; b < nb; b++) {
		size_t from = b ? end[b - 1] : 0;
		if (end[b] - from > 1)
			qsort_r(order + from, end[b] - from, sizeof(*order),
				leak_cmp_at, (void *)l);
	}
	free(end);
	return order;
}

static int
group_cmp(const void *a, const void *b)
{
	const struct report_error *x = a, *y = b;

	if (x->kind != y->kind)
		return x->kind == KIND_LEAK ? 1 : -1;
	if (x->indirect != y->indirect)
		return x->indirect ? 1 : -1; /* fix the owners first */
	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	if (x->stack != y->stack)
		return x->stack < y->stack ? -1 : 1;
	return 0;
}

/* ---- stacks ---- */

static int
u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static void
note_stack(struct vec *ids, uint32_t id)
{
	uint32_t *p;

	if (!id)
		return;
	p = vec_push(ids);
	if (p)
		*p = id;
}

static void
note_error_stacks(struct vec *ids, const struct report_error *e)
{
	size_t i;

	note_stack(ids, e->stack);
	note_stack(ids, e->last_release_stack);
	note_stack(ids, e->created_stack);
	for (i = 0; i < e->nacquire_stacks; i++)
		note_stack(ids, e->acquire_stacks[i]);
}

static bool
is_own_module(const char *module)
{
	return module && strncmp(module, "librefsan.so", 12) == 0;
}

static void
symbolize_stack(struct report_stack *st, uint32_t id)
{
	const uintptr_t *pcs;
	unsigned n = depot_get(id, &pcs), i;

	st->id = id;
	st->tid = 0;
	st->frames = calloc(n ? n : 1, sizeof(*st->frames));
	st->nframes = 0;
	if (n && (pcs[n - 1] & DEPOT_TAG_MASK) == DEPOT_THREAD_TAG)
		st->tid = (int)(uint32_t)pcs[--n];
	if (!st->frames)
		return;
	for (i = 0; i < n; i++) {
		struct report_frame *f = &st->frames[st->nframes];
		uintptr_t w = pcs[i];
		struct sym_frame sf;

		memset(f, 0, sizeof(*f));
		if (w & DEPOT_PY_TAG) {
			struct pyframe_info pi;
			if (pyframes_lookup((uint32_t)(w & 0xffffffffu), &pi) !=
			    0)
				continue;
			f->python = true;
			f->function = pi.function;
			f->file = pi.file;
			f->line = pi.line;
			st->nframes++;
			continue;
		}
		symbolize_pc(w & ~DEPOT_EXACT_TAG, !(w & DEPOT_EXACT_TAG), &sf);
		if (is_own_module(sf.module))
			continue;
		if (pyframes_hide_native(&sf) && refsan_opts.verbosity < 2)
			continue;
		f->pc = sf.pc;
		f->module = sf.module;
		f->offset = sf.offset;
		f->function = sf.function;
		f->file = sf.file;
		f->line = sf.line;
		st->nframes++;
		/* What lies below main is the C runtime's start-up: noise. */
		if (sf.function && strcmp(sf.function, "main") == 0 &&
		    refsan_opts.verbosity < 2)
			break;
	}
}

/* ---- suppressions ---- */

static const char *
suppressed_by(const struct report *r, const struct report_error *e)
{
	const char *names[3 * 4 * 64 + 1];
	size_t n = 0, i, k;
	uint32_t ids[4] = { e->stack, e->last_release_stack, e->created_stack,
			    0 };
	struct suppress_rule *rule;
	static char buf[512];

	if (!report_ctx.suppress || !report_ctx.suppress->nrules)
		return NULL;
	names[n++] = e->function;
	for (k = 0; k < 3; k++) {
		const struct report_stack *st = report_find_stack(r, ids[k]);
		if (!st)
			continue;
		for (i = 0; i < st->nframes && n + 3 < (sizeof(names) / sizeof(names[0])); i++) {
			names[n++] = st->frames[i].function;
			names[n++] = st->frames[i].file;
			names[n++] = st->frames[i].module;
		}
	}
	rule = suppress_match(report_ctx.suppress, report_kind_name(e->kind),
			      names, n);
	if (!rule)
		return NULL;
	rule->hits++;
	rule->handles += e->kind == KIND_LEAK ? e->count : 1;
	snprintf(buf, sizeof(buf), "%s:%s", rule->kind, rule->pattern);
	return buf;
}

/* ---- the model ---- */

static const char *
family_name(unsigned id)
{
	return families_name(id);
}

static enum report_kind
kind_of(enum engine_error_kind k)
{
	switch (k) {
	case EE_DOUBLE_RELEASE:
		return KIND_DOUBLE_RELEASE;
	case EE_INVALID_RELEASE:
		return KIND_INVALID_RELEASE;
	case EE_USE_AFTER_RELEASE:
		return KIND_USE_AFTER_RELEASE;
	case EE_FAMILY_MISMATCH:
	default:
		return KIND_FAMILY_MISMATCH;
	}
}

static void
misuse_error(struct report_error *out, const struct engine_error *e)
{
	memset(out, 0, sizeof(*out));
	out->kind = kind_of(e->kind);
	out->family = family_name(e->family);
	out->function = e->function;
	out->handle = e->handle;
	out->count = 1;
	out->refcount = e->refcount;
	out->stack = e->stack;
	out->last_release_stack = e->last_release_stack;
	out->created_stack = e->created_stack;
	if (e->kind == EE_FAMILY_MISMATCH) {
		char buf[512];
		families_mask_names(e->accept, buf, sizeof(buf));
		out->expected_family = strdup(buf);
	}
}

/* The function a leak was created by: the innermost named frame. */
static const char *
creating_function(const struct report *r, uint32_t stack)
{
	const struct report_stack *st = report_find_stack(r, stack);

	if (st && st->nframes && st->frames[0].function)
		return st->frames[0].function;
	return NULL;
}

static int
build_leaks(struct vec *groups, uint64_t mark, bool *incomplete)
{
	struct collect *cp = calloc(1, sizeof(*cp));
	struct leak_rec *l;
	uint32_t *order;
	size_t i, j;

	if (!cp) {
		*incomplete = true;
		return -1;
	}
#define c (*cp)
	c.leaks.elem = sizeof(struct leak_rec);
	c.mark = mark;
	c.acqs.elem = sizeof(struct acq_set);
	/* Sized once: no copying as a million leaks are collected. */
	c.leaks.cap = handle_table_live() + 64;
	c.leaks.data = arena_map_populate(c.leaks.cap * c.leaks.elem);
	if (!c.leaks.data)
		c.leaks.cap = 0;
	c.ncanon = depot_count() + 1;
	c.canon = calloc(c.ncanon, sizeof(*c.canon));
	if (!c.canon)
		c.ncanon = 0;
	handle_table_foreach(collect_one, &c);
	free(c.canon);
	if (c.oom)
		*incomplete = true;
	l = c.leaks.data;
	order = c.leaks.n ? leak_order(l, c.leaks.n) : NULL;
	if (!order && c.leaks.n)
		qsort(l, c.leaks.n, sizeof(*l), leak_cmp);
	/* The I-th leak in order. */
#define L(i) (order ? &l[order[i]] : &l[i])
	for (i = 0; i < c.leaks.n; i = j) {
		struct report_error *g = vec_push(groups);
		size_t k, a;
		if (!g) {
			*incomplete = true;
			break;
		}
		memset(g, 0, sizeof(*g));
		g->kind = KIND_LEAK;
		g->family = family_name(L(i)->family);
		g->refcount = L(i)->refcount;
		g->stack = L(i)->created_stack;
		g->indirect = L(i)->indirect;
		if (order && i + 16 < c.leaks.n)
			__builtin_prefetch(&l[order[i + 16]]);
		for (j = i; j < c.leaks.n && L(j)->indirect == L(i)->indirect &&
			    L(j)->created_stack == L(i)->created_stack &&
			    L(j)->family == L(i)->family &&
			    L(j)->refcount == L(i)->refcount;
		     j++)
			;
		g->count = j - i;
		g->nhandles = g->count < MAX_HANDLES_LISTED ? g->count
							    : MAX_HANDLES_LISTED;
		g->handles = calloc(g->nhandles, sizeof(uintptr_t));
		if (g->handles)
			for (k = 0; k < g->nhandles; k++)
				g->handles[k] = L(i + k)->handle;
		else
			g->nhandles = 0;
		/* Unmatched acquires of the group, each stack once. */
		g->acquire_stacks =
			calloc(MAX_ACQUIRE_STACKS, sizeof(uint32_t));
		for (k = i; g->acquire_stacks && k < j; k++) {
			for (a = 0; a < L(k)->nacq; a++) {
				size_t m;
				uint32_t s = ((struct acq_set *)c.acqs.data)
						     [L(k)->acq - 1].s[a];
				for (m = 0; m < g->nacquire_stacks; m++)
					if (g->acquire_stacks[m] == s)
						break;
				if (m == g->nacquire_stacks &&
				    m < MAX_ACQUIRE_STACKS)
					g->acquire_stacks
						[g->nacquire_stacks++] = s;
			}
		}
	}
	free(order);
#undef L
	arena_unmap(c.leaks.data, c.leaks.cap * c.leaks.elem);
	free(c.acqs.data);
	free(cp);
#undef c
	/* Indirect only when some direct leak may hold them. */
	{
		struct report_error *g = groups->data;
		bool direct = false;
		for (i = 0; i < groups->n; i++)
			direct |= !g[i].indirect;
		for (i = 0; !direct && i < groups->n; i++)
			g[i].indirect = false;
	}
	if (groups->n)
		qsort(groups->data, groups->n, sizeof(struct report_error),
		      group_cmp);
	return 0;
}

int
report_build(struct report *r, bool final, uint64_t mark, int exit_status)
{
	struct engine_counters ec;
	const struct engine_error *errs;
	struct vec errors = { .elem = sizeof(struct report_error) };
	struct vec leaks = { .elem = sizeof(struct report_error) };
	struct vec ids = { .elem = sizeof(uint32_t) };
	struct vec kept = { .elem = sizeof(struct report_error) };
	struct vec supp = { .elem = sizeof(struct report_error) };
	size_t n, i;
	bool incomplete = false;

	memset(r, 0, sizeof(*r));
	r->pid = getpid();
	r->ppid = getppid();
	r->argv = report_ctx.argv;
	r->argc = report_ctx.argc;
	r->specs = report_ctx.specs;
	r->nspecs = report_ctx.nspecs;
	r->exit_status = exit_status;
	r->final = final;
	engine_counters(&ec);
	r->counters.created = ec.created;
	r->counters.acquired = ec.acquired;
	r->counters.released = ec.released;
	r->counters.peak_live = ec.peak_live;

	/* Misuse, in the order it happened (exit report only). */
	n = final ? engine_errors(&errs) : 0;
	for (i = 0; i < n; i++) {
		struct report_error *e = vec_push(&errors);
		if (!e) {
			incomplete = true;
			break;
		}
		misuse_error(e, &errs[i]);
	}
	build_leaks(&leaks, mark, &incomplete);
	for (i = 0; i < leaks.n; i++)
		r->counters.live += ((struct report_error *)leaks.data)[i].count;
	for (i = 0; i < leaks.n; i++) {
		struct report_error *e = vec_push(&errors);
		if (!e) {
			incomplete = true;
			break;
		}
		*e = ((struct report_error *)leaks.data)[i];
	}
	free(leaks.data);

	/* Every stack named, symbolized once. */
	for (i = 0; i < errors.n; i++)
		note_error_stacks(&ids, (struct report_error *)errors.data + i);
	if (ids.n) {
		uint32_t *v = ids.data;
		size_t u = 0;
		qsort(v, ids.n, sizeof(uint32_t), u32_cmp);
		for (i = 0; i < ids.n; i++)
			if (!u || v[u - 1] != v[i])
				v[u++] = v[i];
		r->stacks = calloc(u, sizeof(*r->stacks));
		if (r->stacks) {
			for (i = 0; i < u; i++)
				symbolize_stack(&r->stacks[i], v[i]);
			r->nstacks = u;
		}
	}
	free(ids.data);

	/* Suppressions split the errors in two. */
	for (i = 0; i < errors.n; i++) {
		struct report_error *e = (struct report_error *)errors.data + i;
		const char *by;
		struct report_error *dst;
		if (e->kind == KIND_LEAK && !e->function)
			e->function = creating_function(r, e->stack);
		by = suppressed_by(r, e);
		dst = vec_push(by ? &supp : &kept);
		if (!dst) {
			incomplete = true;
			continue;
		}
		*dst = *e;
		if (by)
			dst->suppressed_by = strdup(by);
	}
	free(errors.data);
	r->errors = kept.data;
	r->nerrors = kept.n;
	r->suppressed = supp.data;
	r->nsuppressed = supp.n;
	if (report_ctx.suppress && report_ctx.suppress->nrules) {
		struct suppress *s = report_ctx.suppress;
		r->suppressions = calloc(s->nrules, sizeof(*r->suppressions));
		for (i = 0; r->suppressions && i < s->nrules; i++) {
			char buf[512];
			if (!s->rules[i].hits)
				continue;
			snprintf(buf, sizeof(buf), "%s:%s", s->rules[i].kind,
				 s->rules[i].pattern);
			r->suppressions[r->nsuppressions].rule = strdup(buf);
			r->suppressions[r->nsuppressions].hits =
				s->rules[i].hits;
			r->suppressions[r->nsuppressions].handles =
				s->rules[i].handles;
			r->nsuppressions++;
		}
	}
	if (ec.dropped || depot_dropped() || engine_errors_dropped())
		incomplete = true;
	if (incomplete) {
		r->incomplete = true;
		r->incomplete_reason =
			"refsan ran out of memory for some handles, stacks or errors; counts are lower bounds";
	}
	if (interpose_get_stats) {
		struct interpose_stats is;

		interpose_get_stats(&is);
		if (is.pool_full || is.shadow_full) {
			r->incomplete = true;
			r->incomplete_reason =
				"refsan ran out of trampolines or of its per-thread call stack; some calls were not tracked and counts are lower bounds";
		}
	}
	return 0;
}

static void
free_errors(struct report_error *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(v[i].handles);
		free(v[i].acquire_stacks);
		free((char *)v[i].expected_family);
		free((char *)v[i].suppressed_by);
	}
	free(v);
}

void
report_free(struct report *r)
{
	size_t i;

	free_errors(r->errors, r->nerrors);
	free_errors(r->suppressed, r->nsuppressed);
	for (i = 0; i < r->nsuppressions; i++)
		free((char *)r->suppressions[i].rule);
	free(r->suppressions);
	for (i = 0; i < r->nstacks; i++)
		free(r->stacks[i].frames);
	free(r->stacks);
	if (report_ctx.suppress)
		for (i = 0; i < report_ctx.suppress->nrules; i++)
			report_ctx.suppress->rules[i].hits =
				report_ctx.suppress->rules[i].handles = 0;
	memset(r, 0, sizeof(*r));
}

/* ---- where reports go ---- */

static int log_fd = -1;

/* The text report's fd: log_path.PID (opened once, appended to, so an
 * exec'ed image adds to its predecessor's report) or stderr. */
static int
text_fd(void)
{
	char path[4096];

	if (!report_ctx.log_path || !*report_ctx.log_path)
		return 2;
	if (log_fd >= 0)
		return log_fd;
	snprintf(path, sizeof(path), "%s.%d", report_ctx.log_path,
		 (int)getpid());
	log_fd = open(path,
		      O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC,
		      0644);
	if (log_fd < 0) {
		char num[24];
		safe_writev_strs(2, "refsan: warning: cannot open log_path ",
				 path, ": ", strerror(errno),
				 "; writing the report to stderr\n", NULL);
		(void)num;
		return 2;
	}
	return log_fd;
}

void
report_after_fork_child(void)
{
	/* The child writes its own PATH.PID. */
	if (log_fd >= 0)
		close(log_fd);
	log_fd = -1;
}

/* Weak: the unit tests link the report without the interposition. */
size_t interpose_creator_hint(const char *release_fn, char *buf, size_t len,
			      const char **lib) __attribute__((weak));

/* "  hint: ..." for a release of a handle never seen created. */
static void
print_creator_hint(int fd, const char *function)
{
	char names[512];
	const char *lib;

	if (!interpose_creator_hint ||
	    !interpose_creator_hint(function, names, sizeof(names), &lib))
		return;
	safe_writev_strs(fd, "  hint: refsan never saw this handle created. ",
			 lib, " exports functions the spec does not name that may have made it: ",
			 names, "; add a create rule for the one it came from\n",
			 NULL);
}

void
report_print_error(const struct engine_error *e)
{
	struct report r;
	struct report_error err;
	struct report_stack stacks[3];
	uint32_t ids[3];
	size_t i, n = 0;
	const char *by;

	if (e->warning) {
		static _Atomic unsigned warnings;
		char hx[24];
		unsigned nw = atomic_fetch_add(&warnings, 1);

		if (nw == 10)
			safe_puts(text_fd(), "refsan: warning: more releases of handles never seen created; no more such warnings (strict=1 reports each as an error)\n");
		if (nw >= 10)
			return;
		safe_writev_strs(text_fd(), "refsan: warning: ",
				 e->function ? e->function : "release",
				 " of handle ", safe_xtoa(e->handle, hx),
				 " that refsan never saw created (strict=1 makes this an error)\n",
				 NULL);
		if (e->kind == EE_INVALID_RELEASE)
			print_creator_hint(text_fd(), e->function);
		return;
	}
	memset(&r, 0, sizeof(r));
	r.pid = getpid();
	r.ppid = getppid();
	r.argv = report_ctx.argv;
	r.argc = report_ctx.argc;
	misuse_error(&err, e);
	ids[0] = err.stack;
	ids[1] = err.last_release_stack;
	ids[2] = err.created_stack;
	qsort(ids, 3, sizeof(uint32_t), u32_cmp);
	for (i = 0; i < 3; i++)
		if (ids[i] && (!n || stacks[n - 1].id != ids[i]))
			symbolize_stack(&stacks[n++], ids[i]);
	r.stacks = stacks;
	r.nstacks = n;
	by = suppressed_by(&r, &err);
	if (!by) {
		report_write_text_error(text_fd(), &r, &err);
		if (err.kind == KIND_INVALID_RELEASE)
			print_creator_hint(text_fd(), err.function);
	}
	for (i = 0; i < n; i++)
		free(stacks[i].frames);
	free((char *)err.expected_family);
	if (by && report_ctx.suppress) {
		/* Counted again at exit: undo this count. */
		size_t k;
		for (k = 0; k < report_ctx.suppress->nrules; k++)
			report_ctx.suppress->rules[k].hits = 0,
			report_ctx.suppress->rules[k].handles = 0;
	}
	if (!by && refsan_opts.halt_on_error &&
	    (err.kind == KIND_DOUBLE_RELEASE ||
	     err.kind == KIND_INVALID_RELEASE)) {
		safe_puts(text_fd(),
			  "refsan: halt_on_error=1: aborting at the first error\n");
		abort();
	}
}

/*
 * The process's umask, read without changing it (umask(2) can only set it,
 * and setting it back races with the program's other threads).
 */
static mode_t
current_umask(void)
{
	char buf[1024];
	const char *p;
	mode_t m = 022;
	ssize_t n;
	int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return m;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return m;
	buf[n] = '\0';
	p = strstr(buf, "\nUmask:");
	if (p)
		m = (mode_t)strtoul(p + 7, NULL, 8);
	return m & 0777;
}

int
report_file_open(struct report_file *f, const char *base, const char *suffix)
{
	int n;

	memset(f, 0, sizeof(*f));
	f->fd = -1;
	n = snprintf(f->final, sizeof(f->final), "%s.%d%s", base,
		     (int)getpid(), suffix);
	if (n < 0 || (size_t)n >= sizeof(f->final))
		return -ENAMETOOLONG;
	n = snprintf(f->tmp, sizeof(f->tmp), "%s.%d%s.tmp.XXXXXX", base,
		     (int)getpid(), suffix);
	if (n < 0 || (size_t)n >= sizeof(f->tmp))
		return -ENAMETOOLONG;
	f->fd = mkostemp(f->tmp, O_CLOEXEC);
	if (f->fd < 0)
		return -errno;
	/* mkostemp makes it 0600: 0644 less the umask, as the text report
	 * and every file the program creates itself. */
	fchmod(f->fd, 0644 & ~current_umask());
	return 0;
}

int
report_file_commit(struct report_file *f, bool ok)
{
	char name[sizeof(f->final)];
	int rc = 0, i;

	if (f->fd < 0)
		return -EBADF;
	if (ok && fsync(f->fd) != 0 && errno != EINVAL)
		ok = false, rc = -errno;
	if (close(f->fd) != 0 && ok)
		ok = false, rc = -errno;
	f->fd = -1;
	if (!ok) {
		unlink(f->tmp);
		return rc ? rc : -EIO;
	}
	/* link(2) never replaces: the first free name wins. */
	for (i = 0; i < 1000; i++) {
		char *dot;
		if (i == 0) {
			snprintf(name, sizeof(name), "%s", f->final);
		} else {
			/* PATH.PID.json -> PATH.PID.N.json */
			snprintf(name, sizeof(name), "%s", f->final);
			dot = strrchr(name, '.');
			if (dot && dot > name)
				snprintf(dot, sizeof(name) - (size_t)(dot - name),
					 ".%d%s", i, strrchr(f->final, '.'));
		}
		if (link(f->tmp, name) == 0) {
			unlink(f->tmp);
			memcpy(f->final, name, sizeof(f->final));
			return 0;
		}
		if (errno != EEXIST) {
			rc = -errno;
			break;
		}
	}
	unlink(f->tmp);
	return rc ? rc : -EEXIST;
}

static void
write_json(const struct report *r)
{
	struct report_file f;
	int rc;

	if (!report_ctx.json_path || !*report_ctx.json_path)
		return;
	rc = report_file_open(&f, report_ctx.json_path, ".json");
	if (rc == 0) {
		int wrc = report_write_json(f.fd, r);

		rc = report_file_commit(&f, wrc == 0);
		if (wrc < 0)
			rc = wrc; /* why it failed (ENOSPC), not just EIO */
	}
	if (rc != 0) {
		int fd = text_fd();
		const char *msg[] = { "refsan: error: cannot write the JSON report ",
				      f.final[0] ? f.final : report_ctx.json_path,
				      ": ", strerror(-rc),
				      " (the text report is complete)\n" };

		/* Where the text report went; stderr if that fails too. */
		if (safe_writev_strs(fd, msg[0], msg[1], msg[2], msg[3], msg[4],
				     NULL) < 0 &&
		    fd != 2)
			safe_writev_strs(2, msg[0], msg[1], msg[2], msg[3],
					 msg[4], NULL);
	}
}

size_t
report_final(int exit_status)
{
	struct report r;
	size_t n;

	if (report_build(&r, true, 0, exit_status) != 0)
		return 0;
	n = r.nerrors;
	if (r.incomplete && !n && !r.nsuppressed) {
		struct engine_counters ec;

		/* Out of memory while building: errors lost are not errors
		 * absent, so the run must not pass (the report says
		 * incomplete). */
		engine_counters(&ec);
		if (ec.errors || ec.live)
			n = 1;
	}
	/* The status the process will really exit with (init applies it). */
	if (n && exit_status == 0 && refsan_opts.exitcode)
		r.exit_status = (int)refsan_opts.exitcode;
	if (n || r.nsuppressed || r.incomplete) {
		int fd = text_fd(), rc = report_write_text(fd, &r);

		/* log_path on a full or failing disk: the report still
		 * reaches a person, on stderr. */
		if (rc < 0 && fd != 2) {
			safe_writev_strs(2, "refsan: warning: cannot write the report to log_path: ",
					 strerror(-rc),
					 "; writing it to stderr\n", NULL);
			report_write_text(2, &r);
		}
	}
	if (refsan_opts.verbosity >= 1) {
		char a[24], b[24], c[24], d[24];
		safe_writev_strs(text_fd(), "==", safe_utoa((uint64_t)r.pid, a),
				 "==refsan: ", safe_utoa(r.counters.created, b),
				 " handle(s) created, ",
				 safe_utoa(r.counters.released, c),
				 " released, ", safe_utoa(r.counters.live, d),
				 " live at exit\n", NULL);
	}
	if (refsan_opts.verbosity >= 2) {
		struct unwind_stats us;
		char a[24], b[24], c[24], d[24];

		unwind_stats(&us);
		safe_writev_strs(text_fd(), "refsan: stacks: ",
				 safe_utoa(call_site_hits(), a),
				 " call-site memo hits; native walks: ",
				 safe_utoa(us.fills, b), " cached, ",
				 safe_utoa(us.predicted, c), " predicted, ",
				 safe_utoa(us.walked, d), " by the cursor\n",
				 NULL);
	}
	write_json(&r);
	report_free(&r);
	return n;
}

int
report_live(uint64_t mark, const char *path)
{
	struct report r;
	int fd, rc;

	if (report_build(&r, false, mark, 0) != 0)
		return -1;
	if (path) {
		fd = open(path,
			  O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
			  0644);
		if (fd < 0) {
			int e = errno;
			report_free(&r);
			errno = e;
			return -1;
		}
	} else {
		fd = text_fd();
	}
	if (path && strlen(path) > 5 &&
	    strcmp(path + strlen(path) - 5, ".json") == 0)
		rc = report_write_json(fd, &r);
	else
		rc = report_write_text(fd, &r);
	if (path)
		close(fd);
	report_free(&r);
	if (rc < 0) {
		errno = -rc;
		return -1;
	}
	return 0;
}
