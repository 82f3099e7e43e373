/*
 * py_via.c: a native function between two Python frames, for
 * test_python_sites.py.
 *
 * py_via(which, cb) calls back into Python (CB, a ctypes or cffi callback)
 * through via_a or via_b, picked by one function pointer from one
 * instruction: two functions of the same code and frame size, so that the
 * callback, and the hooked call it makes, run at the same stack depth with
 * the same return-address slot above the trampoline and the same Python
 * frames.  Only the one native slot in the middle of the stack that holds
 * via_a's or via_b's return address tells the two stacks apart.  Built
 * with -O2: no frame pointers.
 */
#define NOINLINE __attribute__((noinline, noipa))

void py_via(int which, void (*cb)(void));

NOINLINE static void
via_a(void (*cb)(void))
{
	cb();
	__asm__ volatile("" ::: "memory"); /* not a tail call */
}

NOINLINE static void
via_b(void (*cb)(void))
{
	cb();
	__asm__ volatile("" ::: "memory");
}

NOINLINE __attribute__((visibility("default"))) void
py_via(int which, void (*cb)(void))
{
	void (*volatile fn[2])(void (*)(void)) = { via_a, via_b };

	fn[which != 0](cb);
	__asm__ volatile("" ::: "memory");
}
