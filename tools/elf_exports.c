/*
 * elf_exports.c: the exported functions of a shared library, read from
 * the file (elf_exports.h).  The file is untrusted input: every offset
 * and size is checked against the mapping before it is used.  Both ELF
 * classes are read, in the host's byte order.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "elf_exports.h"
#include "refsan_paths.h"

struct image {
	const unsigned char *base;
	size_t size;
};

/* Whether [off, off + len) lies inside the image. */
static int
in_image(const struct image *im, uint64_t off, uint64_t len)
{
	return off <= im->size && len <= im->size - off;
}

static int
cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* One symbol, whatever the class. */
struct sym {
	uint32_t name;
	unsigned char info, other;
	uint16_t shndx;
};

static int
add_name(struct elf_exports *ex, size_t *cap, const char *s)
{
	if (ex->n == *cap) {
		*cap = *cap ? *cap * 2 : 256;
		ex->names = xrealloc(ex->names, *cap * sizeof(*ex->names));
	}
	ex->names[ex->n++] = xstrdup(s);
	return 0;
}

#define READ_SECTIONS(Ehdr, Shdr, Sym)                                         \
	do {                                                                   \
		const Ehdr *eh = (const Ehdr *)im.base;                        \
		const Shdr *sh;                                                \
		size_t i, j;                                                   \
		if (eh->e_shentsize != sizeof(Shdr) || !eh->e_shoff ||         \
		    !in_image(&im, eh->e_shoff,                                \
		              (uint64_t)eh->e_shnum * sizeof(Shdr))) {         \
			snprintf(err, errlen, "no usable section headers");    \
			goto out;                                              \
		}                                                              \
		sh = (const Shdr *)(im.base + eh->e_shoff);                    \
		for (i = 0; i < eh->e_shnum; i++) {                            \
			const Shdr *str;                                       \
			if (sh[i].sh_type != SHT_DYNSYM)                       \
				continue;                                      \
			found = 1;                                             \
			if (sh[i].sh_link >= eh->e_shnum ||                    \
			    sh[i].sh_entsize != sizeof(Sym) ||                 \
			    !in_image(&im, sh[i].sh_offset, sh[i].sh_size)) {  \
				snprintf(err, errlen, "bad .dynsym section");  \
				goto out;                                      \
			}                                                      \
			str = &sh[sh[i].sh_link];                              \
			if (!in_image(&im, str->sh_offset, str->sh_size)) {    \
				snprintf(err, errlen, "bad .dynstr section");  \
				goto out;                                      \
			}                                                      \
			for (j = 0; j < sh[i].sh_size / sizeof(Sym); j++) {    \
				const Sym *s =                                 \
				        (const Sym *)(im.base +                \
				                      sh[i].sh_offset) +       \
				        j;                                     \
				struct sym y = { s->st_name, s->st_info,       \
					         s->st_other, s->st_shndx };   \
				const char *nm;                                \
				if (!keep(&y))                                 \
					continue;                              \
				if (y.name >= str->sh_size)                    \
					continue;                              \
				nm = (const char *)im.base + str->sh_offset +  \
				     y.name;                                   \
				if (!memchr(nm, '\0', str->sh_size - y.name))  \
					continue;                              \
				add_name(ex, &cap, nm);                        \
			}                                                      \
		}                                                              \
	} while (0)

/* A defined, visible function (or data: specs name functions, but a
 * function pointer variable is no use to them). */
static int
keep(const struct sym *y)
{
	unsigned bind = ELF64_ST_BIND(y->info), type = ELF64_ST_TYPE(y->info);
	unsigned vis = ELF64_ST_VISIBILITY(y->other);

	if (y->shndx == SHN_UNDEF || !y->name)
		return 0;
	if (bind != STB_GLOBAL && bind != STB_WEAK && bind != STB_GNU_UNIQUE)
		return 0;
	if (type != STT_FUNC && type != STT_GNU_IFUNC)
		return 0;
	return vis == STV_DEFAULT || vis == STV_PROTECTED;
}

int
elf_exports_read(const char *path, struct elf_exports *ex, char *err,
                 size_t errlen)
{
	struct image im = { NULL, 0 };
	size_t cap = 0, i, k;
	struct stat st;
	void *map = MAP_FAILED;
	int fd, r = -1, found = 0;

	memset(ex, 0, sizeof(*ex));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st)) {
		snprintf(err, errlen, "%s", strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_size < (off_t)sizeof(Elf32_Ehdr)) {
		snprintf(err, errlen, "not an ELF file");
		goto out;
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED) {
		snprintf(err, errlen, "%s", strerror(errno));
		goto out;
	}
	im.base = map;
	im.size = (size_t)st.st_size;
	if (memcmp(im.base, ELFMAG, SELFMAG) != 0) {
		snprintf(err, errlen, "not an ELF file");
		goto out;
	}
	if (im.base[EI_DATA] != (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	                                 ? ELFDATA2LSB
	                                 : ELFDATA2MSB)) {
		snprintf(err, errlen, "an ELF file of the other byte order");
		goto out;
	}
	if (im.base[EI_CLASS] == ELFCLASS64) {
		if (im.size < sizeof(Elf64_Ehdr)) {
			snprintf(err, errlen, "truncated ELF header");
			goto out;
		}
		READ_SECTIONS(Elf64_Ehdr, Elf64_Shdr, Elf64_Sym);
	} else if (im.base[EI_CLASS] == ELFCLASS32) {
		READ_SECTIONS(Elf32_Ehdr, Elf32_Shdr, Elf32_Sym);
	} else {
		snprintf(err, errlen, "unknown ELF class");
		goto out;
	}
	if (!found) {
		snprintf(err, errlen,
		         "no dynamic symbol table (not a shared "
		         "library?)");
		goto out;
	}
	qsort(ex->names, ex->n, sizeof(*ex->names), cmp_name);
	for (i = k = 0; i < ex->n; i++) {
		if (k && strcmp(ex->names[k - 1], ex->names[i]) == 0) {
			free(ex->names[i]);
			continue;
		}
		ex->names[k++] = ex->names[i];
	}
	ex->n = k;
	r = 0;
out:
	if (map != MAP_FAILED)
		munmap(map, im.size);
	if (fd >= 0)
		close(fd);
	if (r)
		elf_exports_free(ex);
	return r;
}

void
elf_exports_free(struct elf_exports *ex)
{
	size_t i;

	for (i = 0; i < ex->n; i++)
		free(ex->names[i]);
	free(ex->names);
	memset(ex, 0, sizeof(*ex));
}

int
elf_exports_has(const struct elf_exports *ex, const char *name)
{
	return ex->n && bsearch(&name, ex->names, ex->n, sizeof(*ex->names),
	                        cmp_name) != NULL;
}

static char *
in_dirs(const char *dirs, const char *name)
{
	const char *d = dirs;

	while (d && *d) {
		size_t len = strcspn(d, ":;");
		char *p;

		if (len) {
			p = xasprintf("%.*s/%s", (int)len, d, name);
			if (access(p, R_OK) == 0)
				return p;
			free(p);
		}
		d += len;
		if (*d)
			d++;
	}
	return NULL;
}

/* "\tlibz.so.1 (libc6,x86-64) => /lib/x86_64-linux-gnu/libz.so.1" */
static char *
from_ldconfig(const char *name)
{
	static const char *const tools[] = { "/sbin/ldconfig",
		                             "/usr/sbin/ldconfig" };
	char line[4096], *found = NULL;
	size_t i, n = strlen(name);

	for (i = 0; i < sizeof(tools) / sizeof(tools[0]) && !found; i++) {
		char *cmd;
		FILE *f;

		if (access(tools[i], X_OK))
			continue;
		cmd = xasprintf("%s -p 2>/dev/null", tools[i]);
		f = popen(cmd, "r");
		free(cmd);
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f)) {
			char *p = line, *arrow;

			while (*p == ' ' || *p == '\t')
				p++;
			if (strncmp(p, name, n) != 0 || p[n] != ' ')
				continue;
			arrow = strstr(p, "=> ");
			if (!arrow || found)
				continue;
			arrow += 3;
			arrow[strcspn(arrow, "\n")] = '\0';
			found = xstrdup(arrow);
		}
		pclose(f);
	}
	return found;
}

char *
elf_find_library(const char *name)
{
	char *p;

	if (strchr(name, '/'))
		return access(name, R_OK) == 0 ? xstrdup(name) : NULL;
	if ((p = in_dirs(getenv("LD_LIBRARY_PATH"), name)))
		return p;
	if ((p = from_ldconfig(name)))
		return p;
	return in_dirs("/lib/" REFSAN_MULTIARCH ":/usr/lib/" REFSAN_MULTIARCH
	               ":/lib64:/usr/lib64:/lib:/usr/lib:/usr/local/lib",
	               name);
}
