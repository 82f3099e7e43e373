/*
 * fuzz_suppress.c: libFuzzer target for suppressions files.  The input is
 * loaded as a file (via a memfd), then each rule is matched against a few
 * names of the kinds a report holds, since matching (fnmatch) is where a
 * hostile pattern could cost time at report time.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "suppress.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int memfd = -1;
static char memfd_path[64];

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = {
		"create_dog",
		"/work/main/demo/zoo.c",
		"/usr/lib/x86_64-linux-gnu/libzoo.so.1",
		"Kennel.fill",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		NULL,
	};
	static const char *const kinds[] = { "leak", "double_release",
		                             "invalid_release",
		                             "use_after_release",
		                             "family_mismatch" };
	struct suppress s;
	struct suppress_err err;
	size_t i;
	int rc;

	if (memfd < 0) {
		memfd = memfd_create("fuzz-supp", 0);
		if (memfd < 0)
			abort();
		snprintf(memfd_path, sizeof(memfd_path), "/proc/self/fd/%d",
		         memfd);
	}
	if (ftruncate(memfd, 0) != 0 ||
	    pwrite(memfd, data, size, 0) != (ssize_t)size)
		abort();
	suppress_init(&s);
	memset(&err, 0, sizeof(err));
	rc = suppress_load_file(&s, memfd_path, &err);
	if (rc) {
		if (rc != -EINVAL || !err.msg[0] || !err.line || s.nrules)
			abort();
	} else {
		for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
			suppress_match(&s, kinds[i], names,
			               sizeof(names) / sizeof(names[0]));
	}
	suppress_free(&s);
	return 0;
}
