/*
 * bench_api.c: the cost of the engine through the C API, under the preload:
 * ns per annotated create (from 16 frames deep, so every create captures a
 * 16+-frame stack) and per release, with 1 and 2 threads, at 1k and 1M
 * live handles, and bytes of RSS per live handle at 1M.  Handles are fake
 * addresses: no malloc in the loop, only refsan's own work is timed.
 *
 *   LD_PRELOAD=build/src/librefsan.so build/bench/bench_api
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "refsan.h"

#define BATCH 1000
#define ROUNDS 200

static double
now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static long
rss_kb(void)
{
	long pages = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
			rss = 0;
		fclose(f);
	}
	return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

/* Create BATCH handles from DEPTH frames down. */
static __attribute__((noinline)) void
create_at(int depth, uintptr_t base)
{
	uintptr_t i;

	if (depth > 0) {
		create_at(depth - 1, base);
		__asm__ volatile("" ::: "memory"); /* no tail call */
		return;
	}
	for (i = 0; i < BATCH; i++)
		refsan_handle_created((void *)(base + i * 16), "bench");
}

static __attribute__((noinline)) void
release_at(int depth, uintptr_t base)
{
	uintptr_t i;

	if (depth > 0) {
		release_at(depth - 1, base);
		__asm__ volatile("" ::: "memory");
		return;
	}
	for (i = 0; i < BATCH; i++)
		refsan_handle_released((void *)(base + i * 16));
}

struct job {
	uintptr_t base;
	double create_ns, release_ns;
};

static void *
run(void *arg)
{
	struct job *j = arg;
	double tc = 0, tr = 0, t0;
	int r;

	for (r = 0; r < ROUNDS; r++) {
		t0 = now();
		create_at(16, j->base);
		tc += now() - t0;
		t0 = now();
		release_at(16, j->base);
		tr += now() - t0;
	}
	j->create_ns = tc * 1e9 / (ROUNDS * BATCH);
	j->release_ns = tr * 1e9 / (ROUNDS * BATCH);
	return NULL;
}

static void
measure(const char *label, int threads)
{
	pthread_t t[2];
	struct job j[2];
	int i;

	for (i = 0; i < threads; i++) {
		j[i].base = ((uintptr_t)(i + 1) << 40);
		pthread_create(&t[i], NULL, run, &j[i]);
	}
	for (i = 0; i < threads; i++)
		pthread_join(t[i], NULL);
	printf("| %-10s | %d | %8.1f | %8.1f |\n", label, threads,
	       (j[0].create_ns + j[threads - 1].create_ns) / 2,
	       (j[0].release_ns + j[threads - 1].release_ns) / 2);
}

int
main(void)
{
	const uintptr_t live = 1000000;
	uintptr_t base = (uintptr_t)7 << 40, i;
	long before, after;

	if (!refsan_handle_created) {
		fprintf(stderr, "bench_api: run with LD_PRELOAD=build/src/librefsan.so\n");
		return 2;
	}
	printf("| live       | threads | create ns | release ns |\n");
	printf("|---|---|---|---|\n");
	for (i = 0; i < 1000; i++)
		refsan_handle_created((void *)(base + i * 16), "bench");
	measure("1k", 1);
	measure("1k", 2);
	before = rss_kb();
	for (i = 1000; i < live; i++)
		refsan_handle_created((void *)(base + i * 16), "bench");
	after = rss_kb();
	measure("1M", 1);
	measure("1M", 2);
	printf("\nbytes per live handle at 1M: %.1f (RSS %+ld KiB for %lu handles)\n",
	       (after - before) * 1024.0 / (live - 1000), after - before,
	       (unsigned long)(live - 1000));
	for (i = 0; i < live; i++)
		refsan_handle_released((void *)(base + i * 16));
	return 0;
}
