/*
 * safe_write.c: the only output used where nothing else is safe: after a
 * fatal signal, in a hook, before init has finished.  Nothing here
 * allocates, locks or touches errno in a way the caller can see.
 */
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>
#include "safe_write.h"

int
safe_write(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	int saved = errno;
	int rc = 0;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			break;
		}
		if (n == 0) {
			rc = -EIO;
			break;
		}
		p += n;
		len -= (size_t)n;
	}
	errno = saved;
	return rc;
}

int
safe_puts(int fd, const char *s)
{
	return safe_write(fd, s, strlen(s));
}

char *
safe_utoa(uint64_t v, char *buf)
{
	char tmp[24];
	int n = 0, i = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		buf[i++] = tmp[--n];
	buf[i] = 0;
	return buf;
}

char *
safe_xtoa(uint64_t v, char *buf)
{
	static const char digits[] = "0123456789abcdef";
	char tmp[24];
	int n = 0, i = 2;

	buf[0] = '0';
	buf[1] = 'x';
	do {
		tmp[n++] = digits[v & 15];
		v >>= 4;
	} while (v);
	while (n)
		buf[i++] = tmp[--n];
	buf[i] = 0;
	return buf;
}

int
safe_writev_strs(int fd, const char *first, ...)
{
	char line[1024];
	size_t len = 0;
	const char *s;
	va_list ap;
	int rc = 0;

	va_start(ap, first);
	for (s = first; s; s = va_arg(ap, const char *)) {
		size_t n = strlen(s);
		if (len + n > sizeof(line)) {
			rc = safe_write(fd, line, len);
			len = 0;
			if (n > sizeof(line)) {
				rc = safe_write(fd, s, n);
				continue;
			}
		}
		memcpy(line + len, s, n);
		len += n;
	}
	va_end(ap);
	if (len)
		rc = safe_write(fd, line, len);
	return rc;
}
