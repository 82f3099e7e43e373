/*
 * test-suppress.c: suppressions files.  A suppression that silently never
 * matches (a misspelt kind, a pattern that is matched differently from
 * LSan's) hides nothing and confuses everyone, so the tables pin the
 * messages for bad lines and which rule matches which names.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"
#include "suppress.h"

static struct suppress s;
static struct suppress_err err;
static char tmp_path[64];

static void
setup(void)
{
	suppress_init(&s);
	memset(&err, 0, sizeof(err));
	tmp_path[0] = '\0';
}

static void
teardown(void)
{
	suppress_free(&s);
	if (tmp_path[0])
		unlink(tmp_path);
}

static const char *
write_tmp(const char *text, size_t len)
{
	int fd;

	snprintf(tmp_path, sizeof(tmp_path), "/tmp/refsan-supp-XXXXXX");
	fd = mkstemp(tmp_path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, len), (ssize_t)len);
	close(fd);
	return tmp_path;
}

#define KINDS                                                                  \
	"(expected leak, double_release, invalid_release, use_after_release or family_mismatch)"

static const struct {
	const char *line;
	unsigned col;
	const char *msg;
} bad[] = {
	{ "foo", 1, "expected KIND:PATTERN, got 'foo'" },
	{ "  leak  ", 3, "expected KIND:PATTERN, got 'leak'" },
	{ ":foo", 1, "expected KIND:PATTERN, got ':foo'" },
	{ "\t :foo", 3, "expected KIND:PATTERN, got ':foo'" },
	{ "lek:foo", 1, "unknown kind 'lek' " KINDS },
	{ "Leak:foo", 1, "unknown kind 'Leak' " KINDS },
	{ "  leaks:foo", 3, "unknown kind 'leaks' " KINDS },
	{ "**:foo", 1, "unknown kind '**' " KINDS },
	{ "double release:foo", 1, "unknown kind 'double release' " KINDS },
	{ "leak:", 6, "empty pattern" },
	{ "leak:   \t", 6, "empty pattern" },
	{ "  double_release:", 18, "empty pattern" },
	{ "interceptor_via_fun:foo", 1,
	  "unknown kind 'interceptor_via_fun' " KINDS },
};

START_TEST(test_bad)
{
	ck_assert_int_eq(suppress_parse_line(&s, "leak:kept", 1, &err), 0);
	ck_assert_int_eq(suppress_parse_line(&s, bad[_i].line, 4, &err),
	                 -EINVAL);
	ck_assert_str_eq(err.msg, bad[_i].msg);
	ck_assert_uint_eq(err.col, bad[_i].col);
	ck_assert_uint_eq(err.line, 4);
	ck_assert_uint_eq(s.nrules, 1);
}
END_TEST

static const struct {
	const char *line;
	const char *kind;
	const char *pattern;
} good[] = {
	{ "leak:create_cached_dog", "leak", "create_cached_dog" },
	{ "double_release:*legacy_*", "double_release", "*legacy_*" },
	{ "leak:libthirdparty.so", "leak", "libthirdparty.so" },
	{ "  invalid_release:foo  \r\n", "invalid_release", "foo" },
	{ "use_after_release : bar baz", "use_after_release", "bar baz" },
	{ "family_mismatch:a:b", "family_mismatch", "a:b" },
	{ "*:anything", "*", "anything" },
	{ "leak:#not_a_comment", "leak", "#not_a_comment" },
	{ "\tleak:\tx", "leak", "x" },
};

START_TEST(test_good)
{
	ck_assert_int_eq(suppress_parse_line(&s, good[_i].line, 3, &err), 0);
	ck_assert_uint_eq(s.nrules, 1);
	ck_assert_str_eq(s.rules[0].kind, good[_i].kind);
	ck_assert_str_eq(s.rules[0].pattern, good[_i].pattern);
	ck_assert_uint_eq(s.rules[0].line, 3);
	ck_assert_uint_eq(s.rules[0].hits, 0);
	ck_assert_uint_eq(s.rules[0].handles, 0);
}
END_TEST

START_TEST(test_blank)
{
	static const char *const lines[] = { "",    "   ",           "\r\n",
		                             "# x", "   # leak:foo", "#" };
	size_t i;

	for (i = 0; i < N_ELEMS(lines); i++)
		ck_assert_int_eq(suppress_parse_line(&s, lines[i], 1, &err), 0);
	ck_assert_uint_eq(s.nrules, 0);
}
END_TEST

/* Rules every match case runs against, in this order. */
static const char *const match_rules[] = {
	"leak:create_cached_dog",           /* 0 */
	"double_release:*legacy_*",         /* 1 */
	"leak:libthirdparty.so",            /* 2 */
	"use_after_release:zoo_?.c",        /* 3 */
	"*:everywhere",                     /* 4 */
	"leak:libfoo-[0-9].so*",            /* 5 */
	"invalid_release:/opt/*/libbar.so", /* 6 */
	"family_mismatch:walk",             /* 7 */
};

static const struct {
	const char *kind;
	const char *names[4];
	int want; /* rule index, or -1 */
} matches[] = {
	{ "leak", { "create_cached_dog" }, 0 },
	{ "leak", { "do_create_cached_dog_v2" }, 0 }, /* bare word: substring */
	{ "double_release", { "create_cached_dog" }, -1 }, /* wrong kind */
	{ "double_release", { "free_legacy_thing" }, 1 },
	{ "double_release", { "legacy_" }, 1 },
	{ "double_release", { "legacy" }, -1 },
	{ "leak", { "main", NULL, "/usr/lib/libthirdparty.so.1" }, 2 },
	{ "leak", { NULL, NULL, NULL, NULL }, -1 },
	{ "use_after_release", { "zoo_1.c" }, 3 },
	{ "use_after_release", { "zoo_12.c" }, -1 },
	{ "use_after_release", { "src/zoo_1.c" }, 3 },   /* base name */
	{ "use_after_release", { "xzoo_1.c" }, -1 },     /* globs are whole */
	{ "family_mismatch", { "everywhere_else" }, 4 }, /* '*' kind */
	{ "leak", { "a", "b", "everywhere" }, 4 },
	{ "leak", { "/lib/libfoo-3.so.2" }, 5 },
	{ "leak", { "libfoo-x.so" }, -1 },
	{ "invalid_release", { "/opt/x/libbar.so" }, 6 },
	{ "invalid_release", { "libbar.so" }, -1 },
	{ "family_mismatch", { "say_walk" }, 7 },
	{ "family_mismatch", { "Walk" }, -1 }, /* case matters */
	/* first matching rule wins */
	{ "leak", { "everywhere", "create_cached_dog" }, 0 },
	{ "no_such_kind", { "everywhere" }, 4 },
};

START_TEST(test_match)
{
	struct suppress_rule *r;
	size_t i;

	for (i = 0; i < N_ELEMS(match_rules); i++)
		ck_assert_int_eq(suppress_parse_line(&s, match_rules[i],
		                                     (unsigned)i + 1, &err),
		                 0);
	r = suppress_match(&s, matches[_i].kind, matches[_i].names,
	                   N_ELEMS(matches[_i].names));
	if (matches[_i].want < 0) {
		ck_assert_ptr_null(r);
	} else {
		ck_assert_ptr_eq(r, &s.rules[matches[_i].want]);
		ck_assert_uint_eq(r->line, (unsigned)matches[_i].want + 1);
	}
	for (i = 0; i < s.nrules; i++)
		ck_assert_uint_eq(s.rules[i].hits, 0);
}
END_TEST

START_TEST(test_match_empty)
{
	const char *names[] = { "x" };

	ck_assert_ptr_null(suppress_match(&s, "leak", names, 1));
	ck_assert_int_eq(suppress_parse_line(&s, "leak:x", 1, &err), 0);
	ck_assert_ptr_null(suppress_match(&s, "leak", names, 0));
}
END_TEST

START_TEST(test_load_file)
{
	static const char text[] = "# third party\r\n"
	                           "leak:libthirdparty.so\r\n"
	                           "\n"
	                           "  double_release:*legacy_*  \n"
	                           "leak:last"; /* no final newline */
	const char *path = write_tmp(text, sizeof(text) - 1);

	ck_assert_int_eq(suppress_load_file(&s, path, &err), 0);
	ck_assert_str_eq(s.file, path);
	ck_assert_uint_eq(s.nrules, 3);
	ck_assert_str_eq(s.rules[0].pattern, "libthirdparty.so");
	ck_assert_uint_eq(s.rules[0].line, 2);
	ck_assert_str_eq(s.rules[1].kind, "double_release");
	ck_assert_uint_eq(s.rules[1].line, 4);
	ck_assert_str_eq(s.rules[2].pattern, "last");
	ck_assert_uint_eq(s.rules[2].line, 5);
}
END_TEST

START_TEST(test_load_file_error)
{
	static const char text[] = "leak:a\n"
	                           "leak:b\n"
	                           "  lek:c\n";
	const char *path = write_tmp(text, sizeof(text) - 1);

	ck_assert_int_eq(suppress_load_file(&s, path, &err), -EINVAL);
	ck_assert_str_eq(err.file, path);
	ck_assert_uint_eq(err.line, 3);
	ck_assert_uint_eq(err.col, 3);
	ck_assert_str_eq(err.msg, "unknown kind 'lek' " KINDS);
	/* nothing of the file kept */
	ck_assert_uint_eq(s.nrules, 0);
	ck_assert_ptr_null(s.file);
}
END_TEST

START_TEST(test_load_nul)
{
	const char *path = write_tmp("leak:a\0b\n", 9);

	ck_assert_int_eq(suppress_load_file(&s, path, &err), -EINVAL);
	ck_assert_uint_eq(err.line, 1);
	ck_assert_uint_eq(err.col, 7);
	ck_assert_str_eq(err.msg,
	                 "NUL byte in the line (is this a text file?)");
}
END_TEST

/* A line without end (suppressions=/dev/zero): an error at 1 MiB. */
START_TEST(test_load_endless_line)
{
	ck_assert_int_eq(suppress_load_file(&s, "/dev/zero", &err), -EINVAL);
	ck_assert_str_eq(err.file, "/dev/zero");
	ck_assert_uint_eq(err.line, 1);
	ck_assert_uint_eq(err.col, 1);
	ck_assert_str_eq(err.msg,
	                 "line longer than 1048576 bytes (is this a text file?)");
	ck_assert_uint_eq(s.nrules, 0);
}
END_TEST

START_TEST(test_load_missing)
{
	ck_assert_int_eq(suppress_load_file(&s, "/nonexistent/supp.txt", &err),
	                 -ENOENT);
	ck_assert_str_eq(err.file, "/nonexistent/supp.txt");
	ck_assert_uint_eq(err.line, 0);
	ck_assert_uint_eq(err.col, 0);
	ck_assert_str_eq(
	        err.msg,
	        "cannot read suppressions file: No such file or directory");
	ck_assert_ptr_null(s.file);

	ck_assert_int_eq(suppress_load_file(&s, "/", &err), -EISDIR);
	ck_assert_str_eq(err.msg,
	                 "cannot read suppressions file: Is a directory");
	ck_assert_ptr_null(s.file);
}
END_TEST

UNIT_SUITE(suppress_suite)
{
	Suite *su = suite_create("suppress");
	TCase *tc;

	tc = tcase_create("lines");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_bad, 0, N_ELEMS(bad));
	tcase_add_loop_test(tc, test_good, 0, N_ELEMS(good));
	tcase_add_test(tc, test_blank);
	suite_add_tcase(su, tc);

	tc = tcase_create("matching");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_match, 0, N_ELEMS(matches));
	tcase_add_test(tc, test_match_empty);
	suite_add_tcase(su, tc);

	tc = tcase_create("files");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_load_file);
	tcase_add_test(tc, test_load_file_error);
	tcase_add_test(tc, test_load_nul);
	tcase_add_test(tc, test_load_endless_line);
	tcase_add_test(tc, test_load_missing);
	suite_add_tcase(su, tc);
	return su;
}
