/*
 * text_file.h: reading the line-oriented files refsan takes as input
 * (specs, suppressions) without trusting them to be text.
 */
#ifndef REFSAN_TEXT_FILE_H
#define REFSAN_TEXT_FILE_H

#include <stdio.h>
#include <sys/types.h>

/* The longest line read; a longer one is an error, not a huge buffer. */
#define TEXT_LINE_MAX (1 << 20)

/*
 * One line of F into *BUF (grown as needed, NUL-terminated, newline
 * kept), like getline, but a line longer than TEXT_LINE_MAX bytes ends
 * the reading (-2) rather than growing the buffer without end: the file
 * named may by mistake be /dev/zero or a binary without a newline.
 * Returns the length, -1 at the end of the file or on a read error
 * (ferror tells), -3 when out of memory.
 */
ssize_t text_read_line(FILE *f, char **buf, size_t *cap);

#endif
