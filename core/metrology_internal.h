/* metrology_internal: what metrology.c lends the core's other metrology
 * files (metrology_steady.c), not a host's business. */
#ifndef METERSIM_METROLOGY_INTERNAL_H
#define METERSIM_METROLOGY_INTERNAL_H

#include <stdbool.h>

#include "metrology.h"

/* Closes the cycle held in m->cyc, m->cyc_ll and m->cyc_ticks exactly as
 * metrology_step does at a crossing (ends_at_crossing) or at the timeout:
 * the cycle record, the window, the measured frequency and delay taps, a
 * published window when it is full. `end` is the cycle's end in ticks. */
void metrology_close_cycle(metrology_t *m, bool ends_at_crossing, double end);

/* n more closes, at crossings found at ticks c1, c1 + period, ..., of the
 * cycle whose sums are s[], ll[] and length `ticks`, the same whole cycle as
 * the one m->cycle records (the frequency, the taps and the cycle record
 * stay; each ends `move` ticks before its crossing tick): what n calls of
 * metrology_close_cycle() would leave, the window summed cycle by cycle and
 * published where it fills (at its crossing tick). m->tick is left at the
 * last crossing tick. A window that starts empty and fills inside the run
 * is taken from `memo` (NULL: none) when it holds the same cycle. */
void metrology_close_repeat(metrology_t *m, uint64_t n, uint64_t c1, uint32_t period, double move,
                            const metrology_sums_t s[3], const double ll[3], double ticks,
                            metrology_window_memo_t *memo);

#endif
