/*
 * pyframes.c: the calling Python code's frames in native stacks.
 *
 * refsan's users call their libraries from Python (ctypes, cffi), and a
 * native stack there is a column of _PyEval_EvalFrameDefault that says
 * nothing.  This file reads the calling thread's own CPython frame chain and
 * puts the Python frames (qualified name, file, line) in place of the
 * evaluation loop's native frames.
 *
 * It never takes the GIL: a hook runs inside a C call that has usually
 * released it, and taking it there deadlocks against the thread that holds
 * it.  It needs no GIL either: the thread reads its own chain, which cannot
 * change while that thread is in the C call, and the code objects on it
 * are kept alive by their frames.  Every pointer is still checked (range,
 * alignment, the object's type) before it is followed, and walks are
 * bounded, so a chain that is not what we expect gives fewer frames, never
 * a crash.  libpython is never linked: its symbols come from
 * dlsym(RTLD_DEFAULT), which finds them in a statically linked python
 * executable as in libpython3.X.so.
 *
 * Layouts: CPython 3.11 and 3.12 by the offsets of their headers (checked
 * against the installed headers of 3.11.2, 3.11.7 and 3.12.1); 3.13 through
 * _Py_DebugOffsets at the start of _PyRuntime, whose own layout is that of
 * 3.13.  Any other version, or a free-threaded build, gets native frames
 * only and one warning.
 *
 * In 3.11 and later one native activation of the evaluation loop runs many
 * Python frames: those of the chain up to its entry frame (is_entry in
 * 3.11, an entry frame owned by the C stack from 3.12).  So the chain is cut
 * into groups, one per native _PyEval_EvalFrameDefault frame, innermost
 * first.
 *
 * Names are copied at capture time (code objects are gone by exit) into an
 * append-only store of (qualname, file, line) records whose 32-bit index is
 * the frame id of the stack depot.  A cache keyed by (code object,
 * instruction offset) avoids re-hashing strings on every capture.  The
 * store, its hash tables and the cache are lock-free (compare-and-swap
 * inserts, a sequence count per cache slot), so the hot path takes no lock
 * and fork cannot leave one held.  Worst case: one mapping of about 100 MiB
 * of reserved, lazily committed memory, taken at the first Python stack;
 * past 2M distinct frames or 64 MiB of names, new frames are dropped and
 * counted.  Each of the first 256 threads with a Python stack maps its own
 * memo of spliced stacks (about 450 KiB, lazily committed).
 *
 * The one write into the interpreter: PyCode_Type's tp_dealloc is wrapped
 * once, when the interpreter is found, to count freed code objects (see
 * code_gen), so that a new code object at a freed one's address is never
 * taken for it.
 */
#include <dlfcn.h>
#include <link.h>
#include <stdatomic.h>
#include <stddef.h>
#include <string.h>
#include "arena.h"
#include "options.h"
#include "pyframes.h"
#include "safe_write.h"
#include "stack_depot.h"

/* ---- layouts ------------------------------------------------------------ */

#define NO_FIELD ((size_t)-1)

struct py_layout {
	unsigned version; /* 0x030b for 3.11 */
	/* PyThreadState -> first frame: through _PyCFrame (3.11, 3.12) or
	 * directly (3.13). */
	size_t ts_cframe;
	size_t cf_current;
	size_t ts_current;
	/* _PyInterpreterFrame */
	size_t fr_code;
	size_t fr_previous;
	size_t fr_instr; /* prev_instr (3.11, 3.12) or instr_ptr (3.13) */
	size_t fr_owner;
	size_t fr_is_entry;  /* 3.11 only */
	int owner_generator; /* FRAME_OWNED_BY_GENERATOR */
	int owner_cstack;    /* FRAME_OWNED_BY_CSTACK, -1 before 3.12 */
	/* PyCodeObject */
	size_t co_filename;
	size_t co_qualname;
	size_t co_firstlineno;
	size_t co_linetable;
	size_t co_firsttraceable;
	size_t co_code;
	/* PyObject, PyBytesObject, PyASCIIObject, PyCompactUnicodeObject */
	size_t ob_type;
	size_t bytes_size;
	size_t bytes_data;
	size_t uni_state;
	size_t uni_length;
	size_t uni_ascii_data;
	size_t uni_compact_data;
};

static const struct py_layout layout_311 = {
	.version = 0x030b,
	.ts_cframe = 56,
	.cf_current = 8,
	.ts_current = NO_FIELD,
	.fr_code = 32,
	.fr_previous = 48,
	.fr_instr = 56,
	.fr_owner = 69,
	.fr_is_entry = 68,
	.owner_generator = 1,
	.owner_cstack = -1,
	.co_filename = 112,
	.co_qualname = 128,
	.co_firstlineno = 72,
	.co_linetable = 136,
	.co_firsttraceable = 168,
	.co_code = 184,
	.ob_type = 8,
	.bytes_size = 16,
	.bytes_data = 32,
	.uni_state = 32,
	.uni_length = 16,
	.uni_ascii_data = 48,   /* 3.11 still has wstr */
	.uni_compact_data = 72, /* utf8_length, utf8, wstr_length */
};

static const struct py_layout layout_312 = {
	.version = 0x030c,
	.ts_cframe = 56,
	.cf_current = 0,
	.ts_current = NO_FIELD,
	.fr_code = 0,
	.fr_previous = 8,
	.fr_instr = 56,
	.fr_owner = 70,
	.fr_is_entry = NO_FIELD,
	.owner_generator = 1,
	.owner_cstack = 3,
	.co_filename = 112,
	.co_qualname = 128,
	.co_firstlineno = 68,
	.co_linetable = 136,
	.co_firsttraceable = 176,
	.co_code = 192,
	.ob_type = 8,
	.bytes_size = 16,
	.bytes_data = 32,
	.uni_state = 32,
	.uni_length = 16,
	.uni_ascii_data = 40,
	.uni_compact_data = 56,
};

/*
 * _Py_DebugOffsets as 3.13 lays it out, up to the parts read here.  Each
 * group starts with the size of the structure it describes.
 */
struct py_debug_offsets_313 {
	char cookie[8];
	uint64_t version;
	uint64_t free_threaded;
	uint64_t runtime_state[3];
	uint64_t interpreter_state[13];
	struct {
		uint64_t size, prev, next, interp, current_frame, thread_id,
		        native_thread_id, datastack_chunk, status;
	} thread_state;
	struct {
		uint64_t size, previous, executable, instr_ptr, localsplus,
		        owner;
	} interpreter_frame;
	struct {
		uint64_t size, filename, name, qualname, linetable, firstlineno,
		        argcount, localsplusnames, localspluskinds,
		        co_code_adaptive;
	} code_object;
	struct {
		uint64_t size, ob_type;
	} pyobject;
	uint64_t type_object[4];
	uint64_t tuple_object[3];
	uint64_t list_object[3];
	uint64_t dict_object[3];
	uint64_t float_object[2];
	uint64_t long_object[3];
	struct {
		uint64_t size, ob_size, ob_sval;
	} bytes_object;
	struct {
		uint64_t size, state, length, asciiobject_size;
	} unicode_object;
};

/* PyASCIIObject.state bits (the same from 3.11 to 3.13). */
#define UNI_KIND(st) (((st) >> 2) & 7u)
#define UNI_COMPACT 0x20u
#define UNI_ASCII 0x40u

/* ---- what was found in the process -------------------------------------- */

enum pf_state {
	PF_UNRESOLVED, /* not looked for yet */
	PF_RESOLVING,  /* another thread is looking */
	PF_ABSENT,     /* no CPython in the process (yet) */
	PF_UNSUPPORTED,
	PF_READY,
};

static _Atomic int pf_state;
static struct py_layout lay;
static void *(*get_tstate)(void);
static uintptr_t eval_lo, eval_hi; /* _PyEval_EvalFrameDefault */
static uintptr_t type_code, type_unicode, type_bytes;
static uintptr_t interp_lo, interp_hi; /* the python binary or libpython */
static char unsupported_msg[200];
static atomic_bool warned;

/* ---- the store ---------------------------------------------------------- */

#define STR_BYTES (64u << 20)
#define STR_BUCKETS (1u << 16)
#define REC_MAX (1u << 21)
#define REC_BUCKETS (1u << 16)
#define CACHE_SLOTS (1u << 14)
/* Longer names are cut (at a character boundary). */
#define FUNC_MAX_BYTES 512
#define FILE_MAX_BYTES 1024

/* A frame: its strings (offsets into strs) and line; index = frame id. */
struct pf_rec {
	uint32_t next; /* next id in the hash chain, 0 at the end */
	uint32_t function;
	uint32_t file;
	uint32_t line;
};

/* In strs at a 4-aligned offset: next (offset of the next string in the
 * chain), hash, len, then the bytes and a NUL. */
struct pf_str {
	uint32_t next;
	uint32_t hash;
	uint32_t len;
	char s[];
};

/*
 * (code object, instruction offset) -> frame id, checked against the
 * count of deallocated code objects of its bucket (code_gen) so that a new
 * code object at a freed one's address does not inherit its names, and
 * against the code object's names, line table and first line (all that
 * is left when code_gen could not be installed).  Odd seq: being written.
 */
struct pf_cache_slot {
	_Atomic uint32_t seq;
	uint32_t id;
	int32_t offset;
	int32_t firstlineno;
	uint64_t gen; /* code_gen of the code object's bucket */
	uintptr_t code;
	uintptr_t filename;
	uintptr_t qualname;
	uintptr_t linetable;
};

struct pf_store {
	_Atomic uint32_t str_used; /* bytes of strs in use (from 4) */
	_Atomic uint32_t nrecs;    /* ids in use (from 1) */
	_Atomic uint32_t dropped;
	_Atomic uint32_t str_bucket[STR_BUCKETS];
	_Atomic uint32_t rec_bucket[REC_BUCKETS];
	struct pf_cache_slot cache[CACHE_SLOTS];
	struct pf_rec recs[REC_MAX];
	char strs[STR_BYTES];
};

static struct pf_store *_Atomic store;

static struct pf_store *
store_get(void)
{
	struct pf_store *s = atomic_load_explicit(&store, memory_order_acquire);
	struct pf_store *expect = NULL;

	if (s)
		return s;
	s = arena_map(sizeof(*s));
	if (!s)
		return NULL;
	atomic_store_explicit(&s->str_used, 4, memory_order_relaxed);
	atomic_store_explicit(&s->nrecs, 1, memory_order_relaxed);
	if (!atomic_compare_exchange_strong_explicit(&store, &expect, s,
	                                             memory_order_acq_rel,
	                                             memory_order_acquire)) {
		arena_unmap(s, sizeof(*s));
		return expect;
	}
	return s;
}

static uint32_t
hash_bytes(const char *p, size_t n, uint32_t h)
{
	/* FNV-1a */
	while (n--) {
		h ^= (unsigned char)*p++;
		h *= 16777619u;
	}
	return h;
}

static struct pf_str *
str_at(struct pf_store *s, uint32_t off)
{
	return (struct pf_str *)(void *)(s->strs + off);
}

/* The offset of the interned copy of P[0..N), or 0 when the store is full. */
static uint32_t
intern_str(struct pf_store *s, const char *p, uint32_t n)
{
	uint32_t h = hash_bytes(p, n, 2166136261u), mine = 0, head, o;
	_Atomic uint32_t *b = &s->str_bucket[h & (STR_BUCKETS - 1)];
	struct pf_str *r;

	head = atomic_load_explicit(b, memory_order_acquire);
	for (;;) {
		for (o = head; o; o = r->next) {
			r = str_at(s, o);
			if (r->hash == h && r->len == n && !memcmp(r->s, p, n))
				return o; /* (a record of ours, if any, is lost) */
		}
		if (!mine) {
			uint32_t sz =
			        (uint32_t)((sizeof(*r) + n + 1 + 3) & ~3u);

			mine = atomic_fetch_add_explicit(&s->str_used, sz,
			                                 memory_order_relaxed);
			if ((size_t)mine + sz > STR_BYTES) {
				atomic_fetch_add(&s->dropped, 1);
				return 0;
			}
			r = str_at(s, mine);
			r->hash = h;
			r->len = n;
			memcpy(r->s, p, n);
			r->s[n] = 0;
		}
		str_at(s, mine)->next = head;
		/* On failure head is reloaded: scan the newcomers too. */
		if (atomic_compare_exchange_weak_explicit(b, &head, mine,
		                                          memory_order_release,
		                                          memory_order_acquire))
			return mine;
	}
}

/* The id of the frame (FUNCTION, FILE, LINE), or 0 when full. */
static uint32_t
intern_frame(struct pf_store *s, const char *fn, uint32_t fn_len,
             const char *file, uint32_t file_len, uint32_t line)
{
	uint32_t f = intern_str(s, fn, fn_len), g, h, head, id, mine = 0;
	_Atomic uint32_t *b;
	struct pf_rec *r;

	g = intern_str(s, file, file_len);
	if (!f || !g)
		return 0;
	h = (f * 2654435761u) ^ (g * 2246822519u) ^ (line * 3266489917u);
	b = &s->rec_bucket[(h ^ (h >> 16)) & (REC_BUCKETS - 1)];
	head = atomic_load_explicit(b, memory_order_acquire);
	for (;;) {
		for (id = head; id; id = r->next) {
			r = &s->recs[id];
			if (r->function == f && r->file == g && r->line == line)
				return id;
		}
		if (!mine) {
			mine = atomic_fetch_add_explicit(&s->nrecs, 1,
			                                 memory_order_relaxed);
			if (mine >= REC_MAX) {
				atomic_fetch_add(&s->dropped, 1);
				return 0;
			}
			r = &s->recs[mine];
			r->function = f;
			r->file = g;
			r->line = line;
		}
		s->recs[mine].next = head;
		if (atomic_compare_exchange_weak_explicit(b, &head, mine,
		                                          memory_order_release,
		                                          memory_order_acquire))
			return mine;
	}
}

/* ---- reading the interpreter's memory ----------------------------------- */

/* A pointer we are willing to follow: user space, aligned. */
static inline bool
ptr_ok(uintptr_t p)
{
	return p >= 4096 && p < ((uintptr_t)1 << 48) && (p & 7) == 0;
}

static inline uintptr_t
rd_ptr(uintptr_t a)
{
	uintptr_t v;

	memcpy(&v, (const void *)a, sizeof(v));
	return v;
}

static inline int32_t
rd_i32(uintptr_t a)
{
	int32_t v;

	memcpy(&v, (const void *)a, sizeof(v));
	return v;
}

static inline int64_t
rd_i64(uintptr_t a)
{
	int64_t v;

	memcpy(&v, (const void *)a, sizeof(v));
	return v;
}

static inline uint8_t
rd_u8(uintptr_t a)
{
	return *(const volatile uint8_t *)a;
}

/* P is an object of exactly type TYPE (not a subclass: none is expected). */
static inline bool
obj_is(uintptr_t p, uintptr_t type)
{
	return ptr_ok(p) && rd_ptr(p + lay.ob_type) == type;
}

static size_t
put_utf8(char *out, size_t room, uint32_t c)
{
	if (c >= 0xd800 && c < 0xe000)
		c = '?'; /* a lone surrogate */
	if (c < 0x80 && room >= 1) {
		out[0] = (char)c;
		return 1;
	}
	if (c < 0x800 && room >= 2) {
		out[0] = (char)(0xc0 | (c >> 6));
		out[1] = (char)(0x80 | (c & 0x3f));
		return 2;
	}
	if (c < 0x10000 && room >= 3) {
		out[0] = (char)(0xe0 | (c >> 12));
		out[1] = (char)(0x80 | ((c >> 6) & 0x3f));
		out[2] = (char)(0x80 | (c & 0x3f));
		return 3;
	}
	if (c >= 0x10000 && c < 0x110000 && room >= 4) {
		out[0] = (char)(0xf0 | (c >> 18));
		out[1] = (char)(0x80 | ((c >> 12) & 0x3f));
		out[2] = (char)(0x80 | ((c >> 6) & 0x3f));
		out[3] = (char)(0x80 | (c & 0x3f));
		return 4;
	}
	return 0;
}

/*
 * The text of the str object S as UTF-8 in BUF (at most CAP bytes,
 * truncated at a character boundary), read from the compact layouts
 * without any call into Python; "?" when S is not a compact str.
 */
static uint32_t
read_str(uintptr_t s, char *buf, size_t cap)
{
	uint32_t st, kind;
	int64_t len, i;
	uintptr_t data;
	size_t n = 0, w;

	if (!obj_is(s, type_unicode))
		goto unknown;
	memcpy(&st, (const void *)(s + lay.uni_state), sizeof(st));
	len = rd_i64(s + lay.uni_length);
	if (!(st & UNI_COMPACT) || len < 0 || len > (1 << 24))
		goto unknown;
	if (st & UNI_ASCII) {
		n = (size_t)len < cap ? (size_t)len : cap;
		memcpy(buf, (const void *)(s + lay.uni_ascii_data), n);
		return (uint32_t)n;
	}
	kind = UNI_KIND(st);
	if (kind != 1 && kind != 2 && kind != 4)
		goto unknown;
	data = s + lay.uni_compact_data;
	for (i = 0; i < len; i++) {
		uint32_t c;

		if (kind == 1)
			c = *(const uint8_t *)(data + (size_t)i);
		else if (kind == 2)
			c = *(const uint16_t *)(data + 2 * (size_t)i);
		else
			c = *(const uint32_t *)(data + 4 * (size_t)i);
		w = put_utf8(buf + n, cap - n, c);
		if (!w)
			break;
		n += w;
	}
	return (uint32_t)n;
unknown:
	buf[0] = '?';
	return 1;
}

static int
read_svarint(const uint8_t **pp, const uint8_t *end)
{
	const uint8_t *p = *pp;
	unsigned v = 0, shift = 0, b;

	do {
		if (p >= end || shift > 28)
			break;
		b = *p++;
		v |= (b & 63u) << shift;
		shift += 6;
	} while (b & 64);
	*pp = p;
	return (v & 1) ? -(int)(v >> 1) : (int)(v >> 1);
}

/*
 * The line of code unit OFF, from the location table of 3.11 and later
 * (Objects/locations.md): entries of a first byte 1cccclll (code c,
 * lll + 1 code units) and varint operands, the line moving by a delta per
 * entry.  0 when unknown.
 */
static unsigned
code_line(uintptr_t table, int32_t first, int64_t off)
{
	const uint8_t *p, *end;
	int64_t len, addr = 0;
	int line = first;

	if (off < 0 || !obj_is(table, type_bytes))
		return 0;
	len = rd_i64(table + lay.bytes_size);
	if (len <= 0 || len > (1 << 24))
		return 0;
	p = (const uint8_t *)(table + lay.bytes_data);
	end = p + len;
	while (p < end) {
		unsigned b = *p++, code = (b >> 3) & 15, units = (b & 7) + 1;
		bool none = false;

		if (!(b & 0x80))
			return 0;
		if (code == 15)
			none = true;
		else if (code == 14 || code == 13)
			line += read_svarint(&p, end);
		else if (code >= 10)
			line += (int)code - 10;
		while (p < end && !(*p & 0x80))
			p++;
		if (off < addr + units)
			return none || line <= 0 ? 0 : (unsigned)line;
		addr += units;
	}
	return 0;
}

/* ---- deallocated code objects ------------------------------------------ */

/*
 * A code object is known by its address only while it lives: a new one
 * can take a freed one's address, and its strings the freed strings'
 * addresses (pymalloc hands blocks back last in, first out), so that
 * comparing pointers says "the same" for a module compiled again under
 * another file name.  So the code type's tp_dealloc is wrapped, once, to
 * count deallocations per bucket of addresses before the memory is freed:
 * as long as the count of CODE's bucket has not moved, the object at CODE
 * is the code object that was there, and its fields (which a code object
 * never changes) are what they were.  The frame-id cache and the memo of
 * spliced stacks check the count instead of (or besides) the fields.
 *
 * The count is read by threads that do not hold the GIL; the wrapper runs
 * with it held.  A capture sees a new code object only through its own
 * thread's frames, which it took after the GIL was passed on by the thread
 * that freed the old one, after the increment: so it sees the increment.
 */
#define CODE_GEN_BUCKETS 1024
/* PyTypeObject: PyObject_VAR_HEAD (three words), tp_name, tp_basicsize,
 * tp_itemsize, tp_dealloc: the same from 3.11 to 3.13. */
#define TP_NAME 24
#define TP_DEALLOC 48

static _Atomic uint64_t code_gen[CODE_GEN_BUCKETS];
/* All of them: while it holds, so does every bucket's (see lg_gen). */
static _Atomic uint64_t code_gen_all;
static void (*code_dealloc_real)(void *);
static bool code_gen_on;

static inline _Atomic uint64_t *
code_gen_of(uintptr_t code)
{
	return &code_gen[((code >> 4) * 0x9e3779b1u >> 8) &
	                 (CODE_GEN_BUCKETS - 1)];
}

static void
code_dealloc_counted(void *op)
{
	atomic_fetch_add_explicit(code_gen_of((uintptr_t)op), 1,
	                          memory_order_relaxed);
	/* After the bucket's: whoever sees this one sees that one too. */
	atomic_fetch_add_explicit(&code_gen_all, 1, memory_order_release);
	code_dealloc_real(op);
}

struct writable_arg {
	uintptr_t addr;
	bool found, writable;
};

/* Whether ARG->addr lies in a writable segment of its object, outside
 * RELRO. */
static int
writable_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct writable_arg *w = arg;
	bool in_rw = false, in_relro = false, in_obj = false;
	int i;

	(void)size;
	for (i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t a = info->dlpi_addr + ph->p_vaddr;
		bool in = w->addr >= a && w->addr + 8 <= a + ph->p_memsz;

		if (ph->p_type == PT_LOAD && in) {
			in_obj = true;
			if (ph->p_flags & PF_W)
				in_rw = true;
		}
		if (ph->p_type == PT_GNU_RELRO && in)
			in_relro = true;
	}
	if (!in_obj)
		return 0;
	w->found = true;
	w->writable = in_rw && !in_relro;
	return 1;
}

/* Wrap PyCode_Type's tp_dealloc (before any capture reads a code object:
 * objects freed earlier were never looked at). */
static void
code_gen_install(void)
{
	struct writable_arg w = { .addr = type_code + TP_DEALLOC };
	uintptr_t name, real;

	if (code_gen_on || !type_code)
		return;
	name = rd_ptr(type_code + TP_NAME);
	if (name < 4096 || name >= ((uintptr_t)1 << 48) ||
	    strcmp((const char *)name, "code") != 0)
		return;
	dl_iterate_phdr(writable_cb, &w);
	if (!w.found || !w.writable)
		return;
	real = rd_ptr(type_code + TP_DEALLOC);
	if (!real || real == (uintptr_t)code_dealloc_counted)
		return;
	code_dealloc_real = (void (*)(void *))real;
	__atomic_store_n((uintptr_t *)(type_code + TP_DEALLOC),
	                 (uintptr_t)code_dealloc_counted, __ATOMIC_RELEASE);
	code_gen_on = true;
}

/* ---- frame ids ---------------------------------------------------------- */

/* The id of CODE at OFF, whose names, line table and first line (read by
 * the caller) are FN, FILE, TABLE and FIRST, and whose bucket's count of
 * deallocations was GEN before they were read. */
static uint32_t
frame_id(struct pf_store *s, uintptr_t code, int64_t off, uintptr_t fn,
         uintptr_t file, uintptr_t table, int32_t first, uint64_t gen)
{
	int32_t off32 = off < INT32_MIN   ? INT32_MIN
	                : off > INT32_MAX ? INT32_MAX
	                                  : (int32_t)off;
	uint64_t h = ((uint64_t)code >> 3) * 0x9e3779b97f4a7c15ull;
	struct pf_cache_slot *c;
	char fbuf[FUNC_MAX_BYTES], pbuf[FILE_MAX_BYTES];
	uint32_t s1, id, fn_len, file_len;

	h ^= (uint64_t)(uint32_t)off32 * 0xc2b2ae3d27d4eb4full;
	c = &s->cache[(h >> 40) & (CACHE_SLOTS - 1)];
	s1 = atomic_load_explicit(&c->seq, memory_order_acquire);
	if (!(s1 & 1)) {
		bool hit =
		        __atomic_load_n(&c->code, __ATOMIC_RELAXED) == code &&
		        __atomic_load_n(&c->offset, __ATOMIC_RELAXED) ==
		                off32 &&
		        __atomic_load_n(&c->qualname, __ATOMIC_RELAXED) == fn &&
		        __atomic_load_n(&c->filename, __ATOMIC_RELAXED) ==
		                file &&
		        __atomic_load_n(&c->linetable, __ATOMIC_RELAXED) ==
		                table &&
		        __atomic_load_n(&c->firstlineno, __ATOMIC_RELAXED) ==
		                first &&
		        __atomic_load_n(&c->gen, __ATOMIC_RELAXED) == gen;

		id = __atomic_load_n(&c->id, __ATOMIC_RELAXED);
		atomic_thread_fence(memory_order_acquire);
		if (hit && id &&
		    atomic_load_explicit(&c->seq, memory_order_relaxed) == s1)
			return id;
	}
	fn_len = read_str(fn, fbuf, sizeof(fbuf));
	file_len = read_str(file, pbuf, sizeof(pbuf));
	id = intern_frame(s, fbuf, fn_len, pbuf, file_len,
	                  code_line(table, first, off));
	if (!id || (s1 & 1) ||
	    !atomic_compare_exchange_strong_explicit(&c->seq, &s1, s1 + 1,
	                                             memory_order_acquire,
	                                             memory_order_relaxed))
		return id; /* another writer has the slot: leave it */
	atomic_thread_fence(memory_order_release);
	__atomic_store_n(&c->code, code, __ATOMIC_RELAXED);
	__atomic_store_n(&c->offset, off32, __ATOMIC_RELAXED);
	__atomic_store_n(&c->qualname, fn, __ATOMIC_RELAXED);
	__atomic_store_n(&c->filename, file, __ATOMIC_RELAXED);
	__atomic_store_n(&c->linetable, table, __ATOMIC_RELAXED);
	__atomic_store_n(&c->firstlineno, first, __ATOMIC_RELAXED);
	__atomic_store_n(&c->gen, gen, __ATOMIC_RELAXED);
	__atomic_store_n(&c->id, id, __ATOMIC_RELAXED);
	atomic_store_explicit(&c->seq, s1 + 2, memory_order_release);
	return id;
}

/* ---- finding the interpreter -------------------------------------------- */

static void
msg_append(size_t *n, const char *part)
{
	size_t l = strlen(part);

	if (*n + l >= sizeof(unsupported_msg))
		l = sizeof(unsupported_msg) - 1 - *n;
	memcpy(unsupported_msg + *n, part, l);
	*n += l;
	unsupported_msg[*n] = 0;
}

/*
 * The one warning: on WHAT (and VERSION, 0x030a for 3.10, when known),
 * WHY (or NULL).
 */
static void
set_unsupported(const char *what, unsigned version, const char *why)
{
	char num[24];
	size_t n = 0;

	msg_append(&n, "refsan: warning: Python frames are not supported on ");
	msg_append(&n, what);
	if (version) {
		msg_append(&n, " ");
		msg_append(&n, safe_utoa(version >> 8, num));
		msg_append(&n, ".");
		msg_append(&n, safe_utoa(version & 0xff, num));
	}
	if (why) {
		msg_append(&n, " (");
		msg_append(&n, why);
		msg_append(&n, ")");
	}
	msg_append(
	        &n,
	        "; supported: CPython 3.11 to 3.13; stacks show native frames only\n");
}

/* The 3.13 layout from _Py_DebugOffsets, checked for sanity; 0 or -1. */
static int
layout_from_debug_offsets(const void *runtime, unsigned version)
{
	struct py_debug_offsets_313 d;
	struct py_layout *L = &lay;

	memcpy(&d, runtime, sizeof(d));
	if (memcmp(d.cookie, "xdebugpy", 8) != 0 ||
	    (d.version >> 16) != version)
		return -1;
	if (d.free_threaded) {
		set_unsupported("a free-threaded CPython", version, NULL);
		return -1;
	}
	/* Every offset inside its structure, and the object layouts this
	 * file assumes for the rest. */
	if (d.thread_state.size > 4096 ||
	    d.thread_state.current_frame + 8 > d.thread_state.size ||
	    d.interpreter_frame.size > 512 ||
	    d.interpreter_frame.previous + 8 > d.interpreter_frame.size ||
	    d.interpreter_frame.executable + 8 > d.interpreter_frame.size ||
	    d.interpreter_frame.instr_ptr + 8 > d.interpreter_frame.size ||
	    d.interpreter_frame.owner >= d.interpreter_frame.size ||
	    d.code_object.size > 4096 ||
	    d.code_object.filename + 8 > d.code_object.size ||
	    d.code_object.qualname + 8 > d.code_object.size ||
	    d.code_object.linetable + 8 > d.code_object.size ||
	    d.code_object.firstlineno + 4 > d.code_object.size ||
	    d.code_object.co_code_adaptive > d.code_object.size ||
	    d.pyobject.ob_type != 8 || d.bytes_object.ob_size != 16 ||
	    d.bytes_object.ob_sval != 32 || d.unicode_object.state != 32 ||
	    d.unicode_object.length != 16 ||
	    d.unicode_object.asciiobject_size != 40)
		return -1;
	memset(L, 0, sizeof(*L));
	L->version = version;
	L->ts_cframe = NO_FIELD;
	L->cf_current = NO_FIELD;
	L->ts_current = d.thread_state.current_frame;
	L->fr_code = d.interpreter_frame.executable;
	L->fr_previous = d.interpreter_frame.previous;
	L->fr_instr = d.interpreter_frame.instr_ptr;
	L->fr_owner = d.interpreter_frame.owner;
	L->fr_is_entry = NO_FIELD;
	L->owner_generator = 1;
	L->owner_cstack = 3;
	L->co_filename = d.code_object.filename;
	L->co_qualname = d.code_object.qualname;
	L->co_firstlineno = d.code_object.firstlineno;
	L->co_linetable = d.code_object.linetable;
	/* Not in the debug offsets: a frame not yet started is only told by
	 * its owner then. */
	L->co_firsttraceable = NO_FIELD;
	L->co_code = d.code_object.co_code_adaptive;
	L->ob_type = 8;
	L->bytes_size = 16;
	L->bytes_data = 32;
	L->uni_state = 32;
	L->uni_length = 16;
	L->uni_ascii_data = 40;
	L->uni_compact_data = 56;
	return 0;
}

/* "3.10.13 (main, ...)" -> 0x030a; 0 if not a version. */
static unsigned
parse_version(const char *s)
{
	unsigned maj = 0, min = 0;

	if (!s || *s < '0' || *s > '9')
		return 0;
	while (*s >= '0' && *s <= '9')
		maj = maj * 10 + (unsigned)(*s++ - '0');
	if (*s++ != '.')
		return 0;
	while (*s >= '0' && *s <= '9')
		min = min * 10 + (unsigned)(*s++ - '0');
	return maj < 256 && min < 256 ? (maj << 8) | min : 0;
}

/* The extent of the object holding the evaluation loop. */
static int
find_interp_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	uintptr_t lo = UINTPTR_MAX, hi = 0;
	int i;

	(void)size;
	(void)arg;
	for (i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t a = info->dlpi_addr + ph->p_vaddr;

		if (ph->p_type != PT_LOAD)
			continue;
		if (a < lo)
			lo = a;
		if (a + ph->p_memsz > hi)
			hi = a + ph->p_memsz;
	}
	if (eval_lo < lo || eval_lo >= hi)
		return 0;
	interp_lo = lo;
	interp_hi = hi;
	return 1;
}

/* Look for CPython; the new state. */
static int
resolve(void)
{
	const uint32_t *pv = dlsym(RTLD_DEFAULT, "Py_Version");
	const char *(*getv)(void) =
	        (const char *(*)(void))dlsym(RTLD_DEFAULT, "Py_GetVersion");
	void *eval = dlsym(RTLD_DEFAULT, "_PyEval_EvalFrameDefault");
	void *runtime = dlsym(RTLD_DEFAULT, "_PyRuntime");
	const ElfW(Sym) *sym = NULL;
	unsigned version;
	Dl_info info;

	if (!getv && !pv)
		return PF_ABSENT;
	version = pv ? (*pv >> 16) : parse_version(getv());
	get_tstate = (void *(*)(void))dlsym(RTLD_DEFAULT,
	                                    "PyGILState_GetThisThreadState");
	type_code = (uintptr_t)dlsym(RTLD_DEFAULT, "PyCode_Type");
	type_unicode = (uintptr_t)dlsym(RTLD_DEFAULT, "PyUnicode_Type");
	type_bytes = (uintptr_t)dlsym(RTLD_DEFAULT, "PyBytes_Type");
	if (version == 0x030b) {
		lay = layout_311;
	} else if (version == 0x030c) {
		lay = layout_312;
	} else if (version == 0x030d) {
		if (!runtime || layout_from_debug_offsets(runtime, version)) {
			if (!unsupported_msg[0])
				set_unsupported(
				        "CPython", version,
				        "_Py_DebugOffsets not as expected");
			return PF_UNSUPPORTED;
		}
	} else {
		set_unsupported("CPython", version, NULL);
		return PF_UNSUPPORTED;
	}
	if (!get_tstate || !eval || !type_code || !type_unicode ||
	    !type_bytes ||
	    !dladdr1(eval, &info, (void **)&sym, RTLD_DL_SYMENT) || !sym ||
	    sym->st_size == 0) {
		set_unsupported("CPython", version,
		                "interpreter symbols missing");
		return PF_UNSUPPORTED;
	}
	eval_lo = (uintptr_t)info.dli_saddr;
	eval_hi = eval_lo + sym->st_size;
	dl_iterate_phdr(find_interp_cb, NULL);
	code_gen_install();
	return PF_READY;
}

/*
 * Resolve once (or again when nothing was found: a library loaded since
 * may be libpython).  A thread that finds another one resolving goes on
 * without Python frames rather than wait.
 */
static int
ensure_resolved(bool retry_absent)
{
	int st = atomic_load_explicit(&pf_state, memory_order_acquire);

	if (st == PF_READY || st == PF_UNSUPPORTED || st == PF_RESOLVING)
		return st;
	if (st == PF_ABSENT && !retry_absent)
		return st;
	if (!atomic_compare_exchange_strong(&pf_state, &st, PF_RESOLVING))
		return atomic_load_explicit(&pf_state, memory_order_acquire);
	st = resolve();
	atomic_store_explicit(&pf_state, st, memory_order_release);
	return st;
}

void
pyframes_init(void)
{
	if (!refsan_opts.python_frames)
		return;
	ensure_resolved(true);
}

/* ---- splicing ----------------------------------------------------------- */

/* Frames followed per capture at most: a cycle or garbage ends there. */
#define WALK_BUDGET 1024

static inline bool
is_eval(uintptr_t pc)
{
	/* Return addresses: the call may be the function's last instruction. */
	return pc > eval_lo && pc <= eval_hi;
}

/*
 * The log of a splice: every read of the interpreter's memory whose value
 * the splice's result depends on, in the order made, as (address, value)
 * pairs.  The splice is a function of those values alone (with the native
 * frames, the thread state, the layout and the options, all fixed for a
 * memo record): each address it reads is a constant offset from a value
 * read before it (or from the thread state), and each choice it makes is
 * made on values read.  So reading the logged addresses again, in order,
 * and finding the logged values means the splice would make exactly those
 * reads again, take the same path and write the same frames: a memo keyed
 * by the native stack, the thread state and a log that still holds is
 * exact.  A code object's fields are not logged but stand behind its
 * bucket's count of deallocations (code_gen), which is, apart (lg_gen);
 * when the count could not be installed they are logged too.  In order,
 * stopping at the first difference: an address is read only when the
 * values it was derived from still hold, i.e. only when the splice itself
 * would read it now.
 *
 * A read narrower than a word is logged as its aligned word (in the same
 * page, so as readable) with the bytes outside it masked off; two reads of
 * one word in a row share an entry.
 */

/* Read SIZE bytes at A into OUT, logging them in *FP (when not NULL). */
static inline void
lg_read(struct pf_fp *fp, uintptr_t a, unsigned size, void *out)
{
	uintptr_t base = a & ~(uintptr_t)7, w, mask = 0;
	unsigned off = (unsigned)(a & 7);
	struct pf_read *r;

	if (!fp || off + size > 8) {
		if (fp)
			fp->incomplete = true; /* not seen in any layout */
		memcpy(out, (const void *)a, size);
		return;
	}
	w = rd_ptr(base);
	memcpy(out, (const char *)&w + off, size);
	memset((char *)&mask + off, 0xff, size);
	if (fp->n && fp->r[fp->n - 1].addr == base) {
		r = &fp->r[fp->n - 1];
		mask |= r->mask;
	} else if (fp->n < PF_LOG_READS) {
		r = &fp->r[fp->n++];
	} else {
		fp->incomplete = true;
		return;
	}
	r->addr = base;
	r->mask = mask;
	r->val = w & mask;
}

static inline uintptr_t
lg_ptr(struct pf_fp *fp, uintptr_t a)
{
	uintptr_t v;

	lg_read(fp, a, sizeof(v), &v);
	return v;
}

/* Log the aligned word at A as holding V. */
static inline void
lg_word(struct pf_fp *fp, uintptr_t a, uintptr_t v)
{
	struct pf_read *r;

	if (!fp)
		return;
	if ((a & 7) || fp->n >= PF_LOG_READS) {
		fp->incomplete = true;
		return;
	}
	r = &fp->r[fp->n++];
	r->addr = a;
	r->mask = ~(uintptr_t)0;
	r->val = v;
}

/*
 * A count of code_gen: an atomic load, logged apart from the reads (*FP's
 * gen), since no read depends on it (with the counts, a code object's own
 * fields are never logged): it only stands for what frame_id read of the
 * code object.  So a check may skip the counts when code_gen_all still
 * holds the value the splice read before any of them: no code object was
 * deallocated since, no count moved.
 */
static inline uint64_t
lg_gen(struct pf_fp *fp, _Atomic uint64_t *a)
{
	uint64_t v = atomic_load_explicit(a, memory_order_acquire);

	if (!fp)
		return v;
	if (fp->ngen >= PF_LOG_GENS) {
		fp->incomplete = true;
		return v;
	}
	fp->gen[fp->ngen].addr = (uintptr_t)a;
	fp->gen[fp->ngen++].val = v;
	return v;
}

static inline int32_t
lg_i32(struct pf_fp *fp, uintptr_t a)
{
	int32_t v;

	lg_read(fp, a, sizeof(v), &v);
	return v;
}

static inline uint8_t
lg_u8(struct pf_fp *fp, uintptr_t a)
{
	uint8_t v;

	lg_read(fp, a, sizeof(v), &v);
	return v;
}

/* Whether a read of a log still finds its value (see above): a relaxed
 * atomic load (a plain one on an aligned word), since another thread may
 * write the word (when it is not what it was). */
static inline bool
read_holds(const struct pf_read *r)
{
	return (__atomic_load_n((const uintptr_t *)r->addr, __ATOMIC_RELAXED) &
	        r->mask) == r->val;
}

/* Whether every read of a log still finds its value, in order. */
static inline bool
log_holds(const struct pf_read *r, unsigned n)
{
	const struct pf_read *end = r + n, *end4 = r + (n & ~3u);

	/* Four a turn: a quarter of the loop's own instructions. */
	for (; r < end4; r += 4)
		if (!read_holds(&r[0]) || !read_holds(&r[1]) ||
		    !read_holds(&r[2]) || !read_holds(&r[3]))
			return false;
	for (; r < end; r++)
		if (!read_holds(r))
			return false;
	return true;
}

/*
 * Whether the counts a log read still hold (see lg_gen).  A code object
 * on this thread's frames that took a freed one's place was made after the
 * free, so after its increments (see code_gen): then code_gen_all differs
 * from ALL, read before any count, and the counts are compared.
 */
static bool
gens_hold(uint64_t all, const struct pf_gen *g, unsigned n)
{
	if (atomic_load_explicit(&code_gen_all, memory_order_acquire) == all)
		return true;
	for (unsigned i = 0; i < n; i++)
		if (atomic_load_explicit((_Atomic uint64_t *)g[i].addr,
		                         memory_order_acquire) != g[i].val)
			return false;
	return true;
}

/* An empty log, before the first count is read (see lg_gen). */
static void
fp_reset(struct pf_fp *fp)
{
	if (!fp)
		return;
	fp->n = 0;
	fp->ngen = 0;
	fp->incomplete = false;
	fp->python = false;
	fp->ts = 0;
	fp->gen_all = atomic_load_explicit(&code_gen_all, memory_order_acquire);
}

static uintptr_t
first_frame(uintptr_t ts, struct pf_fp *fp)
{
	uintptr_t cf;

	if (!ptr_ok(ts))
		return 0;
	if (lay.ts_current != NO_FIELD)
		return lg_ptr(fp, ts + lay.ts_current);
	cf = lg_ptr(fp, ts + lay.ts_cframe);
	return ptr_ok(cf) ? lg_ptr(fp, cf + lay.cf_current) : 0;
}

/* Append frame F's id to OUT (when it is a started Python frame). */
static void
emit_frame(struct pf_store *s, uintptr_t f, int owner, uintptr_t *out,
           unsigned *k, struct pf_fp *fp)
{
	uintptr_t code = lg_ptr(fp, f + lay.fr_code), instr;
	uintptr_t fn, file, table;
	int64_t off;
	int32_t first_traceable = 0, first;
	uint32_t id;
	uint64_t gen = 0;
	struct pf_fp *cfp = fp;

	if (!ptr_ok(code))
		return;
	if (code_gen_on) {
		/*
		 * The count stands for the code object's type and fields:
		 * while it holds, a code object found here is still there
		 * (see code_gen), so they need no entry of their own.  An
		 * object of another type is logged: it may be freed and a
		 * code object put in its place without a count.
		 */
		uintptr_t type;

		gen = lg_gen(fp, code_gen_of(code));
		type = rd_ptr(code + lay.ob_type);
		if (type != type_code) {
			lg_word(fp, code + lay.ob_type, type);
			return;
		}
		cfp = NULL;
	} else if (lg_ptr(fp, code + lay.ob_type) != type_code) {
		return;
	}
	instr = lg_ptr(fp, f + lay.fr_instr);
	off = ((int64_t)instr - (int64_t)(code + lay.co_code)) / 2;
	if (lay.co_firsttraceable != NO_FIELD)
		first_traceable = lg_i32(cfp, code + lay.co_firsttraceable);
	/* A frame pushed but not started yet (_PyFrame_IsIncomplete). */
	if (lay.co_firsttraceable != NO_FIELD && owner != lay.owner_generator &&
	    off < first_traceable)
		return;
	/* What frame_id reads: a new code object at a freed one's address
	 * differs in these (or in its bucket's count). */
	fn = lg_ptr(cfp, code + lay.co_qualname);
	file = lg_ptr(cfp, code + lay.co_filename);
	table = lg_ptr(cfp, code + lay.co_linetable);
	first = lg_i32(cfp, code + lay.co_firstlineno);
	id = frame_id(s, code, off, fn, file, table, first, gen);
	if (id)
		out[(*k)++] = DEPOT_PY_TAG | id;
	else if (fp)
		fp->incomplete = true; /* a later splice may find room */
}

/*
 * Append to OUT the Python frames of one evaluation-loop activation from
 * *FP (or, with ALL, the whole rest of the chain); *FP moves past them.
 */
static void
emit_group(struct pf_store *s, uintptr_t *fpp, bool all, uintptr_t *out,
           unsigned *k, unsigned max, unsigned *budget, struct pf_fp *fp)
{
	uintptr_t f = *fpp;

	while (f && *k < max) {
		uintptr_t next;
		int owner;
		bool entry = false;

		if (!ptr_ok(f) || !*budget) {
			f = 0;
			break;
		}
		(*budget)--;
		/* owner and is_entry share a word (one log entry). */
		owner = lg_u8(fp, f + lay.fr_owner);
		if (lay.fr_is_entry != NO_FIELD)
			entry = lg_u8(fp, f + lay.fr_is_entry) != 0;
		next = lg_ptr(fp, f + lay.fr_previous);
		if (owner == lay.owner_cstack) {
			/* The marker an activation pushes below its frames. */
			f = next;
			if (all)
				continue;
			break;
		}
		emit_frame(s, f, owner, out, k, fp);
		f = next;
		if (entry && !all)
			break;
	}
	*fpp = f;
}

/*
 * The splice proper, over the native frames LEAD words (never the eval
 * loop's) then SRC[0..N), into OUT; returns the count.  With FP, its reads
 * are logged there.
 */
static unsigned
splice_walk(const uintptr_t *src, unsigned n, unsigned lead, unsigned max,
            uintptr_t *out, struct pf_fp *fp)
{
	uintptr_t frame, ts;
	unsigned i, k = lead, last = n, budget = WALK_BUDGET;
	struct pf_store *s = NULL;
	int st;

	fp_reset(fp);
	if (!refsan_opts.python_frames || n + lead == 0)
		return n + lead;
	st = ensure_resolved(false);
	if (st != PF_READY) {
		if (st == PF_UNSUPPORTED && !atomic_exchange(&warned, true))
			safe_puts(2, unsupported_msg);
		if (fp)
			fp->incomplete = true; /* may change: never memoized */
		return n + lead;
	}
	for (i = 0; i < n; i++)
		if (is_eval(src[i]))
			last = i;
	if (last == n)
		return n + lead; /* not called from Python code */
	ts = (uintptr_t)get_tstate();
	if (fp) {
		fp->python = true;
		fp->ts = ts;
	}
	frame = first_frame(ts, fp);
	if (!frame)
		return n + lead;
	if (!(s = store_get())) {
		if (fp)
			fp->incomplete = true;
		return n + lead;
	}
	for (i = 0; i < n && k < max; i++) {
		if (!is_eval(src[i]) || !frame) {
			out[k++] = src[i];
			continue;
		}
		/*
		 * One native activation, one group; the outermost one seen
		 * takes the rest of the chain, so that Python frames are
		 * kept when an activation's native frame was not recognised
		 * (a .cold part) or lies past the captured depth.
		 */
		emit_group(s, &frame, i == last, out, &k, max, &budget, fp);
		/* verbosity=2 (debugging refsan): the loop's frame too. */
		if (refsan_opts.verbosity >= 2 && k < max)
			out[k++] = src[i];
	}
	return k;
}

unsigned
pyframes_splice_fp(uintptr_t *pcs, unsigned n, unsigned max,
                   struct pf_fp *fp)
{
	uintptr_t src[256];

	if (n > sizeof(src) / sizeof(src[0]))
		n = sizeof(src) / sizeof(src[0]);
	if (max > sizeof(src) / sizeof(src[0]))
		max = sizeof(src) / sizeof(src[0]);
	if (n == 0) {
		fp_reset(fp);
		return 0;
	}
	/* pcs[0] is never the eval loop's (the caller's or the entry's). */
	memcpy(src, pcs + 1, (n - 1) * sizeof(*pcs));
	return splice_walk(src, n - 1, 1, max, pcs, fp);
}

unsigned
pyframes_splice(uintptr_t *pcs, unsigned n, unsigned max)
{
	uintptr_t src[256];

	if (!refsan_opts.python_frames || n == 0)
		return n;
	if (n > sizeof(src) / sizeof(src[0]))
		n = sizeof(src) / sizeof(src[0]);
	if (max > sizeof(src) / sizeof(src[0]))
		max = sizeof(src) / sizeof(src[0]);
	memcpy(src, pcs, n * sizeof(*pcs));
	return splice_walk(src, n, 0, max, pcs, NULL);
}

/* ---- the memo of spliced stacks ------------------------------------------ */

/*
 * Per thread: (native stack stamp, key, tag, thread state, log) -> depot
 * id, so that a Python call site seen before costs reading its log again
 * (four words per Python frame, and the counts of code_gen only when a
 * code object was deallocated since) rather than the splice, its frame
 * ids, the copy and the depot's hash.  The stamp is unwind.c's (a cache
 * entry's fill) or call_site.c's (a site's: CAPTURE_SITE_STAMP set).  A
 * set per (stamp, key), four ways for as many Python callers of one
 * native stack; a caller may keep a hint of the record that answered
 * last, looked at first.  Thread-local memory, one mapping per thread
 * (about 450 KiB, lazily committed).
 */
#define MEMO_SETS 16
#define MEMO_WAYS 4
#define MEMO_THREADS 256

struct pf_memo_rec {
	uint64_t stamp; /* 0: empty */
	uintptr_t key;
	uintptr_t ts;
	uint32_t tag;
	uint32_t id;
	uint32_t n, ngen;
	uint64_t gen_all;
	struct pf_read r[PF_LOG_READS];
	struct pf_gen gen[PF_LOG_GENS];
};

struct pf_memo_table {
	struct pf_memo_rec r[MEMO_SETS][MEMO_WAYS];
	uint8_t victim[MEMO_SETS];
};

static _Atomic unsigned memo_used;
static __thread struct pf_memo_table *my_memo
        __attribute__((tls_model("initial-exec")));
static __thread int my_memo_state __attribute__((tls_model("initial-exec")));

/* This thread's table, mapped at its first Python stack (the first
 * MEMO_THREADS threads to have one). */
static struct pf_memo_table *
memo_table(void)
{
	if (my_memo_state)
		return my_memo;
	my_memo_state = 1;
	if (atomic_fetch_add(&memo_used, 1) < MEMO_THREADS)
		my_memo = arena_map(sizeof(*my_memo));
	return my_memo;
}

static inline struct pf_memo_rec *
memo_set(struct pf_memo_table *t, uint64_t stamp, uintptr_t key,
         unsigned *idx)
{
	uint64_t h = (stamp * 0x9e3779b97f4a7c15ull ^ key) *
	             0xff51afd7ed558ccdull;

	*idx = (unsigned)(h >> 40) % MEMO_SETS;
	return t->r[*idx];
}

/* Record R, whose key is the caller's, answers now: the thread state
 * (TS, or got here when 0), the log, the counts. */
static inline __attribute__((always_inline)) bool
memo_rec_answers(const struct pf_memo_rec *r, uintptr_t *ts)
{
	if (!*ts)
		*ts = (uintptr_t)get_tstate();
	return r->ts == *ts && log_holds(r->r, r->n) &&
	       gens_hold(r->gen_all, r->gen, r->ngen);
}

/* The search of the set, past the hint (HINTED, already looked at). */
static __attribute__((noinline)) uint32_t
memo_get_set(uint64_t stamp, uintptr_t key, uint32_t tag, const void **hint,
             const struct pf_memo_rec *hinted)
{
	struct pf_memo_table *t;
	struct pf_memo_rec *set;
	const struct pf_memo_rec *r;
	uintptr_t ts = 0;
	unsigned idx;

	if (atomic_load_explicit(&pf_state, memory_order_acquire) != PF_READY ||
	    !(t = memo_table()))
		return 0;
	set = memo_set(t, stamp, key, &idx);
	for (unsigned w = 0; w < MEMO_WAYS; w++) {
		r = &set[w];
		if (r == hinted || r->stamp != stamp || r->key != key ||
		    r->tag != tag)
			continue;
		if (memo_rec_answers(r, &ts)) {
			if (hint)
				*hint = r;
			return r->id;
		}
	}
	return 0;
}

/*
 * The record that answered last time (HINT), alone: records are made only
 * once the interpreter was found, and never unmapped, so it can be read,
 * and the key, the thread state and the log say whether it answers now.
 * Apart from the search of the set, and with only the record live across
 * the call for the thread state, for the hot path of a call site.
 */
uint32_t
pyframes_memo_hinted(const void *hint, uint64_t stamp, uintptr_t key,
                     uint32_t tag)
{
	const struct pf_memo_rec *r = hint;
	uintptr_t ts = 0;

	if (!r || r->stamp != stamp || r->key != key || r->tag != tag ||
	    !memo_rec_answers(r, &ts))
		return 0;
	return r->id;
}

uint32_t
pyframes_memo_search(uint64_t stamp, uintptr_t key, uint32_t tag,
                     const void **hint)
{
	return memo_get_set(stamp, key, tag, hint, *hint);
}

uint32_t
pyframes_memo_get(uint64_t stamp, uintptr_t key, uint32_t tag,
                  const void **hint)
{
	const void *r = hint ? *hint : NULL;
	uint32_t id = pyframes_memo_hinted(r, stamp, key, tag);

	return id ? id : memo_get_set(stamp, key, tag, hint, r);
}

bool
pyframes_memo_put(uint64_t stamp, uintptr_t key, uint32_t tag,
                  const struct pf_fp *fp, uint32_t id)
{
	struct pf_memo_table *t;
	struct pf_memo_rec *set, *r;
	unsigned idx, w;

	if (fp->incomplete || !fp->python || !id || !stamp ||
	    !(t = memo_table()))
		return false;
	set = memo_set(t, stamp, key, &idx);
	/* An empty way, else round robin (never the first way of another
	 * stamp: two sites whose records share a set would evict each other
	 * at every call). */
	for (w = 0; w < MEMO_WAYS && set[w].stamp; w++)
		;
	if (w == MEMO_WAYS) {
		w = t->victim[idx] % MEMO_WAYS;
		t->victim[idx] = (uint8_t)(w + 1);
	}
	r = &set[w];
	r->stamp = 0;
	r->key = key;
	r->tag = tag;
	r->ts = fp->ts;
	r->n = fp->n;
	r->ngen = fp->ngen;
	r->gen_all = fp->gen_all;
	r->id = id;
	memcpy(r->r, fp->r, fp->n * sizeof(fp->r[0]));
	memcpy(r->gen, fp->gen, fp->ngen * sizeof(fp->gen[0]));
	r->stamp = stamp;
	return true;
}

/* ---- report time -------------------------------------------------------- */

int
pyframes_lookup(uint32_t id, struct pyframe_info *out)
{
	struct pf_store *s = atomic_load_explicit(&store, memory_order_acquire);
	const struct pf_rec *r;

	if (!s || id == 0 || id >= REC_MAX ||
	    id >= atomic_load_explicit(&s->nrecs, memory_order_acquire))
		return -1;
	r = &s->recs[id];
	if (!r->function || !r->file)
		return -1;
	out->function = str_at(s, r->function)->s;
	out->file = str_at(s, r->file)->s;
	out->line = r->line;
	return 0;
}

static bool
starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* "python", "python3", "python3.11", "python3.13t": the executable that
 * runs the interpreter from libpython (its main and _start). */
static bool
is_python_launcher(const char *m)
{
	if (!starts_with(m, "python"))
		return false;
	for (m += 6; *m; m++)
		if (!((*m >= '0' && *m <= '9') || *m == '.' || *m == 't' ||
		      *m == 'd'))
			return false;
	return true;
}

bool
pyframes_hide_native(const struct sym_frame *f)
{
	static const char *const hidden_modules[] = {
		"libpython",
		"_ctypes.",
		"_cffi_backend.",
		"libffi.so",
	};
	/* How every thread and process starts: nothing to act on. */
	static const char *const libc_start[] = {
		"__libc_start_main",
		"__libc_start_call_main",
		"start_thread",
		"clone",
		"clone3",
	};
	const char *m = f->module;
	size_t i;

	if (!refsan_opts.python_frames ||
	    atomic_load_explicit(&pf_state, memory_order_acquire) != PF_READY)
		return false;
	if (f->pc >= interp_lo && f->pc < interp_hi)
		return true;
	if (m && is_python_launcher(m))
		return true;
	if (m) {
		for (i = 0;
		     i < sizeof(hidden_modules) / sizeof(*hidden_modules); i++)
			if (starts_with(m, hidden_modules[i]))
				return true;
	}
	if (f->function) {
		/* cffi's generated wrappers around the real function */
		if (starts_with(f->function, "_cffi_f_"))
			return true;
		if (m && starts_with(m, "libc.so"))
			for (i = 0;
			     i < sizeof(libc_start) / sizeof(*libc_start); i++)
				if (strcmp(f->function, libc_start[i]) == 0)
					return true;
	}
	return false;
}
