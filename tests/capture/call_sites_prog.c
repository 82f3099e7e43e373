/*
 * call_sites_prog.c: hooked calls whose call sites look alike to a memo
 * keyed at the call site (call_site.c), for test_call_sites.py.
 *
 * make() calls create_dog, and drop() calls release, always from the same
 * instruction and (called at the same depth) with the same return-address
 * slot; what differs is the frame above: via_a or via_b, called through
 * one function pointer from one instruction in an order the pattern
 * decides, so that only one return-address slot in the middle of the
 * stack tells the two stacks apart.  rec() reaches make() at depths 1 to
 * 4, to be cut by a small stack_depth.  Each dog made is leaked (counted
 * per site by the report), or released twice (the second release is an
 * error, counted per site).  Built with -O2: no frame pointers, the case
 * the caches must handle.
 *
 * With K, only the first loop, with K frames of hop() between via_a or
 * via_b and make(): the frame that tells the stacks apart is then the
 * memo's frame K + 1, at every place in a turn of its check (call_site.c
 * checks a site's frames four at a time, the last turn padded).
 *
 *   call_sites_prog N [K]   prints nothing; exits as refsan decides
 */
#include <stdlib.h>
#include "zoo.h"

#define NOINLINE __attribute__((noinline, noipa))

static struct dog *volatile sink;

NOINLINE static void
make(int twice)
{
	struct dog *d = create_dog("rex");

	if (twice) {
		release(d);
		release(d); /* the double release, reported at this stack */
	}
	sink = d;
}

static int hops;

NOINLINE static void
hop(int k, int twice)
{
	if (k <= 1)
		make(twice);
	else
		hop(k - 1, twice);
	__asm__ volatile("" ::: "memory"); /* not a tail call */
}

NOINLINE static void
via_a(int twice)
{
	if (hops)
		hop(hops, twice);
	else
		make(twice);
	__asm__ volatile("" ::: "memory");
}

NOINLINE static void
via_b(int twice)
{
	if (hops)
		hop(hops, twice);
	else
		make(twice);
	__asm__ volatile("" ::: "memory");
}

NOINLINE static void
rec(int depth)
{
	if (depth == 0)
		make(0);
	else
		rec(depth - 1);
	__asm__ volatile("" ::: "memory");
}

int
main(int argc, char **argv)
{
	void (*volatile fn[2])(int) = {via_a, via_b};
	int n = argc > 1 ? atoi(argv[1]) : 1000, i;
	unsigned x = 12345;

	hops = argc > 2 ? atoi(argv[2]) : 0;
	for (i = 0; i < n; i++) {
		/* a: 1 in 3 (x's low bits, a fixed pseudo-random order) */
		x = x * 1103515245u + 12345u;
		fn[(x >> 16) % 3 != 0](i % 2);
	}
	for (i = 0; i < n && !hops; i++)
		rec(1 + i % 4);
	return 0;
}
