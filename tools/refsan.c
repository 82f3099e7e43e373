/*
 * refsan.c: the `refsan` command, the front door of refsan for people and
 * CI: `refsan run` runs a program with the shim preloaded and merges the
 * reports of every process it starts, `refsan report` merges and renders
 * reports, `refsan spec check` and `refsan spec gen` help write specs.
 * This file only dispatches; each subcommand lives in its own file
 * (run.c, report.c, spec_check.c, spec_gen.c).
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char usage[] =
        "usage: refsan run [--spec S] [--option K=V]... [--json-dir D] [--] CMD ARGS...\n"
        "       refsan report [--format text|json|junit|sarif] [--baseline FILE]\n"
        "                     [--output FILE] REPORT.json...\n"
        "       refsan spec check FILE... [--lib LIB]\n"
        "       refsan spec gen HEADER.h...\n"
        "       refsan --help | --version\n"
        "\n"
        "refsan is a reference-count sanitizer for the handles of native\n"
        "libraries.  `refsan run` preloads librefsan.so into CMD and every\n"
        "process it starts, prints one merged summary and exits with CMD's\n"
        "status, or 23 when a process had errors.  `refsan report` merges the\n"
        "JSON reports of many processes and renders them as text, JSON, JUnit\n"
        "XML or SARIF.  `refsan SUBCOMMAND --help` says more; see refsan(1).\n";

int
main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(usage, stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		fputs(usage, stdout);
		return EXIT_CLEAN;
	}
	if (strcmp(argv[1], "--version") == 0 ||
	    strcmp(argv[1], "version") == 0) {
		printf("refsan %s\n", REFSAN_VERSION);
		return EXIT_CLEAN;
	}
	if (strcmp(argv[1], "run") == 0)
		return cmd_run(argc - 1, argv + 1);
	if (strcmp(argv[1], "report") == 0)
		return cmd_report(argc - 1, argv + 1);
	if (strcmp(argv[1], "spec") == 0) {
		if (argc >= 3 && strcmp(argv[2], "check") == 0)
			return cmd_spec_check(argc - 2, argv + 2);
		if (argc >= 3 && strcmp(argv[2], "gen") == 0)
			return cmd_spec_gen(argc - 2, argv + 2);
		cli_error("spec: expected 'check' or 'gen'%s%s%s",
		          argc >= 3 ? ", got '" : "", argc >= 3 ? argv[2] : "",
		          argc >= 3 ? "'" : "");
		return EXIT_USAGE;
	}
	cli_error("unknown command '%s' (expected run, report or spec; "
	          "refsan --help lists them)",
	          argv[1]);
	return EXIT_USAGE;
}
