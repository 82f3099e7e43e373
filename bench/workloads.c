/*
 * workloads.c: the C workloads of the benchmarks (bench/run.py), over
 * libbenchobj (bo_create mallocs 32 bytes).  Built twice: by meson with the
 * project's compiler (bare, refsan, heaptrack, valgrind) and by run.py with
 * clang -fsanitize=leak (LeakSanitizer).  Each mode prints "BENCH key=value"
 * lines that run.py parses; times are CLOCK_MONOTONIC nanoseconds.
 *
 *   workloads loop THREADS N K   W1 (K=0), W2 (K>0), W4 (THREADS=2): each
 *                                thread does N x (p = create(); K x (ref;
 *                                release); release(p))
 *   workloads live N EXTRA       W3: N live handles (create), EXTRA more
 *                                creates at N live, then all released in a
 *                                random order
 *   workloads leaks SITES PER    exit report: SITES distinct creation stacks
 *                                (SITES a power of 10), PER leaked handles
 *                                each; prints the time of the last create
 *
 * And three that measure what W3 costs this machine before refsan does
 * anything (docs/benchmarks.md, "W3 release: the machine's floor" and
 * "W3 release: a model of the table's layout"), run by hand (latency by
 * run.py too, for its header):
 *
 *   workloads latency MIB        ns per load of a random cycle through MIB
 *                                MiB, each load's address the previous
 *                                load's value (a cache miss once MIB passes
 *                                the caches), then of two such cycles at once
 *   workloads keys N KEYS        W3's release loop over N handles; with
 *                                KEYS=1 each release first finds and deletes
 *                                its handle in a table of the handles' values
 *                                alone (8 bytes a slot, load 1/2, linear
 *                                probing): the least an exact check before
 *                                the call can do
 *   workloads model N LAYOUT PRE POST [LOAD]
 *                                W3's release loop behind a model of a
 *                                table layout (none, state inline in the
 *                                slot, or slot then record as refsan's), at
 *                                a load (percent, default 50), and of the
 *                                instructions around the lookup: what a
 *                                design could reach (see mode_model)
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void *bo_create(void);
void bo_ref(void *obj);
void bo_release(void *obj);

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* CPU time of the whole process (every thread): robust when the machine is
 * busy, where wall time counts the time spent waiting for a core. */
static uint64_t
cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
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

/* ---- loop: W1, W2, W4 ---- */

struct job {
	long n;
	int k;
	pthread_barrier_t *start;
};

static void *
loop(void *arg)
{
	struct job *j = arg;
	long i;
	int k;

	if (j->start)
		pthread_barrier_wait(j->start);
	for (i = 0; i < j->n; i++) {
		void *p = bo_create();
		for (k = 0; k < j->k; k++) {
			bo_ref(p);
			bo_release(p);
		}
		bo_release(p);
	}
	return NULL;
}

static int
mode_loop(int threads, long n, int k)
{
	pthread_t t[64];
	pthread_barrier_t start;
	struct job j = {n, k, NULL};
	uint64_t t0, t1, c0, c1;
	int i;

	if (threads < 1 || threads > 64)
		return 2;
	if (threads == 1) {
		t0 = now_ns();
		c0 = cpu_ns();
		loop(&j);
		c1 = cpu_ns();
		t1 = now_ns();
	} else {
		pthread_barrier_init(&start, NULL, threads + 1);
		j.start = &start;
		for (i = 0; i < threads; i++)
			pthread_create(&t[i], NULL, loop, &j);
		c0 = cpu_ns();
		pthread_barrier_wait(&start);
		t0 = now_ns();
		for (i = 0; i < threads; i++)
			pthread_join(t[i], NULL);
		t1 = now_ns();
		c1 = cpu_ns();
	}
	printf("BENCH loop_ns=%llu\n", (unsigned long long)(t1 - t0));
	printf("BENCH loop_cpu_ns=%llu\n", (unsigned long long)(c1 - c0));
	printf("BENCH ops=%ld\n", n * threads);
	return 0;
}

/* ---- live: W3 ---- */

static uint64_t
xorshift(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* W3's release order: Fisher-Yates with xorshift64, the same in every
 * run. */
static void
shuffle(void **h, long n)
{
	uint64_t x = 0x9e3779b97f4a7c15u;
	long i;

	for (i = n - 1; i > 0; i--) {
		long r = (long)(xorshift(&x) % (uint64_t)(i + 1));
		void *tmp = h[i];
		h[i] = h[r];
		h[r] = tmp;
	}
}

static int
mode_live(long n, long extra)
{
	void **h = malloc((size_t)(n + extra) * sizeof(*h));
	uint64_t t[4], c[4], te, ce;
	long i, rss0, rss1;

	if (!h)
		return 2;
	memset(h, 0, (size_t)(n + extra) * sizeof(*h)); /* touch: not in the delta */
	rss0 = rss_kb();
	t[0] = now_ns();
	c[0] = cpu_ns();
	for (i = 0; i < n; i++)
		h[i] = bo_create();
	c[1] = cpu_ns();
	t[1] = now_ns();
	rss1 = rss_kb();
	t[2] = now_ns();
	c[2] = cpu_ns();
	for (i = n; i < n + extra; i++)
		h[i] = bo_create();
	c[3] = cpu_ns();
	t[3] = now_ns();
	shuffle(h, n + extra);
	te = now_ns();
	ce = cpu_ns();
	for (i = 0; i < n + extra; i++)
		bo_release(h[i]);
	ce = cpu_ns() - ce;
	te = now_ns() - te;
	printf("BENCH create_ns=%.1f\n", (double)(t[1] - t[0]) / n);
	printf("BENCH create_cpu_ns=%.1f\n", (double)(c[1] - c[0]) / n);
	if (extra) {
		printf("BENCH create_at_live_ns=%.1f\n", (double)(t[3] - t[2]) / extra);
		printf("BENCH create_at_live_cpu_ns=%.1f\n", (double)(c[3] - c[2]) / extra);
	}
	printf("BENCH release_ns=%.1f\n", (double)te / (n + extra));
	printf("BENCH release_cpu_ns=%.1f\n", (double)ce / (n + extra));
	printf("BENCH live_rss_kb=%ld\n", rss1 - rss0);
	printf("BENCH loop_ns=%llu\n", (unsigned long long)(t[1] - t[0] + t[3] - t[2] + te));
	printf("BENCH loop_cpu_ns=%llu\n", (unsigned long long)(c[1] - c[0] + c[3] - c[2] + ce));
	free(h);
	return 0;
}

/* ---- latency and keys: the machine's floor under W3 ---- */

static int
mode_latency(size_t mib)
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

/* The table's hash (a copy of handle_table.c's mix, on purpose: this
 * imitates the table's lookup). */
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
mode_keys(long n, int keys)
{
	void **h = malloc((size_t)n * sizeof(*h));
	size_t slots = 1, mask, j;
	uintptr_t *tab;
	uint64_t t0, t1;
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
	shuffle(h, n);
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

/* ---- model: what a table's layout could reach under W3's release ---- */

/* A handle's state in the model's tables, as big as refsan's record: its
 * value, a count and flags word (1: live, 2: released), and two more
 * words (refsan's creation stack and sequence number). */
struct model_rec {
	uintptr_t key;
	uint32_t state;
	uint32_t stack, seq;
} __attribute__((packed, aligned(4)));
_Static_assert(sizeof(struct model_rec) == 20, "refsan's record size");

/* About 6 * N instructions (three independent adds and the loop's own),
 * none of them memory: the work an intercepted call does besides its
 * table's loads, as refsan's stack capture before the lookup and its
 * bookkeeping after.  Seeded with V, so that work after a load waits for
 * it, as the table's does. */
static uint64_t
burn(uint64_t v, long n)
{
	uint64_t a = v, b = v + 1, c = v + 2;
	long i;

	for (i = 0; i < n; i++)
		__asm__ volatile("add $1, %0\n\tadd $1, %1\n\tadd $1, %2"
				 : "+r"(a), "+r"(b), "+r"(c));
	return a ^ b ^ c;
}

/* The home slot of hash X among SLOTS (any count, not only powers of
 * two: a table grown by less than 2x). */
static size_t
model_home(uint64_t x, size_t slots)
{
	return (size_t)(((unsigned __int128)x * slots) >> 64);
}

/*
 * W3's release loop behind a model of a table's lookup, to tell what a
 * layout costs this machine before the code around it does:
 * LAYOUT 0 none (bare); 1 each handle's state inline in its slot (20
 * bytes a slot): one line or two to miss; 2 a slot of 4 bytes (tag and
 * record number) naming a 20-byte record kept apart, in creation order,
 * as handle_table.c does: two lines, the second found by the first.
 * LOAD is the table's load in percent (linear probing).  Each release
 * prefetches the object and what the layout can (the home slot's line
 * and, inline, the next one; with layout 2 also the record the home slot
 * names, as handle_table_prefetch), then runs PRE x 6 instructions, the
 * lookup, POST x 6 instructions that wait for the record found, marks the
 * handle released, and calls bo_release.
 */
static int
mode_model(long n, int layout, long pre, long post, long load)
{
	void **h = malloc((size_t)n * sizeof(*h));
	size_t slots, j;
	struct model_rec *tab = NULL, *recs = NULL;
	uint32_t *idx = NULL;
	uint64_t t0, t1, sink = 0;
	long i, missing = 0;

	if (n <= 0 || n >= (1l << 21) || layout < 0 || layout > 2 ||
	    pre < 0 || post < 0 || load < 10 || load > 95) {
		fprintf(stderr, "workloads model: wanted N from 1 to %ld, LAYOUT "
			"0 to 2, PRE and POST >= 0, LOAD from 10 to 95\n",
			(1l << 21) - 1);
		return 2;
	}
	if (!h)
		return 2;
	slots = (size_t)n * 100 / (size_t)load + 1;
	if (layout == 1 && !(tab = calloc(slots, sizeof(*tab))))
		return 2;
	if (layout == 2 && (!(idx = calloc(slots, sizeof(*idx))) ||
			    !(recs = calloc((size_t)n + 1, sizeof(*recs)))))
		return 2;
	for (i = 0; i < n; i++) {
		uintptr_t k = (uintptr_t)(h[i] = bo_create());
		uint64_t x = mix(k);

		for (j = model_home(x, slots); layout == 1 && tab[j].key;
		     j = j + 1 == slots ? 0 : j + 1)
			;
		if (layout == 1)
			tab[j] = (struct model_rec){k, 1, 0, 0};
		for (j = model_home(x, slots); layout == 2 && idx[j];
		     j = j + 1 == slots ? 0 : j + 1)
			;
		if (layout == 2) {
			recs[i + 1] = (struct model_rec){k, 1, 0, 0};
			idx[j] = (uint32_t)(x >> 53) << 21 | (uint32_t)(i + 1);
		}
	}
	shuffle(h, n);
	t0 = cpu_ns();
	for (i = 0; i < n; i++) {
		uintptr_t k = (uintptr_t)h[i];
		uint64_t x = mix(k), tag = (x >> 53) << 21, v;
		size_t home = model_home(x, slots);
		struct model_rec *r = NULL;

		__builtin_prefetch(h[i]);
		if (layout == 1) {
			/* A probe of 2.5 slots on average at load 3/4:
			 * past the home line often. */
			__builtin_prefetch(&tab[home]);
			__builtin_prefetch((char *)&tab[home] + 64);
		}
		if (layout == 2) {
			v = __atomic_load_n(&idx[home], __ATOMIC_RELAXED);
			if ((v & ~0x1fffffu) == tag)
				__builtin_prefetch(&recs[v & 0x1fffff]);
		}
		sink += burn(k, pre);
		for (j = home; layout == 1 && tab[j].key;
		     j = j + 1 == slots ? 0 : j + 1)
			if (tab[j].key == k) {
				r = &tab[j];
				break;
			}
		for (j = home; layout == 2 && (v = idx[j]);
		     j = j + 1 == slots ? 0 : j + 1)
			if ((v & ~0x1fffffu) == tag &&
			    recs[v & 0x1fffff].key == k) {
				r = &recs[v & 0x1fffff];
				break;
			}
		if (layout && (!r || r->state != 1)) {
			missing++;
			continue;
		}
		if (layout) {
			/* Seeded with a word of the record the compiler cannot
			 * know (the state it can: the test above): the work
			 * waits for the record, as the table's does. */
			sink += burn(r->state + r->stack, post);
			r->state = 2;
		}
		bo_release(h[i]);
	}
	t1 = cpu_ns();
	printf("BENCH release_cpu_ns=%.1f\n", (double)(t1 - t0) / n);
	printf("BENCH missing=%ld\n", missing);
	printf("BENCH sink=%d\n", (int)(sink & 1));
	free(tab);
	free(idx);
	free(recs);
	free(h);
	return missing ? 1 : 0;
}

/* ---- leaks: the exit report ---- */

/* Ten functions that call one another through a table, DEPTH deep: the
 * path of a call is the digits of CODE, so 10^DEPTH codes give as many
 * distinct creation stacks (the return addresses differ per caller). */
static int per_site;
static volatile unsigned sink;
typedef void step_fn(int depth, unsigned code);
static step_fn *steps[10];

static __attribute__((noinline)) void
leaf(void)
{
	int i;

	for (i = 0; i < per_site; i++) {
		void *volatile p = bo_create(); /* leaked: not kept anywhere */
		(void)p;
	}
}

#define STEP(k)                                                          \
	static __attribute__((noinline)) void step##k(int depth, unsigned code) \
	{                                                                \
		if (depth == 0)                                          \
			leaf();                                          \
		else                                                     \
			steps[code % 10](depth - 1, code / 10);          \
		sink += k; /* distinct bodies: no identical-code folding */ \
		__asm__ volatile("" ::: "memory"); /* no tail call */    \
	}
STEP(0) STEP(1) STEP(2) STEP(3) STEP(4) STEP(5) STEP(6) STEP(7) STEP(8) STEP(9)

static int
mode_leaks(long sites, int per)
{
	step_fn *all[10] = {step0, step1, step2, step3, step4,
	                    step5, step6, step7, step8, step9};
	int depth = 0;
	long s;
	uint64_t t;

	for (s = 1; s < sites; s *= 10)
		depth++;
	memcpy(steps, all, sizeof(all));
	per_site = per;
	for (s = 0; s < sites; s++)
		steps[s % 10](depth - 1, (unsigned)(s / 10));
	t = now_ns();
	printf("BENCH last_create_ns=%llu\n", (unsigned long long)t);
	printf("BENCH leaked=%ld\n", sites * per);
	fflush(stdout);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc >= 5 && !strcmp(argv[1], "loop"))
		return mode_loop(atoi(argv[2]), atol(argv[3]), atoi(argv[4]));
	if (argc >= 4 && !strcmp(argv[1], "live"))
		return mode_live(atol(argv[2]), atol(argv[3]));
	if (argc >= 4 && !strcmp(argv[1], "leaks"))
		return mode_leaks(atol(argv[2]), atoi(argv[3]));
	if (argc >= 3 && !strcmp(argv[1], "latency"))
		return mode_latency((size_t)atol(argv[2]));
	if (argc >= 4 && !strcmp(argv[1], "keys"))
		return mode_keys(atol(argv[2]), atoi(argv[3]));
	if (argc >= 6 && !strcmp(argv[1], "model"))
		return mode_model(atol(argv[2]), atoi(argv[3]), atol(argv[4]),
				  atol(argv[5]), argc >= 7 ? atol(argv[6]) : 50);
	fprintf(stderr, "usage: workloads loop THREADS N K | live N EXTRA | "
		"leaks SITES PER | latency MIB | keys N KEYS | "
		"model N LAYOUT PRE POST [LOAD]\n");
	return 2;
}
