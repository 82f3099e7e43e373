/*
 * zoo.c: a small reference-counted C library for refsan's demo and
 * end-to-end tests.  create_owner() takes its dog's reference by calling
 * the exported add_ref(), which gcc routes through the library's own PLT
 * (default -fPIC, semantic interposition on), as real libraries do: the
 * call refsan must count as internal.  zoo_live_count() and
 * zoo_release_calls() let the tests see what really reached the library.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include "zoo.h"

enum kind { KIND_DOG = 0x646f67, KIND_OWNER = 0x6f776e };

struct obj {
	enum kind kind;
	atomic_int refs;
};

struct dog {
	struct obj o;
	char name[16];
};

struct owner {
	struct obj o;
	struct dog *dog;
};

struct cage {
	int open;
};

static atomic_long live;
static atomic_long release_calls;
static atomic_int fail_next;

struct dog *
create_dog(const char *name)
{
	struct dog *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->o.kind = KIND_DOG;
	atomic_init(&d->o.refs, 1);
	if (name)
		strncpy(d->name, name, sizeof(d->name) - 1);
	atomic_fetch_add(&live, 1);
	return d;
}

void
add_ref(void *obj)
{
	struct obj *o = obj;

	if (o)
		atomic_fetch_add(&o->refs, 1);
}

/* Not inlined into release(): gcc calls a function's own name directly when
 * it recurses, and the owner's release of its dog must go through the PLT
 * as an outside library's call would (refsan sees it as internal). */
static __attribute__((noinline)) void
drop_owned_dog(struct owner *o)
{
	release(o->dog);
}

void
release(void *obj)
{
	struct obj *o = obj;

	atomic_fetch_add(&release_calls, 1);
	if (!o)
		return;
	if (atomic_fetch_sub(&o->refs, 1) != 1)
		return;
	if (o->kind == KIND_OWNER)
		drop_owned_dog((struct owner *)o);
	o->kind = 0;
	free(o);
	atomic_fetch_sub(&live, 1);
}

int
say_walk(struct dog *d)
{
	return d && d->o.kind == KIND_DOG;
}

int
dog_refcount(const struct dog *d)
{
	return atomic_load(&d->o.refs);
}

struct owner *
create_owner(struct dog *d)
{
	struct owner *o = calloc(1, sizeof(*o));

	if (!o)
		return NULL;
	o->o.kind = KIND_OWNER;
	atomic_init(&o->o.refs, 1);
	add_ref(d);
	o->dog = d;
	atomic_fetch_add(&live, 1);
	return o;
}

static atomic_long clones;

struct dog *
clone_dog(const struct dog *d)
{
	struct dog *c = create_dog(d ? d->name : NULL);

	/* Work after the call: not a tail call, so the create is internal. */
	if (c)
		atomic_fetch_add(&clones, 1);
	return c;
}

struct dog *
owner_dog(struct owner *o)
{
	return o->dog;
}

int
open_cage(struct cage **out)
{
	struct cage *c;

	if (atomic_load(&fail_next) > 0) {
		atomic_fetch_sub(&fail_next, 1);
		*out = (struct cage
		                *)0x1; /* garbage on failure, as some APIs do */
		return -1;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return -1;
	c->open = 1;
	atomic_fetch_add(&live, 1);
	*out = c;
	return 0;
}

int
close_cage(struct cage *c)
{
	if (!c)
		return -1;
	free(c);
	atomic_fetch_sub(&live, 1);
	return 0;
}

void
zoo_bump(void *obj)
{
	atomic_fetch_add(&((struct obj *)obj)->refs, 1);
}

void
zoo_set_fail(int n)
{
	atomic_store(&fail_next, n);
}

long
zoo_live_count(void)
{
	return atomic_load(&live);
}

long
zoo_release_calls(void)
{
	return atomic_load(&release_calls);
}

double
zoo_mix(long a, long b, long c, long d, long e, long f, long g, long h,
        double x, double y, const char *s)
{
	double acc = 0;
	long v[8] = { a, b, c, d, e, f, g, h };

	for (int i = 0; i < 8; i++)
		acc = acc * 3 + (double)v[i];
	return acc * x - y + (double)strlen(s) * 0.5;
}

struct zoo_pair
zoo_pair(long a, long b)
{
	struct zoo_pair p = { a * 7, b - 3 };

	return p;
}

struct zoo_dpair
zoo_dpair(double x, double y)
{
	struct zoo_dpair p = { x * 2, y / 4 };

	return p;
}

struct zoo_big
zoo_big(long a, long b, long c, long d)
{
	struct zoo_big r = { { d, c * 2, b * 3, a * 4 } };

	return r;
}

long double
zoo_ldouble(long double x, int n, void *unused)
{
	long double r = x;

	while (n-- > 0)
		r = r * x / 3;
	return r;
}

double
zoo_varsum(int n, ...)
{
	va_list ap;
	double acc = 0;

	va_start(ap, n);
	for (int i = 0; i < n; i++) {
		if (i % 2)
			acc += va_arg(ap, double);
		else
			acc += (double)va_arg(ap, long) * 10;
	}
	va_end(ap);
	return acc;
}

void *
zoo_pick8(void *a0, void *a1, void *a2, void *a3, void *a4, void *a5, void *a6,
          void *a7, void *a8, void *a9)
{
	return a8 ? a8 : a9;
}

long
zoo_recurse(int depth)
{
	struct dog *d;
	long r;

	if (depth <= 0)
		return 0;
	d = create_dog("r");
	r = zoo_recurse(depth - 1) + say_walk(d);
	release(d);
	return r;
}

struct dog *
zoo_create_errno(int e)
{
	struct dog *d = create_dog("e");

	errno = e;
	return d;
}

int
zoo_call(void (*cb)(void *), void *arg)
{
	cb(arg);
	return 0;
}
