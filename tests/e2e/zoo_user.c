/*
 * zoo_user.c: libzoo_user.so, a library linked against libzoo and loaded
 * by dlopen after start (tests/e2e/plugin.c): its direct calls to libzoo
 * go through its own GOT, which refsan must patch when it appears.
 */
#include "zoo.h"

int zoo_user_run(int leak);

int
zoo_user_run(int leak)
{
	struct dog *d = create_dog("plugged");
	int r = say_walk(d);

	if (!leak)
		release(d);
	return r;
}
