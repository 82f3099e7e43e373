/*
 * test-engine.c: the meaning of each role: creates, acquires, releases and
 * uses from outside and from inside a library; double releases and uses
 * after release raised (with their stacks) before the real call;
 * forward_double_release; family mismatches; strict; fork marks.
 */
#include <pthread.h>
#include <string.h>
#include "unit.h"
#include "engine.h"
#include "handle_table.h"
#include "options.h"

static struct engine_error seen[16];
static unsigned nseen;

static void
on_error(const struct engine_error *e)
{
	if (nseen < 16)
		seen[nseen] = *e;
	nseen++;
}

static uint32_t next_stack;

static uint32_t
fake_capture(struct engine_call *c)
{
	(void)c;
	return ++next_stack;
}

/* Each call its own site (tests set its family, accept and flags), kept
 * for the test's length: errors point at the site's function name. */
static struct engine_site sites[64];
static unsigned nsites;

static struct engine_call
call(const char *fn, bool internal)
{
	struct engine_site *site = &sites[nsites++ % 64];
	struct engine_call c;

	memset(site, 0, sizeof(*site));
	site->function = fn;
	site->capture = fake_capture;
	memset(&c, 0, sizeof(c));
	c.site = site;
	c.internal = internal;
	return c;
}

/* The site of C, to set a family, accepted families or a flag. */
static struct engine_site *
edit(const struct engine_call *c)
{
	return &sites[c->site - sites];
}

static void
setup(void)
{
	options_defaults(&refsan_opts);
	ck_assert_int_eq(engine_init(1024, 8), 0);
	engine_on_error = on_error;
	nseen = 0;
	next_stack = 0;
}

static void
teardown(void)
{
	engine_reset();
	engine_on_error = NULL;
}

static bool
release(uintptr_t h, bool internal, bool commit)
{
	struct engine_call c = call("release", internal);
	struct engine_release r;
	bool fwd = engine_release_begin(h, &c, &r);

	engine_release_end(&r, commit);
	return fwd;
}

START_TEST(create_release_counts)
{
	struct engine_call c = call("create_dog", false);
	struct engine_counters k;

	engine_create(0x100, &c);
	ck_assert_uint_eq(c.stack, 1);
	ck_assert(release(0x100, false, true));
	engine_counters(&k);
	ck_assert_uint_eq(k.created, 1);
	ck_assert_uint_eq(k.released, 1);
	ck_assert_uint_eq(k.live, 0);
	ck_assert_uint_eq(k.peak_live, 1);
	ck_assert_uint_eq(nseen, 0);
}
END_TEST

struct creator {
	uintptr_t first;
	int n;
};

static void *
create_many(void *arg)
{
	struct creator *cr = arg;
	struct engine_call c = call("create_dog", false);
	int i;

	for (i = 0; i < cr->n; i++)
		engine_create(cr->first + (uintptr_t)i * 16, &c);
	return NULL;
}

/* The peak is exact with one thread (plain stores while glibc says so)
 * and with a second one (locked updates). */
START_TEST(peak_live_one_and_two_threads)
{
	struct creator cr = { 0x100000, 300 };
	struct engine_counters k;
	pthread_t t;
	int i;

	create_many(&cr);
	for (i = 0; i < 100; i++)
		ck_assert(release(cr.first + (uintptr_t)i * 16, false, true));
	engine_counters(&k);
	ck_assert_uint_eq(k.peak_live, 300);
	cr.first = 0x200000;
	cr.n = 150;
	ck_assert_int_eq(pthread_create(&t, NULL, create_many, &cr), 0);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	engine_counters(&k);
	ck_assert_uint_eq(k.peak_live, 350);
}
END_TEST

START_TEST(null_never_counts)
{
	struct engine_call c = call("create_dog", false);
	struct engine_counters k;

	engine_create(0, &c);
	ck_assert(release(0, false, true));
	engine_counters(&k);
	ck_assert_uint_eq(k.created + k.released, 0);
	ck_assert_uint_eq(nseen, 0);
}
END_TEST

START_TEST(double_release_not_forwarded)
{
	struct engine_call c = call("create_dog", false);
	const struct engine_error *list;

	engine_create(0x200, &c); /* stack 1 */
	ck_assert(release(0x200, false, true)); /* stack 2 */
	ck_assert(!release(0x200, false, true)); /* stack 3 */
	ck_assert_uint_eq(nseen, 1);
	ck_assert_int_eq(seen[0].kind, EE_DOUBLE_RELEASE);
	ck_assert_uint_eq(seen[0].stack, 3);
	ck_assert_uint_eq(seen[0].last_release_stack, 2);
	ck_assert_uint_eq(seen[0].created_stack, 1);
	ck_assert_uint_eq(engine_errors(&list), 1);
	refsan_opts.forward_double_release = 1;
	ck_assert(release(0x200, false, true));
}
END_TEST

START_TEST(use_after_release)
{
	struct engine_call c = call("create_dog", false);
	struct engine_call u = call("say_walk", false);

	engine_create(0x300, &c);
	ck_assert(engine_use(0x300, &u));
	ck_assert_uint_eq(nseen, 0);
	release(0x300, false, true);
	u = call("say_walk", false);
	ck_assert(engine_use(0x300, &u)); /* always forwarded */
	ck_assert_uint_eq(nseen, 1);
	ck_assert_int_eq(seen[0].kind, EE_USE_AFTER_RELEASE);
	ck_assert_str_eq(seen[0].function, "say_walk");
	/* An acquire of a dead handle is a use after release too. */
	u = call("add_ref", false);
	engine_acquire(0x300, &u);
	ck_assert_uint_eq(nseen, 2);
	ck_assert_int_eq(seen[1].kind, EE_USE_AFTER_RELEASE);
}
END_TEST

START_TEST(internal_calls_only_move_counts)
{
	struct engine_call c = call("create_dog", true);
	struct engine_counters k;

	/* Inside the library: no create, no error for unknown handles. */
	engine_create(0x400, &c);
	ck_assert(release(0x999, true, true));
	engine_counters(&k);
	ck_assert_uint_eq(k.created, 0);
	ck_assert_uint_eq(nseen, 0);
	/* A live handle's count moves. */
	c = call("create_dog", false);
	engine_create(0x400, &c);
	c = call("add_ref", true);
	engine_acquire(0x400, &c);
	release(0x400, false, true);
	ck_assert_uint_eq(handle_table_live(), 1);
	release(0x400, true, true);
	ck_assert_uint_eq(handle_table_live(), 0);
	/* An internal release of a dead handle is not an error either. */
	ck_assert(release(0x400, true, true));
	ck_assert_uint_eq(nseen, 0);
}
END_TEST

START_TEST(rollback_on_failed_condition)
{
	struct engine_call c = call("create_dog", false);
	struct engine_counters k;

	engine_create(0x500, &c);
	release(0x500, false, false); /* condition failed */
	ck_assert_uint_eq(handle_table_live(), 1);
	engine_counters(&k);
	ck_assert_uint_eq(k.released, 0);
	ck_assert(release(0x500, false, true));
	ck_assert_uint_eq(nseen, 0);
}
END_TEST

START_TEST(family_mismatch)
{
	struct engine_call c = call("open_cage", false);
	struct engine_call r = call("release", false);
	struct engine_release rel;

	struct engine_call a = call("add_ref", false);
	uint32_t created;

	edit(&c)->family = 2;
	engine_create(0x600, &c);
	created = c.stack;
	ck_assert_uint_ne(created, 0);
	/* an acquire, then the final release: the mismatch names the
	 * creation stack, looked up (live, then from the quarantine) */
	edit(&a)->accept = 1ull << 1;
	engine_acquire(0x600, &a);
	ck_assert_uint_eq(nseen, 1);
	ck_assert_uint_eq(seen[0].created_stack, created);
	release(0x600, false, true);
	edit(&r)->accept = 1ull << 1;
	ck_assert(engine_release_begin(0x600, &r, &rel));
	engine_release_end(&rel, true);
	ck_assert_uint_eq(nseen, 2);
	ck_assert_int_eq(seen[1].kind, EE_FAMILY_MISMATCH);
	ck_assert_uint_eq(seen[1].family, 2);
	ck_assert_uint_eq(seen[1].accept, 2);
	ck_assert_uint_eq(seen[1].created_stack, created);
}
END_TEST

START_TEST(strict_unknown_release)
{
	ck_assert(release(0x700, false, true));
	ck_assert_uint_eq(nseen, 1);
	ck_assert(seen[0].warning);
	refsan_opts.strict = 1;
	ck_assert(release(0x701, false, true));
	ck_assert_uint_eq(nseen, 2);
	ck_assert(!seen[1].warning);
	ck_assert_int_eq(seen[1].kind, EE_INVALID_RELEASE);
}
END_TEST

START_TEST(create_of_live_is_acquire)
{
	struct engine_call c = call("create_dog", false);
	struct engine_counters k;

	engine_create(0x800, &c);
	c = call("create_dog", false);
	engine_create(0x800, &c);
	engine_counters(&k);
	ck_assert_uint_eq(k.created, 1);
	ck_assert_uint_eq(k.acquired, 1);
}
END_TEST

START_TEST(fork_mark_splits_handles)
{
	struct engine_call c = call("create_dog", false);
	struct ht_info a, b;

	engine_create(0x900, &c);
	engine_after_fork_child();
	c = call("create_dog", false);
	engine_create(0x901, &c);
	handle_table_lookup(0x900, &a);
	handle_table_lookup(0x901, &b);
	ck_assert(!engine_created_here(a.seq));
	ck_assert(engine_created_here(b.seq));
}
END_TEST

/* An up_ref of a borrowed object (spec flag `borrowed`): the library's
 * own references (here two: a chain and a store) go first, from inside
 * (SSL_free, SSL_CTX_free); the program's release is no double release,
 * but a second one is.  Without the flag the first is already one. */
START_TEST(borrowed_library_releases_first)
{
	struct engine_call up = call("X509_up_ref", false);
	struct engine_counters k;

	edit(&up)->borrowed = true;
	engine_create(0xa00, &up);
	ck_assert(release(0xa00, true, true));  /* the library's, inside */
	ck_assert(release(0xa00, true, true));  /* and another */
	ck_assert(release(0xa00, false, true)); /* the program's */
	ck_assert_uint_eq(nseen, 0);
	engine_counters(&k);
	ck_assert_uint_eq(k.live, 0);
	ck_assert_uint_eq(k.created + k.acquired, k.released);
	ck_assert(!release(0xa00, false, true)); /* the program's, again */
	ck_assert_uint_eq(nseen, 1);
	ck_assert_int_eq(seen[0].kind, EE_DOUBLE_RELEASE);
	up = call("X509_up_ref", false);
	engine_create(0xa01, &up);
	ck_assert(release(0xa01, true, true));
	release(0xa01, false, true);
	ck_assert_uint_eq(nseen, 2);
	ck_assert_int_eq(seen[1].kind, EE_DOUBLE_RELEASE);
}
END_TEST

/* The program's reference on a borrowed object is still its own: kept
 * past the library's releases and acquires, it is live at exit. */
START_TEST(borrowed_program_reference_counts)
{
	struct engine_call up = call("X509_up_ref", false);
	struct engine_call in = call("X509_up_ref", true);
	struct ht_info info;

	edit(&up)->borrowed = true;
	engine_create(0xa10, &up);
	engine_create(0xa10, &in); /* the library's up_ref, inside */
	ck_assert(release(0xa10, true, true));
	ck_assert(release(0xa10, true, true));
	ck_assert_int_eq(handle_table_lookup(0xa10, &info), HT_OK);
	ck_assert_uint_eq(info.refcount, 1);
	ck_assert_uint_eq(nseen, 0);
}
END_TEST

/* A borrowed up_ref of a handle refsan saw created is a plain acquire. */
START_TEST(borrowed_of_live_is_acquire)
{
	struct engine_call c = call("create_dog", false);
	struct engine_call up = call("X509_up_ref", false);
	struct ht_info info;

	engine_create(0xb00, &c);
	edit(&up)->borrowed = true;
	engine_create(0xb00, &up);
	ck_assert_int_eq(handle_table_lookup(0xb00, &info), HT_OK);
	ck_assert_uint_eq(info.refcount, 2);
	ck_assert(release(0xb00, false, true));
	ck_assert(release(0xb00, false, true));
	ck_assert(!release(0xb00, false, true));
	ck_assert_uint_eq(nseen, 1);
}
END_TEST

UNIT_SUITE(engine_suite)
{
	Suite *s = suite_create("engine");
	TCase *tc = tcase_create("roles");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, create_release_counts);
	tcase_add_test(tc, null_never_counts);
	tcase_add_test(tc, peak_live_one_and_two_threads);
	tcase_add_test(tc, double_release_not_forwarded);
	tcase_add_test(tc, use_after_release);
	tcase_add_test(tc, internal_calls_only_move_counts);
	tcase_add_test(tc, rollback_on_failed_condition);
	tcase_add_test(tc, family_mismatch);
	tcase_add_test(tc, strict_unknown_release);
	tcase_add_test(tc, create_of_live_is_acquire);
	tcase_add_test(tc, fork_mark_splits_handles);
	tcase_add_test(tc, borrowed_library_releases_first);
	tcase_add_test(tc, borrowed_program_reference_counts);
	tcase_add_test(tc, borrowed_of_live_is_acquire);
	suite_add_tcase(s, tc);
	return s;
}
