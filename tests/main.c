/*
 * main.c: the one main() of every check binary.  It runs the suites that
 * the linked test files registered through UNIT_SUITE (unit.h) and exits
 * non-zero when any case failed.
 */
#include <stdlib.h>
#include "unit.h"

extern const unit_suite_fn __start_refsan_suites[];
extern const unit_suite_fn __stop_refsan_suites[];

int
main(void)
{
	const unit_suite_fn *fn;
	SRunner *sr = NULL;
	int failed;

	for (fn = __start_refsan_suites; fn < __stop_refsan_suites; fn++) {
		if (!sr)
			sr = srunner_create((*fn)());
		else
			srunner_add_suite(sr, (*fn)());
	}
	if (!sr)
		return 77; /* nothing linked: meson's "skipped" */
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
