/*
 * safe_write.h: output that is safe after a fatal signal, inside a forked
 * child and with a broken stdio: write(2) in a loop, numbers formatted here.
 */
#ifndef REFSAN_SAFE_WRITE_H
#define REFSAN_SAFE_WRITE_H

#include <stddef.h>
#include <stdint.h>

/* Write all of BUF; 0 or -errno.  Retries on EINTR and short writes. */
int safe_write(int fd, const void *buf, size_t len);
int safe_puts(int fd, const char *s);
/* Decimal and 0x-hex of V into BUF (at least 24 bytes); returns BUF. */
char *safe_utoa(uint64_t v, char *buf);
char *safe_xtoa(uint64_t v, char *buf);
/*
 * Concatenate the NULL-terminated list of strings and write them at once
 * (one write when it fits 1024 bytes, so lines from threads do not mix).
 */
int safe_writev_strs(int fd, const char *first, ...);

#endif
