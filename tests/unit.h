/*
 * unit.h: how a unit test file registers its suites with tests/main.c.
 * Each test-<module>.c defines its suite factory with UNIT_SUITE(fn); the
 * factories land in the "refsan_suites" linker section, so main.c finds
 * every suite linked into the binary without a hand-kept list.
 */
#ifndef REFSAN_TEST_UNIT_H
#define REFSAN_TEST_UNIT_H

#include <check.h>

typedef Suite *(*unit_suite_fn)(void);

#define UNIT_SUITE(fn)                                                         \
	static Suite *fn(void);                                                \
	static const unit_suite_fn unit_suite_##fn                             \
		__attribute__((used, section("refsan_suites"),                 \
			       aligned(sizeof(void *)))) = fn;                 \
	static Suite *fn(void)

/* Rows of a table-driven case: for (i = 0; i < N_ELEMS(t); i++) */
#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

#endif
