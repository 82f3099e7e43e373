/*
 * init.c: the shim's start and end.  The constructor reads the options and
 * the spec, maps the engine's memory, and registers the final report with
 * __cxa_atexit so that it runs after every other library's destructors
 * (glibc registers _dl_fini later than our constructor runs, and exit
 * handlers run in reverse).  Init is idempotent and may also be reached
 * from a hook that fires before the constructor.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "arch/trampoline.h"
#include "call_site.h"
#include "engine.h"
#include "families.h"
#include "handle_table.h"
#include "init.h"
#include "options.h"
#include "outbuf.h"
#include "pyframes.h"
#include "report_build.h"
#include "safe_write.h"
#include "signals.h"
#include "spec.h"
#include "stack_depot.h"
#include "suppress.h"
#include "symbolize.h"
#include "unwind.h"

#define DEPOT_BYTES ((size_t)1 << 30)
/* Exit status of a clean run that could not be checked (as a bad spec). */
#define EXIT_UNTRACKED 2

_Atomic int refsan_state = INIT_UNINIT;
struct spec refsan_spec;
_Atomic bool refsan_active;
_Atomic unsigned refsan_libs_seen;
int refsan_exit_status_seen = -1;
int refsan_pid;

static struct suppress suppressions;
static int saved_argc;
static char **saved_argv;

/* Set by interpose.c when it is linked in. */
int interpose_init(const struct spec *s) __attribute__((weak));

extern void *__dso_handle;
int __cxa_atexit(void (*fn)(void *), void *arg, void *dso);

/*
 * A message about the configuration quotes the user's input: its control
 * bytes (a spec line with an escape sequence, a stray byte in an option
 * value) are written escaped, as \x1b, never raw to the terminal.  MSG
 * may end with one newline, written as is.
 */
static void
config_message(const char *before, const char *msg, const char *after)
{
	struct outbuf ob;
	char line[2048];
	size_t n = strlen(msg);
	bool nl;

	if (n >= sizeof(line))
		n = sizeof(line) - 1;
	memcpy(line, msg, n);
	line[n] = '\0';
	nl = n && line[n - 1] == '\n';
	if (nl)
		line[n - 1] = '\0';
	outbuf_init(&ob, 2);
	outbuf_puts(&ob, before);
	outbuf_text_str(&ob, line);
	outbuf_puts(&ob, after);
	if (nl)
		outbuf_putc(&ob, '\n');
	outbuf_flush(&ob);
}

static void
fatal_config(const char *msg)
{
	config_message("", msg, "");
	_exit(2);
}

static void
copy_argv(int argc, char **argv)
{
	int i;

	if (!argv || argc <= 0)
		return;
	saved_argv = calloc((size_t)argc + 1, sizeof(char *));
	if (!saved_argv)
		return;
	for (i = 0; i < argc; i++)
		saved_argv[i] = strdup(argv[i] ? argv[i] : "");
	saved_argc = argc;
}

static void
load_options(void)
{
	struct options_err err;
	const char *env = secure_getenv("REFSAN_OPTIONS");
	const char *spec_env = secure_getenv("REFSAN_SPEC");
	char msg[sizeof(err.msg) + 64];

	options_defaults(&refsan_opts);
	if (spec_env && *spec_env &&
	    options_set(&refsan_opts, "spec", spec_env, &err) != 0) {
		snprintf(msg, sizeof(msg), "refsan: error: REFSAN_SPEC: %s\n",
			 err.msg);
		fatal_config(msg);
	}
	if (env && options_parse(&refsan_opts, env, &err) != 0) {
		snprintf(msg, sizeof(msg), "refsan: error: REFSAN_OPTIONS: %s\n",
			 err.msg);
		fatal_config(msg);
	}
	if (refsan_opts.help)
		options_print_help(2);
}

/*
 * Append S to BUF (LEN bytes, *AT used), cut short like snprintf.  Not
 * snprintf itself: every process runs this, and printf's code is pages
 * that one which never loads the target need not fault in.
 */
static void
append(char *buf, size_t len, size_t *at, const char *s)
{
	size_t n = strlen(s);

	if (n > len - 1 - *at)
		n = len - 1 - *at;
	memcpy(buf + *at, s, n);
	*at += n;
	buf[*at] = '\0';
}

static void
load_spec(void)
{
	struct spec_err err;
	char msg[1024];
	const char *dirs = secure_getenv("REFSAN_PROFILE_PATH");
	char profile_dirs[4096];
	size_t at = 0;

	spec_init(&refsan_spec);
	if (!*refsan_opts.spec)
		return;
	profile_dirs[0] = '\0';
	if (dirs && *dirs) {
		append(profile_dirs, sizeof(profile_dirs), &at, dirs);
		append(profile_dirs, sizeof(profile_dirs), &at, ":");
	}
	append(profile_dirs, sizeof(profile_dirs), &at, REFSAN_PROFILE_DIRS);
	if (spec_load_list(&refsan_spec, refsan_opts.spec, profile_dirs,
			   &err) == 0)
		return;
	spec_err_format(&err, msg, sizeof(msg) - 2);
	if (refsan_opts.on_bad_spec == ON_BAD_SPEC_IGNORE) {
		char *p = strstr(msg, "refsan: error: ");
		if (p == msg)
			config_message("refsan: warning: ",
				       msg + strlen("refsan: error: "),
				       " (on_bad_spec=ignore: running untracked)\n");
		spec_free(&refsan_spec);
		spec_init(&refsan_spec);
		return;
	}
	strcat(msg, "\n");
	fatal_config(msg);
}

static void
load_suppressions(void)
{
	struct suppress_err err;
	char msg[1024];

	suppress_init(&suppressions);
	if (!*refsan_opts.suppressions)
		return;
	if (suppress_load_file(&suppressions, refsan_opts.suppressions,
			       &err) == 0)
		return;
	if (err.line)
		snprintf(msg, sizeof(msg), "refsan: error: %s:%u:%u: %s\n",
			 err.file, err.line, err.col, err.msg);
	else
		snprintf(msg, sizeof(msg), "refsan: error: %s: %s\n", err.file,
			 err.msg);
	fatal_config(msg);
}

static void
final_handler(void *arg)
{
	int status = refsan_exit_status_seen < 0 ? 0 : refsan_exit_status_seen;
	int out;

	(void)arg;
	out = init_final_report(status);
	if (out != status) {
		fflush(NULL);
		_exit(out);
	}
}

/* Every lock in a fixed order: symbolizer, then table shards. */
static void
atfork_prepare(void)
{
	symbolize_fork_prepare();
	handle_table_lock_all();
}

static void
atfork_parent(void)
{
	handle_table_unlock_all();
	symbolize_fork_release();
}

static void
atfork_child(void)
{
	handle_table_unlock_all();
	symbolize_fork_release();
	refsan_pid = getpid();
	engine_after_fork_child();
	report_after_fork_child();
	signals_after_fork_child();
}

/*
 * The engine's memory, libunwind and the signal handlers cost nothing
 * until a spec'd library appears or the C API is first called: a process
 * that never loads the target is left alone.
 */
/* Activation failed: nothing is checked, so a clean exit must not pass. */
static _Atomic bool untracked_by_failure;
/* 0 no, 1 in progress, 2 done, 3 failed */
static _Atomic int activation_state;

bool
init_activation_begun(void)
{
	return atomic_load_explicit(&activation_state, memory_order_acquire) !=
	       0;
}

bool
init_activate(void)
{
	int expected = 0;

	static __thread int activating
		__attribute__((tls_model("initial-exec")));

	if (atomic_load_explicit(&activation_state, memory_order_acquire) == 2)
		return true;
	if (activating)
		return false; /* this thread's own activation calls back in */
	if (!atomic_compare_exchange_strong(&activation_state, &expected, 1)) {
		/* Another thread is activating: wait for it (rare, short). */
		while ((expected = atomic_load(&activation_state)) == 1)
			sched_yield();
		return expected == 2;
	}
	activating = 1;
	if (depot_init(DEPOT_BYTES) != 0 ||
	    engine_init(refsan_opts.quarantine, refsan_opts.history) != 0) {
		safe_puts(2, "refsan: error: cannot map memory for the handle table (1 GiB of address space is reserved: is `ulimit -v` set?); the program runs untracked and exits with status 2\n");
		atomic_store(&untracked_by_failure, true);
		atomic_store(&activation_state, 3);
		activating = 0;
		return false;
	}
	if (unwind_init() != 0)
		safe_puts(2, "refsan: warning: libunwind could not be loaded (apt-get install libunwind8); stacks will be empty\n");
	else
		/* on failure, every capture walks */
		call_site_init((uintptr_t)tramp_text_start,
		               (uintptr_t)tramp_text_end);
	symbolize_note_modules();
	if (refsan_opts.python_frames)
		pyframes_init();
	engine_on_error = report_print_error;
	signals_init();
	atomic_store(&refsan_active, true);
	atomic_store_explicit(&activation_state, 2, memory_order_release);
	activating = 0;
	return true;
}

static void
boot(void)
{
	const char *specs[64];
	size_t i;

	load_options();
	load_spec();
	load_suppressions();
	families_init(refsan_spec.families + 1, refsan_spec.nfamilies);

	report_ctx.argv = (const char *const *)saved_argv;
	report_ctx.argc = (size_t)saved_argc;
	for (i = 0; i < refsan_spec.nfiles && i < 64; i++)
		specs[i] = refsan_spec.files[i];
	if (refsan_spec.nfiles) {
		const char **copy = calloc(refsan_spec.nfiles, sizeof(char *));
		if (copy) {
			memcpy(copy, specs, i * sizeof(char *));
			report_ctx.specs = copy;
			report_ctx.nspecs = i;
		}
	}
	report_ctx.suppress = &suppressions;
	report_ctx.log_path = refsan_opts.log_path;
	report_ctx.json_path = refsan_opts.json_path;
	refsan_pid = getpid();

	__cxa_atexit(final_handler, NULL, __dso_handle);
	pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
	refsan_state = INIT_READY;
	if (interpose_init && refsan_spec.nrules)
		interpose_init(&refsan_spec);
}

bool
init_ensure(void)
{
	static _Atomic int once;
	int expected = 0;

	if (refsan_state == INIT_READY)
		return true;
	if (refsan_state != INIT_UNINIT)
		return false;
	if (!atomic_compare_exchange_strong(&once, &expected, 1))
		return false; /* another thread is booting: forward */
	refsan_state = INIT_BOOT;
	boot();
	return refsan_state == INIT_READY;
}

int
init_final_report(int status)
{
	static _Atomic int done;
	size_t errors;

	if (atomic_exchange(&done, 1))
		return status;
	if (refsan_state != INIT_READY || getpid() != refsan_pid)
		return status;
	refsan_state = INIT_DONE;
	signals_quiesce(); /* a report_signal report still being written */
	if (atomic_load(&untracked_by_failure))
		return status == 0 ? EXIT_UNTRACKED : status;
	if (!atomic_load(&refsan_active)) {
		if (refsan_opts.verbosity >= 1)
			safe_puts(2, "refsan: no spec'd library was loaded and no handle was tracked\n");
		return status;
	}
	if (refsan_spec.nrules && atomic_load(&refsan_libs_seen) &&
	    !engine_sequence())
		safe_puts(2, "refsan: warning: the spec's libraries were loaded but no handle was tracked: check the function names and handle positions in the spec\n");
	errors = report_final(status);
	if (errors && status == 0 && refsan_opts.exitcode)
		return (int)refsan_opts.exitcode;
	return status;
}

/* Before an exec replaces the image: its report, as at exit. */
void
init_exec_report(void)
{
	init_final_report(0);
}

__attribute__((constructor)) static void
refsan_constructor(int argc, char **argv, char **envp)
{
	(void)envp;
	copy_argv(argc, argv);
	init_ensure();
}
