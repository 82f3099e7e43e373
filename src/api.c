/*
 * api.c: the public C API of include/refsan.h: annotations for handles no
 * spec names, and questions a test harness asks mid-run (how many handles
 * are live, which were created since a mark, a report now).
 *
 * The annotations are hot-path code like the hooks: the creation stack is
 * captured here, with this function's own frame dropped, so the report
 * names the caller's file:line.
 */
#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include "refsan.h"
#include "engine.h"
#include "families.h"
#include "guard.h"
#include "handle_table.h"
#include "init.h"
#include "options.h"
#include "pyframes.h"
#include "report_build.h"
#include "stack_depot.h"
#include "unwind.h"

__thread struct refsan_thread refsan_thread
        __attribute__((tls_model("initial-exec")));

#define MAX_FRAMES 256 /* + 1 for the thread word */

/* The API function's caller and up: skip the API frame itself. */
static __attribute__((noinline)) uint32_t
capture_api(struct engine_call *c)
{
	uintptr_t pcs[MAX_FRAMES + 1];
	unsigned n, i, max = refsan_opts.stack_depth;
	struct unwind_memo *memo;
	uint32_t id;

	if (max == 0)
		return 0;
	if (max > MAX_FRAMES)
		max = MAX_FRAMES;
	/* skip: capture_api itself and the refsan_* function */
	n = unwind_capture_memo(pcs, max,
				(unsigned)(uintptr_t)c->site->capture_arg, &memo);
	if (memo && memo->key == (uintptr_t)c->site->function && memo->id)
		return memo->id;
	if (refsan_opts.python_frames)
		n = pyframes_splice(pcs, n, max);
	pcs[n++] = DEPOT_THREAD_TAG | (uintptr_t)(unsigned)engine_thread_id();
	id = depot_put(pcs, n);
	if (memo) {
		for (i = 0; i < n && !depot_word_is_python(pcs[i]); i++)
			;
		if (i == n) {
			memo->key = (uintptr_t)c->site->function;
			memo->id = id;
		}
	}
	return id;
}

static bool
api_enter(void)
{
	if (!init_ensure() || !init_activate())
		return false;
	if (!guard_enter())
		return false;
	return true;
}

static void
api_call(struct engine_call *c, struct engine_site *site, const char *fn,
	 unsigned skip)
{
	memset(site, 0, sizeof(*site));
	site->function = fn;
	site->capture = capture_api;
	site->capture_arg = (void *)(uintptr_t)skip;
	memset(c, 0, sizeof(*c));
	c->site = site;
}

/* Frames between unwind_capture and the user's code. */
#define SKIP_API 2

void
refsan_handle_created(const void *handle, const char *family)
{
	struct engine_site site;
	struct engine_call c;

	if (!api_enter())
		return;
	api_call(&c, &site, "refsan_handle_created", SKIP_API);
	site.family = families_id(family);
	c.stack = capture_api(&c);
	engine_create((uintptr_t)handle, &c);
	guard_exit();
}

void
refsan_handle_acquired(const void *handle)
{
	struct engine_site site;
	struct engine_call c;

	if (!api_enter())
		return;
	api_call(&c, &site, "refsan_handle_acquired", SKIP_API);
	c.stack = capture_api(&c);
	engine_acquire((uintptr_t)handle, &c);
	guard_exit();
}

void
refsan_handle_released(const void *handle)
{
	struct engine_site site;
	struct engine_call c;

	if (!api_enter())
		return;
	api_call(&c, &site, "refsan_handle_released", SKIP_API);
	c.stack = capture_api(&c);
	engine_release((uintptr_t)handle, &c);
	guard_exit();
}

uint64_t
refsan_checkpoint(void)
{
	if (!init_ensure() || !init_activate())
		return 0;
	return engine_checkpoint();
}

size_t
refsan_live_count(void)
{
	if (!init_ensure() || !init_activate())
		return 0;
	return handle_table_live();
}

struct since {
	uint64_t mark;
	size_t n;
};

static void
count_since(const struct ht_view *v, void *arg)
{
	struct since *s = arg;

	if (!engine_created_here(v->info.seq))
		return;
	if ((int32_t)(v->info.seq - (uint32_t)s->mark) > 0)
		s->n++;
}

size_t
refsan_live_since(uint64_t mark)
{
	struct since s = { mark, 0 };

	if (!init_ensure() || !init_activate())
		return 0;
	handle_table_foreach(count_since, &s);
	return s.n;
}

int
refsan_report(const char *path)
{
	return refsan_report_since(0, path);
}

int
refsan_report_since(uint64_t mark, const char *path)
{
	int rc;

	if (!init_ensure() || !init_activate()) {
		errno = EAGAIN;
		return -1;
	}
	if (!guard_enter()) {
		errno = EBUSY;
		return -1;
	}
	rc = report_live(mark, path);
	guard_exit();
	return rc;
}
