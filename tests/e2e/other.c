/*
 * other.c: libother.so, a library with its own `release` that no spec
 * names.  refsan must leave it alone: dlsym answers its real address and
 * its calls are never tracked, even when they hand it a pointer twice.
 */
static long calls;

void release(void *p);
long other_calls(void);
void other_twice(void *p);

void
release(void *p)
{
	(void)p;
	calls++;
}

long
other_calls(void)
{
	return calls;
}

/* Through the library's own PLT, as its callers' calls would. */
void
other_twice(void *p)
{
	release(p);
	release(p);
}
