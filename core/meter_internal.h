/* meter_internal: what meter.c and meter_runs.c share with each other alone
 * (the runs of equal cycles live in their own file to keep meter.c short),
 * not a host's business. */
#ifndef METERSIM_METER_INTERNAL_H
#define METERSIM_METER_INTERNAL_H

#include <math.h>
#include <stdint.h>

#include "meter.h"
#include "variant.h"

/* What the CT variant multiplies what it measures at its terminals by to
 * show primary values: primary / secondary (1 on a direct meter). */
static inline double ct_factor(const meter_t *m)
{
    const variant_t *v = variant_of(m->model);
    return v->ct ? (double)m->settings.ct_primary / v->ct_secondary : 1.0;
}

/* A time in ticks (a cycle's end, fractional) as the pulses' nanoseconds,
 * rounded; 0 before the start. */
static inline uint64_t ticks_to_ns(double ticks)
{
    return ticks > 0.0 ? (uint64_t)llround(ticks * (double)VTIME_NS_PER_TICK) : 0;
}

/* Services every event due at or before now_ns, in order of time, then of
 * slot priority, each at its own instant (meter.c). */
void meter_service(meter_t *m, uint64_t now_ns);

/* The lazy loop of meter_exec_steady() is at a crossing tick (st->next_c)
 * whose close is a clone of the last (metrology_steady_clones), the event
 * check of this tick done. Books the clones that close before `end` and
 * before any event other than a pulse edge, at once: the registers as a
 * run (energy_run_t), the pulse accumulators summed over the cycles that
 * earn no crossing, and, in their order, each cycle that earns one and each
 * stop of the loop at a pulse edge, exactly as the loop would take them;
 * then the metrology's closes (the window cycle by cycle). The result is
 * the loop's, bit for bit (tests/unit/test_meter_runs.c). Returns the
 * cycles booked (0: none, the loop goes on one by one); m->tick is then at
 * the last one's crossing tick (meter_runs.c). */
uint64_t meter_book_run(meter_t *m, uint64_t end);

#endif
