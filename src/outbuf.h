/*
 * outbuf.h: a small buffered writer to a file descriptor for the reports.
 * It formats numbers and escapes strings itself and writes with write(2)
 * only (no stdio, no malloc), because reports are also written where stdio
 * is unsafe: after fork, from the shim's report thread, at _exit.  The
 * buffer lives inside the struct, on the caller's stack.
 *
 * Errors are sticky: the first failed write(2) is kept as -errno, later
 * output is dropped, and outbuf_flush() returns it.
 */
#ifndef REFSAN_OUTBUF_H
#define REFSAN_OUTBUF_H

#include <stddef.h>
#include <stdint.h>

#define OUTBUF_SIZE 4096

struct outbuf {
	int fd;
	int err;    /* first write error (-errno), 0 if none */
	size_t len; /* bytes pending in p */
	size_t cap; /* size of p */
	char *p;    /* buf, or a bigger buffer of the caller's */
	char buf[OUTBUF_SIZE];
};

void outbuf_init(struct outbuf *ob, int fd);
/* Buffer in MEM (CAP bytes, which outlive OB's use) instead of the
 * built-in 4 KiB: fewer write(2) calls for a big report.  Call right
 * after outbuf_init; MEM NULL keeps the built-in buffer. */
void outbuf_use(struct outbuf *ob, char *mem, size_t cap);
/* Write what is pending; 0 or the first error (-errno) since init. */
int outbuf_flush(struct outbuf *ob);

void outbuf_putc(struct outbuf *ob, char c);
void outbuf_write(struct outbuf *ob, const char *s, size_t n);
/* S as is (NULL writes nothing). */
void outbuf_puts(struct outbuf *ob, const char *s);
/* Unsigned and signed decimal. */
void outbuf_dec(struct outbuf *ob, uint64_t v);
void outbuf_sdec(struct outbuf *ob, int64_t v);
/* Unsigned decimal right-aligned in WIDTH columns (wider numbers overflow). */
void outbuf_dec_width(struct outbuf *ob, uint64_t v, unsigned width);
/* "0x" and lower-case hex digits, no padding: 0x0, 0x7f3a1c2d1139. */
void outbuf_hex(struct outbuf *ob, uint64_t v);

/*
 * S as a JSON string with its quotes, or null when S is NULL.  Escaped: '"'
 * and '\\', every byte below 0x20 and 0x7f as \u00XX, '/' after '<' (so
 * that "</script>" cannot end an HTML script element the JSON sits in),
 * and U+2028/U+2029 (line ends to JavaScript).  Valid UTF-8 passes through;
 * each byte that is not part of a valid UTF-8 sequence (stray continuation
 * bytes, truncated or overlong sequences, surrogates, code points above
 * U+10FFFF) becomes \ufffd, so the output is always valid UTF-8 and valid
 * JSON, at the price of losing the byte's value.
 */
void outbuf_json_str(struct outbuf *ob, const char *s);

/*
 * S for a terminal or a log: every byte below 0x20, 0x7f, the bytes of C1
 * control characters (U+0080..U+009F) and each byte not part of a valid
 * UTF-8 sequence are written as \xNN; the rest as is.  NULL writes nothing.
 */
void outbuf_text_str(struct outbuf *ob, const char *s);

#endif
