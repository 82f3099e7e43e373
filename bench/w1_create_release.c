/*
 * w1_create_release.c: workload W1 of the benchmarks: N x (p = create();
 * release(p)) through libzoo, linked directly (create_dog mallocs the dog).
 * Usage: w1_create_release [N] [add_refs per handle]
 */
#include <stdio.h>
#include <stdlib.h>
#include "zoo.h"

int
main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 2000000, i;
	int refs = argc > 2 ? atoi(argv[2]) : 0, k;

	for (i = 0; i < n; i++) {
		struct dog *d = create_dog("w1");
		for (k = 0; k < refs; k++)
			add_ref(d);
		for (k = 0; k < refs; k++)
			release(d);
		release(d);
	}
	printf("w1: %ld create/release pairs, %ld live\n", n, zoo_live_count());
	return 0;
}
