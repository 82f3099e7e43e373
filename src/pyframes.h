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

/*
 * What a splice read of the interpreter's memory (see pyframes.c): the
 * thread state it started from and the log of its reads, (address, value)
 * in order.  The same native frames, the same thread state and a log whose
 * reads still find their values mean the same spliced stack.
 */
#define PF_LOG_READS 256
struct pf_read {
	uintptr_t addr; /* aligned */
	uintptr_t mask; /* the bytes read */
	uintptr_t val;  /* the word, masked */
};
/* A count of deallocated code objects read (pyframes.c's code_gen): logged
 * apart, skipped while no code object was deallocated. */
#define PF_LOG_GENS 64
struct pf_gen {
	uintptr_t addr;
	uint64_t val;
};
struct pf_fp {
	unsigned n, ngen;
	bool incomplete; /* longer than PF_LOG_READS, or not to be memoized */
	bool python;     /* the native frames hold the eval loop's */
	uintptr_t ts;
	uint64_t gen_all; /* all deallocations, before the first count */
	struct pf_read r[PF_LOG_READS];
	struct pf_gen gen[PF_LOG_GENS];
};

/* pyframes_splice, whose PCS[0] is never the eval loop's, with the log of
 * what it read in *FP. */
unsigned pyframes_splice_fp(uintptr_t *pcs, unsigned n, unsigned max,
			    struct pf_fp *fp);
/* A per-thread memo: the depot id stored for (STAMP, KEY, TAG) whose log
 * still holds, or 0.  Reads no more than the splice would.  *HINT (when
 * HINT is not NULL): the caller's note of the record that answered last,
 * looked at first, then updated (NULL at first). */
uint32_t pyframes_memo_get(uint64_t stamp, uintptr_t key, uint32_t tag,
			   const void **hint);
/* pyframes_memo_get in two: the record HINT alone (0 when HINT is
 * NULL), then the others of the set (updating *HINT). */
uint32_t pyframes_memo_hinted(const void *hint, uint64_t stamp, uintptr_t key,
			      uint32_t tag);
uint32_t pyframes_memo_search(uint64_t stamp, uintptr_t key, uint32_t tag,
			      const void **hint);
/* Whether the record was made (a complete log of a Python stack). */
bool pyframes_memo_put(uint64_t stamp, uintptr_t key, uint32_t tag,
		       const struct pf_fp *fp, uint32_t id);

/* A tagged frame's function, file and line; 0, or -1 if unknown. */
int pyframes_lookup(uint32_t id, struct pyframe_info *out);

/* True for native frames that Python frames stand in for (the eval loop,
 * ctypes, cffi, libffi) and that the report hides below verbosity=2. */
bool pyframes_hide_native(const struct sym_frame *f);

#endif
