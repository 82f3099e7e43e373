/*
 * signals.h: fatal signals (write what is safe, then let the signal go on)
 * and report_signal (a report of live handles now, rendered by a shim
 * thread, never inside the handler).
 */
#ifndef REFSAN_SIGNALS_H
#define REFSAN_SIGNALS_H

void signals_init(void);
/* Wait until no report of live handles is being written (the exit report
 * calls it once the state is DONE, so that the two never run at once). */
void signals_quiesce(void);
/* In a fork child: the report thread is not there. */
void signals_after_fork_child(void);

#endif
