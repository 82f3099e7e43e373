/*
 * wrap.c: libwrap.so, another preload in the style of many tools: it
 * interposes puts() and forwards with dlsym(RTLD_NEXT, "puts").  Preloaded
 * after librefsan.so, its RTLD_NEXT lookup must still resolve relative to
 * itself (refsan's dlsym entry keeps the caller's return address), or it
 * would find its own puts again and recurse.
 */
#include <dlfcn.h>
#include <stdio.h>

int
puts(const char *s)
{
	static int (*next)(const char *);

	if (!next)
		next = (int (*)(const char *))dlsym(RTLD_NEXT, "puts");
	if (!next)
		return EOF;
	next("wrapped:");
	return next(s);
}
