/*
 * test-unwind.c: the cached unwinder gives exactly the stacks of the slow
 * path (unw_backtrace), hit or miss, predicted or walked: on many stacks,
 * at many depths, through recursion, from call sites that share a cache
 * key (the same depth, the same return address), through frames of
 * changing size (alloca), and from several threads.
 */
#include <alloca.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include "unit.h"
#include "unwind.h"

#define MAXF 48

static void
setup(void)
{
	ck_assert_int_eq(unwind_init(), 0);
	unwind_set_cache(1);
	unwind_set_predict(1);
}

/* Frame 0 of every capture is the return address into grab's caller:
 * mode 0 the cached path, 1 the slow one, 2 the keyed one. */
static struct unwind_memo *g_memo;
static uintptr_t g_key;
static const uintptr_t *g_cached;

static __attribute__((noinline)) unsigned
grab(int mode, uintptr_t *pcs, unsigned max)
{
	volatile unsigned n;

	if (mode == 1)
		n = unwind_capture_slow(pcs, max, 1);
	else if (mode == 2)
		n = unwind_capture_keyed(pcs, max, 1, &g_memo, g_key,
		                         &g_cached);
	else
		n = unwind_capture(pcs, max, 1);
	return n;
}

static unsigned long compared;
static volatile int modes = 2, five = 5;

static __attribute__((noinline)) void
check_same(unsigned max)
{
	uintptr_t got[2][MAXF];
	unsigned n[2];

	memset(got, 0xa5, sizeof(got));
	/* One call site for both: the same stack (a loop the compiler
	 * cannot unroll into two calls). */
	for (int mode = 0; mode < modes; mode++)
		n[mode] = grab(mode, got[mode], max);
	ck_assert_uint_gt(n[0], 0);
	ck_assert_uint_eq(n[0], n[1]);
	ck_assert_mem_eq(got[0], got[1], n[0] * sizeof(uintptr_t));
	compared++;
}

/*
 * Call sites that reach check_same at the same depth with the same frame
 * sizes: their captures share a cache key and differ only in the return
 * addresses further out.
 */
/* The asm after each call keeps the compiler from merging the calls
 * (or the functions) into one: every site has its own return address. */
#define DISTINCT(tag) __asm__ volatile("nop # " tag)

static __attribute__((noinline)) void
site(int which, unsigned max)
{
	volatile int keep = which;

	switch (which) {
	case 0:
		check_same(max);
		DISTINCT("site 0");
		break;
	case 1:
		check_same(max);
		DISTINCT("site 1");
		break;
	case 2:
		check_same(max);
		DISTINCT("site 2");
		break;
	case 3:
		check_same(max);
		DISTINCT("site 3");
		break;
	case 4:
		check_same(max);
		DISTINCT("site 4");
		break;
	case 5:
		check_same(max);
		DISTINCT("site 5");
		break;
	default:
		check_same(max);
		DISTINCT("site 6");
		break;
	}
	(void)keep;
}

static __attribute__((noinline)) void
recurse(int depth, int which, unsigned max)
{
	volatile int keep = depth;

	if (depth <= 0) {
		site(which, max);
	} else if (depth & 1) {
		recurse(depth - 1, which, max);
		DISTINCT("odd");
	} else {
		recurse(depth - 1, which, max);
		DISTINCT("even");
	}
	(void)keep;
}

/* Two functions alike: the same frame size, different return addresses. */
static __attribute__((noinline)) void
outer_a(int which, unsigned max)
{
	volatile int keep = which;

	site(which, max);
	DISTINCT("outer a");
	(void)keep;
}

static __attribute__((noinline)) void
outer_b(int which, unsigned max)
{
	volatile int keep = which;

	site(which, max);
	DISTINCT("outer b");
	(void)keep;
}

/* A frame whose size changes from call to call. */
static __attribute__((noinline)) void
dynamic(unsigned size, int which, unsigned max)
{
	volatile char *p = alloca(size);

	p[0] = 1;
	recurse(2, which, max);
	p[0] = 2;
}

START_TEST(fast_equals_slow_many_stacks)
{
	unsigned max[] = { 1, 4, 16, 32, MAXF };

	for (unsigned m = 0; m < N_ELEMS(max); m++)
		for (int d = 0; d < 40; d++)
			for (int rep = 0; rep < 3; rep++)
				recurse(d, d % 7, max[m]);
	ck_assert_uint_gt(compared, 500);
}
END_TEST

START_TEST(colliding_call_sites)
{
	/* More sites than ways in a set, in turn, at the same depth. */
	for (int rep = 0; rep < 50; rep++)
		for (int w = 0; w < 7; w++)
			recurse(3, w, 32);
	/* The same inner frames, different outer ones, same sp. */
	for (int rep = 0; rep < 50; rep++) {
		outer_a(rep % 3, 32);
		outer_b(rep % 3, 32);
	}
}
END_TEST

static __attribute__((noinline)) void mutual_b(int depth, int which);

static __attribute__((noinline)) void
mutual_a(int depth, int which)
{
	volatile int keep = depth;

	if (depth <= 0)
		check_same(MAXF);
	else
		mutual_b(depth - 1, which);
	check_same(24);
	(void)keep;
}

static __attribute__((noinline)) void
mutual_b(int depth, int which)
{
	volatile int keep[3] = { depth, which, 0 };

	if (depth <= 0)
		site(which, 8);
	else
		mutual_a(depth - 1, which);
	(void)keep;
}

START_TEST(recursion)
{
	for (int rep = 0; rep < 4; rep++)
		for (int d = 0; d < 30; d++)
			mutual_a(d, rep);
}
END_TEST

START_TEST(changing_frame_sizes)
{
	for (int rep = 0; rep < 3; rep++)
		for (unsigned s = 16; s < 2048; s += 48)
			dynamic(s, (int)(s % 5), 32);
}
END_TEST

static __attribute__((noinline)) void
sweep(int d0, int d1)
{
	for (int d = d0; d < d1; d++)
		for (int w = 0; w < 7; w++)
			recurse(d, w, 32);
}

START_TEST(new_stacks_are_predicted)
{
	struct unwind_stats a, b;
	int lo[2] = { 0, 12 }, hi[2] = { 4, 20 };

	/* Learn the frame sizes of these functions, then stacks never seen
	 * (deeper) need no cursor: one call site of sweep for both. */
	for (int phase = 0; phase < modes; phase++) {
		if (phase == 1)
			unwind_stats(&a);
		sweep(lo[phase], hi[phase]);
	}
	unwind_stats(&b);
	ck_assert_uint_ge(b.predicted, a.predicted + 8 * 7);
	ck_assert_uint_eq(b.walked, a.walked);
}
END_TEST

START_TEST(predict_off_and_cache_off)
{
	unwind_set_predict(0);
	for (int d = 0; d < 20; d++)
		recurse(d, d % 7, 32);
	unwind_set_predict(1);
	unwind_set_cache(0);
	for (int d = 0; d < 20; d++)
		recurse(d, d % 7, 32);
	unwind_set_cache(1);
}
END_TEST

static __attribute__((noinline)) void
keyed_twice(void)
{
	uintptr_t got[5][32];
	unsigned n[5];
	const uintptr_t *cached[5];
	struct unwind_memo *memo[5];
	uintptr_t keys[5] = { 0x1234, 0x1234, 0x1234, 0x99, 0 };
	int mode[5] = { 2, 2, 2, 2, 1 };

	memset(got, 0, sizeof(got));
	/* One call site: the same stack five times. */
	for (int i = 0; i < five; i++) {
		g_key = keys[i];
		g_memo = NULL;
		g_cached = NULL;
		n[i] = grab(mode[i], got[i], 32);
		memo[i] = g_memo;
		cached[i] = g_cached;
		if (i == 1) {
			ck_assert_ptr_nonnull(g_memo);
			g_memo->key = 0x1234;
			g_memo->id = 7;
		}
	}
	/* The first two filled their buffers (no memo yet). */
	ck_assert_ptr_null(cached[0]);
	ck_assert_ptr_null(cached[1]);
	ck_assert_ptr_eq(memo[1], memo[2]);
	/* The third found its key: no copy, the cached frames. */
	ck_assert_ptr_nonnull(cached[2]);
	ck_assert_uint_eq(memo[2]->id, 7);
	ck_assert_uint_ne(memo[2]->stamp, 0);
	ck_assert_uint_eq(n[2], n[4]);
	ck_assert_mem_eq(cached[2], got[4], n[4] * sizeof(uintptr_t));
	/* Another key: the frames are copied. */
	ck_assert_ptr_null(cached[3]);
	for (int i = 0; i < 4; i++) {
		ck_assert_uint_eq(n[i], n[4]);
		if (i != 2)
			ck_assert_mem_eq(got[i], got[4],
			                 n[4] * sizeof(uintptr_t));
	}
}

START_TEST(keyed_hit_skips_the_copy)
{
	keyed_twice();
}
END_TEST

static void *
thread_main(void *arg)
{
	(void)arg;
	for (int rep = 0; rep < 3; rep++)
		for (int d = 0; d < 25; d++)
			recurse(d, (d + rep) % 7, 32);
	return NULL;
}

START_TEST(threads)
{
	pthread_t t[3];

	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, thread_main, NULL),
		                 0);
	thread_main(NULL);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
}
END_TEST

static void
on_usr1(int sig)
{
	(void)sig;
	recurse(2, 1, 32);
	site(3, MAXF);
}

START_TEST(through_a_signal_frame)
{
	struct sigaction sa, old;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sigemptyset(&sa.sa_mask);
	ck_assert_int_eq(sigaction(SIGUSR1, &sa, &old), 0);
	for (int rep = 0; rep < 3; rep++)
		for (int d = 0; d < 6; d++) {
			recurse(d, 0, 32); /* learn, then predict around */
			raise(SIGUSR1);
		}
	sigaction(SIGUSR1, &old, NULL);
}
END_TEST

UNIT_SUITE(unwind_suite)
{
	Suite *s = suite_create("unwind");
	TCase *tc = tcase_create("cache");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, fast_equals_slow_many_stacks);
	tcase_add_test(tc, colliding_call_sites);
	tcase_add_test(tc, recursion);
	tcase_add_test(tc, changing_frame_sizes);
	tcase_add_test(tc, new_stacks_are_predicted);
	tcase_add_test(tc, predict_off_and_cache_off);
	tcase_add_test(tc, keyed_hit_skips_the_copy);
	tcase_add_test(tc, threads);
	tcase_add_test(tc, through_a_signal_frame);
	suite_add_tcase(s, tc);
	return s;
}
