/*
 * fuzz_options.c: libFuzzer target for the REFSAN_OPTIONS parser.  The
 * source is included, not linked, so that the string copies the parser
 * keeps for the life of the process (by design) can be dropped after each
 * input; otherwise a long run would only measure memory growth.
 */
#include "../../src/options.c"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct refsan_options o, before;
	struct options_err err;
	char *str = malloc(size + 1);
	int rc;

	if (!str)
		return 0;
	memcpy(str, data, size);
	str[size] = '\0';
	options_defaults(&o);
	before = o;
	memset(&err, 0, sizeof(err));
	rc = options_parse(&o, str, &err);
	if (rc) {
		if ((rc != -EINVAL && rc != -ENOMEM) || !err.msg[0])
			abort();
		if (memcmp(&o, &before, sizeof(o)) != 0)
			abort(); /* untouched on failure */
	} else {
		/* Every string value is a valid C string. */
		if (strlen(o.spec) > size || strlen(o.log_path) > size ||
		    strlen(o.json_path) > size || strlen(o.suppressions) > size)
			abort();
		if (o.report_signal > 64 || o.on_bad_spec > 1)
			abort();
	}
	drop_copies(NULL);
	free(str);
	return 0;
}
