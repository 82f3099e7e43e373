/*
 * render.h: the renderers of the merged model (model.h): text in the
 * shim's own shape, merged JSON in the schema of docs/json-schema.md plus
 * the merge's fields, JUnit XML for CI test tabs and SARIF 2.1.0 for
 * code-scanning annotations; and the short summary `refsan run` prints.
 * Each writes to a file descriptor and returns 0 or -errno.
 */
#ifndef REFSAN_RENDER_H
#define REFSAN_RENDER_H

#include <stdint.h>

#include "cli.h"
#include "model.h"

int render_text(int fd, const struct model *m);
int render_json(int fd, const struct model *m);
int render_junit(int fd, const struct model *m);
int render_sarif(int fd, const struct model *m);
/* A few lines: what each process reported, one line per error group, and
 * the SUMMARY line (refsan run). */
int render_run_summary(int fd, const struct model *m);

/* ---- shared by the renderers (render_common.c) ---- */

/*
 * The text block the shim prints for group G (report.h's
 * report_write_text_error on the model's report), with "==PID==" the
 * group's first process, appended to OUT without its final blank line.
 */
struct text_blocks;
struct text_blocks *text_blocks_new(const struct model *m);
void text_blocks_free(struct text_blocks *tb);
int text_block(struct text_blocks *tb, const struct mgroup *g,
               struct sbuf *out);

/* S for a terminal: control bytes and invalid UTF-8 as \xNN (as the
 * shim's outbuf_text_str); NULL as "??". */
void sbuf_text(struct sbuf *out, const char *s);
/* PATH relative to the working directory when it lies under it. */
const char *path_rel(const char *path);

/* "leak of 3 handle(s) of family dog (reference count 1)" and the like. */
void group_title(const struct mgroup *g, struct sbuf *out);
/* "Dog.__init__ zoo_wrap.py:41" (the site frame), or the function. */
void group_where(const struct model *m, const struct mgroup *g,
                 struct sbuf *out);
/* "2059, 2060 and 3 more" (at most MAX pids). */
void pid_list(const struct mgroup *g, size_t max, struct sbuf *out);
/* The site hash as 16 hex digits. */
void site_hex(uint64_t site, char buf[17]);
/* Write all of B to FD; 0 or -errno. */
int write_sbuf(int fd, const struct sbuf *b);

/* Totals over the groups that count, for summaries. */
struct totals {
	uint64_t n[KIND_COUNT + 1]; /* per kind ([KIND_COUNT]: unknown) */
	uint64_t leak_sites;
	uint64_t known_groups, known_handles;
	uint64_t suppressed;
	uint64_t procs_with_errors;
};
void model_totals(const struct model *m, struct totals *t);
/* "SUMMARY: refsan: 3 leaked handle(s) from 1 site(s), ... ." */
void summary_line(const struct model *m, const struct totals *t,
                  struct sbuf *out);

#endif
