/*
 * run.c: `refsan run`, the one command a CI step needs.  It finds
 * librefsan.so beside itself (build tree or installed layout), preloads it
 * into CMD with REFSAN_OPTIONS that add the user's spec and options and
 * send every process's JSON report to one directory, runs CMD, waits for
 * it and for the processes it left behind, merges every report in that
 * directory (model.h) and prints one summary.  Its exit status is CMD's
 * when CMD failed, else the exitcode (23) when any process had errors,
 * else 0, so that a pipeline fails on a leak in a child process whose
 * parent exited 0.
 *
 * Mistakes are caught before CMD runs, with exit status 2: a spec that
 * does not parse or does not exist, a bad option, a JSON directory that
 * cannot be written.  A CMD that cannot be executed gives 127 (not found)
 * or 126, as a shell would.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "model.h"
#include "options.h"
#include "refsan_paths.h"
#include "render.h"
#include "spec.h"

static const char usage[] =
        "usage: refsan run [--spec S]... [--option K=V]... [--json-dir D]\n"
        "                  [--baseline FILE] [--wait-children SECONDS]\n"
        "                  [--[no-]pytest-plugin]\n"
        "                  [--] CMD ARGS...\n"
        "\n"
        "Runs CMD with librefsan.so preloaded, collects the JSON report of\n"
        "every process it starts (in D, a temporary directory by default),\n"
        "prints one merged summary on stderr and exits with CMD's status,\n"
        "or with the exitcode (23) when CMD succeeded but a process had\n"
        "errors.  --spec S: spec files or profile names (spec=); --option\n"
        "K=V: any REFSAN_OPTIONS key; --json-dir D: keep the reports in D\n"
        "(for refsan report).  The pytest plugin is put on PYTHONPATH and,\n"
        "when CMD runs pytest, enabled with PYTEST_PLUGINS.\n";

/* Default time to wait for processes CMD left running, in seconds. */
#define WAIT_CHILDREN_DEFAULT 10

static volatile sig_atomic_t child_pid;

/*
 * Forward what was sent to refsan alone.  A signal from the terminal
 * (Ctrl-C: si_code SI_KERNEL) already reached CMD, which is in the same
 * process group; sending it twice would make Python raise
 * KeyboardInterrupt in its cleanup.
 */
static void
forward(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	if (child_pid > 0 && (!si || si->si_code != SI_KERNEL))
		kill(child_pid, sig);
}

static bool
is_file(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static bool
is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* DIR/REL made absolute and resolved, or NULL when it does not exist. */
static char *
resolve(const char *dir, const char *rel)
{
	char *joined =
	        rel[0] == '/' ? xstrdup(rel) : xasprintf("%s/%s", dir, rel);
	char *real = realpath(joined, NULL);

	free(joined);
	return real;
}

struct layout {
	char *shim;      /* librefsan.so, absolute */
	char *pythondir; /* the directory holding refsan/pytest.py, or NULL */
	char *profiles;  /* bundled profiles beside an installed refsan */
	bool build_tree;
};

static void
layout_free(struct layout *l)
{
	free(l->shim);
	free(l->pythondir);
	free(l->profiles);
}

/*
 * Where the shim and the plugin are: $REFSAN_SHIM; else the build tree
 * (build/tools/refsan -> build/src/librefsan.so); else the installed
 * layout relative to bindir; else the configured libdir.
 */
static int
find_layout(struct layout *l)
{
	const char *env = getenv("REFSAN_SHIM");
	char dir[PATH_MAX], *p;

	memset(l, 0, sizeof(*l));
	if (!self_exe_dir(dir, sizeof(dir)))
		strcpy(dir, "/nonexistent");
	if (env && *env) {
		l->shim = realpath(env, NULL);
		if (!l->shim || !is_file(l->shim)) {
			cli_error("REFSAN_SHIM=%s: no such file", env);
			return -1;
		}
	} else if ((p = resolve(dir, "../src/" REFSAN_SHIM_NAME)) &&
	           is_file(p)) {
		l->shim = p;
		l->build_tree = true;
	} else {
		free(p);
		p = resolve(dir, REFSAN_BIN_TO_LIB "/" REFSAN_SHIM_NAME);
		if (!p || !is_file(p)) {
			free(p);
			p = resolve("/", REFSAN_LIBDIR "/" REFSAN_SHIM_NAME);
		}
		if (!p || !is_file(p)) {
			free(p);
			cli_error("cannot find %s: looked in %s/../src, %s/%s "
			          "and %s (set REFSAN_SHIM to its path)",
			          REFSAN_SHIM_NAME, dir, dir, REFSAN_BIN_TO_LIB,
			          REFSAN_LIBDIR);
			return -1;
		}
		l->shim = p;
	}
	if (l->build_tree) {
		l->pythondir = resolve("/", REFSAN_SRC_PYTHON);
	} else {
		l->pythondir = resolve(dir, REFSAN_BIN_TO_PYTHON);
		if (!l->pythondir)
			l->pythondir = resolve("/", REFSAN_PYTHONDIR);
		l->profiles = resolve(dir, REFSAN_BIN_TO_PROFILES);
	}
	if (l->pythondir) {
		char *plugin = xasprintf("%s/refsan/pytest.py", l->pythondir);

		if (!is_file(plugin)) {
			free(l->pythondir);
			l->pythondir = NULL;
		}
		free(plugin);
	}
	return 0;
}

/* KEY=VALUE for REFSAN_OPTIONS, quoting VALUE when it holds ':'. */
static char *
option_item(const char *key, const char *val)
{
	if (!strchr(val, ':') && val[0] != '\'' && val[0] != '"')
		return xasprintf("%s=%s", key, val);
	if (!strchr(val, '\''))
		return xasprintf("%s='%s'", key, val);
	if (!strchr(val, '"'))
		return xasprintf("%s=\"%s\"", key, val);
	cli_error("option %s: a value cannot hold ':' and both kinds of "
	          "quotes",
	          key);
	return NULL;
}

static void
append_option(struct sbuf *b, const char *item)
{
	if (b->len && b->s[b->len - 1] != ':')
		sbuf_puts(b, ":");
	sbuf_puts(b, item);
}

/* mkdir -p. */
static int
make_dirs(const char *path)
{
	char *p = xstrdup(path), *s;
	int r = 0;

	for (s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0777) && errno != EEXIST) {
			r = -1;
			break;
		}
		*s = '/';
	}
	if (!r && mkdir(p, 0777) && errno != EEXIST)
		r = -1;
	free(p);
	return r;
}

/* Whether NAME is PREFIX.<digits>[.<digits>].json (a report, not a
 * temporary file); *pid gets the pid. */
static bool
report_name(const char *name, const char *prefix, long *pid, bool *tmp)
{
	size_t n = strlen(prefix);
	const char *p = name + n + 1;
	char *end;

	*tmp = false;
	if (strncmp(name, prefix, n) != 0 || name[n] != '.' || !*p ||
	    *p < '0' || *p > '9')
		return false;
	*pid = strtol(p, &end, 10);
	if (*end == '.' && end[1] >= '0' && end[1] <= '9')
		strtol(end + 1, &end, 10);
	if (strcmp(end, ".json") == 0)
		return true;
	*tmp = strncmp(end, ".json.tmp", 9) == 0;
	return false;
}

struct found {
	char *path;
	long pid;
};

static int
cmp_found(const void *a, const void *b)
{
	const struct found *x = a, *y = b;

	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	return strcmp(x->path, y->path);
}

/* The reports in DIR named PREFIX.*.json, except those in OLD (names
 * that were there before CMD ran), sorted by pid. */
static struct found *
list_reports(const char *dir, const char *prefix, char **old, size_t nold,
             size_t *n, bool warn_tmp)
{
	struct found *v = NULL;
	size_t cap = 0, i;
	struct dirent *de;
	DIR *d = opendir(dir);

	*n = 0;
	if (!d)
		return NULL;
	while ((de = readdir(d))) {
		long pid;
		bool tmp;

		if (!report_name(de->d_name, prefix, &pid, &tmp)) {
			if (tmp && warn_tmp)
				cli_warning("%s/%s: a process was killed while "
				            "writing its report (SIGKILL or "
				            "SIGTERM?); it is left out",
				            dir, de->d_name);
			continue;
		}
		for (i = 0; i < nold; i++)
			if (strcmp(old[i], de->d_name) == 0)
				break;
		if (i < nold)
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			v = xrealloc(v, cap * sizeof(*v));
		}
		v[*n].path = xasprintf("%s/%s", dir, de->d_name);
		v[*n].pid = pid;
		(*n)++;
	}
	closedir(d);
	if (*n > 1)
		qsort(v, *n, sizeof(*v), cmp_found);
	return v;
}

/* Remove the temporary directory and what the shim wrote in it. */
static void
remove_tree(const char *dir)
{
	struct dirent *de;
	DIR *d = opendir(dir);

	if (d) {
		while ((de = readdir(d))) {
			char *p;

			if (!strcmp(de->d_name, ".") ||
			    !strcmp(de->d_name, ".."))
				continue;
			p = xasprintf("%s/%s", dir, de->d_name);
			unlink(p);
			free(p);
		}
		closedir(d);
	}
	rmdir(dir);
}

static bool
base_is(const char *arg, const char *name)
{
	const char *b = strrchr(arg, '/');

	b = b ? b + 1 : arg;
	return strcmp(b, name) == 0;
}

/* Whether CMD runs pytest: pytest, py.test, pytest-3 anywhere in the
 * command (uv run pytest, xvfb-run pytest), or python -m pytest. */
static bool
looks_like_pytest(char **cmd)
{
	size_t i;

	for (i = 0; cmd[i]; i++) {
		if (base_is(cmd[i], "pytest") || base_is(cmd[i], "py.test") ||
		    base_is(cmd[i], "pytest-3") ||
		    strcmp(cmd[i], "-mpytest") == 0)
			return true;
		if (strcmp(cmd[i], "-m") == 0 && cmd[i + 1] &&
		    strcmp(cmd[i + 1], "pytest") == 0)
			return true;
	}
	return false;
}

/* VAR=NEW + SEP + old value (or NEW alone). */
static void
prepend_env(const char *var, const char *val, const char *sep)
{
	const char *old = getenv(var);
	char *v =
	        old && *old ? xasprintf("%s%s%s", val, sep, old) : xstrdup(val);

	setenv(var, v, 1);
	free(v);
}

/* LD_PRELOAD with the shim: first, except after the sanitizer runtimes
 * that lead the list (they must come first of all); left alone when it
 * already holds a librefsan.so. */
static void
set_preload(const char *shim)
{
	const char *old = getenv("LD_PRELOAD");
	size_t lead = 0; /* bytes of OLD taken by leading sanitizer runtimes */
	char *v;

	if (old && strstr(old, REFSAN_SHIM_NAME)) {
		cli_note("LD_PRELOAD already holds %s: using that one",
		         REFSAN_SHIM_NAME);
		return;
	}
	for (const char *w = old; w && *w;) {
		size_t sep = strspn(w, " :"), len = strcspn(w + sep, " :");
		char word[PATH_MAX];

		if (len == 0 || len >= sizeof(word))
			break;
		memcpy(word, w + sep, len);
		word[len] = '\0';
		if (!strstr(word, "libasan") && !strstr(word, "libtsan"))
			break;
		w += sep + len;
		lead = (size_t)(w - old);
	}
	if (lead) /* OLD + LEAD is empty or starts with a separator */
		v = xasprintf("%.*s %s%s", (int)lead, old, shim, old + lead);
	else if (old && *old)
		v = xasprintf("%s %s", shim, old);
	else
		v = xstrdup(shim);
	setenv("LD_PRELOAD", v, 1);
	free(v);
}

static int
exit_status_of(int st)
{
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return 1;
}

/* Reap what CMD left running (refsan is their subreaper) for up to SECS
 * seconds; false when some are still running. */
static bool
reap_rest(unsigned secs)
{
	struct timespec start, now, nap = { 0, 10 * 1000 * 1000 };
	bool noted = false;
	int st;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		pid_t p = waitpid(-1, &st, WNOHANG);

		if (p > 0)
			continue;
		if (p < 0 && errno == EINTR)
			continue;
		if (p < 0)
			return true; /* ECHILD: none left */
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec >= (time_t)secs)
			return false;
		if (!noted && now.tv_sec - start.tv_sec >= 1) {
			cli_note("waiting up to %us for processes CMD left "
			         "running (--wait-children)",
			         secs);
			noted = true;
		}
		nanosleep(&nap, NULL);
	}
}

/* Fork and exec CMD; 0 with *pid, or the exit status for a CMD that
 * cannot run (message printed). */
static int
spawn(char **cmd, pid_t *pid)
{
	int pfd[2], e = 0;
	ssize_t n;

	if (pipe2(pfd, O_CLOEXEC)) {
		cli_error("pipe: %s", strerror(errno));
		return EXIT_USAGE;
	}
	*pid = fork();
	if (*pid < 0) {
		cli_error("fork: %s", strerror(errno));
		return EXIT_USAGE;
	}
	if (*pid == 0) {
		sigset_t none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		signal(SIGQUIT, SIG_DFL);
		close(pfd[0]);
		execvp(cmd[0], cmd);
		e = errno;
		if (write(pfd[1], &e, sizeof(e)) < 0)
			_exit(EXIT_NOTFOUND);
		_exit(e == ENOENT ? EXIT_NOTFOUND : EXIT_NOEXEC);
	}
	close(pfd[1]);
	do
		n = read(pfd[0], &e, sizeof(e));
	while (n < 0 && errno == EINTR);
	close(pfd[0]);
	if (n == (ssize_t)sizeof(e)) {
		waitpid(*pid, NULL, 0);
		if (e == ENOENT) {
			cli_error("%s: command not found", cmd[0]);
			return EXIT_NOTFOUND;
		}
		cli_error("%s: cannot execute: %s", cmd[0], strerror(e));
		return EXIT_NOEXEC;
	}
	return 0;
}

struct run_args {
	struct sbuf specs;
	struct sbuf options; /* from --option, already quoted */
	const char *json_dir;
	unsigned wait_children;
	int pytest_plugin; /* -1: when CMD looks like pytest; 0; 1 */
	const char *baseline;
};

static int
parse_args(int argc, char **argv, struct run_args *a, int *first_cmd)
{
	static const struct option longopts[] = {
		{ "spec", required_argument, NULL, 's' },
		{ "option", required_argument, NULL, 'o' },
		{ "json-dir", required_argument, NULL, 'j' },
		{ "wait-children", required_argument, NULL, 'w' },
		{ "baseline", required_argument, NULL, 'b' },
		{ "pytest-plugin", no_argument, NULL, 'p' },
		{ "no-pytest-plugin", no_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+s:o:j:h", longopts, NULL)) !=
	       -1) {
		switch (c) {
		case 's':
			if (a->specs.len)
				sbuf_puts(&a->specs, ",");
			sbuf_puts(&a->specs, optarg);
			break;
		case 'o': {
			char *eq = strchr(optarg, '='), *key, *item;

			if (!eq || eq == optarg) {
				cli_error(
				        "--option: expected KEY=VALUE, got '%s'",
				        optarg);
				return -1;
			}
			key = strndup(optarg, (size_t)(eq - optarg));
			item = key ? option_item(key, eq + 1) : NULL;
			free(key);
			if (!item)
				return -1;
			append_option(&a->options, item);
			free(item);
			break;
		}
		case 'j':
			a->json_dir = optarg;
			break;
		case 'b':
			a->baseline = optarg;
			break;
		case 'w': {
			char *end;
			unsigned long v = strtoul(optarg, &end, 10);

			if (!*optarg || *end || v > 86400) {
				cli_error("--wait-children: expected seconds "
				          "(0..86400), got '%s'",
				          optarg);
				return -1;
			}
			a->wait_children = (unsigned)v;
			break;
		}
		case 'p':
			a->pytest_plugin = 1;
			break;
		case 'P':
			a->pytest_plugin = 0;
			break;
		case 'h':
			fputs(usage, stdout);
			return 1;
		default:
			fputs(usage, stderr);
			return -1;
		}
	}
	if (optind >= argc) {
		cli_error(
		        "run: expected a command to run (refsan run [OPTIONS] "
		        "[--] CMD ARGS...)");
		return -1;
	}
	*first_cmd = optind;
	return 0;
}

/* The spec list names files that exist and parse; 0 or -1 (printed). */
static int
check_spec(const char *list, const struct layout *l)
{
	const char *env = getenv("REFSAN_PROFILE_PATH");
	struct sbuf dirs = { 0 };
	struct spec_err err;
	struct spec s;
	char msg[1024];
	int r;

	if (env && *env)
		sbuf_printf(&dirs, "%s:", env);
	if (l->profiles)
		sbuf_printf(&dirs, "%s:", l->profiles);
	sbuf_puts(&dirs, REFSAN_PROFILE_DIRS);
	spec_init(&s);
	r = spec_load_list(&s, list, dirs.s, &err);
	if (r) {
		spec_err_format(&err, msg, sizeof(msg));
		fprintf(stderr, "%s\n", msg);
	}
	spec_free(&s);
	sbuf_free(&dirs);
	return r ? -1 : 0;
}

int
cmd_run(int argc, char **argv)
{
	struct run_args a = { { 0 }, { 0 }, NULL, WAIT_CHILDREN_DEFAULT,
		              -1,    NULL };
	struct model base;
	struct refsan_options opts;
	struct options_err oerr;
	struct layout l = { 0 };
	struct sbuf env = { 0 };
	struct sigaction sa, old_int, old_term, old_hup, old_quit;
	struct found *reports = NULL;
	struct model m;
	char *dir = NULL, *prefix = NULL, *item, **old = NULL;
	const char *user_env = getenv("REFSAN_OPTIONS");
	const char *spec_env = getenv("REFSAN_SPEC");
	size_t nold = 0, nreports = 0, i;
	bool temp_dir = false, bad_report = false;
	int first, status = EXIT_USAGE, cmd_status, st, r;
	pid_t pid;

	memset(&base, 0, sizeof(base));
	r = parse_args(argc, argv, &a, &first);
	if (r) {
		status = r > 0 ? EXIT_CLEAN : EXIT_USAGE;
		goto out_args;
	}
	if (find_layout(&l))
		goto out;

	/* REFSAN_OPTIONS: the user's, then --option, --spec, json_path.
	 * Later keys win in the shim's parser. */
	if (user_env)
		sbuf_puts(&env, user_env);
	if (a.options.len)
		append_option(&env, a.options.s);
	if (a.specs.len) {
		item = option_item("spec", a.specs.s);
		if (!item)
			goto out;
		append_option(&env, item);
		free(item);
	}
	options_defaults(&opts);
	if (spec_env && *spec_env) {
		item = option_item("spec", spec_env);
		if (!item || options_parse(&opts, item, &oerr)) {
			if (item)
				cli_error("REFSAN_SPEC: %s", oerr.msg);
			free(item);
			goto out;
		}
		free(item);
	}
	if (options_parse(&opts, env.s ? env.s : "", &oerr)) {
		cli_error("%s: %s",
		          a.options.len ? "--option or REFSAN_OPTIONS"
		                        : "REFSAN_OPTIONS",
		          oerr.msg);
		goto out;
	}
	model_init(&base);
	if (a.baseline) {
		/* Read it now: a bad baseline is a mistake to stop at. */
		if (model_add_file(&base, a.baseline))
			goto out;
		/* The processes must not fail on errors the baseline knows:
		 * refsan decides from the merged reports. */
		append_option(&env, "exitcode=0");
	}
	if (*opts.spec) {
		if (check_spec(opts.spec, &l))
			goto out;
	} else {
		cli_note("no spec (--spec, REFSAN_SPEC or spec= in "
		         "REFSAN_OPTIONS): only handles annotated through the "
		         "C API are tracked");
	}

	/* Where the reports go. */
	if (a.json_dir) {
		dir = xstrdup(a.json_dir);
		prefix = xstrdup("refsan");
	} else if (*opts.json_path) {
		const char *slash = strrchr(opts.json_path, '/');

		dir = slash ? strndup(opts.json_path,
		                      (size_t)(slash - opts.json_path))
		            : xstrdup(".");
		if (!dir || !*dir) {
			free(dir);
			dir = xstrdup("/");
		}
		prefix = xstrdup(slash ? slash + 1 : opts.json_path);
	} else {
		const char *tmp = getenv("TMPDIR");

		dir = xasprintf("%s/refsan-run.XXXXXX",
		                tmp && *tmp ? tmp : "/tmp");
		if (!mkdtemp(dir)) {
			cli_error("cannot create a temporary directory %s: %s",
			          dir, strerror(errno));
			goto out;
		}
		temp_dir = true;
		prefix = xstrdup("refsan");
	}
	if (!temp_dir) {
		char *probe;
		int fd;

		if (make_dirs(dir)) {
			cli_error("--json-dir %s: cannot create the directory: "
			          "%s",
			          dir, strerror(errno));
			goto out;
		}
		probe = xasprintf("%s/.refsan-probe.%d", dir, (int)getpid());
		fd = open(probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0) {
			cli_error(
			        "--json-dir %s: cannot write reports there: %s",
			        dir, strerror(errno));
			free(probe);
			goto out;
		}
		close(fd);
		unlink(probe);
		free(probe);
		/* Reports of earlier runs in the same place are not ours. */
		reports = list_reports(dir, prefix, NULL, 0, &nold, false);
		old = xcalloc(nold, sizeof(*old));
		for (i = 0; i < nold; i++) {
			const char *base = strrchr(reports[i].path, '/');

			old[i] = xstrdup(base ? base + 1 : reports[i].path);
			free(reports[i].path);
		}
		free(reports);
		reports = NULL;
		if (!is_dir(dir)) {
			cli_error("--json-dir %s: not a directory", dir);
			goto out;
		}
	}
	{
		char *real = realpath(dir, NULL);
		char *path;

		if (real) {
			free(dir);
			dir = real;
		}
		path = xasprintf("%s/%s", dir, prefix);
		item = option_item("json_path", path);
		free(path);
		if (!item)
			goto out;
		append_option(&env, item);
		free(item);
	}

	/* The child's environment. */
	setenv("REFSAN_OPTIONS", env.s, 1);
	set_preload(l.shim);
	if (l.profiles)
		prepend_env("REFSAN_PROFILE_PATH", l.profiles, ":");
	if (l.pythondir) {
		prepend_env("PYTHONPATH", l.pythondir, ":");
		if (a.pytest_plugin == 1 || (a.pytest_plugin == -1 &&
		                             looks_like_pytest(argv + first))) {
			const char *p = getenv("PYTEST_PLUGINS");

			if (!p || !strstr(p, "refsan.pytest"))
				prepend_env("PYTEST_PLUGINS", "refsan.pytest",
				            ",");
		}
	} else if (a.pytest_plugin == 1) {
		cli_warning("the pytest plugin (refsan/pytest.py) was not "
		            "found beside refsan: --pytest-plugin ignored");
	}

	/* Run CMD; refsan reaps what it leaves running. */
	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = forward;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	sigaction(SIGHUP, &sa, &old_hup);
	sigaction(SIGQUIT, &sa, &old_quit);
	fflush(stdout);
	fflush(stderr);
	r = spawn(argv + first, &pid);
	if (r) {
		status = r;
		goto out;
	}
	child_pid = pid;
	while (waitpid(pid, &st, 0) < 0) {
		if (errno != EINTR) {
			cli_error("waitpid: %s", strerror(errno));
			st = 0;
			break;
		}
	}
	child_pid = 0;
	cmd_status = exit_status_of(st);
	if (!reap_rest(a.wait_children))
		cli_warning("processes started by %s are still running after "
		            "%us; their reports are not in this summary",
		            argv[first], a.wait_children);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	sigaction(SIGHUP, &old_hup, NULL);
	sigaction(SIGQUIT, &old_quit, NULL);

	/* Merge what every process wrote. */
	reports = list_reports(dir, prefix, old, nold, &nreports, true);
	model_init(&m);
	{
		char **paths = xcalloc(nreports, sizeof(*paths));

		for (i = 0; i < nreports; i++)
			paths[i] = reports[i].path;
		bad_report = model_add_files(&m, paths, nreports, true) != 0;
		free(paths);
	}
	model_finish(&m);
	if (a.baseline)
		model_apply_baseline(&m, &base, a.baseline);
	if (m.nprocs) {
		fflush(stdout);
		render_run_summary(2, &m);
	} else if (*opts.spec) {
		fprintf(stderr, "refsan: no process reported: none loaded a "
		                "library the spec names\n");
	}
	if (a.json_dir || !temp_dir)
		fprintf(stderr, "refsan: reports in %s (refsan report %s)\n",
		        dir, dir);
	if (cmd_status)
		status = cmd_status;
	else if (model_counting(&m))
		status = (int)opts.exitcode;
	else if (bad_report)
		status = EXIT_USAGE;
	else
		status = EXIT_CLEAN;
	model_free(&m);
out:
	model_free(&base);
	if (temp_dir && dir)
		remove_tree(dir);
	for (i = 0; i < nreports; i++)
		free(reports[i].path);
	free(reports);
	for (i = 0; i < nold; i++)
		free(old[i]);
	free(old);
	free(dir);
	free(prefix);
	sbuf_free(&env);
	layout_free(&l);
out_args:
	sbuf_free(&a.specs);
	sbuf_free(&a.options);
	return status;
}
