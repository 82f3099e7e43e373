/*
 * test-spec.c: the spec parser.  A spec error is the first thing a new user
 * meets, so the tables below pin the exact column and message of every
 * malformed line, and the fields of every accepted one.  Files and profile
 * directories are made under /tmp by each test and removed by its fixture.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"
#include "spec.h"

static struct spec s;
static struct spec_err err;

/* Paths made by a test, removed (in reverse) by the teardown. */
static char *made[16];
static size_t nmade;

static void
setup(void)
{
	spec_init(&s);
	memset(&err, 0, sizeof(err));
	s.cur_file = "zoo.spec";
	s.cur_line = 1;
	ck_assert_int_eq(spec_parse_line(&s, "library libzoo.so*", &err), 0);
	s.cur_line = 7;
}

static void
teardown(void)
{
	spec_free(&s);
	while (nmade) {
		char *p = made[--nmade];

		remove(p);
		free(p);
	}
}

static const char *
remember(const char *path)
{
	ck_assert_uint_lt(nmade, N_ELEMS(made));
	made[nmade] = strdup(path);
	return made[nmade++];
}

/* A new file in DIR (NULL: /tmp) holding TEXT; its path. */
static const char *
write_file(const char *dir, const char *name, const char *text, size_t len)
{
	char path[512];
	FILE *f;

	if (name) {
		snprintf(path, sizeof(path), "%s/%s", dir, name);
		f = fopen(path, "w");
	} else {
		int fd;

		snprintf(path, sizeof(path), "%s/refsan-test-XXXXXX.spec",
		         dir ? dir : "/tmp");
		fd = mkstemps(path, 5);
		ck_assert_int_ge(fd, 0);
		f = fdopen(fd, "w");
	}
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(text, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
	return remember(path);
}

#define WRITE(dir, name, text) write_file(dir, name, text, strlen(text))

static const char *
make_dir(void)
{
	char path[] = "/tmp/refsan-profiles-XXXXXX";

	ck_assert_ptr_nonnull(mkdtemp(path));
	return remember(path);
}

/* ---- malformed lines ---- */

static const struct {
	const char *line;
	unsigned col;
	const char *msg;
} bad[] = {
	{ "craete create_dog ret", 1,
	  "expected a role (create, acquire, release or use), got 'craete'" },
	{ "Create create_dog ret", 1,
	  "expected a role (create, acquire, release or use), got 'Create'" },
	{ "  free x arg0", 3,
	  "expected a role (create, acquire, release or use), got 'free'" },
	{ "create", 7,
	  "expected a function name or glob after 'create', got end of line" },
	{ "release   # no function", 8,
	  "expected a function name or glob after 'release', got end of line" },
	{ "create create_dog", 18,
	  "expected ret, argN or *argN, got end of line" },
	{ "create create_dog arg", 19,
	  "expected ret, argN or *argN, got 'arg'" },
	{ "acquire add_ref argx", 17,
	  "expected ret, argN or *argN, got 'argx'" },
	{ "acquire add_ref *ret", 17,
	  "expected ret, argN or *argN, got '*ret'" },
	{ "acquire add_ref arg-1", 17,
	  "expected ret, argN or *argN, got 'arg-1'" },
	{ "acquire add_ref Ret", 17, "expected ret, argN or *argN, got 'Ret'" },
	{ "acquire add_ref *arg", 17,
	  "expected ret, argN or *argN, got '*arg'" },
	{ "acquire add_ref arg99", 17,
	  "argument index 99 out of range (0..15)" },
	{ "acquire add_ref arg16", 17,
	  "argument index 16 out of range (0..15)" },
	{ "use f *arg123456789012345678901234567890", 7,
	  "argument index 123456789012345678901234567890 out of range (0..15)" },
	{ "create create_dog ret foo", 23,
	  "expected a condition like ret==0, family=NAME, idempotent or borrowed, got 'foo'" },
	{ "create create_dog ret famly=dog", 23,
	  "unknown option 'famly' (expected family=NAME)" },
	{ "create create_dog ret Family=dog", 23,
	  "unknown option 'Family' (expected family=NAME)" },
	{ "create create_dog ret ret!=null ret!=0", 33, "duplicate condition" },
	{ "create create_dog ret family=dog family=dog", 34,
	  "duplicate family=" },
	{ "create create_dog ret family=dog,cat", 30,
	  "a create gives its handle exactly one family, got 'dog,cat'" },
	{ "release release arg0 family=", 29,
	  "expected a family name after 'family=', got nothing" },
	{ "release release arg0 family=dog,,cat", 33,
	  "empty family name in 'family=dog,,cat'" },
	{ "release release arg0 family=dog,", 33,
	  "empty family name in 'family=dog,'" },
	{ "release release arg0 family=,dog", 29,
	  "empty family name in 'family=,dog'" },
	{ "release release arg0 family=d/g", 30,
	  "invalid character '/' in family name 'd/g' (expected letters, digits, '_', '-' or '.')" },
	{ "release release arg0 family=dog,c=t", 34,
	  "invalid character '=' in family name 'c=t' (expected letters, digits, '_', '-' or '.')" },
	{ "create f ret ret=0", 17,
	  "expected a comparison (==, !=, <, <=, > or >=) after 'ret', got '=0'" },
	{ "create f ret ret=>0", 17,
	  "expected a comparison (==, !=, <, <=, > or >=) after 'ret', got '=>0'" },
	{ "create f ret ret", 17,
	  "expected a comparison (==, !=, <, <=, > or >=) right after 'ret', as in ret==0" },
	{ "create f ret ret ==0", 17,
	  "expected a comparison (==, !=, <, <=, > or >=) right after 'ret', as in ret==0" },
	{ "create f ret ret==", 19,
	  "expected an integer or null after 'ret==', got nothing" },
	{ "create f ret ret==abc", 19,
	  "expected an integer or null after 'ret==', got 'abc'" },
	{ "create f ret ret!=0x", 19,
	  "expected an integer or null after 'ret!=', got '0x'" },
	{ "create f ret ret==NULL", 19,
	  "expected an integer or null after 'ret==', got 'NULL'" },
	{ "create f ret ret>=1.5", 19,
	  "expected an integer or null after 'ret>=', got '1.5'" },
	{ "create f ret ret<+1", 18,
	  "expected an integer or null after 'ret<', got '+1'" },
	{ "create f ret ret==0x1g", 19,
	  "expected an integer or null after 'ret==', got '0x1g'" },
	{ "create f ret ret<99999999999999999999", 18,
	  "value '99999999999999999999' out of range for a 64-bit integer" },
	{ "create f ret ret>=-9223372036854775809", 19,
	  "value '-9223372036854775809' out of range for a 64-bit integer" },
	{ "create f ret ret==0x10000000000000000", 19,
	  "value '0x10000000000000000' out of range for a 64-bit integer" },
	{ "use say-walk arg0", 8,
	  "invalid character '-' in function name 'say-walk' (expected a C identifier or a glob of one)" },
	{ "use say.walk arg0", 8,
	  "invalid character '.' in function name 'say.walk' (expected a C identifier or a glob of one)" },
	{ "use 1walk arg0", 5, "function name '1walk' starts with a digit" },
	{ "use say_[ab arg0", 9,
	  "unterminated '[' in function glob 'say_[ab'" },
	{ "use say_[] arg0", 10,
	  "invalid character ']' in function name 'say_[]' (expected a C identifier or a glob of one)" },
	{ "library", 8, "expected a library file name glob after 'library'" },
	{ "library   # none", 8,
	  "expected a library file name glob after 'library'" },
	{ "library libzoo.so* libcat.so", 20,
	  "unexpected 'libcat.so' after the library glob (one glob a line)" },
	{ "use f arg0 ret==0 extra", 19,
	  "expected a condition like ret==0, family=NAME, idempotent or borrowed, got 'extra'" },
	{ "use f arg0 arg1==0", 12,
	  "expected a condition like ret==0, family=NAME, idempotent or borrowed, got 'arg1==0'" },
	{ "use f arg0 family", 12,
	  "expected a condition like ret==0, family=NAME, idempotent or borrowed, got 'family'" },
	{ "use f arg0 return==0", 12,
	  "expected a condition like ret==0, family=NAME, idempotent or borrowed, got 'return==0'" },
	{ "use f arg0 =dog", 12,
	  "expected a condition like ret==0, family=NAME, idempotent or borrowed, got '=dog'" },
	{ "\tuse\tf\targ0\tfoo", 13,
	  "expected a condition like ret==0, family=NAME, idempotent or borrowed, got 'foo'" },
	{ "use f arg0 ret==1 family=# y", 26,
	  "expected a family name after 'family=', got nothing" },
	{ "create f ret xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
	  14,
	  "expected a condition like ret==0, family=NAME, idempotent or borrowed, got 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...'" },
	{ "use f arg0 idempotent", 12,
	  "'idempotent' applies to a release only (a release of a handle that is not live is then the library's no-op)" },
	{ "create f ret ret!=null idempotent", 24,
	  "'idempotent' applies to a release only (a release of a handle that is not live is then the library's no-op)" },
	{ "acquire f arg0 family=dog idempotent", 27,
	  "'idempotent' applies to a release only (a release of a handle that is not live is then the library's no-op)" },
	{ "release f arg0 idempotent idempotent", 27, "duplicate idempotent" },
	{ "release f arg0 Idempotent", 16,
	  "expected a condition like ret==0, family=NAME, idempotent or borrowed, got 'Idempotent'" },
	{ "release f arg0 idempotent=1", 16,
	  "unknown option 'idempotent' (expected family=NAME)" },
	{ "release f arg0 idempotentx", 16,
	  "expected a condition like ret==0, family=NAME, idempotent or borrowed, got 'idempotentx'" },
	{ "release f arg0 borrowed", 16,
	  "'borrowed' applies to a create only (an up_ref of an object the library may also hold)" },
	{ "acquire f arg0 ret==1 borrowed", 23,
	  "'borrowed' applies to a create only (an up_ref of an object the library may also hold)" },
	{ "create f arg0 borrowed borrowed", 24, "duplicate borrowed" },
	/* a new family in a line that then fails must not be kept */
	{ "release f arg0 family=newfam ret<", 34,
	  "expected an integer or null after 'ret<', got nothing" },
};

START_TEST(test_bad_line)
{
	size_t nrules = s.nrules, nlibs = s.nlibs;
	unsigned nfam = s.nfamilies;
	int cur_lib = s.cur_lib;

	ck_assert_int_eq(spec_parse_line(&s, bad[_i].line, &err), -EINVAL);
	ck_assert_str_eq(err.msg, bad[_i].msg);
	ck_assert_uint_eq(err.col, bad[_i].col);
	ck_assert_str_eq(err.file, "zoo.spec");
	ck_assert_uint_eq(err.line, 7);
	/* *s untouched */
	ck_assert_uint_eq(s.nrules, nrules);
	ck_assert_uint_eq(s.nlibs, nlibs);
	ck_assert_uint_eq(s.nfamilies, nfam);
	ck_assert_int_eq(s.cur_lib, cur_lib);
	ck_assert_uint_eq(spec_family_id(&s, "newfam"), 0);
}
END_TEST

START_TEST(test_rule_before_library)
{
	static const char *const lines[] = { "create f ret", "use f arg0",
		                             "  release f arg0 ret==0" };
	static const unsigned cols[] = { 1, 1, 3 };
	struct spec fresh;
	size_t i;

	spec_init(&fresh);
	fresh.cur_file = "a.spec";
	fresh.cur_line = 3;
	for (i = 0; i < N_ELEMS(lines); i++) {
		ck_assert_int_eq(spec_parse_line(&fresh, lines[i], &err),
		                 -EINVAL);
		ck_assert_str_eq(err.msg, "rule before any 'library' line");
		ck_assert_uint_eq(err.col, cols[i]);
		ck_assert_uint_eq(err.line, 3);
		ck_assert_str_eq(err.file, "a.spec");
	}
	ck_assert_uint_eq(fresh.nrules, 0);
	spec_free(&fresh);
}
END_TEST

/* ---- accepted lines ---- */

static const struct {
	const char *line;
	enum spec_role role;
	const char *func;
	int is_glob;
	enum spec_pos pos;
	int argn;
	enum spec_cond cond;
	int64_t val;
	const char *families; /* comma-separated, or NULL */
} good[] = {
	{ "create   create_dog      ret                 family=dog",
	  ROLE_CREATE, "create_dog", 0, POS_RET, 0, COND_NONE, 0, "dog" },
	{ "create   open_cage       *arg1   ret==0      family=cage",
	  ROLE_CREATE, "open_cage", 0, POS_OUTARG, 1, COND_EQ, 0, "cage" },
	{ "acquire  add_ref         arg0", ROLE_ACQUIRE, "add_ref", 0, POS_ARG,
	  0, COND_NONE, 0, NULL },
	{ "release  release         arg0", ROLE_RELEASE, "release", 0, POS_ARG,
	  0, COND_NONE, 0, NULL },
	{ "release  close_cage      arg0                family=cage",
	  ROLE_RELEASE, "close_cage", 0, POS_ARG, 0, COND_NONE, 0, "cage" },
	{ "use      say_walk        arg0", ROLE_USE, "say_walk", 0, POS_ARG, 0,
	  COND_NONE, 0, NULL },
	{ "release *_free arg0", ROLE_RELEASE, "*_free", 1, POS_ARG, 0,
	  COND_NONE, 0, NULL },
	{ "use say_[a-z]* arg15", ROLE_USE, "say_[a-z]*", 1, POS_ARG, 15,
	  COND_NONE, 0, NULL },
	{ "use say_[!x]? *arg0", ROLE_USE, "say_[!x]?", 1, POS_OUTARG, 0,
	  COND_NONE, 0, NULL },
	{ "use _Z3fooPv arg3", ROLE_USE, "_Z3fooPv", 0, POS_ARG, 3, COND_NONE,
	  0, NULL },
	{ "create f ret ret!=null", ROLE_CREATE, "f", 0, POS_RET, 0, COND_NE, 0,
	  NULL },
	{ "create f ret ret>=-1", ROLE_CREATE, "f", 0, POS_RET, 0, COND_GE, -1,
	  NULL },
	{ "create f *arg2 ret<0x10", ROLE_CREATE, "f", 0, POS_OUTARG, 2,
	  COND_LT, 16, NULL },
	{ "create f ret ret>5", ROLE_CREATE, "f", 0, POS_RET, 0, COND_GT, 5,
	  NULL },
	{ "create f ret ret<=-0x8000000000000000", ROLE_CREATE, "f", 0, POS_RET,
	  0, COND_LE, INT64_MIN, NULL },
	{ "create f ret ret==0xFFFFffffFFFFffff", ROLE_CREATE, "f", 0, POS_RET,
	  0, COND_EQ, -1, NULL },
	{ "create f ret ret==9223372036854775807", ROLE_CREATE, "f", 0, POS_RET,
	  0, COND_EQ, INT64_MAX, NULL },
	{ "create f ret ret==-9223372036854775808", ROLE_CREATE, "f", 0,
	  POS_RET, 0, COND_EQ, INT64_MIN, NULL },
	{ "create f ret ret==18446744073709551615", ROLE_CREATE, "f", 0,
	  POS_RET, 0, COND_EQ, -1, NULL },
	{ "create f ret ret==007", ROLE_CREATE, "f", 0, POS_RET, 0, COND_EQ, 7,
	  NULL },
	{ "release f arg0 family=dog,cat ret==0", ROLE_RELEASE, "f", 0, POS_ARG,
	  0, COND_EQ, 0, "dog,cat" },
	{ "release f arg0 ret==0 family=dog,cat", ROLE_RELEASE, "f", 0, POS_ARG,
	  0, COND_EQ, 0, "dog,cat" },
	{ "create f ret family=dog ret!=0", ROLE_CREATE, "f", 0, POS_RET, 0,
	  COND_NE, 0, "dog" },
	{ "  use f arg0   # trailing comment", ROLE_USE, "f", 0, POS_ARG, 0,
	  COND_NONE, 0, NULL },
	{ "use f arg0#comment family=x", ROLE_USE, "f", 0, POS_ARG, 0,
	  COND_NONE, 0, NULL },
	{ "use\tf\targ0\r", ROLE_USE, "f", 0, POS_ARG, 0, COND_NONE, 0, NULL },
	{ "release f arg0 family=dog,dog", ROLE_RELEASE, "f", 0, POS_ARG, 0,
	  COND_NONE, 0, "dog" },
	{ "release f arg0 family=a.b-c_D9", ROLE_RELEASE, "f", 0, POS_ARG, 0,
	  COND_NONE, 0, "a.b-c_D9" },
	{ "acquire f arg00", ROLE_ACQUIRE, "f", 0, POS_ARG, 0, COND_NONE, 0,
	  NULL },
};

START_TEST(test_good_line)
{
	const struct spec_rule *r;
	uint64_t accept = 0;
	char *fams, *name, *save = NULL;

	ck_assert_msg(spec_parse_line(&s, good[_i].line, &err) == 0,
	              "'%s': col %u: %s", good[_i].line, err.col, err.msg);
	ck_assert_uint_eq(s.nrules, 1);
	r = &s.rules[0];
	ck_assert_int_eq(r->role, good[_i].role);
	ck_assert_str_eq(r->func, good[_i].func);
	ck_assert_int_eq(r->is_glob, good[_i].is_glob);
	ck_assert_int_eq(r->pos, good[_i].pos);
	ck_assert_int_eq(r->argn, good[_i].argn);
	ck_assert_int_eq(r->cond, good[_i].cond);
	ck_assert(r->cond_val == good[_i].val);
	ck_assert_uint_eq(r->lib, 0);
	ck_assert_str_eq(r->file, "zoo.spec");
	ck_assert_uint_eq(r->line, 7);
	if (!good[_i].families) {
		ck_assert_uint_eq(r->family, 0);
		ck_assert_uint_eq(r->accept, 0);
		ck_assert_uint_eq(s.nfamilies, 0);
		return;
	}
	fams = strdup(good[_i].families);
	for (name = strtok_r(fams, ",", &save); name;
	     name = strtok_r(NULL, ",", &save)) {
		unsigned id = spec_family_id(&s, name);

		ck_assert_uint_ne(id, 0);
		accept |= 1ULL << id;
		if (r->role == ROLE_CREATE) {
			ck_assert_uint_eq(r->family, id);
			ck_assert_str_eq(s.families[id], name);
		}
	}
	free(fams);
	if (r->role == ROLE_CREATE) {
		ck_assert_uint_eq(r->accept, 0);
	} else {
		ck_assert_uint_eq(r->family, 0);
		ck_assert(r->accept == accept);
	}
}
END_TEST

/* `idempotent` anywhere among a release's options; only there. */
START_TEST(test_idempotent)
{
	static const struct {
		const char *line;
		int idempotent;
		enum spec_cond cond;
		const char *family;
	} lines[] = {
		{ "release lzma_end arg0 idempotent", 1, COND_NONE, NULL },
		{ "release lzma_end arg0 family=lzma_stream idempotent", 1,
		  COND_NONE, "lzma_stream" },
		{ "release f arg0 idempotent ret==0 family=bz", 1, COND_EQ,
		  "bz" },
		{ "release f arg0 ret==0 idempotent   # no-op when not live", 1,
		  COND_EQ, NULL },
		{ "release\tf\targ0\tidempotent\r", 1, COND_NONE, NULL },
		{ "release f arg0 family=bz", 0, COND_NONE, "bz" },
		{ "release f arg0 # idempotent", 0, COND_NONE, NULL },
	};
	size_t i;

	for (i = 0; i < N_ELEMS(lines); i++) {
		const struct spec_rule *r;

		ck_assert_msg(spec_parse_line(&s, lines[i].line, &err) == 0,
		              "'%s': col %u: %s", lines[i].line, err.col,
		              err.msg);
		ck_assert_uint_eq(s.nrules, i + 1);
		r = &s.rules[i];
		ck_assert_int_eq(r->role, ROLE_RELEASE);
		ck_assert_int_eq(r->pos, POS_ARG);
		ck_assert_int_eq(r->idempotent, lines[i].idempotent);
		ck_assert_int_eq(r->cond, lines[i].cond);
		if (lines[i].family)
			ck_assert(r->accept ==
			          1ULL << spec_family_id(&s, lines[i].family));
		else
			ck_assert(r->accept == 0);
	}
	/* Other roles never carry the flag. */
	ck_assert_int_eq(spec_parse_line(&s, "create c ret family=bz", &err),
	                 0);
	ck_assert_int_eq(s.rules[s.nrules - 1].idempotent, 0);
}
END_TEST

/* `borrowed` anywhere among a create's options. */
START_TEST(test_borrowed)
{
	ck_assert_int_eq(spec_parse_line(&s, "create X509_up_ref arg0 ret==1 family=X509 borrowed", &err), 0);
	ck_assert_int_eq(s.rules[0].borrowed, 1);
	ck_assert_int_eq(s.rules[0].cond, COND_EQ);
	ck_assert_int_eq(spec_parse_line(&s, "create f arg0 borrowed ret==1", &err), 0);
	ck_assert_int_eq(s.rules[1].borrowed, 1);
	ck_assert_int_eq(spec_parse_line(&s, "create X509_new ret family=X509", &err), 0);
	ck_assert_int_eq(s.rules[2].borrowed, 0);
}
END_TEST

/* The bundled profiles mark the Ends that are no-ops on a dead stream. */
START_TEST(test_idempotent_profiles)
{
	static const struct {
		const char *profile, *func;
		int idempotent;
	} want[] = {
		{ "bz2", "BZ2_bzCompressEnd", 1 },
		{ "bz2", "BZ2_bzDecompressEnd", 1 },
		{ "bz2", "BZ2_bzclose", 0 },
		{ "lzma", "lzma_end", 1 },
		{ "zlib", "deflateEnd", 0 },
	};
	size_t i, j;

	for (i = 0; i < N_ELEMS(want); i++) {
		struct spec p;
		const struct spec_rule *r = NULL;

		spec_init(&p);
		ck_assert_msg(spec_load_list(&p, want[i].profile,
		                             SRCDIR "/../profiles", &err) == 0,
		              "%s: %s", want[i].profile, err.msg);
		for (j = 0; j < p.nrules; j++)
			if (!strcmp(p.rules[j].func, want[i].func))
				r = &p.rules[j];
		ck_assert_msg(r != NULL, "%s not in %s", want[i].func,
		              want[i].profile);
		ck_assert_int_eq(r->role, ROLE_RELEASE);
		ck_assert_int_eq(r->idempotent, want[i].idempotent);
		spec_free(&p);
	}
}
END_TEST

START_TEST(test_blank_lines)
{
	static const char *const lines[] = {
		"", "   ", "\t\r", "# comment", "\t  # create f ret", "#"
	};
	size_t i;

	for (i = 0; i < N_ELEMS(lines); i++)
		ck_assert_int_eq(spec_parse_line(&s, lines[i], &err), 0);
	ck_assert_uint_eq(s.nrules, 0);
	ck_assert_uint_eq(s.nlibs, 1);
}
END_TEST

START_TEST(test_libraries)
{
	ck_assert_int_eq(spec_parse_line(&s, "create a ret", &err), 0);
	s.cur_line = 9;
	ck_assert_int_eq(
	        spec_parse_line(&s, "  library\tlibcat.so.[0-9]  # x", &err),
	        0);
	ck_assert_int_eq(spec_parse_line(&s, "create b ret", &err), 0);
	ck_assert_uint_eq(s.nlibs, 2);
	ck_assert_str_eq(s.libs[0].pattern, "libzoo.so*");
	ck_assert_uint_eq(s.libs[0].line, 1);
	ck_assert_str_eq(s.libs[1].pattern, "libcat.so.[0-9]");
	ck_assert_str_eq(s.libs[1].file, "zoo.spec");
	ck_assert_uint_eq(s.libs[1].line, 9);
	ck_assert_int_eq(s.cur_lib, 1);
	ck_assert_uint_eq(s.rules[0].lib, 0);
	ck_assert_uint_eq(s.rules[1].lib, 1);
}
END_TEST

START_TEST(test_family_ids)
{
	ck_assert_int_eq(spec_parse_line(&s, "create a ret family=dog", &err),
	                 0);
	ck_assert_int_eq(spec_parse_line(&s,
	                                 "release r arg0 family=cat,dog,owner",
	                                 &err),
	                 0);
	ck_assert_int_eq(spec_parse_line(&s, "create c ret family=cat", &err),
	                 0);
	ck_assert_uint_eq(s.nfamilies, 3);
	ck_assert_uint_eq(spec_family_id(&s, "dog"), 1);
	ck_assert_uint_eq(spec_family_id(&s, "cat"), 2);
	ck_assert_uint_eq(spec_family_id(&s, "owner"), 3);
	ck_assert_uint_eq(spec_family_id(&s, "cage"), 0);
	ck_assert_uint_eq(spec_family_id(&s, ""), 0);
	ck_assert_uint_eq(spec_family_id(&s, NULL), 0);
	ck_assert_uint_eq(s.rules[0].family, 1);
	ck_assert(s.rules[1].accept ==
	          ((1ULL << 1) | (1ULL << 2) | (1ULL << 3)));
	ck_assert_uint_eq(s.rules[2].family, 2);
}
END_TEST

START_TEST(test_too_many_families)
{
	char line[128];
	unsigned i;

	for (i = 1; i <= SPEC_MAX_FAMILIES; i++) {
		snprintf(line, sizeof(line), "create c%u ret family=f%u", i, i);
		ck_assert_int_eq(spec_parse_line(&s, line, &err), 0);
	}
	ck_assert_uint_eq(s.nfamilies, SPEC_MAX_FAMILIES);
	ck_assert_uint_eq(spec_family_id(&s, "f63"), 63);
	ck_assert(s.rules[62].family == 63);
	/* a known family is still fine; a 64th is not */
	ck_assert_int_eq(spec_parse_line(&s, "use u arg0 family=f1,f63", &err),
	                 0);
	ck_assert(s.rules[63].accept == ((1ULL << 1) | (1ULL << 63)));
	ck_assert_int_eq(spec_parse_line(&s, "use u arg0 family=f1,f64", &err),
	                 -EINVAL);
	ck_assert_str_eq(err.msg, "too many families (at most 63), at 'f64'");
	ck_assert_uint_eq(err.col, 22);
	ck_assert_uint_eq(s.nfamilies, SPEC_MAX_FAMILIES);
}
END_TEST

START_TEST(test_many_new_families_in_one_line)
{
	char line[1024] = "use u arg0 family=";
	unsigned i;

	for (i = 1; i <= SPEC_MAX_FAMILIES + 1; i++)
		snprintf(line + strlen(line), sizeof(line) - strlen(line),
		         "%sg%u", i > 1 ? "," : "", i);
	ck_assert_int_eq(spec_parse_line(&s, line, &err), -EINVAL);
	ck_assert_str_eq(err.msg, "too many families (at most 63), at 'g64'");
	ck_assert_uint_eq(err.col, (unsigned)(strstr(line, "g64") - line) + 1);
	ck_assert_uint_eq(s.nfamilies, 0);
	*strrchr(line, ',') = '\0';
	ck_assert_int_eq(spec_parse_line(&s, line, &err), 0);
	ck_assert_uint_eq(s.nfamilies, 63);
	ck_assert(s.rules[0].accept == ~1ULL);
}
END_TEST

START_TEST(test_no_file_name)
{
	struct spec fresh;

	spec_init(&fresh);
	ck_assert_int_eq(fresh.cur_lib, -1);
	ck_assert_int_eq(spec_parse_line(&fresh, "use f arg0", &err), -EINVAL);
	ck_assert_str_eq(err.file, "<spec>");
	spec_free(&fresh);
}
END_TEST

/* ---- files ---- */

START_TEST(test_load_file)
{
	const char *path =
	        WRITE(NULL, NULL,
	              "# the zoo\n"
	              "library  libzoo.so*\n"
	              "\n"
	              "create   create_dog  ret  family=dog\r\n"
	              "release  release     arg0\n"
	              "use      say_walk    arg0"); /* no final newline */
	struct spec t;

	spec_init(&t);
	ck_assert_int_eq(spec_load_file(&t, path, &err), 0);
	ck_assert_uint_eq(t.nlibs, 1);
	ck_assert_uint_eq(t.libs[0].line, 2);
	ck_assert_str_eq(t.libs[0].file, path);
	ck_assert_uint_eq(t.nrules, 3);
	ck_assert_str_eq(t.rules[0].func, "create_dog");
	ck_assert_uint_eq(t.rules[0].line, 4);
	ck_assert_uint_eq(t.rules[0].family, 1);
	ck_assert_str_eq(t.rules[2].func, "say_walk");
	ck_assert_uint_eq(t.rules[2].line, 6);
	ck_assert_str_eq(t.rules[2].file, path);
	ck_assert_uint_eq(t.nfiles, 1);
	ck_assert_str_eq(t.files[0], path);
	/* parser state is back to what it was */
	ck_assert_ptr_null(t.cur_file);
	ck_assert_uint_eq(t.cur_line, 0);
	ck_assert_int_eq(t.cur_lib, -1);
	spec_free(&t);
	ck_assert_uint_eq(t.nrules, 0);
	ck_assert_ptr_null(t.rules);
	ck_assert_ptr_null(t.files);
}
END_TEST

START_TEST(test_load_file_error)
{
	const char *path = WRITE(NULL, NULL,
	                         "library libzoo.so*\n"
	                         "create create_dog ret family=dog\n"
	                         "release release  arg99\n");
	size_t nrules = s.nrules;
	char buf[600], want[600];

	ck_assert_int_eq(spec_load_file(&s, path, &err), -EINVAL);
	ck_assert_str_eq(err.file, path);
	ck_assert_uint_eq(err.line, 3);
	ck_assert_uint_eq(err.col, 18);
	ck_assert_str_eq(err.msg, "argument index 99 out of range (0..15)");
	spec_err_format(&err, buf, sizeof(buf));
	snprintf(
	        want, sizeof(want),
	        "refsan: error: %s:3:18: argument index 99 out of range (0..15)",
	        path);
	ck_assert_str_eq(buf, want);
	/* nothing of the file was kept */
	ck_assert_uint_eq(s.nrules, nrules);
	ck_assert_uint_eq(s.nlibs, 1);
	ck_assert_uint_eq(s.nfiles, 0);
	ck_assert_uint_eq(s.nfamilies, 0);
	ck_assert_str_eq(s.cur_file, "zoo.spec");
	ck_assert_uint_eq(s.cur_line, 7);
	ck_assert_int_eq(s.cur_lib, 0);
}
END_TEST

START_TEST(test_load_file_needs_own_library)
{
	/* the fixture's library line does not carry into a file */
	const char *path = WRITE(NULL, NULL, "\n  create f ret\n");

	ck_assert_int_eq(spec_load_file(&s, path, &err), -EINVAL);
	ck_assert_uint_eq(err.line, 2);
	ck_assert_uint_eq(err.col, 3);
	ck_assert_str_eq(err.msg, "rule before any 'library' line");
}
END_TEST

START_TEST(test_load_missing)
{
	char buf[600];

	ck_assert_int_eq(spec_load_file(&s, "/nonexistent/zoo.spec", &err),
	                 -ENOENT);
	ck_assert_str_eq(err.file, "/nonexistent/zoo.spec");
	ck_assert_uint_eq(err.line, 0);
	ck_assert_uint_eq(err.col, 0);
	ck_assert_str_eq(err.msg,
	                 "cannot read spec file: No such file or directory");
	spec_err_format(&err, buf, sizeof(buf));
	ck_assert_str_eq(
	        buf,
	        "refsan: error: /nonexistent/zoo.spec: cannot read spec file: No such file or directory");
	ck_assert_uint_eq(s.nfiles, 0);
}
END_TEST

START_TEST(test_load_directory)
{
	const char *dir = make_dir();

	ck_assert_int_eq(spec_load_file(&s, dir, &err), -EISDIR);
	ck_assert_str_eq(err.msg, "cannot read spec file: Is a directory");
	ck_assert_uint_eq(err.line, 0);
	ck_assert_uint_eq(s.nfiles, 0);
}
END_TEST

START_TEST(test_load_empty)
{
	const char *empty = WRITE(NULL, NULL, "");
	const char *comments = WRITE(NULL, NULL, "# nothing yet\n\n   \n");

	ck_assert_int_eq(spec_load_file(&s, empty, &err), 0);
	ck_assert_int_eq(spec_load_file(&s, comments, &err), 0);
	ck_assert_uint_eq(s.nrules, 0);
	ck_assert_uint_eq(s.nfiles, 2);
}
END_TEST

START_TEST(test_load_long_line)
{
	size_t n = 100000, i;
	char *text = malloc(n + 64), *p = text;
	const char *path;

	p += sprintf(p, "library libzoo.so*\nuse ");
	for (i = 0; i < n; i++)
		*p++ = 'a';
	p += sprintf(p, " arg0 ret==1\nuse b arg0 foo\n");
	path = write_file(NULL, NULL, text, (size_t)(p - text));
	free(text);

	ck_assert_int_eq(spec_load_file(&s, path, &err), -EINVAL);
	ck_assert_uint_eq(err.line, 3);
	ck_assert_uint_eq(err.col, 12);
	/* the long rule itself was read whole before the error */
	ck_assert_uint_eq(s.nrules, 0);
	ck_assert_int_eq(spec_parse_line(&s, "use f arg0", &err), 0);
}
END_TEST

START_TEST(test_load_long_line_whole)
{
	size_t n = 70000, i;
	char *text = malloc(n + 64), *p = text;
	const char *path;

	p += sprintf(p, "library libzoo.so*\r\nuse ");
	for (i = 0; i < n; i++)
		*p++ = 'a';
	p += sprintf(p, " arg0 ret==1\r\n");
	path = write_file(NULL, NULL, text, (size_t)(p - text));
	free(text);

	ck_assert_int_eq(spec_load_file(&s, path, &err), 0);
	ck_assert_uint_eq(s.nrules, 1);
	ck_assert_uint_eq(strlen(s.rules[0].func), n);
	ck_assert_int_eq(s.rules[0].cond, COND_EQ);
	ck_assert(s.rules[0].cond_val == 1);
}
END_TEST

START_TEST(test_load_bom_and_nul)
{
	const char *bom = WRITE(NULL, NULL,
	                        "\xef\xbb\xbflibrary libzoo.so*\n"
	                        "use f arg0\n");
	const char *nul = write_file(NULL, NULL,
	                             "library libzoo.so*\nuse f\0 arg0\n", 30);

	ck_assert_int_eq(spec_load_file(&s, bom, &err), 0);
	ck_assert_uint_eq(s.nrules, 1);
	ck_assert_int_eq(spec_load_file(&s, nul, &err), -EINVAL);
	ck_assert_uint_eq(err.line, 2);
	ck_assert_uint_eq(err.col, 6);
	ck_assert_str_eq(err.msg,
	                 "NUL byte in the line (is this a text file?)");
	ck_assert_uint_eq(s.nrules, 1);
}
END_TEST

/*
 * A line without end (found by fuzzing the loader: spec=/dev/zero read
 * until memory ran out): an error at 1 MiB, not an allocation without end.
 */
START_TEST(test_load_endless_line)
{
	const char *paths[] = { "/dev/zero", NULL };
	size_t n = (1 << 20) + 10;
	char *text = malloc(n);

	memset(text, 'a', n);
	paths[1] = write_file(NULL, NULL, text, n);
	free(text);
	for (size_t i = 0; i < N_ELEMS(paths); i++) {
		ck_assert_int_eq(spec_load_file(&s, paths[i], &err), -EINVAL);
		ck_assert_uint_eq(err.line, 1);
		ck_assert_uint_eq(err.col, 1);
		ck_assert_str_eq(err.msg, "line longer than 1048576 bytes (is "
		                          "this a text file?)");
		ck_assert_uint_eq(s.nrules, 0);
	}
}
END_TEST

/* ---- lists and profiles ---- */

START_TEST(test_load_list)
{
	const char *a =
	        WRITE(NULL, NULL, "library liba.so\ncreate a ret family=x\n");
	const char *b = WRITE(NULL, NULL,
	                      "library libb.so\nrelease b arg0 family=y,x\n");
	char list[600];
	struct spec t;

	spec_init(&t);
	snprintf(list, sizeof(list), "%s, %s,,%s,", a, b, a);
	ck_assert_msg(spec_load_list(&t, list, "", &err) == 0, "%s", err.msg);
	/* a file named twice is loaded once */
	ck_assert_uint_eq(t.nfiles, 2);
	ck_assert_str_eq(t.files[0], a);
	ck_assert_str_eq(t.files[1], b);
	ck_assert_uint_eq(t.nlibs, 2);
	ck_assert_uint_eq(t.nrules, 2);
	ck_assert_uint_eq(t.rules[1].lib, 1);
	ck_assert_str_eq(t.rules[1].file, b);
	ck_assert_uint_eq(t.nfamilies, 2);
	ck_assert(t.rules[1].accept == ((1ULL << 1) | (1ULL << 2)));
	spec_free(&t);

	spec_init(&t);
	ck_assert_int_eq(spec_load_list(&t, "", NULL, &err), 0);
	ck_assert_int_eq(spec_load_list(&t, NULL, NULL, &err), 0);
	ck_assert_uint_eq(t.nfiles, 0);
	spec_free(&t);
}
END_TEST

START_TEST(test_load_list_rollback)
{
	const char *a =
	        WRITE(NULL, NULL, "library liba.so\ncreate a ret family=x\n");
	const char *b =
	        WRITE(NULL, NULL, "library libb.so\nrelease b arg0 famly=y\n");
	char list[600];

	snprintf(list, sizeof(list), "%s,%s", a, b);
	ck_assert_int_eq(spec_load_list(&s, list, "", &err), -EINVAL);
	ck_assert_str_eq(err.file, b);
	ck_assert_uint_eq(err.line, 2);
	ck_assert_uint_eq(err.col, 16);
	ck_assert_str_eq(err.msg,
	                 "unknown option 'famly' (expected family=NAME)");
	/* the first file, loaded fine, is dropped too */
	ck_assert_uint_eq(s.nfiles, 0);
	ck_assert_uint_eq(s.nlibs, 1);
	ck_assert_uint_eq(s.nrules, 0);
	ck_assert_uint_eq(s.nfamilies, 0);
}
END_TEST

START_TEST(test_profiles)
{
	const char *d1 = make_dir(), *d2 = make_dir();
	const char *zoo = WRITE(d2, "zoo.spec",
	                        "library libzoo.so*\ncreate create_dog ret\n");
	const char *other =
	        WRITE(NULL, NULL, "library libcat.so\nuse meow arg0\n");
	char dirs[300], list[600];

	snprintf(dirs, sizeof(dirs), "%s::%s", d1, d2);
	snprintf(list, sizeof(list), "zoo,%s", other);
	ck_assert_msg(spec_load_list(&s, list, dirs, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(s.nfiles, 2);
	/* recorded as the user named it; rules name the file read */
	ck_assert_str_eq(s.files[0], "zoo");
	ck_assert_str_eq(s.files[1], other);
	ck_assert_str_eq(s.rules[0].file, zoo);
	ck_assert_str_eq(s.libs[1].file, zoo);
	ck_assert_str_eq(s.rules[1].file, other);
	ck_assert_str_eq(s.rules[1].func, "meow");
}
END_TEST

START_TEST(test_profile_shadowed)
{
	/* the first directory that has the profile wins */
	const char *d1 = make_dir(), *d2 = make_dir();
	char dirs[300];

	WRITE(d2, "p.spec", "library lib2.so\n");
	WRITE(d1, "p.spec", "library lib1.so\n");
	snprintf(dirs, sizeof(dirs), "%s:%s", d1, d2);
	ck_assert_int_eq(spec_load_list(&s, "p", dirs, &err), 0);
	ck_assert_str_eq(s.libs[1].pattern, "lib1.so");
}
END_TEST

START_TEST(test_profile_error_names_file)
{
	const char *d = make_dir();
	char path[300];

	WRITE(d, "bad.spec", "library libzoo.so*\nuse f ret!=0\n");
	snprintf(path, sizeof(path), "%s/bad.spec", d);
	ck_assert_int_eq(spec_load_list(&s, "bad", d, &err), -EINVAL);
	ck_assert_str_eq(err.file, path);
	ck_assert_uint_eq(err.line, 2);
	ck_assert_uint_eq(err.col, 7);
}
END_TEST

START_TEST(test_unknown_profile)
{
	const char *d1 = make_dir(), *d2 = make_dir();
	char dirs[300], want[600], buf[600];

	snprintf(dirs, sizeof(dirs), "%s:%s:", d1, d2);
	ck_assert_int_eq(spec_load_list(&s, "sqlite4", dirs, &err), -ENOENT);
	snprintf(
	        want, sizeof(want),
	        "unknown profile 'sqlite4' (looked in %s, %s) and no such file",
	        d1, d2);
	ck_assert_str_eq(err.msg, want);
	ck_assert_str_eq(err.file, "");
	ck_assert_uint_eq(err.line, 0);
	spec_err_format(&err, buf, sizeof(buf));
	snprintf(
	        want, sizeof(want),
	        "refsan: error: unknown profile 'sqlite4' (looked in %s, %s) and no such file",
	        d1, d2);
	ck_assert_str_eq(buf, want);

	ck_assert_int_eq(spec_load_list(&s, "zoo", "", &err), -ENOENT);
	ck_assert_str_eq(
	        err.msg,
	        "unknown profile 'zoo' (no profile directories) and no such file");
	/* names that look like files are never profiles */
	ck_assert_int_eq(spec_load_list(&s, "zoo.spec", d1, &err), -ENOENT);
	ck_assert_str_eq(err.file, "zoo.spec");
	ck_assert_str_eq(err.msg,
	                 "cannot read spec file: No such file or directory");
	ck_assert_int_eq(spec_load_list(&s, "./zoo", d1, &err), -ENOENT);
	ck_assert_str_eq(err.file, "./zoo");
	ck_assert_uint_eq(s.nfiles, 0);
}
END_TEST

START_TEST(test_err_format)
{
	static const struct {
		const char *file;
		unsigned line, col;
		const char *want;
	} rows[] = {
		{ "zoo.spec", 7, 10, "refsan: error: zoo.spec:7:10: M" },
		{ "zoo.spec", 7, 0, "refsan: error: zoo.spec:7: M" },
		{ "zoo.spec", 0, 0, "refsan: error: zoo.spec: M" },
		{ "", 0, 0, "refsan: error: M" },
	};
	char buf[300], small[16];
	size_t i;

	for (i = 0; i < N_ELEMS(rows); i++) {
		struct spec_err e = { .line = rows[i].line,
			              .col = rows[i].col };

		snprintf(e.file, sizeof(e.file), "%s", rows[i].file);
		snprintf(e.msg, sizeof(e.msg), "M");
		spec_err_format(&e, buf, sizeof(buf));
		ck_assert_str_eq(buf, rows[i].want);
		spec_err_format(&e, small, sizeof(small));
		ck_assert_uint_eq(strlen(small), sizeof(small) - 1);
	}
}
END_TEST

UNIT_SUITE(spec_suite)
{
	Suite *su = suite_create("spec");
	TCase *tc;

	tc = tcase_create("malformed lines");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_bad_line, 0, N_ELEMS(bad));
	tcase_add_test(tc, test_rule_before_library);
	tcase_add_test(tc, test_too_many_families);
	tcase_add_test(tc, test_many_new_families_in_one_line);
	tcase_add_test(tc, test_no_file_name);
	suite_add_tcase(su, tc);

	tc = tcase_create("lines");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_good_line, 0, N_ELEMS(good));
	tcase_add_test(tc, test_blank_lines);
	tcase_add_test(tc, test_libraries);
	tcase_add_test(tc, test_family_ids);
	tcase_add_test(tc, test_idempotent);
	tcase_add_test(tc, test_borrowed);
	tcase_add_test(tc, test_idempotent_profiles);
	suite_add_tcase(su, tc);

	tc = tcase_create("files");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_load_file);
	tcase_add_test(tc, test_load_file_error);
	tcase_add_test(tc, test_load_file_needs_own_library);
	tcase_add_test(tc, test_load_missing);
	tcase_add_test(tc, test_load_directory);
	tcase_add_test(tc, test_load_empty);
	tcase_add_test(tc, test_load_long_line);
	tcase_add_test(tc, test_load_long_line_whole);
	tcase_add_test(tc, test_load_bom_and_nul);
	tcase_add_test(tc, test_load_endless_line);
	suite_add_tcase(su, tc);

	tc = tcase_create("lists and profiles");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_load_list);
	tcase_add_test(tc, test_load_list_rollback);
	tcase_add_test(tc, test_profiles);
	tcase_add_test(tc, test_profile_shadowed);
	tcase_add_test(tc, test_profile_error_names_file);
	tcase_add_test(tc, test_unknown_profile);
	tcase_add_test(tc, test_err_format);
	suite_add_tcase(su, tc);
	return su;
}
