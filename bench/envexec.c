/*
 * envexec.c: `envexec NAME=VALUE... PROGRAM ARG...` puts the assignments
 * in the environment and execs PROGRAM (searched in PATH) in place, like
 * env(1).  bench/run.py runs every measured program as
 * `/usr/bin/time envexec ... PROGRAM`, so
 * that a tool's LD_PRELOAD and REFSAN_OPTIONS reach the program only, not
 * the time wrapper.  It is linked statically when the toolchain can, and
 * does nothing else, so that it adds little to the CPU time and nothing to
 * the peak RSS (exec keeps the high-water mark of the image it replaces;
 * env(1) would raise the floor by half a MiB with its locale data).
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
	int i = 1;

	while (i < argc && strchr(argv[i], '=') != NULL) {
		if (putenv(argv[i]) != 0)
			return 127;
		i++;
	}
	if (i == argc)
		return 127;
	execvp(argv[i], argv + i);
	return 127;
}
