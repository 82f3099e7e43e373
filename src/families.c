/*
 * families.c: the names of handle families.  Lookups are lock-free reads of
 * a published array (names never change once set); a new name from the C
 * API takes a small lock, off the hot path of spec'd calls, whose family
 * ids are fixed when the spec is loaded.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include "families.h"

static char names[FAMILIES_MAX + 1][64];
static _Atomic unsigned count;
static pthread_mutex_t add_lock = PTHREAD_MUTEX_INITIALIZER;

static void
set_name(unsigned id, const char *name)
{
	strncpy(names[id], name, sizeof(names[id]) - 1);
	names[id][sizeof(names[id]) - 1] = 0;
}

void
families_init(char *const *list, unsigned n)
{
	unsigned i;

	for (i = 0; i < n && i < FAMILIES_MAX; i++)
		set_name(i + 1, list[i]);
	atomic_store(&count, i);
}

static unsigned
find(const char *name, unsigned n)
{
	unsigned i;

	for (i = 1; i <= n; i++)
		if (strncmp(names[i], name, sizeof(names[i]) - 1) == 0)
			return i;
	return 0;
}

unsigned
families_id(const char *name)
{
	unsigned n, id;

	if (!name || !*name)
		return 0;
	n = atomic_load_explicit(&count, memory_order_acquire);
	id = find(name, n);
	if (id)
		return id;
	pthread_mutex_lock(&add_lock);
	n = atomic_load_explicit(&count, memory_order_relaxed);
	id = find(name, n);
	if (!id && n < FAMILIES_MAX) {
		id = n + 1;
		set_name(id, name);
		atomic_store_explicit(&count, id, memory_order_release);
	}
	pthread_mutex_unlock(&add_lock);
	return id;
}

const char *
families_name(unsigned id)
{
	if (id == 0 || id > atomic_load(&count))
		return NULL;
	return names[id];
}

const char *
families_mask_names(unsigned long long mask, char *buf, unsigned len)
{
	unsigned id, at = 0;

	buf[0] = 0;
	for (id = 1; id <= FAMILIES_MAX && len; id++) {
		const char *n;
		size_t l;
		if (!(mask & (1ull << id)) || !(n = families_name(id)))
			continue;
		l = strlen(n);
		if (at + l + 3 >= len)
			break;
		if (at) {
			memcpy(buf + at, " or ", 4);
			at += 4;
			if (at + l + 1 >= len)
				break;
		}
		memcpy(buf + at, n, l);
		at += (unsigned)l;
		buf[at] = 0;
	}
	return buf;
}

void
families_reset(void)
{
	memset(names, 0, sizeof(names));
	atomic_store(&count, 0);
}
