/*
 * test-options.c: REFSAN_OPTIONS parsing.  An option typo must stop the
 * process with a message that says what went wrong, and a failed parse
 * must leave the options as they were, so these tables pin every message
 * word for word and every default.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"
#include "options.h"

static struct refsan_options o;

static void
setup(void)
{
	options_defaults(&o);
}

START_TEST(test_defaults)
{
	ck_assert_str_eq(o.spec, "");
	ck_assert_str_eq(o.log_path, "");
	ck_assert_str_eq(o.json_path, "");
	ck_assert_uint_eq(o.exitcode, 23);
	ck_assert(!o.halt_on_error);
	ck_assert_uint_eq(o.stack_depth, 32);
	ck_assert(o.python_frames);
	ck_assert_uint_eq(o.history, 8);
	ck_assert_uint_eq(o.quarantine, 1048576);
	ck_assert_str_eq(o.suppressions, "");
	ck_assert(!o.strict);
	ck_assert_uint_eq(o.report_signal, 0);
	ck_assert(!o.forward_double_release);
	ck_assert_uint_eq(o.verbosity, 0);
	ck_assert_uint_eq(o.on_bad_spec, ON_BAD_SPEC_EXIT);
	ck_assert(!o.help);
}
END_TEST

enum kind { K_UINT, K_BOOL, K_STR, K_SIGNUM, K_BADSPEC };

#define F(name) offsetof(struct refsan_options, name)

static const struct {
	const char *in;
	size_t off;
	enum kind kind;
	unsigned long num;
	const char *str;
} good[] = {
	{ "stack_depth=64", F(stack_depth), K_UINT, 64, NULL },
	{ "stack_depth=0", F(stack_depth), K_UINT, 0, NULL },
	{ "exitcode=4294967295", F(exitcode), K_UINT, 4294967295UL, NULL },
	{ "exitcode=007", F(exitcode), K_UINT, 7, NULL },
	{ "quarantine=1", F(quarantine), K_UINT, 1, NULL },
	{ "history=0", F(history), K_UINT, 0, NULL },
	{ "verbosity=2", F(verbosity), K_UINT, 2, NULL },
	{ "halt_on_error=1", F(halt_on_error), K_BOOL, 1, NULL },
	{ "python_frames=0", F(python_frames), K_BOOL, 0, NULL },
	{ "strict=1", F(strict), K_BOOL, 1, NULL },
	{ "forward_double_release=1", F(forward_double_release), K_BOOL, 1,
	  NULL },
	{ "help=1", F(help), K_BOOL, 1, NULL },
	{ "spec=zoo.spec", F(spec), K_STR, 0, "zoo.spec" },
	{ "spec=sqlite3,zoo.spec", F(spec), K_STR, 0, "sqlite3,zoo.spec" },
	{ "spec=", F(spec), K_STR, 0, "" },
	{ "log_path=/tmp/refsan.log", F(log_path), K_STR, 0,
	  "/tmp/refsan.log" },
	{ "json_path=out/r", F(json_path), K_STR, 0, "out/r" },
	{ "suppressions=a b=c", F(suppressions), K_STR, 0, "a b=c" },
	{ "log_path='/tmp/a:b'", F(log_path), K_STR, 0, "/tmp/a:b" },
	{ "log_path=\"/tmp/c:d\":strict=0", F(log_path), K_STR, 0, "/tmp/c:d" },
	{ "report_signal=10", F(report_signal), K_SIGNUM, 10, NULL },
	{ "report_signal=0", F(report_signal), K_SIGNUM, 0, NULL },
	{ "report_signal=64", F(report_signal), K_SIGNUM, 64, NULL },
	{ "report_signal=SIGUSR1", F(report_signal), K_SIGNUM, SIGUSR1, NULL },
	{ "report_signal=USR2", F(report_signal), K_SIGNUM, SIGUSR2, NULL },
	{ "report_signal=SIGHUP", F(report_signal), K_SIGNUM, SIGHUP, NULL },
	{ "on_bad_spec=ignore", F(on_bad_spec), K_BADSPEC, ON_BAD_SPEC_IGNORE,
	  NULL },
	{ "on_bad_spec=exit", F(on_bad_spec), K_BADSPEC, ON_BAD_SPEC_EXIT,
	  NULL },
	/* Empty items are skipped; the last value wins. */
	{ "::stack_depth=5::", F(stack_depth), K_UINT, 5, NULL },
	{ "stack_depth=5:stack_depth=6", F(stack_depth), K_UINT, 6, NULL },
	{ "strict=1:verbosity=1:stack_depth=9", F(stack_depth), K_UINT, 9,
	  NULL },
};

START_TEST(test_good)
{
	struct options_err err = { { 0 } };
	const char *p = (const char *)&o + good[_i].off;

	ck_assert_msg(options_parse(&o, good[_i].in, &err) == 0, "'%s': %s",
	              good[_i].in, err.msg);
	switch (good[_i].kind) {
	case K_UINT:
		ck_assert_uint_eq(*(const opt_uint *)p, good[_i].num);
		break;
	case K_BOOL:
		ck_assert_uint_eq(*(const opt_bool *)p, good[_i].num);
		break;
	case K_SIGNUM:
		ck_assert_uint_eq(*(const opt_signum *)p, good[_i].num);
		break;
	case K_BADSPEC:
		ck_assert_uint_eq(*(const opt_badspec *)p, good[_i].num);
		break;
	case K_STR:
		ck_assert_str_eq(*(const opt_str *)p, good[_i].str);
		break;
	}
}
END_TEST

static const struct {
	const char *in;
	const char *msg;
} bad[] = {
	{ "stak_depth=3",
	  "unknown option 'stak_depth' (did you mean 'stack_depth'?)" },
	{ "exitcod=1", "unknown option 'exitcod' (did you mean 'exitcode'?)" },
	{ "Strict=1", "unknown option 'Strict' (did you mean 'strict'?)" },
	{ "colour=1",
	  "unknown option 'colour' (known: spec, log_path, json_path, exitcode, halt_on_error, stack_depth, python_frames, history, quarantine, suppressions, strict, report_signal, forward_double_release, verbosity, on_bad_spec, help)" },
	{ "foo", "expected key=value, got 'foo'" },
	{ "strict=1:foo:verbosity=1", "expected key=value, got 'foo'" },
	{ "=5", "expected key=value, got '=5'" },
	{ "stack_depth=12x",
	  "option 'stack_depth' expects an unsigned integer, got '12x'" },
	{ "stack_depth=",
	  "option 'stack_depth' expects an unsigned integer, got ''" },
	{ "stack_depth=-1",
	  "option 'stack_depth' expects an unsigned integer, got '-1'" },
	{ "stack_depth=+1",
	  "option 'stack_depth' expects an unsigned integer, got '+1'" },
	{ "stack_depth= 1",
	  "option 'stack_depth' expects an unsigned integer, got ' 1'" },
	{ "stack_depth=0x10",
	  "option 'stack_depth' expects an unsigned integer, got '0x10'" },
	{ "exitcode=4294967296",
	  "option 'exitcode' expects an unsigned integer up to 4294967295, got '4294967296'" },
	{ "quarantine=99999999999999999999999",
	  "option 'quarantine' expects an unsigned integer up to 4294967295, got '99999999999999999999999'" },
	{ "strict=yes", "option 'strict' expects 0 or 1, got 'yes'" },
	{ "strict=true", "option 'strict' expects 0 or 1, got 'true'" },
	{ "strict=2", "option 'strict' expects 0 or 1, got '2'" },
	{ "help=", "option 'help' expects 0 or 1, got ''" },
	{ "report_signal=65",
	  "option 'report_signal' expects a signal number (1..64) or a name like SIGUSR1, got '65'" },
	{ "report_signal=SIGFOO",
	  "option 'report_signal' expects a signal number (1..64) or a name like SIGUSR1, got 'SIGFOO'" },
	{ "report_signal=-1",
	  "option 'report_signal' expects a signal number (1..64) or a name like SIGUSR1, got '-1'" },
	{ "report_signal=9",
	  "option 'report_signal': signal 9 cannot be caught" },
	{ "report_signal=SIGSTOP",
	  "option 'report_signal': signal SIGSTOP cannot be caught" },
	{ "on_bad_spec=warn",
	  "option 'on_bad_spec' expects exit or ignore, got 'warn'" },
	{ "log_path='/tmp/x",
	  "option 'log_path': unterminated ' quote in value" },
	{ "log_path=\"a\"b",
	  "option 'log_path': expected ':' after the quoted value, got 'b'" },
	/* The first error wins, even after good items. */
	{ "spec=a.spec:stack_depth=x:strict=9",
	  "option 'stack_depth' expects an unsigned integer, got 'x'" },
};

START_TEST(test_bad)
{
	struct options_err err = { { 0 } };
	struct refsan_options before;

	o.stack_depth = 7;
	o.spec = "kept";
	before = o;
	ck_assert_int_eq(options_parse(&o, bad[_i].in, &err), -EINVAL);
	ck_assert_str_eq(err.msg, bad[_i].msg);
	/* untouched on failure */
	ck_assert(memcmp(&o, &before, sizeof(o)) == 0);
}
END_TEST

START_TEST(test_long_key)
{
	struct options_err err;
	char in[300];

	memset(in, 'k', 200);
	strcpy(in + 200, "=1");
	ck_assert_int_eq(options_parse(&o, in, &err), -EINVAL);
	ck_assert(strncmp(err.msg, "unknown option 'kkkk", 20) == 0);
	ck_assert(strstr(err.msg, "kkk...' (known: spec,") != NULL);
	/* the whole list, not cut short (found by the bad-input table) */
	ck_assert(strstr(err.msg, ", on_bad_spec, help)") != NULL);
	ck_assert(strlen(err.msg) < sizeof(err.msg));
}
END_TEST

START_TEST(test_empty_and_null)
{
	struct options_err err;
	struct refsan_options before = o;

	ck_assert_int_eq(options_parse(&o, "", &err), 0);
	ck_assert_int_eq(options_parse(&o, NULL, &err), 0);
	ck_assert_int_eq(options_parse(&o, ":::", &err), 0);
	ck_assert(memcmp(&o, &before, sizeof(o)) == 0);
}
END_TEST

START_TEST(test_over_earlier_values)
{
	struct options_err err;

	ck_assert_int_eq(options_parse(&o, "spec=a.spec:strict=1", &err), 0);
	ck_assert_int_eq(options_parse(&o, "stack_depth=3", &err), 0);
	ck_assert_str_eq(o.spec, "a.spec");
	ck_assert(o.strict);
	ck_assert_uint_eq(o.stack_depth, 3);
	ck_assert_uint_eq(o.exitcode, 23);
}
END_TEST

START_TEST(test_set_takes_value_whole)
{
	struct options_err err;
	struct refsan_options before;

	ck_assert_int_eq(options_set(&o, "spec", "/tmp/a:b/x.spec,'q'", &err),
			 0);
	ck_assert_str_eq(o.spec, "/tmp/a:b/x.spec,'q'");
	ck_assert_int_eq(options_set(&o, "stack_depth", "7", &err), 0);
	ck_assert_uint_eq(o.stack_depth, 7);
	before = o;
	ck_assert_int_eq(options_set(&o, "stack_depth", "x", &err), -EINVAL);
	ck_assert(strstr(err.msg, "stack_depth") != NULL);
	ck_assert_int_eq(options_set(&o, "spce", "a", &err), -EINVAL);
	ck_assert(strstr(err.msg, "unknown option 'spce'") != NULL);
	ck_assert(memcmp(&o, &before, sizeof(o)) == 0);
}
END_TEST

/* What FN writes to a file descriptor, as a malloc'd string. */
static char *
capture(void (*fn)(int fd))
{
	FILE *f = tmpfile();
	char *buf;
	long n;

	ck_assert_ptr_nonnull(f);
	fn(fileno(f));
	n = lseek(fileno(f), 0, SEEK_END);
	ck_assert_int_gt(n, 0);
	buf = calloc(1, (size_t)n + 1);
	ck_assert_int_eq(pread(fileno(f), buf, (size_t)n, 0), n);
	fclose(f);
	return buf;
}

static const char *const keys[] = {
	"spec",
	"log_path",
	"json_path",
	"exitcode",
	"halt_on_error",
	"stack_depth",
	"python_frames",
	"history",
	"quarantine",
	"suppressions",
	"strict",
	"report_signal",
	"forward_double_release",
	"verbosity",
	"on_bad_spec",
	"help",
};

START_TEST(test_help)
{
	char *out = capture(options_print_help), *line, *save = NULL;
	size_t n = 0, meaning_col = 0;

	for (line = strtok_r(out, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *m;
		size_t col;

		if (strncmp(line, "  ", 2))
			continue;
		/* each option line: name, default, meaning, aligned */
		if (n && n <= N_ELEMS(keys)) {
			ck_assert_msg(strncmp(line + 2, keys[n - 1],
			                      strlen(keys[n - 1])) == 0,
			              "line %zu: %s", n, line);
		}
		m = strstr(line, n ? "  " : "  meaning");
		ck_assert_ptr_nonnull(m);
		/* the meaning starts in the same column on every line */
		m = line + 2 + strcspn(line + 2, " ");
		m += strspn(m, " ");
		m += strcspn(m, " ");
		m += strspn(m, " ");
		col = (size_t)(m - line);
		if (strstr(line, "—")) /* 3 bytes, 1 column */
			col -= 2;
		if (!n)
			meaning_col = col;
		else
			ck_assert_uint_eq(col, meaning_col);
		n++;
	}
	ck_assert_uint_eq(n, N_ELEMS(keys) + 1);
	free(out);
}
END_TEST

START_TEST(test_help_defaults)
{
	char *out = capture(options_print_help);

	ck_assert(strstr(out, "  stack_depth ") != NULL);
	ck_assert(strstr(out, " 32 ") != NULL);
	ck_assert(strstr(out, " 1048576 ") != NULL);
	ck_assert(strstr(out, " exit ") != NULL);
	ck_assert(strstr(out, "most frames kept per stack\n") != NULL);
	free(out);
}
END_TEST

START_TEST(test_markdown)
{
	char *out = capture(options_write_markdown_table);
	size_t i;

	ck_assert(strncmp(out, "| key | default | meaning |\n|---|---|---|\n",
	                  41) == 0);
	ck_assert(
	        strstr(out,
	               "| spec | — | spec files or profile names, comma-separated |\n") !=
	        NULL);
	ck_assert(strstr(out, "| exitcode | 23 | ") != NULL);
	ck_assert(
	        strstr(out,
	               "| stack_depth | 32 | most frames kept per stack |\n") !=
	        NULL);
	ck_assert(strstr(out, "| python_frames | 1 | ") != NULL);
	ck_assert(strstr(out, "| on_bad_spec | exit | ") != NULL);
	for (i = 0; i < N_ELEMS(keys); i++) {
		char want[64];

		snprintf(want, sizeof(want), "\n| %s | ", keys[i]);
		ck_assert_msg(strstr(out, want) != NULL, "%s", keys[i]);
	}
	free(out);
}
END_TEST

UNIT_SUITE(options_suite)
{
	Suite *s = suite_create("options");
	TCase *tc;

	tc = tcase_create("defaults");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_defaults);
	suite_add_tcase(s, tc);

	tc = tcase_create("parse");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_loop_test(tc, test_good, 0, N_ELEMS(good));
	tcase_add_test(tc, test_empty_and_null);
	tcase_add_test(tc, test_over_earlier_values);
	tcase_add_test(tc, test_set_takes_value_whole);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_loop_test(tc, test_bad, 0, N_ELEMS(bad));
	tcase_add_test(tc, test_long_key);
	suite_add_tcase(s, tc);

	tc = tcase_create("help");
	tcase_add_test(tc, test_help);
	tcase_add_test(tc, test_help_defaults);
	tcase_add_test(tc, test_markdown);
	suite_add_tcase(s, tc);
	return s;
}
