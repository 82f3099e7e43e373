/*
 * fuzz_json_read.c: libFuzzer target for the JSON reader of `refsan
 * report` (tools/json_read.c), which reads reports written by other
 * processes and machines.  A parse either fails with a position inside
 * the input and a message, or yields a tree whose every node can be
 * walked, looked up and located.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json_read.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
walk(const struct json_doc *doc, const struct json_node *n, unsigned depth)
{
	unsigned line, col;
	uint32_t c;
	size_t len;

	if (!n || depth > 1000)
		abort();
	json_node_position(doc, n, &line, &col);
	if (line < 1 || col < 1)
		abort();
	switch (n->type) {
	case JSON_STRING:
		if (!json_str(doc, n, &len) && len)
			abort();
		(void)json_str_eq(doc, n, "schema");
		break;
	case JSON_ARRAY:
	case JSON_OBJECT:
		for (c = n->v.first; c; c = doc->nodes[c].next) {
			if (c >= doc->nnodes)
				abort();
			walk(doc, json_node(doc, c), depth + 1);
		}
		if (n->type == JSON_OBJECT) {
			(void)json_get(doc, n, "errors");
			(void)json_get(doc, n, "stacks");
		}
		break;
	default:
		break;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_limits lim = JSON_LIMITS_DEFAULT;
	struct json_doc doc;
	struct json_err err;
	char *buf = malloc(size ? size : 1);
	int rc;

	if (!buf)
		return 0;
	/* An exact-size copy: ASan sees any read past the input's end. */
	memcpy(buf, data, size);
	memset(&doc, 0, sizeof(doc));
	memset(&err, 0, sizeof(err));
	rc = json_parse(&doc, buf, size, &lim, &err);
	if (rc) {
		if ((rc != -EINVAL && rc != -ENOMEM) || !err.msg[0] ||
		    err.offset > size || err.line < 1 || err.col < 1)
			abort();
	} else {
		if (!doc.root || doc.root >= doc.nnodes)
			abort();
		walk(&doc, json_node(&doc, doc.root), 0);
	}
	json_free(&doc);
	free(buf);
	return 0;
}
