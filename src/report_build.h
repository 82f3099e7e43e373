/*
 * report_build.h: turning the engine's state into a report (report.h) and
 * writing it where the options say.  Runs at report time only: it may
 * allocate, symbolize and take its time.
 */
#ifndef REFSAN_REPORT_BUILD_H
#define REFSAN_REPORT_BUILD_H

#include <stdbool.h>
#include <stdint.h>
#include "engine.h"
#include "report.h"
#include "suppress.h"

/* Who the process is, for every report (set by init). */
struct report_context {
	const char *const *argv;
	size_t argc;
	const char *const *specs;
	size_t nspecs;
	struct suppress *suppress; /* NULL: none */
	const char *log_path;      /* "" = stderr */
	const char *json_path;     /* "" = none */
};
extern struct report_context report_ctx;

/*
 * Build the report: FINAL for the exit report (leaks are errors), else a
 * report of the handles live now.  Only handles created after MARK (and in
 * this process) are listed.  Free with report_free.
 */
int report_build(struct report *r, bool final, uint64_t mark,
		 int exit_status);
void report_free(struct report *r);

/* The forked child's log file is its own. */
void report_after_fork_child(void);

/* Print one misuse error now (engine_on_error). */
void report_print_error(const struct engine_error *e);

/* Write the exit report: text to log_path or stderr, JSON to json_path.
 * Returns the number of errors that count (not suppressed). */
size_t report_final(int exit_status);

/* An on-demand report of the handles live since MARK, to PATH (NULL:
 * log_path or stderr); 0 or -1 with errno. */
int report_live(uint64_t mark, const char *path);

/* Open PATH.PID[.N]SUFFIX without ever overwriting a file, via a temporary
 * name and link(2); see report_commit.  */
struct report_file {
	int fd;
	char tmp[4096];
	char final[4096];
};
int report_file_open(struct report_file *f, const char *base,
		     const char *suffix);
/* Publish the file under its final name (first free PATH.PID[.N]SUFFIX);
 * on failure the temporary file is removed. 0 or -errno. */
int report_file_commit(struct report_file *f, bool ok);

#endif
