/*
 * families.h: family names and their small ids (1..63; 0 = no family).
 * The spec's families come first, in the spec's order, so its ids and the
 * table's agree; the C API adds names it has not seen.
 */
#ifndef REFSAN_FAMILIES_H
#define REFSAN_FAMILIES_H

#define FAMILIES_MAX 63

/* Register the spec's families (ids 1..n, in order). */
void families_init(char *const *names, unsigned n);
/* The id of NAME, added if new; 0 for NULL or when all ids are taken. */
unsigned families_id(const char *name);
/* The name of ID, or NULL. */
const char *families_name(unsigned id);
/* "dog" or "dog, owner" for a mask of accepted ids, into BUF. */
const char *families_mask_names(unsigned long long mask, char *buf,
				unsigned len);
void families_reset(void);

#endif
