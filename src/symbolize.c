/*
 * symbolize.c: the program counters of stored stacks turned into module,
 * offset, function, file and line, at report time only.
 *
 * It has two halves.  While the program runs, symbolize_note_modules() is
 * called whenever a stack is first stored; it asks dl_iterate_phdr for the
 * loader's add and remove counters and walks the list of loaded objects only
 * when they moved, snapshotting each new module's load base, PT_LOAD ranges,
 * path and build ID.  Snapshots are never dropped, so a library that cffi
 * dlcloses at exit still has a name in the report.  At report time,
 * symbolize_pc() finds the newest snapshot holding the pc and reads that
 * module's file from disk once: our own ELF reader takes function names from
 * .symtab (so static functions get names), else from a separate debug file
 * (build ID or .gnu_debuglink), else from .dynsym, else from dladdr; libdw,
 * dlopened rather than linked, gives file and line from DWARF.  libdw is used
 * through dwarf_begin_elf only, never through libdwfl, so debuginfod is never
 * asked and nothing goes to the network.  Every answer is cached per pc, so a
 * report of a million handles costs one lookup per distinct pc.
 *
 * Limits: a module's file must still be on disk, unchanged, at report time
 * (a rebuilt file is recognized by its build ID, or by st_dev/st_ino when it
 * has none, and then only dladdr or a debug file found by build ID name it);
 * and a pc captured before a library was unloaded and another one's code
 * loaded at the same address symbolizes against the newer one.
 */
#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <elfutils/libdw.h>
#include <dwarf.h>

#include "symbolize.h"

#if UINTPTR_MAX > 0xffffffffu
#define NATIVE_CLASS ELFCLASS64
#else
#define NATIVE_CLASS ELFCLASS32
#endif
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define NATIVE_DATA ELFDATA2LSB
#else
#define NATIVE_DATA ELFDATA2MSB
#endif

/* The same for ELF32 and ELF64. */
#define SYM_TYPE(info) ((info)&0xf)
#define SYM_BIND(info) ((info) >> 4)

#define MAX_BUILD_ID 64
#define DEBUG_DIR "/usr/lib/debug"

#define HAVE_COUNTERS(size)                                                    \
	((size) >= offsetof(struct dl_phdr_info, dlpi_subs) +                  \
	                   sizeof(((struct dl_phdr_info *)0)->dlpi_subs))

struct seg {
	uintptr_t start;
	uintptr_t end;
	bool exec; /* PF_X */
};

struct mapped {
	unsigned char *p;
	size_t size;
};

/* A read-only view of an ELF file's section headers, bounds checked. */
struct elf_view {
	const unsigned char *p;
	size_t size;
	const ElfW(Shdr) * sh;
	size_t shnum;
	const char *shstr;
	size_t shstr_size;
};

struct func_sym {
	uintptr_t addr; /* link-time address, i.e. offset from the load base */
	uintptr_t size;
	const char *name;   /* into the mapped file, or demangled (owned) */
	unsigned char rank; /* lower is a better name for a shared address */
	unsigned char demangled;
};

struct cu_range {
	uintptr_t start;
	uintptr_t end;
	uintptr_t maxend; /* largest end in [0, this]: stops backward walks */
	Dwarf_Die die;
};

struct module {
	/* The snapshot: immutable once made, but gen and last_scan. */
	uintptr_t base;
	char *dl_name; /* dlpi_name as the loader had it */
	char *path;    /* absolute, or NULL (no file: vdso) */
	const char *name;
	bool is_main;
	bool have_stat;
	dev_t dev;
	ino_t ino;
	unsigned build_id_len;
	unsigned char build_id[MAX_BUILD_ID];
	unsigned long gen;       /* under mod_lock: newest wins */
	unsigned long last_scan; /* under mod_lock */

	/* Read at report time, under sym_lock. */
	bool loaded;
	bool have_syms; /* a symbol table was read: no dladdr guessing */
	bool file_ok;   /* the module's own file, identity checked */
	int dw_state;   /* 0 untried, 1 ready, -1 none */
	struct mapped file;
	struct mapped debug;
	const struct mapped *dw_src;
	dev_t file_dev;
	ino_t file_ino;
	struct func_sym *syms;
	size_t nsyms;
	Elf *elf;
	Dwarf *dwarf;
	struct cu_range *cus;
	size_t ncus;

	unsigned nsegs;
	struct seg segs[];
};

/* A segment of a module, in the lookup index sorted by start. */
struct seg_ref {
	uintptr_t start;
	uintptr_t end;
	uintptr_t maxend;
	struct module *m;
	bool exec;
};

struct scan {
	bool first;
	bool stop;    /* the counters had not moved: nothing to do */
	bool failed;  /* out of memory: scan again next time */
	bool changed; /* a module appeared or came back */
	bool have_counters;
	unsigned long long adds;
	unsigned long long subs;
};

struct pc_slot {
	uintptr_t pc;
	unsigned char used;
	unsigned char is_return;
	struct sym_frame f;
};

/*
 * Lock order: sym_lock, then scan_lock, then mod_lock.  mod_lock is also
 * taken inside dl_iterate_phdr callbacks (after the loader's lock), so no dl*
 * function is ever called while holding it.
 */
static pthread_mutex_t sym_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t scan_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t mod_lock = PTHREAD_MUTEX_INITIALIZER;

/* Under mod_lock. */
static struct {
	struct module **v;
	size_t n;
	size_t cap;
	struct seg_ref *idx;
	size_t nidx;
	unsigned long gen;
	unsigned long scan_no;
} mods;
/* Bumped (atomically, under mod_lock) when lookups may answer differently. */
static unsigned long mods_epoch;

/* The loader counters at the last complete scan; atomics. */
static int seen_valid;
static unsigned long long seen_adds;
static unsigned long long seen_subs;

/* Under sym_lock. */
static struct pc_slot *pc_tab;
static size_t pc_cap;
static size_t pc_count;
static unsigned long pc_epoch;

static struct {
	char **v;
	size_t n;
	size_t cap;
} owned;

static const char *libdw_soname;
static struct {
	int state; /* 0 untried, 1 ready, -1 absent */
	void *handle;
	__typeof__(elf_version) *elf_version;
	__typeof__(elf_memory) *elf_memory;
	__typeof__(elf_end) *elf_end;
	__typeof__(dwarf_begin_elf) *begin_elf;
	__typeof__(dwarf_end) *end;
	__typeof__(dwarf_nextcu) *nextcu;
	__typeof__(dwarf_offdie) *offdie;
	__typeof__(dwarf_ranges) *ranges;
	__typeof__(dwarf_getsrc_die) *getsrc_die;
	__typeof__(dwarf_lineno) *lineno;
	__typeof__(dwarf_linesrc) *linesrc;
	__typeof__(dwarf_attr) *attr;
	__typeof__(dwarf_formstring) *formstring;
} dw;

typedef char *cxa_demangle_fn(const char *, char *, size_t *, int *);
static int demangle_state;
static cxa_demangle_fn *cxa_demangle;

/* ---- snapshots of the loaded modules ---- */

static unsigned
note_build_id(const unsigned char *p, size_t len, size_t align,
              unsigned char *out)
{
	size_t off = 0;

	align = align == 8 ? 8 : 4;
	while (len - off >= sizeof(ElfW(Nhdr))) {
		ElfW(Nhdr) nh;
		size_t name_off, desc_off, namesz, descsz;

		memcpy(&nh, p + off, sizeof(nh));
		namesz = (nh.n_namesz + align - 1) & ~(align - 1);
		descsz = (nh.n_descsz + align - 1) & ~(align - 1);
		name_off = off + sizeof(nh);
		if (namesz > len - name_off)
			break;
		desc_off = name_off + namesz;
		if (nh.n_descsz > len - desc_off)
			break;
		if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 &&
		    memcmp(p + name_off, "GNU", 4) == 0 && nh.n_descsz > 0 &&
		    nh.n_descsz <= MAX_BUILD_ID) {
			memcpy(out, p + desc_off, nh.n_descsz);
			return nh.n_descsz;
		}
		if (descsz > len - desc_off)
			break;
		off = desc_off + descsz;
	}
	return 0;
}

/* The build ID from the loaded image's notes, if a PT_LOAD maps them. */
static unsigned
mem_build_id(const struct dl_phdr_info *info, unsigned char *out)
{
	unsigned i, j, n;

	for (i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *note = &info->dlpi_phdr[i];

		if (note->p_type != PT_NOTE)
			continue;
		for (j = 0; j < info->dlpi_phnum; j++) {
			const ElfW(Phdr) *load = &info->dlpi_phdr[j];

			if (load->p_type == PT_LOAD &&
			    note->p_vaddr >= load->p_vaddr &&
			    note->p_vaddr + note->p_filesz <=
			            load->p_vaddr + load->p_filesz)
				break;
		}
		if (j == info->dlpi_phnum)
			continue;
		n = note_build_id((const unsigned char *)(info->dlpi_addr +
		                                          note->p_vaddr),
		                  note->p_filesz, note->p_align, out);
		if (n)
			return n;
	}
	return 0;
}

static char *
exe_path(void)
{
	char buf[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);

	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	return strdup(buf);
}

static struct module *
module_new(const struct dl_phdr_info *info, bool is_main, unsigned nsegs,
           const unsigned char *bid, unsigned bid_len)
{
	const char *dl_name = info->dlpi_name ? info->dlpi_name : "";
	struct module *m;
	const char *slash;
	struct stat st;
	unsigned i, k = 0;

	m = calloc(1, sizeof(*m) + nsegs * sizeof(m->segs[0]));
	if (!m)
		return NULL;
	m->dl_name = strdup(dl_name);
	if (!m->dl_name) {
		free(m);
		return NULL;
	}
	m->base = info->dlpi_addr;
	m->is_main = is_main;
	for (i = 0; i < info->dlpi_phnum && k < nsegs; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];

		if (ph->p_type != PT_LOAD || ph->p_memsz == 0)
			continue;
		m->segs[k].start = info->dlpi_addr + ph->p_vaddr;
		m->segs[k].end = m->segs[k].start + ph->p_memsz;
		m->segs[k].exec = (ph->p_flags & PF_X) != 0;
		k++;
	}
	m->nsegs = k;
	memcpy(m->build_id, bid, bid_len);
	m->build_id_len = bid_len;

	/*
	 * The path is made absolute now: the working directory may change
	 * before the report.  A name without a slash (the vdso) has no file.
	 */
	if (is_main)
		m->path = exe_path();
	else if (dl_name[0] == '/')
		m->path = strdup(dl_name);
	else if (strchr(dl_name, '/'))
		m->path = realpath(dl_name, NULL);
	if (m->path && !is_main && stat(m->path, &st) == 0) {
		m->have_stat = true;
		m->dev = st.st_dev;
		m->ino = st.st_ino;
	}
	m->name = m->path ? m->path : m->dl_name;
	slash = strrchr(m->name, '/');
	if (slash)
		m->name = slash + 1;
	if (!m->name[0])
		m->name = NULL;
	return m;
}

/* Under mod_lock. */
static bool
modules_grow(void)
{
	size_t cap = mods.cap ? 2 * mods.cap : 64;
	struct module **v = realloc(mods.v, cap * sizeof(*v));

	if (!v)
		return false;
	mods.v = v;
	mods.cap = cap;
	return true;
}

static void
note_one(const struct dl_phdr_info *info, bool is_main, struct scan *s)
{
	const char *dl_name = info->dlpi_name ? info->dlpi_name : "";
	unsigned char bid[MAX_BUILD_ID];
	unsigned bid_len, nsegs = 0, i;
	uintptr_t first = 0;
	struct module *m = NULL;
	size_t k;

	for (i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];

		if (ph->p_type != PT_LOAD || ph->p_memsz == 0)
			continue;
		if (!nsegs)
			first = info->dlpi_addr + ph->p_vaddr;
		nsegs++;
	}
	if (!nsegs)
		return;
	bid_len = mem_build_id(info, bid);

	pthread_mutex_lock(&mod_lock);
	for (k = mods.n; k-- > 0;) {
		struct module *c = mods.v[k];

		if (c->base == info->dlpi_addr && c->nsegs == nsegs &&
		    c->segs[0].start == first && c->is_main == is_main &&
		    c->build_id_len == bid_len &&
		    memcmp(c->build_id, bid, bid_len) == 0 &&
		    strcmp(c->dl_name, dl_name) == 0) {
			m = c;
			break;
		}
	}
	if (m) {
		/* Back after an absence: it may now cover an older module. */
		if (m->last_scan + 1 != mods.scan_no)
			s->changed = true;
	} else if (mods.n == mods.cap && !modules_grow()) {
		s->failed = true;
	} else {
		m = module_new(info, is_main, nsegs, bid, bid_len);
		if (m) {
			mods.v[mods.n++] = m;
			s->changed = true;
		} else {
			s->failed = true;
		}
	}
	if (m) {
		/* Every module present now is newer than every absent one. */
		m->gen = ++mods.gen;
		m->last_scan = mods.scan_no;
	}
	pthread_mutex_unlock(&mod_lock);
}

static bool
counters_seen(unsigned long long adds, unsigned long long subs)
{
	return __atomic_load_n(&seen_valid, __ATOMIC_ACQUIRE) &&
	       __atomic_load_n(&seen_adds, __ATOMIC_RELAXED) == adds &&
	       __atomic_load_n(&seen_subs, __ATOMIC_RELAXED) == subs;
}

static int
quick_cb(struct dl_phdr_info *info, size_t size, void *data)
{
	struct scan *s = data;

	if (HAVE_COUNTERS(size)) {
		s->have_counters = true;
		s->adds = info->dlpi_adds;
		s->subs = info->dlpi_subs;
	}
	return 1;
}

static int
scan_cb(struct dl_phdr_info *info, size_t size, void *data)
{
	struct scan *s = data;
	bool is_main = false;

	if (s->first) {
		s->first = false;
		/* glibc lists the main program first, with an empty name. */
		is_main = !info->dlpi_name || !info->dlpi_name[0];
		if (HAVE_COUNTERS(size)) {
			s->have_counters = true;
			s->adds = info->dlpi_adds;
			s->subs = info->dlpi_subs;
			if (counters_seen(s->adds, s->subs)) {
				s->stop = true;
				return 1;
			}
		}
		pthread_mutex_lock(&mod_lock);
		mods.scan_no++;
		pthread_mutex_unlock(&mod_lock);
	}
	note_one(info, is_main, s);
	return 0;
}

static int
seg_ref_cmp(const void *a, const void *b)
{
	const struct seg_ref *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return 0;
}

/* Under mod_lock. */
static bool
index_rebuild(void)
{
	struct seg_ref *idx;
	size_t n = 0, i, k = 0;
	unsigned j;

	for (i = 0; i < mods.n; i++)
		n += mods.v[i]->nsegs;
	idx = malloc((n ? n : 1) * sizeof(*idx));
	if (!idx)
		return false;
	for (i = 0; i < mods.n; i++) {
		for (j = 0; j < mods.v[i]->nsegs; j++) {
			idx[k].start = mods.v[i]->segs[j].start;
			idx[k].end = mods.v[i]->segs[j].end;
			idx[k].m = mods.v[i];
			idx[k].exec = mods.v[i]->segs[j].exec;
			k++;
		}
	}
	qsort(idx, n, sizeof(*idx), seg_ref_cmp);
	for (i = 0; i < n; i++) {
		idx[i].maxend = idx[i].end;
		if (i && idx[i - 1].maxend > idx[i].maxend)
			idx[i].maxend = idx[i - 1].maxend;
	}
	free(mods.idx);
	mods.idx = idx;
	mods.nidx = n;
	return true;
}

void
symbolize_note_modules(void)
{
	struct scan s;

	/* The cheap check: one callback, for the loader's counters. */
	memset(&s, 0, sizeof(s));
	dl_iterate_phdr(quick_cb, &s);
	if (s.have_counters && counters_seen(s.adds, s.subs))
		return;

	pthread_mutex_lock(&scan_lock);
	memset(&s, 0, sizeof(s));
	s.first = true;
	dl_iterate_phdr(scan_cb, &s);
	if (!s.stop) {
		pthread_mutex_lock(&mod_lock);
		if (s.changed || !mods.idx) {
			if (!index_rebuild())
				s.failed = true;
			__atomic_add_fetch(&mods_epoch, 1, __ATOMIC_RELEASE);
		}
		if (s.have_counters && !s.failed) {
			__atomic_store_n(&seen_adds, s.adds, __ATOMIC_RELAXED);
			__atomic_store_n(&seen_subs, s.subs, __ATOMIC_RELAXED);
			__atomic_store_n(&seen_valid, 1, __ATOMIC_RELEASE);
		}
		pthread_mutex_unlock(&mod_lock);
	}
	pthread_mutex_unlock(&scan_lock);
}

/*
 * The newest module holding AT in an executable segment, else the newest
 * holding it at all, or NULL.  Code runs only in the former: the data of a
 * library loaded over an unloaded one's old place does not take the pcs
 * captured in the unloaded one.
 */
static struct module *
module_find(uintptr_t at)
{
	struct module *best = NULL;
	bool best_exec = false;
	size_t lo = 0, hi;

	pthread_mutex_lock(&mod_lock);
	hi = mods.nidx;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (mods.idx[mid].start <= at)
			lo = mid + 1;
		else
			hi = mid;
	}
	while (lo-- > 0 && mods.idx[lo].maxend > at) {
		const struct seg_ref *r = &mods.idx[lo];

		if (at < r->end &&
		    (!best || r->exec > best_exec ||
		     (r->exec == best_exec && r->m->gen > best->gen))) {
			best = r->m;
			best_exec = r->exec;
		}
	}
	pthread_mutex_unlock(&mod_lock);
	return best;
}

/* ---- reading ELF files ---- */

static int
map_file(const char *path, struct mapped *out, struct stat *st)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	void *p;

	if (fd < 0)
		return -1;
	if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode) || st->st_size <= 0) {
		close(fd);
		return -1;
	}
	/*
	 * Private and writable: libelf may patch what it reads in place; the
	 * file never changes and untouched pages cost nothing.
	 */
	p = mmap(NULL, st->st_size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return -1;
	out->p = p;
	out->size = st->st_size;
	return 0;
}

static void
unmap(struct mapped *f)
{
	if (f->p)
		munmap(f->p, f->size);
	f->p = NULL;
	f->size = 0;
}

static const void *
sec_data(const struct elf_view *v, const ElfW(Shdr) * sh, size_t *len)
{
	if (sh->sh_type == SHT_NOBITS || sh->sh_offset > v->size ||
	    sh->sh_size > v->size - sh->sh_offset)
		return NULL;
	*len = sh->sh_size;
	return v->p + sh->sh_offset;
}

static bool
view_init(struct elf_view *v, const struct mapped *f)
{
	const ElfW(Ehdr) *eh = (const void *)f->p;
	size_t shnum, shstrndx;

	memset(v, 0, sizeof(*v));
	if (!f->p || f->size < sizeof(*eh))
		return false;
	if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 ||
	    eh->e_ident[EI_CLASS] != NATIVE_CLASS ||
	    eh->e_ident[EI_DATA] != NATIVE_DATA ||
	    eh->e_shentsize != sizeof(ElfW(Shdr)) || eh->e_shoff == 0 ||
	    eh->e_shoff % sizeof(ElfW(Addr)) != 0 || eh->e_shoff > f->size ||
	    f->size - eh->e_shoff < sizeof(ElfW(Shdr)))
		return false;
	v->p = f->p;
	v->size = f->size;
	v->sh = (const void *)(f->p + eh->e_shoff);
	shnum = eh->e_shnum ? eh->e_shnum : v->sh[0].sh_size;
	if (shnum > (f->size - eh->e_shoff) / sizeof(ElfW(Shdr)))
		return false;
	v->shnum = shnum;
	shstrndx = eh->e_shstrndx == SHN_XINDEX ? v->sh[0].sh_link
	                                        : eh->e_shstrndx;
	if (shstrndx && shstrndx < shnum)
		v->shstr = sec_data(v, &v->sh[shstrndx], &v->shstr_size);
	return true;
}

static const ElfW(Shdr) *
        sec_by_name(const struct elf_view *v, const char *name)
{
	size_t i;

	if (!v->shstr)
		return NULL;
	for (i = 0; i < v->shnum; i++) {
		size_t off = v->sh[i].sh_name;

		if (off < v->shstr_size &&
		    memchr(v->shstr + off, '\0', v->shstr_size - off) &&
		    strcmp(v->shstr + off, name) == 0)
			return &v->sh[i];
	}
	return NULL;
}

static bool
has_section(const struct elf_view *v, const char *name)
{
	const ElfW(Shdr) *sh = sec_by_name(v, name);
	size_t len;

	return sh && sec_data(v, sh, &len) && len > 0;
}

static bool
has_dwarf(const struct elf_view *v)
{
	return has_section(v, ".debug_info") || has_section(v, ".zdebug_info");
}

static bool
has_symtab(const struct elf_view *v)
{
	size_t i;

	for (i = 0; i < v->shnum; i++)
		if (v->sh[i].sh_type == SHT_SYMTAB)
			return true;
	return false;
}

static unsigned
file_build_id(const struct elf_view *v, unsigned char *out)
{
	size_t i, len;
	unsigned n;

	for (i = 0; i < v->shnum; i++) {
		const void *d;

		if (v->sh[i].sh_type != SHT_NOTE)
			continue;
		d = sec_data(v, &v->sh[i], &len);
		if (!d)
			continue;
		n = note_build_id(d, len, v->sh[i].sh_addralign, out);
		if (n)
			return n;
	}
	return 0;
}

static const char *
debuglink(const struct elf_view *v)
{
	const ElfW(Shdr) *sh = sec_by_name(v, ".gnu_debuglink");
	const char *d;
	size_t len;

	if (!sh || !(d = sec_data(v, sh, &len)) || !memchr(d, '\0', len) ||
	    !d[0] || strchr(d, '/'))
		return NULL;
	return d;
}

static bool
build_id_matches(const struct module *m, const struct elf_view *v)
{
	unsigned char bid[MAX_BUILD_ID];
	unsigned n = file_build_id(v, bid);

	return n == m->build_id_len && memcmp(bid, m->build_id, n) == 0;
}

static unsigned
sym_rank(const ElfW(Sym) * s, const char *name)
{
	unsigned bind = SYM_BIND(s->st_info), r;

	r = bind == STB_GLOBAL ? 0 : bind == STB_WEAK ? 1 : 2;
	return (s->st_size == 0) * 16 + r * 4 + (name[0] == '_') * 2 +
	       (strchr(name, '@') != NULL);
}

static int
sym_cmp(const void *a, const void *b)
{
	const struct func_sym *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	if (x->rank != y->rank)
		return x->rank < y->rank ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* Functions of the symbol tables of TYPE in V, sorted; false if none. */
static bool
syms_load(struct module *m, const struct elf_view *v, uint32_t type)
{
	struct func_sym *vec = NULL, *tmp;
	size_t n = 0, cap = 0, i, j, k;

	for (i = 0; i < v->shnum; i++) {
		const ElfW(Shdr) *sh = &v->sh[i];
		const unsigned char *d;
		const char *str;
		size_t len = 0, str_len = 0;

		if (sh->sh_type != type ||
		    sh->sh_entsize != sizeof(ElfW(Sym)) ||
		    sh->sh_link >= v->shnum)
			continue;
		d = sec_data(v, sh, &len);
		str = sec_data(v, &v->sh[sh->sh_link], &str_len);
		if (!d || !str)
			continue;
		for (j = 0; j + sizeof(ElfW(Sym)) <= len;
		     j += sizeof(ElfW(Sym))) {
			ElfW(Sym) s;
			unsigned t;

			memcpy(&s, d + j, sizeof(s));
			t = SYM_TYPE(s.st_info);
			if ((t != STT_FUNC && t != STT_GNU_IFUNC) ||
			    s.st_shndx == SHN_UNDEF || s.st_value == 0 ||
			    s.st_name == 0 || s.st_name >= str_len ||
			    !memchr(str + s.st_name, '\0', str_len - s.st_name))
				continue;
			if (n == cap) {
				cap = cap ? 2 * cap : 1024;
				tmp = realloc(vec, cap * sizeof(*vec));
				if (!tmp) {
					free(vec);
					return false;
				}
				vec = tmp;
			}
			vec[n].addr = s.st_value;
			vec[n].size = s.st_size;
			vec[n].name = str + s.st_name;
			vec[n].rank = sym_rank(&s, vec[n].name);
			vec[n].demangled = 0;
			n++;
		}
	}
	if (!n) {
		free(vec);
		return false;
	}
	qsort(vec, n, sizeof(*vec), sym_cmp);
	/* One entry per address: the best name, the largest size. */
	for (i = 1, k = 0; i < n; i++) {
		if (vec[i].addr == vec[k].addr) {
			if (vec[i].size > vec[k].size)
				vec[k].size = vec[i].size;
			continue;
		}
		vec[++k] = vec[i];
	}
	m->syms = vec;
	m->nsyms = k + 1;
	return true;
}

/* Map PATH as M's separate debug file if it is one. */
static bool
try_debug(struct module *m, const char *path, struct elf_view *dv)
{
	struct stat st;

	if (map_file(path, &m->debug, &st) < 0)
		return false;
	if ((m->file_ok && st.st_dev == m->file_dev &&
	     st.st_ino == m->file_ino) ||
	    !view_init(dv, &m->debug) ||
	    (m->build_id_len && !build_id_matches(m, dv))) {
		unmap(&m->debug);
		return false;
	}
	return true;
}

/* The places gdb looks: by build ID, then by .gnu_debuglink. */
static bool
find_debug(struct module *m, const struct elf_view *fv, struct elf_view *dv)
{
	char buf[PATH_MAX], dir[PATH_MAX];
	const char *link, *slash;
	unsigned i;
	int n;

	if (m->build_id_len >= 2) {
		n = snprintf(buf, sizeof(buf), DEBUG_DIR "/.build-id/%02x/",
		             m->build_id[0]);
		for (i = 1; i < m->build_id_len; i++)
			n += snprintf(buf + n, sizeof(buf) - n, "%02x",
			              m->build_id[i]);
		snprintf(buf + n, sizeof(buf) - n, ".debug");
		if (try_debug(m, buf, dv))
			return true;
	}
	if (!m->file_ok || !m->path || !(link = debuglink(fv)))
		return false;
	slash = strrchr(m->path, '/');
	if (!slash || (size_t)(slash - m->path) >= sizeof(dir))
		return false;
	memcpy(dir, m->path, slash - m->path);
	dir[slash - m->path] = '\0';
	n = snprintf(buf, sizeof(buf), "%s/%s", dir, link);
	if (n > 0 && (size_t)n < sizeof(buf) && try_debug(m, buf, dv))
		return true;
	n = snprintf(buf, sizeof(buf), "%s/.debug/%s", dir, link);
	if (n > 0 && (size_t)n < sizeof(buf) && try_debug(m, buf, dv))
		return true;
	n = snprintf(buf, sizeof(buf), DEBUG_DIR "%s/%s", dir, link);
	if (n > 0 && (size_t)n < sizeof(buf) && try_debug(m, buf, dv))
		return true;
	return false;
}

/* Read M's files once: the symbol table, and where its DWARF is. */
static void
module_load(struct module *m)
{
	struct elf_view fv, dv;
	bool dok = false, syms_in_debug = false;
	struct stat st;

	if (m->loaded)
		return;
	m->loaded = true;
	memset(&fv, 0, sizeof(fv));
	memset(&dv, 0, sizeof(dv));

	/* The running executable is /proc/self/exe, even if replaced. */
	if ((m->is_main || m->path) &&
	    map_file(m->is_main ? "/proc/self/exe" : m->path, &m->file, &st) ==
	            0) {
		m->file_ok = view_init(&fv, &m->file);
		if (m->file_ok && !m->is_main) {
			if (m->build_id_len)
				m->file_ok = build_id_matches(m, &fv);
			else if (m->have_stat)
				m->file_ok = st.st_dev == m->dev &&
				             st.st_ino == m->ino;
		}
		if (m->file_ok) {
			m->file_dev = st.st_dev;
			m->file_ino = st.st_ino;
		} else {
			unmap(&m->file);
		}
	}
	if (!m->file_ok || !has_symtab(&fv) || !has_dwarf(&fv))
		dok = find_debug(m, &fv, &dv);

	/* A full .symtab first: static functions have names there. */
	if (m->file_ok && syms_load(m, &fv, SHT_SYMTAB))
		m->have_syms = true;
	else if (dok && syms_load(m, &dv, SHT_SYMTAB))
		m->have_syms = syms_in_debug = true;
	else if (m->file_ok && syms_load(m, &fv, SHT_DYNSYM))
		m->have_syms = true;
	if (m->file_ok && has_dwarf(&fv))
		m->dw_src = &m->file;
	else if (dok && has_dwarf(&dv))
		m->dw_src = &m->debug;
	if (!m->dw_src)
		m->dw_state = -1;
	if (dok && !syms_in_debug && m->dw_src != &m->debug)
		unmap(&m->debug);
}

/* ---- names ---- */

/* Keep P (malloc'd) until symbolize_reset(); NULL if it cannot be kept. */
static char *
own(char *p)
{
	char **v;

	if (!p)
		return NULL;
	if (owned.n == owned.cap) {
		size_t cap = owned.cap ? 2 * owned.cap : 256;

		v = realloc(owned.v, cap * sizeof(*v));
		if (!v) {
			free(p);
			return NULL;
		}
		owned.v = v;
		owned.cap = cap;
	}
	owned.v[owned.n++] = p;
	return p;
}

static void
demangle_load(void)
{
	void *h, *fn;
	Dl_info di;

	demangle_state = -1;
	/*
	 * Prefer a C++ runtime the program already has; hold a reference on
	 * the object that provides it, so that a dlclose cannot take it away.
	 */
	fn = dlsym(RTLD_DEFAULT, "__cxa_demangle");
	if (fn && dladdr(fn, &di) && di.dli_fname &&
	    dlopen(di.dli_fname, RTLD_LAZY | RTLD_LOCAL | RTLD_NOLOAD)) {
		cxa_demangle = (cxa_demangle_fn *)fn;
		demangle_state = 1;
		return;
	}
	h = dlopen("libstdc++.so.6", RTLD_LAZY | RTLD_LOCAL | RTLD_NOLOAD);
	if (!h)
		h = dlopen("libstdc++.so.6", RTLD_LAZY | RTLD_LOCAL);
	if (!h)
		return;
	fn = dlsym(h, "__cxa_demangle");
	if (!fn) {
		dlclose(h);
		return;
	}
	cxa_demangle = (cxa_demangle_fn *)fn;
	demangle_state = 1;
}

/* NAME demangled (owned), or NULL when it is not a C++ name. */
static const char *
demangle(const char *name)
{
	int status = -1;
	char *d;

	if (strncmp(name, "_Z", 2) != 0)
		return NULL;
	if (!demangle_state)
		demangle_load();
	if (demangle_state < 0)
		return NULL;
	d = cxa_demangle(name, NULL, NULL, &status);
	if (status != 0) {
		free(d);
		return NULL;
	}
	return own(d);
}

static const char *
sym_name(struct func_sym *s)
{
	const char *d, *at;
	char *plain;

	if (s->demangled)
		return s->name;
	s->demangled = 1;
	/* glibc's .symtab says "clock_gettime@@GLIBC_2.17": drop the version. */
	at = strchr(s->name, '@');
	if (at && at != s->name) {
		plain = own(strndup(s->name, at - s->name));
		if (plain)
			s->name = plain;
	}
	d = demangle(s->name);
	if (d)
		s->name = d;
	return s->name;
}

static struct func_sym *
sym_find(struct module *m, uintptr_t addr)
{
	size_t lo = 0, hi = m->nsyms;
	struct func_sym *s;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->syms[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return NULL;
	s = &m->syms[lo - 1];
	/* Without a size, the nearest symbol before is the best guess. */
	if (s->size == 0 || addr - s->addr < s->size)
		return s;
	return NULL;
}

/* When the file could not be read: the loader's .dynsym, if still loaded. */
static void
dladdr_name(struct module *m, uintptr_t pc, uintptr_t at, struct sym_frame *out)
{
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	const char *name;
	Dl_info di;

	if (!dladdr((void *)at, &di) || !di.dli_sname || !di.dli_saddr ||
	    (uintptr_t)di.dli_fbase != (m->segs[0].start & ~(page - 1)))
		return;
	name = demangle(di.dli_sname);
	if (!name)
		name = own(strdup(di.dli_sname));
	if (!name)
		return;
	out->function = name;
	out->func_offset = pc - (uintptr_t)di.dli_saddr;
}

/* ---- DWARF lines, through libdw ---- */

static bool
libdw_load(void)
{
	void *h;

	if (dw.state)
		return dw.state > 0;
	dw.state = -1;
	h = dlopen(libdw_soname ? libdw_soname : REFSAN_LIBDW_SONAME,
	           RTLD_LAZY | RTLD_LOCAL);
	if (!h)
		return false;
#define DW_SYM(field, name)                                                    \
	if (!(dw.field = (__typeof__(dw.field))dlsym(h, #name)))               \
		goto fail;
	DW_SYM(elf_version, elf_version)
	DW_SYM(elf_memory, elf_memory)
	DW_SYM(elf_end, elf_end)
	DW_SYM(begin_elf, dwarf_begin_elf)
	DW_SYM(end, dwarf_end)
	DW_SYM(nextcu, dwarf_nextcu)
	DW_SYM(offdie, dwarf_offdie)
	DW_SYM(ranges, dwarf_ranges)
	DW_SYM(getsrc_die, dwarf_getsrc_die)
	DW_SYM(lineno, dwarf_lineno)
	DW_SYM(linesrc, dwarf_linesrc)
	DW_SYM(attr, dwarf_attr)
	DW_SYM(formstring, dwarf_formstring)
#undef DW_SYM
	if (dw.elf_version(EV_CURRENT) == EV_NONE)
		goto fail;
	dw.handle = h;
	dw.state = 1;
	return true;
fail:
	dlclose(h);
	memset(&dw, 0, sizeof(dw));
	dw.state = -1;
	return false;
}

static int
cu_cmp(const void *a, const void *b)
{
	const struct cu_range *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return 0;
}

/*
 * The address ranges of every compile unit, sorted.  Built from the units
 * themselves rather than .debug_aranges, which clang does not emit.
 */
static bool
cu_index(struct module *m)
{
	Dwarf_Off off = 0, next;
	size_t hsize, n = 0, cap = 0, i;
	struct cu_range *v = NULL, *tmp;

	while (dw.nextcu(m->dwarf, off, &next, &hsize, NULL, NULL, NULL) == 0) {
		Dwarf_Addr base, start, end;
		Dwarf_Die cu;
		ptrdiff_t it = 0;

		if (dw.offdie(m->dwarf, off + hsize, &cu)) {
			while ((it = dw.ranges(&cu, it, &base, &start, &end)) >
			       0) {
				if (end <= start)
					continue;
				if (n == cap) {
					cap = cap ? 2 * cap : 256;
					tmp = realloc(v, cap * sizeof(*v));
					if (!tmp) {
						free(v);
						return false;
					}
					v = tmp;
				}
				v[n].start = start;
				v[n].end = end;
				v[n].die = cu;
				n++;
			}
		}
		off = next;
	}
	if (!n) {
		free(v);
		return false;
	}
	qsort(v, n, sizeof(*v), cu_cmp);
	for (i = 0; i < n; i++) {
		v[i].maxend = v[i].end;
		if (i && v[i - 1].maxend > v[i].maxend)
			v[i].maxend = v[i - 1].maxend;
	}
	m->cus = v;
	m->ncus = n;
	return true;
}

static void
dwarf_open(struct module *m)
{
	m->dw_state = -1;
	if (!m->dw_src || !libdw_load())
		return;
	m->elf = dw.elf_memory((char *)m->dw_src->p, m->dw_src->size);
	if (!m->elf)
		return;
	m->dwarf = dw.begin_elf(m->elf, DWARF_C_READ, NULL);
	if (m->dwarf && cu_index(m)) {
		m->dw_state = 1;
		return;
	}
	if (m->dwarf)
		dw.end(m->dwarf);
	dw.elf_end(m->elf);
	m->dwarf = NULL;
	m->elf = NULL;
}

/* Joined paths, each kept once so equal paths are the same pointer. */
static struct {
	char **v;
	size_t cap, n;
} paths;

static const char *
intern_path(char *p)
{
	size_t h = 5381, i;
	const char *c;

	if (paths.n * 2 >= paths.cap) {
		size_t cap = paths.cap ? paths.cap * 2 : 256, k;
		char **v = calloc(cap, sizeof(*v));
		if (!v)
			return own(p);
		for (k = 0; k < paths.cap; k++) {
			size_t hh = 5381;
			if (!paths.v[k])
				continue;
			for (c = paths.v[k]; *c; c++)
				hh = hh * 33 + (unsigned char)*c;
			for (i = hh & (cap - 1); v[i]; i = (i + 1) & (cap - 1))
				;
			v[i] = paths.v[k];
		}
		free(paths.v);
		paths.v = v;
		paths.cap = cap;
	}
	for (c = p; *c; c++)
		h = h * 33 + (unsigned char)*c;
	for (i = h & (paths.cap - 1); paths.v[i];
	     i = (i + 1) & (paths.cap - 1)) {
		if (strcmp(paths.v[i], p) == 0) {
			free(p);
			return paths.v[i];
		}
	}
	paths.v[i] = own(p);
	paths.n++;
	return paths.v[i];
}

/*
 * A relative source path is relative to its unit's DW_AT_comp_dir (meson
 * builds compile "../src/x.c" from the build directory): join the two and
 * fold "." and ".." so the report can show the path from the current
 * directory.  On any failure the relative name is kept.
 */
static const char *
join_comp_dir(Dwarf_Die *die, const char *file)
{
	Dwarf_Attribute at;
	const char *dir;
	char *joined, *out, *seg, *save = NULL;
	size_t len;

	if (!dw.attr(die, DW_AT_comp_dir, &at) ||
	    !(dir = dw.formstring(&at)) || dir[0] != '/')
		return file;
	len = strlen(dir) + strlen(file) + 2;
	joined = malloc(len);
	out = malloc(len + 1);
	if (!joined || !out) {
		free(joined);
		free(out);
		return file;
	}
	snprintf(joined, len, "%s/%s", dir, file);
	out[0] = 0;
	for (seg = strtok_r(joined, "/", &save); seg;
	     seg = strtok_r(NULL, "/", &save)) {
		if (strcmp(seg, ".") == 0)
			continue;
		if (strcmp(seg, "..") == 0) {
			char *slash = strrchr(out, '/');
			if (slash)
				*slash = 0;
			continue;
		}
		strcat(out, "/");
		strcat(out, seg);
	}
	free(joined);
	if (!out[0])
		strcpy(out, "/");
	return intern_path(out);
}

static void
dwarf_line(struct module *m, uintptr_t addr, struct sym_frame *out)
{
	size_t lo = 0, hi;
	struct cu_range *cu = NULL;
	Dwarf_Line *line;
	const char *file;
	int ln;

	if (!m->dw_state)
		dwarf_open(m);
	if (m->dw_state < 0)
		return;
	hi = m->ncus;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->cus[mid].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	while (lo-- > 0 && m->cus[lo].maxend > addr) {
		if (addr < m->cus[lo].end) {
			cu = &m->cus[lo];
			break;
		}
	}
	if (!cu)
		return;
	line = dw.getsrc_die(&cu->die, addr);
	if (!line || dw.lineno(line, &ln) != 0 || ln <= 0)
		return;
	file = dw.linesrc(line, NULL, NULL);
	if (!file)
		return;
	if (file[0] != '/')
		file = join_comp_dir(&cu->die, file);
	out->file = file;
	out->line = ln;
}

/* ---- the per-pc cache ---- */

static size_t
pc_hash(uintptr_t pc, int is_return)
{
	uint64_t h = ((uint64_t)pc << 1 | (uint64_t)is_return) *
	             0x9e3779b97f4a7c15ull;

	return (size_t)(h ^ (h >> 29));
}

static struct pc_slot *
pc_lookup(uintptr_t pc, int is_return)
{
	size_t i;

	if (!pc_cap)
		return NULL;
	for (i = pc_hash(pc, is_return) & (pc_cap - 1); pc_tab[i].used;
	     i = (i + 1) & (pc_cap - 1))
		if (pc_tab[i].pc == pc && pc_tab[i].is_return == is_return)
			return &pc_tab[i];
	return NULL;
}

static void
pc_insert(uintptr_t pc, int is_return, const struct sym_frame *f)
{
	size_t i;

	if ((pc_count + 1) * 4 > pc_cap * 3) {
		size_t cap = pc_cap ? 2 * pc_cap : 1024, j;
		struct pc_slot *tab = calloc(cap, sizeof(*tab));

		if (!tab)
			return;
		for (j = 0; j < pc_cap; j++) {
			if (!pc_tab[j].used)
				continue;
			i = pc_hash(pc_tab[j].pc, pc_tab[j].is_return) &
			    (cap - 1);
			while (tab[i].used)
				i = (i + 1) & (cap - 1);
			tab[i] = pc_tab[j];
		}
		free(pc_tab);
		pc_tab = tab;
		pc_cap = cap;
	}
	i = pc_hash(pc, is_return) & (pc_cap - 1);
	while (pc_tab[i].used)
		i = (i + 1) & (pc_cap - 1);
	pc_tab[i].used = 1;
	pc_tab[i].pc = pc;
	pc_tab[i].is_return = is_return;
	pc_tab[i].f = *f;
	pc_count++;
}

/* ---- the interface ---- */

static void
resolve(struct module *m, uintptr_t pc, uintptr_t at, struct sym_frame *out)
{
	uintptr_t addr = at - m->base;
	struct func_sym *s;

	out->module = m->name;
	out->module_path = m->path;
	out->offset = pc - m->base;
	module_load(m);
	s = m->nsyms ? sym_find(m, addr) : NULL;
	if (s) {
		out->function = sym_name(s);
		out->func_offset = pc - m->base - s->addr;
	} else if (!m->have_syms) {
		dladdr_name(m, pc, at, out);
	}
	dwarf_line(m, addr, out);
}

void
symbolize_pc(uintptr_t pc, int is_return, struct sym_frame *out)
{
	struct pc_slot *slot;
	struct module *m;
	unsigned long epoch;
	uintptr_t at;

	memset(out, 0, sizeof(*out));
	out->pc = pc;
	is_return = is_return ? 1 : 0;
	if (pc <= (uintptr_t)is_return)
		return;
	/* A return address: the call is the instruction before it. */
	at = pc - is_return;

	pthread_mutex_lock(&sym_lock);
	epoch = __atomic_load_n(&mods_epoch, __ATOMIC_ACQUIRE);
	if (epoch != pc_epoch) {
		/* Modules came or went: answers may change. */
		if (pc_tab)
			memset(pc_tab, 0, pc_cap * sizeof(*pc_tab));
		pc_count = 0;
		pc_epoch = epoch;
	}
	slot = pc_lookup(pc, is_return);
	if (slot) {
		*out = slot->f;
		goto out;
	}
	m = module_find(at);
	if (!m) {
		/* Loaded since the last note, perhaps (cheap if not). */
		symbolize_note_modules();
		m = module_find(at);
	}
	if (m)
		resolve(m, pc, at, out);
	pc_insert(pc, is_return, out);
out:
	pthread_mutex_unlock(&sym_lock);
}

static void
module_free(struct module *m)
{
	if (m->dwarf)
		dw.end(m->dwarf);
	if (m->elf)
		dw.elf_end(m->elf);
	unmap(&m->file);
	unmap(&m->debug);
	free(m->syms);
	free(m->cus);
	free(m->path);
	free(m->dl_name);
	free(m);
}

void
symbolize_reset(void)
{
	size_t i;

	pthread_mutex_lock(&sym_lock);
	pthread_mutex_lock(&scan_lock);
	pthread_mutex_lock(&mod_lock);
	for (i = 0; i < mods.n; i++)
		module_free(mods.v[i]);
	free(mods.v);
	free(mods.idx);
	memset(&mods, 0, sizeof(mods));
	__atomic_add_fetch(&mods_epoch, 1, __ATOMIC_RELEASE);
	__atomic_store_n(&seen_valid, 0, __ATOMIC_RELEASE);
	free(pc_tab);
	pc_tab = NULL;
	pc_cap = 0;
	pc_count = 0;
	for (i = 0; i < owned.n; i++)
		free(owned.v[i]);
	free(owned.v);
	memset(&owned, 0, sizeof(owned));
	free(paths.v);
	memset(&paths, 0, sizeof(paths));
	if (dw.handle)
		dlclose(dw.handle);
	memset(&dw, 0, sizeof(dw));
	pthread_mutex_unlock(&mod_lock);
	pthread_mutex_unlock(&scan_lock);
	pthread_mutex_unlock(&sym_lock);
}

void
symbolize_set_libdw(const char *soname)
{
	symbolize_reset();
	pthread_mutex_lock(&sym_lock);
	libdw_soname = soname;
	pthread_mutex_unlock(&sym_lock);
}

void
symbolize_fork_prepare(void)
{
	pthread_mutex_lock(&sym_lock);
	pthread_mutex_lock(&scan_lock);
	pthread_mutex_lock(&mod_lock);
}

void
symbolize_fork_release(void)
{
	pthread_mutex_unlock(&mod_lock);
	pthread_mutex_unlock(&scan_lock);
	pthread_mutex_unlock(&sym_lock);
}
