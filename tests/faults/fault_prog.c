/*
 * fault_prog.c: programs that make life hard for refsan, one per mode, for
 * run_faults.py.  libzoo is loaded with dlopen from the path in argv[2]
 * (so that a mode can act before it is loaded) and called through dlsym.
 *
 *   fault_prog MODE LIBZOO [ARGS...]
 *
 * leak             one dog leaked, exit 0 (output-path faults)
 * close-stderr     close(2), then a leak
 * dup2-stderr FILE fd 2 replaced by FILE, then a leak
 * grow N MB        after start, the address space is capped at its size
 *                  plus MB megabytes, then N dogs are created and leaked:
 *                  refsan's table cannot grow
 * segv-after       a SIGSEGV handler installed after libzoo (and refsan)
 *                  recovers from a fault with siglongjmp; then a leak
 * segv-before      the same, the handler installed before libzoo is loaded
 * signal-calls     a SIGALRM handler calls libzoo (add_ref, say_walk,
 *                  release on a dog with two references) 3000 times, every
 *                  200 us, while the main thread creates and releases
 *                  dogs; clean exit
 * reload COPY FILLER  a copy of libzoo loaded, a dog leaked, unloaded;
 *                  its old place taken (FILLER loaded, the rest mapped
 *                  PROT_NONE); the copy loaded again, elsewhere, a second
 *                  dog leaked; prints both create_dog addresses
 * reuse            dogs released and a cage opened at the address of one
 *                  of them (calloc reuses freed chunks from the fast
 *                  bins), then closed; a dog again; clean exit
 * reuse-mismatch   as reuse, then say_walk (family dog) on the cage
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* dladdr, MAP_FIXED_NOREPLACE */
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <unistd.h>

struct zoo {
	void *h;
	void *(*create_dog)(const char *);
	void (*add_ref)(void *);
	void (*release)(void *);
	int (*say_walk)(void *);
	int (*open_cage)(void **);
	int (*close_cage)(void *);
};

static struct zoo z;
static sigjmp_buf jb;
static volatile sig_atomic_t faults, calls_in_handler;
static void *shared_dog;

static void
die(const char *what)
{
	fprintf(stderr, "fault_prog: %s: %s\n", what, dlerror());
	exit(99);
}

static void
load(struct zoo *zz, const char *path)
{
	zz->h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!zz->h)
		die(path);
#define SYM(n)                                                                 \
	do {                                                                   \
		*(void **)&zz->n = dlsym(zz->h, #n);                           \
		if (!zz->n)                                                    \
			die(#n);                                               \
	} while (0)
	SYM(create_dog);
	SYM(add_ref);
	SYM(release);
	SYM(say_walk);
	SYM(open_cage);
	SYM(close_cage);
#undef SYM
}

static void
on_segv(int sig)
{
	(void)sig;
	faults++;
	siglongjmp(jb, 1);
}

static void
install_segv(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_segv;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSEGV, &sa, NULL) != 0)
		exit(98);
}

static void
fault_once(void)
{
	if (sigsetjmp(jb, 1) == 0)
		*(volatile int *)(uintptr_t)8 = 1;
}

static void
on_alarm(int sig)
{
	int saved = errno;

	(void)sig;
	z.add_ref(shared_dog);
	if (!z.say_walk(shared_dog))
		_exit(97);
	z.release(shared_dog);
	calls_in_handler++;
	errno = saved;
}

static size_t
vm_bytes(void)
{
	unsigned long pages = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f) {
		if (fscanf(f, "%lu", &pages) != 1)
			pages = 0;
		fclose(f);
	}
	return pages * (size_t)sysconf(_SC_PAGESIZE);
}

int
main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";

	if (argc < 3) {
		fprintf(stderr, "usage: fault_prog MODE LIBZOO [ARGS]\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(mode, "segv-before"))
		install_segv();
	load(&z, argv[2]);

	if (!strcmp(mode, "leak")) {
		z.create_dog("leaked");
	} else if (!strcmp(mode, "close-stderr")) {
		close(2);
		z.create_dog("leaked");
	} else if (!strcmp(mode, "dup2-stderr") && argc > 3) {
		int fd = open(argv[3], O_WRONLY | O_CREAT | O_TRUNC, 0644);

		if (fd < 0 || dup2(fd, 2) != 2)
			return 96;
		close(fd);
		z.create_dog("leaked");
	} else if (!strcmp(mode, "grow") && argc > 4) {
		long n = atol(argv[3]);
		struct rlimit rl;

		rl.rlim_cur = rl.rlim_max =
		        vm_bytes() + (size_t)atol(argv[4]) * 1024 * 1024;
		if (setrlimit(RLIMIT_AS, &rl) != 0)
			return 95;
		for (long i = 0; i < n; i++)
			if (!z.create_dog("many"))
				return 94; /* the program's own malloc failed */
		printf("created %ld\n", n);
	} else if (!strcmp(mode, "segv-after") ||
	           !strcmp(mode, "segv-before")) {
		void *d;

		if (!strcmp(mode, "segv-after"))
			install_segv();
		d = z.create_dog("brave");
		fault_once();
		fault_once();
		if (faults != 2 || !z.say_walk(d))
			return 93;
		printf("recovered from %d faults\n", (int)faults);
		z.create_dog("leaked");
		z.release(d);
	} else if (!strcmp(mode, "signal-calls")) {
		struct sigaction sa;
		struct itimerval it = { { 0, 200 }, { 0, 200 } };
		long loops = 0;

		shared_dog = z.create_dog("shared");
		z.add_ref(shared_dog);
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_alarm;
		sa.sa_flags = SA_RESTART;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGALRM, &sa, NULL);
		setitimer(ITIMER_REAL, &it, NULL);
		while (calls_in_handler < 3000) {
			void *d = z.create_dog("busy");

			z.add_ref(d);
			if (!z.say_walk(d))
				return 92;
			z.release(d);
			z.release(d);
			loops++;
		}
		memset(&it, 0, sizeof(it));
		setitimer(ITIMER_REAL, &it, NULL);
		z.release(shared_dog);
		z.release(shared_dog);
		printf("handler calls %d, main loops %ld\n",
		       (int)calls_in_handler, loops);
	} else if (!strcmp(mode, "reload") && argc > 4) {
		struct zoo c;
		struct link_map *lm;
		void *filler, *base;
		size_t span;

		load(&c, argv[3]);
		c.create_dog("first");
		if (dlinfo(c.h, RTLD_DI_LINKMAP, &lm) != 0)
			return 89;
		base = (void *)lm->l_addr;
		printf("first load at %p\n", base);
		dlclose(c.h);
		filler = dlopen(argv[4], RTLD_NOW | RTLD_LOCAL);
		if (!filler)
			die(argv[4]);
		/* Whatever of the old place the filler did not take. */
		for (span = (size_t)1 << 20; span >= 4096; span /= 2)
			if (mmap(base, span, PROT_NONE,
			         MAP_PRIVATE | MAP_ANONYMOUS |
			                 MAP_FIXED_NOREPLACE,
			         -1, 0) != MAP_FAILED)
				break;
		load(&c, argv[3]);
		c.create_dog("second");
		if (dlinfo(c.h, RTLD_DI_LINKMAP, &lm) != 0)
			return 89;
		printf("second load at %p\n", (void *)lm->l_addr);
	} else if (!strcmp(mode, "reuse") || !strcmp(mode, "reuse-mismatch")) {
		void *d[16], *cg = NULL, *d2;
		int same = 0;

		for (int i = 0; i < 16; i++)
			d[i] = z.create_dog("short");
		for (int i = 0; i < 16; i++)
			z.release(d[i]);
		if (z.open_cage(&cg) != 0)
			return 91;
		for (int i = 0; i < 16; i++)
			same |= d[i] == cg;
		printf("cage %p %s\n", cg,
		       same ? "at a dog's address" : "elsewhere");
		if (!strcmp(mode, "reuse-mismatch"))
			z.say_walk(cg); /* a cage is no dog */
		if (z.close_cage(cg) != 0)
			return 90;
		d2 = z.create_dog("again");
		printf("dog again %p %s\n", d2,
		       d2 == cg ? "at the cage's address" : "elsewhere");
		z.release(d2);
	} else {
		fprintf(stderr, "fault_prog: unknown mode %s\n", mode);
		return 2;
	}
	return 0;
}
