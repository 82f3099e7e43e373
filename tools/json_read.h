/*
 * json_read.h: a small, strict JSON reader for the reports `refsan report`
 * merges.  The reports come from other processes, other machines and CI
 * artifacts, so the reader trusts nothing: it accepts exactly RFC 8259
 * (plus a leading UTF-8 byte order mark), checks UTF-8 inside strings, and
 * stops at the first fault with the line and column and what it expected.
 * Its memory is bounded by the input (at most one node per input byte and
 * decoded strings no longer than the input) and by the limits given, and
 * its recursion by a depth limit, so that it can be fuzzed.
 *
 * The document is a flat array of nodes addressed by index (0 is "none"):
 * an array's or object's children form a list through next; an object's
 * members are a key node (a string) whose next is the value node.
 * Strings without escapes point into the input, which must outlive the
 * document.
 */
#ifndef REFSAN_JSON_READ_H
#define REFSAN_JSON_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum json_type {
	JSON_NULL,
	JSON_FALSE,
	JSON_TRUE,
	JSON_NUMBER,
	JSON_STRING,
	JSON_ARRAY,
	JSON_OBJECT,
};

/* Flags of a number node. */
#define JSON_NUM_UINT 1u /* an integer in 0..2^64-1: u holds it */
#define JSON_NUM_NEG 2u  /* a negative integer >= -2^63: u holds -value */
/* Flag of a string node: its bytes are in the decoded buffer. */
#define JSON_STR_DECODED 4u

struct json_node {
	uint8_t type;  /* enum json_type */
	uint8_t flags; /* JSON_NUM_*, JSON_STR_DECODED */
	uint32_t next; /* next sibling (array element, key or value), 0: none */
	uint32_t len;  /* string: bytes; array: elements; object: members */
	uint32_t pos;  /* byte offset of the value in the input */
	union {
		uint64_t off;   /* string: offset in the input or decoded buf */
		uint32_t first; /* array, object: first child, 0: none */
		uint64_t u;     /* integer number (see flags) */
		double d;       /* other numbers */
	} v;
};

struct json_limits {
	size_t max_bytes;   /* longest input accepted */
	unsigned max_depth; /* deepest nesting of arrays and objects */
};

/* 1 GiB of input, 64 levels. */
#define JSON_LIMITS_DEFAULT                                                    \
	{                                                                      \
		(size_t)1 << 30, 64                                            \
	}

struct json_doc {
	const char *input;
	size_t input_len;
	struct json_node *nodes; /* [0] unused */
	size_t nnodes, cap;
	char *decoded; /* strings that held escapes */
	size_t decoded_len, decoded_cap;
	uint32_t root;
};

struct json_err {
	size_t offset; /* byte offset of the fault */
	unsigned line; /* 1-based */
	unsigned col;  /* 1-based, in bytes */
	char msg[192];
};

/* An empty document holding no memory. */
void json_init(struct json_doc *doc);
/*
 * Parse LEN bytes at BUF into *DOC (initialized with json_init; the memory
 * of an earlier parse into it is reused).  Returns 0, or -EINVAL (syntax,
 * limits) or -ENOMEM with *err filled; *doc is then empty.  BUF must stay
 * valid while *doc is used.  json_free releases the memory.
 */
int json_parse(struct json_doc *doc, const char *buf, size_t len,
               const struct json_limits *lim, struct json_err *err);
void json_free(struct json_doc *doc);

static inline const struct json_node *
json_node(const struct json_doc *doc, uint32_t i)
{
	return i ? &doc->nodes[i] : NULL;
}

/* A string node's bytes (not NUL-terminated) and length. */
const char *json_str(const struct json_doc *doc, const struct json_node *n,
                     size_t *len);
/* Whether a string node equals S. */
bool json_str_eq(const struct json_doc *doc, const struct json_node *n,
                 const char *s);
/* The value of member KEY of object OBJ (the first one if repeated). */
const struct json_node *json_get(const struct json_doc *doc,
                                 const struct json_node *obj, const char *key);
/*
 * The values of members KEYS[0..NKEYS) (at most 32) of object OBJ, in one
 * pass: OUT[i] is the first member named KEYS[i], or NULL.  Returns how
 * many were found.
 */
size_t json_members(const struct json_doc *doc, const struct json_node *obj,
                    const char *const *keys, size_t nkeys,
                    const struct json_node **out);
/* Index of a node (for walking lists). */
static inline uint32_t
json_index(const struct json_doc *doc, const struct json_node *n)
{
	return n ? (uint32_t)(n - doc->nodes) : 0;
}

/* Line and column of node N in the input (for messages). */
void json_node_position(const struct json_doc *doc, const struct json_node *n,
                        unsigned *line, unsigned *col);
/* Line and column of byte OFFSET of the input. */
void json_position(const char *buf, size_t len, size_t offset, unsigned *line,
                   unsigned *col);

#endif
