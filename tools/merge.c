/*
 * merge.c: builds the merged model of model.h from JSON reports.
 *
 * Everything that comes from a report is interned once, so that the
 * identity of a frame, a stack or an error site is a comparison of a few
 * pointers and integers, and so that 100 reports of 10,000 errors each,
 * which repeat the same few thousand file and function names, take memory
 * for the distinct ones only.  The tables are open-addressing hash tables
 * of 32-bit indices into growable arrays; strings live in an arena, each
 * preceded by its content hash.
 *
 * Reports are checked as they are read: a field of the wrong type is an
 * error naming the file, line and column (the schema allows new fields,
 * which are ignored, and new error kinds, which still count).
 */
#include <errno.h>
#include <sys/types.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "model.h"

/* ---- hashing ---- */

/*
 * A 64-bit hash of bytes, 8 at a time (little-endian loads), stable across
 * runs and machines: site hashes are written to reports and compared with
 * baselines made elsewhere, so it must never depend on addresses or seeds.
 */
static inline uint64_t
mix64(uint64_t h)
{
	h ^= h >> 32;
	h *= 0xd6e8feb86659fd93ull;
	h ^= h >> 32;
	h *= 0xd6e8feb86659fd93ull;
	h ^= h >> 32;
	return h;
}

static uint64_t
hash_bytes(const char *p, size_t n)
{
	uint64_t h = 0x9e3779b97f4a7c15ull ^ (n * 0xff51afd7ed558ccdull);
	uint64_t w;

	while (n >= 8) {
		memcpy(&w, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
		w = __builtin_bswap64(w);
#endif
		h = (h ^ w) * 0x100000001b3ull;
		h ^= h >> 29;
		p += 8;
		n -= 8;
	}
	w = 0;
	memcpy(&w, p, n);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	w = __builtin_bswap64(w);
#endif
	h = (h ^ w) * 0x100000001b3ull;
	return mix64(h);
}

static inline uint64_t
hash_combine(uint64_t h, uint64_t v)
{
	return mix64(h ^ (v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2)));
}

/* The content hash stored in front of every interned string. */
#define NULL_STR_HASH 0x6e756c6cull /* "null" */

static inline uint64_t
str_hash(const char *s)
{
	uint64_t h;

	if (!s)
		return NULL_STR_HASH;
	memcpy(&h, s - 16, 8);
	return h;
}

/* The length stored in front of an interned string. */
static inline size_t
str_len(const char *s)
{
	uint32_t n;

	memcpy(&n, s - 8, 4);
	return n;
}

/* ---- arena ---- */

#define ARENA_CHUNK ((size_t)1 << 20)

struct arena_chunk {
	struct arena_chunk *next;
	size_t used, size;
	char data[];
};

static void *
arena_alloc(struct arena_chunk **head, size_t n)
{
	struct arena_chunk *c = *head;

	n = (n + 7) & ~(size_t)7;
	if (!c || c->size - c->used < n) {
		size_t size = n > ARENA_CHUNK ? n : ARENA_CHUNK;

		c = xmalloc(sizeof(*c) + size);
		c->next = *head;
		c->used = 0;
		c->size = size;
		*head = c;
	}
	c->used += n;
	return c->data + c->used - n;
}

/* ---- hash tables of indices ---- */

/* A slot: the item's index + 1 (0: empty) and 32 bits of its hash, side
 * by side, so that a probe costs one cache miss. */
struct islot {
	uint32_t idx1;
	uint32_t tag;
};

struct itable {
	struct islot *slots;
	size_t cap, n;
};

static void
itable_grow(struct itable *t)
{
	size_t cap = t->cap ? t->cap * 2 : 1024, i;
	struct islot *slots = xcalloc(cap, sizeof(*slots));

	for (i = 0; i < t->cap; i++) {
		size_t j;

		if (!t->slots[i].idx1)
			continue;
		j = t->slots[i].tag & (cap - 1);
		while (slots[j].idx1)
			j = (j + 1) & (cap - 1);
		slots[j] = t->slots[i];
	}
	free(t->slots);
	t->slots = slots;
	t->cap = cap;
}

static void
itable_free(struct itable *t)
{
	free(t->slots);
	memset(t, 0, sizeof(*t));
}

/*
 * Probe for HASH; EQ (an expression of idx) tells whether item idx is the
 * one.  Returns the item's index or, when absent, UINT32_MAX with *slot
 * the free slot.
 */
#define ITABLE_FIND(t, hash, slot, eq)                                         \
	({                                                                     \
		uint32_t tag_ = (uint32_t)(hash);                              \
		size_t j_ = tag_ & ((t)->cap - 1);                             \
		uint32_t found_ = UINT32_MAX;                                  \
		while ((t)->slots[j_].idx1) {                                  \
			if ((t)->slots[j_].tag == tag_) {                      \
				uint32_t idx = (t)->slots[j_].idx1 - 1;        \
				if (eq) {                                      \
					found_ = idx;                          \
					break;                                 \
				}                                              \
			}                                                      \
			j_ = (j_ + 1) & ((t)->cap - 1);                        \
		}                                                              \
		*(slot) = j_;                                                  \
		found_;                                                        \
	})

static void
itable_reserve(struct itable *t)
{
	if ((t->n + 1) * 2 > t->cap)
		itable_grow(t);
}

static void
itable_set(struct itable *t, size_t slot, uint64_t hash, uint32_t idx)
{
	t->slots[slot].idx1 = idx + 1;
	t->slots[slot].tag = (uint32_t)hash;
	t->n++;
}

struct istr {
	const char *s;
	uint32_t len;
};

struct prescan;
static void prescan_free(struct prescan *ps);

struct model_tables {
	struct arena_chunk *arena;
	struct istr *strs;
	size_t nstrs, cap_strs;
	struct itable strt, framet, stackt, groupt;
	struct json_doc doc;     /* the report being read */
	struct prescan *prescan; /* its stacks, for model_add_doc */
	/* per report: its stack ids to the model's */
	uint32_t *local_key, *local_val, *local_tid;
	size_t local_cap;
};

/* ---- strings ---- */

static const char *
intern(struct model *m, const char *s, size_t len)
{
	struct model_tables *t = m->t;
	uint64_t h = hash_bytes(s, len);
	size_t slot;
	uint32_t i;
	char *p;

	itable_reserve(&t->strt);
	i = ITABLE_FIND(&t->strt, h, &slot,
	                t->strs[idx].len == len &&
	                        memcmp(t->strs[idx].s, s, len) == 0);
	if (i != UINT32_MAX)
		return t->strs[i].s;
	p = arena_alloc(&t->arena, 16 + len + 1);
	memcpy(p, &h, 8);
	memcpy(p + 8, &(uint32_t){ (uint32_t)len }, 4);
	memcpy(p + 16, s, len);
	p[16 + len] = '\0';
	if (t->nstrs == t->cap_strs) {
		t->cap_strs = t->cap_strs ? t->cap_strs * 2 : 1024;
		t->strs = xrealloc(t->strs, t->cap_strs * sizeof(*t->strs));
	}
	t->strs[t->nstrs].s = p + 16;
	t->strs[t->nstrs].len = (uint32_t)len;
	itable_set(&t->strt, slot, h, (uint32_t)t->nstrs++);
	return p + 16;
}

static const char *
intern_c(struct model *m, const char *s)
{
	return s ? intern(m, s, strlen(s)) : NULL;
}

/* ---- growable arrays ---- */

#define GROW(arr, n, cap)                                                      \
	do {                                                                   \
		if ((n) == (cap)) {                                            \
			(cap) = (cap) ? (cap)*2 : 64;                          \
			(arr) = xrealloc((arr), (cap) * sizeof(*(arr)));       \
		}                                                              \
	} while (0)

void
model_init(struct model *m)
{
	memset(m, 0, sizeof(*m));
	m->t = xcalloc(1, sizeof(*m->t));
	json_init(&m->t->doc);
	/* Id 0 of frames and stacks means "none". */
	GROW(m->frames, m->nframes, m->cap_frames);
	memset(&m->frames[m->nframes++], 0, sizeof(*m->frames));
	GROW(m->stacks, m->nstacks, m->cap_stacks);
	memset(&m->stacks[m->nstacks++], 0, sizeof(*m->stacks));
	m->final = true;
}

void
model_free(struct model *m)
{
	struct arena_chunk *c, *next;
	size_t i;

	if (!m->t)
		return;
	for (c = m->t->arena; c; c = next) {
		next = c->next;
		free(c);
	}
	free(m->t->strs);
	itable_free(&m->t->strt);
	itable_free(&m->t->framet);
	itable_free(&m->t->stackt);
	itable_free(&m->t->groupt);
	json_free(&m->t->doc);
	if (m->t->prescan) {
		prescan_free(m->t->prescan);
		free(m->t->prescan);
	}
	free(m->t->local_key);
	free(m->t->local_val);
	free(m->t->local_tid);
	free(m->t);
	for (i = 0; i < m->ngroups; i++) {
		free(m->groups[i].pids);
		free(m->groups[i].acquire_stacks);
	}
	for (i = 0; i < m->nprocs; i++)
		free(m->procs[i].argv);
	free(m->groups);
	free(m->frames);
	free(m->stack_frames);
	free(m->stacks);
	free(m->procs);
	free(m->supps);
	free(m->specs);
	free(m->files);
	free(m->incomplete_reason);
	free(m->order);
	memset(m, 0, sizeof(*m));
}

/* ---- reading one report ---- */

struct reader {
	struct model *m;
	const struct json_doc *doc;
	const char *name;
	int pid;
	/* The members of one object looked up in one pass (prefetch). */
	const struct json_node *cobj;
	const char *const *ckeys;
	size_t nckeys;
	const struct json_node *cvals[32];
	bool quiet; /* the loader thread: faults are found again, and
		       reported, by the merging thread */
};

/* Look KEYS up in OBJ at once: frames and errors are read by many
 * lookups each, and there are millions of them. */
static void
prefetch(struct reader *rd, const struct json_node *obj,
         const char *const *keys, size_t n)
{
	rd->cobj = obj;
	rd->ckeys = keys;
	rd->nckeys = n;
	json_members(rd->doc, obj, keys, n, rd->cvals);
}

static const struct json_node *
lookup(struct reader *rd, const struct json_node *obj, const char *key)
{
	size_t i;

	if (obj == rd->cobj)
		for (i = 0; i < rd->nckeys; i++)
			if (rd->ckeys[i] == key ||
			    strcmp(rd->ckeys[i], key) == 0)
				return rd->cvals[i];
	return json_get(rd->doc, obj, key);
}

static int __attribute__((format(printf, 3, 4)))
bad(struct reader *rd, const struct json_node *n, const char *fmt, ...)
{
	unsigned line, col;
	va_list ap;

	if (rd->quiet)
		return -1;
	json_node_position(rd->doc, n, &line, &col);
	fflush(stdout);
	fprintf(stderr, "refsan: error: %s:%u:%u: ", rd->name, line, col);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return -1;
}

static const char *const type_names[] = {
	"null",     "false",    "true",      "a number",
	"a string", "an array", "an object",
};

static const char *
type_name(const struct json_node *n)
{
	return n ? type_names[n->type] : "nothing";
}

/* Optional string or null member KEY into *out (interned; NULL if absent
 * or null). */
static int
get_str(struct reader *rd, const struct json_node *obj, const char *key,
        const char *where, const char **out)
{
	const struct json_node *v = lookup(rd, obj, key);
	const char *s;
	size_t len;

	*out = NULL;
	if (!v || v->type == JSON_NULL)
		return 0;
	if (v->type != JSON_STRING)
		return bad(rd, v, "%s.%s: expected a string or null, got %s",
		           where, key, type_name(v));
	s = json_str(rd->doc, v, &len);
	*out = intern(rd->m, s, len);
	return 0;
}

/* Optional non-negative integer member (null or absent: DEF). */
static int
get_uint(struct reader *rd, const struct json_node *obj, const char *key,
         const char *where, uint64_t def, uint64_t *out)
{
	const struct json_node *v = lookup(rd, obj, key);

	*out = def;
	if (!v || v->type == JSON_NULL)
		return 0;
	if (v->type != JSON_NUMBER || !(v->flags & JSON_NUM_UINT))
		return bad(rd, v,
		           "%s.%s: expected a non-negative integer, got %s",
		           where, key,
		           v->type == JSON_NUMBER ? "another number"
		                                  : type_name(v));
	*out = v->v.u;
	return 0;
}

static int
get_int(struct reader *rd, const struct json_node *obj, const char *key,
        const char *where, int def, int *out)
{
	const struct json_node *v = lookup(rd, obj, key);

	*out = def;
	if (!v || v->type == JSON_NULL)
		return 0;
	if (v->type == JSON_NUMBER && (v->flags & JSON_NUM_UINT) &&
	    v->v.u <= INT32_MAX) {
		*out = (int)v->v.u;
		return 0;
	}
	if (v->type == JSON_NUMBER && (v->flags & JSON_NUM_NEG) &&
	    v->v.u <= (uint64_t)INT32_MAX + 1) {
		*out = (int)-(int64_t)v->v.u;
		return 0;
	}
	return bad(rd, v, "%s.%s: expected a 32-bit integer, got %s", where,
	           key,
	           v->type == JSON_NUMBER ? "another number" : type_name(v));
}

static int
get_bool(struct reader *rd, const struct json_node *obj, const char *key,
         const char *where, bool def, bool *out)
{
	const struct json_node *v = lookup(rd, obj, key);

	*out = def;
	if (!v || v->type == JSON_NULL)
		return 0;
	if (v->type != JSON_TRUE && v->type != JSON_FALSE)
		return bad(rd, v, "%s.%s: expected true or false, got %s",
		           where, key, type_name(v));
	*out = v->type == JSON_TRUE;
	return 0;
}

/* An address string "0x..." (null: 0). */
static int
parse_hex(struct reader *rd, const struct json_node *v, const char *what,
          uint64_t *out, bool *present)
{
	const char *s;
	size_t len, i;
	uint64_t x = 0;

	*out = 0;
	if (present)
		*present = false;
	if (!v || v->type == JSON_NULL)
		return 0;
	s = json_str(rd->doc, v, &len);
	if (!s || len < 3 || len > 18 || s[0] != '0' || s[1] != 'x')
		goto fail;
	for (i = 2; i < len; i++) {
		char c = s[i];

		x <<= 4;
		if (c >= '0' && c <= '9')
			x |= (uint64_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			x |= (uint64_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			x |= (uint64_t)(c - 'A' + 10);
		else
			goto fail;
	}
	*out = x;
	if (present)
		*present = true;
	return 0;
fail:
	return bad(rd, v, "%s: expected an address string \"0x...\", got %s",
	           what,
	           v->type == JSON_STRING ? "another string" : type_name(v));
}

static uint32_t
intern_frame(struct model *m, const struct mframe *f)
{
	struct model_tables *t = m->t;
	size_t slot;
	uint32_t i;

	itable_reserve(&t->framet);
	i = ITABLE_FIND(&t->framet, f->hash, &slot,
	                m->frames[idx].python == f->python &&
	                        m->frames[idx].function == f->function &&
	                        m->frames[idx].file == f->file &&
	                        m->frames[idx].line == f->line &&
	                        m->frames[idx].module == f->module &&
	                        (f->function || f->file ||
	                         (m->frames[idx].offset == f->offset &&
	                          m->frames[idx].has_offset == f->has_offset)));
	if (i != UINT32_MAX)
		return i;
	GROW(m->frames, m->nframes, m->cap_frames);
	m->frames[m->nframes] = *f;
	itable_set(&t->framet, slot, f->hash, (uint32_t)m->nframes);
	return (uint32_t)m->nframes++;
}

/* A frame as the report has it: strings still in the document. */
struct rawframe {
	bool python;
	const char *function, *file, *module; /* NULL: null or absent */
	size_t function_len, file_len, module_len;
	unsigned line;
	uint64_t pc, offset;
	bool has_offset;
	uint64_t hash;
};

static int
raw_str(struct reader *rd, const struct json_node *v, const char *key,
        const char **p, size_t *len)
{
	*p = NULL;
	*len = 0;
	if (!v || v->type == JSON_NULL)
		return 0;
	if (v->type != JSON_STRING)
		return bad(rd, v, "frame.%s: expected a string or null, got %s",
		           key, type_name(v));
	*p = json_str(rd->doc, v, len);
	return 0;
}

static inline uint64_t
raw_hash(const char *p, size_t len)
{
	return p ? hash_bytes(p, len) : NULL_STR_HASH;
}

/*
 * Check frame FN and take its fields, with the content hash that
 * identifies it from run to run (never the pc): the same value
 * read_frame's interned frame gets.
 */
static int
scan_frame(struct reader *rd, const struct json_node *fn, struct rawframe *f)
{
	static const char *const keys[] = { "python", "function", "file",
		                            "line",   "module",   "pc",
		                            "offset" };
	uint64_t line, h;

	memset(f, 0, sizeof(*f));
	if (fn->type != JSON_OBJECT)
		return bad(rd, fn, "stacks: expected a frame object, got %s",
		           type_name(fn));
	prefetch(rd, fn, keys, sizeof(keys) / sizeof(keys[0]));
	if (get_bool(rd, fn, "python", "frame", false, &f->python) ||
	    raw_str(rd, rd->cvals[1], "function", &f->function,
	            &f->function_len) ||
	    raw_str(rd, rd->cvals[2], "file", &f->file, &f->file_len) ||
	    get_uint(rd, fn, "line", "frame", 0, &line))
		return -1;
	f->line = line > UINT32_MAX ? 0 : (unsigned)line;
	if (!f->python &&
	    (raw_str(rd, rd->cvals[4], "module", &f->module, &f->module_len) ||
	     parse_hex(rd, rd->cvals[5], "frame.pc", &f->pc, NULL) ||
	     parse_hex(rd, rd->cvals[6], "frame.offset", &f->offset,
	               &f->has_offset)))
		return -1;
	h = hash_combine(f->python ? 0x7079 : 0x6e6174,
	                 raw_hash(f->function, f->function_len));
	h = hash_combine(h, raw_hash(f->file, f->file_len));
	h = hash_combine(h, f->line);
	h = hash_combine(h, raw_hash(f->module, f->module_len));
	if (!f->function && !f->file) {
		h = hash_combine(h, f->offset);
		h = hash_combine(h, f->has_offset);
	} else {
		f->has_offset = f->has_offset && f->module;
	}
	f->hash = h;
	return 0;
}

static inline bool
same_str(const char *interned, const char *p, size_t len)
{
	if (!interned || !p)
		return !interned && !p;
	return str_len(interned) == len && memcmp(interned, p, len) == 0;
}

/* Whether model frame MF is the frame F describes. */
static bool
frame_is(const struct mframe *mf, const struct rawframe *f)
{
	return mf->hash == f->hash && mf->python == f->python &&
	       mf->line == f->line &&
	       same_str(mf->function, f->function, f->function_len) &&
	       same_str(mf->file, f->file, f->file_len) &&
	       same_str(mf->module, f->module, f->module_len) &&
	       (f->function || f->file ||
	        (mf->offset == f->offset && mf->has_offset == f->has_offset));
}

static uint32_t
frame_from_raw(struct model *m, const struct rawframe *rf)
{
	struct mframe f;

	memset(&f, 0, sizeof(f));
	f.python = rf->python;
	f.function =
	        rf->function ? intern(m, rf->function, rf->function_len) : NULL;
	f.file = rf->file ? intern(m, rf->file, rf->file_len) : NULL;
	f.module = rf->module ? intern(m, rf->module, rf->module_len) : NULL;
	f.line = rf->line;
	f.pc = rf->pc;
	f.offset = rf->offset;
	f.has_offset = rf->has_offset;
	f.hash = rf->hash;
	return intern_frame(m, &f);
}

/* The model's stack made of frames F[0..N) with content hash H, or 0. */
static uint32_t
find_stack(struct model *m, const struct rawframe *f, size_t n, uint64_t h)
{
	struct model_tables *t = m->t;
	size_t slot, j;
	uint32_t i;

	if (!t->stackt.cap)
		return 0;
	i = ITABLE_FIND(&t->stackt, h, &slot, ({
		bool eq_ =
		        m->stacks[idx].hash == h && m->stacks[idx].nframes == n;
		for (j = 0; eq_ && j < n; j++)
			eq_ = frame_is(
			        &m->frames[m->stack_frames
			                           [m->stacks[idx].first + j]],
			        &f[j]);
		eq_;
	}));
	return i == UINT32_MAX ? 0 : i;
}

static uint32_t
intern_stack(struct model *m, const uint32_t *ids, size_t n, uint64_t h)
{
	struct model_tables *t = m->t;
	size_t slot;
	uint32_t i;

	itable_reserve(&t->stackt);
	i = ITABLE_FIND(&t->stackt, h, &slot,
	                m->stacks[idx].nframes == n &&
	                        memcmp(m->stack_frames + m->stacks[idx].first,
	                               ids, n * sizeof(*ids)) == 0);
	if (i != UINT32_MAX)
		return i;
	while (m->nstack_frames + n > m->cap_stack_frames) {
		m->cap_stack_frames =
		        m->cap_stack_frames ? m->cap_stack_frames * 2 : 4096;
		m->stack_frames = xrealloc(m->stack_frames,
		                           m->cap_stack_frames *
		                                   sizeof(*m->stack_frames));
	}
	memcpy(m->stack_frames + m->nstack_frames, ids, n * sizeof(*ids));
	GROW(m->stacks, m->nstacks, m->cap_stacks);
	m->stacks[m->nstacks].first = (uint32_t)m->nstack_frames;
	m->stacks[m->nstacks].nframes = (uint32_t)n;
	m->stacks[m->nstacks].hash = h;
	m->nstack_frames += n;
	itable_set(&t->stackt, slot, h, (uint32_t)m->nstacks);
	return (uint32_t)m->nstacks++;
}

/* ---- the report's stack ids to the model's ---- */

static void
local_reset(struct model_tables *t, size_t n)
{
	size_t cap = 16;

	while (cap < n * 2 + 2)
		cap *= 2;
	if (cap > t->local_cap) {
		free(t->local_key);
		free(t->local_val);
		free(t->local_tid);
		t->local_key = xmalloc(cap * sizeof(*t->local_key));
		t->local_val = xmalloc(cap * sizeof(*t->local_val));
		t->local_tid = xmalloc(cap * sizeof(*t->local_tid));
		t->local_cap = cap;
	}
	memset(t->local_key, 0, t->local_cap * sizeof(*t->local_key));
}

/* The slot of KEY, inserted when absent (*found false). */
static uint32_t *
local_slot(struct model_tables *t, uint32_t key, bool *found)
{
	size_t j = mix64(key) & (t->local_cap - 1);

	while (t->local_key[j] && t->local_key[j] != key)
		j = (j + 1) & (t->local_cap - 1);
	*found = t->local_key[j] == key;
	if (!*found)
		t->local_tid[j] = 0;
	t->local_key[j] = key;
	return &t->local_val[j];
}

/* The slot of the report's stack id KEY, or -1. */
static ssize_t
local_index(const struct model_tables *t, uint32_t key)
{
	size_t j;

	if (!t->local_cap || !key)
		return -1;
	j = mix64(key) & (t->local_cap - 1);
	while (t->local_key[j]) {
		if (t->local_key[j] == key)
			return (ssize_t)j;
		j = (j + 1) & (t->local_cap - 1);
	}
	return -1;
}

/* The model's stack for the report's id KEY, 0 when it has none. */
static uint32_t
local_find(const struct model_tables *t, uint32_t key)
{
	ssize_t j = local_index(t, key);

	return j < 0 ? 0 : t->local_val[j];
}

/* The thread the report's stack KEY was captured on, 0 unknown. */
static int
local_thread(const struct model_tables *t, uint32_t key)
{
	ssize_t j = local_index(t, key);

	return j < 0 ? 0 : (int)t->local_tid[j];
}

/*
 * The stacks of one report, checked and hashed, ready to be interned.
 * This part needs the document only, not the model, so that the loader
 * thread does it for the next report while this one is merged.
 */
struct prescan {
	bool done; /* scanned without a fault */
	size_t n, cap;
	uint32_t *id; /* the report's stack ids */
	uint64_t *hash;
	uint32_t *first, *count; /* frames[first .. first + count) */
	struct rawframe *frames;
	size_t nframes, cap_frames;
};

static void
prescan_free(struct prescan *ps)
{
	free(ps->id);
	free(ps->hash);
	free(ps->first);
	free(ps->count);
	free(ps->frames);
	memset(ps, 0, sizeof(*ps));
}

static int
scan_stacks(struct reader *rd, const struct json_node *root, struct prescan *ps)
{
	const struct json_node *st = json_get(rd->doc, root, "stacks");
	uint32_t k;

	ps->done = false;
	ps->n = ps->nframes = 0;
	if (st && st->type != JSON_NULL && st->type != JSON_OBJECT)
		return bad(rd, st, "stacks: expected an object, got %s",
		           type_name(st));
	for (k = st && st->type == JSON_OBJECT ? st->v.first : 0; k;
	     k = rd->doc->nodes[rd->doc->nodes[k].next].next) {
		const struct json_node *kn = &rd->doc->nodes[k];
		const struct json_node *fr = &rd->doc->nodes[kn->next];
		const char *s;
		size_t len, i;
		uint64_t id = 0, h = 0x737461636bull;
		uint32_t f;

		s = json_str(rd->doc, kn, &len);
		for (i = 0; i < len && len <= 10; i++) {
			if (s[i] < '0' || s[i] > '9')
				break;
			id = id * 10 + (uint64_t)(s[i] - '0');
		}
		if (!len || len > 10 || i != len || id == 0 || id > UINT32_MAX)
			return bad(
			        rd, kn,
			        "stacks: expected a stack id (a decimal number from 1 to 4294967295) as the key, got \"%.*s\"",
			        len > 40 ? 40 : (int)len, s);
		if (fr->type != JSON_ARRAY)
			return bad(rd, fr,
			           "stacks.%s: expected an array of frames, "
			           "got %s",
			           s, type_name(fr));
		if (ps->n == ps->cap) {
			ps->cap = ps->cap ? ps->cap * 2 : 1024;
			ps->id = xrealloc(ps->id, ps->cap * sizeof(*ps->id));
			ps->hash =
			        xrealloc(ps->hash, ps->cap * sizeof(*ps->hash));
			ps->first = xrealloc(ps->first,
			                     ps->cap * sizeof(*ps->first));
			ps->count = xrealloc(ps->count,
			                     ps->cap * sizeof(*ps->count));
		}
		while (ps->nframes + fr->len > ps->cap_frames) {
			ps->cap_frames =
			        ps->cap_frames ? ps->cap_frames * 2 : 8192;
			ps->frames =
			        xrealloc(ps->frames,
			                 ps->cap_frames * sizeof(*ps->frames));
		}
		ps->id[ps->n] = (uint32_t)id;
		ps->first[ps->n] = (uint32_t)ps->nframes;
		for (f = fr->v.first; f; f = rd->doc->nodes[f].next) {
			struct rawframe *rf = &ps->frames[ps->nframes];

			if (scan_frame(rd, &rd->doc->nodes[f], rf))
				return -1;
			h = hash_combine(h, rf->hash);
			ps->nframes++;
		}
		ps->count[ps->n] = (uint32_t)(ps->nframes - ps->first[ps->n]);
		ps->hash[ps->n] = h;
		ps->n++;
	}
	ps->done = true;
	return 0;
}

static int
read_stacks(struct reader *rd, const struct json_node *root, struct prescan *ps)
{
	const struct json_node *st;
	struct model_tables *t = rd->m->t;
	uint32_t *ids = NULL;
	size_t cap = 0, s_i;
	uint32_t k;
	int r = -1;

	if (!ps->done && scan_stacks(rd, root, ps))
		return -1;
	local_reset(t, ps->n);
	for (s_i = 0; s_i < ps->n; s_i++) {
		const struct rawframe *raw = ps->frames + ps->first[s_i];
		size_t n = ps->count[s_i], i;
		uint32_t *val;
		bool found;

		val = local_slot(t, ps->id[s_i], &found);
		/* A repeated id keeps its first stack. */
		if (found)
			continue;
		/* Most stacks were seen in an earlier report: found by
		 * content, nothing is interned. */
		*val = find_stack(rd->m, raw, n, ps->hash[s_i]);
		if (*val)
			continue;
		if (n > cap) {
			cap = n;
			ids = xrealloc(ids, cap * sizeof(*ids));
		}
		for (i = 0; i < n; i++)
			ids[i] = frame_from_raw(rd->m, &raw[i]);
		*val = intern_stack(rd->m, ids, n, ps->hash[s_i]);
	}
	/* "stack_threads": {"ID": TID}, the thread of each stack. */
	st = json_get(rd->doc, root, "stack_threads");
	if (st && st->type == JSON_OBJECT) {
		for (k = st->v.first; k;
		     k = rd->doc->nodes[rd->doc->nodes[k].next].next) {
			const struct json_node *kn = &rd->doc->nodes[k];
			const struct json_node *tv = &rd->doc->nodes[kn->next];
			const char *s;
			size_t len, i;
			uint64_t id = 0;
			ssize_t j;

			s = json_str(rd->doc, kn, &len);
			for (i = 0;
			     i < len && i < 10 && s[i] >= '0' && s[i] <= '9';
			     i++)
				id = id * 10 + (uint64_t)(s[i] - '0');
			if (tv->type != JSON_NUMBER ||
			    !(tv->flags & JSON_NUM_UINT) ||
			    tv->v.u > INT32_MAX) {
				bad(rd, tv,
				    "stack_threads: expected thread ids, got %s",
				    type_name(tv));
				goto out;
			}
			if (i != len || id > UINT32_MAX)
				continue;
			j = local_index(t, (uint32_t)id);
			if (j >= 0)
				t->local_tid[j] = (uint32_t)tv->v.u;
		}
	} else if (st && st->type != JSON_NULL) {
		bad(rd, st, "stack_threads: expected an object, got %s",
		    type_name(st));
		goto out;
	}
	r = 0;
out:
	free(ids);
	ps->done = false; /* used */
	return r;
}

/* A stack id member: the model's id, 0 for none (or unknown ids), and
 * the thread it was captured on (TID may be NULL). */
static int
get_stack(struct reader *rd, const struct json_node *obj, const char *key,
          const char *where, uint32_t *out, int *tid)
{
	uint64_t id;

	*out = 0;
	if (tid)
		*tid = 0;
	if (get_uint(rd, obj, key, where, 0, &id))
		return -1;
	/* An id missing from "stacks" means no stack recorded (schema). */
	if (id <= UINT32_MAX) {
		*out = local_find(rd->m->t, (uint32_t)id);
		if (tid)
			*tid = local_thread(rd->m->t, (uint32_t)id);
	}
	return 0;
}

static void
group_add_pid(struct mgroup *g, int pid)
{
	if (g->npids && g->pids[g->npids - 1] == pid)
		return;
	GROW(g->pids, g->npids, g->cap_pids);
	g->pids[g->npids++] = pid;
}

static uint64_t
site_hash(const struct model *m, const struct mgroup *g)
{
	uint64_t h = hash_combine(0x73697465ull, str_hash(g->kind_name));

	h = hash_combine(h, str_hash(g->family));
	h = hash_combine(h, str_hash(g->function));
	h = hash_combine(h, g->stack ? m->stacks[g->stack].hash : 0);
	return h;
}

static struct mgroup *
find_group(struct model *m, const struct mgroup *key, bool *created)
{
	struct model_tables *t = m->t;
	uint64_t h = key->site;
	struct mgroup *g;
	size_t slot;
	uint32_t i;
	bool leak = key->kind == KIND_LEAK;

	h = hash_combine(h, key->suppressed);
	if (leak)
		h = hash_combine(hash_combine(h, key->refcount), key->indirect);
	itable_reserve(&t->groupt);
	i = ITABLE_FIND(
	        &t->groupt, h, &slot,
	        m->groups[idx].kind_name == key->kind_name &&
	                m->groups[idx].family == key->family &&
	                m->groups[idx].function == key->function &&
	                m->groups[idx].stack == key->stack &&
	                m->groups[idx].suppressed == key->suppressed &&
	                (!leak || (m->groups[idx].refcount == key->refcount &&
	                           m->groups[idx].indirect == key->indirect)));
	if (i != UINT32_MAX) {
		*created = false;
		return &m->groups[i];
	}
	GROW(m->groups, m->ngroups, m->cap_groups);
	g = &m->groups[m->ngroups];
	*g = *key;
	g->order = m->ngroups;
	itable_set(&t->groupt, slot, h, (uint32_t)m->ngroups++);
	*created = true;
	return g;
}

static int
read_error(struct reader *rd, const struct json_node *en, bool suppressed,
           const char *where, uint64_t *counted)
{
	struct mgroup key, *g;
	const struct json_node *v, *pids;
	uint64_t u;
	bool created;
	int k;

	static const char *const keys[] = { "kind",
		                            "family",
		                            "function",
		                            "count",
		                            "stack",
		                            "refcount",
		                            "indirect",
		                            "expected_family",
		                            "suppressed_by",
		                            "handle",
		                            "last_release_stack",
		                            "created_stack",
		                            "handles",
		                            "acquire_stacks",
		                            "pids" };

	memset(&key, 0, sizeof(key));
	if (en->type != JSON_OBJECT)
		return bad(rd, en, "%s: expected an error object, got %s",
		           where, type_name(en));
	prefetch(rd, en, keys, sizeof(keys) / sizeof(keys[0]));
	v = lookup(rd, en, "kind");
	if (!v || v->type != JSON_STRING)
		return bad(rd, v ? v : en,
		           "%s: expected a \"kind\" string in every error",
		           where);
	if (get_str(rd, en, "kind", where, &key.kind_name) ||
	    get_str(rd, en, "family", where, &key.family) ||
	    get_str(rd, en, "function", where, &key.function) ||
	    get_uint(rd, en, "count", where, 1, &key.count) ||
	    get_stack(rd, en, "stack", where, &key.stack, &key.stack_tid))
		return -1;
	key.kind = KIND_COUNT;
	for (k = 0; k < KIND_COUNT; k++)
		if (strcmp(key.kind_name, report_kind_name(k)) == 0)
			key.kind = k;
	if (key.kind != KIND_LEAK && key.count == 0)
		key.count = 1;
	if (key.kind == KIND_LEAK) {
		bool b;

		if (get_uint(rd, en, "refcount", where, 1, &u) ||
		    get_bool(rd, en, "indirect", where, false, &b))
			return -1;
		key.refcount = u > UINT32_MAX ? UINT32_MAX : (unsigned)u;
		key.indirect = b;
	}
	key.suppressed = suppressed;
	key.site = site_hash(rd->m, &key);
	g = find_group(rd->m, &key, &created);
	if (!created) {
		g->count += key.count;
	} else {
		const struct json_node *hs, *as;
		uint32_t i;

		if (get_str(rd, en, "expected_family", where,
		            &g->expected_family) ||
		    get_str(rd, en, "suppressed_by", where,
		            &g->suppressed_by) ||
		    parse_hex(rd, lookup(rd, en, "handle"), "error.handle",
		              &g->handle, NULL) ||
		    get_stack(rd, en, "last_release_stack", where,
		              &g->last_release_stack, &g->last_release_tid) ||
		    get_stack(rd, en, "created_stack", where, &g->created_stack,
		              &g->created_tid))
			return -1;
		hs = lookup(rd, en, "handles");
		if (hs && hs->type == JSON_ARRAY) {
			for (i = hs->v.first; i; i = rd->doc->nodes[i].next) {
				uint64_t hv;

				if (parse_hex(rd, &rd->doc->nodes[i],
				              "error.handles", &hv, NULL))
					return -1;
				if (g->nhandles < MODEL_MAX_HANDLES)
					g->handles[g->nhandles++] = hv;
			}
		} else if (hs && hs->type != JSON_NULL) {
			return bad(rd, hs,
			           "%s.handles: expected an array, got %s",
			           where, type_name(hs));
		}
		as = lookup(rd, en, "acquire_stacks");
		if (as && as->type == JSON_ARRAY && as->len) {
			g->acquire_stacks = xcalloc(as->len, sizeof(uint32_t));
			for (i = as->v.first; i; i = rd->doc->nodes[i].next) {
				const struct json_node *an = &rd->doc->nodes[i];
				uint32_t sid = 0;

				if (an->type != JSON_NUMBER ||
				    !(an->flags & JSON_NUM_UINT))
					continue;
				if (an->v.u <= UINT32_MAX)
					sid = local_find(rd->m->t,
					                 (uint32_t)an->v.u);
				g->acquire_stacks[g->nacquire_stacks++] = sid;
			}
		}
	}
	pids = lookup(rd, en, "pids");
	if (pids && pids->type == JSON_ARRAY && pids->len) {
		uint32_t i;

		/* An error of a merged report: its own processes. */
		for (i = pids->v.first; i; i = rd->doc->nodes[i].next) {
			const struct json_node *pn = &rd->doc->nodes[i];

			if (pn->type != JSON_NUMBER ||
			    !(pn->flags & JSON_NUM_UINT) || pn->v.u > INT32_MAX)
				return bad(rd, pn,
				           "%s.pids: expected process ids",
				           where);
			group_add_pid(g, (int)pn->v.u);
		}
	} else {
		group_add_pid(g, rd->pid);
	}
	if (!suppressed)
		(*counted)++;
	return 0;
}

static int
read_errors(struct reader *rd, const struct json_node *root, const char *key,
            bool suppressed, bool required, uint64_t *counted)
{
	const struct json_node *arr = json_get(rd->doc, root, key);
	uint32_t i;

	if (!arr || arr->type == JSON_NULL) {
		if (required)
			return bad(rd, root,
			           "expected an \"%s\" array in the report",
			           key);
		return 0;
	}
	if (arr->type != JSON_ARRAY)
		return bad(rd, arr, "%s: expected an array, got %s", key,
		           type_name(arr));
	for (i = arr->v.first; i; i = rd->doc->nodes[i].next)
		if (read_error(rd, &rd->doc->nodes[i], suppressed, key,
		               counted))
			return -1;
	return 0;
}

static int
read_strings(struct reader *rd, const struct json_node *arr, const char *what,
             const char ***out, size_t *n)
{
	uint32_t i;
	size_t k = 0;

	*out = NULL;
	*n = 0;
	if (!arr || arr->type == JSON_NULL)
		return 0;
	if (arr->type != JSON_ARRAY)
		return bad(rd, arr, "%s: expected an array of strings, got %s",
		           what, type_name(arr));
	*out = xcalloc(arr->len + 1, sizeof(char *));
	for (i = arr->v.first; i; i = rd->doc->nodes[i].next) {
		const struct json_node *s = &rd->doc->nodes[i];
		size_t len;
		const char *p;

		if (s->type == JSON_NULL) {
			(*out)[k++] = NULL;
			continue;
		}
		if (s->type != JSON_STRING) {
			free(*out);
			*out = NULL;
			return bad(rd, s, "%s: expected strings, got %s", what,
			           type_name(s));
		}
		p = json_str(rd->doc, s, &len);
		(*out)[k++] = intern(rd->m, p, len);
	}
	*n = k;
	return 0;
}

static void
add_spec(struct model *m, const char *s)
{
	size_t i;

	if (!s)
		return;
	for (i = 0; i < m->nspecs; i++)
		if (m->specs[i] == s)
			return;
	GROW(m->specs, m->nspecs, m->cap_specs);
	m->specs[m->nspecs++] = s;
}

static int
read_process(struct reader *rd, const struct json_node *pn, bool top,
             uint64_t nerrors)
{
	struct model *m = rd->m;
	struct mprocess p;
	uint64_t u;

	memset(&p, 0, sizeof(p));
	if (pn->type != JSON_OBJECT)
		return bad(rd, pn, "processes: expected objects, got %s",
		           type_name(pn));
	if (get_int(rd, pn, "pid", "report", 0, &p.pid) ||
	    get_int(rd, pn, "ppid", "report", 0, &p.ppid) ||
	    get_int(rd, pn, "exit_status", "report", 0, &p.exit_status) ||
	    get_bool(rd, pn, "final", "report", true, &p.final) ||
	    get_bool(rd, pn, "incomplete", "report", false, &p.incomplete) ||
	    get_str(rd, pn, "incomplete_reason", "report",
	            &p.incomplete_reason) ||
	    read_strings(rd, json_get(rd->doc, pn, "argv"), "argv", &p.argv,
	                 &p.argc))
		return -1;
	if (top) {
		p.nerrors = nerrors;
		p.file = intern_c(m, rd->name);
	} else {
		if (get_uint(rd, pn, "errors", "processes", 0, &u) ||
		    get_str(rd, pn, "file", "processes", &p.file)) {
			free(p.argv);
			return -1;
		}
		p.nerrors = u;
	}
	GROW(m->procs, m->nprocs, m->cap_procs);
	m->procs[m->nprocs++] = p;
	return 0;
}

static int add_doc(struct model *m, const struct json_doc *doc,
                   const char *name, struct prescan *ps);

int
model_add_doc(struct model *m, const struct json_doc *doc, const char *name)
{
	if (!m->t->prescan)
		m->t->prescan = xcalloc(1, sizeof(*m->t->prescan));
	return add_doc(m, doc, name, m->t->prescan);
}

static int
add_doc(struct model *m, const struct json_doc *doc, const char *name,
        struct prescan *ps)
{
	const struct json_node *root = json_node(doc, doc->root), *v;
	struct reader rd = { .m = m, .doc = doc, .name = name };
	uint64_t schema, counted = 0, c;
	const char **specs;
	size_t nspecs, i;
	bool final, incomplete;
	const char *reason;

	if (!root || root->type != JSON_OBJECT)
		return bad(&rd, root,
		           "expected a refsan JSON report (an object), got %s",
		           type_name(root));
	v = json_get(doc, root, "tool");
	if (v && !json_str_eq(doc, v, "refsan"))
		return bad(&rd, v,
		           "not a refsan report: \"tool\" is not \"refsan\"");
	v = json_get(doc, root, "schema");
	if (!v)
		return bad(&rd, root,
		           "not a refsan report: no \"schema\" member");
	if (get_uint(&rd, root, "schema", "report", 0, &schema))
		return -1;
	if (schema != REPORT_SCHEMA)
		return bad(&rd, v,
		           "report schema %llu is not one this refsan reads "
		           "(%d): update refsan",
		           (unsigned long long)schema, REPORT_SCHEMA);
	if (get_int(&rd, root, "pid", "report", 0, &rd.pid) ||
	    get_bool(&rd, root, "final", "report", true, &final) ||
	    get_bool(&rd, root, "incomplete", "report", false, &incomplete) ||
	    get_str(&rd, root, "incomplete_reason", "report", &reason))
		return -1;
	if (read_stacks(&rd, root, ps) ||
	    read_errors(&rd, root, "errors", false, true, &counted) ||
	    read_errors(&rd, root, "known", false, false, &counted) ||
	    read_errors(&rd, root, "suppressed", true, false, &counted))
		return -1;
	v = json_get(doc, root, "suppressions");
	if (v && v->type == JSON_ARRAY) {
		uint32_t k;

		for (k = v->v.first; k; k = doc->nodes[k].next) {
			const struct json_node *sn = &doc->nodes[k];
			struct msuppression s;

			if (get_str(&rd, sn, "rule", "suppressions", &s.rule) ||
			    get_uint(&rd, sn, "hits", "suppressions", 0,
			             &s.hits) ||
			    get_uint(&rd, sn, "handles", "suppressions", 0,
			             &s.handles))
				return -1;
			if (!s.rule)
				continue;
			for (i = 0; i < m->nsupps; i++)
				if (m->supps[i].rule == s.rule)
					break;
			if (i == m->nsupps) {
				GROW(m->supps, m->nsupps, m->cap_supps);
				m->supps[m->nsupps++] = s;
			} else {
				m->supps[i].hits += s.hits;
				m->supps[i].handles += s.handles;
			}
		}
	}
	if (read_strings(&rd, json_get(doc, root, "specs"), "specs", &specs,
	                 &nspecs))
		return -1;
	for (i = 0; i < nspecs; i++)
		add_spec(m, specs[i]);
	free(specs);
	v = json_get(doc, root, "counters");
	if (v && v->type == JSON_OBJECT) {
		if (get_uint(&rd, v, "created", "counters", 0, &c))
			return -1;
		m->counters.created += c;
		if (get_uint(&rd, v, "acquired", "counters", 0, &c))
			return -1;
		m->counters.acquired += c;
		if (get_uint(&rd, v, "released", "counters", 0, &c))
			return -1;
		m->counters.released += c;
		if (get_uint(&rd, v, "live", "counters", 0, &c))
			return -1;
		m->counters.live += c;
		if (get_uint(&rd, v, "peak_live", "counters", 0, &c))
			return -1;
		if (c > m->counters.peak_live)
			m->counters.peak_live = c;
	}
	v = json_get(doc, root, "processes");
	if (v && v->type == JSON_ARRAY && v->len) {
		uint32_t k;

		/* A merged report: its processes as they were. */
		for (k = v->v.first; k; k = doc->nodes[k].next)
			if (read_process(&rd, &doc->nodes[k], false, 0))
				return -1;
	} else if (read_process(&rd, root, true, counted)) {
		return -1;
	}
	m->final = m->final && final;
	if (incomplete)
		m->incomplete = true;
	(void)reason; /* per process: model_finish() words the reason */
	GROW(m->files, m->nfiles, m->cap_files);
	m->files[m->nfiles++] = intern_c(m, name);
	return 0;
}

/*
 * The bytes of PATH: mapped when it is a regular file (no copy; the
 * kernel fills the pages at once), else read.  *mapped says which.
 */
static char *
load_file(const char *path, size_t *len, bool *mapped)
{
	struct stat st;
	void *p;
	int fd;

	*mapped = false;
	if (strcmp(path, "-") != 0) {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return NULL;
		if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
		    st.st_size > 0) {
			if ((uint64_t)st.st_size > MODEL_MAX_FILE_BYTES) {
				close(fd);
				errno = EFBIG;
				return NULL;
			}
			p = mmap(NULL, (size_t)st.st_size, PROT_READ,
			         MAP_PRIVATE | MAP_POPULATE, fd, 0);
			close(fd);
			if (p == MAP_FAILED)
				return NULL;
			*mapped = true;
			*len = (size_t)st.st_size;
			return p;
		}
		close(fd);
	}
	return read_whole_file(path, MODEL_MAX_FILE_BYTES, len);
}

/* One report read and parsed, waiting to be merged. */
struct loaded {
	char *buf;
	size_t len;
	bool mapped;
	struct json_doc doc; /* reused from report to report */
	int read_errno;      /* 0, or why the file could not be read */
	bool parse_failed;
	struct json_err jerr;
	struct prescan ps; /* its stacks, scanned by the loader */
};

static void
load_and_parse(struct loaded *l, const char *path)
{
	static const struct json_limits lim = JSON_LIMITS_DEFAULT;

	l->read_errno = 0;
	l->parse_failed = false;
	l->buf = load_file(path, &l->len, &l->mapped);
	if (!l->buf) {
		l->read_errno = errno ? errno : EIO;
		return;
	}
	l->parse_failed =
	        json_parse(&l->doc, l->buf, l->len, &lim, &l->jerr) != 0;
	l->ps.done = false;
	if (!l->parse_failed) {
		struct reader rd = { .doc = &l->doc,
			             .name = path,
			             .quiet = true };
		const struct json_node *root = json_node(&l->doc, l->doc.root);

		/* A fault is left for the merge to find and report. */
		if (root && root->type == JSON_OBJECT)
			scan_stacks(&rd, root, &l->ps);
	}
}

static void
unload(struct loaded *l)
{
	if (l->buf && l->mapped)
		munmap(l->buf, l->len);
	else
		free(l->buf);
	l->buf = NULL;
}

/* Merge a loaded report; messages as model_add_file's. */
static int
merge_loaded(struct model *m, struct loaded *l, const char *path)
{
	if (l->read_errno) {
		cli_error("%s: cannot read the report: %s", path,
		          l->read_errno == EFBIG ? "larger than 1 GiB"
		                                 : strerror(l->read_errno));
		return -1;
	}
	if (l->parse_failed) {
		fflush(stdout);
		fprintf(stderr, "refsan: error: %s:%u:%u: %s\n", path,
		        l->jerr.line, l->jerr.col, l->jerr.msg);
		return -1;
	}
	return add_doc(m, &l->doc, path, &l->ps);
}

int
model_add_file(struct model *m, const char *path)
{
	struct loaded l;
	int r;

	memset(&l, 0, sizeof(l));
	l.doc = m->t->doc; /* one document reused for every report */
	load_and_parse(&l, path);
	r = merge_loaded(m, &l, path);
	m->t->doc = l.doc;
	unload(&l);
	prescan_free(&l.ps);
	return r;
}

/*
 * Reading and parsing the next report overlaps with merging this one: a
 * thread loads report i + 1 into the other of two buffers while the
 * caller's thread merges report i (the merge itself stays in one thread,
 * in order).
 */
struct pipeline {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	char *const *paths;
	size_t n, produced, consumed;
	bool stop;
	struct loaded slot[2];
};

static void *
loader(void *arg)
{
	struct pipeline *pl = arg;
	size_t i;

	for (i = 0; i < pl->n; i++) {
		bool stop;

		pthread_mutex_lock(&pl->mu);
		while (i >= pl->consumed + 2 && !pl->stop)
			pthread_cond_wait(&pl->cv, &pl->mu);
		stop = pl->stop;
		pthread_mutex_unlock(&pl->mu);
		if (stop)
			break;
		load_and_parse(&pl->slot[i % 2], pl->paths[i]);
		pthread_mutex_lock(&pl->mu);
		pl->produced = i + 1;
		pthread_cond_broadcast(&pl->cv);
		pthread_mutex_unlock(&pl->mu);
	}
	return NULL;
}

int
model_add_files(struct model *m, char *const *paths, size_t n, bool keep_going)
{
	struct pipeline pl;
	pthread_t th;
	size_t i;
	int r = 0;

	if (n < 2) {
		for (i = 0; i < n; i++)
			if (model_add_file(m, paths[i]))
				r = -1;
		return r;
	}
	memset(&pl, 0, sizeof(pl));
	pthread_mutex_init(&pl.mu, NULL);
	pthread_cond_init(&pl.cv, NULL);
	pl.paths = paths;
	pl.n = n;
	if (pthread_create(&th, NULL, loader, &pl)) {
		for (i = 0; i < n; i++)
			if (model_add_file(m, paths[i]) && !keep_going)
				return -1;
		return 0;
	}
	for (i = 0; i < n; i++) {
		struct loaded *l = &pl.slot[i % 2];

		pthread_mutex_lock(&pl.mu);
		while (pl.produced <= i)
			pthread_cond_wait(&pl.cv, &pl.mu);
		pthread_mutex_unlock(&pl.mu);
		if (merge_loaded(m, l, paths[i]))
			r = -1;
		unload(l);
		pthread_mutex_lock(&pl.mu);
		pl.consumed = i + 1;
		if (r && !keep_going)
			pl.stop = true;
		pthread_cond_broadcast(&pl.cv);
		pthread_mutex_unlock(&pl.mu);
		if (r && !keep_going)
			break;
	}
	pthread_join(th, NULL);
	/* A report loaded but never merged (stopped early). */
	unload(&pl.slot[0]);
	unload(&pl.slot[1]);
	json_free(&pl.slot[0].doc);
	json_free(&pl.slot[1].doc);
	prescan_free(&pl.slot[0].ps);
	prescan_free(&pl.slot[1].ps);
	pthread_mutex_destroy(&pl.mu);
	pthread_cond_destroy(&pl.cv);
	return r;
}

/* ---- after reading ---- */

static int
cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

/* Misuse before leaks, leaks by count, first appearance otherwise;
 * suppressed groups after all others. */
static int
cmp_groups(const void *a, const void *b)
{
	const struct mgroup *x = *(const struct mgroup *const *)a;
	const struct mgroup *y = *(const struct mgroup *const *)b;
	int xl = x->kind == KIND_LEAK, yl = y->kind == KIND_LEAK;

	if (x->suppressed != y->suppressed)
		return x->suppressed ? 1 : -1;
	if (xl != yl)
		return xl - yl;
	if (xl && x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return (x->order > y->order) - (x->order < y->order);
}

/* Why the merge is incomplete: each process's reason, named by pid when
 * there are several. */
static void
word_reason(struct model *m)
{
	struct sbuf b = { 0 };
	size_t i, n = 0;

	free(m->incomplete_reason);
	m->incomplete_reason = NULL;
	for (i = 0; i < m->nprocs; i++) {
		const struct mprocess *p = &m->procs[i];

		if (!p->incomplete)
			continue;
		if (n++ == 20) {
			sbuf_puts(&b, "; and more");
			break;
		}
		if (m->nprocs > 1)
			sbuf_printf(&b, "%spid %d: ", b.len ? "; " : "",
			            p->pid);
		sbuf_puts(&b, p->incomplete_reason ? p->incomplete_reason
		                                   : "reason unknown");
	}
	m->incomplete_reason = b.s;
}

void
model_finish(struct model *m)
{
	size_t i, j, k;

	word_reason(m);

	for (i = 0; i < m->ngroups; i++) {
		struct mgroup *g = &m->groups[i];

		qsort(g->pids, g->npids, sizeof(*g->pids), cmp_int);
		for (j = k = 0; j < g->npids; j++)
			if (!k || g->pids[k - 1] != g->pids[j])
				g->pids[k++] = g->pids[j];
		g->npids = k;
	}
	free(m->order);
	m->order = xcalloc(m->ngroups, sizeof(*m->order));
	for (i = 0; i < m->ngroups; i++)
		m->order[i] = &m->groups[i];
	m->norder = m->ngroups;
	qsort(m->order, m->norder, sizeof(*m->order), cmp_groups);
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

void
model_apply_baseline(struct model *m, const struct model *base,
                     const char *name)
{
	uint64_t *sites = xcalloc(base->ngroups, sizeof(*sites));
	size_t n = 0, i;

	/* Sites are content hashes: comparable across models. */
	for (i = 0; i < base->ngroups; i++)
		if (!base->groups[i].suppressed)
			sites[n++] = base->groups[i].site;
	qsort(sites, n, sizeof(*sites), cmp_u64);
	for (i = 0; i < m->ngroups; i++) {
		struct mgroup *g = &m->groups[i];

		if (!g->suppressed && n &&
		    bsearch(&g->site, sites, n, sizeof(*sites), cmp_u64))
			g->known = true;
	}
	free(sites);
	m->baseline = intern_c(m, name);
}

size_t
model_counting(const struct model *m)
{
	size_t i, n = 0;

	for (i = 0; i < m->ngroups; i++)
		if (!m->groups[i].known && !m->groups[i].suppressed)
			n++;
	return n;
}

const uint32_t *
model_stack(const struct model *m, uint32_t id, size_t *n)
{
	if (!id || id >= m->nstacks) {
		*n = 0;
		return NULL;
	}
	*n = m->stacks[id].nframes;
	return m->stack_frames + m->stacks[id].first;
}

/* Whether FILE is the user's code: under the working directory (or
 * relative, as Python records scripts run by a relative path), and not an
 * installed package. */
static bool
in_checkout(const char *file)
{
	static char cwd[4096];
	static size_t cwdlen;
	static int ready;

	if (!ready) {
		ready = 1;
		if (getcwd(cwd, sizeof(cwd)) && cwd[0] == '/' && cwd[1])
			cwdlen = strlen(cwd);
	}
	if (strstr(file, "/site-packages/") || strstr(file, "/dist-packages/"))
		return false;
	if (file[0] != '/')
		return true;
	return cwdlen && strncmp(file, cwd, cwdlen) == 0 && file[cwdlen] == '/';
}

const struct mframe *
model_stack_site_frame(const struct model *m, uint32_t stack,
                       const char *skip_function)
{
	const struct mframe *any = NULL;
	const uint32_t *ids;
	size_t n, i = 0;

	ids = model_stack(m, stack, &n);
	if (!n)
		return NULL;
	/* The spec'd function's own frame is where the call arrived; the
	 * caller is what a person fixes. */
	if (skip_function && m->frames[ids[0]].function &&
	    strcmp(m->frames[ids[0]].function, skip_function) == 0 && n > 1)
		i = 1;
	/* The innermost frame in the user's checkout, else the innermost
	 * with a source file. */
	for (; i < n; i++) {
		const struct mframe *f = &m->frames[ids[i]];

		if (!f->file || !f->file[0] || f->file[0] == '<')
			continue;
		if (in_checkout(f->file))
			return f;
		if (!any)
			any = f;
	}
	return any;
}

const struct mframe *
model_site_frame(const struct model *m, const struct mgroup *g)
{
	return model_stack_site_frame(m, g->stack, g->function);
}

int
model_main_pid(const struct model *m)
{
	return m->nprocs ? m->procs[0].pid : 0;
}

void
model_group_to_error(const struct mgroup *g, struct report_error *e)
{
	memset(e, 0, sizeof(*e));
	e->kind = (enum report_kind)g->kind;
	e->family = g->family;
	e->function = g->function;
	e->count = g->count;
	e->refcount = g->refcount;
	e->handles = (uintptr_t *)g->handles;
	e->nhandles = g->nhandles;
	e->indirect = g->indirect;
	e->acquire_stacks = g->acquire_stacks;
	e->nacquire_stacks = g->nacquire_stacks;
	e->handle = (uintptr_t)g->handle;
	e->expected_family = g->expected_family;
	e->stack = g->stack;
	e->last_release_stack = g->last_release_stack;
	e->created_stack = g->created_stack;
	e->suppressed_by = g->suppressed_by;
}

void
model_to_report(const struct model *m, struct model_report *mr, bool with_all)
{
	struct report *r = &mr->r;
	struct report_error *errs;
	struct report_stack *stacks;
	struct report_frame *frames;
	size_t i, j, n = 0, ns = 0;

	memset(r, 0, sizeof(*r));
	r->pid = model_main_pid(m);
	r->final = m->final;
	r->print_misuse = true;
	r->incomplete = m->incomplete;
	r->incomplete_reason = m->incomplete_reason;
	r->counters.created = m->counters.created;
	r->counters.acquired = m->counters.acquired;
	r->counters.released = m->counters.released;
	r->counters.live = m->counters.live;
	r->counters.peak_live = m->counters.peak_live;
	errs = xcalloc(m->norder, sizeof(*errs));
	for (i = 0; i < m->norder; i++) {
		const struct mgroup *g = m->order[i];

		if (!with_all && (g->known || g->suppressed))
			continue;
		model_group_to_error(g, &errs[n++]);
	}
	r->errors = errs;
	r->nerrors = n;
	stacks = xcalloc(m->nstacks, sizeof(*stacks));
	frames = xcalloc(m->nstack_frames + 1, sizeof(*frames));
	for (i = 1; i < m->nstacks; i++) {
		const struct mstack *s = &m->stacks[i];

		stacks[ns].id = (uint32_t)i;
		stacks[ns].frames = frames + s->first;
		stacks[ns].nframes = s->nframes;
		for (j = 0; j < s->nframes; j++) {
			const struct mframe *f =
			        &m->frames[m->stack_frames[s->first + j]];
			struct report_frame *rf = &frames[s->first + j];

			rf->python = f->python;
			rf->pc = (uintptr_t)f->pc;
			rf->module = f->module;
			rf->offset = (uintptr_t)f->offset;
			rf->function = f->function;
			rf->file = f->file;
			rf->line = f->line;
		}
		ns++;
	}
	r->stacks = stacks;
	r->nstacks = ns;
	mr->frames = frames;
	r->suppressions = xcalloc(m->nsupps, sizeof(*r->suppressions));
	for (i = 0; i < m->nsupps; i++) {
		struct report_suppression *s = &r->suppressions[i];

		s->rule = m->supps[i].rule;
		s->hits = m->supps[i].hits;
		s->handles = m->supps[i].handles;
	}
	r->nsuppressions = m->nsupps;
}

void
model_report_free(struct model_report *mr)
{
	free(mr->r.errors);
	free(mr->frames);
	free(mr->r.stacks);
	free(mr->r.suppressions);
	memset(mr, 0, sizeof(*mr));
}
