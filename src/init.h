/*
 * init.h: the shim's life cycle, UNINIT -> BOOT -> READY -> DONE.  Init is
 * idempotent: the constructor runs it, and so does every hook that fires
 * before the constructor (a library's own constructor may call a spec'd
 * function).  After the exit report (DONE) hooks only forward.
 */
#ifndef REFSAN_INIT_H
#define REFSAN_INIT_H

#include <stdatomic.h>
#include <stdbool.h>
#include "spec.h"

enum init_state { INIT_UNINIT, INIT_BOOT, INIT_READY, INIT_DONE };

/*
 * For a large zeroed table that start-up does not write: its own .bss.*
 * section, which the linker lays out apart from its file's small
 * variables, so that the few variables every process writes at start
 * share a page or two instead of each faulting in a page between tables.
 */
#define INIT_LARGE_BSS __attribute__((section(".bss.refsan_large")))

/* Atomic: read by the report thread and by hooks on any thread while the
 * exit path moves it to DONE (a data race under TSan as a plain int). */
extern _Atomic int refsan_state;
/* A spec'd library was found, or the C API was called: reports are due. */
extern _Atomic bool refsan_active;
/* Spec'd libraries seen loaded (for the "nothing tracked" warning). */
extern _Atomic unsigned refsan_libs_seen;
/* The status the program asked to exit with, -1 until known. */
extern int refsan_exit_status_seen;
/* The pid whose image this is (a vfork child has another). */
extern int refsan_pid;
/* The spec the process runs with (empty when none was given). */
extern struct spec refsan_spec;

/* Run init if needed; true when hooks may track (state READY). */
bool init_ensure(void);

/* The final report: once, from whichever exit path comes first.
 * STATUS is the status the program is exiting with; returns the status to
 * exit with instead. */
int init_final_report(int status);

/* Map the engine and start tracking (idempotent); false when it cannot. */
bool init_activate(void);

/* True once init_activate() has begun (on any thread): from then on stacks
 * may be stored, and loaded modules must be snapshotted for symbolizing. */
bool init_activation_begun(void);

/* Before exec: write this image's report. */
void init_exec_report(void);

#endif
