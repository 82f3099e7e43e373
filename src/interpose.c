/*
 * interpose.c: routes every call to a spec'd function through a trampoline
 * and turns it into engine events.
 *
 * Two roads lead to a function of a target library, and both are covered
 * without exporting any target name from the shim (a generic `release`
 * would hijack every other library) and without RTLD_NEXT (cffi and ctypes
 * load the target RTLD_LOCAL, where it finds nothing):
 *
 *  - dlsym/dlvsym (ctypes, cffi, plugins): the shim exports both, as tiny
 *    assembly entries that jump straight to the real ones (taken from libc's
 *    own symbol table) unless the name is spec'd; a spec'd name whose
 *    answer lies in a spec'd library gets that function's trampoline.
 *  - direct calls: the JUMP_SLOT and GLOB_DAT relocations of every loaded
 *    object (the program, other libraries, the target itself calling its
 *    own exports through its PLT) whose slot binds into a spec'd library
 *    are pointed at the trampoline.  Objects are scanned at init and
 *    whenever dl_iterate_phdr's load counter moves, which every dlsym call
 *    checks.  A slot still lazily unbound is resolved here the way the
 *    dynamic linker would (global scope first, then the spec'd libraries),
 *    and written; RELRO pages are made writable for the write and read-only
 *    again.
 *
 * One trampoline per hooked function (one per real address: two libraries'
 * `release` are two functions), from a fixed pool built by the assembler;
 * the stubs of an unloaded library are handed out again (see "Recycling").
 * Its hooks read the handle (argN counts integer-class arguments only, see
 * tramp_arch.h), decide internal vs outside calls, and call the engine.  A
 * call is internal when it came through a GOT slot of the callee's library
 * or of another library of the same spec file (tail calls included; libssl
 * freeing its X509s in libcrypto, both in the openssl profile), decided
 * once per slot when it is patched (it gets a stub of its own), so nothing
 * at call time looks up address ranges that a dlclose could leave stale;
 * or when the caller's return address lies in the callee's own library.
 * Rules that need the return value hijack the return address; the originals wait on a per-thread shadow stack,
 * which also lets stack captures swap them back (unwind_fixup).
 *
 * Hot path (the hooks): no malloc, stdio, lock or syscall of our own; errno
 * is kept.  The scans and the dlsym path are not hot and may lock.
 *
 * Choices and limits, on purpose:
 *  - A function gets the first rule (in spec order) whose library and name
 *    match it; one role per function.
 *  - argN counts integer-class arguments (pointers, integers) only; a
 *    function returning a struct in memory has the hidden result pointer
 *    as arg0, and a struct passed by value shifts the count.
 *  - Conditions compare the 64-bit return register, read as an int when
 *    its upper half is zero and the value compared with fits in an int
 *    (cond_holds).
 *  - dlsym(RTLD_NEXT, spec'd name) is passed on untouched: the answer
 *    depends on the caller, which only the real dlsym can see.
 *  - Lazy GOT slots are resolved here (RTLD_DEFAULT, then the spec'd
 *    libraries' own symbol tables) rather than by forcing the loader to
 *    bind them.
 *  - Only xmm0-7 are saved: 256/512-bit vector arguments lose their upper
 *    halves if the hook's callees use AVX.
 *  - While a hijacked call runs, a debugger's backtrace from inside it stops
 *    at tramp_exit; refsan's own captures swap the originals back.  A
 *    longjmp out of a hijacked call leaves its entry behind; it is dropped
 *    when a deeper call is hijacked or an outer one returns.
 */
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include "arch/trampoline.h"
#include "call_site.h"
#include "capture.h"
#include "engine.h"
#include "guard.h"
#include "init.h"
#include "interpose.h"
#include "options.h"
#include "pyframes.h"
#include "safe_write.h"
#include "stack_depot.h"
#include "symbolize.h"
#include "unwind.h"

#define MAX_HOOKS 4096          /* at most the pool's stubs */
#define HOOK_HASH 8192          /* real address -> hook, open addressing */
#define NAME_STORE (256 * 1024) /* copies of hooked names (survive dlclose) */
#define MAX_OBJS 2048           /* loaded objects tracked by a scan */
#define MAX_WARN_RULES 4096

/*
 * The real dlsym is found from inside the first dlsym call, which may come
 * from AddressSanitizer's or ThreadSanitizer's own start-up (their
 * interceptors look their targets up with dlsym(RTLD_NEXT) before their
 * shadow memory exists, and before their interceptors of string functions
 * and of dl_iterate_phdr work).  The functions on that path are therefore
 * not instrumented, call no libc string function, and walk the loader's
 * list of objects (_r_debug) rather than call dl_iterate_phdr.
 */
#define BOOT_PATH __attribute__((no_sanitize_address, no_sanitize_thread))

static BOOT_PATH const char *
boot_strrchr(const char *s, char c)
{
	const char *last = NULL;

	for (; *s; s++)
		if (*s == c)
			last = s;
	return last;
}

static BOOT_PATH bool
boot_prefix(const char *s, const char *prefix)
{
	for (; *prefix; s++, prefix++)
		if (*s != *prefix)
			return false;
	return true;
}

static BOOT_PATH bool
boot_streq(const char *a, const char *b)
{
	for (; *a && *a == *b; a++, b++)
		;
	return *a == *b;
}

/* A loaded object, as the scans see it. */
struct dso {
	uintptr_t base;
	const char *name;      /* dlpi_name: a path, "" for the program */
	const char *base_name; /* after the last '/' */
	const void *dyn;       /* identity, with base and name */
	uintptr_t lo, hi;      /* span of its PT_LOAD segments */
	uintptr_t relro_lo, relro_hi; /* pages the loader made read-only */
	const Elf64_Sym *symtab;
	const char *strtab;
	const uint32_t *gnu_hash;
	const uint32_t *sysv_hash;
	const Elf64_Versym *versym;
	const Elf64_Rela *jmprel;
	size_t njmprel;
	const Elf64_Rela *rela;
	size_t nrela;
	bool spec; /* its file name matches a spec `library` */
	/* The spec files whose `library` lines match it (bit: the file's
	 * first section, mod 64). */
	uint64_t groups;
	bool self; /* librefsan itself: never patched */
};

/* One hooked function: what stub I stands for.  The fields up to `site`
 * are read by the trampolines' fast paths (tramp_layout.h). */
struct hook {
	uintptr_t real;   /* the function's entry */
	uintptr_t lo, hi; /* its library: callers in here are internal */
	/* Bumped each time the stub is reused, so a call pending across
	 * the reuse is dropped rather than misread. */
	_Atomic unsigned gen;
	/* Patched into the GOT of the library itself or of another library
	 * of the same spec file (libssl calling X509_free): every call
	 * through it is internal, tail calls (`jmp f@plt`, whose return
	 * address is the outside caller's) included. */
	bool own;
	/* The fast way in (tramp_entry): for a rule that reads argument
	 * FAST_ARGN (< 6) before the call and needs nothing after it, the
	 * engine's entry for its role; NULL for every other rule. */
	unsigned char fast_argn;
	bool (*fast)(uintptr_t handle, struct engine_call *c);
	/* The same for tramp_exit: a rule whose handle is the return value,
	 * with no condition on it (a create). */
	void (*leave_fast)(uintptr_t handle, struct engine_call *c);
	const struct spec_rule *rule;
	const char *name; /* copy of the exported name */
	/* What the engine reads of the rule at every call. */
	struct engine_site site;
	bool leave;       /* the rule needs the return value */
	bool retired;     /* its library was unloaded: the stub may be
			     handed out again (hook_get) */
	/* When it was retired (CLOCK_MONOTONIC). */
	uint64_t retired_ns;
};

/* A hijacked call waiting for its return. */
struct shadow_ent {
	uintptr_t *slot; /* where the return address was */
	uintptr_t orig;  /* the return address */
	uintptr_t arg;   /* argN handle, or *argN pointer */
	struct engine_release rel;
	unsigned idx; /* hook */
	unsigned gen; /* hooks[idx].gen at the call */
	bool internal;
	bool released; /* rel holds a begun release */
	bool fixed;    /* unwind_fixup put orig back for a walk */
};

_Static_assert(sizeof(struct hook) == HOOK_SIZE, "tramp_layout.h");
_Static_assert(offsetof(struct hook, real) == HOOK_REAL, "tramp_layout.h");
_Static_assert(offsetof(struct hook, lo) == HOOK_LO, "tramp_layout.h");
_Static_assert(offsetof(struct hook, hi) == HOOK_HI, "tramp_layout.h");
_Static_assert(offsetof(struct hook, gen) == HOOK_GEN, "tramp_layout.h");
_Static_assert(offsetof(struct hook, own) == HOOK_OWN, "tramp_layout.h");
_Static_assert(offsetof(struct hook, fast_argn) == HOOK_FAST_ARGN,
               "tramp_layout.h");
_Static_assert(offsetof(struct hook, fast) == HOOK_FAST, "tramp_layout.h");
_Static_assert(offsetof(struct hook, leave_fast) == HOOK_LEAVE_FAST,
               "tramp_layout.h");
_Static_assert(offsetof(struct hook, site) == HOOK_SITE, "tramp_layout.h");
_Static_assert(sizeof(struct shadow_ent) == SHADOW_ENT_SIZE, "tramp_layout.h");
_Static_assert(offsetof(struct shadow_ent, slot) == SE_SLOT, "tramp_layout.h");
_Static_assert(offsetof(struct shadow_ent, orig) == SE_ORIG, "tramp_layout.h");
_Static_assert(offsetof(struct shadow_ent, arg) == SE_ARG, "tramp_layout.h");
_Static_assert(offsetof(struct shadow_ent, idx) == SE_IDX, "tramp_layout.h");
_Static_assert(offsetof(struct shadow_ent, gen) == SE_GEN, "tramp_layout.h");
_Static_assert(offsetof(struct shadow_ent, internal) == SE_INTERNAL,
               "tramp_layout.h");
_Static_assert(offsetof(struct shadow_ent, released) == SE_RELEASED,
               "tramp_layout.h");
_Static_assert(offsetof(struct shadow_ent, fixed) == SE_FIXED,
               "tramp_layout.h");
_Static_assert(INIT_READY == TRAMP_INIT_READY, "tramp_layout.h");
_Static_assert(offsetof(struct refsan_thread, in_shim) == T_IN_SHIM,
               "tramp_layout.h");
_Static_assert(offsetof(struct refsan_thread, shadow_depth) == T_SHADOW_DEPTH,
               "tramp_layout.h");
_Static_assert(offsetof(struct refsan_thread, shadow) == T_SHADOW,
               "tramp_layout.h");
_Static_assert(offsetof(struct refsan_thread, errno_at) == T_ERRNO_AT,
               "tramp_layout.h");

void *interpose_real_dlsym;
void *interpose_real_dlvsym;

static const struct spec *ispec;
static unsigned char first_char[256]; /* names' first chars, fast reject */
static bool any_wild_first;           /* a glob starting with a wildcard */

/* Not static: the trampolines' fast paths read them (hidden, like every
 * symbol here), as they read refsan_thread (guard.h). */
struct hook hooks[MAX_HOOKS] INIT_LARGE_BSS;
static _Atomic unsigned nhooks;
static unsigned hook_hash[HOOK_HASH] INIT_LARGE_BSS; /* idx + 1, 0 empty */
static char name_store[NAME_STORE] INIT_LARGE_BSS;
static size_t name_used;
static pthread_mutex_t hook_lock = PTHREAD_MUTEX_INITIALIZER;

static pthread_mutex_t scan_lock = PTHREAD_MUTEX_INITIALIZER;
static struct dso objs_a[MAX_OBJS] INIT_LARGE_BSS;
static struct dso objs_b[MAX_OBJS] INIT_LARGE_BSS;
static struct dso *objs = objs_a, *objs_next = objs_b;
static size_t nobjs;
static bool scanned_once;
static _Atomic unsigned long long seen_adds, seen_subs;
static char libc_path[512];
static unsigned char warned[MAX_WARN_RULES / 8];

static _Atomic uint64_t st_slots, st_pool_full, st_shadow_full, st_shadow_stale;
static _Atomic uint64_t st_recycled, st_recycled_stale;

/*
 * This thread's shadow stack: SHADOW_MAX entries, mapped at its first
 * hijacked call and unmapped when it exits.  Not a static TLS array: the
 * loader would zero its 20 KiB at the start of every process, and glibc
 * in every new thread, whether or not it ever calls the target.  And
 * &errno, which every hook saves and restores: glibc's errno is a call
 * through the PLT (__errno_location), its address fixed per thread.  All
 * three in refsan_thread (guard.h), with the guard.
 */
#define shadow (refsan_thread.shadow)
#define shadow_depth (refsan_thread.shadow_depth)
#define errno_at (refsan_thread.errno_at)

static inline int *
my_errno(void)
{
	int *p = errno_at;

	if (__builtin_expect(!p, 0))
		p = errno_at = &errno;
	return p;
}

/* ---- small helpers ---------------------------------------------------- */

static void
say(const char *msg)
{
	size_t len = strlen(msg), off = 0;

	while (off < len) {
		ssize_t w = write(2, msg + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
}

static void __attribute__((noreturn)) fatal(const char *msg)
{
	say(msg);
	abort();
}

/* fnmatch(3) without locale or allocation: * ? [set] [!set] [a-z]. */
static bool
glob_match(const char *p, const char *s)
{
	const char *star_p = NULL, *star_s = NULL;

	for (;;) {
		if (*p == '*') {
			star_p = ++p;
			star_s = s;
			continue;
		}
		if (!*s) {
			if (!*p)
				return true;
			goto backtrack;
		}
		if (*p == '?') {
			p++;
			s++;
			continue;
		}
		if (*p == '[') {
			const char *q = p + 1;
			bool neg = false, hit = false;

			if (*q == '!' || *q == '^') {
				neg = true;
				q++;
			}
			do {
				if (!*q)
					goto literal;
				if (q[1] == '-' && q[2] && q[2] != ']') {
					if ((unsigned char)*s >=
					            (unsigned char)q[0] &&
					    (unsigned char)*s <=
					            (unsigned char)q[2])
						hit = true;
					q += 3;
				} else {
					if (*q == *s)
						hit = true;
					q++;
				}
			} while (*q != ']');
			if (hit == neg)
				goto backtrack;
			p = q + 1;
			s++;
			continue;
		}
	literal:
		if (*p == *s) {
			p++;
			s++;
			continue;
		}
	backtrack:
		if (!star_p || !*star_s)
			return false;
		p = star_p;
		s = ++star_s;
	}
}

/* ---- ELF objects ------------------------------------------------------- */

static BOOT_PATH uintptr_t
dyn_ptr(uintptr_t base, uintptr_t v)
{
	/* The loader relocates most .dynamic pointers in place; the vDSO's
	 * (and some loaders') are left as offsets. */
	return v < base ? v + base : v;
}

static BOOT_PATH void
dso_from_info(const struct dl_phdr_info *info, struct dso *d)
{
	const Elf64_Dyn *dyn = NULL;
	uintptr_t base = info->dlpi_addr, pagesz = 4096;
	size_t pltrelsz = 0, relasz = 0;
	const char *slash;

	memset(d, 0, sizeof(*d));
	d->base = base;
	d->name = info->dlpi_name ? info->dlpi_name : "";
	slash = boot_strrchr(d->name, '/');
	d->base_name = slash ? slash + 1 : d->name;
	d->lo = UINTPTR_MAX;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const Elf64_Phdr *ph = &info->dlpi_phdr[i];
		uintptr_t a = base + ph->p_vaddr;

		if (ph->p_type == PT_LOAD) {
			if (a < d->lo)
				d->lo = a;
			if (a + ph->p_memsz > d->hi)
				d->hi = a + ph->p_memsz;
		} else if (ph->p_type == PT_DYNAMIC) {
			dyn = (const Elf64_Dyn *)a;
		} else if (ph->p_type == PT_GNU_RELRO) {
			pagesz = (uintptr_t)sysconf(_SC_PAGESIZE);
			/* what _dl_protect_relro protects */
			d->relro_lo = a & ~(pagesz - 1);
			d->relro_hi = (a + ph->p_memsz) & ~(pagesz - 1);
		}
	}
	if (d->lo == UINTPTR_MAX)
		d->lo = 0;
	d->dyn = dyn;
	if (!dyn)
		return;
	for (; dyn->d_tag != DT_NULL; dyn++) {
		uintptr_t v = dyn->d_un.d_ptr;

		switch (dyn->d_tag) {
		case DT_SYMTAB:
			d->symtab = (const Elf64_Sym *)dyn_ptr(base, v);
			break;
		case DT_STRTAB:
			d->strtab = (const char *)dyn_ptr(base, v);
			break;
		case DT_GNU_HASH:
			d->gnu_hash = (const uint32_t *)dyn_ptr(base, v);
			break;
		case DT_HASH:
			d->sysv_hash = (const uint32_t *)dyn_ptr(base, v);
			break;
		case DT_VERSYM:
			d->versym = (const Elf64_Versym *)dyn_ptr(base, v);
			break;
		case DT_JMPREL:
			d->jmprel = (const Elf64_Rela *)dyn_ptr(base, v);
			break;
		case DT_PLTRELSZ:
			pltrelsz = dyn->d_un.d_val;
			break;
		case DT_PLTREL:
			if (dyn->d_un.d_val != DT_RELA)
				d->jmprel = NULL, pltrelsz = 0;
			break;
		case DT_RELA:
			d->rela = (const Elf64_Rela *)dyn_ptr(base, v);
			break;
		case DT_RELASZ:
			relasz = dyn->d_un.d_val;
			break;
		}
	}
	if (!d->symtab || !d->strtab) {
		d->jmprel = NULL;
		d->rela = NULL;
		return;
	}
	d->njmprel = d->jmprel ? pltrelsz / sizeof(Elf64_Rela) : 0;
	d->nrela = d->rela ? relasz / sizeof(Elf64_Rela) : 0;
}

static BOOT_PATH uint32_t
gnu_hash_of(const char *s)
{
	uint32_t h = 5381;

	for (; *s; s++)
		h = h * 33 + (unsigned char)*s;
	return h;
}

static BOOT_PATH unsigned long
sysv_hash_of(const char *s)
{
	unsigned long h = 0, g;

	for (; *s; s++) {
		h = (h << 4) + (unsigned char)*s;
		g = h & 0xf0000000;
		if (g)
			h ^= g >> 24;
		h &= ~g;
	}
	return h;
}

static BOOT_PATH bool
sym_ok(const struct dso *d, uint32_t i, const char *name, bool default_only)
{
	const Elf64_Sym *s = &d->symtab[i];

	if (s->st_shndx == SHN_UNDEF || s->st_value == 0)
		return false;
	if (ELF64_ST_BIND(s->st_info) == STB_LOCAL)
		return false;
	if (default_only && d->versym && (d->versym[i] & 0x8000))
		return false;
	return boot_streq(d->strtab + s->st_name, name);
}

/* A defined export NAME of D (the default version when asked), or NULL. */
static BOOT_PATH const Elf64_Sym *
dso_lookup(const struct dso *d, const char *name, bool default_only)
{
	if (!d->symtab || !d->strtab)
		return NULL;
	if (d->gnu_hash) {
		const uint32_t *ht = d->gnu_hash;
		uint32_t nbuckets = ht[0], symoffset = ht[1],
		         bloom_size = ht[2];
		const Elf64_Addr *bloom = (const Elf64_Addr *)&ht[4];
		const uint32_t *buckets = (const uint32_t *)&bloom[bloom_size];
		const uint32_t *chain = &buckets[nbuckets];
		uint32_t h = gnu_hash_of(name), i;

		if (!nbuckets)
			return NULL;
		i = buckets[h % nbuckets];
		if (i < symoffset)
			return NULL;
		for (;; i++) {
			uint32_t h2 = chain[i - symoffset];

			if ((h | 1) == (h2 | 1) &&
			    sym_ok(d, i, name, default_only))
				return &d->symtab[i];
			if (h2 & 1)
				return NULL;
		}
	}
	if (d->sysv_hash) {
		uint32_t nbucket = d->sysv_hash[0];
		const uint32_t *bucket = &d->sysv_hash[2];
		const uint32_t *chain = &bucket[nbucket];

		if (!nbucket)
			return NULL;
		for (uint32_t i = bucket[sysv_hash_of(name) % nbucket]; i;
		     i = chain[i])
			if (sym_ok(d, i, name, default_only))
				return &d->symtab[i];
	}
	return NULL;
}

static bool
sym_is_func(const Elf64_Sym *s)
{
	int t = ELF64_ST_TYPE(s->st_info);

	return t == STT_FUNC || t == STT_GNU_IFUNC;
}

/* ---- the real dlsym ---------------------------------------------------- */

static BOOT_PATH int
find_real_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct dso d;
	const Elf64_Sym *s, *v;
	const char *slash =
	        boot_strrchr(info->dlpi_name ? info->dlpi_name : "", '/');
	const char *bn = slash ? slash + 1 : info->dlpi_name;

	(void)size;
	(void)arg;
	if (!bn ||
	    (!boot_prefix(bn, "libc.so") && !boot_prefix(bn, "libdl.so")))
		return 0;
	dso_from_info(info, &d);
	s = dso_lookup(&d, "dlsym", true);
	v = dso_lookup(&d, "dlvsym", true);
	if (!s || !v)
		return 0;
	if (!interpose_real_dlvsym)
		interpose_real_dlvsym = (void *)(d.base + v->st_value);
	if (!interpose_real_dlsym) {
		size_t n = 0;

		while (info->dlpi_name[n] && n + 1 < sizeof(libc_path))
			n++;
		if (!info->dlpi_name[n]) {
			for (size_t k = 0; k <= n; k++)
				libc_path[k] = info->dlpi_name[k];
		}
		__atomic_store_n(&interpose_real_dlsym,
		                 (void *)(d.base + s->st_value),
		                 __ATOMIC_RELEASE);
	}
	return 1;
}

static BOOT_PATH void
find_real_dlsym(void)
{
	if (__atomic_load_n(&interpose_real_dlsym, __ATOMIC_ACQUIRE))
		return;
	/* libc is loaded before anything can call dlsym: no lock needed. */
	for (struct link_map *l = _r_debug.r_map; l; l = l->l_next) {
		Elf64_Phdr ph = { .p_type = PT_DYNAMIC };
		struct dl_phdr_info info = { 0 };

		ph.p_vaddr = (uintptr_t)l->l_ld - l->l_addr;
		info.dlpi_addr = l->l_addr;
		info.dlpi_name = l->l_name;
		info.dlpi_phdr = &ph;
		info.dlpi_phnum = 1;
		if (find_real_cb(&info, sizeof(info), NULL))
			break;
	}
	if (!interpose_real_dlsym || !interpose_real_dlvsym)
		dl_iterate_phdr(find_real_cb, NULL);
	if (!interpose_real_dlsym || !interpose_real_dlvsym)
		fatal("refsan: error: dlsym not found in libc's symbol table\n");
}

/* ---- the spec ----------------------------------------------------------- */

static bool
lib_matches(const struct spec_lib *l, const struct dso *d)
{
	if (strchr(l->pattern, '/'))
		return glob_match(l->pattern, d->name);
	return glob_match(l->pattern, d->base_name);
}

static bool
dso_is_spec(const struct dso *d)
{
	if (!d->name[0] || !d->symtab)
		return false;
	for (size_t i = 0; i < ispec->nlibs; i++)
		if (lib_matches(&ispec->libs[i], d))
			return true;
	return false;
}

/* The spec files (as bits) with a `library` line matching D.  Libraries of
 * one file are one unit: calls between them are internal. */
static uint64_t
dso_groups(const struct dso *d)
{
	uint64_t g = 0;

	for (size_t i = 0; i < ispec->nlibs; i++) {
		size_t first = 0;

		if (!lib_matches(&ispec->libs[i], d))
			continue;
		while (ispec->libs[first].file != ispec->libs[i].file)
			first++;
		g |= 1ull << (first % 64);
	}
	return g;
}

static bool
rule_name_matches(const struct spec_rule *r, const char *name)
{
	return r->is_glob ? glob_match(r->func, name) : !strcmp(r->func, name);
}

/* Cheap: could NAME be a spec'd function of some library? */
static bool
name_maybe(const char *name)
{
	if (!any_wild_first && !first_char[(unsigned char)name[0]])
		return false;
	for (size_t i = 0; i < ispec->nrules; i++)
		if (rule_name_matches(&ispec->rules[i], name))
			return true;
	return false;
}

/* The rule for export NAME of spec'd library D (the first that matches). */
static const struct spec_rule *
rule_for(const struct dso *d, const char *name)
{
	for (size_t i = 0; i < ispec->nrules; i++) {
		const struct spec_rule *r = &ispec->rules[i];

		if (r->lib < ispec->nlibs && rule_name_matches(r, name) &&
		    lib_matches(&ispec->libs[r->lib], d))
			return r;
	}
	return NULL;
}

/* ---- hooks -------------------------------------------------------------- */

static bool
rule_needs_leave(const struct spec_rule *r)
{
	if (r->pos != POS_ARG)
		return true;
	if (r->role == ROLE_USE)
		return false; /* checked before the call, whatever it returns */
	return r->role == ROLE_CREATE || r->cond != COND_NONE;
}

static const char *
name_copy(const char *name)
{
	size_t len = strlen(name) + 1;
	char *p;

	if (name_used + len > NAME_STORE)
		return "?";
	p = name_store + name_used;
	memcpy(p, name, len);
	name_used += len;
	return p;
}

/*
 * Recycling (issue 8): the pool is fixed, and a library loaded and
 * unloaded without end (plugins, cffi modules, tests that reload) takes new
 * stubs at each load.  When a scan finds a library gone, hook_rehash()
 * retires its hooks; hook_get() then hands a retired stub out again:
 *
 *  - at once, to the same function of the same rule (same spec rule, same
 *    exported name, same kind of slot): a library reloaded gets its old
 *    stubs back, and a stub keeps meaning "that function", so even a stale
 *    pointer still held by the program lands on the same-named function;
 *  - to anything else only when no stub was never used, the one retired
 *    longest ago, and only after RECYCLE_QUARANTINE_NS: a thread racing
 *    into a library while it is unloaded (a bug of the program, which
 *    would crash without refsan too) has long left the trampoline.
 *
 * A hijacked call of an unloaded library cannot be pending (its code is
 * gone), but the shadow entry carries the hook's generation anyway and the
 * leave hook drops a call whose stub was reused meanwhile.  Slots that
 * refsan itself bound to an unloaded library (lazy slots it resolved in a
 * RTLD_LOCAL group, which the loader does not know depend on it) keep the
 * stub; a same-name reuse sends them to the reloaded copy, as the loader
 * would.
 */
#define RECYCLE_QUARANTINE_NS 200000000ull /* 0.2 s */

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The hook's name: an existing copy when some hook has it (reloads would
 * otherwise fill the store), else a new one.  hook_lock held. */
static const char *
name_intern(const char *name, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (hooks[i].name && !strcmp(hooks[i].name, name))
			return hooks[i].name;
	return name_copy(name);
}

/* A retired hook to reuse for (R, NAME, OWN), or -1.  hook_lock held. */
static int
recycle_pick(const struct spec_rule *r, const char *name, bool own, unsigned n,
             bool fresh_left)
{
	int oldest = -1;
	uint64_t now = 0;

	for (unsigned i = 0; i < n; i++) {
		if (!hooks[i].retired)
			continue;
		if (hooks[i].rule == r && hooks[i].own == own &&
		    !strcmp(hooks[i].name, name))
			return (int)i;
		if (oldest < 0 ||
		    hooks[i].retired_ns < hooks[oldest].retired_ns)
			oldest = (int)i;
	}
	if (fresh_left || oldest < 0)
		return -1;
	now = now_ns();
	if (now - hooks[oldest].retired_ns < RECYCLE_QUARANTINE_NS)
		return -1;
	return oldest;
}

static uint32_t capture_hook(struct engine_call *c);

/*
 * The engine's entry that tramp_entry calls itself, without
 * interpose_enter(), for a rule that reads a register argument before the
 * call and needs nothing after it (an acquire, a use, a release with no
 * condition): the common add_ref/release/use.  Its return says whether
 * the real function runs.  NULL for every other rule.
 */
static bool (*fast_entry(const struct spec_rule *r))(uintptr_t,
                                                     struct engine_call *)
{
	if (rule_needs_leave(r) || r->pos != POS_ARG || r->argn < 0 ||
	    r->argn >= 6)
		return NULL;
	switch (r->role) {
	case ROLE_ACQUIRE:
		return engine_acquire;
	case ROLE_USE:
		return engine_use;
	case ROLE_RELEASE:
		return engine_release;
	default:
		return NULL;
	}
}

/* An acquire of the return value as tramp_exit's fast path calls it. */
static void
acquire_leave(uintptr_t handle, struct engine_call *c)
{
	engine_acquire(handle, c);
}

/*
 * The engine's entry that tramp_exit calls itself, without
 * interpose_leave(), for a rule whose handle is the return value with no
 * condition on it: the common create.  NULL for every other rule.
 */
static void (*leave_fast_entry(const struct spec_rule *r))(
        uintptr_t, struct engine_call *)
{
	if (r->pos != POS_RET || r->cond != COND_NONE)
		return NULL;
	switch (r->role) {
	case ROLE_CREATE:
		return engine_create;
	case ROLE_ACQUIRE:
		return acquire_leave;
	default:
		return NULL;
	}
}

static void
hook_fill(unsigned i, uintptr_t real, const struct dso *d,
          const struct spec_rule *r, const char *name, bool own, unsigned n)
{
	hooks[i].real = real;
	hooks[i].lo = d->lo;
	hooks[i].hi = d->hi;
	hooks[i].rule = r;
	if (!hooks[i].name || strcmp(hooks[i].name, name))
		hooks[i].name = name_intern(name, n);
	hooks[i].leave = rule_needs_leave(r);
	hooks[i].site.function = hooks[i].name;
	hooks[i].site.family = r->family;
	hooks[i].site.accept = r->accept;
	hooks[i].site.idempotent = r->idempotent;
	hooks[i].site.borrowed = r->borrowed;
	hooks[i].site.capture = capture_hook;
	hooks[i].site.capture_arg = &hooks[i];
	hooks[i].own = own;
	hooks[i].fast = fast_entry(r);
	hooks[i].fast_argn = hooks[i].fast ? (unsigned char)r->argn : 0;
	hooks[i].leave_fast = leave_fast_entry(r);
	hooks[i].retired = false;
	/* Last: the stub's way in, which reads the fields above. */
	__atomic_store_n(&tramp_targets[i],
	                 hooks[i].leave && r->pos == POS_RET
	                         ? (const void *)tramp_entry_ret
	                         : (const void *)tramp_entry,
	                 __ATOMIC_RELEASE);
}

/* The stub index for real function REAL of library D under rule R, made on
 * first sight; -1 when the pool is exhausted. */
static int
hook_get(uintptr_t real, const struct dso *d, const struct spec_rule *r,
         const char *name, bool own)
{
	unsigned h = (unsigned)((real >> 4) * 2654435761u + own) % HOOK_HASH;
	unsigned n, limit = tramp_pool_count < MAX_HOOKS ? tramp_pool_count
	                                                 : MAX_HOOKS;
	int idx = -1, re;

	pthread_mutex_lock(&hook_lock);
	for (;; h = (h + 1) % HOOK_HASH) {
		unsigned e = hook_hash[h];

		if (!e)
			break;
		if (hooks[e - 1].real == real && hooks[e - 1].own == own) {
			idx = (int)e - 1;
			goto out;
		}
	}
	n = atomic_load(&nhooks);
	if (n > limit)
		n = limit;
	re = recycle_pick(r, name, own, n, n < limit && n < HOOK_HASH / 2);
	if (re >= 0) {
		/* Readers of the old meaning see a new generation. */
		atomic_fetch_add_explicit(&hooks[re].gen, 1,
		                          memory_order_release);
		hook_fill((unsigned)re, real, d, r, name, own, n);
		atomic_fetch_add(&st_recycled, 1);
		hook_hash[h] = (unsigned)re + 1;
		idx = re;
		goto out;
	}
	if (n >= limit || n >= HOOK_HASH / 2) {
		/* Never silent: once on stderr, and the report says so. */
		if (atomic_fetch_add(&st_pool_full, 1) == 0)
			safe_writev_strs(2, "refsan: warning: no trampoline left for ",
			                 name, " in ", d->name,
			                 ": its calls are not tracked (the report will say it is incomplete)\n",
			                 NULL);
		goto out;
	}
	hook_fill(n, real, d, r, name, own, n);
	atomic_store_explicit(&nhooks, n + 1, memory_order_release);
	hook_hash[h] = n + 1;
	idx = (int)n;
out:
	pthread_mutex_unlock(&hook_lock);
	return idx;
}

static const struct dso *objs_find(uintptr_t a);

/*
 * After a dlclose: keep the address -> hook map only for functions whose
 * library is still the one mapped there (an address may now be another
 * library's), and retire the others: their stubs may be handed out again
 * (hook_get).  Called with the scan lock held and the new object list in
 * place.
 */
static void
hook_rehash(void)
{
	unsigned n = atomic_load(&nhooks);
	uint64_t now = now_ns();

	pthread_mutex_lock(&hook_lock);
	memset(hook_hash, 0, sizeof(hook_hash));
	for (unsigned i = 0; i < n; i++) {
		const struct dso *t;
		unsigned h;

		if (hooks[i].retired)
			continue;
		t = objs_find(hooks[i].real);
		if (!t || !t->spec || t->lo != hooks[i].lo ||
		    t->hi != hooks[i].hi) {
			hooks[i].retired = true;
			hooks[i].retired_ns = now;
			continue;
		}
		h = (unsigned)((hooks[i].real >> 4) * 2654435761u +
		               hooks[i].own) % HOOK_HASH;
		while (hook_hash[h] &&
		       (hooks[hook_hash[h] - 1].real != hooks[i].real ||
		        hooks[hook_hash[h] - 1].own != hooks[i].own))
			h = (h + 1) % HOOK_HASH;
		hook_hash[h] = i + 1;
	}
	pthread_mutex_unlock(&hook_lock);
}

static bool
is_stub(uintptr_t v)
{
	return v >= (uintptr_t)tramp_pool && v < tramp_stub(tramp_pool_count);
}

/* ---- shadow stack, stack capture -------------------------------------- */

#define SHADOW_BYTES (SHADOW_MAX * sizeof(struct shadow_ent))

static pthread_key_t shadow_key;
static pthread_once_t shadow_once = PTHREAD_ONCE_INIT;
static bool shadow_key_ok;

/* At the exit of a thread: its pending entries, if any, die with it. */
static void
shadow_free(void *p)
{
	if (shadow == p) {
		shadow_depth = 0;
		shadow = NULL;
	}
	munmap(p, SHADOW_BYTES);
}

static void
shadow_key_init(void)
{
	shadow_key_ok = pthread_key_create(&shadow_key, shadow_free) == 0;
}

/* Once per thread, from the first hijack (inside the guard, errno saved
 * by the caller): mmap, since the hooks never malloc.  NULL when no
 * memory is left; the call then goes unhijacked, as when the stack is
 * full. */
static __attribute__((noinline)) struct shadow_ent *
shadow_alloc(void)
{
	void *p;

	pthread_once(&shadow_once, shadow_key_init);
	p = mmap(NULL, SHADOW_BYTES, PROT_READ | PROT_WRITE,
	         MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	if (shadow_key_ok)
		pthread_setspecific(shadow_key, p);
	shadow = p;
	return p;
}

/*
 * Around a walk: put the original return addresses of this thread's
 * pending hijacked calls back (restore=1), then hijack them again.  Only a
 * slot that still holds tramp_exit is touched: entries left behind by a
 * longjmp point at memory that now belongs to other frames.
 */
static void
shadow_fixup(int restore)
{
	unsigned d = shadow_depth;

	for (unsigned i = 0; i < d; i++) {
		struct shadow_ent *e = &shadow[i];

		if (restore) {
			if (*e->slot == (uintptr_t)tramp_exit) {
				*e->slot = e->orig;
				e->fixed = true;
			}
		} else if (e->fixed) {
			*e->slot = (uintptr_t)tramp_exit;
			e->fixed = false;
		}
	}
}

/* A hooked call as the engine sees it, and where its caller's return
 * address is (the call site, for the capture). */
struct hook_call {
	struct engine_call c; /* first: capture_hook gets &c */
	const uintptr_t *ra_slot;
};
/* tramp_entry's fast path builds one on its stack. */
_Static_assert(sizeof(struct hook_call) == HC_SIZE, "tramp_layout.h");
_Static_assert(offsetof(struct hook_call, c.site) == HC_SITE, "tramp_layout.h");
_Static_assert(offsetof(struct hook_call, c.internal) == HC_INTERNAL,
               "tramp_layout.h");
_Static_assert(offsetof(struct hook_call, c.stack) == HC_STACK,
               "tramp_layout.h");
_Static_assert(offsetof(struct hook_call, ra_slot) == HC_RA_SLOT,
               "tramp_layout.h");

/*
 * The stack of a hooked call: frame #0 is the hooked function's own entry
 * (reports show `in create_dog zoo.c:31`), then its real callers; refsan's
 * frames and the trampoline's are dropped.
 */
static uint32_t
capture_hook(struct engine_call *c)
{
	const struct hook_call *hc = (const struct hook_call *)c;
	const struct hook *h = c->site->capture_arg;

	/* The call site's memo, unless a hijacked return address lies
	 * above (a pending hooked call of this thread): the full path swaps
	 * those back before it walks. */
	if (!shadow_depth)
		return call_site_capture(h->real, hc->ra_slot);
	return capture_hooked(h->real, (uintptr_t)tramp_text_start,
	                      (uintptr_t)tramp_text_end);
}

static void
call_init(struct hook_call *hc, const struct hook *h, bool internal,
          const uintptr_t *ra_slot)
{
	struct engine_call *c = &hc->c;

	c->site = &h->site;
	c->internal = internal;
	c->stack = 0;
	hc->ra_slot = ra_slot;
}

/*
 * A condition on the return value.  The full 64-bit register is compared,
 * except that when its upper half is zero and V fits in an int, the low
 * half is read as an int: functions returning int leave -1 as 0xffffffff
 * in rax, and `ret<0` must hold for them.
 */
static bool
cond_holds(const struct spec_rule *r, uintptr_t rv)
{
	int64_t v = (int64_t)rv, want = r->cond_val;

	if (r->cond == COND_NONE)
		return true;
	if ((rv >> 32) == 0 && want >= INT32_MIN && want <= INT32_MAX)
		v = (int32_t)(uint32_t)rv;
	switch (r->cond) {
	case COND_EQ:
		return v == want;
	case COND_NE:
		return v != want;
	case COND_GE:
		return v >= want;
	case COND_LT:
		return v < want;
	case COND_GT:
		return v > want;
	case COND_LE:
		return v <= want;
	default:
		return true;
	}
}

/* ---- the hooks ---------------------------------------------------------- */

/*
 * The part of enter() for a rule that needs the return value: check a
 * release before the call (when that is the rule), then hijack the return.
 * Out of line, so that the common call that needs nothing after it
 * (acquire, release, use of argN) keeps a small frame.  Returns the
 * target, or 0 to skip the call.
 */
static __attribute__((noinline)) uintptr_t
enter_hijack(const struct hook *h, unsigned idx, uintptr_t *ra_slot,
             uintptr_t arg, bool internal)
{
	const struct spec_rule *r = h->rule;
	uintptr_t target = h->real, ra = *ra_slot;
	struct hook_call hc;
	struct engine_release rel;
	struct shadow_ent *e;
	bool released = false;
	unsigned d;

	if (r->pos != POS_RET && !arg)
		return target; /* a NULL handle or out-pointer: nothing to track */
	if (r->pos == POS_ARG && r->role == ROLE_RELEASE) {
		/* liveness before the call, the condition after it */
		call_init(&hc, h, internal, ra_slot);
		if (!engine_release_begin(arg, &hc.c, &rel))
			return 0;
		released = true;
	}

	/* Drop entries a longjmp left behind: they lie at or below us.  An
	 * entry at our very slot is live when the slot still holds the exit
	 * stub: a hijacked function tail-called us (OpenSSL, zlib do), and
	 * both leave hooks run, ours first, as the stub returns twice. */
	d = shadow_depth;
	while (d && (shadow[d - 1].slot < ra_slot ||
		     (shadow[d - 1].slot == ra_slot &&
		      ra != (uintptr_t)tramp_exit)))
		d--;
	if (d != shadow_depth) {
		atomic_fetch_add_explicit(&st_shadow_stale, shadow_depth - d,
		                          memory_order_relaxed);
		shadow_depth = d;
	}
	if (d == SHADOW_MAX || (!shadow && !shadow_alloc())) {
		atomic_fetch_add_explicit(&st_shadow_full, 1,
		                          memory_order_relaxed);
		if (released)
			engine_release_end(&rel, true);
		return target;
	}
	e = &shadow[d];
	e->slot = ra_slot;
	e->orig = ra;
	e->arg = arg;
	e->idx = idx;
	e->gen = atomic_load_explicit(&hooks[idx].gen, memory_order_acquire);
	e->internal = internal;
	e->released = released;
	e->fixed = false;
	if (released)
		e->rel = rel;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	shadow_depth = d + 1;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	*ra_slot = (uintptr_t)tramp_exit;
	return target;
}

static inline uintptr_t
enter(struct tramp_regs *regs, unsigned idx, uintptr_t *ra_slot,
      const uintptr_t *stack_args)
{
	const struct hook *h = &hooks[idx];
	const struct spec_rule *r = h->rule;
	uintptr_t target = h->real, ra = *ra_slot, arg = 0;
	struct hook_call hc;
	bool internal;
	int saved_errno, *err;

	if (!guard_enter())
		return target;
	err = my_errno();
	saved_errno = *err;
	if (refsan_state != INIT_READY && !init_ensure())
		goto out;
	/* Another thread may still be mapping the engine: wait for it.
	 * (refsan_active is set last, once the engine is mapped.) */
	if (!atomic_load_explicit(&refsan_active, memory_order_acquire) &&
	    !init_activate())
		goto out;
	/*
	 * Internal: the call came through a spec'd library's GOT (decided
	 * once, when the slot was patched: no lookup of address ranges here,
	 * which a dlclose could make stale), or from inside the callee's own
	 * library (a function pointer).
	 */
	internal = h->own || (ra >= h->lo && ra < h->hi);
	/* Tail-called by a hooked function whose return we hijacked: our
	 * real caller is that function, inside a library.  Internal when it
	 * is this library (BIO_new -> BIO_new_ex, deflateInit_ ->
	 * deflateInit2_). */
	if (!h->own && ra == (uintptr_t)tramp_exit && shadow_depth &&
	    shadow[shadow_depth - 1].slot == ra_slot) {
		const struct hook *outer = &hooks[shadow[shadow_depth - 1].idx];
		internal = outer->real >= h->lo && outer->real < h->hi;
	}
	if (r->pos != POS_RET)
		arg = tramp_arg(regs, stack_args, (unsigned)r->argn);

	if (!h->leave) {
		/* argN, decided before the call */
		if (!arg)
			goto out;
		call_init(&hc, h, internal, ra_slot);
		switch (r->role) {
		case ROLE_ACQUIRE:
			engine_acquire(arg, &hc.c);
			break;
		case ROLE_USE:
			engine_use(arg, &hc.c);
			break;
		case ROLE_RELEASE:
			if (!engine_release(arg, &hc.c))
				target = 0;
			break;
		default:
			break;
		}
		goto out;
	}

	target = enter_hijack(h, idx, ra_slot, arg, internal);
out:
	*err = saved_errno;
	guard_exit();
	return target;
}

struct tramp_next
interpose_enter(struct tramp_regs *regs, unsigned idx, uintptr_t *ra_slot,
                const uintptr_t *stack_args)
{
	struct tramp_next n;

	n.target = enter(regs, idx, ra_slot, stack_args);
	/* Hijacked now, or by a hooked function that tail-called us. */
	n.call = n.target && *ra_slot == (uintptr_t)tramp_exit;
	return n;
}

static void
leave_track(const struct tramp_retregs *regs, struct shadow_ent *e,
            const uintptr_t *ra_slot)
{
	const struct hook *h = &hooks[e->idx];
	const struct spec_rule *r = h->rule;
	uintptr_t rv = tramp_retval(regs), handle;
	struct hook_call hc;
	bool ok;

	if (atomic_load_explicit(&hooks[e->idx].gen, memory_order_acquire) !=
	    e->gen) {
		/* The stub was reused while the call ran: its rule is gone.
		 * Roll a begun release back (the handle stays live). */
		atomic_fetch_add_explicit(&st_recycled_stale, 1,
		                          memory_order_relaxed);
		if (e->released)
			engine_release_end(&e->rel, false);
		return;
	}
	ok = cond_holds(r, rv);
	if (e->released) {
		engine_release_end(&e->rel, ok);
		return;
	}
	if (!ok || refsan_state != INIT_READY)
		return;
	if (r->pos == POS_RET)
		handle = rv;
	else if (r->pos == POS_OUTARG)
		handle = *(const uintptr_t *)e->arg;
	else
		handle = e->arg;
	if (!handle)
		return;
	call_init(&hc, h, e->internal, ra_slot);
	switch (r->role) {
	case ROLE_CREATE:
		engine_create(handle, &hc.c);
		break;
	case ROLE_ACQUIRE:
		engine_acquire(handle, &hc.c);
		break;
	case ROLE_RELEASE:
		/* a handle known only after the call: too late to skip */
		engine_release(handle, &hc.c);
		break;
	case ROLE_USE:
		engine_use(handle, &hc.c);
		break;
	}
}

/* The depth of the pending call whose return address was in RA_SLOT
 * (entries above it were left by a longjmp). */
static unsigned
shadow_find(uintptr_t *ra_slot)
{
	unsigned d = shadow_depth;

	while (d && shadow[d - 1].slot != ra_slot)
		d--;
	if (!d)
		fatal("refsan: fatal: a hooked call returned and its return address is lost (stack switched?)\n");
	return d;
}

uintptr_t
interpose_leave(struct tramp_retregs *regs, uintptr_t *ra_slot)
{
	unsigned top = shadow_depth, d = shadow_find(ra_slot);
	/* volatile: one load per field, never merged (see below) */
	const volatile struct shadow_ent *t = &shadow[d - 1];
	struct shadow_ent e;
	int saved_errno, *err;
	bool guarded;

	/*
	 * Copied (the slot may be reused by a signal handler's hooked call
	 * once the depth drops) field by field, and the release token only
	 * when there is one: interpose_enter() wrote these a moment ago with
	 * narrow stores, and a whole-struct copy's 16-byte loads would stall
	 * on store forwarding.
	 */
	e.orig = t->orig;
	e.arg = t->arg;
	e.idx = t->idx;
	e.gen = t->gen;
	e.internal = t->internal;
	e.released = t->released;
	if (e.released)
		e.rel = shadow[d - 1].rel;
	/* A normal frame for the stub from here on (an unwinder in the
	 * hook walks through it). */
	*ra_slot = e.orig;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	shadow_depth = d - 1;
	if (top != d)
		atomic_fetch_add_explicit(&st_shadow_stale, top - d,
		                          memory_order_relaxed);
	guarded = guard_enter();
	if (!guarded && !e.released)
		return e.orig;
	err = my_errno();
	saved_errno = *err;
	leave_track(regs, &e, ra_slot);
	*err = saved_errno;
	if (guarded)
		guard_exit();
	return e.orig;
}

/* ---- GOT/PLT patching -------------------------------------------------- */

static const struct dso *
objs_find(uintptr_t a)
{
	for (size_t i = 0; i < nobjs; i++)
		if (a >= objs[i].lo && a < objs[i].hi && objs[i].dyn)
			return &objs[i];
	return NULL;
}

/* Where the dynamic linker would bind an unbound lazy slot for NAME: the
 * global scope first, then (for RTLD_LOCAL groups) the spec'd libraries. */
static uintptr_t
resolve_lazy(const char *name, const struct dso **owner)
{
	void *(*real)(void *, const char *) =
	        (void *(*)(void *, const char *))interpose_real_dlsym;
	uintptr_t a = (uintptr_t)real(RTLD_DEFAULT, name);

	if (a) {
		*owner = objs_find(a);
		/* A non-PIE executable that takes a function's address in
		 * code defines the name as its own PLT stub (undefined, with
		 * a value: the "canonical PLT entry"), and dlsym answers with
		 * that stub.  The real function is in a spec'd library. */
		if (!*owner || dso_lookup(*owner, name, false))
			return a;
	}
	for (size_t i = 0; i < nobjs; i++) {
		const Elf64_Sym *s;

		if (!objs[i].spec)
			continue;
		s = dso_lookup(&objs[i], name, false);
		if (s && ELF64_ST_TYPE(s->st_info) == STT_FUNC) {
			*owner = &objs[i];
			return objs[i].base + s->st_value;
		}
	}
	return 0;
}

static void
patch_slot(const struct dso *o, uintptr_t *slot, uintptr_t v)
{
	uintptr_t pagesz = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t page = (uintptr_t)slot & ~(pagesz - 1);

	if (page >= o->relro_lo && page < o->relro_hi) {
		if (mprotect((void *)page, pagesz, PROT_READ | PROT_WRITE))
			return;
		__atomic_store_n(slot, v, __ATOMIC_RELEASE);
		mprotect((void *)page, pagesz, PROT_READ);
	} else {
		__atomic_store_n(slot, v, __ATOMIC_RELEASE);
	}
	atomic_fetch_add(&st_slots, 1);
}

static void
scan_relocs(const struct dso *o, const Elf64_Rela *rel, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned long type = ELF64_R_TYPE(rel[i].r_info);
		unsigned long symi = ELF64_R_SYM(rel[i].r_info);
		const struct dso *t;
		const struct spec_rule *r;
		const Elf64_Sym *def;
		const char *name;
		uintptr_t *slot, v;
		int idx;

		if (type != TRAMP_R_JUMP_SLOT && type != TRAMP_R_GLOB_DAT)
			continue;
		if (!symi)
			continue;
		name = o->strtab + o->symtab[symi].st_name;
		if (!name[0] || !name_maybe(name))
			continue;
		slot = (uintptr_t *)(o->base + rel[i].r_offset);
		v = *slot;
		if (!v || is_stub(v))
			continue;
		t = objs_find(v);
		if (!t)
			continue;
		if (t == o && type == TRAMP_R_JUMP_SLOT) {
			/* Bound to its own export, or lazy binding still
			 * pointing at its own PLT: resolve it ourselves. */
			def = dso_lookup(o, name, false);
			if (!def || o->base + def->st_value != v) {
				v = resolve_lazy(name, &t);
				if (!v || !t || is_stub(v))
					continue;
			}
		}
		if (!t->spec)
			continue;
		r = rule_for(t, name);
		if (!r)
			continue;
		def = dso_lookup(t, name, false);
		if (!def || !sym_is_func(def))
			continue;
		/* A slot of the library itself, or of another library of
		 * the same spec file, makes its calls internal: the
		 * library's calls to its own exports, and calls between a
		 * profile's libraries (libssl freeing its X509s and
		 * EVP_PKEYs in libcrypto).  What refsan checks is the
		 * program's use of them.  A library of another file (libcurl
		 * under spec=curl,openssl) is a client like the program. */
		idx = hook_get(v, t, r, name,
		               o == t || (o->groups & t->groups) != 0);
		if (idx >= 0)
			patch_slot(o, slot, tramp_stub((unsigned)idx));
	}
}

static void
scan_object(const struct dso *o)
{
	if (o->self || !o->dyn)
		return;
	scan_relocs(o, o->jmprel, o->njmprel);
	scan_relocs(o, o->rela, o->nrela);
}

/* A spec'd library seen for the first time: names the spec gives that it
 * does not export get a warning (a typo must not make a clean run). */
static void
announce_library(const struct dso *d)
{
	char buf[768];

	atomic_fetch_add(&refsan_libs_seen, 1);
	init_activate();
	for (size_t i = 0; i < ispec->nrules && i < MAX_WARN_RULES; i++) {
		const struct spec_rule *r = &ispec->rules[i];

		if (r->is_glob || r->lib >= ispec->nlibs ||
		    !lib_matches(&ispec->libs[r->lib], d))
			continue;
		if (dso_lookup(d, r->func, false))
			continue;
		if (warned[i / 8] & (1u << (i % 8)))
			continue;
		warned[i / 8] |= (unsigned char)(1u << (i % 8));
		snprintf(
		        buf, sizeof(buf),
		        "refsan: warning: %s:%u: function '%s' not exported by %s (typo?)\n",
		        r->file ? r->file : "spec", r->line, r->func,
		        d->base_name);
		say(buf);
	}
}

struct collect_ctx {
	unsigned long long adds, subs;
	size_t n;
	bool overflow;
};

static int
collect_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct collect_ctx *cx = arg;
	uintptr_t self = (uintptr_t)&interpose_init;
	struct dso *d;

	if (size >= offsetof(struct dl_phdr_info, dlpi_subs) +
	                    sizeof(info->dlpi_subs)) {
		cx->adds = info->dlpi_adds;
		cx->subs = info->dlpi_subs;
	}
	if (cx->n >= MAX_OBJS) {
		cx->overflow = true;
		return 0;
	}
	d = &objs_next[cx->n++];
	dso_from_info(info, d);
	d->self = self >= d->lo && self < d->hi;
	d->spec = !d->self && dso_is_spec(d);
	d->groups = d->spec ? dso_groups(d) : 0;
	return 0;
}

static bool
dso_same(const struct dso *a, const struct dso *b)
{
	return a->base == b->base && a->dyn == b->dyn && a->name == b->name &&
	       a->lo == b->lo;
}

/* Scan what is new since the last time (everything after a dlclose or
 * when a spec'd library appears: lazy slots elsewhere may bind to it). */
static void
scan_locked(void)
{
	struct collect_ctx cx = { 0 };
	struct dso *prev = objs, *tmp;
	size_t nprev = nobjs, i, j;
	bool all, new_spec = false;
	static bool fresh[MAX_OBJS];

	dl_iterate_phdr(collect_cb, &cx);
	all = !scanned_once || cx.subs != atomic_load(&seen_subs);
	for (i = 0; i < cx.n; i++) {
		fresh[i] = true;
		if (all)
			continue;
		for (j = 0; j < nprev; j++)
			if (dso_same(&objs_next[i], &prev[j])) {
				fresh[i] = false;
				break;
			}
	}
	tmp = objs;
	objs = objs_next;
	objs_next = tmp;
	nobjs = cx.n;
	if (all && scanned_once)
		hook_rehash();
	for (i = 0; i < nobjs; i++)
		if (fresh[i] && objs[i].spec) {
			new_spec = true;
			announce_library(&objs[i]);
		}
	if (new_spec && refsan_opts.python_frames)
		pyframes_init();
	/*
	 * Stacks must still symbolize after a dlclose (cffi closes at exit).
	 * Before activation no stack exists, and init_activate() takes the
	 * snapshot itself: a process that never loads a spec'd library pays
	 * for no readlink or stat of its modules.
	 */
	if (init_activation_begun())
		symbolize_note_modules();
	for (i = 0; i < nobjs; i++)
		if (fresh[i] || new_spec)
			scan_object(&objs[i]);
	scanned_once = true;
	if (refsan_opts.verbosity >= 2) {
		char buf[160];

		snprintf(
		        buf, sizeof(buf),
		        "refsan: scan: %zu objects, %u hooks (%llu reused), %llu slots patched\n",
		        nobjs, atomic_load(&nhooks),
		        (unsigned long long)atomic_load(&st_recycled),
		        (unsigned long long)atomic_load(&st_slots));
		say(buf);
	}
	atomic_store(&seen_adds, cx.adds);
	atomic_store(&seen_subs, cx.subs);
}

static int
counts_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	unsigned long long *c = arg;

	if (size >= offsetof(struct dl_phdr_info, dlpi_subs) +
	                    sizeof(info->dlpi_subs)) {
		c[0] = info->dlpi_adds;
		c[1] = info->dlpi_subs;
	}
	return 1;
}

static void
scan(bool wait)
{
	void *h;

	/*
	 * An object another thread is loading is listed before the loader
	 * has relocated it; a dlopen of something already loaded waits for
	 * the loader's lock, so whatever was being loaded is done.
	 */
	if (libc_path[0]) {
		h = dlopen(libc_path, RTLD_LAZY | RTLD_NOLOAD);
		if (h)
			dlclose(h);
	}
	if (wait)
		pthread_mutex_lock(&scan_lock);
	else if (pthread_mutex_trylock(&scan_lock))
		return; /* another thread is scanning */
	scan_locked();
	pthread_mutex_unlock(&scan_lock);
}

void
interpose_rescan(void)
{
	unsigned long long c[2] = { 0, 0 };

	if (!ispec)
		return;
	dl_iterate_phdr(counts_cb, c);
	if (c[0] == atomic_load(&seen_adds) && c[1] == atomic_load(&seen_subs))
		return;
	scan(false);
}

/* ---- dlsym ------------------------------------------------------------- */

static int
find_addr_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct dso *d = arg;
	uintptr_t a = d->hi;

	(void)size;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const Elf64_Phdr *ph = &info->dlpi_phdr[i];
		uintptr_t s = info->dlpi_addr + ph->p_vaddr;

		if (ph->p_type == PT_LOAD && a >= s && a < s + ph->p_memsz) {
			dso_from_info(info, d);
			return 1;
		}
	}
	return 0;
}

/* The trampoline for ADDR, just returned by dlsym for NAME, or ADDR. */
static void *
stub_for(void *addr, const char *name)
{
	struct dso d = { 0 };
	const struct spec_rule *r;
	const Elf64_Sym *def;
	int idx;

	if (is_stub((uintptr_t)addr))
		return addr;
	d.hi = (uintptr_t)addr;
	if (!dl_iterate_phdr(find_addr_cb, &d))
		return addr;
	if (!dso_is_spec(&d))
		return addr;
	r = rule_for(&d, name);
	def = dso_lookup(&d, name, false);
	if (!r || !def || !sym_is_func(def))
		return addr;
	idx = hook_get((uintptr_t)addr, &d, r, name, false);
	return idx < 0 ? addr : (void *)tramp_stub((unsigned)idx);
}

struct tramp_dlsym_res BOOT_PATH
interpose_dlsym(void *handle, const char *name, const char *version)
{
	struct tramp_dlsym_res res = { 0, NULL };
	int saved_errno;
	void *a;

	find_real_dlsym();
	/*
	 * RTLD_NEXT is never interposed.  A lookup before the shim's
	 * constructor comes from a library initialised before it, such as
	 * AddressSanitizer's start-up (dlsym(RTLD_NEXT) and RTLD_DEFAULT
	 * while its interceptors do not work yet): booting from there would
	 * crash it.  Both go straight to the real dlsym.
	 */
	if (handle == RTLD_NEXT || refsan_state == INIT_UNINIT)
		return res;
	if (!guard_enter())
		return res;
	saved_errno = errno;
	if (refsan_state != INIT_READY && !init_ensure())
		goto out;
	if (!__atomic_load_n(&ispec, __ATOMIC_ACQUIRE))
		goto out;
	interpose_rescan();
	/* RTLD_NEXT answers depend on the caller: leave them to the real
	 * dlsym, reached with the caller's return address. */
	if (handle == RTLD_NEXT || !name || !name_maybe(name))
		goto out;
	errno = saved_errno;
	if (version)
		a = ((void *(*)(void *, const char *, const char *))
		             interpose_real_dlvsym)(handle, name, version);
	else
		a = ((void *(*)(void *, const char *))interpose_real_dlsym)(
		        handle, name);
	saved_errno = errno;
	res.done = 1;
	res.addr = a ? stub_for(a, name) : NULL;
out:
	errno = saved_errno;
	guard_exit();
	return res;
}

/* ---- init -------------------------------------------------------------- */

static void
atfork_prepare(void)
{
	pthread_mutex_lock(&scan_lock);
	pthread_mutex_lock(&hook_lock);
}

static void
atfork_release(void)
{
	pthread_mutex_unlock(&hook_lock);
	pthread_mutex_unlock(&scan_lock);
}

int
interpose_init(const struct spec *s)
{
	find_real_dlsym();
	for (size_t i = 0; i < s->nrules; i++) {
		unsigned char c = (unsigned char)s->rules[i].func[0];

		if (c == '*' || c == '?' || c == '[' || c == '\\')
			any_wild_first = true;
		first_char[c] = 1;
	}
	unwind_fixup = shadow_fixup;
	pthread_atfork(atfork_prepare, atfork_release, atfork_release);
	__atomic_store_n(&ispec, s, __ATOMIC_RELEASE);
	scan(true);
	return 0;
}

void
interpose_get_stats(struct interpose_stats *out)
{
	out->hooks = atomic_load(&nhooks);
	out->slots_patched = atomic_load(&st_slots);
	out->pool_full = atomic_load(&st_pool_full);
	out->shadow_full = atomic_load(&st_shadow_full);
	out->shadow_stale = atomic_load(&st_shadow_stale);
	out->recycled = atomic_load(&st_recycled);
}

/* ---- hints for invalid releases ---------------------------------------- */

/* The number of dynamic symbols, from the GNU hash table (the highest
 * index any chain reaches) or the SysV one (its nchain). */
static size_t
dso_nsyms(const struct dso *d)
{
	if (d->gnu_hash) {
		const uint32_t *ht = d->gnu_hash;
		uint32_t nbuckets = ht[0], symoffset = ht[1], bloom_size = ht[2];
		const Elf64_Addr *bloom = (const Elf64_Addr *)&ht[4];
		const uint32_t *buckets = (const uint32_t *)&bloom[bloom_size];
		const uint32_t *chain = &buckets[nbuckets];
		uint32_t last = 0, i;

		for (i = 0; i < nbuckets; i++)
			if (buckets[i] > last)
				last = buckets[i];
		if (last < symoffset)
			return symoffset;
		while (!(chain[last - symoffset] & 1))
			last++;
		return last + 1;
	}
	if (d->sysv_hash)
		return d->sysv_hash[1];
	return 0;
}

static bool
creator_like(const char *name)
{
	static const char *const words[] = { "create", "new",   "open",
					     "alloc",  "dup",   "copy",
					     "clone",  "init",  "make" };
	size_t i;

	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strstr(name, words[i]))
			return true;
	return false;
}

/*
 * For a release of a handle refsan never saw created: the functions of the
 * releasing function's library that look like creators (by name) and that
 * no spec rule names, comma-separated into BUF, or "" when there is none.
 * Report time only.
 */
size_t
interpose_creator_hint(const char *release_fn, char *buf, size_t len,
		       const char **lib)
{
	const struct dso *d = NULL;
	size_t i, n, at = 0, found = 0;
	unsigned k, nh = atomic_load(&nhooks);

	if (len)
		buf[0] = 0;
	*lib = NULL;
	for (k = 0; k < nh && release_fn; k++)
		if (hooks[k].name && !hooks[k].retired &&
		    !strcmp(hooks[k].name, release_fn)) {
			d = objs_find(hooks[k].real);
			break;
		}
	if (!d || !d->symtab || !d->strtab || !ispec)
		return 0;
	*lib = d->base_name;
	n = dso_nsyms(d);
	for (i = 1; i < n && found < 5; i++) {
		const Elf64_Sym *sym = &d->symtab[i];
		const char *name = d->strtab + sym->st_name;
		size_t l, r;

		if (ELF64_ST_TYPE(sym->st_info) != STT_FUNC ||
		    sym->st_shndx == SHN_UNDEF || !creator_like(name))
			continue;
		for (r = 0; r < ispec->nrules; r++)
			if (rule_name_matches(&ispec->rules[r], name))
				break;
		if (r < ispec->nrules)
			continue;
		l = strlen(name);
		if (at + l + 3 >= len)
			break;
		if (at) {
			memcpy(buf + at, ", ", 2);
			at += 2;
		}
		memcpy(buf + at, name, l + 1);
		at += l;
		found++;
	}
	return found;
}
