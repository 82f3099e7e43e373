/*
 * benchobj.c: libbenchobj, the target library of the benchmarks (bench/run.py).
 * A reference-counted object whose create mallocs exactly 32 bytes, as
 * issue 6 asks for W1 (libzoo's create_dog callocs a 24-byte dog).  Spec:
 * bench/bench.spec.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

struct bo {
	atomic_long refs;
	char payload[24];
};

_Static_assert(sizeof(struct bo) == 32, "W1 creates 32-byte objects");

void *bo_create(void);
void bo_ref(void *obj);
void bo_release(void *obj);

void *
bo_create(void)
{
	struct bo *o = malloc(sizeof(*o));

	if (!o)
		return NULL;
	atomic_init(&o->refs, 1);
	memset(o->payload, 0, sizeof(o->payload));
	return o;
}

void
bo_ref(void *obj)
{
	struct bo *o = obj;

	atomic_fetch_add_explicit(&o->refs, 1, memory_order_relaxed);
}

void
bo_release(void *obj)
{
	struct bo *o = obj;

	if (atomic_fetch_sub_explicit(&o->refs, 1, memory_order_acq_rel) == 1)
		free(o);
}
