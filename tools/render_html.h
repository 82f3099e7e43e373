/*
 * render_html.h: `refsan report --format html` (render_html.c), one
 * self-contained page with a sortable, filterable table of the error
 * groups and a flame graph of the handles live at exit.
 */
#ifndef REFSAN_RENDER_HTML_H
#define REFSAN_RENDER_HTML_H

#include "model.h"

/* The page for M, written to FD; 0 or -errno. */
int render_html(int fd, const struct model *m);

#endif
