/*
 * outbuf.c: the buffered writer the text and JSON reports are rendered
 * through.  Reports are written at exit, after fork, from the shim's report
 * thread and at _exit, where stdio may hold locks or half-written buffers
 * of the program's own, so this file formats numbers itself, escapes
 * strings itself and writes with a write(2) loop that survives EINTR and
 * short writes.  Nothing here allocates.  The errno of the caller is kept
 * intact, as a hook must never change it.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "outbuf.h"

void
outbuf_init(struct outbuf *ob, int fd)
{
	ob->fd = fd;
	ob->err = 0;
	ob->len = 0;
	ob->p = ob->buf;
	ob->cap = OUTBUF_SIZE;
}

void
outbuf_use(struct outbuf *ob, char *mem, size_t cap)
{
	if (!mem || cap < OUTBUF_SIZE || ob->len)
		return;
	ob->p = mem;
	ob->cap = cap;
}

static int
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (w == 0)
			return -EIO;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int
outbuf_flush(struct outbuf *ob)
{
	int saved = errno;

	if (!ob->err && ob->len)
		ob->err = write_all(ob->fd, ob->p, ob->len);
	ob->len = 0;
	errno = saved;
	return ob->err;
}

void
outbuf_write(struct outbuf *ob, const char *s, size_t n)
{
	if (n < ob->cap - ob->len && !ob->err) {
		/* The usual case: it fits. */
		memcpy(ob->p + ob->len, s, n);
		ob->len += n;
		return;
	}
	while (n > 0 && !ob->err) {
		size_t room = ob->cap - ob->len;
		size_t k = n < room ? n : room;

		memcpy(ob->p + ob->len, s, k);
		ob->len += k;
		s += k;
		n -= k;
		if (ob->len == ob->cap)
			outbuf_flush(ob);
	}
}

void
outbuf_putc(struct outbuf *ob, char c)
{
	if (ob->err)
		return;
	ob->p[ob->len++] = c;
	if (ob->len == ob->cap)
		outbuf_flush(ob);
}

void
outbuf_puts(struct outbuf *ob, const char *s)
{
	size_t n = 0;

	if (!s)
		return;
	while (s[n])
		n++;
	outbuf_write(ob, s, n);
}

/* The decimal digits of V at the end of BUF[20]; returns the first. */
static char *
fmt_dec(char buf[20], uint64_t v)
{
	char *p = buf + 20;

	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return p;
}

void
outbuf_dec(struct outbuf *ob, uint64_t v)
{
	char buf[20];
	char *p = fmt_dec(buf, v);

	outbuf_write(ob, p, (size_t)(buf + 20 - p));
}

void
outbuf_sdec(struct outbuf *ob, int64_t v)
{
	if (v < 0) {
		outbuf_putc(ob, '-');
		/* Negate in unsigned arithmetic: INT64_MIN has no positive. */
		outbuf_dec(ob, 0 - (uint64_t)v);
	} else {
		outbuf_dec(ob, (uint64_t)v);
	}
}

void
outbuf_dec_width(struct outbuf *ob, uint64_t v, unsigned width)
{
	char buf[20];
	char *p = fmt_dec(buf, v);
	size_t n = (size_t)(buf + 20 - p);

	for (; width > n; width--)
		outbuf_putc(ob, ' ');
	outbuf_write(ob, p, n);
}

static const char hexdig[] = "0123456789abcdef";

void
outbuf_hex(struct outbuf *ob, uint64_t v)
{
	char buf[18];
	char *p = buf + sizeof(buf);

	do {
		*--p = hexdig[v & 0xf];
		v >>= 4;
	} while (v);
	*--p = 'x';
	*--p = '0';
	outbuf_write(ob, p, (size_t)(buf + sizeof(buf) - p));
}

/*
 * The length (2..4) of the valid multi-byte UTF-8 sequence at S, with its
 * code point in *CP, or 0 when S[0] does not start one.  S is
 * NUL-terminated; the NUL is not a continuation byte, so a truncated
 * sequence at the end is found invalid without reading past it.
 */
static unsigned
utf8_seq(const unsigned char *s, uint32_t *cp)
{
	unsigned char c = s[0];
	unsigned n, i;
	uint32_t v, min;

	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		v = c & 0x1f;
		min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		v = c & 0x0f;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		v = c & 0x07;
		min = 0x10000;
	} else {
		return 0;
	}
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		v = (v << 6) | (s[i] & 0x3f);
	}
	if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return n;
}

static void
put_u4(struct outbuf *ob, uint32_t v)
{
	char e[6] = { '\\', 'u' };

	e[2] = hexdig[(v >> 12) & 0xf];
	e[3] = hexdig[(v >> 8) & 0xf];
	e[4] = hexdig[(v >> 4) & 0xf];
	e[5] = hexdig[v & 0xf];
	outbuf_write(ob, e, sizeof(e));
}

void
outbuf_json_str(struct outbuf *ob, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	unsigned char prev = 0;

	if (!s) {
		outbuf_puts(ob, "null");
		return;
	}
	outbuf_putc(ob, '"');
	while (*s) {
		unsigned char c = *s;
		uint32_t cp;
		unsigned n;

		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\' &&
		    !(c == '/' && prev == '<')) {
			/* A run of plain characters, written at once. */
			const unsigned char *e = s + 1;
			while (*e >= 0x20 && *e < 0x7f && *e != '"' &&
			       *e != '\\' && !(*e == '/' && e[-1] == '<'))
				e++;
			outbuf_write(ob, (const char *)s, (size_t)(e - s));
			prev = e[-1];
			s = e;
			continue;
		}
		if (c == '"' || c == '\\') {
			outbuf_putc(ob, '\\');
			outbuf_putc(ob, (char)c);
			n = 1;
		} else if (c == '/' && prev == '<') {
			outbuf_write(ob, "\\/", 2);
			n = 1;
		} else if (c < 0x20 || c == 0x7f) {
			put_u4(ob, c);
			n = 1;
		} else if (c < 0x80) {
			outbuf_putc(ob, (char)c);
			n = 1;
		} else if ((n = utf8_seq(s, &cp)) == 0) {
			put_u4(ob, 0xfffd);
			n = 1;
		} else if (cp == 0x2028 || cp == 0x2029) {
			put_u4(ob, cp);
		} else {
			outbuf_write(ob, (const char *)s, n);
		}
		prev = c;
		s += n;
	}
	outbuf_putc(ob, '"');
}

static void
put_x2(struct outbuf *ob, unsigned char c)
{
	char e[4] = { '\\', 'x', hexdig[c >> 4], hexdig[c & 0xf] };

	outbuf_write(ob, e, sizeof(e));
}

void
outbuf_text_str(struct outbuf *ob, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;

	if (!s)
		return;
	while (*s) {
		unsigned char c = *s;
		uint32_t cp;
		unsigned n, i;

		if (c >= 0x20 && c < 0x7f) {
			/* A run of plain characters, written at once. */
			const unsigned char *e = s + 1;
			while (*e >= 0x20 && *e < 0x7f)
				e++;
			outbuf_write(ob, (const char *)s, (size_t)(e - s));
			s = e;
			continue;
		}
		if (c < 0x20 || c == 0x7f) {
			put_x2(ob, c);
			n = 1;
		} else if (c < 0x80) {
			outbuf_putc(ob, (char)c);
			n = 1;
		} else if ((n = utf8_seq(s, &cp)) == 0) {
			put_x2(ob, c);
			n = 1;
		} else if (cp < 0xa0) {
			for (i = 0; i < n; i++)
				put_x2(ob, s[i]);
		} else {
			outbuf_write(ob, (const char *)s, n);
		}
		s += n;
	}
}
