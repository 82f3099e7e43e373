/*
 * signals.c: what refsan does when the program dies of a signal, and when
 * the user asks for a report with report_signal.
 *
 * A fatal signal (SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL) gets a short
 * report written with safe_write only: the signal, the counters, the live
 * handles, and the crashing stack as raw addresses; then the previous
 * disposition is restored and the signal raised again, so the program dies
 * as it would have (core dump, status).  A second fault inside the handler
 * prints one line and goes straight on.  Programs that install their own
 * handlers after refsan keep them.
 *
 * report_signal=N: the handler only writes a byte to a pipe; a thread
 * started for it renders the report of live handles in a normal context.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>
#include "engine.h"
#include "init.h"
#include "options.h"
#include "report_build.h"
#include "safe_write.h"
#include "signals.h"
#include "guard.h"
#include "unwind.h"

static const int fatal_signals[] = { SIGSEGV, SIGBUS, SIGABRT, SIGFPE,
				     SIGILL };
static struct sigaction previous[sizeof(fatal_signals) /
				 sizeof(fatal_signals[0])];
static int report_pipe[2] = { -1, -1 };
static _Atomic int in_fatal;
/* The report thread is between its state check and the end of its report
 * (signals_quiesce). */
static _Atomic int live_busy;
static char altstack[64 * 1024] INIT_LARGE_BSS;

static const char *
signal_name(int sig)
{
	switch (sig) {
	case SIGSEGV:
		return "SIGSEGV";
	case SIGBUS:
		return "SIGBUS";
	case SIGABRT:
		return "SIGABRT";
	case SIGFPE:
		return "SIGFPE";
	case SIGILL:
		return "SIGILL";
	default:
		return "signal";
	}
}

static void
fatal_handler(int sig, siginfo_t *info, void *uctx)
{
	struct engine_counters c;
	char a[24], b[24], d[24], e[24], f[24];
	uintptr_t pcs[32];
	unsigned n, i;
	size_t k;

	(void)info;
	(void)uctx;
	if (atomic_exchange(&in_fatal, 1)) {
		safe_puts(2, "refsan: a second fatal signal while reporting the first; giving up\n");
		goto resume;
	}
	if (refsan_state == INIT_READY && (int)getpid() == refsan_pid &&
	    (atomic_load(&refsan_active) || engine_sequence())) {
		engine_counters(&c);
		safe_writev_strs(2, "==", safe_utoa((uint64_t)getpid(), a),
				 "==refsan: the program got a fatal ",
				 signal_name(sig), " (", safe_utoa((uint64_t)sig, b),
				 "); this report is written from the signal handler and is partial\n",
				 NULL);
		safe_writev_strs(2, "refsan: at the time: ",
				 safe_utoa(c.live, a), " live handle(s), ",
				 safe_utoa(c.created, b), " created, ",
				 safe_utoa(c.released, d), " released, ",
				 safe_utoa(c.errors, e), " error(s) reported, ",
				 safe_utoa(c.peak_live, f), " peak live\n",
				 NULL);
		n = unwind_capture(pcs, 32, 0);
		for (i = 0; i < n; i++)
			safe_writev_strs(2, "    #", safe_utoa(i, a), " ",
					 safe_xtoa(pcs[i], b), "\n", NULL);
		if (c.errors)
			safe_puts(2, "SUMMARY: refsan: errors were found before the crash (see above).\n");
	}
resume:
	for (k = 0; k < sizeof(fatal_signals) / sizeof(fatal_signals[0]); k++)
		if (fatal_signals[k] == sig)
			sigaction(sig, &previous[k], NULL);
	/* Returning re-executes the faulting instruction, now under the
	 * previous disposition; for raised signals, raise again. */
	if (info && info->si_code <= 0)
		raise(sig);
}

/*
 * Signals whose default action ends the process without exit handlers:
 * the exit report runs here, then the signal goes on with its default
 * action, so the parent still sees the program die of it.  Only signals
 * the program left at their default when refsan started tracking.
 * Building the report allocates; if the signal interrupted the program
 * inside malloc, that could hang, so an alarm bounds the attempt.
 */
static const int term_signals[] = { SIGTERM, SIGHUP, SIGINT, SIGQUIT,
				    SIGALRM, SIGXCPU, SIGXFSZ };

static void
term_handler(int sig)
{
	struct sigaction dfl;
	int saved = errno;

	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigaction(sig, &dfl, NULL);
	sigaction(SIGALRM, &dfl, NULL);
	if (!refsan_thread.in_shim && (int)getpid() == refsan_pid) {
		alarm(10);
		init_final_report(128 + sig);
		alarm(0);
	}
	errno = saved;
	raise(sig);
}

static void *
report_thread(void *arg)
{
	char byte;

	(void)arg;
	for (;;) {
		ssize_t n = read(report_pipe[0], &byte, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return NULL;
		/* Flag, then check the state: the exit path stores DONE, then
		 * reads the flag (all sequentially consistent), so either it
		 * waits for this report or this thread sees DONE. */
		atomic_store(&live_busy, 1);
		if (refsan_state == INIT_READY)
			report_live(0, NULL);
		atomic_store(&live_busy, 0);
	}
}

void
signals_quiesce(void)
{
	while (atomic_load(&live_busy))
		sched_yield();
}

void
signals_after_fork_child(void)
{
	atomic_store(&live_busy, 0);
}

static void
report_signal_handler(int sig)
{
	char byte = 1;
	int saved = errno;

	(void)sig;
	if (write(report_pipe[1], &byte, 1) < 0) {
		/* the pipe is full: a report is already due */
	}
	errno = saved;
}

void
signals_init(void)
{
	struct sigaction sa;
	stack_t ss;
	size_t k;

	/*
	 * Only where the thread has none: the program's (or a sanitizer's:
	 * ASan unmaps its own at thread exit and aborts when it finds ours
	 * there) is never replaced.
	 */
	memset(&ss, 0, sizeof(ss));
	if (sigaltstack(NULL, &ss) == 0 && (ss.ss_flags & SS_DISABLE)) {
		memset(&ss, 0, sizeof(ss));
		ss.ss_sp = altstack;
		ss.ss_size = sizeof(altstack);
		sigaltstack(&ss, NULL);
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = fatal_handler;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	for (k = 0; k < sizeof(fatal_signals) / sizeof(fatal_signals[0]); k++) {
		struct sigaction old;
		if (sigaction(fatal_signals[k], NULL, &old) == 0 &&
		    old.sa_handler != SIG_DFL)
			continue; /* the program (or another tool) has one */
		previous[k] = old;
		sigaction(fatal_signals[k], &sa, NULL);
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = term_handler;
	sigemptyset(&sa.sa_mask);
	for (k = 0; k < sizeof(term_signals) / sizeof(term_signals[0]); k++) {
		struct sigaction old;
		if ((int)refsan_opts.report_signal == term_signals[k] ||
		    sigaction(term_signals[k], NULL, &old) != 0 ||
		    old.sa_handler != SIG_DFL)
			continue;
		sigaction(term_signals[k], &sa, NULL);
	}

	if (refsan_opts.report_signal) {
		pthread_t t;
		pthread_attr_t attr;
		sigset_t all, old;
		if (pipe2(report_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
			return;
		/* Blocking reads in the thread; only the writer is nonblocking. */
		fcntl(report_pipe[0], F_SETFL, 0);
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		pthread_create(&t, &attr, report_thread, NULL);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		pthread_attr_destroy(&attr);
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = report_signal_handler;
		sa.sa_flags = SA_RESTART;
		sigemptyset(&sa.sa_mask);
		sigaction((int)refsan_opts.report_signal, &sa, NULL);
	}
}
