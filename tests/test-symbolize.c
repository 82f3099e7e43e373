/*
 * test-symbolize.c: symbolize.c against real code: static and global
 * functions of this binary down to the line, libc, a library that was
 * dlclosed before symbolization (and one loaded at its address afterwards),
 * a C++ name, unknown pcs, a system without libdw, and threads.  The small
 * libraries are compiled at test time with cc; those cases skip, saying so,
 * when there is no compiler.
 */
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "symbolize.h"
#include "unit.h"

/* Keep the test functions whole and under their own names. */
#if defined(__clang__)
#define NOIPA __attribute__((noinline, used))
#else
#define NOIPA __attribute__((noipa, used))
#endif

/* Read after a call so that the call is never a tail call. */
static volatile uintptr_t zero;

static NOIPA uintptr_t
caller_pc(void)
{
	return (uintptr_t)__builtin_return_address(0);
}

/* The return address of a call on this very line, and the line. */
#define HERE(linep) (*(linep) = __LINE__, caller_pc())

static NOIPA uintptr_t
static_target(unsigned *line)
{
	uintptr_t pc = HERE(line);

	return pc + zero;
}

uintptr_t refsan_test_global_target(unsigned *line);

NOIPA uintptr_t
refsan_test_global_target(unsigned *line)
{
	uintptr_t pc = HERE(line);

	return pc + zero;
}

static const char *
base_name(const char *path)
{
	const char *slash = path ? strrchr(path, '/') : NULL;

	return slash ? slash + 1 : path;
}

static void
teardown(void)
{
	symbolize_set_libdw(NULL);
	symbolize_reset();
}

static void
check_own_function(uintptr_t pc, unsigned line, const char *name)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	struct sym_frame f;

	ck_assert_int_gt(n, 0);
	exe[n] = '\0';
	symbolize_note_modules();
	symbolize_pc(pc, 1, &f);
	ck_assert_uint_eq(f.pc, pc);
	ck_assert_str_eq(f.function, name);
	ck_assert_ptr_nonnull(f.file);
	ck_assert_str_eq(base_name(f.file), "test-symbolize.c");
	ck_assert_uint_eq(f.line, line);
	ck_assert_str_eq(f.module, base_name(exe));
	ck_assert_str_eq(f.module_path, exe);
	ck_assert_uint_gt(f.func_offset, 0);
	ck_assert_uint_lt(f.offset, pc + 1);
}

START_TEST(static_function)
{
	unsigned line = 0;
	uintptr_t pc = static_target(&line);

	check_own_function(pc, line, "static_target");
}
END_TEST

START_TEST(global_function)
{
	unsigned line = 0;
	uintptr_t pc = refsan_test_global_target(&line);

	check_own_function(pc, line, "refsan_test_global_target");
}
END_TEST

START_TEST(exact_address)
{
	uintptr_t fn = (uintptr_t)&static_target;
	struct sym_frame f, g;

	/* Not a return address: the function's own first byte. */
	symbolize_pc(fn, 0, &f);
	ck_assert_str_eq(f.function, "static_target");
	ck_assert_uint_eq(f.func_offset, 0);
	ck_assert_str_eq(base_name(f.file), "test-symbolize.c");
	ck_assert_uint_gt(f.line, 0);
	/* Cached: the same answer, the same strings. */
	symbolize_pc(fn, 0, &g);
	ck_assert_mem_eq(&f, &g, sizeof(f));
}
END_TEST

START_TEST(libc_function)
{
	/* libc's own, not an interceptor's (sanitizers export qsort). */
	void *libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
	uintptr_t fn;
	struct sym_frame f;

	ck_assert_ptr_nonnull(libc);
	fn = (uintptr_t)dlsym(libc, "qsort");
	dlclose(libc);
	ck_assert(fn != 0);
	symbolize_pc(fn + 1, 1, &f);
	ck_assert_ptr_nonnull(f.module);
	ck_assert_msg(strncmp(f.module, "libc.so", 7) == 0, "module %s",
	              f.module);
	ck_assert_ptr_nonnull(f.module_path);
	ck_assert_str_eq(f.function, "qsort");
	ck_assert_uint_eq(f.func_offset, 1);
}
END_TEST

START_TEST(unknown_pc)
{
	static const uintptr_t pcs[] = {
		0, 1, 0x10, 4096, UINTPTR_MAX - 4095, UINTPTR_MAX
	};
	void *heap = malloc(64);
	struct sym_frame f;
	unsigned i, r;

	for (i = 0; i <= N_ELEMS(pcs); i++) {
		uintptr_t pc = i < N_ELEMS(pcs) ? pcs[i] : (uintptr_t)heap;

		for (r = 0; r < 2; r++) {
			symbolize_pc(pc, r, &f);
			ck_assert_uint_eq(f.pc, pc);
			ck_assert_ptr_null(f.module);
			ck_assert_ptr_null(f.module_path);
			ck_assert_uint_eq(f.offset, 0);
			ck_assert_ptr_null(f.function);
			ck_assert_uint_eq(f.func_offset, 0);
			ck_assert_ptr_null(f.file);
			ck_assert_uint_eq(f.line, 0);
		}
	}
	free(heap);
}
END_TEST

START_TEST(without_libdw)
{
	unsigned line = 0;
	uintptr_t pc = static_target(&line);
	struct sym_frame f;

	symbolize_set_libdw("librefsan-no-such-libdw.so.0");
	symbolize_pc(pc, 1, &f);
	ck_assert_str_eq(f.function, "static_target");
	ck_assert_ptr_nonnull(f.module);
	ck_assert_ptr_null(f.file);
	ck_assert_uint_eq(f.line, 0);
}
END_TEST

START_TEST(cxx_demangled)
{
	static const char *const names[] = { "_ZNSt9exceptionD1Ev",
		                             "_ZNSt9exceptionD2Ev",
		                             "_ZNKSt9exception4whatEv" };
	void *h = dlopen("libstdc++.so.6", RTLD_NOW | RTLD_LOCAL);
	uintptr_t fn = 0;
	struct sym_frame f;
	unsigned i;

	if (!h) {
		fprintf(stderr, "SKIP cxx_demangled: no libstdc++.so.6: %s\n",
		        dlerror());
		return;
	}
	for (i = 0; i < N_ELEMS(names) && !fn; i++)
		fn = (uintptr_t)dlsym(h, names[i]);
	ck_assert_msg(fn != 0, "no std::exception member in libstdc++");
	symbolize_pc(fn, 0, &f);
	ck_assert_ptr_nonnull(f.module);
	ck_assert_msg(strncmp(f.module, "libstdc++.so", 12) == 0, "module %s",
	              f.module);
	ck_assert_ptr_nonnull(f.function);
	ck_assert_msg(strstr(f.function, "::") &&
	                      strstr(f.function, "exception"),
	              "not demangled: %s", f.function);
	dlclose(h);
}
END_TEST

/* ---- libraries built at test time ---- */

static const char tiny_src[] =
        "#include <stdint.h>\n"
        "static volatile uintptr_t zero;\n"
        "static __attribute__((noinline)) uintptr_t cap(void)\n"
        "{ return (uintptr_t)__builtin_return_address(0); }\n"
        "uintptr_t %s_pc(unsigned *line)\n"
        "{ uintptr_t pc; *line = __LINE__; pc = cap(); return pc + zero; }\n";

static char tmpdir[] = "/tmp/refsan-test-symbolize-XXXXXX";

static bool
have_cc(void)
{
	return system("cc --version >/dev/null 2>&1") == 0;
}

/* Build DIR/lib<name>.so from tiny_src; its path, or NULL. */
static char *
build_tiny(const char *name)
{
	char src[PATH_MAX], lib[PATH_MAX], cmd[3 * PATH_MAX];
	FILE *fp;

	snprintf(src, sizeof(src), "%s/%s.c", tmpdir, name);
	snprintf(lib, sizeof(lib), "%s/lib%s.so", tmpdir, name);
	fp = fopen(src, "w");
	ck_assert_ptr_nonnull(fp);
	fprintf(fp, tiny_src, name);
	fclose(fp);
	snprintf(cmd, sizeof(cmd), "cc -O0 -g -shared -fPIC -o %s %s", lib,
	         src);
	ck_assert_int_eq(system(cmd), 0);
	return strdup(lib);
}

static void
remove_tmpdir(void)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
}

typedef uintptr_t tiny_fn(unsigned *);

/* Call lib<name>_pc in a fresh load of LIB; the library stays loaded. */
static void *
load_tiny(const char *lib, const char *name, uintptr_t *pc, unsigned *line)
{
	char sym[64];
	void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
	void *fn;

	ck_assert_msg(h != NULL, "dlopen %s: %s", lib, dlerror());
	snprintf(sym, sizeof(sym), "%s_pc", name);
	fn = dlsym(h, sym);
	ck_assert_ptr_nonnull(fn);
	*pc = ((tiny_fn *)fn)(line);
	return h;
}

static void
check_tiny(uintptr_t pc, unsigned line, const char *name, const char *lib)
{
	char fn[64], file[64], mod[64];
	struct sym_frame f;

	snprintf(fn, sizeof(fn), "%s_pc", name);
	snprintf(file, sizeof(file), "%s.c", name);
	snprintf(mod, sizeof(mod), "lib%s.so", name);
	symbolize_pc(pc, 1, &f);
	ck_assert_str_eq(f.module, mod);
	ck_assert_str_eq(f.module_path, lib);
	ck_assert_str_eq(f.function, fn);
	ck_assert_ptr_nonnull(f.file);
	ck_assert_str_eq(base_name(f.file), file);
	ck_assert_uint_eq(f.line, line);
}

START_TEST(dlclosed_library)
{
	char *a, *b;
	uintptr_t pc_a, pc_b;
	unsigned line_a, line_b;
	void *h;

	if (!have_cc()) {
		fprintf(stderr, "SKIP dlclosed_library: no cc to build a "
		                "library with\n");
		return;
	}
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	a = build_tiny("tinya");
	b = build_tiny("tinyb");

	/* Loaded, noted, called, unloaded: the report comes after. */
	h = load_tiny(a, "tinya", &pc_a, &line_a);
	symbolize_note_modules();
	ck_assert_int_eq(dlclose(h), 0);
	ck_assert_ptr_null(dlopen(a, RTLD_LAZY | RTLD_NOLOAD));
	check_tiny(pc_a, line_a, "tinya", a);

	/*
	 * Another library, most likely at the same address with the same
	 * layout: its pcs name it, not the one that was there before, even
	 * where the cache already holds an answer for the same pc.
	 */
	h = load_tiny(b, "tinyb", &pc_b, &line_b);
	symbolize_note_modules();
	check_tiny(pc_b, line_b, "tinyb", b);
	if (pc_b != pc_a)
		check_tiny(pc_a, line_a, "tinya", a);
	ck_assert_int_eq(dlclose(h), 0);

	remove_tmpdir();
	free(a);
	free(b);
}
END_TEST

/* ---- threads ---- */

struct thread_arg {
	uintptr_t pc;
	unsigned line;
	int ok;
};

static void *
symbolize_thread(void *p)
{
	struct thread_arg *t = p;
	struct sym_frame f;
	int i;

	t->ok = 1;
	for (i = 0; i < 2000; i++) {
		symbolize_note_modules();
		symbolize_pc(t->pc + (i % 2), 1, &f);
		if (!f.function || strcmp(f.function, "static_target") != 0)
			t->ok = 0;
		if (i % 2 == 0 && f.line != t->line)
			t->ok = 0;
	}
	return NULL;
}

START_TEST(threads)
{
	struct thread_arg t[4];
	pthread_t th[4];
	unsigned i;

	for (i = 0; i < 4; i++) {
		t[i].pc = static_target(&t[i].line);
		ck_assert_int_eq(
		        pthread_create(&th[i], NULL, symbolize_thread, &t[i]),
		        0);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		ck_assert_int_eq(t[i].ok, 1);
	}
}
END_TEST

UNIT_SUITE(symbolize_suite)
{
	Suite *s = suite_create("symbolize");
	TCase *tc;

	tc = tcase_create("this binary");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, static_function);
	tcase_add_test(tc, global_function);
	tcase_add_test(tc, exact_address);
	tcase_add_test(tc, without_libdw);
	suite_add_tcase(s, tc);

	tc = tcase_create("other modules");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, libc_function);
	tcase_add_test(tc, cxx_demangled);
	tcase_add_test(tc, dlclosed_library);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	tc = tcase_create("robustness");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, unknown_pc);
	tcase_add_test(tc, threads);
	suite_add_tcase(s, tc);
	return s;
}
