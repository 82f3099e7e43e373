/*
 * test-stack_depot.c: stacks stored once, found again by content, kept
 * exact, from several threads at once, and counted when the depot is full.
 */
#include <pthread.h>
#include <string.h>
#include "unit.h"
#include "stack_depot.h"

static void
setup(void)
{
	ck_assert_int_eq(depot_init(16u << 20), 0);
}

static void
teardown(void)
{
	depot_reset();
}

START_TEST(same_stack_same_id)
{
	uintptr_t a[] = { 1, 2, 3, 4 }, b[] = { 1, 2, 3, 5 };
	const uintptr_t *got;
	uint32_t ia = depot_put(a, 4), ib = depot_put(b, 4);

	ck_assert_uint_ne(ia, 0);
	ck_assert_uint_ne(ia, ib);
	ck_assert_uint_eq(depot_put(a, 4), ia);
	ck_assert_uint_ne(depot_put(a, 3), ia); /* a prefix is another stack */
	ck_assert_uint_eq(depot_get(ia, &got), 4);
	ck_assert_mem_eq(got, a, sizeof(a));
	ck_assert_uint_eq(depot_count(), 3);
}
END_TEST

START_TEST(empty_and_unknown)
{
	const uintptr_t *got;

	ck_assert_uint_eq(depot_put(NULL, 0), 0);
	ck_assert_uint_eq(depot_get(0, &got), 0);
	ck_assert_ptr_null(got);
	ck_assert_uint_eq(depot_get(12345, &got), 0);
}
END_TEST

START_TEST(full_depot_drops)
{
	uintptr_t pcs[64];
	unsigned i;
	uint32_t id = 1;

	depot_reset();
	ck_assert_int_eq(depot_init(1u << 20), 0);
	memset(pcs, 0, sizeof(pcs));
	/* 1 MiB holds about 1900 stacks of 64 frames. */
	for (i = 0; i < 5000 && id; i++) {
		pcs[0] = i;
		id = depot_put(pcs, 64);
	}
	ck_assert_uint_eq(id, 0);
	ck_assert_uint_gt(depot_dropped(), 0);
}
END_TEST

#define THREADS 4
#define STACKS 20000

static uint32_t ids[THREADS][STACKS];

static void *
putter(void *arg)
{
	uintptr_t t = (uintptr_t)arg, i;
	uintptr_t pcs[8];

	for (i = 0; i < STACKS; i++) {
		unsigned k;
		for (k = 0; k < 8; k++)
			pcs[k] = i * 8 + k;
		ids[t][i] = depot_put(pcs, 8);
	}
	return NULL;
}

START_TEST(threads_agree_on_ids)
{
	pthread_t th[THREADS];
	uintptr_t t, i;

	for (t = 0; t < THREADS; t++)
		pthread_create(&th[t], NULL, putter, (void *)t);
	for (t = 0; t < THREADS; t++)
		pthread_join(th[t], NULL);
	for (i = 0; i < STACKS; i++) {
		const uintptr_t *got;
		ck_assert_uint_ne(ids[0][i], 0);
		for (t = 1; t < THREADS; t++)
			ck_assert_uint_eq(ids[t][i], ids[0][i]);
		ck_assert_uint_eq(depot_get(ids[0][i], &got), 8);
		ck_assert_uint_eq(got[0], i * 8);
	}
	ck_assert_uint_eq(depot_count(), STACKS);
}
END_TEST

UNIT_SUITE(stack_depot_suite)
{
	Suite *s = suite_create("stack_depot");
	TCase *tc = tcase_create("store");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, same_stack_same_id);
	tcase_add_test(tc, empty_and_unknown);
	tcase_add_test(tc, full_depot_drops);
	tcase_add_test(tc, threads_agree_on_ids);
	suite_add_tcase(s, tc);
	return s;
}
