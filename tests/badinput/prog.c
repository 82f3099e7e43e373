/*
 * prog.c: the program the bad-input table runs with the shim preloaded.
 * It prints one line, so that the runner can tell whether it ran at all:
 * a bad configuration must stop the process before main.
 */
#include <stdio.h>

int
main(void)
{
	puts("ran");
	return 0;
}
