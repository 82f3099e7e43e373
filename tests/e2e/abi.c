/*
 * abi.c: calls libzoo's functions of awkward signatures (8 integers, 2
 * doubles and a string; 16-byte structs in rax:rdx and xmm0:xmm1; a
 * 32-byte struct in memory; long double on the x87 stack; varargs mixing
 * integers and doubles; 10 arguments, 4 of them on the stack; recursion
 * through hooked functions; errno set by a hooked function) and prints
 * every result.  The e2e runner compares the output bare and under refsan
 * with specs that route them through enter-only and return-hijacking
 * trampolines: it must be identical.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "zoo.h"

int
main(void)
{
	struct zoo_pair p;
	struct zoo_dpair dp;
	struct zoo_big b;
	long double ld;
	struct dog *d;
	void *pick;
	int e;

	for (int i = 0; i < 3; i++) {
		double m = zoo_mix(0, 2 + i, -3, 4, 5, 6, 7, 8 + i, 1.5, -2.25,
		                   "abcdef");
		printf("mix %.17g\n", m);
		p = zoo_pair(40 + i, 0);
		printf("pair %ld %ld\n", p.a, p.b);
		dp = zoo_dpair(3.5 + i, -8.0);
		printf("dpair %.17g %.17g\n", dp.x, dp.y);
		b = zoo_big(1 + i, 2, 3, 0);
		printf("big %ld %ld %ld %ld\n", b.v[0], b.v[1], b.v[2], b.v[3]);
		ld = zoo_ldouble(1.25L + i, 3, NULL);
		printf("ldouble %.21Lg\n", ld);
		printf("varsum %.17g\n",
		       zoo_varsum(6, 3L, 0L, 0.5, 7L, 2.25, 11L, 0.125));
		pick = zoo_pick8((void *)1, (void *)2, (void *)3, (void *)4,
		                 (void *)5, (void *)6, (void *)7, (void *)8,
		                 NULL, (void *)10);
		printf("pick %p\n", pick);
		printf("recurse %ld\n", zoo_recurse(20 + i));
	}
	errno = 0;
	d = zoo_create_errno(EILSEQ);
	e = errno;
	printf("errno %s\n", e == EILSEQ ? "kept" : strerror(e));
	release(d);
	printf("live %ld\n", zoo_live_count());
	return 0;
}
