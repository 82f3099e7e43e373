/*
 * json_read.c: the strict JSON reader of json_read.h.  `refsan report`
 * reads files written by other processes and machines, possibly truncated
 * or corrupted, so every byte is checked against RFC 8259 and a fault is
 * reported with its line, column and what was expected rather than being
 * guessed around.  The reader is meant to be fuzzed (libFuzzer over
 * json_parse): recursion is bounded by max_depth, the node array by the
 * input's length (every value takes at least one byte), the decoded
 * strings by the input's length too, and nothing is read outside the
 * buffer given.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_read.h"

struct parser {
	struct json_doc *doc;
	const char *p;   /* next byte */
	const char *end; /* one past the input */
	const struct json_limits *lim;
	struct json_err *err;
};

static int __attribute__((format(printf, 3, 4)))
fail_at(struct parser *ps, const char *at, const char *fmt, ...)
{
	va_list ap;

	ps->err->offset = (size_t)(at - ps->doc->input);
	va_start(ap, fmt);
	vsnprintf(ps->err->msg, sizeof(ps->err->msg), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* What is at P, for messages: "'x'", "byte 0x01" or "end of input". */
static const char *
describe(struct parser *ps, const char *p, char *buf, size_t len)
{
	unsigned char c;

	if (p >= ps->end)
		return "end of input";
	c = (unsigned char)*p;
	if (c >= 0x21 && c < 0x7f)
		snprintf(buf, len, "'%c'", c);
	else
		snprintf(buf, len, "byte 0x%02x", c);
	return buf;
}

static int __attribute__((format(printf, 3, 4)))
fail_expected(struct parser *ps, const char *at, const char *fmt, ...)
{
	char what[160], got[32];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return fail_at(ps, at, "expected %s, got %s", what,
	               describe(ps, at, got, sizeof(got)));
}

static void
skip_ws(struct parser *ps)
{
	while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' ||
	                           *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

/* A new node, or 0 when out of memory (ps->err set). */
static uint32_t
new_node(struct parser *ps, enum json_type type)
{
	struct json_doc *d = ps->doc;
	struct json_node *n;

	if (d->nnodes == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 64;
		/* One node per input byte at most (plus the unused [0]). */
		size_t most = d->input_len + 2;

		if (cap > most)
			cap = most;
		if (cap <= d->nnodes) {
			fail_at(ps, ps->p, "too many values");
			return 0;
		}
		n = realloc(d->nodes, cap * sizeof(*n));
		if (!n) {
			fail_at(ps, ps->p, "out of memory");
			return 0;
		}
		d->nodes = n;
		d->cap = cap;
	}
	n = &d->nodes[d->nnodes];
	memset(n, 0, sizeof(*n));
	n->type = (uint8_t)type;
	n->pos = (uint32_t)(ps->p - d->input);
	return (uint32_t)d->nnodes++;
}

static int
decoded_reserve(struct parser *ps, size_t more)
{
	struct json_doc *d = ps->doc;
	size_t cap;
	char *b;

	if (d->decoded_len + more <= d->decoded_cap)
		return 0;
	cap = d->decoded_cap ? d->decoded_cap : 256;
	while (cap < d->decoded_len + more)
		cap *= 2;
	b = realloc(d->decoded, cap);
	if (!b)
		return fail_at(ps, ps->p, "out of memory");
	d->decoded = b;
	d->decoded_cap = cap;
	return 0;
}

/*
 * Length of the valid UTF-8 sequence at P (P < END, *P >= 0x80), or 0.
 * Overlong forms, surrogates and code points above U+10FFFF are invalid.
 */
static size_t
utf8_len(const unsigned char *p, const unsigned char *end)
{
	unsigned c = p[0];
	size_t n, i;
	uint32_t cp;

	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if ((size_t)(end - p) < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return n;
}

static int
hex4(struct parser *ps, const char *p, uint32_t *out)
{
	uint32_t v = 0;
	int i;

	if (ps->end - p < 4)
		return fail_at(ps, p - 2, "truncated \\u escape");
	for (i = 0; i < 4; i++) {
		char c = p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (uint32_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (uint32_t)(c - 'A' + 10);
		else
			return fail_at(ps, p + i,
			               "expected 4 hex digits after \\u");
	}
	*out = v;
	return 0;
}

static void
put_utf8(char *o, size_t *n, uint32_t cp)
{
	if (cp < 0x80) {
		o[(*n)++] = (char)cp;
	} else if (cp < 0x800) {
		o[(*n)++] = (char)(0xc0 | (cp >> 6));
		o[(*n)++] = (char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		o[(*n)++] = (char)(0xe0 | (cp >> 12));
		o[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[(*n)++] = (char)(0x80 | (cp & 0x3f));
	} else {
		o[(*n)++] = (char)(0xf0 | (cp >> 18));
		o[(*n)++] = (char)(0x80 | ((cp >> 12) & 0x3f));
		o[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[(*n)++] = (char)(0x80 | (cp & 0x3f));
	}
}

/*
 * Decode the string whose body starts at START (after the quote) into the
 * decoded buffer; the body was already checked by scan_string, up to the
 * closing quote at CLOSE.
 */
static int
decode_string(struct parser *ps, const char *start, const char *close,
              struct json_node *n)
{
	struct json_doc *d = ps->doc;
	const char *p = start;
	size_t len = 0;
	char *o;
	int r;

	/* Decoded text is never longer than the escaped text. */
	r = decoded_reserve(ps, (size_t)(close - start) + 1);
	if (r)
		return r;
	o = d->decoded + d->decoded_len;
	while (p < close) {
		uint32_t cp, lo;

		if (*p != '\\') {
			o[len++] = *p++;
			continue;
		}
		p++;
		switch (*p++) {
		case '"':
			o[len++] = '"';
			break;
		case '\\':
			o[len++] = '\\';
			break;
		case '/':
			o[len++] = '/';
			break;
		case 'b':
			o[len++] = '\b';
			break;
		case 'f':
			o[len++] = '\f';
			break;
		case 'n':
			o[len++] = '\n';
			break;
		case 'r':
			o[len++] = '\r';
			break;
		case 't':
			o[len++] = '\t';
			break;
		default: /* 'u', checked by scan_string */
			hex4(ps, p, &cp);
			p += 4;
			if (cp >= 0xd800 && cp <= 0xdbff) {
				hex4(ps, p + 2, &lo);
				p += 6;
				cp = 0x10000 + ((cp - 0xd800) << 10) +
				     (lo - 0xdc00);
			}
			put_utf8(o, &len, cp);
			break;
		}
	}
	o[len] = '\0';
	n->flags |= JSON_STR_DECODED;
	n->v.off = d->decoded_len;
	n->len = (uint32_t)len;
	d->decoded_len += len + 1;
	return 0;
}

/* Bytes a string holds as they are: printable ASCII but '"' and '\\'. */
#define R16(v) v, v, v, v, v, v, v, v, v, v, v, v, v, v, v, v
static const unsigned char plain[256] = {
	R16(0), R16(0), /* controls */
	1,      1,      0,      1,      1,      1,      1,      1,      1, 1,
	1,      1,      1,      1,      1,      1, /* '"' */
	R16(1), R16(1), 1,      1,      1,      1,      1,      1,      1, 1,
	1,      1,      1,      1,      0,      1,      1,      1, /* '\\' */
	R16(1), 1,      1,      1,      1,      1,      1,      1,      1, 1,
	1,      1,      1,      1,      1,      1,      0, /* DEL */
	R16(0), R16(0), R16(0), R16(0), R16(0), R16(0), R16(0), R16(0),
};
#undef R16

/* A string at ps->p (the opening quote) into node N. */
static int
parse_string(struct parser *ps, uint32_t ni)
{
	const char *start = ps->p + 1, *p = start;
	bool escaped = false;

	for (;;) {
		unsigned char c;

		/* Plain printable ASCII, the bulk of every report, in a tight
		 * loop; the rest below. */
		while (p < ps->end && plain[(unsigned char)*p])
			p++;
		if (p >= ps->end)
			return fail_at(ps, start - 1,
			               "unterminated string (no closing '\"')");
		c = (unsigned char)*p;
		if (c == '"')
			break;
		if (c < 0x20)
			return fail_at(ps, p,
			               "control character 0x%02x in a string "
			               "(write it as an escape)",
			               c);
		if (c == '\\') {
			uint32_t cp, lo;
			int r;

			escaped = true;
			if (p + 1 >= ps->end)
				return fail_at(ps, p, "unterminated escape");
			switch (p[1]) {
			case '"':
			case '\\':
			case '/':
			case 'b':
			case 'f':
			case 'n':
			case 'r':
			case 't':
				p += 2;
				continue;
			case 'u':
				break;
			default: {
				char got[32];

				return fail_at(
				        ps, p,
				        "invalid escape: expected one of "
				        "\\\" \\\\ \\/ \\b \\f \\n \\r \\t "
				        "\\uXXXX, got %s after '\\'",
				        describe(ps, p + 1, got, sizeof(got)));
			}
			}
			r = hex4(ps, p + 2, &cp);
			if (r)
				return r;
			if (cp >= 0xdc00 && cp <= 0xdfff)
				return fail_at(ps, p,
				               "lone low surrogate \\u%04x",
				               (unsigned)cp);
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (ps->end - p < 12 || p[6] != '\\' ||
				    p[7] != 'u')
					return fail_at(
					        ps, p,
					        "high surrogate \\u%04x not followed by a low surrogate escape",
					        (unsigned)cp);
				r = hex4(ps, p + 8, &lo);
				if (r)
					return r;
				if (lo < 0xdc00 || lo > 0xdfff)
					return fail_at(
					        ps, p + 6,
					        "expected a low surrogate (\\udc00..\\udfff) after \\u%04x, got \\u%04x",
					        (unsigned)cp, (unsigned)lo);
				p += 12;
			} else {
				p += 6;
			}
			continue;
		}
		if (c >= 0x80) {
			size_t n = utf8_len((const unsigned char *)p,
			                    (const unsigned char *)ps->end);

			if (!n)
				return fail_at(ps, p,
				               "invalid UTF-8 byte 0x%02x in a "
				               "string",
				               c);
			p += n;
			continue;
		}
		p++;
	}
	if ((size_t)(p - start) > UINT32_MAX)
		return fail_at(ps, start, "string too long");
	if (escaped) {
		int r = decode_string(ps, start, p, &ps->doc->nodes[ni]);

		if (r)
			return r;
	} else {
		ps->doc->nodes[ni].v.off = (uint64_t)(start - ps->doc->input);
		ps->doc->nodes[ni].len = (uint32_t)(p - start);
	}
	ps->p = p + 1;
	return 0;
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int
parse_number(struct parser *ps, uint32_t ni)
{
	const char *start = ps->p, *p = ps->p;
	struct json_node *n = &ps->doc->nodes[ni];
	bool neg = false, integer = true, overflow = false;
	uint64_t u = 0;

	if (*p == '-') {
		neg = true;
		p++;
	}
	if (p >= ps->end || !is_digit(*p))
		return fail_expected(ps, p, "a digit");
	if (*p == '0' && p + 1 < ps->end && is_digit(p[1]))
		return fail_at(ps, p, "leading zeros are not allowed");
	while (p < ps->end && is_digit(*p)) {
		unsigned dgt = (unsigned)(*p - '0');

		if (u > (UINT64_MAX - dgt) / 10)
			overflow = true;
		else
			u = u * 10 + dgt;
		p++;
	}
	if (p < ps->end && *p == '.') {
		integer = false;
		p++;
		if (p >= ps->end || !is_digit(*p))
			return fail_expected(ps, p, "a digit after '.'");
		while (p < ps->end && is_digit(*p))
			p++;
	}
	if (p < ps->end && (*p == 'e' || *p == 'E')) {
		integer = false;
		p++;
		if (p < ps->end && (*p == '+' || *p == '-'))
			p++;
		if (p >= ps->end || !is_digit(*p))
			return fail_expected(ps, p, "a digit in the exponent");
		while (p < ps->end && is_digit(*p))
			p++;
	}
	ps->p = p;
	if (integer && !overflow && (!neg || u <= (uint64_t)INT64_MAX + 1)) {
		n->flags = neg ? JSON_NUM_NEG : JSON_NUM_UINT;
		n->v.u = u;
		return 0;
	}
	{
		/* strtod needs a terminated copy; long numbers are rare. */
		size_t len = (size_t)(p - start);
		char small[64], *buf = small;

		if (len >= sizeof(small)) {
			buf = malloc(len + 1);
			if (!buf)
				return fail_at(ps, start, "out of memory");
		}
		memcpy(buf, start, len);
		buf[len] = '\0';
		n->v.d = strtod(buf, NULL);
		if (buf != small)
			free(buf);
	}
	return 0;
}

static int parse_value(struct parser *ps, uint32_t *out, unsigned depth);

static int
expect_word(struct parser *ps, const char *w)
{
	size_t len = strlen(w);

	if ((size_t)(ps->end - ps->p) < len || memcmp(ps->p, w, len) != 0)
		return fail_expected(ps, ps->p, "a value");
	ps->p += len;
	return 0;
}

static int
parse_array(struct parser *ps, uint32_t ni, unsigned depth)
{
	uint32_t last = 0, count = 0, child;
	int r;

	ps->p++;
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == ']') {
		ps->p++;
		return 0;
	}
	for (;;) {
		r = parse_value(ps, &child, depth + 1);
		if (r)
			return r;
		if (last)
			ps->doc->nodes[last].next = child;
		else
			ps->doc->nodes[ni].v.first = child;
		last = child;
		count++;
		skip_ws(ps);
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
			continue;
		}
		if (ps->p < ps->end && *ps->p == ']') {
			ps->p++;
			break;
		}
		return fail_expected(ps, ps->p,
		                     "',' or ']' after an array element");
	}
	ps->doc->nodes[ni].len = count;
	return 0;
}

static int
parse_object(struct parser *ps, uint32_t ni, unsigned depth)
{
	uint32_t last = 0, count = 0, key, val;
	int r;

	ps->p++;
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == '}') {
		ps->p++;
		return 0;
	}
	for (;;) {
		skip_ws(ps);
		if (ps->p >= ps->end || *ps->p != '"')
			return fail_expected(ps, ps->p,
			                     "a member name in double quotes");
		key = new_node(ps, JSON_STRING);
		if (!key)
			return -ENOMEM;
		r = parse_string(ps, key);
		if (r)
			return r;
		skip_ws(ps);
		if (ps->p >= ps->end || *ps->p != ':')
			return fail_expected(ps, ps->p,
			                     "':' after a member name");
		ps->p++;
		r = parse_value(ps, &val, depth + 1);
		if (r)
			return r;
		ps->doc->nodes[key].next = val;
		if (last)
			ps->doc->nodes[last].next = key;
		else
			ps->doc->nodes[ni].v.first = key;
		last = val;
		count++;
		skip_ws(ps);
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
			continue;
		}
		if (ps->p < ps->end && *ps->p == '}') {
			ps->p++;
			break;
		}
		return fail_expected(ps, ps->p,
		                     "',' or '}' after an object member");
	}
	ps->doc->nodes[ni].len = count;
	return 0;
}

static int
parse_value(struct parser *ps, uint32_t *out, unsigned depth)
{
	uint32_t ni;
	int r = 0;

	skip_ws(ps);
	if (ps->p >= ps->end)
		return fail_expected(ps, ps->p, "a value");
	switch (*ps->p) {
	case '{':
	case '[':
		if (depth >= ps->lim->max_depth)
			return fail_at(ps, ps->p,
			               "nesting deeper than %u levels",
			               ps->lim->max_depth);
		ni = new_node(ps, *ps->p == '{' ? JSON_OBJECT : JSON_ARRAY);
		if (!ni)
			return -ENOMEM;
		r = *ps->p == '{' ? parse_object(ps, ni, depth)
		                  : parse_array(ps, ni, depth);
		break;
	case '"':
		ni = new_node(ps, JSON_STRING);
		if (!ni)
			return -ENOMEM;
		r = parse_string(ps, ni);
		break;
	case 't':
		ni = new_node(ps, JSON_TRUE);
		if (!ni)
			return -ENOMEM;
		r = expect_word(ps, "true");
		break;
	case 'f':
		ni = new_node(ps, JSON_FALSE);
		if (!ni)
			return -ENOMEM;
		r = expect_word(ps, "false");
		break;
	case 'n':
		ni = new_node(ps, JSON_NULL);
		if (!ni)
			return -ENOMEM;
		r = expect_word(ps, "null");
		break;
	default:
		if (*ps->p != '-' && !is_digit(*ps->p))
			return fail_expected(ps, ps->p, "a value");
		ni = new_node(ps, JSON_NUMBER);
		if (!ni)
			return -ENOMEM;
		r = parse_number(ps, ni);
		break;
	}
	*out = ni;
	return r;
}

void
json_position(const char *buf, size_t len, size_t offset, unsigned *line,
              unsigned *col)
{
	size_t i, bol = 0;
	unsigned l = 1;

	if (offset > len)
		offset = len;
	for (i = 0; i < offset; i++) {
		if (buf[i] == '\n') {
			l++;
			bol = i + 1;
		}
	}
	*line = l;
	*col = (unsigned)(offset - bol + 1);
}

void
json_node_position(const struct json_doc *doc, const struct json_node *n,
                   unsigned *line, unsigned *col)
{
	json_position(doc->input, doc->input_len, n ? n->pos : 0, line, col);
}

void
json_init(struct json_doc *doc)
{
	memset(doc, 0, sizeof(*doc));
}

void
json_free(struct json_doc *doc)
{
	free(doc->nodes);
	free(doc->decoded);
	memset(doc, 0, sizeof(*doc));
}

size_t
json_members(const struct json_doc *doc, const struct json_node *obj,
             const char *const *keys, size_t nkeys,
             const struct json_node **out)
{
	size_t lens[32], i, found = 0;
	uint32_t k;

	for (i = 0; i < nkeys; i++) {
		out[i] = NULL;
		lens[i] = i < 32 ? strlen(keys[i]) : 0;
	}
	if (!obj || obj->type != JSON_OBJECT || nkeys > 32)
		return 0;
	for (k = obj->v.first; k && found < nkeys;
	     k = doc->nodes[doc->nodes[k].next].next) {
		const struct json_node *kn = &doc->nodes[k];
		const char *p = kn->flags & JSON_STR_DECODED
		                        ? doc->decoded + kn->v.off
		                        : doc->input + kn->v.off;

		for (i = 0; i < nkeys; i++) {
			if (!out[i] && kn->len == lens[i] &&
			    memcmp(p, keys[i], lens[i]) == 0) {
				out[i] = &doc->nodes[kn->next];
				found++;
				break;
			}
		}
	}
	return found;
}

int
json_parse(struct json_doc *doc, const char *buf, size_t len,
           const struct json_limits *lim, struct json_err *err)
{
	static const struct json_limits def = JSON_LIMITS_DEFAULT;
	struct parser ps;
	uint32_t root;
	int r;

	/* Keep the allocations of an earlier parse: reports are read one
	 * after another, and fresh memory costs a page fault per page. */
	doc->nnodes = 0;
	doc->decoded_len = 0;
	doc->root = 0;
	memset(err, 0, sizeof(*err));
	if (!lim)
		lim = &def;
	doc->input = buf;
	doc->input_len = len;
	ps.doc = doc;
	ps.p = buf;
	ps.end = buf + len;
	ps.lim = lim;
	ps.err = err;
	if (len > lim->max_bytes || len >= UINT32_MAX / 2) {
		r = fail_at(&ps, buf,
		            "input of %zu bytes is larger than the limit "
		            "(%zu bytes)",
		            len,
		            lim->max_bytes < UINT32_MAX / 2 ? lim->max_bytes
		                                            : UINT32_MAX / 2);
		goto out;
	}
	/* Node 0 stands for "none". */
	new_node(&ps, JSON_NULL);
	if (!doc->nnodes) {
		r = -ENOMEM;
		goto out;
	}
	if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
		ps.p += 3;
	skip_ws(&ps);
	if (ps.p >= ps.end) {
		r = fail_at(&ps, ps.p, "empty input: expected a JSON value");
		goto out;
	}
	r = parse_value(&ps, &root, 0);
	if (r)
		goto out;
	skip_ws(&ps);
	if (ps.p < ps.end) {
		char got[32];

		r = fail_at(&ps, ps.p,
		            "expected the end of input after the JSON value, "
		            "got %s",
		            describe(&ps, ps.p, got, sizeof(got)));
		goto out;
	}
	doc->root = root;
out:
	if (r) {
		if (r == -ENOMEM && !err->msg[0])
			snprintf(err->msg, sizeof(err->msg), "out of memory");
		json_position(buf, len, err->offset, &err->line, &err->col);
		doc->nnodes = 0;
		doc->decoded_len = 0;
	}
	return r;
}

const char *
json_str(const struct json_doc *doc, const struct json_node *n, size_t *len)
{
	if (!n || n->type != JSON_STRING) {
		if (len)
			*len = 0;
		return NULL;
	}
	if (len)
		*len = n->len;
	if (n->flags & JSON_STR_DECODED)
		return doc->decoded + n->v.off;
	return doc->input + n->v.off;
}

bool
json_str_eq(const struct json_doc *doc, const struct json_node *n,
            const char *s)
{
	size_t len, slen = strlen(s);
	const char *p = json_str(doc, n, &len);

	return p && len == slen && memcmp(p, s, len) == 0;
}

const struct json_node *
json_get(const struct json_doc *doc, const struct json_node *obj,
         const char *key)
{
	size_t klen = strlen(key);
	uint32_t k;

	if (!obj || obj->type != JSON_OBJECT)
		return NULL;
	for (k = obj->v.first; k; k = doc->nodes[doc->nodes[k].next].next) {
		const struct json_node *kn = &doc->nodes[k];
		const char *p = kn->flags & JSON_STR_DECODED
		                        ? doc->decoded + kn->v.off
		                        : doc->input + kn->v.off;

		if (kn->len == klen && memcmp(p, key, klen) == 0)
			return &doc->nodes[kn->next];
	}
	return NULL;
}
