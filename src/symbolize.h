/*
 * symbolize.h: program counters to module, offset, function, file and line,
 * at report time only.  Modules are remembered while loaded (dl_iterate_phdr
 * snapshots, refreshed on demand) so that a library closed with dlclose
 * still symbolizes: symbolize_note_modules() is called whenever a stack is
 * first stored, cheaply (it only rescans when the set of loaded objects
 * changed, see dl_iterate_phdr's dlpi_adds).
 */
#ifndef REFSAN_SYMBOLIZE_H
#define REFSAN_SYMBOLIZE_H

#include <stdint.h>
#include <stddef.h>

struct sym_frame {
	uintptr_t pc;
	const char *module;      /* base name, "libzoo.so"; NULL if unknown */
	const char *module_path; /* full path; NULL if unknown */
	uintptr_t offset;        /* pc - module load base */
	const char *function;    /* demangled; NULL if unknown */
	uintptr_t func_offset;   /* pc - function start */
	const char *file;        /* as DWARF has it; NULL if unknown */
	unsigned line;           /* 0 if unknown */
};

/* Record the loaded modules now (cheap when nothing changed). */
void symbolize_note_modules(void);

/*
 * Symbolize PC.  PC is a return address for every frame but the first of a
 * stack: pass is_return=1 so that the line of the call (pc - 1) is found.
 * Strings live until symbolize_reset().  Never fails: unknown parts NULL.
 */
void symbolize_pc(uintptr_t pc, int is_return, struct sym_frame *out);

/* Drop caches (tests). */
void symbolize_reset(void);

/*
 * Tests: take libdw from SONAME (NULL: REFSAN_LIBDW_SONAME); a name that does
 * not load stands for a system without libdw.  Resets as symbolize_reset().
 */
void symbolize_set_libdw(const char *soname);

/*
 * fork: prepare takes this module's locks (in a pthread_atfork prepare
 * handler, in the shim's fixed order); release drops them, in the parent
 * and in the child.
 */
void symbolize_fork_prepare(void);
void symbolize_fork_release(void);

#endif
