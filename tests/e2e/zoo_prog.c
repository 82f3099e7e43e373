/*
 * zoo_prog.c: the C callers of libzoo for the e2e tests.  Built twice:
 * zoo_direct links libzoo (calls through its own PLT/GOT, patched by
 * refsan), zoo_dlsym (-DZOO_DLSYM) dlopens it RTLD_LOCAL and looks every
 * function up with dlsym, or dlvsym when the first argument is "v:MODE".
 * One scenario per run, named by argv[1]; it prints what reached the
 * library so the runner can tell forwarded calls from skipped ones.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "zoo.h"

#ifdef ZOO_DLSYM
static void *lib;
static int use_dlvsym;

static void *
sym(const char *name)
{
	void *p = use_dlvsym ? dlvsym(lib, name, "ZOO_1.0") : dlsym(lib, name);

	if (!p) {
		fprintf(stderr, "zoo_prog: %s: %s\n", name, dlerror());
		exit(3);
	}
	return p;
}

#define Z(name) ((__typeof__(&name))sym(#name))
#else
#define Z(name) name
#endif

#define THREADS 8
#define PAIRS 100000

static void *
thread_main(void *arg)
{
	for (int i = 0; i < PAIRS; i++) {
		struct dog *d = Z(create_dog)("t");
		if (i % 3 == 0)
			Z(say_walk)(d);
		Z(release)(d);
	}
	return arg;
}

static void
release_twice(void *d)
{
	Z(release)(d);
	Z(release)(d); /* CB_LINE */
}

static void
report(void)
{
	printf("live=%ld release_calls=%ld\n", Z(zoo_live_count)(),
	       Z(zoo_release_calls)());
}

int
main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "clean";
	struct dog *d;
	struct owner *o;
	struct cage *c = NULL;

#ifdef ZOO_DLSYM
	if (!strncmp(mode, "v:", 2)) {
		use_dlvsym = 1;
		mode += 2;
	}
	lib = dlopen(argc > 2 ? argv[2] : "libzoo.so.1", RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		fprintf(stderr, "zoo_prog: %s\n", dlerror());
		return 3;
	}
#endif
	if (!strcmp(mode, "clean")) {
		d = Z(create_dog)("rex");
		o = Z(create_owner)(d);
		Z(say_walk)(Z(owner_dog)(o));
		Z(add_ref)(d);
		Z(release)(d);
		Z(release)(o);
		Z(release)(d);
		if (Z(open_cage)(&c) == 0)
			Z(close_cage)(c);
	} else if (!strcmp(mode, "leak")) {
		d = Z(create_dog)("leaky"); /* LEAK_LINE */
		o = Z(create_owner)(d);
		Z(release)(o);
	} else if (!strcmp(mode, "double")) {
		long before;

		d = Z(create_dog)("twice");
		before = Z(zoo_release_calls)();
		Z(zoo_bump)(d); /* the library keeps it alive: no real UB */
		Z(release)(d);
		Z(release)(d); /* DOUBLE_LINE */
		printf("reached=%ld\n", Z(zoo_release_calls)() - before);
	} else if (!strcmp(mode, "uaf")) {
		d = Z(create_dog)("gone");
		Z(zoo_bump)(d);
		Z(release)(d);
		printf("walk=%d\n", Z(say_walk)(d)); /* UAF_LINE */
	} else if (!strcmp(mode, "uaf8")) {
		d = Z(create_dog)("gone8");
		Z(zoo_bump)(d);
		Z(release)(d);
		Z(zoo_pick8)(0, 0, 0, 0, 0, 0, 0, 0, d, 0); /* UAF8_LINE */
	} else if (!strcmp(mode, "nested")) {
		/* a capture inside a callback while zoo_call's return address
		 * is hijacked: the stack must reach main through it */
		d = Z(create_dog)("cb");
		Z(zoo_bump)(d);
		Z(zoo_call)(release_twice, d); /* NESTED_LINE */
	} else if (!strcmp(mode, "cage")) {
		int r;

		Z(zoo_set_fail)(2);
		r = Z(open_cage)(&c);
		printf("fail1=%d\n", r);
		r = Z(open_cage)(&c);
		printf("fail2=%d\n", r);
		r = Z(open_cage)(&c);
		printf("ok=%d\n", r);
		Z(close_cage)(c);
		r = Z(open_cage)(&c); /* CAGE_LEAK_LINE */
		if (argc > 2 && !strcmp(argv[argc - 1], "close"))
			Z(close_cage)(c);
	} else if (!strcmp(mode, "family")) {
		d = Z(create_dog)("notacage");
		Z(close_cage)((struct cage *)d); /* FAMILY_LINE */
	} else if (!strcmp(mode, "threads")) {
		pthread_t t[THREADS];

		for (int i = 0; i < THREADS; i++)
			pthread_create(&t[i], NULL, thread_main, NULL);
		for (int i = 0; i < THREADS; i++)
			pthread_join(t[i], NULL);
	} else {
		fprintf(stderr, "zoo_prog: unknown mode %s\n", mode);
		return 3;
	}
	report();
	return 0;
}
