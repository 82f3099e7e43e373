/*
 * text_file.c: the one line reader of the spec and suppressions parsers,
 * bounded so that a file that is not text cannot exhaust memory.
 */
#include <stdlib.h>
#include "text_file.h"

ssize_t
text_read_line(FILE *f, char **buf, size_t *cap)
{
	size_t n = 0;
	int c = EOF;

	while ((c = getc_unlocked(f)) != EOF) {
		if (n + 2 > *cap) {
			size_t ncap = *cap ? *cap * 2 : 256;
			char *p;

			if (ncap > TEXT_LINE_MAX + 2)
				ncap = TEXT_LINE_MAX + 2;
			if (n + 2 > ncap)
				return -2;
			p = realloc(*buf, ncap);
			if (!p)
				return -3;
			*buf = p;
			*cap = ncap;
		}
		(*buf)[n++] = (char)c;
		if (c == '\n')
			break;
	}
	if (!n)
		return -1;
	(*buf)[n] = '\0';
	return (ssize_t)n;
}
