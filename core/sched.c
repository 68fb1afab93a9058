/* sched: the meter's event queue (see sched.h). */
#include "sched.h"

#include "meter_assert.h"

void sched_init(sched_t *s)
{
    METER_ASSERT(s);
    for (int i = 0; i < SCHED_SLOTS; i++)
        s->due[i] = VTIME_NEVER;
    s->next = VTIME_NEVER;
}

void sched_set(sched_t *s, sched_slot_t slot, uint64_t due_ns)
{
    METER_ASSERT(s && (unsigned)slot < SCHED_SLOTS);
    s->due[slot] = due_ns;
    uint64_t next = VTIME_NEVER;
    for (int i = 0; i < SCHED_SLOTS; i++)
        if (s->due[i] < next)
            next = s->due[i];
    s->next = next;
}

sched_slot_t sched_due(const sched_t *s, uint64_t now_ns)
{
    if (s->next > now_ns)
        return SCHED_SLOTS;
    sched_slot_t best = SCHED_SLOTS;
    for (int i = 0; i < SCHED_SLOTS; i++)
        if (s->due[i] <= now_ns && (best == SCHED_SLOTS || s->due[i] < s->due[best]))
            best = (sched_slot_t)i;
    return best;
}
