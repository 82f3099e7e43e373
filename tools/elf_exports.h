/*
 * elf_exports.h: the functions a shared library exports, read from its
 * .dynsym without loading it (`refsan spec check --lib`): loading would
 * run the library's constructors, and a spec is often checked on a build
 * machine where the library cannot even be loaded.
 */
#ifndef REFSAN_ELF_EXPORTS_H
#define REFSAN_ELF_EXPORTS_H

#include <stddef.h>

struct elf_exports {
	char **names; /* sorted, unique */
	size_t n;
};

/*
 * Read the defined functions of the dynamic symbol table of PATH.  0, or
 * -1 with a message in ERR.
 */
int elf_exports_read(const char *path, struct elf_exports *ex, char *err,
                     size_t errlen);
void elf_exports_free(struct elf_exports *ex);
/* Whether NAME is exported. */
int elf_exports_has(const struct elf_exports *ex, const char *name);

/*
 * The path of library NAME: NAME itself when it holds a '/', else as the
 * dynamic linker would find it (LD_LIBRARY_PATH, the ld.so cache through
 * ldconfig -p, the default directories).  A malloc'd path, or NULL.
 */
char *elf_find_library(const char *name);

#endif
