/*
 * refsan.h: the public C API of refsan, the reference-count sanitizer for
 * the handles of native libraries.
 *
 * Programs and test harnesses use it to annotate handles that no spec names
 * and to ask for reports before exit.  Every function is declared weak, so a
 * program built against this header still links and runs when librefsan.so
 * is not preloaded: test the function's address before calling it, or use
 * the REFSAN_CALL() helper, which does nothing when refsan is absent.
 */
#ifndef REFSAN_H
#define REFSAN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(REFSAN_BUILDING)
#define REFSAN_WEAK __attribute__((visibility("default")))
#elif defined(__GNUC__)
#define REFSAN_WEAK __attribute__((weak))
#else
#define REFSAN_WEAK
#endif

/* A new handle, reference count 1, in FAMILY (NULL: no family). */
REFSAN_WEAK void refsan_handle_created(const void *handle, const char *family);
/* One more reference to a live handle. */
REFSAN_WEAK void refsan_handle_acquired(const void *handle);
/* One reference fewer; at 0 the handle is dead. */
REFSAN_WEAK void refsan_handle_released(const void *handle);

/* A mark in the event sequence, for refsan_live_since(). */
REFSAN_WEAK uint64_t refsan_checkpoint(void);
/* Handles live now. */
REFSAN_WEAK size_t refsan_live_count(void);
/* Live handles created after MARK (by this process). */
REFSAN_WEAK size_t refsan_live_since(uint64_t mark);
/* A report of the live handles now to PATH (NULL: log_path, else stderr).
 * Returns 0, or -1 with errno set. */
REFSAN_WEAK int refsan_report(const char *path);
/* The same, only for handles created after MARK. */
REFSAN_WEAK int refsan_report_since(uint64_t mark, const char *path);

/* A statement that calls FN(ARGS) only when refsan is loaded. */
#define REFSAN_CALL(fn, ...)                                                   \
	do {                                                                   \
		if (fn)                                                        \
			(fn)(__VA_ARGS__);                                     \
	} while (0)

#ifdef __cplusplus
}
#endif

#endif /* REFSAN_H */
