/*
 * arena.h: the shim's own memory, straight from mmap, never from the
 * program's malloc (which may be the very thing under test, and is not
 * safe to call from every context a hook runs in).
 */
#ifndef REFSAN_ARENA_H
#define REFSAN_ARENA_H

#include <stddef.h>

/* SIZE bytes of zeroed, private, lazily committed memory, or NULL. */
void *arena_map(size_t size);
/* The same, with every page committed now by one system call: for memory
 * about to be written whole (a table being rehashed), where touching it
 * page by page would take one fault per page. */
void *arena_map_populate(size_t size);
/* Commit the pages of [P, P + SIZE) now (MADV_POPULATE_WRITE), in one
 * system call rather than a fault each; a no-op where unsupported. */
void arena_populate(void *p, size_t size);
/* SIZE bytes like arena_map, 2 MiB-aligned, advised for transparent huge
 * pages past the first SMALL bytes: for memory that every shard fills in
 * step, one row at a time, so that the rows in use fill whole huge pages
 * while a small process, which only touches the first rows, keeps 4 KiB
 * pages (and its RSS). */
void *arena_map_rows(size_t size, size_t small);
void arena_unmap(void *p, size_t size);

/* Give the pages back to the system; they read as zero again. */
void arena_discard(void *p, size_t size);

/* Tests: make the next N arena_map calls fail (N < 0: fail forever). */
void arena_fail_next(int n);

#endif
