/* sched: the meter's one event queue, in the manner of mGBA's mTiming.
 *
 * Every part of the meter that has something to do at an instant of its own
 * (a Modbus frame that ends on silence, a reply that starts after the
 * turnaround, an S0 edge, a long press, a page change, a save point) has one
 * slot here holding its next due time. The meter services them in order of
 * due time, then of the slot's fixed priority, so that two events at the same
 * nanosecond always resolve the same way, whatever the host's pace:
 *
 *   due time  --->
 *   | pulse edge @ t1 | frame end @ t2 | page @ t2 | reply @ t3 | ...
 *                      ^ same instant: SCHED_MODBUS before SCHED_PANEL
 *
 * A part re-arms its slot after each change of its state (sched_set with its
 * own deadline function's value); VTIME_NEVER leaves the slot idle. With a
 * handful of slots a scan is cheaper than any heap and has no allocation.
 */
#ifndef METERSIM_SCHED_H
#define METERSIM_SCHED_H

#include <stdint.h>

#include "vtime.h"

/* Slots, in priority order for events due at the same instant: the end of a
 * boot first (the meter runs from that instant on), edges of the outputs
 * (they record what already happened), then the lines, the buttons and the
 * LCD, and the save point last, so it keeps everything the instant produced. */
typedef enum {
    SCHED_BOOT,
    SCHED_PULSE,
    SCHED_MODBUS,
    SCHED_MBUS,
    SCHED_PANEL, /* the menu's timers and the LCD's page changes */
    SCHED_SAVE,
    SCHED_SLOTS
} sched_slot_t;

typedef struct sched {
    uint64_t due[SCHED_SLOTS]; /* VTIME_NEVER: idle */
    uint64_t next;             /* min of due[], kept so the hot path reads one word */
} sched_t;

void sched_init(sched_t *s);

/* Arms (or with VTIME_NEVER idles) a slot. */
void sched_set(sched_t *s, sched_slot_t slot, uint64_t due_ns);

/* The earliest due time; VTIME_NEVER when every slot is idle. */
static inline uint64_t sched_next(const sched_t *s)
{
    return s->next;
}

/* The slot to service first among those due at or before now_ns (earliest
 * time, then lowest slot); SCHED_SLOTS when none is due. The slot is left
 * armed: its owner re-arms it after doing its work. */
sched_slot_t sched_due(const sched_t *s, uint64_t now_ns);

#endif
