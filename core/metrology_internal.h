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

#endif
