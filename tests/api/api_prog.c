/*
 * api_prog.c: a C program that annotates its own handles through the
 * public API, one scenario per argument, for the end-to-end tests in
 * run_api_tests.py.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include "refsan.h"

struct dog {
	int refs;
};

static struct dog *
make_dog(void)
{
	struct dog *d = calloc(1, sizeof(*d));
	d->refs = 1;
	REFSAN_CALL(refsan_handle_created, d, "dog"); /* LEAK_LINE */
	return d;
}

static void
drop_dog(struct dog *d)
{
	REFSAN_CALL(refsan_handle_released, d); /* RELEASE_LINE */
}

static void *
churn(void *arg)
{
	int i;

	(void)arg;
	for (i = 0; i < 100000; i++) {
		struct dog *d = make_dog();
		REFSAN_CALL(refsan_handle_acquired, d);
		drop_dog(d);
		drop_dog(d);
		free(d);
	}
	return NULL;
}

int
main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "clean";
	struct dog *d;

	if (strcmp(mode, "clean") == 0) {
		d = make_dog();
		drop_dog(d);
		free(d);
		return 0;
	}
	if (strcmp(mode, "leak") == 0) {
		int i;
		for (i = 0; i < 2; i++)
			make_dog(); /* one site, two handles */
		return 0;
	}
	if (strcmp(mode, "fail") == 0) {
		make_dog();
		return 3; /* a failing program keeps its status */
	}
	if (strcmp(mode, "double") == 0) {
		d = make_dog();
		drop_dog(d);
		drop_dog(d);
		return 0;
	}
	if (strcmp(mode, "quick_exit") == 0) {
		make_dog();
		fflush(stdout);
		_exit(0);
	}
	if (strcmp(mode, "exit_call") == 0) {
		make_dog();
		exit(0);
	}
	if (strcmp(mode, "threads") == 0) {
		pthread_t t[4];
		int i;
		for (i = 0; i < 4; i++)
			pthread_create(&t[i], NULL, churn, NULL);
		for (i = 0; i < 4; i++)
			pthread_join(t[i], NULL);
		return 0;
	}
	if (strcmp(mode, "since") == 0) {
		uint64_t mark;
		make_dog();
		mark = refsan_checkpoint();
		d = make_dog();
		make_dog();
		printf("live=%zu since=%zu\n", refsan_live_count(),
		       refsan_live_since(mark));
		drop_dog(d);
		printf("since_after=%zu\n", refsan_live_since(mark));
		if (argc > 2 && refsan_report_since(mark, argv[2]) != 0)
			return 9;
		return 0;
	}
	if (strcmp(mode, "fork") == 0) {
		pid_t pid;
		int st;
		make_dog(); /* the parent's leak */
		pid = fork();
		if (pid == 0) {
			make_dog(); /* the child's own leak */
			make_dog();
			exit(0);
		}
		waitpid(pid, &st, 0);
		printf("child=%d status=%d\n", (int)pid,
		       WIFEXITED(st) ? WEXITSTATUS(st) : -1);
		return 0;
	}
	if (strcmp(mode, "segv") == 0) {
		make_dog();
		raise(SIGSEGV);
		return 0;
	}
	if (strcmp(mode, "exec") == 0) {
		make_dog();
		execl("/bin/true", "true", (char *)NULL);
		return 1;
	}
	fprintf(stderr, "unknown mode %s\n", mode);
	return 64;
}
