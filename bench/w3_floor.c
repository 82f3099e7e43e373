/*
 * w3_floor.c: what W3's release costs on this machine before refsan does
 * anything of its own, to read W3's figures against (docs/benchmarks.md,
 * "W3 release: the machine's floor").  Never run by run.py.
 *
 *   w3_floor latency MIB     ns per load of a random cycle through MIB
 *                            MiB, each load's address the previous
 *                            load's value (a cache miss when MIB passes
 *                            the caches), then of two such cycles at once
 *   w3_floor release N KEYS  W3's release loop (N handles of
 *                            libbenchobj, released in W3's random order);
 *                            with KEYS=1 each release first finds and
 *                            deletes its handle in a table of the handles'
 *                            values alone (8 bytes a slot, load 1/2,
 *                            linear probing): the least an exact check
 *                            before the call can do
 *
 * Prints "BENCH key=value" lines, times in nanoseconds of CPU.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void *bo_create(void);
void bo_release(void *obj);

static uint64_t
cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t
xorshift(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* The table's hash (handle_table.c's mix). */
static uint64_t
mix(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdull;
	k ^= k >> 33;
	k *= 0xc4ceb9fe1a85ec53ull;
	k ^= k >> 33;
	return k;
}

static int
latency(size_t mib)
{
	size_t n = mib * 1024 * 1024 / 64, i, steps = 4000000;
	char *mem = malloc(n * 64);
	size_t *order = malloc(n * sizeof(*order));
	uint64_t x = 88172645463325252ull, t0, t1, t2;
	void *a, *b;

	if (!mem || !order || n < 2)
		return 2;
	for (i = 0; i < n; i++)
		order[i] = i;
	for (i = n - 1; i > 0; i--) {
		size_t r = xorshift(&x) % (i + 1), t = order[i];
		order[i] = order[r];
		order[r] = t;
	}
	/* One line each, linked in the shuffled order: one cycle. */
	for (i = 0; i < n; i++)
		*(void **)(mem + order[i] * 64) = mem + order[(i + 1) % n] * 64;
	a = mem + order[0] * 64;
	b = mem + order[n / 2] * 64;
	t0 = cpu_ns();
	for (i = 0; i < steps; i++)
		a = *(void **)a;
	t1 = cpu_ns();
	for (i = 0; i < steps; i++) {
		a = *(void **)a;
		b = *(void **)b;
	}
	t2 = cpu_ns();
	printf("BENCH dependent_load_ns=%.1f\n", (double)(t1 - t0) / steps);
	printf("BENCH two_chains_ns=%.1f\n", (double)(t2 - t1) / steps);
	/* The chains' ends, so that the loads are not optimized away. */
	printf("BENCH end=%d\n", a == b);
	return 0;
}

static int
release(long n, int keys)
{
	void **h = malloc((size_t)n * sizeof(*h));
	size_t slots = 1, mask, j;
	uintptr_t *tab;
	uint64_t x = 0x9e3779b97f4a7c15u, t0, t1;
	long i, missing = 0;

	while (slots < 2 * (size_t)n)
		slots <<= 1;
	mask = slots - 1;
	tab = calloc(slots, sizeof(*tab));
	if (!h || !tab)
		return 2;
	for (i = 0; i < n; i++) {
		h[i] = bo_create();
		if (!keys)
			continue;
		for (j = mix((uintptr_t)h[i]) & mask; tab[j];
		     j = (j + 1) & mask)
			;
		tab[j] = (uintptr_t)h[i];
	}
	/* W3's order (bench/workloads.c, mode live). */
	for (i = n - 1; i > 0; i--) {
		long r = (long)(xorshift(&x) % (uint64_t)(i + 1));
		void *t = h[i];
		h[i] = h[r];
		h[r] = t;
	}
	t0 = cpu_ns();
	for (i = 0; i < n; i++) {
		if (keys) {
			/* Deleted slots become 1 (a tombstone): probes go
			 * past them, as past other keys. */
			for (j = mix((uintptr_t)h[i]) & mask;
			     tab[j] && tab[j] != (uintptr_t)h[i];
			     j = (j + 1) & mask)
				;
			if (!tab[j]) {
				missing++;
				continue;
			}
			tab[j] = 1;
		}
		bo_release(h[i]);
	}
	t1 = cpu_ns();
	printf("BENCH release_cpu_ns=%.1f\n", (double)(t1 - t0) / n);
	printf("BENCH missing=%ld\n", missing);
	return missing ? 1 : 0;
}

int
main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "latency"))
		return latency((size_t)atol(argv[2]));
	if (argc == 4 && !strcmp(argv[1], "release"))
		return release(atol(argv[2]), atoi(argv[3]));
	fprintf(stderr, "usage: w3_floor latency MIB | release N KEYS\n");
	return 2;
}
