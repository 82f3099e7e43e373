/*
 * test-report.c: the report renderers (report_text.c, report_json.c) and
 * the writer under them (outbuf.c).  Report models are built by hand here,
 * covering every error kind, Python frames, frames with unknown parts,
 * suppressions and an incomplete report, and their text and JSON are
 * compared byte for byte with golden files in tests/golden/.  The JSON is
 * also parsed with /usr/bin/python3 when it exists.
 *
 * After an intended change of the output, regenerate the golden files and
 * review the diff:
 *
 *     REFSAN_UPDATE_GOLDEN=1 build/tests/test-report
 *     git diff tests/golden/
 *
 * The tests run with the working directory set to /usr (restored after),
 * so that a path under it is shown relative in text while the JSON,
 * which keeps paths whole, stays the same on every machine.  The version
 * in the JSON is replaced by @VERSION@ before comparing, so that a release
 * does not touch the golden files.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "outbuf.h"
#include "report.h"
#include "unit.h"

#define GOLDEN_DIR SRCDIR "/golden"
#define PYTHON "/usr/bin/python3"

/* ---- capture: output written to an fd, read back ---- */

struct capture {
	char path[256];
	int fd;
};

static void
capture_open(struct capture *c)
{
	const char *dir = getenv("TMPDIR");

	if (!dir || !*dir)
		dir = "/tmp";
	snprintf(c->path, sizeof(c->path), "%s/refsan-test-report-XXXXXX", dir);
	c->fd = mkstemp(c->path);
	ck_assert_msg(c->fd >= 0, "mkstemp %s: %s", c->path, strerror(errno));
}

/* The bytes written so far, NUL-terminated (malloc'd); *LEN their count. */
static char *
capture_read(struct capture *c, size_t *len)
{
	struct stat st;
	char *buf;
	ssize_t n;

	ck_assert_int_eq(fstat(c->fd, &st), 0);
	buf = malloc((size_t)st.st_size + 1);
	ck_assert_ptr_nonnull(buf);
	n = pread(c->fd, buf, (size_t)st.st_size, 0);
	ck_assert_int_eq(n, st.st_size);
	buf[n] = '\0';
	if (len)
		*len = (size_t)n;
	return buf;
}

static void
capture_close(struct capture *c)
{
	close(c->fd);
	unlink(c->path);
}

/* ---- golden files ---- */

static bool
update_golden(void)
{
	const char *v = getenv("REFSAN_UPDATE_GOLDEN");

	return v && strcmp(v, "1") == 0;
}

static char *
read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0, k;

	if (!f)
		return NULL;
	do {
		if (cap - n < 4096) {
			cap = cap ? 2 * cap : 8192;
			buf = realloc(buf, cap + 1);
			ck_assert_ptr_nonnull(buf);
		}
		k = fread(buf + n, 1, cap - n, f);
		n += k;
	} while (k > 0);
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* Replace the first "version": "X.Y.Z" by "version": "@VERSION@". */
static char *
mask_version(char *s, size_t *len)
{
	static const char from[] = "\"version\": \"" REFSAN_VERSION "\"";
	static const char to[] = "\"version\": \"@VERSION@\"";
	char *p = strstr(s, from), *out;
	size_t pre;

	if (!p)
		return s;
	pre = (size_t)(p - s);
	out = malloc(*len - strlen(from) + strlen(to) + 1);
	ck_assert_ptr_nonnull(out);
	memcpy(out, s, pre);
	memcpy(out + pre, to, strlen(to));
	strcpy(out + pre + strlen(to), p + strlen(from));
	*len = *len - strlen(from) + strlen(to);
	free(s);
	return out;
}

static void
golden_check(const char *name, const char *got, size_t glen)
{
	char path[512];
	char *want;
	size_t wlen, i, line = 1, ls = 0, le_g, le_w;

	snprintf(path, sizeof(path), "%s/%s", GOLDEN_DIR, name);
	if (update_golden()) {
		FILE *f = fopen(path, "wb");

		ck_assert_msg(f != NULL, "cannot write %s", path);
		ck_assert_uint_eq(fwrite(got, 1, glen, f), glen);
		ck_assert_int_eq(fclose(f), 0);
		return;
	}
	want = read_file(path, &wlen);
	ck_assert_msg(
	        want != NULL,
	        "missing golden file %s (REFSAN_UPDATE_GOLDEN=1 writes it)",
	        path);
	for (i = 0; i < glen && i < wlen && got[i] == want[i]; i++) {
		if (got[i] == '\n') {
			line++;
			ls = i + 1;
		}
	}
	if (i == glen && i == wlen) {
		free(want);
		return;
	}
	for (le_g = ls; le_g < glen && got[le_g] != '\n'; le_g++)
		;
	for (le_w = ls; le_w < wlen && want[le_w] != '\n'; le_w++)
		;
	ck_abort_msg("%s differs at line %zu:\n  want: %.*s\n  got:  %.*s\n"
	             "(REFSAN_UPDATE_GOLDEN=1 regenerates the golden files)",
	             path, line, (int)(le_w - ls), want + ls, (int)(le_g - ls),
	             got + ls);
}

/* ---- JSON validity, by Python's parser ---- */

static void
check_json_parses(const char *path)
{
	char cmd[1024];
	int st;

	if (access(PYTHON, X_OK) != 0)
		return; /* no python3: the golden file still pins the bytes */
	snprintf(cmd, sizeof(cmd),
	         PYTHON
	         " -c 'import json,sys; "
	         "json.load(open(sys.argv[1], encoding=\"utf-8\"))' '%s'",
	         path);
	st = system(cmd);
	ck_assert_msg(st == 0, "JSON output does not parse (%s): status %d",
	              path, st);
}

/* No raw control byte but '\n' (text) and no raw byte below 0x20 (JSON). */
static void
check_no_control_bytes(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		ck_assert_msg((c >= 0x20 && c != 0x7f) || c == '\n',
		              "raw control byte 0x%02x at offset %zu", c, i);
	}
}

/* ---- the report models ---- */

/* Working directory of the tests: paths under it are shown relative. */
#define CWD "/usr"

static struct report_frame f_create_dog[] = {
	{ .pc = 0x7f3a1c2d10a0,
	  .module = "libzoo.so",
	  .offset = 0x10a0,
	  .function = "create_dog",
	  .file = "zoo.c",
	  .line = 31 },
	{ .pc = 0x7f3a1c2d2000, .module = "libzoo.so", .offset = 0x2000 },
	{ .python = true,
	  .function = "Dog.__init__",
	  .file = CWD "/src/zoo/zoo_wrap.py",
	  .line = 18 },
	{ .python = true,
	  .function = "Kennel.fill",
	  .file = "kennel.py",
	  .line = 9 },
};
static struct report_frame f_release[] = {
	{ .pc = 0x7f3a1c2d1139,
	  .module = "libzoo.so",
	  .offset = 0x1139,
	  .function = "release",
	  .file = "zoo.c",
	  .line = 88 },
	{ .python = true,
	  .function = "DogOwner.__del__",
	  .file = "zoo_wrap.py",
	  .line = 41 },
	{ .python = true,
	  .function = "test_owner_walks",
	  .file = "test_zoo.py",
	  .line = 17 },
};
static struct report_frame f_last_release[] = {
	{ .pc = 0x7f3a1c2d1139,
	  .module = "libzoo.so",
	  .offset = 0x1139,
	  .function = "release",
	  .file = "zoo.c",
	  .line = 88 },
	{ .python = true,
	  .function = "Dog.__del__",
	  .file = "zoo_wrap.py",
	  .line = 22 },
};
static struct report_frame f_use[] = {
	{ .pc = 0x7f3a1c2d1200,
	  .module = "libzoo.so",
	  .offset = 0x1200,
	  .function = "say_walk" },
	{ .pc = 0x55d0c3a01234,
	  .module = "walker",
	  .offset = 0x1234,
	  .function = "main",
	  .file = "/opt/zoo/walker.c",
	  .line = 12 },
};
static struct report_frame f_invalid[] = {
	{ .pc = 0x7f3a1c2d1139,
	  .module = "libzoo.so",
	  .offset = 0x1139,
	  .function = "release",
	  .file = "zoo.c",
	  .line = 88 },
	{ .pc = 0x7ffc00001000 },
};
static struct report_frame f_create_owner[] = {
	{ .pc = 0x7f3a1c2d10f0,
	  .module = "libzoo.so",
	  .offset = 0x10f0,
	  .function = "create_owner",
	  .file = "zoo.c",
	  .line = 52 },
	{ .python = true,
	  .function = "DogOwner.__init__",
	  .file = "zoo_wrap.py",
	  .line = 35 },
};
static struct report_frame f_acquire1[] = {
	{ .pc = 0x7f3a1c2d1100,
	  .module = "libzoo.so",
	  .offset = 0x1100,
	  .function = "add_ref",
	  .file = "zoo.c",
	  .line = 70 },
	{ .python = true,
	  .function = "DogOwner.adopt",
	  .file = "zoo_wrap.py",
	  .line = 44 },
};
static struct report_frame f_acquire2[] = {
	{ .pc = 0x7f3a1c2d1100,
	  .module = "libzoo.so",
	  .offset = 0x1100,
	  .function = "add_ref",
	  .file = "zoo.c",
	  .line = 70 },
	{ .python = true,
	  .function = "DogOwner.share",
	  .file = "zoo_wrap.py",
	  .line = 50 },
};
static struct report_frame f_create_cage[] = {
	{ .pc = 0x7f3a1c2d1300,
	  .module = "libzoo.so",
	  .offset = 0x1300,
	  .function = "open_cage",
	  .file = CWD "x/zoo/cage.c",
	  .line = 7 },
	{ .pc = 0x7f3a1c2d10f8,
	  .module = "libzoo.so",
	  .offset = 0x10f8,
	  .function = "create_owner",
	  .file = "zoo.c",
	  .line = 55 },
};
static struct report_frame f_mismatch[] = {
	{ .pc = 0x7f3a1c2d1139,
	  .module = "libzoo.so",
	  .offset = 0x1139,
	  .function = "release",
	  .file = "zoo.c",
	  .line = 88 },
	{ .python = true,
	  .function = "Cage.close",
	  .file = "zoo_wrap.py",
	  .line = 60 },
};
static struct report_frame f_cached[] = {
	{ .pc = 0x7f3a1c2d1400,
	  .module = "libzoo.so",
	  .offset = 0x1400,
	  .function = "create_cached_dog",
	  .file = "zoo.c",
	  .line = 101 },
};
static struct report_frame f_legacy[] = {
	{ .pc = 0x7f3a1c2d1500,
	  .module = "libzoo.so",
	  .offset = 0x1500,
	  .file = "legacy.c" },
	{ .python = true },
};

static struct report_stack stacks[] = {
	{ 1, f_create_dog, N_ELEMS(f_create_dog), 0 },
	{ 2, f_release, N_ELEMS(f_release), 0 },
	{ 3, f_last_release, N_ELEMS(f_last_release), 4243 },
	{ 4, f_use, N_ELEMS(f_use), 0 },
	{ 5, f_invalid, N_ELEMS(f_invalid), 0 },
	{ 6, f_create_owner, N_ELEMS(f_create_owner), 0 },
	{ 7, f_acquire1, N_ELEMS(f_acquire1), 0 },
	{ 8, f_acquire2, N_ELEMS(f_acquire2), 0 },
	{ 9, f_create_cage, N_ELEMS(f_create_cage), 0 },
	{ 10, f_mismatch, N_ELEMS(f_mismatch), 0 },
	{ 11, f_cached, N_ELEMS(f_cached), 0 },
	{ 12, f_legacy, N_ELEMS(f_legacy), 0 },
	{ 13, NULL, 0, 0 },
};

static uintptr_t dogs[] = { 0x55d0c3a0e2b0, 0x55d0c3a0e2d0, 0x55d0c3a0e2f0 };
static uintptr_t owners[] = { 0x55d0c3a0e400 };
static uintptr_t cages[] = { 0x55d0c3a0e500, 0x55d0c3a0e520 };
static uintptr_t cached[] = { 0x55d0c3a0e600, 0x55d0c3a0e620 };
static uint32_t owner_acquires[] = { 7, 8 };

/* Misuse first, leaks last, as the builder lists them; an indirect leak
 * before a direct one, which the text puts after it. */
static struct report_error errors[] = {
	{ .kind = KIND_DOUBLE_RELEASE,
	  .family = "dog",
	  .function = "release",
	  .handle = 0x55d0c3a0e2b0,
	  .stack = 2,
	  .last_release_stack = 3,
	  .created_stack = 1 },
	{ .kind = KIND_USE_AFTER_RELEASE,
	  .family = "dog",
	  .function = "say_walk",
	  .count = 2,
	  .handle = 0x55d0c3a0e2b0,
	  .stack = 4,
	  .last_release_stack = 3,
	  .created_stack = 0 },
	{ .kind = KIND_INVALID_RELEASE,
	  .function = "release",
	  .handle = 0xdeadbeef,
	  .stack = 5 },
	{ .kind = KIND_FAMILY_MISMATCH,
	  .family = "cage",
	  .function = "release",
	  .expected_family = "dog",
	  .handle = 0x55d0c3a0e500,
	  .stack = 10,
	  .created_stack = 13 },
	{ .kind = KIND_LEAK,
	  .family = "dog",
	  .function = "create_dog",
	  .count = 3,
	  .refcount = 1,
	  .handles = dogs,
	  .nhandles = 3,
	  .stack = 1 },
	{ .kind = KIND_LEAK,
	  .family = "cage",
	  .function = "open_cage",
	  .count = 2,
	  .refcount = 1,
	  .handles = cages,
	  .nhandles = 2,
	  .indirect = true,
	  .stack = 9 },
	{ .kind = KIND_LEAK,
	  .family = "owner",
	  .function = "create_owner",
	  .count = 1,
	  .refcount = 3,
	  .handles = owners,
	  .nhandles = 1,
	  .acquire_stacks = owner_acquires,
	  .nacquire_stacks = 2,
	  .stack = 6 },
};

static struct report_error suppressed[] = {
	{ .kind = KIND_LEAK,
	  .family = "dog",
	  .function = "create_cached_dog",
	  .count = 3,
	  .refcount = 1,
	  .handles = cached,
	  .nhandles = 2,
	  .stack = 11,
	  .suppressed_by = "leak:create_cached_dog" },
	{ .kind = KIND_DOUBLE_RELEASE,
	  .function = "release",
	  .handle = 0x55d0c3a0e700,
	  .stack = 12,
	  .suppressed_by = "double_release:*legacy_*" },
};

static struct report_suppression suppressions[] = {
	{ "leak:create_cached_dog", 1, 3 },
	{ "double_release:*legacy_*", 1, 1 },
};

static const char *const argv_basic[] = { "python3", "-m", "pytest", "tests/" };
static const char *const specs_basic[] = { "zoo.spec", "sqlite3" };

static void
model_basic(struct report *r)
{
	memset(r, 0, sizeof(*r));
	r->pid = 4242;
	r->ppid = 4200;
	r->argv = argv_basic;
	r->argc = N_ELEMS(argv_basic);
	r->exit_status = 23;
	r->specs = specs_basic;
	r->nspecs = N_ELEMS(specs_basic);
	r->counters.created = 10;
	r->counters.acquired = 2;
	r->counters.released = 11;
	r->counters.live = 6;
	r->counters.peak_live = 8;
	r->incomplete = true;
	r->incomplete_reason = "the stack depot was full: 12 stack(s) dropped";
	r->final = true;
	r->errors = errors;
	r->nerrors = N_ELEMS(errors);
	r->suppressed = suppressed;
	r->nsuppressed = N_ELEMS(suppressed);
	r->suppressions = suppressions;
	r->nsuppressions = N_ELEMS(suppressions);
	r->stacks = stacks;
	r->nstacks = N_ELEMS(stacks);
}

static void
model_basic_all(struct report *r)
{
	model_basic(r);
	r->print_misuse = true;
}

/* An on-demand report: live handles, no suppressions, complete. */
static void
model_live(struct report *r)
{
	model_basic(r);
	r->final = false;
	r->exit_status = 0;
	r->incomplete = false;
	r->suppressed = NULL;
	r->nsuppressed = 0;
	r->suppressions = NULL;
	r->nsuppressions = 0;
}

static void
model_misuse_only(struct report *r)
{
	model_basic(r);
	r->errors = errors;
	r->nerrors = 1;
	r->incomplete = false;
	r->suppressed = NULL;
	r->nsuppressed = 0;
	r->suppressions = NULL;
	r->nsuppressions = 0;
}

static void
model_clean(struct report *r)
{
	memset(r, 0, sizeof(*r));
	r->pid = 7;
	r->ppid = 1;
	r->final = true;
	r->counters.created = 4;
	r->counters.released = 4;
	r->counters.peak_live = 2;
}

/* Strings a program may well hold, and some it should not. */
static struct report_frame f_hostile[] = {
	{ .pc = 0x1000,
	  .module = "lib\tzoo.so",
	  .offset = 0x1000,
	  .function = "evil\"quote\\back\nnew\x01"
	              "ctl\x1b[2J\xff\xfe</script>",
	  .file = CWD "/src/\"we\\ird\"\n.c",
	  .line = 1 },
	{ .pc = 0x2000,
	  .module = "libzoo.so",
	  .offset = 0x2000,
	  .function = "caf\xc3\xa9_\xf0\x9f\x90\xb6_\xc2\x85_\xe2\x80\xa8",
	  .file = "\xc3\x28\xed\xa0\x80\xf4\x90\x80\x80\xc0\xaf\xe2\x82",
	  .line = 2 },
	{ .python = true,
	  .function = "<module>\x7f",
	  .file = "\r\n==1==ERROR: forged.py",
	  .line = 3 },
};
static struct report_stack hostile_stacks[] = {
	{ 1, f_hostile, N_ELEMS(f_hostile), 0 },
};
static struct report_error hostile_errors[] = {
	{ .kind = KIND_FAMILY_MISMATCH,
	  .family = "dog\n==1==ERROR: forged",
	  .function = "rel\x1b]0;title\x07",
	  .expected_family = "ca\"t",
	  .handle = 0x10,
	  .stack = 1,
	  .created_stack = 1 },
	{ .kind = KIND_LEAK,
	  .family = "</script><script>alert(1)</script>",
	  .function = "\\",
	  .count = 1,
	  .refcount = 1,
	  .stack = 1 },
};
static struct report_suppression hostile_suppressions[] = {
	{ "leak:*\x1b*\"", 2, 5 },
};
static const char *const argv_hostile[] = {
	"python3",  "-c", "print(\"hi\")\n\x07",
	"\xc3\x28", NULL, "</script><script>alert(1)</script>",
};
static const char *const specs_hostile[] = { "zoo\x7f.spec" };

static void
model_hostile(struct report *r)
{
	memset(r, 0, sizeof(*r));
	r->pid = -1;
	r->ppid = 0;
	r->argv = argv_hostile;
	r->argc = N_ELEMS(argv_hostile);
	r->exit_status = 23;
	r->specs = specs_hostile;
	r->nspecs = N_ELEMS(specs_hostile);
	r->incomplete = true;
	r->incomplete_reason = "reason\r\nwith CRLF \x1b[0m";
	r->final = true;
	r->print_misuse = true;
	r->errors = hostile_errors;
	r->nerrors = N_ELEMS(hostile_errors);
	r->suppressed = hostile_errors;
	r->nsuppressed = 1;
	r->suppressions = hostile_suppressions;
	r->nsuppressions = N_ELEMS(hostile_suppressions);
	r->stacks = hostile_stacks;
	r->nstacks = N_ELEMS(hostile_stacks);
}

/* ---- renderers under test ---- */

enum render {
	R_TEXT,
	R_JSON,
	R_ERRORS, /* report_write_text_error() for each error in turn */
};

static void
render(enum render how, const struct report *r, int fd)
{
	size_t i;

	switch (how) {
	case R_TEXT:
		ck_assert_int_eq(report_write_text(fd, r), 0);
		break;
	case R_JSON:
		ck_assert_int_eq(report_write_json(fd, r), 0);
		break;
	case R_ERRORS:
		for (i = 0; i < r->nerrors; i++)
			ck_assert_int_eq(
			        report_write_text_error(fd, r, &r->errors[i]),
			        0);
		break;
	}
}

static const struct golden_case {
	const char *golden;
	void (*model)(struct report *r);
	enum render how;
} golden_cases[] = {
	{ "report-basic.txt", model_basic, R_TEXT },
	{ "report-basic.json", model_basic, R_JSON },
	{ "report-basic-all.txt", model_basic_all, R_TEXT },
	{ "report-errors.txt", model_basic, R_ERRORS },
	{ "report-live.txt", model_live, R_TEXT },
	{ "report-live.json", model_live, R_JSON },
	{ "report-misuse-only.txt", model_misuse_only, R_TEXT },
	{ "report-clean.txt", model_clean, R_TEXT },
	{ "report-clean.json", model_clean, R_JSON },
	{ "report-hostile.txt", model_hostile, R_TEXT },
	{ "report-hostile-errors.txt", model_hostile, R_ERRORS },
	{ "report-hostile.json", model_hostile, R_JSON },
};

/* ---- fixture: a known working directory ---- */

static int saved_cwd = -1;

static void
setup(void)
{
	saved_cwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(saved_cwd, 0);
	ck_assert_int_eq(chdir(CWD), 0);
}

static void
teardown(void)
{
	ck_assert_int_eq(fchdir(saved_cwd), 0);
	close(saved_cwd);
	saved_cwd = -1;
}

START_TEST(test_golden)
{
	const struct golden_case *gc = &golden_cases[_i];
	struct capture c;
	struct report r;
	size_t len;
	char *out;

	gc->model(&r);
	capture_open(&c);
	render(gc->how, &r, c.fd);
	out = capture_read(&c, &len);
	if (gc->how == R_JSON) {
		check_json_parses(c.path);
		/* Raw '\n' only between members, never inside strings. */
		check_no_control_bytes(out, len);
		out = mask_version(out, &len);
	} else {
		check_no_control_bytes(out, len);
		ck_assert_msg(!strstr(out, "\n==1=="), "forged report line");
	}
	golden_check(gc->golden, out, len);
	free(out);
	capture_close(&c);
}
END_TEST

/* Stacks are found by id, sorted or not; kinds have their names. */
START_TEST(test_find_stack)
{
	struct report r;
	struct report_stack unsorted[] = { { 9, NULL, 0, 0 },
		                           { 3, NULL, 0, 0 },
		                           { 5, NULL, 0, 0 } };

	model_basic(&r);
	ck_assert_ptr_eq(report_find_stack(&r, 1), &stacks[0]);
	ck_assert_ptr_eq(report_find_stack(&r, 13), &stacks[12]);
	ck_assert_ptr_null(report_find_stack(&r, 0));
	ck_assert_ptr_null(report_find_stack(&r, 14));
	r.stacks = unsorted;
	r.nstacks = N_ELEMS(unsorted);
	ck_assert_ptr_eq(report_find_stack(&r, 9), &unsorted[0]);
	ck_assert_ptr_eq(report_find_stack(&r, 3), &unsorted[1]);
	ck_assert_ptr_eq(report_find_stack(&r, 5), &unsorted[2]);
	ck_assert_ptr_null(report_find_stack(&r, 4));
	ck_assert_str_eq(report_kind_name(KIND_LEAK), "leak");
	ck_assert_str_eq(report_kind_name(KIND_FAMILY_MISMATCH),
	                 "family_mismatch");
	ck_assert_str_eq(report_kind_name(KIND_COUNT), "unknown");
}
END_TEST

/* A write error is returned, not swallowed; errno is left alone. */
START_TEST(test_write_error)
{
	struct report r;

	model_basic(&r);
	errno = 1234;
	ck_assert_int_eq(report_write_text(-1, &r), -EBADF);
	ck_assert_int_eq(report_write_json(-1, &r), -EBADF);
	ck_assert_int_eq(report_write_text_error(-1, &r, &errors[0]), -EBADF);
	ck_assert_int_eq(errno, 1234);
}
END_TEST

/* ---- outbuf ---- */

enum ob_op {
	OB_DEC,
	OB_SDEC,
	OB_HEX,
	OB_DEC7,
	OB_JSON,
	OB_TEXT,
};

static const struct ob_case {
	enum ob_op op;
	uint64_t v;
	const char *s;
	const char *want;
} ob_cases[] = {
	{ OB_DEC, 0, NULL, "0" },
	{ OB_DEC, 42, NULL, "42" },
	{ OB_DEC, UINT64_MAX, NULL, "18446744073709551615" },
	{ OB_SDEC, (uint64_t)-1, NULL, "-1" },
	{ OB_SDEC, (uint64_t)INT64_MIN, NULL, "-9223372036854775808" },
	{ OB_SDEC, INT64_MAX, NULL, "9223372036854775807" },
	{ OB_HEX, 0, NULL, "0x0" },
	{ OB_HEX, 0x7f3a1c2d1139, NULL, "0x7f3a1c2d1139" },
	{ OB_HEX, UINT64_MAX, NULL, "0xffffffffffffffff" },
	{ OB_DEC7, 1, NULL, "      1" },
	{ OB_DEC7, 1234567, NULL, "1234567" },
	{ OB_DEC7, 123456789, NULL, "123456789" },
	{ OB_JSON, 0, NULL, "null" },
	{ OB_JSON, 0, "", "\"\"" },
	{ OB_JSON, 0, "a\"b\\c", "\"a\\\"b\\\\c\"" },
	{ OB_JSON, 0, "\n\t\x01\x1f\x7f ~",
	  "\"\\u000a\\u0009\\u0001\\u001f\\u007f ~\"" },
	{ OB_JSON, 0, "a/b</script>", "\"a/b<\\/script>\"" },
	{ OB_JSON, 0, "caf\xc3\xa9 \xf0\x9f\x90\xb6",
	  "\"caf\xc3\xa9 \xf0\x9f\x90\xb6\"" },
	{ OB_JSON, 0, "\xe2\x80\xa8\xe2\x80\xa9", "\"\\u2028\\u2029\"" },
	{ OB_JSON, 0, "\xff", "\"\\ufffd\"" },
	{ OB_JSON, 0, "x\xc3", "\"x\\ufffd\"" },
	{ OB_JSON, 0, "\xc3(", "\"\\ufffd(\"" },
	{ OB_JSON, 0, "\xc0\xaf", "\"\\ufffd\\ufffd\"" },
	{ OB_JSON, 0, "\xe0\x80\xaf", "\"\\ufffd\\ufffd\\ufffd\"" },
	{ OB_JSON, 0, "\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"" },
	{ OB_JSON, 0, "\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"" },
	{ OB_JSON, 0, "\xf4\x8f\xbf\xbf", "\"\xf4\x8f\xbf\xbf\"" },
	{ OB_TEXT, 0, NULL, "" },
	{ OB_TEXT, 0, "zoo.c \\ \"ok\"", "zoo.c \\ \"ok\"" },
	{ OB_TEXT, 0, "a\nb\x1b[31m\x7f", "a\\x0ab\\x1b[31m\\x7f" },
	{ OB_TEXT, 0, "caf\xc3\xa9", "caf\xc3\xa9" },
	{ OB_TEXT, 0, "nel\xc2\x85", "nel\\xc2\\x85" },
	{ OB_TEXT, 0, "\xff\xc3(", "\\xff\\xc3(" },
};

START_TEST(test_outbuf_format)
{
	const struct ob_case *t = &ob_cases[_i];
	struct capture c;
	struct outbuf ob;
	char *out;

	capture_open(&c);
	outbuf_init(&ob, c.fd);
	switch (t->op) {
	case OB_DEC:
		outbuf_dec(&ob, t->v);
		break;
	case OB_SDEC:
		outbuf_sdec(&ob, (int64_t)t->v);
		break;
	case OB_HEX:
		outbuf_hex(&ob, t->v);
		break;
	case OB_DEC7:
		outbuf_dec_width(&ob, t->v, 7);
		break;
	case OB_JSON:
		outbuf_json_str(&ob, t->s);
		break;
	case OB_TEXT:
		outbuf_text_str(&ob, t->s);
		break;
	}
	ck_assert_int_eq(outbuf_flush(&ob), 0);
	out = capture_read(&c, NULL);
	ck_assert_str_eq(out, t->want);
	free(out);
	capture_close(&c);
}
END_TEST

/* Output larger than the buffer arrives whole and in order. */
START_TEST(test_outbuf_large)
{
	struct capture c;
	struct outbuf ob;
	char chunk[1000], *out;
	size_t len, i;

	for (i = 0; i < sizeof(chunk); i++)
		chunk[i] = (char)('a' + i % 26);
	capture_open(&c);
	outbuf_init(&ob, c.fd);
	for (i = 0; i < 3 * OUTBUF_SIZE; i++)
		outbuf_putc(&ob, (char)('A' + i % 26));
	for (i = 0; i < 20; i++)
		outbuf_write(&ob, chunk, sizeof(chunk));
	outbuf_puts(&ob, "end");
	ck_assert_int_eq(outbuf_flush(&ob), 0);
	out = capture_read(&c, &len);
	ck_assert_uint_eq(len, 3 * OUTBUF_SIZE + 20 * sizeof(chunk) + 3);
	for (i = 0; i < 3 * OUTBUF_SIZE; i++)
		ck_assert_int_eq(out[i], 'A' + i % 26);
	for (i = 0; i < 20 * sizeof(chunk); i++)
		ck_assert_int_eq(out[3 * OUTBUF_SIZE + i],
		                 chunk[i % sizeof(chunk)]);
	ck_assert_str_eq(out + len - 3, "end");
	free(out);
	capture_close(&c);
}
END_TEST

/* The first error sticks; later output is dropped, errno kept. */
START_TEST(test_outbuf_error)
{
	struct outbuf ob;
	size_t i;

	outbuf_init(&ob, -1);
	errno = 4321;
	for (i = 0; i < 2 * OUTBUF_SIZE; i++)
		outbuf_putc(&ob, 'x');
	ck_assert_int_eq(ob.err, -EBADF);
	ck_assert_int_eq(errno, 4321);
	outbuf_puts(&ob, "more");
	ck_assert_uint_eq(ob.len, 0);
	ck_assert_int_eq(outbuf_flush(&ob), -EBADF);
	ck_assert_int_eq(outbuf_flush(&ob), -EBADF);
	ck_assert_int_eq(errno, 4321);
}
END_TEST

UNIT_SUITE(report_suite)
{
	Suite *s = suite_create("report");
	TCase *tc;

	tc = tcase_create("outbuf");
	tcase_add_loop_test(tc, test_outbuf_format, 0, N_ELEMS(ob_cases));
	tcase_add_test(tc, test_outbuf_large);
	tcase_add_test(tc, test_outbuf_error);
	suite_add_tcase(s, tc);

	tc = tcase_create("render");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_golden, 0, N_ELEMS(golden_cases));
	tcase_add_test(tc, test_find_stack);
	tcase_add_test(tc, test_write_error);
	suite_add_tcase(s, tc);
	return s;
}
