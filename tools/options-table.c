/*
 * options-table.c: prints the README's options table from options.inc, the
 * one list of options, so that the README can never drift from the code
 * (tests/check-readme-options.py compares the two).
 */
#include "options.h"

int
main(void)
{
	options_write_markdown_table(1);
	return 0;
}
