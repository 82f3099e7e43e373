/*
 * plugin.c: loads libzoo_user.so (which links libzoo) with dlopen after
 * start and runs it; with "other", also loads libother.so, whose own
 * `release` must come back from dlsym untouched and untracked.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

int
main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "clean";
	void *user, *other;
	int (*run)(int);
	void (*rel)(void *);
	long (*calls)(void);
	Dl_info info;
	int x = 0;

	if (!strcmp(mode, "puts")) {
		puts("hello");
		return 0;
	}
	if (!strcmp(mode, "other")) {
		void *zoo = dlopen(argv[3], RTLD_NOW | RTLD_LOCAL);
		void *(*create)(const char *);
		void (*zrel)(void *), (*twice)(void *);

		other = dlopen(argv[2], RTLD_NOW | RTLD_LOCAL);
		if (!other || !zoo) {
			fprintf(stderr, "plugin: %s\n", dlerror());
			return 3;
		}
		/* libzoo's are tracked (and answered with a trampoline) */
		create = (void *(*)(const char *))dlsym(zoo, "create_dog");
		zrel = (void (*)(void *))dlsym(zoo, "release");
		rel = (void (*)(void *))dlsym(other, "release");
		twice = (void (*)(void *))dlsym(other, "other_twice");
		calls = (long (*)(void))dlsym(other, "other_calls");
		if (!create || !zrel || !rel || !twice || !calls ||
		    !dladdr((void *)rel, &info)) {
			fprintf(stderr, "plugin: lookup failed\n");
			return 3;
		}
		zrel(create("z"));
		/* libother's are not: a pointer released four times is fine */
		rel(&x);
		rel(&x);
		twice(&x);
		rel(NULL);
		printf("other_module=%s other_calls=%ld\n",
		       strrchr(info.dli_fname, '/') + 1, calls());
		return 0;
	}
	user = dlopen(argv[2], RTLD_NOW | RTLD_LOCAL);
	if (!user) {
		fprintf(stderr, "plugin: %s\n", dlerror());
		return 3;
	}
	run = (int (*)(int))dlsym(user, "zoo_user_run");
	if (!run)
		return 3;
	printf("walk=%d\n", run(!strcmp(mode, "leak")));
	return 0;
}
