/*
 * secure_prog.c: a program linked against the shim itself (an absolute
 * RUNPATH, so that it still loads when the program is setgid and the
 * loader ignores LD_PRELOAD and $ORIGIN), that leaks one handle through
 * the C API and exits 0.  It prints whether it runs in secure-execution
 * mode and its pid; with "wait" it then waits for a line on stdin, so that
 * the runner can plant symlinks at the report paths first.
 *
 *   secure_prog [wait]
 */
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "refsan.h"

int
main(int argc, char **argv)
{
	static int thing;

	printf("AT_SECURE=%lu pid=%d\n", getauxval(AT_SECURE), (int)getpid());
	fflush(stdout);
	if (argc > 1 && strcmp(argv[1], "wait") == 0) {
		char buf[16];

		if (read(0, buf, sizeof(buf)) < 0)
			return 5;
	}
	refsan_handle_created(&thing, "thing"); /* leaked */
	return 0;
}
