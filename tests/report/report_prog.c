/*
 * report_prog.c: libzoo's misuse, one scenario per argument, for the
 * report tests (run_report_tests.py): indirect leaks, unmatched acquires,
 * invalid releases, halt_on_error, report_signal.  Marker comments name
 * the lines the tests expect in stacks.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "zoo.h"

static struct dog *
adopt(void)
{
	struct dog *d = create_dog("rex"); /* ADOPT_CREATE */
	struct owner *o = create_owner(d); /* OWNER_CREATE */

	release(d); /* the caller's reference: the owner keeps one */
	(void)o;    /* ... and the owner leaks */
	return d;
}

static void
share(struct dog *d)
{
	add_ref(d); /* SHARE_ACQUIRE */
}

int
main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	struct dog *d;

	if (!strcmp(mode, "indirect")) {
		adopt();
	} else if (!strcmp(mode, "unmatched")) {
		d = create_dog("rex");
		share(d);
		share(d);
		release(d); /* one of three references given back */
	} else if (!strcmp(mode, "invalid")) {
		static long fake[4];
		release(fake); /* INVALID_RELEASE */
	} else if (!strcmp(mode, "clone")) {
		d = create_dog("rex");
		release(clone_dog(d)); /* created inside the library */
		release(d);
	} else if (!strcmp(mode, "term")) {
		create_dog("rex"); /* TERM_CREATE */
		raise(SIGTERM);
		pause();
	} else if (!strcmp(mode, "halt")) {
		d = create_dog("rex");
		release(d);
		release(d); /* HALT_DOUBLE */
		puts("not reached with halt_on_error=1");
	} else if (!strcmp(mode, "signal")) {
		d = create_dog("rex"); /* SIGNAL_CREATE */
		fflush(stdout);
		raise(SIGUSR1);
		usleep(300000); /* the report thread renders it */
		puts("still running after the signal");
		release(d);
	} else if (!strcmp(mode, "suppressed")) {
		d = create_dog("rex");
		release(d);
		release(d);
		create_dog("leaky");
	} else {
		fprintf(stderr, "unknown mode %s\n", mode);
		return 64;
	}
	return 0;
}
