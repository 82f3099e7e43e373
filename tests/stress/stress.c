/*
 * stress.c: many threads hammering libzoo through refsan, against a
 * reference model of what the program did.  A shared pool of slots, each
 * empty or holding a dog (with the references the program owns) or a cage;
 * every thread picks a random slot and does what the slot allows: create,
 * acquire, release, use.  A slot's lock is held across the library call, so
 * the model is exact while the library and refsan see calls on different
 * handles from every thread at once, and released addresses come back from
 * malloc for new handles at once.
 *
 *   stress MODE THREADS OPS [SEED] [COPY_OF_LIBZOO]
 *
 * MODE: basic; fork (thread 0 forks half-way; the child works on alone,
 * then leaves CHILD_LEAKS of its own handles and some of its parent's);
 * dlopen (calls through dlsym, while a thread dlopens and dlcloses libzoo
 * and loads, calls and unloads a second copy of it, COPY_OF_LIBZOO, at
 * most COPY_ROUNDS times); reload (the same, the copy without a limit and
 * at least RELOAD_ROUNDS times: each load at a new address needs
 * trampolines, and the pool of 4096 lasts about 1,300 loads unless
 * unloaded libraries' are recycled);
 * signal (a thread sends SIGUSR1, the report_signal, at random).
 *
 * At the end exactly LEAKS handles stay live.  Printed on stdout, for the
 * runner to compare with refsan's JSON report:
 *   MODEL pid=P created=N acquired=N released=N live=N uses=N ...
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "zoo.h"

#define POOL 4096
#define LEAKS 16
#define CHILD_LEAKS 5
#define MAX_REFS 4
#define COPY_ROUNDS 200
#define RELOAD_ROUNDS 2000

enum slot_kind { EMPTY, DOG, CAGE };

struct slot {
	pthread_mutex_t lock;
	enum slot_kind kind;
	int refs; /* references the program holds on a dog */
	void *h;
	pid_t creator; /* process that created the handle */
};

struct counts {
	uint64_t created, acquired, released, uses, ops;
};

struct zoo_api {
	struct dog *(*create_dog)(const char *);
	void (*add_ref)(void *);
	void (*release)(void *);
	int (*say_walk)(struct dog *);
	int (*open_cage)(struct cage **);
	int (*close_cage)(struct cage *);
	long (*live_count)(void);
};

static struct slot pool[POOL];
static struct zoo_api api;
static const char *mode;
static unsigned long ops_per_thread;
static unsigned nthreads;
static unsigned long seed;
static const char *copy_path;
static atomic_int workers_done;
static atomic_int child_failed;
static pid_t child_pid;
static struct counts extra; /* the dlopen thread's own calls */
static unsigned long dl_rounds, copy_rounds, signals_sent;
static unsigned long copy_max = (unsigned long)-1, copy_min;

static uint64_t
rnd(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static void
die(const char *what)
{
	fprintf(stderr, "stress: FAIL: %s\n", what);
	fflush(stderr);
	_exit(99);
}

/* One operation on slot S, its lock held. */
static void
op(struct slot *s, uint64_t r, struct counts *c)
{
	unsigned pick = (unsigned)(r >> 32) % 100;

	c->ops++;
	switch (s->kind) {
	case EMPTY:
		if (pick < 75) {
			s->h = api.create_dog("rex");
			if (!s->h)
				die("create_dog returned NULL");
			s->kind = DOG;
			s->refs = 1;
		} else {
			struct cage *cg = NULL;

			if (api.open_cage(&cg) != 0 || !cg)
				die("open_cage failed");
			s->h = cg;
			s->kind = CAGE;
		}
		s->creator = getpid();
		c->created++;
		break;
	case DOG:
		if (pick < 30 && s->refs < MAX_REFS) {
			api.add_ref(s->h);
			s->refs++;
			c->acquired++;
		} else if (pick < 65) {
			if (!api.say_walk(s->h))
				die("say_walk on a live dog returned 0");
			c->uses++;
		} else {
			api.release(s->h);
			c->released++;
			if (--s->refs == 0) {
				s->kind = EMPTY;
				s->h = NULL;
			}
		}
		break;
	case CAGE:
		if (api.close_cage(s->h) != 0)
			die("close_cage failed");
		c->released++;
		s->kind = EMPTY;
		s->h = NULL;
		break;
	}
}

/*
 * fork: no slot lock may be held, nor a slot half-updated, when thread 0
 * forks.  Every operation holds this lock shared; the fork holds it
 * exclusive (rather than all 4096 slot locks, which ThreadSanitizer's
 * deadlock detector cannot follow).
 */
static pthread_rwlock_t fork_lock;

static void
lock_all(void)
{
	pthread_rwlock_wrlock(&fork_lock);
}

static void
unlock_all(void)
{
	pthread_rwlock_unlock(&fork_lock);
}

/* Release every handle of the pool but KEEP of those that pass KEEP_IF
 * (down to one reference each); create more if fewer were live. */
static unsigned
settle(struct counts *c, unsigned keep, int (*keep_if)(const struct slot *))
{
	unsigned kept = 0;

	for (unsigned i = 0; i < POOL; i++) {
		struct slot *s = &pool[i];

		if (s->kind == EMPTY)
			continue;
		if (kept < keep && keep_if(s)) {
			while (s->kind == DOG && s->refs > 1) {
				api.release(s->h);
				c->released++;
				s->refs--;
			}
			kept++;
			continue;
		}
		while (s->kind != EMPTY)
			op(s, (uint64_t)99 << 32,
			   c); /* pick 99: release/close */
	}
	for (unsigned i = 0; kept < keep && i < POOL; i++) {
		if (pool[i].kind == EMPTY) {
			op(&pool[i], 0, c); /* pick 0: create a dog */
			kept++;
		}
	}
	return kept;
}

static int
any_slot(const struct slot *s)
{
	(void)s;
	return 1;
}

static int
mine(const struct slot *s)
{
	return s->creator == getpid();
}

static void
print_model(const char *who, const struct counts *c, unsigned live)
{
	printf("MODEL who=%s pid=%d created=%llu acquired=%llu released=%llu "
	       "live=%u uses=%llu ops=%llu library_live=%ld dl_rounds=%lu "
	       "copy_rounds=%lu signals=%lu child=%d\n",
	       who, (int)getpid(), (unsigned long long)c->created,
	       (unsigned long long)c->acquired, (unsigned long long)c->released,
	       live, (unsigned long long)c->uses, (unsigned long long)c->ops,
	       api.live_count(), dl_rounds, copy_rounds, signals_sent,
	       (int)child_pid);
	fflush(stdout);
}

/* The child after fork: alone, on its copy of the pool. */
static void
child_work(uint64_t r)
{
	struct counts c = { 0 };
	unsigned long n = ops_per_thread / 2;
	unsigned parents_kept = 0;

	for (unsigned long i = 0; i < n; i++) {
		uint64_t x = rnd(&r);

		op(&pool[x % POOL], x, &c);
	}
	/* Some of the parent's handles stay live: never reported here. */
	for (unsigned i = 0; i < POOL && parents_kept < 7; i++)
		if (pool[i].kind != EMPTY && pool[i].creator != getpid()) {
			pool[i].kind = EMPTY; /* forget it, unreleased */
			parents_kept++;
		}
	settle(&c, CHILD_LEAKS, mine);
	if (api.live_count() < CHILD_LEAKS)
		die("child: library has fewer live objects than the model");
	print_model("child", &c, CHILD_LEAKS);
	exit(0);
}

static void *
worker(void *arg)
{
	unsigned id = (unsigned)(uintptr_t)arg;
	uint64_t r = seed * 0x9e3779b97f4a7c15ull + id + 1;
	struct counts *c = calloc(1, sizeof(*c));

	if (!c)
		die("calloc");
	for (unsigned long i = 0; i < ops_per_thread; i++) {
		uint64_t x = rnd(&r);
		struct slot *s = &pool[x % POOL];

		if (id == 0 && i == ops_per_thread / 2 &&
		    strcmp(mode, "fork") == 0) {
			pid_t p;

			lock_all();
			p = fork();
			if (p < 0)
				die("fork");
			unlock_all();
			if (p == 0)
				child_work(r);
			child_pid = p;
		}
		pthread_rwlock_rdlock(&fork_lock);
		pthread_mutex_lock(&s->lock);
		op(s, x, c);
		pthread_mutex_unlock(&s->lock);
		pthread_rwlock_unlock(&fork_lock);
	}
	atomic_fetch_add(&workers_done, 1);
	return c;
}

/* dlopen mode: libzoo opened and closed again and again (the program's
 * own handle keeps it mapped), and a second copy of it loaded, used and
 * unloaded for real, while the workers call the first through dlsym. */
static void *
dl_thread(void *arg)
{
	(void)arg;
	while (atomic_load(&workers_done) < (int)nthreads ||
	       (copy_path && copy_rounds < copy_min)) {
		void *h = dlopen("libzoo.so.1", RTLD_NOW | RTLD_LOCAL);
		struct dog *(*cd)(const char *);
		void (*rel)(void *);
		int (*walk)(struct dog *);
		struct dog *d;

		if (!h)
			die(dlerror());
		cd = (struct dog * (*)(const char *)) dlsym(h, "create_dog");
		rel = (void (*)(void *))dlsym(h, "release");
		if (!cd || !rel)
			die("dlsym on a reopened libzoo");
		d = cd("tmp");
		rel(d);
		extra.created++;
		extra.released++;
		dlclose(h);

		if (copy_path && copy_rounds < copy_max) {
			h = dlopen(copy_path, RTLD_NOW | RTLD_LOCAL);
			if (!h)
				die(dlerror());
			cd = (struct dog * (*)(const char *))
			        dlsym(h, "create_dog");
			rel = (void (*)(void *))dlsym(h, "release");
			walk = (int (*)(struct dog *))dlsym(h, "say_walk");
			if (!cd || !rel || !walk)
				die("dlsym on the copy of libzoo");
			d = cd("copy");
			if (!walk(d))
				die("say_walk on the copy");
			rel(d);
			extra.created++;
			extra.released++;
			extra.uses++;
			if (dlclose(h) != 0)
				die(dlerror());
			copy_rounds++;
		}
		dl_rounds++;
	}
	return NULL;
}

static void *
signal_thread(void *arg)
{
	uint64_t r = seed + 77;

	(void)arg;
	while (atomic_load(&workers_done) < (int)nthreads) {
		struct timespec ts = { 0, (long)(rnd(&r) % 2000000) };

		kill(getpid(), SIGUSR1);
		signals_sent++;
		nanosleep(&ts, NULL);
	}
	return NULL;
}

static void
use_dlsym(void)
{
	void *h = dlopen("libzoo.so.1", RTLD_NOW | RTLD_LOCAL);

	if (!h)
		die(dlerror());
	api.create_dog =
	        (struct dog * (*)(const char *)) dlsym(h, "create_dog");
	api.add_ref = (void (*)(void *))dlsym(h, "add_ref");
	api.release = (void (*)(void *))dlsym(h, "release");
	api.say_walk = (int (*)(struct dog *))dlsym(h, "say_walk");
	api.open_cage = (int (*)(struct cage **))dlsym(h, "open_cage");
	api.close_cage = (int (*)(struct cage *))dlsym(h, "close_cage");
	if (!api.create_dog || !api.add_ref || !api.release || !api.say_walk ||
	    !api.open_cage || !api.close_cage)
		die("dlsym");
}

int
main(int argc, char **argv)
{
	pthread_t t[64], helper;
	struct counts total = { 0 };
	int have_helper = 0;

	if (argc < 4) {
		fprintf(stderr,
		        "usage: stress basic|fork|dlopen|reload|signal THREADS OPS [SEED] [COPY]\n");
		return 2;
	}
	mode = argv[1];
	nthreads = (unsigned)atoi(argv[2]);
	ops_per_thread = strtoul(argv[3], NULL, 10);
	seed = argc > 4 ? strtoul(argv[4], NULL, 10) : 1;
	copy_path = argc > 5 ? argv[5] : NULL;
	if (nthreads < 1 || nthreads > 64)
		return 2;
	setvbuf(stdout, NULL, _IOLBF, 0);

	api.create_dog = create_dog;
	api.add_ref = add_ref;
	api.release = release;
	api.say_walk = say_walk;
	api.open_cage = open_cage;
	api.close_cage = close_cage;
	api.live_count = zoo_live_count;
	if (strcmp(mode, "dlopen") == 0)
		copy_max = COPY_ROUNDS;
	if (strcmp(mode, "reload") == 0)
		copy_min = RELOAD_ROUNDS;
	if (strcmp(mode, "dlopen") == 0 || strcmp(mode, "reload") == 0)
		use_dlsym();
	for (unsigned i = 0; i < POOL; i++)
		pthread_mutex_init(&pool[i].lock, NULL);
	{
		pthread_rwlockattr_t a;

		pthread_rwlockattr_init(&a);
		/* The fork must not wait for a gap in 8 threads' reads. */
		pthread_rwlockattr_setkind_np(
		        &a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
		pthread_rwlock_init(&fork_lock, &a);
	}

	for (unsigned i = 0; i < nthreads; i++)
		if (pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)i))
			die("pthread_create");
	if (strcmp(mode, "dlopen") == 0 || strcmp(mode, "reload") == 0)
		have_helper = !pthread_create(&helper, NULL, dl_thread, NULL);
	else if (strcmp(mode, "signal") == 0)
		have_helper =
		        !pthread_create(&helper, NULL, signal_thread, NULL);
	for (unsigned i = 0; i < nthreads; i++) {
		struct counts *c;

		pthread_join(t[i], (void **)&c);
		total.created += c->created;
		total.acquired += c->acquired;
		total.released += c->released;
		total.uses += c->uses;
		total.ops += c->ops;
		free(c);
	}
	if (have_helper)
		pthread_join(helper, NULL);
	total.created += extra.created;
	total.released += extra.released;
	total.uses += extra.uses;

	settle(&total, LEAKS, any_slot);
	if (api.live_count() != LEAKS)
		die("the library's live count differs from the model's");
	if (child_pid) {
		int st;

		if (waitpid(child_pid, &st, 0) != child_pid)
			die("waitpid");
		/* refsan's exitcode: the child leaks on purpose. */
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 23) {
			fprintf(stderr, "stress: child status %d\n", st);
			atomic_store(&child_failed, 1);
		}
	}
	print_model("main", &total, LEAKS);
	return atomic_load(&child_failed) ? 98 : 0;
}
