/*
 * pyframes.h: the calling Python code's frames, read from the current
 * thread's interpreter state without taking the GIL, so that a stack shows
 * `Dog.__init__ zoo_wrap.py:18` where the native unwinder only sees
 * _PyEval_EvalFrameDefault.
 */
#ifndef REFSAN_PYFRAMES_H
#define REFSAN_PYFRAMES_H

#include <stdbool.h>
#include <stdint.h>
#include "symbolize.h"

struct pyframe_info {
	const char *function;  /* qualified name, "Dog.__init__" */
	const char *file;
	unsigned line;
};

/* Find the interpreter in the process (cheap; call when a library loads). */
void pyframes_init(void);

/*
 * Rewrite a native stack PCS[0..N) (capacity MAX) in place: the frames of
 * the interpreter's evaluation loop are replaced by the Python frames they
 * were running (words tagged DEPOT_PY_TAG).  Returns the new count.  No-op
 * outside CPython or with python_frames=0.  Hot path: no malloc, no lock
 * beyond the string store's insert.
 */
unsigned pyframes_splice(uintptr_t *pcs, unsigned n, unsigned max);

/* A tagged frame's function, file and line; 0, or -1 if unknown. */
int pyframes_lookup(uint32_t id, struct pyframe_info *out);

/* True for native frames that Python frames stand in for (the eval loop,
 * ctypes, cffi, libffi) and that the report hides below verbosity=2. */
bool pyframes_hide_native(const struct sym_frame *f);

#endif
