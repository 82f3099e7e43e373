/*
 * filler.c: a library that only takes room in the address space, loaded
 * between an unload and a reload of libzoo so that the second load lands
 * somewhere else (run_faults.py, case reload).
 */
char filler_space[1 << 20] = { 1 };

int filler_touch(int i);

int
filler_touch(int i)
{
	return filler_space[i & 0xfffff];
}
