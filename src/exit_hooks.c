/*
 * exit_hooks.c: the ways a process image ends, each made to leave a
 * report.  exit() and a return from main pass through normally, and the
 * final report (registered by init) runs last; here we only learn the
 * status they carry, so a program that would exit 0 can exit `exitcode`
 * instead.  _exit/_Exit skip atexit handlers (os._exit, multiprocessing
 * children), and exec replaces the image: both report first.  A vfork
 * child (another pid, no atfork handlers run) is left alone.
 *
 * These names, with dlsym/dlvsym, are the only functions the shim exports
 * besides its public API (tests/abi checks it).  The real functions come
 * from the next object in the lookup order, libc, never from a target
 * library.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "init.h"

#define EXPORT __attribute__((visibility("default")))

extern char **environ;

static void *
real(const char *name)
{
	void *p = dlsym(RTLD_NEXT, name);

	if (!p) {
		static const char msg[] = "refsan: error: cannot find the real ";
		if (write(2, msg, sizeof(msg) - 1) < 0 ||
		    write(2, name, strlen(name)) < 0 || write(2, "\n", 1) < 0) {
		}
		abort();
	}
	return p;
}

int __libc_start_main(int (*main)(int, char **, char **), int argc,
		      char **argv, void (*init)(void), void (*fini)(void),
		      void (*rtld_fini)(void), void *stack_end);

static int (*real_main)(int, char **, char **);

static int
main_wrapper(int argc, char **argv, char **envp)
{
	int status = real_main(argc, argv, envp);

	refsan_exit_status_seen = status;
	return status;
}

EXPORT int
__libc_start_main(int (*main)(int, char **, char **), int argc, char **argv,
		  void (*init)(void), void (*fini)(void),
		  void (*rtld_fini)(void), void *stack_end)
{
	int (*next)(int (*)(int, char **, char **), int, char **,
		    void (*)(void), void (*)(void), void (*)(void), void *);

	next = real("__libc_start_main");
	real_main = main;
	return next(main_wrapper, argc, argv, init, fini, rtld_fini, stack_end);
}

EXPORT void
exit(int status)
{
	void (*next)(int) = real("exit");

	refsan_exit_status_seen = status;
	next(status);
	__builtin_unreachable();
}

static void
quick_exit_report(int *status)
{
	if ((int)getpid() != refsan_pid)
		return; /* a vfork child: the parent's table, not ours */
	*status = init_final_report(*status);
}

EXPORT void
_exit(int status)
{
	void (*next)(int) = real("_exit");

	quick_exit_report(&status);
	next(status);
	__builtin_unreachable();
}

EXPORT void
_Exit(int status)
{
	void (*next)(int) = real("_Exit");

	quick_exit_report(&status);
	next(status);
	__builtin_unreachable();
}

/* ---- exec ---- */

static void
before_exec(void)
{
	if ((int)getpid() == refsan_pid)
		init_exec_report();
}

EXPORT int
execve(const char *path, char *const argv[], char *const envp[])
{
	int (*next)(const char *, char *const[], char *const[]) =
		real("execve");

	before_exec();
	return next(path, argv, envp);
}

EXPORT int
execv(const char *path, char *const argv[])
{
	int (*next)(const char *, char *const[]) = real("execv");

	before_exec();
	return next(path, argv);
}

EXPORT int
execvp(const char *file, char *const argv[])
{
	int (*next)(const char *, char *const[]) = real("execvp");

	before_exec();
	return next(file, argv);
}

EXPORT int
execvpe(const char *file, char *const argv[], char *const envp[])
{
	int (*next)(const char *, char *const[], char *const[]) =
		real("execvpe");

	before_exec();
	return next(file, argv, envp);
}

EXPORT int
fexecve(int fd, char *const argv[], char *const envp[])
{
	int (*next)(int, char *const[], char *const[]) = real("fexecve");

	before_exec();
	return next(fd, argv, envp);
}

/* execl and friends: count the variadic list, gather it on the stack,
 * then as execve/execvp. */
static size_t
count_args(va_list ap)
{
	size_t n = 1;

	while (va_arg(ap, char *))
		n++;
	return n + 1;
}

#define GATHER(arg, ap, argv, n)                                               \
	do {                                                                   \
		size_t i_ = 1;                                                 \
		argv[0] = (char *)arg;                                         \
		for (; i_ + 1 < n; i_++)                                       \
			argv[i_] = va_arg(ap, char *);                         \
		(void)va_arg(ap, char *); /* the terminating NULL */           \
		argv[n - 1] = NULL;                                            \
	} while (0)

EXPORT int
execl(const char *path, const char *arg, ...)
{
	va_list ap, cp;
	size_t n;

	va_start(ap, arg);
	va_copy(cp, ap);
	n = count_args(cp);
	va_end(cp);
	{
		char *argv[n];
		GATHER(arg, ap, argv, n);
		va_end(ap);
		return execve(path, argv, environ);
	}
}

EXPORT int
execlp(const char *file, const char *arg, ...)
{
	va_list ap, cp;
	size_t n;

	va_start(ap, arg);
	va_copy(cp, ap);
	n = count_args(cp);
	va_end(cp);
	{
		char *argv[n];
		GATHER(arg, ap, argv, n);
		va_end(ap);
		return execvp(file, argv);
	}
}

EXPORT int
execle(const char *path, const char *arg, ...)
{
	va_list ap, cp;
	size_t n;

	va_start(ap, arg);
	va_copy(cp, ap);
	n = count_args(cp);
	va_end(cp);
	{
		char *argv[n];
		char **envp;
		GATHER(arg, ap, argv, n);
		envp = va_arg(ap, char **);
		va_end(ap);
		return execve(path, argv, envp);
	}
}
