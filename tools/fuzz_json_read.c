/*
 * fuzz_json_read.c: a libFuzzer target for the JSON reader of
 * `refsan report` (json_read.c), which reads files from other processes
 * and machines.  Each input is parsed; a document that parses is walked
 * in full (every string, member lookup and position) so that a bad node
 * link or offset shows up under the sanitizers.  Not built by meson:
 *
 *     clang -g -O1 -fsanitize=fuzzer,address,undefined -Itools \
 *         tools/fuzz_json_read.c tools/json_read.c -o /tmp/fuzz_json_read
 *     /tmp/fuzz_json_read -max_len=65536 tests/golden/
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "json_read.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t
walk(const struct json_doc *doc, uint32_t i, unsigned depth)
{
	const struct json_node *n = json_node(doc, i);
	size_t sum = 0, len;
	unsigned line, col;
	uint32_t k;

	if (!n || depth > 100)
		return 0;
	json_node_position(doc, n, &line, &col);
	sum += line + col;
	switch (n->type) {
	case JSON_STRING:
		sum += (size_t)json_str(doc, n, &len)[len ? len - 1 : 0] + len;
		break;
	case JSON_ARRAY:
		for (k = n->v.first; k; k = doc->nodes[k].next)
			sum += walk(doc, k, depth + 1);
		break;
	case JSON_OBJECT:
		for (k = n->v.first; k;
		     k = doc->nodes[doc->nodes[k].next].next) {
			sum += walk(doc, k, depth + 1);
			sum += walk(doc, doc->nodes[k].next, depth + 1);
		}
		sum += json_get(doc, n, "errors") != NULL;
		break;
	default:
		break;
	}
	return sum;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct json_limits lim = { 1 << 20, 64 };
	struct json_doc doc;
	struct json_err err;
	volatile size_t sink;

	json_init(&doc);
	if (json_parse(&doc, (const char *)data, size, &lim, &err) == 0)
		sink = walk(&doc, doc.root, 0);
	else
		sink = err.line + err.col + strlen(err.msg);
	(void)sink;
	json_free(&doc);
	return 0;
}
