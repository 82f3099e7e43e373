/*
 * fuzz_spec.c: libFuzzer target for the spec parser.  The input is a spec
 * file: it goes through spec_load_file (via a memfd, so the BOM, NUL and
 * CR handling of the loader are covered too) and, line by line, through
 * spec_parse_line on a second spec.  Every failure must come with a
 * position and a message; every success must leave a consistent spec.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int memfd = -1;
static char memfd_path[64];

static void
check_err(int rc, const struct spec_err *err)
{
	char buf[1024];

	if (rc == 0)
		return;
	if (rc != -EINVAL || !err->msg[0])
		abort();
	spec_err_format(err, buf, sizeof(buf));
	if (strncmp(buf, "refsan: error: ", 15) != 0)
		abort();
}

static void
check_spec(const struct spec *s)
{
	size_t i;

	for (i = 0; i < s->nrules; i++) {
		const struct spec_rule *r = &s->rules[i];

		if (!r->func || !r->func[0] || r->lib >= s->nlibs ||
		    r->family > s->nfamilies || r->argn > SPEC_MAX_ARG)
			abort();
	}
	for (i = 1; i <= s->nfamilies; i++)
		if (!s->families[i] || spec_family_id(s, s->families[i]) != i)
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct spec s, l;
	struct spec_err err;
	char *copy, *line, *save = NULL;
	int rc;

	if (memfd < 0) {
		memfd = memfd_create("fuzz-spec", 0);
		if (memfd < 0)
			abort();
		snprintf(memfd_path, sizeof(memfd_path), "/proc/self/fd/%d",
		         memfd);
	}
	if (ftruncate(memfd, 0) != 0 ||
	    pwrite(memfd, data, size, 0) != (ssize_t)size)
		abort();
	spec_init(&s);
	memset(&err, 0, sizeof(err));
	rc = spec_load_file(&s, memfd_path, &err);
	check_err(rc, &err);
	if (rc && (s.nrules || s.nlibs || s.nfamilies))
		abort(); /* all or nothing */
	check_spec(&s);
	spec_free(&s);

	/* Line by line, as the loader would, without stopping at errors. */
	copy = malloc(size + 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\0';
	spec_init(&l);
	l.cur_file = "fuzz.spec";
	for (line = strtok_r(copy, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		size_t nrules = l.nrules;

		l.cur_line++;
		memset(&err, 0, sizeof(err));
		rc = spec_parse_line(&l, line, &err);
		check_err(rc, &err);
		if (rc && l.nrules != nrules)
			abort(); /* *s untouched on failure */
	}
	check_spec(&l);
	spec_free(&l);
	free(copy);
	return 0;
}
