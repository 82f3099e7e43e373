/*
 * arena.c: mmap-backed memory for the handle table, the stack depot and the
 * error log.  Mappings are MAP_NORESERVE: a large reservation costs nothing
 * until it is touched, so each structure can be sized for its worst case
 * up front and grow into it without further system calls on the hot path.
 */
#include <sys/mman.h>
#include <stdatomic.h>
#include "arena.h"

static atomic_int fail_next;

void
arena_fail_next(int n)
{
	atomic_store(&fail_next, n);
}

static void *
map(size_t size, int extra)
{
	int f = atomic_load(&fail_next);
	void *p;

	if (f != 0) {
		if (f > 0)
			atomic_fetch_sub(&fail_next, 1);
		return NULL;
	}
	p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | extra, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

void *
arena_map(size_t size)
{
	return map(size, 0);
}

void *
arena_map_populate(size_t size)
{
	return map(size, MAP_POPULATE);
}

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

void
arena_populate(void *p, size_t size)
{
	static atomic_int unsupported;

	if (!p || !size || atomic_load_explicit(&unsupported,
						memory_order_relaxed))
		return;
	if (madvise(p, size, MADV_POPULATE_WRITE) != 0)
		atomic_store_explicit(&unsupported, 1, memory_order_relaxed);
}

void
arena_unmap(void *p, size_t size)
{
	if (p)
		munmap(p, size);
}

void
arena_discard(void *p, size_t size)
{
	if (p)
		madvise(p, size, MADV_DONTNEED);
}
