/*
 * unwind.c: native stacks from libunwind's unw_backtrace.
 *
 * libunwind is dlopen'ed RTLD_LOCAL rather than linked: Debian's
 * libunwind.so.8 exports backtrace() and the _Unwind_* family, and a linked
 * copy would interpose them for the whole program.  Init calls it once so
 * that its lazy set-up (and any allocation in it) happens there, not in a
 * hook or a signal handler.
 */
#include <dlfcn.h>
#include <string.h>
#include "unwind.h"

void (*unwind_fixup)(int restore);

static int (*p_unw_backtrace)(void **buffer, int size);

int
unwind_init(void)
{
	void *lib;
	uintptr_t warm[8];

	if (p_unw_backtrace)
		return 0;
	lib = dlopen(REFSAN_LIBUNWIND_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!lib)
		return -1;
	p_unw_backtrace = (int (*)(void **, int))dlsym(lib, "unw_backtrace");
	if (!p_unw_backtrace)
		return -1;
	unwind_capture(warm, 8, 0);
	return 0;
}

__attribute__((noinline)) unsigned
unwind_capture(uintptr_t *pcs, unsigned max, unsigned skip)
{
	void *buf[256 + 16];
	int n, want;

	if (!p_unw_backtrace || max == 0)
		return 0;
	skip += 1; /* this function */
	if (max > 256)
		max = 256;
	if (skip > 16)
		skip = 16;
	want = (int)(max + skip);
	if (unwind_fixup)
		unwind_fixup(1);
	n = p_unw_backtrace(buf, want);
	if (unwind_fixup)
		unwind_fixup(0);
	if (n <= (int)skip)
		return 0;
	n -= (int)skip;
	memcpy(pcs, buf + skip, (size_t)n * sizeof(void *));
	return (unsigned)n;
}
