/*
 * signals.h: fatal signals (write what is safe, then let the signal go on)
 * and report_signal (a report of live handles now, rendered by a shim
 * thread, never inside the handler).
 */
#ifndef REFSAN_SIGNALS_H
#define REFSAN_SIGNALS_H

void signals_init(void);

#endif
