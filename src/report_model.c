/*
 * report_model.c: the small helpers over the report model of report.h that
 * both renderers and the model's builder need, kept apart from the builder
 * (report.c) so that the renderers and their golden-file tests stand on
 * their own: the names of the error kinds, as they appear in JSON and in
 * suppression rules, and the lookup of a stack by its depot id.
 */
#include "report.h"

static const char *const kind_names[KIND_COUNT] = {
	[KIND_LEAK] = "leak",
	[KIND_DOUBLE_RELEASE] = "double_release",
	[KIND_INVALID_RELEASE] = "invalid_release",
	[KIND_USE_AFTER_RELEASE] = "use_after_release",
	[KIND_FAMILY_MISMATCH] = "family_mismatch",
};

const char *
report_kind_name(enum report_kind k)
{
	if ((unsigned)k >= KIND_COUNT)
		return "unknown";
	return kind_names[k];
}

/*
 * The builder lists stacks sorted by id, so a binary search finds them in
 * a report with many; a hand-built model that is not sorted still works,
 * through the linear scan when the search misses.
 */
const struct report_stack *
report_find_stack(const struct report *r, uint32_t id)
{
	size_t lo = 0, hi = r->nstacks, i;

	if (id == 0 || !r->stacks)
		return NULL;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (r->stacks[mid].id == id)
			return &r->stacks[mid];
		if (r->stacks[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (i = 0; i < r->nstacks; i++)
		if (r->stacks[i].id == id)
			return &r->stacks[i];
	return NULL;
}
