/*
 * cli.h: what the subcommands of the `refsan` command (tools/refsan.c)
 * share: their entry points, the exit statuses they agree on, and the
 * small helpers for messages, memory, files and growing strings.  The
 * command is an ordinary program, unlike the shim: it may use stdio and
 * malloc freely, and it fails loudly (exit 2) on a usage or input error.
 */
#ifndef REFSAN_CLI_H
#define REFSAN_CLI_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Exit statuses. */
#define EXIT_CLEAN 0
#define EXIT_USAGE 2       /* bad arguments, bad input, bad spec */
#define EXIT_ERRORS_DEF 23 /* errors found (the shim's exitcode default) */
#define EXIT_NOEXEC 126    /* CMD found but not runnable (as a shell) */
#define EXIT_NOTFOUND 127  /* CMD not found (as a shell) */

/* Subcommands; each returns the process's exit status. */
int cmd_run(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_spec_check(int argc, char **argv);
int cmd_spec_gen(int argc, char **argv);

/* "refsan: error: ..." / "refsan: warning: ..." / "refsan: note: ..." on
 * stderr, with a newline. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cli_warning(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cli_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* malloc and friends that exit with a message when memory runs out. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Read all of PATH ("-": stdin) into a malloc'd buffer (NUL-terminated,
 * *len without it), refusing files above MAX bytes.  NULL with errno set
 * (EFBIG when too large).
 */
char *read_whole_file(const char *path, size_t max, size_t *len);

/* A growing string. */
struct sbuf {
	char *s;
	size_t len, cap;
};
void sbuf_reserve(struct sbuf *b, size_t more);
void sbuf_add(struct sbuf *b, const char *s, size_t n);
void sbuf_puts(struct sbuf *b, const char *s);
void sbuf_printf(struct sbuf *b, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
void sbuf_free(struct sbuf *b);

/* Whether S ends with SUFFIX. */
bool str_ends_with(const char *s, const char *suffix);

/*
 * The directory the running executable lies in (from /proc/self/exe), with
 * symbolic links resolved, in BUF; false when it cannot be found.
 */
bool self_exe_dir(char *buf, size_t len);

/* Options of the parsed command line common to several subcommands. */
extern const char *cli_progname;

#endif
