/* pulse: S0 outputs and the red LED as edges in virtual time (manual 4, 6.6.3-6.6.5). */
#include "pulse.h"

#include <string.h>

int64_t pulse_weight_uwh(uint32_t rate_x100)
{
    /* A rate of 0 is no valid setting; read it as the slowest one rather than
     * divide by zero (settings_validate() refuses it elsewhere). */
    return PULSE_UWH_X100 / (int64_t)(rate_x100 ? rate_x100 : 1u);
}

static uint64_t width_ns_of(uint8_t ms)
{
    return (uint64_t)ms * VTIME_NS_PER_MS;
}

void pulse_init(pulse_t *p, const settings_t *s)
{
    memset(p, 0, sizeof *p);
    p->s0_rate_x100 = s->s0_rate_x100;
    p->pulse_type = s->pulse_type;
    p->s0_width_ns = width_ns_of(s->pulse_width_ms);
    for (int k = 0; k < PULSE_OUTPUTS; k++)
        p->out[k].weight_uwh =
            pulse_weight_uwh(k == PULSE_LED ? PULSE_LED_RATE_X100 : s->s0_rate_x100);
}

/* What an output counts in this cycle (6.6.4; docs/pulse.md). */
static int64_t output_energy(const energy_delta_t *d, uint8_t type, int output)
{
    switch (output) {
    case PULSE_S0_1:
        return type == 2 ? d->active_fwd : d->active_fwd + d->active_rev;
    case PULSE_S0_2:
        return type == 2 ? d->active_rev : d->reactive_fwd + d->reactive_rev;
    default:
        return d->led;
    }
}

/* When crossing j of an entry falls: the moment the cycle's linear ramp of
 * energy reaches it (constant power within one cycle). */
static uint64_t due_time(const pulse_due_t *d, uint64_t j)
{
    if (d->energy_uwh <= 0 || d->dur_ns == 0)
        return d->start_ns;
    int64_t needed = (int64_t)j * d->weight_uwh - d->acc0_uwh; /* 0 < needed <= energy */
    uint64_t t =
        d->start_ns + (uint64_t)((double)d->dur_ns * (double)needed / (double)d->energy_uwh);
    return t < d->start_ns + d->dur_ns ? t : d->start_ns + d->dur_ns;
}

/* Queues a cycle's crossings; a full queue folds them into its newest entry,
 * which then waits for the last of them. */
static void due_push(pulse_output_t *o, const pulse_due_t *d)
{
    uint64_t n = d->last - d->next + 1;
    if (o->due_n == PULSE_DUE_SLOTS) {
        pulse_due_t *q = &o->due[(o->due_head + o->due_n - 1) % PULSE_DUE_SLOTS];
        uint64_t t = due_time(d, d->last);
        uint64_t left = q->last - q->next + 1;
        uint64_t tq = due_time(q, q->last);
        *q = (pulse_due_t){.start_ns = t > tq ? t : tq, .next = 1, .last = left + n};
    } else {
        o->due[(o->due_head + o->due_n) % PULSE_DUE_SLOTS] = *d;
        o->due_n++;
    }
    o->pending += n;
}

/* Adds a cycle's energy to one output and queues its crossings. */
static void output_add(pulse_output_t *o, int64_t e, uint64_t start_ns, uint64_t end_ns)
{
    if (e <= 0 || o->weight_uwh <= 0)
        return;
    int64_t w = o->weight_uwh;
    int64_t a0 = o->acc_uwh;
    /* One cycle holds well under a watt-hour; the clamp only keeps a0 + e
     * from overflowing on absurd input. */
    if (e > INT64_MAX / 2 - w)
        e = INT64_MAX / 2 - w;
    int64_t n = (a0 + e) / w;
    if (n > 0) {
        pulse_due_t d = {
            .start_ns = start_ns,
            .dur_ns = end_ns > start_ns ? end_ns - start_ns : 0,
            .energy_uwh = e,
            .acc0_uwh = a0,
            .weight_uwh = w,
            .next = 1,
            .last = (uint64_t)n,
        };
        due_push(o, &d);
    }
    o->earned += (uint64_t)n;
    o->acc_uwh = a0 + e - n * w;
}

static uint64_t output_next(const pulse_output_t *o)
{
    if (o->level)
        return o->fall_ns;
    if (o->due_n == 0)
        return VTIME_NEVER;
    const pulse_due_t *d = &o->due[o->due_head];
    uint64_t t = due_time(d, d->next);
    return t > o->ready_ns ? t : o->ready_ns;
}

static void ring_push(pulse_t *p, uint64_t t_ns, int output, bool level)
{
    if (p->ring_n == PULSE_EDGE_RING) {
        p->ring_head = (p->ring_head + 1) % PULSE_EDGE_RING;
        p->ring_n--;
        p->edges_dropped++;
    }
    p->ring[(p->ring_head + p->ring_n) % PULSE_EDGE_RING] =
        (pulse_edge_t){.t_ns = t_ns, .output = (uint8_t)output, .level = level};
    p->ring_n++;
}

/* Applies the next edge of one output at time t. */
static void output_step(pulse_t *p, int k, uint64_t t)
{
    pulse_output_t *o = &p->out[k];
    if (o->level) {
        o->level = false;
        ring_push(p, t, k, false);
        return;
    }
    /* The width in force when the pulse starts; the gap after it is as long
     * (6.6.5: the width is chosen so that pulse and gap fit). */
    uint64_t w = k == PULSE_LED ? width_ns_of(PULSE_LED_WIDTH_MS) : p->s0_width_ns;
    o->level = true;
    o->count++;
    o->fall_ns = t + w;
    o->ready_ns = t + 2 * w;
    pulse_due_t *d = &o->due[o->due_head];
    if (d->next++ == d->last) {
        o->due_head = (o->due_head + 1) % PULSE_DUE_SLOTS;
        o->due_n--;
    }
    o->pending--;
    ring_push(p, t, k, true);
}

void pulse_advance(pulse_t *p, uint64_t now_ns)
{
    for (;;) {
        int best = -1;
        uint64_t t_best = VTIME_NEVER;
        for (int k = 0; k < PULSE_OUTPUTS; k++) {
            uint64_t t = output_next(&p->out[k]);
            if (t < t_best) { /* ties: the lower output first, always */
                t_best = t;
                best = k;
            }
        }
        if (best < 0 || t_best > now_ns)
            break;
        output_step(p, best, t_best);
    }
    if (now_ns > p->now_ns)
        p->now_ns = now_ns;
}

void pulse_cycle(pulse_t *p, const energy_delta_t *d, uint64_t start_ns, uint64_t end_ns,
                 const settings_t *s)
{
    /* Edges before this cycle are certain whatever it holds. */
    pulse_advance(p, start_ns);

    if (s->s0_rate_x100 != p->s0_rate_x100 || s->pulse_type != p->pulse_type) {
        /* A new rate or type starts a new count: the fraction in hand was a
         * fraction of another weight or another quantity, so it is dropped;
         * pulses already earned still come out (docs/pulse.md). */
        p->s0_rate_x100 = s->s0_rate_x100;
        p->pulse_type = s->pulse_type;
        for (int k = PULSE_S0_1; k <= PULSE_S0_2; k++) {
            p->out[k].weight_uwh = pulse_weight_uwh(s->s0_rate_x100);
            p->out[k].acc_uwh = 0;
            p->out[k].earned = 0;
        }
    }
    p->s0_width_ns = width_ns_of(s->pulse_width_ms);

    for (int k = 0; k < PULSE_OUTPUTS; k++)
        output_add(&p->out[k], output_energy(d, p->pulse_type, k), start_ns, end_ns);
    pulse_advance(p, end_ns);
}

int64_t pulse_output_energy(const pulse_t *p, const energy_delta_t *d, int output)
{
    return output_energy(d, p->pulse_type, output);
}

void pulse_accumulate(pulse_t *p, const energy_delta_t *d, uint64_t end_ns)
{
    for (int k = 0; k < PULSE_OUTPUTS; k++) {
        pulse_output_t *o = &p->out[k];
        int64_t e = output_energy(d, p->pulse_type, k);
        if (e <= 0 || o->weight_uwh <= 0)
            continue; /* as output_add() */
        o->acc_uwh += e;
    }
    if (end_ns > p->now_ns)
        p->now_ns = end_ns;
}

void pulse_power_off(pulse_t *p, uint64_t now_ns)
{
    pulse_advance(p, now_ns);
    for (int k = 0; k < PULSE_OUTPUTS; k++) {
        pulse_output_t *o = &p->out[k];
        if (o->level) { /* the transistor stops conducting with the supply */
            o->level = false;
            ring_push(p, now_ns, k, false);
        }
        o->due_n = 0;
        o->due_head = 0;
        o->pending = 0;
        o->acc_uwh = 0;
        o->ready_ns = now_ns;
    }
}

uint64_t pulse_deadline(const pulse_t *p)
{
    uint64_t t = VTIME_NEVER;
    for (int k = 0; k < PULSE_OUTPUTS; k++) {
        uint64_t n = output_next(&p->out[k]);
        if (n < t)
            t = n;
    }
    return t;
}

bool pulse_level(const pulse_t *p, int output)
{
    return output >= 0 && output < PULSE_OUTPUTS && p->out[output].level;
}

uint64_t pulse_count(const pulse_t *p, int output)
{
    return output >= 0 && output < PULSE_OUTPUTS ? p->out[output].count : 0;
}

uint64_t pulse_pending(const pulse_t *p, int output)
{
    return output >= 0 && output < PULSE_OUTPUTS ? p->out[output].pending : 0;
}

bool pulse_pop_edge(pulse_t *p, pulse_edge_t *e)
{
    if (p->ring_n == 0)
        return false;
    *e = p->ring[p->ring_head];
    p->ring_head = (p->ring_head + 1) % PULSE_EDGE_RING;
    p->ring_n--;
    return true;
}
