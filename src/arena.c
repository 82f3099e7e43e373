/*
 * arena.c: mmap-backed memory for the handle table, the stack depot and the
 * error log.  Mappings are MAP_NORESERVE: a large reservation costs nothing
 * until it is touched, so each structure can be sized for its worst case
 * up front and grow into it without further system calls on the hot path.
 *
 * arena_map_rows serves the handle table's big structures, which all 64
 * shards fill in step: past their first megabytes they are advised for
 * transparent huge pages, since a table probed at random over megabytes
 * misses the TLB on nearly every probe in 4 KiB pages.
 */
#include <sys/mman.h>
#include <stdatomic.h>
#include <stdint.h>
#include "arena.h"

#define HUGE_PAGE ((size_t)2 << 20)
#ifndef MADV_HUGEPAGE
#define MADV_HUGEPAGE 14
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

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

void *
arena_map_rows(size_t size, size_t small)
{
	size_t slack;
	char *m, *p;

	if (atomic_load(&fail_next) != 0)
		return arena_map(size); /* counts and fails */
	m = mmap(NULL, size + HUGE_PAGE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	p = (char *)(((uintptr_t)m + HUGE_PAGE - 1) &
		     ~(uintptr_t)(HUGE_PAGE - 1));
	/* Trim the alignment slack, so that arena_unmap(P, SIZE) is whole. */
	slack = (size_t)(p - m);
	if (slack)
		munmap(m, slack);
	munmap(p + size, HUGE_PAGE - slack);
	small = (small + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
	if (small < size)
		madvise(p + small, size - small, MADV_HUGEPAGE);
	return p;
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
